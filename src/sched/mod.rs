//! Host-side scheduler: the only door from the CKKS layer to a backend.
//!
//! Every primitive goes through [`Scheduler::submit`], which times it per
//! [`OpKind`] for `hetl profile` and `hetl bench`. Backend methods take
//! batches, so a CKKS op over a ciphertext's polynomials is one submission.

mod profile;

use std::sync::Arc;
use std::time::Instant;

pub use profile::{OpKind, OpStats, Profile};

use crate::backend::{self, Backend};

/// Queues primitives onto one backend and records their cost.
pub struct Scheduler {
    backend: Arc<dyn Backend>,
    profile: Profile,
}

impl Scheduler {
    /// A scheduler driving `backend`.
    #[must_use]
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self { backend, profile: Profile::default() }
    }

    /// Name of the backend ("cpu", ...).
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Runs one batched primitive and records its wall time under `kind`.
    pub fn submit<T>(&self, kind: OpKind, f: impl FnOnce(&dyn Backend) -> backend::Result<T>) -> backend::Result<T> {
        let start = Instant::now();
        let out = f(self.backend.as_ref());
        self.profile.record(kind, start.elapsed());
        out
    }

    /// Per-kind timings so far.
    #[must_use]
    pub fn profile(&self) -> &Profile {
        &self.profile
    }
}
