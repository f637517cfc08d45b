//! Device memory pool: freed allocations are kept by size and handed out
//! again, so the hot path (every op allocates outputs and scratch) does not
//! call the allocator once the pool is warm; polynomials stay resident.
//!
//! Reusing an allocation right after its owner dropped it is safe even while
//! kernels that use it are still queued: the backend issues every copy and
//! launch on one stream, which runs them in order.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use cudarc::driver::{DriverError, sys::CUresult};

use super::context::{Allocation, Device};
use crate::backend::{BackendError, Result};

/// Allocation sizes are rounded up to this many words (fewer distinct sizes).
const WORD_GRANULE: usize = 256;

/// Identifies a backend instance, so polynomials of another one are refused.
static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Default)]
struct FreeList {
    by_words: HashMap<usize, Vec<(Allocation, u64)>>,
    bytes: usize,
}

/// Allocations of one device (and its one stream), by size.
pub(super) struct Pool {
    id: u64,
    device: Arc<Device>,
    free: Mutex<FreeList>,
    /// Free allocations kept beyond this many bytes are released instead.
    max_cached: usize,
}

/// A driver error as a backend error naming `op`; out-of-memory is its own variant.
pub(super) fn driver_error(op: &'static str, bytes: usize) -> impl Fn(DriverError) -> BackendError {
    move |e| match e.0 {
        CUresult::CUDA_ERROR_OUT_OF_MEMORY => BackendError::OutOfMemory { bytes: bytes as u64 },
        _ => BackendError::Device { op, reason: e.to_string() },
    }
}

impl Pool {
    /// A pool keeping up to `max_cached` bytes of free allocations. A
    /// batch's intermediates that do not fit are freed and allocated again
    /// at every call (the driver maps and unmaps them), so the cap should
    /// hold a large batch's working set: the backend gives half the
    /// device's memory. An allocation the device refuses is retried once
    /// after the free allocations are released.
    pub(super) fn new(device: Arc<Device>, max_cached: usize) -> Arc<Self> {
        let id = NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed);
        Arc::new(Self { id, device, free: Mutex::default(), max_cached })
    }

    /// The owner id stored in every buffer of this pool.
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// An allocation of at least `words` u32 (contents undefined).
    pub(super) fn acquire(self: &Arc<Self>, words: usize) -> Result<CudaBuffer> {
        let size = words.max(1).next_multiple_of(WORD_GRANULE);
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let allocation = free.by_words.get_mut(&size).and_then(Vec::pop);
            if allocation.is_some() {
                free.bytes -= size * 4;
            }
            allocation
        };
        let (allocation, ptr) = match reused {
            Some(a) => a,
            None => match self.device.alloc(size) {
                Err(BackendError::OutOfMemory { .. }) => {
                    self.release_free();
                    self.device.alloc(size)?
                }
                other => other?,
            },
        };
        Ok(CudaBuffer { allocation: Some(allocation), ptr, words: size, pool: Arc::clone(self) })
    }

    /// Frees every cached allocation (in stream order, see `release`).
    fn release_free(&self) {
        let released = std::mem::take(&mut *self.free.lock().unwrap_or_else(PoisonError::into_inner));
        drop(released);
    }

    fn release(&self, allocation: (Allocation, u64), words: usize) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.bytes + words * 4 <= self.max_cached {
            free.bytes += words * 4;
            free.by_words.entry(words).or_default().push(allocation);
        }
        // Otherwise dropped here: cudarc frees it in stream order.
    }
}

/// A device allocation on loan from a [`Pool`]; returned to it on drop.
pub(crate) struct CudaBuffer {
    allocation: Option<Allocation>,
    ptr: u64,
    words: usize,
    pool: Arc<Pool>,
}

impl CudaBuffer {
    /// Device address of word 0.
    pub(super) fn ptr(&self) -> u64 {
        self.ptr
    }

    /// Allocated words (at least the requested ones).
    pub(super) fn words(&self) -> usize {
        self.words
    }

    /// Id of the pool (and so of the backend) this buffer belongs to.
    pub(super) fn owner(&self) -> u64 {
        self.pool.id
    }
}

impl Drop for CudaBuffer {
    fn drop(&mut self) {
        if let Some(allocation) = self.allocation.take() {
            self.pool.release((allocation, self.ptr), self.words);
        }
    }
}

impl fmt::Debug for CudaBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CudaBuffer").field("words", &self.words).field("owner", &self.pool.id).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_allocation_is_retried_once_the_cache_is_released() {
        let Ok(device) = Device::emulated_with_memory(4 << 20) else {
            assert!(std::env::var_os("HETL_REQUIRE_CUDA_EMULATION").is_none(), "no emulated CUDA device");
            eprintln!("skipped: no C++ compiler for the emulated CUDA device");
            return;
        };
        let pool = Pool::new(Arc::new(device), 4 << 20);
        let words = |mib: usize| mib << 18;
        drop(pool.acquire(words(3)).expect("3 of 4 MiB"));
        assert_eq!(pool.free.lock().unwrap().bytes, 3 << 20, "kept for reuse");
        // 3 MiB cached + 2 MiB is past the device: the cache goes, then it fits.
        let two = pool.acquire(words(2)).expect("retried after releasing the cache");
        assert_eq!(pool.free.lock().unwrap().bytes, 0);
        let err = pool.acquire(words(3)).expect_err("2 + 3 MiB live is past the device");
        assert!(matches!(err, BackendError::OutOfMemory { .. }), "{err}");
        drop(two);
        pool.acquire(words(3)).expect("fits once the 2 MiB are back");
    }
}
