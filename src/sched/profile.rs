//! Per-primitive timing counters.

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
}

/// Thread-safe timing table.
#[derive(Debug, Default)]
pub struct Profile(Mutex<BTreeMap<OpKind, OpStats>>);

impl Profile {
    /// Adds one submission of `kind` that took `elapsed`.
    pub fn record(&self, kind: OpKind, elapsed: Duration) {
        let mut table = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = table.entry(kind).or_default();
        entry.count += 1;
        entry.total += elapsed;
    }

    /// A copy of the table, ordered by kind.
    #[must_use]
    pub fn snapshot(&self) -> BTreeMap<OpKind, OpStats> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Clears all counters.
    pub fn reset(&self) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }
}
