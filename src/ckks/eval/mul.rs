//! Ciphertext multiplication, relinearization, rescaling and level dropping.

use super::{check_compatible, check_linear, check_product_sum, check_same_key};
use crate::backend::{DevicePoly, Elementwise, KeySwitchJob, ScalarOp, TensorPair};
use crate::ckks::encoder::MAX_COEFF_BITS;
use crate::ckks::keys::{EvaluationKeys, SwitchingKey};
use crate::ckks::{Ciphertext, CkksError, Context, Result};
use crate::sched::OpKind;

impl Context {
    /// Tensor product a·b: a degree-2 ciphertext at scale a.scale·b.scale.
    pub fn mul(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        Ok(self.mul_many(&[(a, b)])?.remove(0))
    }

    /// Tensor products of every pair, as one submission.
    pub fn mul_many(&self, pairs: &[(&Ciphertext, &Ciphertext)]) -> Result<Vec<Ciphertext>> {
        self.check_factors("mul", pairs)?;
        let products = self.run(OpKind::Tensor, |bk| bk.tensor(&tensor_operands(pairs)))?;
        Ok(products
            .into_iter()
            .zip(pairs)
            .map(|(polys, (a, b))| Ciphertext { polys: polys.into(), scale: a.scale * b.scale, ..**a })
            .collect())
    }

    /// Σ_i a_i·b_i for each group of pairs (degree-1 ciphertexts under one
    /// key, at one level, products of one scale): degree-2 ciphertexts, the
    /// same words as the [`Context::mul_many`] products added up. Computed
    /// as two inner products per group, c0 = Σ a0·b0, c1 = Σ a0·b1 + Σ a1·b0
    /// and c2 = Σ a1·b1, in one submission for all groups (every operand
    /// read once, with lazy reduction; no product written out), and one
    /// addition, instead of a tensor product and an addition per pair.
    pub fn mul_sum_many(&self, groups: &[&[(&Ciphertext, &Ciphertext)]]) -> Result<Vec<Ciphertext>> {
        let scales = groups
            .iter()
            .map(|g| {
                self.check_factors("mul_sum", g)?;
                check_product_sum(self, "mul_sum", g)
            })
            .collect::<Result<Vec<_>>>()?;
        let keys: Vec<Vec<[&DevicePoly; 2]>> =
            groups.iter().map(|g| g.iter().map(|(_, b)| [&b.polys[0], &b.polys[1]]).collect()).collect();
        let digits: Vec<[Vec<&DevicePoly>; 2]> =
            groups.iter().map(|g| [0, 1].map(|i| g.iter().map(|(a, _)| &a.polys[i]).collect())).collect();
        let jobs: Vec<KeySwitchJob> = digits
            .iter()
            .zip(&keys)
            .flat_map(|(halves, key)| halves.iter().map(move |digits| KeySwitchJob { digits, key }))
            .collect();
        let mut sums = self.run(OpKind::Tensor, |b| b.key_switch_inner(&jobs))?.into_iter();
        // Per group: [Σ a0·b0, Σ a0·b1] and [Σ a1·b0, Σ a1·b1].
        let mut halves: Vec<([DevicePoly; 2], [DevicePoly; 2])> =
            groups.iter().map_while(|_| Some((sums.next()?, sums.next()?))).collect();
        if halves.len() != groups.len() {
            return Err(CkksError::InvalidInput { op: "mul_sum", reason: "the backend returned too few sums".into() });
        }
        let (mut c1, cross): (Vec<&mut DevicePoly>, Vec<&DevicePoly>) =
            halves.iter_mut().map(|([_, c1], [cross, _])| (c1, &*cross)).unzip();
        self.run(OpKind::Elementwise, |b| b.elementwise(Elementwise::Add, &mut c1, &cross))?;
        Ok(halves
            .into_iter()
            .zip(groups.iter().zip(scales))
            .map(|(([c0, c1], [_, c2]), (g, scale))| Ciphertext { polys: vec![c0, c1, c2], scale, ..*g[0].0 })
            .collect())
    }

    /// Degree 2 → degree 1 with the relinearization key.
    pub fn relinearize(&self, ct: &Ciphertext, keys: &EvaluationKeys) -> Result<Ciphertext> {
        Ok(self.relinearize_many(&[ct], keys)?.remove(0))
    }

    /// Relinearizes every ciphertext, one submission per primitive.
    pub fn relinearize_many(&self, cts: &[&Ciphertext], keys: &EvaluationKeys) -> Result<Vec<Ciphertext>> {
        self.relinearize_with("relinearize", cts, keys, false)
    }

