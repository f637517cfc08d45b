//! The copy stream, and the emulated device's model of it.
//!
//! With [`COPY_STREAM_VAR`]`=1`, polynomials uploaded from the host
//! ([`crate::backend::Backend::upload`]) go on a second stream, so that
//! their transfer overlaps the kernels queued before them instead of
//! waiting behind them (and the driver's staging of pageable host memory,
//! which may wait for the copy's stream, no longer waits for those
//! kernels). Two events keep the order that matters:
//! - an upload into a pooled allocation first waits for the kernel stream
//!   to pass the point where the allocation was released (after the last
//!   kernel that used it; `pool.rs` keeps that event with it);
//! - the kernel stream waits for the upload before any later work.
//!
//! On the emulated device both streams are queues that run only when the
//! host waits (synchronize, download), one stream as far as its events let
//! it before the other ([`StreamOrder`]). Copies first makes a missing
//! release wait overwrite words a queued kernel has still to read; kernels
//! first makes a missing upload wait read words not yet copied. Either way
//! the differential tests see wrong words, so passing them in both orders
//! shows the events suffice.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use cudarc::driver::CudaEvent;

use super::context::{Header, HostMemory, Kernel, Operands};
use super::emulator::Emulator;
use crate::backend::{BackendError, Result};

/// Environment variable that puts [`crate::backend::Backend::upload`] on a
/// copy stream of its own on a GPU: `1` on, `0` or unset off (one stream).
pub const COPY_STREAM_VAR: &str = "HETL_CUDA_COPY_STREAM";

/// Whether [`COPY_STREAM_VAR`] asks for the copy stream; any value other
/// than `0`, `1` or nothing is an error naming the variable.
pub fn copy_stream_requested() -> Result<bool> {
    let error = |reason: String| BackendError::InvalidArgument { op: COPY_STREAM_VAR, reason };
    match std::env::var(COPY_STREAM_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(false),
        Ok(v) => match v.trim() {
            "" | "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(error(format!("`{v}` is neither 0 nor 1"))),
        },
        Err(e) => Err(error(e.to_string())),
    }
}

/// Which of the emulated device's streams runs first, and as far as its
/// events allow, each time the host waits (see the module comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamOrder {
    /// Uploads as early as their waits allow: exposes a missing release wait.
    CopiesFirst,
    /// Kernels as early as their waits allow: exposes a missing upload wait.
    KernelsFirst,
}

/// A point in one stream's work that the other stream can wait for.
#[derive(Clone)]
pub(super) enum Event {
    /// An event recorded on a GPU stream.
    Cuda(Arc<CudaEvent>),
    /// An emulated stream's mark (its id in [`EmulatedStreams`]).
    Emulated(u64),
}

/// One of the two streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stream {
    /// Kernels, internal uploads, clears and downloads.
    Kernels,
    /// Uploads of polynomials from the host.
    Copies,
}

/// Work queued on an emulated stream.
pub(super) enum Work {
    /// A kernel launch (the arguments of [`Emulator::launch`]).
    Launch {
        kernel: Kernel,
        grid: (u32, u32, u32),
        block: u32,
        header: Header,
        fixed: Vec<u64>,
        operands: Box<Operands>,
    },
    /// Host words (copied when queued, as the driver stages pageable
    /// memory) to the allocation at `ptr`.
    Upload { ptr: u64, words: Vec<u32> },
    /// `bytes` zero bytes at `ptr`.
    Clear { ptr: u64, bytes: usize },
    /// Frees an allocation once the work before it has run.
    Free(HostMemory),
    /// Marks the event with this id reached.
    Record(u64),
    /// Runs nothing further on this stream until the event is reached.
    Wait(u64),
}

