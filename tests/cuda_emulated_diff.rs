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

/// In blocking mode the scheduler records each kind's device time (on the
/// emulated device, the host time of its launches), and none outside it.
#[test]
fn blocking_profiles_carry_device_time() {
    use hetl::backend::{Backend, BackendError, Basis};
    use hetl::sched::{OpKind, Scheduler};

    let ring = hetl::ckks::preset("toy-n4096").expect("preset").ring().clone();
    let backend = match CudaBackend::emulated(ring.clone()) {
        Ok(b) => Arc::new(b),
        Err(BackendError::DriverUnavailable { reason, .. }) => {
            let required = std::env::var_os("HETL_REQUIRE_CUDA_EMULATION").is_some();
            assert!(!required, "HETL_REQUIRE_CUDA_EMULATION is set: {reason}");
            eprintln!("skipped: no C++ compiler for the emulated CUDA device ({reason})");
            return;
        }
        Err(e) => panic!("emulated cuda backend: {e}"),
    };
    let sched = Scheduler::new(backend.clone());
    let words = vec![1u32; ring.q.len() * ring.n()];
    let mut polys: Vec<_> = (0..4).map(|_| backend.upload(Basis::q(ring.q.len()), &words).expect("upload")).collect();
    let mut ntt = |sched: &Scheduler| {
        let mut refs: Vec<_> = polys.iter_mut().collect();
        sched.submit(OpKind::Ntt, |b| b.ntt_forward(&mut refs)).expect("ntt");
        sched.synchronize().expect("synchronize");
    };
    ntt(&sched);
    assert!(sched.profile().by_kind()[&OpKind::Ntt].device.is_zero(), "device time outside blocking mode");
    sched.set_blocking(true);
    ntt(&sched);
    let stats = sched.profile().by_kind()[&OpKind::Ntt];
    assert!(!stats.device.is_zero(), "no device time in blocking mode");
    assert!(stats.device <= stats.total, "device time {:?} above wall time {:?}", stats.device, stats.total);
}
