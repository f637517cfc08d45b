//! Differential tests: the CUDA backend against the CPU reference, bit for
//! bit (the suite in `common/backend_diff.rs`): every primitive, mul_relin +
//! rescale, rotations (single, hoisted, batched), conjugation and the
//! `*_many` operations at toy-n1024, toy-n4096 and n14.
//!
//! Without a CUDA driver (or NVRTC) the tests print "skipped: no CUDA
//! driver" and pass, unless `HETL_REQUIRE_CUDA=1` (tools/gpu_check.sh sets it
//! on GPU machines), which makes them fail instead.

#[path = "common/backend_diff.rs"]
mod backend_diff;

use std::sync::Arc;

use hetl::backend::cuda::CudaBackend;

use backend_diff::Target;

static CUDA: Target = Target {
    name: "cuda",
    missing: "no CUDA driver",
    require_env: "HETL_REQUIRE_CUDA",
    hint: "needs an NVIDIA GPU with its driver, and libnvrtc.so.12 on LD_LIBRARY_PATH",
    open: |ring| {
        let b = CudaBackend::new(ring, 0)?;
        if let Ok((name, arch)) = b.device_info() {
            eprintln!("cuda device: {name} ({arch})");
        }
        Ok(Arc::new(b))
    },
};

backend_diff_tests!(CUDA);
