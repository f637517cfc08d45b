//! Additive operations and multiplication by plaintexts and constants.

use super::{check_additive, check_compatible, check_product_sum, check_same_key};
use crate::backend::{DevicePoly, Elementwise, KeySwitchJob, ScalarOp};
use crate::ckks::encoder::MAX_COEFF_BITS;
use crate::ckks::{Ciphertext, CkksError, Context, Plaintext, Result};
use crate::sched::OpKind;

impl Context {
    /// A device-side copy of a ciphertext.
    pub fn copy_ciphertext(&self, ct: &Ciphertext) -> Result<Ciphertext> {
        Ok(self.copy_many(&[ct])?.remove(0))
    }

    /// Device-side copies of many ciphertexts (one submission).
    pub fn copy_many(&self, cts: &[&Ciphertext]) -> Result<Vec<Ciphertext>> {
        let polys: Vec<&DevicePoly> = cts.iter().flat_map(|ct| &ct.polys).collect();
        let mut copies = self.run(OpKind::Memory, |b| b.copy(&polys))?.into_iter();
        Ok(cts.iter().map(|ct| Ciphertext { polys: copies.by_ref().take(ct.polys.len()).collect(), ..**ct }).collect())
    }

    /// `a[i] op= b[i]` for every pair, as one submission.
    fn elementwise_many(&self, op: Elementwise, a: &mut [&mut Ciphertext], b: &[&Ciphertext]) -> Result<()> {
        {
            let (mut dst, src): (Vec<&mut DevicePoly>, Vec<&DevicePoly>) =
                a.iter_mut().zip(b).flat_map(|(a, b)| a.polys.iter_mut().zip(&b.polys)).unzip();
            self.run(OpKind::Elementwise, |bk| bk.elementwise(op, &mut dst, &src))?;
        }
        for (a, b) in a.iter_mut().zip(b) {
            let extra: Vec<&DevicePoly> = b.polys[a.polys.len().min(b.polys.len())..].iter().collect();
            a.polys.extend(self.padding(op, &extra)?);
        }
        Ok(())
    }

    /// New ciphertexts `lhs[i] op rhs[i]`, `rhs[i]` the polynomials that
    /// combine with lhs[i]'s first ones, all in one submission that writes
    /// the results once (no copy of the operands first); lhs[i]'s further
    /// polynomials are copied, a longer rhs[i]'s appended as
    /// [`Context::padding`]. Scales and levels are lhs[i]'s.
    fn combine_many(&self, op: Elementwise, lhs: &[&Ciphertext], rhs: &[Vec<&DevicePoly>]) -> Result<Vec<Ciphertext>> {
        let common = |i: usize| lhs[i].polys.len().min(rhs[i].len());
        let (a, b): (Vec<&DevicePoly>, Vec<&DevicePoly>) =
            lhs.iter().zip(rhs).flat_map(|(l, r)| l.polys.iter().zip(r.iter().copied())).unzip();
        let mut combined = self.run(OpKind::Elementwise, |bk| bk.elementwise_new(op, &a, &b))?.into_iter();
        let rest: Vec<&DevicePoly> = lhs.iter().enumerate().flat_map(|(i, l)| &l.polys[common(i)..]).collect();
        let mut copies = self.copy_polys(&rest)?.into_iter();
        let mut out = Vec::with_capacity(lhs.len());
        for (i, (l, r)) in lhs.iter().zip(rhs).enumerate() {
            let mut polys: Vec<DevicePoly> = combined.by_ref().take(common(i)).collect();
            polys.extend(copies.by_ref().take(l.polys.len() - common(i)));
            polys.extend(self.padding(op, &r[common(i)..])?);
            out.push(Ciphertext { polys, ..**l });
        }
        Ok(out)
    }

    /// Copies of a right operand's polynomials beyond the left one's degree
    /// (all of one basis), negated in a difference (times q − 1, the same
    /// words, in one pass): what the left operand is padded with.
    fn padding(&self, op: Elementwise, extra: &[&DevicePoly]) -> Result<Vec<DevicePoly>> {
        match extra.first() {
            Some(first) if op == Elementwise::Sub => {
                let minus_one = self.residues_i128(-1, first.basis());
                self.run(OpKind::Elementwise, |bk| bk.scalar_new(ScalarOp::Mul, extra, &minus_one))
            }
            _ => self.copy_polys(extra),
        }
    }

    fn elementwise_ct(&self, op: Elementwise, a: &mut Ciphertext, b: &Ciphertext) -> Result<()> {
        self.elementwise_many(op, &mut [a], &[b])
    }

