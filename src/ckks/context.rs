//! [`Context`]: a parameter set bound to a scheduler (and so to a backend).

use std::sync::Arc;

use super::{CkksError, Params, Result};
use crate::backend::cpu::CpuBackend;
use crate::backend::{Backend, Basis, DevicePoly};
use crate::math::fft::SpecialFft;
use crate::sched::{OpKind, Scheduler};

/// Parameters plus the scheduler every CKKS operation goes through.
pub struct Context {
    params: Arc<Params>,
    sched: Arc<Scheduler>,
    pub(crate) fft: SpecialFft,
}

impl Context {
    /// A context on `backend`, which must have been built for `params`' ring.
    pub fn new(params: Arc<Params>, backend: Arc<dyn Backend>) -> Result<Self> {
        if backend.ring() != params.ring() {
            return Err(CkksError::ParamsMismatch { op: "context" });
        }
        let fft = SpecialFft::new(params.n());
        Ok(Self { params, sched: Arc::new(Scheduler::new(backend)), fft })
    }

    /// A context on the CPU reference backend with `threads` worker threads
    /// (1 = single-threaded).
    pub fn cpu(params: Arc<Params>, threads: usize) -> Result<Self> {
        let backend = Arc::new(CpuBackend::new(params.ring().clone(), threads)?);
        Self::new(params, backend)
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
        let ring = self.params.ring();
        let mut words = Vec::with_capacity(basis.limbs() * coeffs.len());
        for k in 0..basis.limbs() {
            let m = ring.modulus(basis.global(k, ring));
            words.extend(coeffs.iter().map(|&c| m.reduce_i64(c)));
        }
        let mut poly = self.run(OpKind::Upload, |b| b.upload(basis, &words))?;
        zeroize::Zeroize::zeroize(&mut words);
        self.run(OpKind::Ntt, |b| b.ntt_forward(&mut [&mut poly]))?;
        Ok(poly)
    }

    /// A device-side copy of a polynomial.
    pub(crate) fn copy_poly(&self, poly: &DevicePoly) -> Result<DevicePoly> {
        Ok(self.run(OpKind::Memory, |b| b.copy(&[poly]))?.remove(0))
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
