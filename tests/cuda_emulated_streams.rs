//! The CUDA backend with a copy stream for uploads (`HETL_CUDA_COPY_STREAM`)
//! on the emulated device, whose two streams are queues run only when the
//! host waits, one as far as its events allow before the other: the whole
//! differential suite in both orders, and the two orderings an upload
//! needs, each shown to fail without its event.
//!
//! Without a C++ compiler the tests print why and pass, unless
//! `HETL_REQUIRE_CUDA_EMULATION=1` (CI sets it), which makes them fail.

#[path = "common/backend_diff.rs"]
mod backend_diff;

use std::sync::Arc;

use hetl::backend::cuda::{CudaBackend, StreamOrder};
use hetl::backend::{Backend, BackendError, Basis};
use hetl::ckks::preset;

use backend_diff::Target;

/// The whole differential suite, in module `$module`, with the emulated
/// streams run in `$order`.
macro_rules! order_suite {
    ($module:ident, $order:expr) => {
        mod $module {
            use super::*;

            pub static TARGET: Target = Target {
                name: "cuda",
                missing: "no C++ compiler for the emulated CUDA device",
                require_env: "HETL_REQUIRE_CUDA_EMULATION",
                hint: "install g++, or name a compiler in CXX",
                open: |ring| Ok(Arc::new(CudaBackend::emulated_with_streams(ring, $order)?)),
            };

            backend_diff_tests!(TARGET);
        }
    };
}

order_suite!(copies_first, StreamOrder::CopiesFirst);
order_suite!(kernels_first, StreamOrder::KernelsFirst);

/// The emulated backend with streams in `order` on toy-n1024's ring, or
/// `None` (a skip) without a C++ compiler.
fn backend(order: StreamOrder) -> Option<CudaBackend> {
    let ring = preset("toy-n1024").expect("preset").ring().clone();
    match CudaBackend::emulated_with_streams(ring, order) {
        Ok(b) => Some(b),
        Err(BackendError::DriverUnavailable { reason, .. }) => {
            assert!(std::env::var_os("HETL_REQUIRE_CUDA_EMULATION").is_none(), "no emulated CUDA device: {reason}");
            eprintln!("skipped: no C++ compiler for the emulated CUDA device ({reason})");
            None
        }
        Err(e) => panic!("emulated backend: {e}"),
    }
}

/// A kernel reads an uploaded polynomial, which is then dropped while the
/// kernel is still queued; the next upload of that size reuses its memory.
/// The kernel must see the first upload's words: the copy stream waits for
/// the kernels queued before the release (copies first shows a missing
/// wait), and the kernels wait for the upload (kernels first shows one).
fn check_reused_upload(order: StreamOrder) {
    let Some(gpu) = backend(order) else { return };
    let basis = Basis::q(2);
    let size = basis.limbs() * gpu.ring().n();
    let first: Vec<u32> = (0..size as u32).collect();
    let second = vec![7u32; size];
    let a = gpu.upload(basis, &first).expect("upload");
    let copy = gpu.copy(&[&a]).expect("copy").remove(0);
    drop(a);
    let b = gpu.upload(basis, &second).expect("upload into the released memory");
    let copy_b = gpu.copy(&[&b]).expect("copy").remove(0);
    assert_eq!(gpu.download(&copy).expect("download"), first, "{order:?}: a queued kernel saw a later upload");
    assert_eq!(gpu.download(&copy_b).expect("download"), second, "{order:?}: a kernel ran before its upload");
}

#[test]
fn uploads_wait_for_released_memory_and_kernels_for_uploads() {
    check_reused_upload(StreamOrder::CopiesFirst);
    check_reused_upload(StreamOrder::KernelsFirst);
}