    /// a + b.
    pub fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        Ok(self.add_many(&[(a, b)])?.remove(0))
    }

    /// a + b for every pair, as one submission per primitive.
    pub fn add_many(&self, pairs: &[(&Ciphertext, &Ciphertext)]) -> Result<Vec<Ciphertext>> {
        for (a, b) in pairs {
            check_additive("add", *a, *b)?;
            check_same_key("add", a, b)?;
        }
        let (lhs, rhs): (Vec<&Ciphertext>, Vec<Vec<&DevicePoly>>) =
            pairs.iter().map(|(a, b)| (*a, b.polys.iter().collect())).unzip();
        self.combine_many(Elementwise::Add, &lhs, &rhs)
    }

    /// a += b.
    pub fn add_assign(&self, a: &mut Ciphertext, b: &Ciphertext) -> Result<()> {
        check_additive("add", a, b)?;
        check_same_key("add", a, b)?;
        self.elementwise_ct(Elementwise::Add, a, b)
    }

    /// `a[i] += b[i]` for every pair, in place, as one submission (sums of
    /// many terms without a copy per addition).
    pub fn add_assign_many(&self, a: &mut [&mut Ciphertext], b: &[&Ciphertext]) -> Result<()> {
        if a.len() != b.len() {
            return Err(CkksError::InvalidInput {
                op: "add",
                reason: format!("{} left and {} right operands", a.len(), b.len()),
            });
        }
        for (a, b) in a.iter().zip(b) {
            check_additive("add", *a, *b)?;
            check_same_key("add", a, b)?;
        }
        self.elementwise_many(Elementwise::Add, a, b)
    }

    /// a - b.
    pub fn sub(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        check_additive("sub", a, b)?;
        check_same_key("sub", a, b)?;
        Ok(self.combine_many(Elementwise::Sub, &[a], &[b.polys.iter().collect()])?.remove(0))
    }

    /// -a (every polynomial times q − 1: the same words as negating, in one pass).
    pub fn negate(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.scalar_op(ScalarOp::Mul, a, -1, a.polys.len())
    }

    fn plain_op(&self, op: Elementwise, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext> {
        Ok(self.plain_op_many(op, &[(ct, pt)])?.remove(0))
    }

    /// `ct op pt` for every pair, as one submission: a product touches every
    /// polynomial, a sum or difference only c0.
    fn plain_op_many(&self, op: Elementwise, pairs: &[(&Ciphertext, &Plaintext)]) -> Result<Vec<Ciphertext>> {
        let touched = |ct: &Ciphertext| if op == Elementwise::Mul { ct.polys.len() } else { 1 };
        let (cts, pts): (Vec<&Ciphertext>, Vec<Vec<&DevicePoly>>) =
            pairs.iter().map(|(ct, pt)| (*ct, vec![&pt.poly; touched(ct)])).unzip();
        self.combine_many(op, &cts, &pts)
    }

    /// ct + pt (same level and scale).
    pub fn add_plain(&self, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext> {
        check_additive("add_plain", ct, pt)?;
        self.plain_op(Elementwise::Add, ct, pt)
    }

    /// ct - pt (same level and scale).
    pub fn sub_plain(&self, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext> {
        check_additive("sub_plain", ct, pt)?;
        self.plain_op(Elementwise::Sub, ct, pt)
    }

    /// ct · pt; the result's scale is the product of the scales (rescale next).
    pub fn mul_plain(&self, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext> {
        Ok(self.mul_plain_many(&[(ct, pt)])?.remove(0))
    }

    /// [`Context::mul_plain`] of every pair, as one submission (the
    /// diagonals of a matrix product, masks over many ciphertexts).
    pub fn mul_plain_many(&self, pairs: &[(&Ciphertext, &Plaintext)]) -> Result<Vec<Ciphertext>> {
        for (ct, pt) in pairs {
            check_compatible("mul_plain", *ct, *pt)?;
            self.check_scale_room("mul_plain", ct.level, ct.scale * pt.scale)?;
        }
        let mut out = self.plain_op_many(Elementwise::Mul, pairs)?;
        for (ct, (_, pt)) in out.iter_mut().zip(pairs) {
            ct.scale *= pt.scale;
        }
        Ok(out)
    }

    /// Σ_i ct_i · pt_i for each group of pairs (degree-1 ciphertexts under
    /// one key, one level, products of one scale): one inner-product
    /// submission for all groups, which reads every operand once and writes
    /// only the sums (no product is written out). The same words as the
    /// [`Context::mul_plain_many`] products added up.
    pub fn mul_plain_sum_many(&self, groups: &[&[(&Ciphertext, &Plaintext)]]) -> Result<Vec<Ciphertext>> {
        let scales = groups.iter().map(|g| check_product_sum(self, "mul_plain_sum", g)).collect::<Result<Vec<_>>>()?;
        let plaintexts: Vec<Vec<&DevicePoly>> =
            groups.iter().map(|g| g.iter().map(|(_, pt)| &pt.poly).collect()).collect();
        let ciphertexts: Vec<Vec<[&DevicePoly; 2]>> =
            groups.iter().map(|g| g.iter().map(|(ct, _)| [&ct.polys[0], &ct.polys[1]]).collect()).collect();
        let jobs: Vec<KeySwitchJob> =
            plaintexts.iter().zip(&ciphertexts).map(|(digits, key)| KeySwitchJob { digits, key }).collect();
        let sums = self.run(OpKind::Elementwise, |b| b.key_switch_inner(&jobs))?;
        Ok(sums
            .into_iter()
            .zip(groups.iter().zip(scales))
            .map(|(polys, (g, scale))| Ciphertext { polys: polys.into(), scale, ..*g[0].0 })
            .collect())
    }

    fn const_integer(&self, op: &'static str, c: f64, scale: f64) -> Result<i128> {
        let v = (c * scale).round();
        if !v.is_finite() || v.abs() >= MAX_COEFF_BITS.exp2() {
            return Err(CkksError::InvalidInput {
                op,
                reason: format!("constant {c} at scale 2^{:.1} is out of range", scale.log2()),
            });
        }
        Ok(v as i128)
    }

    /// ct + c in every slot (real constant).
    pub fn add_const(&self, ct: &Ciphertext, c: f64) -> Result<Ciphertext> {
        let k = self.const_integer("add_const", c, ct.scale)?;
        self.scalar_op(ScalarOp::Add, ct, k, 1)
    }

    /// ct · c in every slot (real constant). The constant is scaled by the
    /// primes the next rescale drops, so that after [`Context::rescale`] the
    /// scale returns exactly to the input's.
    pub fn mul_const(&self, ct: &Ciphertext, c: f64) -> Result<Ciphertext> {
        if ct.level == 0 {
            return Err(CkksError::LevelExhausted { op: "mul_const", level: 0, needed: 1 });
        }
        self.scalar_mul("mul_const", ct, c, self.params().level_modulus(ct.level))
    }

    /// ct · c in every slot, with c encoded as the integer round(c·`const_scale`):
    /// the level is unchanged (no rescale) and the scale becomes exactly
    /// ct.scale·`const_scale`; the rounding (at most 1/(2·`const_scale`) in c)
    /// goes into the message. Choosing `const_scale` lets a caller land on an
    /// exact target scale before the next rescale, so that sums of terms with
    /// different histories need no extra level (Lattigo's polynomial evaluator
    /// does the same). With c·`const_scale` = ±1 (e.g. c = 1/2, `const_scale` = 2)
    /// it is an exact division that costs nothing.
    pub fn mul_const_scaled(&self, ct: &Ciphertext, c: f64, const_scale: f64) -> Result<Ciphertext> {
        if !(const_scale.is_finite() && const_scale > 0.0) {
            return Err(CkksError::InvalidInput {
                op: "mul_const_scaled",
                reason: format!("constant scale {const_scale} must be finite and positive"),
            });
        }
        self.scalar_mul("mul_const_scaled", ct, c, const_scale)
    }

    fn scalar_mul(&self, op: &'static str, ct: &Ciphertext, c: f64, const_scale: f64) -> Result<Ciphertext> {
        let k = self.const_integer(op, c, const_scale)?;
        self.check_scale_room(op, ct.level, ct.scale * const_scale)?;
        let mut out = self.scalar_op(ScalarOp::Mul, ct, k, ct.polys.len())?;
        out.scale *= const_scale;
        Ok(out)
    }

    /// A new ciphertext: `ct`'s first `touched` polynomials op the integer
    /// `k` (written in one pass), the others copied.
    fn scalar_op(&self, op: ScalarOp, ct: &Ciphertext, k: i128, touched: usize) -> Result<Ciphertext> {
        let residues = self.residues_i128(k, ct.polys[0].basis());
        let src: Vec<&DevicePoly> = ct.polys[..touched].iter().collect();
        let mut polys = self.run(OpKind::Elementwise, |b| b.scalar_new(op, &src, &residues))?;
        polys.extend(self.copy_polys(&ct.polys[touched..].iter().collect::<Vec<_>>())?);
        Ok(Ciphertext { polys, ..*ct })
    }
}
