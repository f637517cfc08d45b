//! Per-primitive timing counters, by layer and kind.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// The kinds of backend primitive the scheduler times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Host → device copies.
    Upload,
    /// Device → host copies.
    Download,
    /// Device allocations and copies.
    Memory,
    /// Forward NTTs.
    Ntt,
    /// Inverse NTTs.
    Intt,
    /// Element-wise add/sub/mul/negate and per-limb constants.
    Elementwise,
    /// Ciphertext tensor products.
    Tensor,
    /// Tensor products fused with the decomposition (ModUp) of their d2.
    TensorModUp,
    /// Galois automorphisms.
    Automorphism,
    /// Key-switching decomposition and basis extension.
    ModUp,
    /// Key-switching inner products.
    KeySwitchInner,
    /// Division by the special modulus P.
    ModDown,
    /// Division by the last prime(s) of Q.
    Rescale,
    /// Waiting for the device to finish submitted work.
    Sync,
}

/// Count and total time of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OpStats {
    /// Number of submissions.
    pub count: u64,
    /// Summed wall time.
    pub total: Duration,
    /// Summed device execution time from GPU timestamps (zero where the
    /// backend has none, and outside the scheduler's blocking mode).
    pub device: Duration,
    /// Summed device-memory bytes by the backend's traffic model
    /// ([`crate::backend::Backend::traffic_bytes`]; zero where it has none).
    pub traffic: u64,
}

impl OpStats {
    fn add(&mut self, other: &Self) {
        self.count += other.count;
        self.total += other.total;
        self.device += other.device;
        self.traffic += other.traffic;
    }
}

/// Layer name of submissions made outside any named layer.
pub const NO_LAYER: &str = "-";

/// The table and the layer new submissions are charged to.
#[derive(Debug)]
struct Table {
    layer: &'static str,
    stats: BTreeMap<(&'static str, OpKind), OpStats>,
}

/// Thread-safe timing table: one row per (layer, kind). The layer is a
/// label the caller sets around a stretch of work ([`Profile::set_layer`],
/// e.g. "sigmoid" or "attention"), so that costs add up layer by layer.
#[derive(Debug)]
pub struct Profile(Mutex<Table>);

impl Default for Profile {
    fn default() -> Self {
        Self(Mutex::new(Table { layer: NO_LAYER, stats: BTreeMap::new() }))
    }
}

impl Profile {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds one submission of `kind` that took `elapsed`, in the current layer.
    pub fn record(&self, kind: OpKind, elapsed: Duration) {
        let mut table = self.table();
        let layer = table.layer;
        let entry = table.stats.entry((layer, kind)).or_default();
        entry.count += 1;
        entry.total += elapsed;
    }

    /// Adds `device` (GPU timestamps) to the last submission of `kind`.
    pub fn record_device(&self, kind: OpKind, device: Duration) {
        let mut table = self.table();
        let layer = table.layer;
        table.stats.entry((layer, kind)).or_default().device += device;
    }

    /// Adds `bytes` of modeled device-memory traffic to the last submission of `kind`.
    pub fn record_traffic(&self, kind: OpKind, bytes: u64) {
        let mut table = self.table();
        let layer = table.layer;
        table.stats.entry((layer, kind)).or_default().traffic += bytes;
    }

    /// Charges the following submissions to `layer`; returns the previous layer.
    pub fn set_layer(&self, layer: &'static str) -> &'static str {
        std::mem::replace(&mut self.table().layer, layer)
    }

    /// A copy of the table, ordered by layer name, then kind.
    #[must_use]
    pub fn snapshot(&self) -> BTreeMap<(&'static str, OpKind), OpStats> {
        self.table().stats.clone()
    }

    /// Totals per kind over all layers.
    #[must_use]
    pub fn by_kind(&self) -> BTreeMap<OpKind, OpStats> {
        let mut out: BTreeMap<OpKind, OpStats> = BTreeMap::new();
        for ((_, kind), s) in self.snapshot() {
            out.entry(kind).or_default().add(&s);
        }
        out
    }

    /// Totals per layer over all kinds.
    #[must_use]
    pub fn by_layer(&self) -> BTreeMap<&'static str, OpStats> {
        let mut out: BTreeMap<&'static str, OpStats> = BTreeMap::new();
        for ((layer, _), s) in self.snapshot() {
            out.entry(layer).or_default().add(&s);
        }
        out
    }

    /// Clears all counters (the current layer stays).
    pub fn reset(&self) {
        self.table().stats.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_add_up_by_layer_and_kind() {
        let p = Profile::default();
        p.record(OpKind::Ntt, Duration::from_millis(1));
        assert_eq!(p.set_layer("sigmoid"), NO_LAYER);
        p.record(OpKind::Ntt, Duration::from_millis(2));
        p.record(OpKind::Tensor, Duration::from_millis(3));
        p.record_device(OpKind::Tensor, Duration::from_millis(2));
        p.record_traffic(OpKind::Tensor, 700);
        assert_eq!(p.set_layer(NO_LAYER), "sigmoid");
        let ms = Duration::from_millis;
        assert_eq!(p.by_kind()[&OpKind::Ntt], OpStats { count: 2, total: ms(3), device: Duration::ZERO, traffic: 0 });
        assert_eq!(p.by_kind()[&OpKind::Tensor], OpStats { count: 1, total: ms(3), device: ms(2), traffic: 700 });
        assert_eq!(p.by_layer()["sigmoid"], OpStats { count: 2, total: ms(5), device: ms(2), traffic: 700 });
        assert_eq!(p.snapshot().len(), 3);
        p.reset();
        assert!(p.snapshot().is_empty());
    }
}