    /// Relinearizes every ciphertext (degree 2), and rescales with it when
    /// `rescale` (level ≥ 1): the key-switched c2 plus (c0, c1), the
    /// addition made in the key switch.
    fn relinearize_with(
        &self,
        op: &'static str,
        cts: &[&Ciphertext],
        keys: &EvaluationKeys,
        rescale: bool,
    ) -> Result<Vec<Ciphertext>> {
        let key = self.relin_key(op, cts, keys)?;
        if rescale {
            cts.iter().try_for_each(|ct| self.check_rescalable(op, ct.level, ct.scale))?;
        }
        let c2: Vec<&DevicePoly> = cts.iter().map(|ct| &ct.polys[2]).collect();
        let rest: Vec<[&DevicePoly; 2]> = cts.iter().map(|ct| [&ct.polys[0], &ct.polys[1]]).collect();
        let switched = self.key_switch_polys(&c2, key, Some(&rest), rescale)?;
        Ok(switched.into_iter().zip(cts).map(|(k, ct)| self.relinearized(k, ct, ct.scale, rescale)).collect())
    }

    /// Pairs that can be multiplied: same parameter set, level and key,
    /// degree 1, and a product scale with room below the level's modulus.
    fn check_factors(&self, op: &'static str, pairs: &[(&Ciphertext, &Ciphertext)]) -> Result<()> {
        for &(a, b) in pairs {
            check_compatible(op, a, b)?;
            check_same_key(op, a, b)?;
            check_linear(op, a)?;
            check_linear(op, b)?;
            self.check_scale_room(op, a.level, a.scale * b.scale)?;
        }
        Ok(())
    }

    /// A ciphertext at `level` and `scale` can be rescaled: a level is left,
    /// and the scale after the division by q_level stays at least 1 (a
    /// ciphertext at the nominal scale, not a product, would lose every
    /// fractional bit of its values).
    fn check_rescalable(&self, op: &'static str, level: usize, scale: f64) -> Result<()> {
        if level == 0 {
            return Err(CkksError::LevelExhausted { op, level, needed: 1 });
        }
        let after = scale / self.params().level_modulus(level);
        if after >= 1.0 {
            return Ok(());
        }
        Err(CkksError::InvalidInput {
            op,
            reason: format!(
                "scale 2^{:.2} divided by q_{level} = 2^{:.2} leaves {after:.6}, below 1: rescale products \
                 (scale Δ²), not ciphertexts at the nominal scale",
                scale.log2(),
                self.params().level_modulus(level).log2()
            ),
        })
    }

    /// The ciphertext of a relinearized pair `polys` of `like`'s level and
    /// key at `scale`, one level lower (scale / q_level) when `rescale`.
    fn relinearized(&self, polys: [DevicePoly; 2], like: &Ciphertext, scale: f64, rescale: bool) -> Ciphertext {
        let polys = polys.into();
        if rescale {
            let level = like.level;
            Ciphertext { polys, scale: scale / self.params().level_modulus(level), level: level - 1, ..*like }
        } else {
            Ciphertext { polys, scale, ..*like }
        }
    }

