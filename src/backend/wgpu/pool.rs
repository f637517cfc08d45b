//! Device buffer pool: freed buffers are kept by size and handed out again,
//! so the hot path (every op allocates its outputs and scratch) does not
//! allocate device memory once the pool is warm.
//!
//! Reusing a buffer right after its owner dropped it is safe even while the
//! GPU still runs commands that use it: every later use is recorded in a
//! later submission (or a later `write_buffer`), and the queue executes in
//! submission order.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::context::capture;
use crate::backend::{BackendError, Result};

/// Free buffers kept beyond this many bytes are destroyed instead.
const MAX_CACHED_BYTES: u64 = 1 << 30;

/// Identifies a backend instance, so polynomials of another one are refused.
static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

/// What a pooled buffer is used for (buffers of different kinds never mix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    /// Polynomial storage and scratch: STORAGE | COPY_SRC | COPY_DST.
    Storage,
    /// Host read-back: MAP_READ | COPY_DST.
    Staging,
}

#[derive(Default)]
struct FreeList {
    by_size: HashMap<(Kind, u64), Vec<wgpu::Buffer>>,
    bytes: u64,
}

/// Buffers of one device, by kind and size.
pub(super) struct Pool {
    id: u64,
    device: wgpu::Device,
    free: Mutex<FreeList>,
}

impl Pool {
    pub(super) fn new(device: wgpu::Device) -> Arc<Self> {
        Arc::new(Self { id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed), device, free: Mutex::default() })
    }

    /// The owner id stored in every buffer of this pool.
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// A buffer of at least `bytes` bytes (rounded up to 16; contents undefined).
    pub(super) fn acquire(self: &Arc<Self>, kind: Kind, bytes: u64) -> Result<WgpuBuffer> {
        let size = bytes.max(16).next_multiple_of(16);
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let buffer = free.by_size.get_mut(&(kind, size)).and_then(Vec::pop);
            if buffer.is_some() {
                free.bytes -= size;
            }
            buffer
        };
        let buffer = match reused {
            Some(b) => b,
            None => {
                let usage = match kind {
                    Kind::Storage => {
                        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
                    }
                    Kind::Staging => wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                };
                let (buffer, error) = capture(&self.device, || {
                    self.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("hetl pooled buffer"),
                        size,
                        usage,
                        mapped_at_creation: false,
                    })
                });
                if let Some(e) = error {
                    return Err(match e {
                        wgpu::Error::OutOfMemory { .. } => BackendError::OutOfMemory { bytes: size },
                        other => BackendError::Device { op: "allocate", reason: other.to_string() },
                    });
                }
                buffer
            }
        };
        Ok(WgpuBuffer { buffer: Some(buffer), kind, pool: Arc::clone(self) })
    }

    fn release(&self, kind: Kind, buffer: wgpu::Buffer) {
        let size = buffer.size();
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.bytes + size <= MAX_CACHED_BYTES {
            free.bytes += size;
            free.by_size.entry((kind, size)).or_default().push(buffer);
        } else {
            buffer.destroy();
        }
    }
}

/// A device buffer on loan from a [`Pool`]; returned to it on drop.
pub(crate) struct WgpuBuffer {
    buffer: Option<wgpu::Buffer>,
    kind: Kind,
    pool: Arc<Pool>,
}

impl WgpuBuffer {
    /// The wgpu buffer.
    pub(super) fn raw(&self) -> &wgpu::Buffer {
        // Only `Drop` takes the buffer out.
        self.buffer.as_ref().expect("pooled buffer present until drop")
    }

    /// Id of the pool (and so of the backend) this buffer belongs to.
    pub(super) fn owner(&self) -> u64 {
        self.pool.id
    }
}

impl Drop for WgpuBuffer {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.pool.release(self.kind, buffer);
        }
    }
}

impl fmt::Debug for WgpuBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WgpuBuffer")
            .field("bytes", &self.buffer.as_ref().map(wgpu::Buffer::size))
            .field("owner", &self.pool.id)
            .finish()
    }
}
