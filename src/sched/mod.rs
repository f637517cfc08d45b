//! Host-side scheduler: the only door from the CKKS layer to a backend.
//!
//! Every primitive goes through [`Scheduler::submit`], which times it per
//! [`OpKind`] for `hetl profile` and `hetl bench`. Backend methods take
//! batches: the CKKS layer's `*_many` operations hand the polynomials of
//! many ciphertexts (of any levels) to one primitive call, which a device
//! backend records as one submission. Device backends return before the
//! device has finished; [`Scheduler::synchronize`] waits, and in blocking
//! mode ([`Scheduler::set_blocking`]) every submission waits, so that the
//! per-kind times are device times rather than submission times; where the
//! backend has GPU timestamps (wgpu with timestamp queries), each kind also
//! gets the device's own execution time ([`OpStats::device`]).

mod profile;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use profile::{NO_LAYER, OpKind, OpStats, Profile};

use crate::backend::{self, Backend, KernelTime};

/// What a backend counts of its device work, where it counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceCounters {
    /// Kernel launches ([`Backend::launches`]).
    pub launches: Option<u64>,
    /// Modeled device-memory bytes ([`Backend::traffic_bytes`]).
    pub traffic_bytes: Option<u64>,
}

impl DeviceCounters {
    /// The counts since `earlier` (`None` where either lacks them).
    #[must_use]
    pub fn since(self, earlier: Self) -> Self {
        let delta = |now: Option<u64>, then: Option<u64>| now.zip(then).map(|(n, t)| n.saturating_sub(t));
        Self {
            launches: delta(self.launches, earlier.launches),
            traffic_bytes: delta(self.traffic_bytes, earlier.traffic_bytes),
        }
    }
}

/// Queues primitives onto one backend and records their cost.
pub struct Scheduler {
    backend: Arc<dyn Backend>,
    profile: Profile,
    blocking: AtomicBool,
}

impl Scheduler {
    /// A scheduler driving `backend`.
    #[must_use]
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self { backend, profile: Profile::default(), blocking: AtomicBool::new(false) }
    }

    /// The backend's device counters so far.
    #[must_use]
    pub fn counters(&self) -> DeviceCounters {
        DeviceCounters { launches: self.backend.launches(), traffic_bytes: self.backend.traffic_bytes() }
    }

    /// Name of the backend ("cpu", ...).
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Whether the backend reduces signed coefficients on the device
    /// ([`Backend::reduces_signed`]).
    #[must_use]
    pub fn reduces_signed(&self) -> bool {
        self.backend.reduces_signed()
    }

    /// The backend's device memory, bytes, where it knows it.
    #[must_use]
    pub fn device_memory(&self) -> Option<usize> {
        self.backend.memory_bytes()
    }

    /// Runs one batched primitive and records its wall time under `kind`
    /// (including the device's execution time in blocking mode).
    pub fn submit<T>(&self, kind: OpKind, f: impl FnOnce(&dyn Backend) -> backend::Result<T>) -> backend::Result<T> {
        let start = Instant::now();
        let traffic = self.backend.traffic_bytes();
        let out = f(self.backend.as_ref());
        if let (Some(before), Some(after)) = (traffic, self.backend.traffic_bytes()) {
            self.profile.record_traffic(kind, after.saturating_sub(before));
        }
        let blocking = self.blocking.load(Ordering::Relaxed);
        let out = match out {
            Ok(v) if blocking => self.backend.synchronize().map(|()| v),
            other => other,
        };
        self.profile.record(kind, start.elapsed());
        if blocking
            && out.is_ok()
            && let Some(device) = self.backend.take_device_time()?
        {
            self.profile.record_device(kind, device);
        }
        out
    }

    /// The device time of each kernel since blocking mode was turned on or
    /// the last call ([`Backend::take_kernel_times`]; empty where the
    /// backend times no kernels).
    pub fn take_kernel_times(&self) -> backend::Result<Vec<KernelTime>> {
        self.backend.take_kernel_times()
    }

    /// Waits until the device has finished every submission (timed as
    /// [`OpKind::Sync`]).
    pub fn synchronize(&self) -> backend::Result<()> {
        let start = Instant::now();
        let out = self.backend.synchronize();
        self.profile.record(OpKind::Sync, start.elapsed());
        out
    }

    /// In blocking mode every submission waits for the device, so that
    /// profiles attribute device time to the right kind (at some cost in
    /// throughput: the host no longer runs ahead of the device).
    pub fn set_blocking(&self, blocking: bool) {
        self.blocking.store(blocking, Ordering::Relaxed);
        self.backend.set_device_timing(blocking);
    }

    /// How many items of `bytes_per_item` intermediate bytes one batched
    /// call should take (at least 1): the backend's batch budget over the
    /// item size.
    #[must_use]
    pub fn batch_limit(&self, bytes_per_item: usize) -> usize {
        (self.backend.batch_budget_bytes() / bytes_per_item.max(1)).max(1)
    }

    /// Per-kind timings so far.
    #[must_use]
    pub fn profile(&self) -> &Profile {
        &self.profile
    }
}
