//! Device time from GPU timestamps, where the adapter can write them inside
//! command encoders: while timing is on (the scheduler's blocking mode),
//! every submission writes a timestamp before and after its commands, and
//! [`Timing::take`] reads them back once the device has finished.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::backend::{BackendError, Result};

/// The timestamp features hetl asks for when the adapter has both.
pub(super) const FEATURES: wgpu::Features =
    wgpu::Features::TIMESTAMP_QUERY.union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS);

/// Bytes of one submission's two resolved timestamps.
const PAIR_BYTES: u64 = 16;

/// Timestamps of the timed submissions not yet read.
pub(super) struct Timing {
    /// Nanoseconds per timestamp tick; `None` without timestamp support.
    period_ns: Option<f64>,
    on: AtomicBool,
    /// One MAP_READ buffer (start and end ticks) per timed submission.
    pending: Mutex<Vec<wgpu::Buffer>>,
}

impl Timing {
    /// Timing for a device created with `features` (see [`FEATURES`]).
    pub(super) fn new(features: wgpu::Features, queue: &wgpu::Queue) -> Self {
        let period_ns = features.contains(FEATURES).then(|| f64::from(queue.get_timestamp_period()));
        Self { period_ns, on: AtomicBool::new(false), pending: Mutex::default() }
    }

    /// Whether the device can write timestamps.
    pub(super) fn supported(&self) -> bool {
        self.period_ns.is_some()
    }

    /// Turns the timestamps of later submissions on or off.
    pub(super) fn set(&self, on: bool) {
        self.on.store(on && self.supported(), Ordering::Relaxed);
    }

    /// At the start of a submission's encoder: a query set holding its start
    /// timestamp, when timing.
    pub(super) fn begin(&self, device: &wgpu::Device, encoder: &mut wgpu::CommandEncoder) -> Option<wgpu::QuerySet> {
        if !self.on.load(Ordering::Relaxed) {
            return None;
        }
        let set = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("hetl submission time"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        encoder.write_timestamp(&set, 0);
        Some(set)
    }

    /// At the end of the encoder begun with `set`: the end timestamp, both
    /// resolved into a buffer that [`Timing::take`] reads.
    pub(super) fn end(&self, device: &wgpu::Device, encoder: &mut wgpu::CommandEncoder, set: &wgpu::QuerySet) {
        encoder.write_timestamp(set, 1);
        let buffer = |label, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: PAIR_BYTES,
                usage,
                mapped_at_creation: false,
            })
        };
        let resolved = buffer("hetl timestamps", wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
        let readable = buffer("hetl timestamps read", wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        encoder.resolve_query_set(set, 0..2, &resolved, 0);
        encoder.copy_buffer_to_buffer(&resolved, 0, &readable, 0, PAIR_BYTES);
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).push(readable);
    }

    /// The summed device time of the timed submissions since the last call
    /// (waits for them); `None` when the device cannot write timestamps.
    pub(super) fn take(&self, device: &wgpu::Device) -> Result<Option<Duration>> {
        let Some(period_ns) = self.period_ns else { return Ok(None) };
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let error = |reason: String| BackendError::Device { op: "read timestamps", reason };
        for buffer in &pending {
            buffer.map_async(wgpu::MapMode::Read, .., |_| {});
        }
        device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| error(e.to_string()))?;
        let mut ticks = 0u64;
        for buffer in &pending {
            let view = buffer.get_mapped_range(..).map_err(|e| error(e.to_string()))?;
            let word = |i: usize| u64::from_le_bytes(view[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            ticks += word(1).saturating_sub(word(0));
            drop(view);
            buffer.unmap();
        }
        Ok(Some(Duration::from_nanos((ticks as f64 * period_ns) as u64)))
    }
}
