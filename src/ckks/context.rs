//! [`Context`]: a parameter set bound to a scheduler (and so to a backend).

use std::sync::Arc;

use rayon::prelude::*;
use zeroize::Zeroizing;

use super::{CkksError, Params, PlaintextCache, Result, ValueCache};
use crate::backend::cpu::CpuBackend;
use crate::backend::{Backend, Basis, DevicePoly, signed_residues};
use crate::math::fft::SpecialFft;
use crate::sched::{OpKind, Scheduler};

/// Signed coefficients ready for upload ([`Context::prepare_signed`]);
/// wiped when dropped (they may be the data party's values).
pub(crate) enum Prepared {
    /// Their residues, limb-major.
    Residues(Zeroizing<Vec<u32>>),
    /// The coefficients, for a backend that reduces them itself.
    Signed(Zeroizing<Vec<i64>>),
}

/// Parameters plus the scheduler every CKKS operation goes through.
pub struct Context {
    params: Arc<Params>,
    sched: Arc<Scheduler>,
    pub(crate) fft: SpecialFft,
    /// Threads for host-side work on many items (encoding); `None`: the
    /// calling thread alone.
    host: Option<rayon::ThreadPool>,
    /// Encoded plaintexts reused across calls (empty budget by default).
    plaintexts: PlaintextCache,
    /// Encoded plaintexts by their values (empty budget by default).
    values: ValueCache,
}

impl Context {
    /// A context on `backend`, which must have been built for `params`' ring.
    pub fn new(params: Arc<Params>, backend: Arc<dyn Backend>) -> Result<Self> {
        if backend.ring() != params.ring() {
            return Err(CkksError::ParamsMismatch { op: "context" });
        }
        let fft = SpecialFft::new(params.n());
        let plaintexts = PlaintextCache::new(0, params.n());
        let values = ValueCache::new(0);
        Ok(Self { params, sched: Arc::new(Scheduler::new(backend)), fft, host: None, plaintexts, values })
    }