impl Work {
    /// Does this work now (a record or a wait does nothing by itself).
    ///
    /// # Safety
    /// Every address it names must be a live host allocation of
    /// `emulator`'s device covering what it names (as for a launch).
    pub(super) unsafe fn run(self, emulator: &Emulator) {
        match self {
            Work::Launch { kernel, grid, block, header, fixed, operands } => {
                // SAFETY: the caller's.
                unsafe { emulator.launch(kernel, grid, block, &header, &fixed, &operands) }
            }
            // SAFETY: the caller's.
            Work::Upload { ptr, words } => unsafe {
                std::ptr::copy_nonoverlapping(words.as_ptr(), ptr as *mut u32, words.len())
            },
            // SAFETY: the caller's.
            Work::Clear { ptr, bytes } => unsafe { std::ptr::write_bytes(ptr as *mut u8, 0, bytes) },
            Work::Free(memory) => drop(memory),
            Work::Record(_) | Work::Wait(_) => {}
        }
    }
}

/// The emulated device's two streams: queues of work run at the host's
/// waits, in the order [`StreamOrder`] says.
pub(super) struct EmulatedStreams {
    order: StreamOrder,
    next_event: AtomicU64,
    queues: Mutex<Queues>,
}

#[derive(Default)]
struct Queues {
    kernels: VecDeque<Work>,
    copies: VecDeque<Work>,
    reached: HashSet<u64>,
}

impl EmulatedStreams {
    /// Empty streams that run in `order`.
    pub(super) fn new(order: StreamOrder) -> Self {
        Self { order, next_event: AtomicU64::new(0), queues: Mutex::default() }
    }

    /// Queues `work` on `stream`.
    pub(super) fn push(&self, stream: Stream, work: Work) {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        match stream {
            Stream::Kernels => queues.kernels.push_back(work),
            Stream::Copies => queues.copies.push_back(work),
        }
    }

    /// A new event's id, the event recorded on `stream` after the work
    /// queued so far.
    pub(super) fn record(&self, stream: Stream) -> u64 {
        let id = self.next_event.fetch_add(1, Ordering::Relaxed);
        self.push(stream, Work::Record(id));
        id
    }

    /// Runs every queued work item: the first stream of the order as far
    /// as its waits allow, then the other, until both are empty. Streams
    /// that wait for each other (or for an event no stream records) give
    /// an error.
    ///
    /// # Safety
    /// Every address in the queued work must be a live host allocation of
    /// `emulator`'s device covering what it names (as for a launch).
    pub(super) unsafe fn drain(&self, emulator: &Emulator) -> Result<()> {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let order = match self.order {
            StreamOrder::CopiesFirst => [Stream::Copies, Stream::Kernels],
            StreamOrder::KernelsFirst => [Stream::Kernels, Stream::Copies],
        };
        loop {
            let mut ran = false;
            for stream in order {
                // SAFETY: the caller's.
                ran |= unsafe { queues.run(stream, emulator) };
            }
            if queues.kernels.is_empty() && queues.copies.is_empty() {
                return Ok(());
            }
            if !ran {
                return Err(BackendError::Device {
                    op: "synchronize",
                    reason: format!(
                        "the emulated streams are stuck: {} kernel-stream and {} copy-stream items wait for events never reached",
                        queues.kernels.len(),
                        queues.copies.len()
                    ),
                });
            }
        }
    }
}

impl Queues {
    /// Runs `stream`'s work until it is empty or waits for an event not
    /// yet reached; whether it ran any.
    ///
    /// # Safety
    /// As for [`EmulatedStreams::drain`].
    unsafe fn run(&mut self, stream: Stream, emulator: &Emulator) -> bool {
        let queue = match stream {
            Stream::Kernels => &mut self.kernels,
            Stream::Copies => &mut self.copies,
        };
        let mut ran = false;
        while let Some(work) = queue.front() {
            if let Work::Wait(event) = work
                && !self.reached.contains(event)
            {
                break;
            }
            let Some(work) = queue.pop_front() else { break };
            ran = true;
            if let Work::Record(event) = work {
                self.reached.insert(event);
            }
            // SAFETY: the caller's.
            unsafe { work.run(emulator) };
        }
        ran
    }
}