    /// The relinearization key, once every ciphertext is checked to be of
    /// degree 2 under `keys`.
    fn relin_key<'k>(
        &self,
        op: &'static str,
        cts: &[&Ciphertext],
        keys: &'k EvaluationKeys,
    ) -> Result<&'k SwitchingKey> {
        let key = keys.relin.as_ref().ok_or(CkksError::MissingKey { op, kind: "relinearization", step: None })?;
        for ct in cts {
            if ct.polys.len() != 3 {
                return Err(CkksError::InvalidInput { op, reason: "ciphertext is not of degree 2".into() });
            }
            self.check_keys(op, ct, keys)?;
        }
        Ok(key)
    }

    /// Relinearization followed by a rescale, fused: the relinearized pair
    /// is divided by P·q_level in one ModDown (see
    /// [`Context::relinearize_rescale_many`]).
    pub fn relinearize_rescale(&self, ct: &Ciphertext, keys: &EvaluationKeys) -> Result<Ciphertext> {
        Ok(self.relinearize_rescale_many(&[ct], keys)?.remove(0))
    }

    /// Relinearizes and rescales every ciphertext (degree 2, level ≥ 1):
    /// the key-switched c2 plus P·(c0, c1) is divided by P·q_level in one
    /// ModDown, which saves the rescale's transforms of every limb. The
    /// result is [`Context::relinearize`] then [`Context::rescale`] up to
    /// their rounding (not bit for bit: one rounding instead of two).
    pub fn relinearize_rescale_many(&self, cts: &[&Ciphertext], keys: &EvaluationKeys) -> Result<Vec<Ciphertext>> {
        self.relinearize_with("relinearize_rescale", cts, keys, true)
    }

    /// a·b, relinearized and rescaled (fused: see
    /// [`Context::relinearize_rescale_many`]): level − 1, scale a·b / q_level.
    pub fn mul_relin_rescale(&self, a: &Ciphertext, b: &Ciphertext, keys: &EvaluationKeys) -> Result<Ciphertext> {
        Ok(self.mul_relin_rescale_many(&[(a, b)], keys)?.remove(0))
    }

    /// [`Context::mul_relin_rescale`] of every pair, one submission per primitive.
    pub fn mul_relin_rescale_many(
        &self,
        pairs: &[(&Ciphertext, &Ciphertext)],
        keys: &EvaluationKeys,
    ) -> Result<Vec<Ciphertext>> {
        self.mul_relin_pairs("mul_relin_rescale", pairs, keys, true)
    }

    /// a·b followed by relinearization (no rescale), as OpenFHE's EvalMult.
    pub fn mul_relin(&self, a: &Ciphertext, b: &Ciphertext, keys: &EvaluationKeys) -> Result<Ciphertext> {
        Ok(self.mul_relin_many(&[(a, b)], keys)?.remove(0))
    }

    /// [`Context::mul_relin`] of every pair, one submission per primitive.
    pub fn mul_relin_many(
        &self,
        pairs: &[(&Ciphertext, &Ciphertext)],
        keys: &EvaluationKeys,
    ) -> Result<Vec<Ciphertext>> {
        self.mul_relin_pairs("mul_relin", pairs, keys, false)
    }

    /// a·b relinearized, and rescaled with it when `rescale`, in batches of
    /// the key-switch budget: the tensor product and the decomposition of
    /// its d2 are one backend step ([`crate::backend::Backend::tensor_mod_up`]);
    /// the same words as [`Context::mul_many`] then
    /// [`Context::relinearize_many`] (or [`Context::relinearize_rescale_many`]).
    fn mul_relin_pairs(
        &self,
        op: &'static str,
        pairs: &[(&Ciphertext, &Ciphertext)],
        keys: &EvaluationKeys,
        rescale: bool,
    ) -> Result<Vec<Ciphertext>> {
        self.check_factors(op, pairs)?;
        let key = keys.relin.as_ref().ok_or(CkksError::MissingKey { op, kind: "relinearization", step: None })?;
        for (a, b) in pairs {
            self.check_keys(op, a, keys)?;
            if rescale {
                self.check_rescalable(op, a.level, a.scale * b.scale)?;
            }
        }
        let params = self.params();
        let (alpha, p) = (params.alpha(), params.ring().p.len());
        let chunk = pairs.first().map_or(1, |(a, _)| self.key_switch_batch(a.polys[0].basis().q));
        let mut out = Vec::with_capacity(pairs.len());
        for pairs in pairs.chunks(chunk) {
            let operands = tensor_operands(pairs);
            let fused = self.run(OpKind::TensorModUp, |b| b.tensor_mod_up(&operands, alpha, p))?;
            let (products, digits): (Vec<[DevicePoly; 2]>, Vec<Vec<DevicePoly>>) = fused.into_iter().unzip();
            // (d0 + k0, d1 + k1), the addition made in the key switch.
            let addends: Vec<[&DevicePoly; 2]> = products.iter().map(|[d0, d1]| [d0, d1]).collect();
            let switched = self.switch_decomposed(&digits, key, Some(&addends), rescale)?;
            out.extend(
                switched.into_iter().zip(pairs).map(|(k, (a, b))| self.relinearized(k, a, a.scale * b.scale, rescale)),
            );
        }
        Ok(out)
    }

    /// Divides by the primes of the current level (with rounding): level − 1,
    /// scale / q_level.
    pub fn rescale(&self, ct: &Ciphertext) -> Result<Ciphertext> {
        Ok(self.rescale_many(&[ct])?.remove(0))
    }

    /// Rescales every ciphertext, as one submission.
    pub fn rescale_many(&self, cts: &[&Ciphertext]) -> Result<Vec<Ciphertext>> {
        let limit = self.rescale_chunk(cts.iter().copied())?;
        let mut out = Vec::with_capacity(cts.len());
        for chunk in cts.chunks(limit) {
            let mut copies = self.copy_many(chunk)?;
            self.rescale_in_place(&mut copies)?;
            out.extend(copies);
        }
        Ok(out)
    }

    /// [`Context::rescale_many`] of ciphertexts the caller no longer needs:
    /// rescaled where they are, without copying them first (a pass over
    /// every limb saved).
    pub fn rescale_owned(&self, mut cts: Vec<Ciphertext>) -> Result<Vec<Ciphertext>> {
        let limit = self.rescale_chunk(cts.iter())?;
        for chunk in cts.chunks_mut(limit) {
            self.rescale_in_place(chunk)?;
        }
        Ok(cts)
    }

    /// How many of `cts` one rescaling call takes: as many as the
    /// backend's batch budget holds (a CPU's caches: a larger batch only
    /// spills them; unbounded on GPUs). An error if one cannot be rescaled
    /// ([`Context::check_rescalable`]).
    fn rescale_chunk<'a>(&self, cts: impl Iterator<Item = &'a Ciphertext>) -> Result<usize> {
        let params = self.params();
        let mut top = 0;
        for ct in cts {
            self.check_rescalable("rescale", ct.level, ct.scale)?;
            top = top.max(params.q_limbs(ct.level));
        }
        Ok(self.sched().batch_limit(3 * top * params.n() * 4))
    }

    /// Rescales ciphertexts above level 0 in place, in one backend call.
    fn rescale_in_place(&self, cts: &mut [Ciphertext]) -> Result<()> {
        let drop = self.params().primes_per_level();
        {
            let mut polys: Vec<&mut DevicePoly> = cts.iter_mut().flat_map(|ct| ct.polys.iter_mut()).collect();
            self.run(OpKind::Rescale, |b| b.rescale(&mut polys, drop))?;
        }
        for ct in cts {
            ct.scale /= self.params().level_modulus(ct.level);
            ct.level -= 1;
        }
        Ok(())
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
        {
            let mut polys: Vec<&mut DevicePoly> = out.polys.iter_mut().collect();
            self.run(OpKind::Elementwise, |b| b.scalar(ScalarOp::Mul, &mut polys, &residues))?;
        }
        out.scale *= factor;
        self.rescale_in_place(std::slice::from_mut(&mut out))?;
        Ok(out)
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

/// The polynomials of each pair, as the tensor product takes them.
fn tensor_operands<'a>(pairs: &[(&'a Ciphertext, &'a Ciphertext)]) -> Vec<TensorPair<'a>> {
    pairs.iter().map(|(a, b)| [[&a.polys[0], &a.polys[1]], [&b.polys[0], &b.polys[1]]]).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use num_complex::Complex64;

    use crate::backend::Elementwise;
    use crate::ckks::{Context, preset};
    use crate::math::sampling::Csprng;
    use crate::sched::OpKind;

    /// Relinearization adds (c0, c1) inside the key switch, before the
    /// ModDown: the same words as adding them to the switched pair after it.
    #[test]
    fn relinearize_adds_before_mod_down_with_the_same_words() {
        let ctx = Context::cpu(Arc::new(preset("toy-n1024").unwrap()), 1).unwrap();
        let mut rng = Csprng::from_seed([3; 32]);
        let keys = ctx.gen_keys(&[], false, &mut rng).unwrap();
        let level = ctx.params().max_level();
        let pt = ctx.encode(&[Complex64::new(0.25, -0.5); 8], level, ctx.params().scale(level)).unwrap();
        let ct = ctx.encrypt(&pt, &keys.public, &mut rng).unwrap();
        let product = ctx.mul(&ct, &ct).unwrap();
        let fused = ctx.relinearize(&product, &keys.eval).unwrap();
        let key = keys.eval.relin.as_ref().unwrap();
        let mut want = ctx.key_switch_polys(&[&product.polys[2]], key, None, false).unwrap().remove(0);
        let (mut dst, src): (Vec<_>, Vec<_>) = want.iter_mut().zip(&product.polys[..2]).unzip();
        ctx.run(OpKind::Elementwise, |b| b.elementwise(Elementwise::Add, &mut dst, &src)).unwrap();
        let words = |p| ctx.run(OpKind::Download, |b| b.download(p)).unwrap();
        for (got, want) in fused.polys.iter().zip(&want) {
            assert_eq!(words(got), words(want));
        }
    }
}
