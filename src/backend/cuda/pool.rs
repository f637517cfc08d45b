//! Device memory pool: freed allocations are kept by size and handed out
//! again, so the hot path (every op allocates outputs and scratch) does not
//! call the allocator once the pool is warm; polynomials stay resident.
//!
//! Reusing an allocation right after its owner dropped it is safe even while
//! kernels that use it are still queued: the backend issues every launch on
//! one stream, which runs them in order. An upload on the copy stream
//! (`streams.rs`) is not in that order, so with a copy stream each free
//! allocation keeps the kernel-stream event after its last owner's work,
//! which the upload into it waits for.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use cudarc::driver::{DriverError, sys::CUresult};

use super::context::{Allocation, Device};
use super::streams::Event;
use crate::backend::{BackendError, Result};

/// Allocation sizes are rounded up to this many words (fewer distinct sizes).
const WORD_GRANULE: usize = 256;

/// Identifies a backend instance, so polynomials of another one are refused.
static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Default)]
struct FreeList {
    /// Oldest first.
    by_words: HashMap<usize, VecDeque<Free>>,
    bytes: usize,
}

/// A free allocation.
struct Free {
    allocation: Allocation,
    ptr: u64,
    /// With a copy stream: the kernel-stream event after the work queued
    /// when it was released ([`Device::kernel_mark`]).
    released: Option<Event>,
}

/// Allocations of one device, by size.
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

    /// An allocation of at least `words` u32 (contents undefined) for work
    /// on the kernel stream: the one freed last (its words likely still in
    /// the GPU's L2 cache).
    pub(super) fn acquire(self: &Arc<Self>, words: usize) -> Result<CudaBuffer> {
        Ok(self.take(words, false)?.0)
    }

    /// An allocation of at least `words` u32 (contents undefined) for an
    /// upload on the copy stream, and the kernel-stream event the upload
    /// must wait for (`None` without a copy stream): the one freed first,
    /// whose last kernels are the likeliest to be done.
    pub(super) fn acquire_for_upload(self: &Arc<Self>, words: usize) -> Result<(CudaBuffer, Option<Event>)> {
        self.take(words, true)
    }

    /// A free allocation of at least `words` u32 (for an upload the oldest
    /// of its size, else the newest) or a new one, and the event it was
    /// released at (for a new one taken for an upload, an event after its
    /// allocation on the kernel stream; none for kernels, which need none).
    fn take(self: &Arc<Self>, words: usize, for_upload: bool) -> Result<(CudaBuffer, Option<Event>)> {
        let size = words.max(1).next_multiple_of(WORD_GRANULE);
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let list = free.by_words.get_mut(&size);
            let entry = list.and_then(|l| if for_upload { l.pop_front() } else { l.pop_back() });
            if entry.is_some() {
                free.bytes -= size * 4;
            }
            entry
        };
        let Free { allocation, ptr, released } = match reused {
            Some(entry) => entry,
            None => {
                let (allocation, ptr) = match self.device.alloc(size) {
                    Err(BackendError::OutOfMemory { .. }) => {
                        self.release_free();
                        self.device.alloc(size)?
                    }
                    other => other?,
                };
                let released = if for_upload { self.device.kernel_mark()? } else { None };
                Free { allocation, ptr, released }
            }
        };
        let buffer = CudaBuffer { allocation: Some(allocation), ptr, words: size, pool: Arc::clone(self) };
        Ok((buffer, released))
    }

    /// Frees every cached allocation (after the kernel-stream work queued
    /// so far, see [`Device::retire`]).
    fn release_free(&self) {
        let released = std::mem::take(&mut *self.free.lock().unwrap_or_else(PoisonError::into_inner));
        for entry in released.by_words.into_values().flatten() {
            self.device.retire(entry.allocation);
        }
    }

    /// Takes `allocation` back: cached while the cache has room, freed otherwise.
    fn release(&self, allocation: Allocation, ptr: u64, words: usize) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.bytes + words * 4 <= self.max_cached {
            // No event to wait for (a broken device): not reusable by uploads.
            if let Ok(released) = self.device.kernel_mark() {
                free.bytes += words * 4;
                free.by_words.entry(words).or_default().push_back(Free { allocation, ptr, released });
                return;
            }
        }
        drop(free);
        self.device.retire(allocation);
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
            self.pool.release(allocation, self.ptr, self.words);
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
