//! Ciphertext multiplication, relinearization, rescaling and level dropping.

use super::{check_compatible, check_linear, check_same_key};
use crate::backend::{DevicePoly, Elementwise};
use crate::ckks::encoder::MAX_COEFF_BITS;
use crate::ckks::keys::EvaluationKeys;
use crate::ckks::{Ciphertext, CkksError, Context, Result};
use crate::sched::OpKind;

impl Context {
    /// Tensor product a·b: a degree-2 ciphertext at scale a.scale·b.scale.
    pub fn mul(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        check_compatible("mul", a, b)?;
        check_same_key("mul", a, b)?;
        check_linear("mul", a)?;
        check_linear("mul", b)?;
        let polys = self.run(OpKind::Tensor, |bk| bk.tensor([&a.polys[0], &a.polys[1]], [&b.polys[0], &b.polys[1]]))?;
        Ok(Ciphertext { polys: polys.into(), scale: a.scale * b.scale, ..*a })
    }

    /// Degree 2 → degree 1 with the relinearization key.
    pub fn relinearize(&self, ct: &Ciphertext, keys: &EvaluationKeys) -> Result<Ciphertext> {
        if ct.polys.len() != 3 {
            return Err(CkksError::InvalidInput { op: "relinearize", reason: "ciphertext is not of degree 2".into() });
        }
        let key = keys.relin.as_ref().ok_or(CkksError::MissingKey {
            op: "relinearize",
            kind: "relinearization",
            step: None,
        })?;
        self.check_keys("relinearize", ct, keys)?;
        let [k0, k1] = self.key_switch_poly(&ct.polys[2], key)?;
        let mut polys: Vec<DevicePoly> = ct.polys[..2].iter().map(|p| self.copy_poly(p)).collect::<Result<_>>()?;
        let (p0, p1) = polys.split_at_mut(1);
        self.run(OpKind::Elementwise, |b| b.elementwise(Elementwise::Add, &mut [&mut p0[0], &mut p1[0]], &[&k0, &k1]))?;
        Ok(Ciphertext { polys, ..*ct })
    }

    /// a·b followed by relinearization (no rescale), as OpenFHE's EvalMult.
    pub fn mul_relin(&self, a: &Ciphertext, b: &Ciphertext, keys: &EvaluationKeys) -> Result<Ciphertext> {
        self.relinearize(&self.mul(a, b)?, keys)
    }

    /// Divides by the primes of the current level (with rounding): level − 1,
    /// scale / q_level.
    pub fn rescale(&self, ct: &Ciphertext) -> Result<Ciphertext> {
        if ct.level == 0 {
            return Err(CkksError::LevelExhausted { op: "rescale", level: 0, needed: 1 });
        }
        let mut out = self.copy_ciphertext(ct)?;
        let drop = self.params().primes_per_level();
        let mut polys: Vec<&mut DevicePoly> = out.polys.iter_mut().collect();
        self.run(OpKind::Rescale, |b| b.rescale(&mut polys, drop))?;
        out.scale = ct.scale / self.params().level_modulus(ct.level);
        out.level = ct.level - 1;
        Ok(out)
    }

    /// Moves `ct` one level down to (very nearly) the scale `target`: multiplies
    /// by the integer closest to target·q_level/scale, then rescales. The
    /// result's scale is exact bookkeeping, within 2^-29 relative of `target`,
    /// so it can be added to ciphertexts at that level and scale.
    pub fn rescale_to(&self, ct: &Ciphertext, target: f64) -> Result<Ciphertext> {
        if ct.level == 0 {
            return Err(CkksError::LevelExhausted { op: "rescale_to", level: 0, needed: 1 });
        }
        let factor = (target * self.params().level_modulus(ct.level) / ct.scale).round();
        if !(factor.is_finite() && (1.0..MAX_COEFF_BITS.exp2()).contains(&factor)) {
            return Err(CkksError::InvalidInput {
                op: "rescale_to",
                reason: format!("cannot reach scale 2^{:.2} from 2^{:.2} in one level", target.log2(), ct.scale.log2()),
            });
        }
        let mut out = self.copy_ciphertext(ct)?;
        let residues = self.residues_i128(factor as i128, out.polys[0].basis());
        let mut polys: Vec<&mut DevicePoly> = out.polys.iter_mut().collect();
        self.run(OpKind::Elementwise, |b| b.scalar(crate::backend::ScalarOp::Mul, &mut polys, &residues))?;
        out.scale *= factor;
        self.rescale(&out)
    }

    /// Drops limbs down to `level` without dividing (scale unchanged).
    pub fn drop_to_level(&self, ct: &Ciphertext, level: usize) -> Result<Ciphertext> {
        if level > ct.level {
            return Err(CkksError::InvalidInput {
                op: "drop_to_level",
                reason: format!("target level {level} is above the ciphertext's level {}", ct.level),
            });
        }
        let mut out = self.copy_ciphertext(ct)?;
        let q = self.params().q_limbs(level);
        for p in &mut out.polys {
            self.run(OpKind::Memory, |b| b.truncate(p, q))?;
        }
        out.level = level;
        Ok(out)
    }
}
