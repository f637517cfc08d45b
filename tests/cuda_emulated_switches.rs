//! The differential suite of `cuda_emulated_diff.rs` on kernels built with
//! each variant that `HETL_CUDA_DEFINES` can switch on
//! (`hetl::backend::cuda::KERNEL_SWITCHES`): a variant a GPU run measures
//! must give the CPU backend's words too.
//!
//! Without a C++ compiler the tests print why and pass, unless
//! `HETL_REQUIRE_CUDA_EMULATION=1` (CI sets it), which makes them fail.

#[path = "common/backend_diff.rs"]
mod backend_diff;

use std::sync::Arc;

use hetl::backend::cuda::{CudaBackend, KERNEL_SWITCHES};

use backend_diff::Target;

/// The whole differential suite, in module `$module`, on kernels built with
/// the switches `$defines`.
macro_rules! switch_suite {
    ($module:ident, $defines:literal) => {
        mod $module {
            use super::*;

            static TARGET: Target = Target {
                name: "cuda",
                missing: "no C++ compiler for the emulated CUDA device",
                require_env: "HETL_REQUIRE_CUDA_EMULATION",
                hint: "install g++, or name a compiler in CXX",
                open: |ring| Ok(Arc::new(CudaBackend::emulated_with_switches(ring, $defines)?)),
            };

            backend_diff_tests!(TARGET);
        }
    };
}

switch_suite!(ntt_wide, "NTT_WIDE=1");

/// Every switch has a suite above.
#[test]
fn every_switch_is_tested() {
    assert_eq!(KERNEL_SWITCHES.map(|(name, _)| name), ["NTT_WIDE"], "add a suite for the new switch");
}
