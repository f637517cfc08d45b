//! Differential tests: the CUDA backend on the emulated device (its kernels
//! compiled by the host's C++ compiler and run on the CPU, see
//! `kernels/host_emulation.hpp`) against the CPU reference, bit for bit:
//! the suite of `cuda_diff.rs`, so the backend's launch plans and every
//! kernel's arithmetic are tested without a GPU.
//!
//! Without a C++ compiler the tests print why and pass, unless
//! `HETL_REQUIRE_CUDA_EMULATION=1` (CI sets it), which makes them fail.

#[path = "common/backend_diff.rs"]
mod backend_diff;

use std::sync::Arc;

use hetl::backend::cuda::CudaBackend;

use backend_diff::Target;

static EMULATED: Target = Target {
    name: "cuda",
    missing: "no C++ compiler for the emulated CUDA device",
    require_env: "HETL_REQUIRE_CUDA_EMULATION",
    hint: "install g++, or name a compiler in CXX",
    open: |ring| Ok(Arc::new(CudaBackend::emulated(ring)?)),
};

backend_diff_tests!(EMULATED);