    /// Runs host-side work on many items (encoding many plaintexts) on
    /// `threads` threads (1: on the calling thread), whatever the backend.
    pub fn with_host_threads(self, threads: usize) -> Result<Self> {
        let host = if threads > 1 {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| {
                CkksError::InvalidInput { op: "context", reason: format!("cannot start {threads} host threads: {e}") }
            })?;
            Some(pool)
        } else {
            None
        };
        Ok(Self { host, ..self })
    }

    /// Keeps up to `budget` bytes of encoded plaintexts that are encoded
    /// again and again (weight diagonals, see [`Context::plaintext_cache`])
    /// instead of encoding them at every call; on a GPU backend they stay
    /// in device memory.
    #[must_use]
    pub fn with_plaintext_cache(self, budget: usize) -> Self {
        let plaintexts = PlaintextCache::new(budget, self.params.n());
        Self { plaintexts, ..self }
    }

    /// Keeps up to `budget` bytes of plaintexts found by the values they
    /// encode (masks multiplied again and again, see
    /// [`Context::value_cache`]) instead of encoding them at every call.
    #[must_use]
    pub fn with_value_cache(self, budget: usize) -> Self {
        Self { values: ValueCache::new(budget), ..self }
    }

    /// The cache of plaintexts by value (its budget is 0 unless set by
    /// [`Context::with_value_cache`]).
    #[must_use]
    pub fn value_cache(&self) -> &ValueCache {
        &self.values
    }

    /// The cache of encoded plaintexts (its budget is 0 unless set by
    /// [`Context::with_plaintext_cache`]).
    #[must_use]
    pub fn plaintext_cache(&self) -> &PlaintextCache {
        &self.plaintexts
    }

    /// A context on the CPU reference backend with `threads` worker threads
    /// (1 = single-threaded).
    pub fn cpu(params: Arc<Params>, threads: usize) -> Result<Self> {
        let backend = Arc::new(CpuBackend::new(params.ring().clone(), threads)?);
        Self::new(params, backend)?.with_host_threads(threads)
    }

    /// The parameter set.
    #[must_use]
    pub fn params(&self) -> &Arc<Params> {
        &self.params
    }

    /// The scheduler (for profiles).
    #[must_use]
    pub fn sched(&self) -> &Arc<Scheduler> {
        &self.sched
    }

    /// Waits until the device has finished every submitted operation (for
    /// timing; results are always ordered without it).
    pub fn synchronize(&self) -> Result<()> {
        Ok(self.sched.synchronize()?)
    }

    /// Runs one backend primitive through the scheduler.
    pub(crate) fn run<T>(&self, kind: OpKind, f: impl FnOnce(&dyn Backend) -> crate::backend::Result<T>) -> Result<T> {
        Ok(self.sched.submit(kind, f)?)
    }

    /// Uploads signed small coefficients (|c| < every prime) to `basis` and
    /// moves them to the NTT domain.
    pub(crate) fn upload_small(&self, coeffs: &[i64], basis: Basis) -> Result<DevicePoly> {
        let mut poly = self.run(OpKind::Upload, |b| b.upload_signed(basis, coeffs))?;
        self.run(OpKind::Ntt, |b| b.ntt_forward(&mut [&mut poly]))?;
        Ok(poly)
    }

    /// Signed coefficients made ready for upload on a host thread
    /// ([`Self::upload_prepared`]): their residues over `basis` where the
    /// backend leaves that to the host, the coefficients themselves where
    /// it reduces them itself ([`Backend::reduces_signed`]).
    pub(crate) fn prepare_signed(&self, coeffs: Zeroizing<Vec<i64>>, basis: Basis) -> Prepared {
        if self.sched.reduces_signed() {
            Prepared::Signed(coeffs)
        } else {
            Prepared::Residues(Zeroizing::new(signed_residues(self.params.ring(), basis, &coeffs)))
        }
    }

    /// A new polynomial over `basis` from [`Self::prepare_signed`]'s output.
    pub(crate) fn upload_prepared(&self, prepared: &Prepared, basis: Basis) -> Result<DevicePoly> {
        self.run(OpKind::Upload, |b| match prepared {
            Prepared::Residues(words) => b.upload(basis, words),
            Prepared::Signed(coeffs) => b.upload_signed(basis, coeffs),
        })
    }

    /// Number of host threads (1 without a pool).
    pub(crate) fn host_threads(&self) -> usize {
        self.host.as_ref().map_or(1, rayon::ThreadPool::current_num_threads)
    }

    /// `f` of every item, on the host threads when there are several (in
    /// item order; the first error wins).
    pub(crate) fn on_host_threads<I: Sync, T: Send>(
        &self,
        items: &[I],
        f: impl Fn(&I) -> Result<T> + Sync + Send,
    ) -> Result<Vec<T>> {
        match &self.host {
            Some(pool) if items.len() > 1 => pool.install(|| items.par_iter().map(f).collect()),
            _ => items.iter().map(f).collect(),
        }
    }

    /// A device-side copy of a polynomial.
    pub(crate) fn copy_poly(&self, poly: &DevicePoly) -> Result<DevicePoly> {
        Ok(self.run(OpKind::Memory, |b| b.copy(&[poly]))?.remove(0))
    }

    /// Device-side copies of polynomials, one submission (none for none).
    pub(crate) fn copy_polys(&self, polys: &[&DevicePoly]) -> Result<Vec<DevicePoly>> {
        if polys.is_empty() {
            return Ok(Vec::new());
        }
        self.run(OpKind::Memory, |b| b.copy(polys))
    }

    /// Residues of the signed integer `value` modulo each limb of `basis`.
    pub(crate) fn residues_i128(&self, value: i128, basis: Basis) -> Vec<u32> {
        let ring = self.params.ring();
        (0..basis.limbs())
            .map(|k| {
                let q = i128::from(ring.modulus(basis.global(k, ring)).value());
                value.rem_euclid(q) as u32
            })
            .collect()
    }
}
