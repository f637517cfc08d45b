//! The arithmetic that approximations run on: [`Arith`], implemented over
//! ciphertexts ([`CkksArith`]) and over plaintext slots ([`PlainArith`], the
//! mirror). The mirror applies the same level and scale rules and the same
//! rounding of constants as CKKS, so an evaluation order that passes on it
//! passes on ciphertexts, and its output is the exact-arithmetic twin of the
//! encrypted result: the difference between the two is CKKS noise alone.

use std::cell::Cell;

use num_complex::Complex64;
use std::sync::Arc;

use crate::ckks::{Ciphertext, CkksError, Context, EvaluationKeys, MAX_COEFF_BITS, Params, SCALE_TOLERANCE};
use crate::nn::Result;
use crate::nn::linalg::MatMulPlain;

/// Operations on slot vectors that carry a level and a scale. Approximations
/// are written once against this trait.
pub trait Arith {
    /// A (possibly encrypted) vector of slots.
    type Value;
    /// The parameter set (level moduli and nominal scales).
    fn params(&self) -> &Params;
    /// Level of `v`.
    fn level(&self, v: &Self::Value) -> usize;
    /// Scale of `v`.
    fn scale(&self, v: &Self::Value) -> f64;
    /// Number of slots of `v`.
    fn slots(&self, v: &Self::Value) -> usize;
    /// Degree of `v`: 1, or 2 after a product before relinearization.
    fn degree(&self, v: &Self::Value) -> usize;
    /// a + b (same level and scale).
    fn add(&self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value>;
    /// a += b in place (same level and scale): spares the copy of a sum.
    fn add_assign(&self, a: &mut Self::Value, b: &Self::Value) -> Result<()>;
    /// a − b (same level and scale).
    fn sub(&self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value>;
    /// a + c in every slot.
    fn add_const(&self, a: &Self::Value, c: f64) -> Result<Self::Value>;
    /// a · c with c encoded at `const_scale` (see [`Context::mul_const_scaled`]).
    fn mul_const_scaled(&self, a: &Self::Value, c: f64, const_scale: f64) -> Result<Self::Value>;
    /// a · b without relinearization (degree 2, scale product): the one
    /// ciphertext-ciphertext multiplication that multiplication counts count.
    fn mul(&self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value>;
    /// Back to degree 1 (no-op when already there).
    fn relinearize(&self, a: Self::Value) -> Result<Self::Value>;
    /// Divides by the current level's modulus: level − 1.
    fn rescale(&self, a: &Self::Value) -> Result<Self::Value>;
    /// [`Arith::rescale`] of values the caller no longer needs (ciphertexts:
    /// one batched call, rescaled in place, [`Context::rescale_owned`]).
    fn rescale_owned(&self, values: Vec<Self::Value>) -> Result<Vec<Self::Value>> {
        values.iter().map(|v| self.rescale(v)).collect()
    }
    /// Relinearizes (if needed), then rescales. Ciphertexts fuse the two
    /// into one ModDown ([`Context::relinearize_rescale`]).
    fn relinearize_rescale(&self, a: Self::Value) -> Result<Self::Value> {
        let a = self.relinearize(a)?;
        self.rescale(&a)
    }
    /// A copy at `level` (≤ the current one), same scale.
    fn drop_to_level(&self, a: &Self::Value, level: usize) -> Result<Self::Value>;
    /// Slots rotated left by `step`.
    fn rotate(&self, a: &Self::Value, step: i64) -> Result<Self::Value>;
    /// Each value rotated left by `step` (one batched submission per
    /// primitive on ciphertexts: what a GPU needs to be busy).
    fn rotate_many(&self, values: &[&Self::Value], step: i64) -> Result<Vec<Self::Value>> {
        values.iter().map(|v| self.rotate(v, step)).collect()
    }
    /// a ⊙ `values` (one per slot of a), the plaintext encoded at scale
    /// q_level so that the next rescale restores a's scale exactly.
    fn mul_plain(&self, a: &Self::Value, values: &[f64]) -> Result<Self::Value> {
        let scale = self.params().level_modulus(self.level(a));
        self.mul_plain_scaled(a, values, scale)
    }
    /// a ⊙ `values` with the plaintext encoded at `pt_scale`: the product's
    /// scale is scale(a) · `pt_scale` (before the rescale).
    fn mul_plain_scaled(&self, a: &Self::Value, values: &[f64], pt_scale: f64) -> Result<Self::Value>;
    /// Σ_i v_i ⊙ `values_i` for each group of terms, every plaintext
    /// encoded at `pt_scale` (all v_i at one level and scale), before the
    /// rescale. Ciphertexts encode every plaintext in one batch on the host
    /// threads and sum each group in one fused pass
    /// ([`Context::mul_plain_sum_many`]); the words are those of the
    /// products added up, which is what this default does.
    fn mul_plain_sums(&self, groups: &[&[(&Self::Value, &[f64])]], pt_scale: f64) -> Result<Vec<Self::Value>> {
        sum_each_group(self, "mul_plain_sums", groups, |(v, values)| self.mul_plain_scaled(v, values, pt_scale))
    }
    /// Σ_i a_i·b_i for each group of pairs (all at one level and product
    /// scale), degree 2, before relinearization and rescale. Ciphertexts sum
    /// each group in one fused pass ([`Context::mul_sum_many`]); the words
    /// are those of the products added up, which is what this default does.
    fn mul_sums(&self, groups: &[&[(&Self::Value, &Self::Value)]]) -> Result<Vec<Self::Value>> {
        sum_each_group(self, "mul_sums", groups, |(a, b)| self.mul(a, b))
    }
    /// a + `values` (one per slot), encoded at a's level and scale.
    fn add_plain(&self, a: &Self::Value, values: &[f64]) -> Result<Self::Value>;
    /// a rotated left by each of `steps` (hoisted on ciphertexts: one
    /// decomposition shared by all steps).
    fn rotate_hoisted(&self, a: &Self::Value, steps: &[i64]) -> Result<Vec<Self::Value>> {
        steps.iter().map(|&s| self.rotate(a, s)).collect()
    }
    /// X·W for X in `plan`'s row-block packing (see [`MatMulPlain::apply`]),
    /// the result one level lower at scale `out_scale`.
    fn matmul_plain(&self, plan: &MatMulPlain, xs: &[&Self::Value], out_scale: f64) -> Result<Vec<Self::Value>>;
    /// [`Self::matmul_plain`] for several plans on the same X (sharing X's
    /// rotations where the backend can, see [`MatMulPlain::apply_shared`]).
    fn matmul_plain_shared(
        &self,
        plans: &[&MatMulPlain],
        xs: &[&Self::Value],
        out_scale: f64,
    ) -> Result<Vec<Vec<Self::Value>>> {
        plans.iter().map(|p| self.matmul_plain(p, xs, out_scale)).collect()
    }
    /// Charges the following work to `layer` in the profile (for
    /// layer-by-layer costs); returns the previous layer. No-op by default.
    fn enter_layer(&self, layer: &'static str) -> &'static str {
        layer
    }
}

/// The error of an operation given no operands.
pub(crate) fn no_terms(op: &'static str) -> crate::nn::NnError {
    CkksError::InvalidInput { op, reason: "no operands".into() }.into()
}

/// `values` must give one entry per slot of a `slots`-slot operand.
fn check_plain_len(slots: usize, values: &[f64]) -> Result<()> {
    if values.len() == slots {
        Ok(())
    } else {
        Err(CkksError::InvalidInput {
            op: "mul_plain",
            reason: format!("{} plaintext values for {slots} slots", values.len()),
        }
        .into())
    }
}

/// Relinearizes (if needed), then rescales: how every product is finished
/// ([`Arith::relinearize_rescale`]).
pub(crate) fn finish<A: Arith>(a: &A, v: A::Value) -> Result<A::Value> {
    a.relinearize_rescale(v)
}

/// c·v at `level` with scale exactly `target`: the constant absorbs the
/// ratio target / scale(v), which must be large (≈ Δ) for precision.
pub(super) fn scaled_term<A: Arith>(a: &A, v: &A::Value, c: f64, level: usize, target: f64) -> Result<A::Value> {
    let v = at_level(a, v, level)?;
    a.mul_const_scaled(&v, c, target / a.scale(&v))
}

/// Σ `product(term)` over each group of terms, added one by one: what the
/// fused sums of products ([`Arith::mul_sums`], [`Arith::mul_plain_sums`])
/// compute by default.
fn sum_each_group<A: Arith + ?Sized, T>(
    a: &A,
    op: &'static str,
    groups: &[&[T]],
    product: impl Fn(&T) -> Result<A::Value>,
) -> Result<Vec<A::Value>> {
    groups
        .iter()
        .map(|terms| {
            let (first, rest) = terms.split_first().ok_or_else(|| no_terms(op))?;
            let mut acc = product(first)?;
            for term in rest {
                a.add_assign(&mut acc, &product(term)?)?;
            }
            Ok(acc)
        })
        .collect()
}

/// A value, or a copy of it dropped to a lower level: avoids copying a
/// ciphertext that already sits at the wanted level.
pub(crate) enum AtLevel<'v, V> {
    /// The value itself.
    Same(&'v V),
    /// A new value (dropped, or computed).
    Owned(V),
}

impl<V> std::ops::Deref for AtLevel<'_, V> {
    type Target = V;

    fn deref(&self) -> &V {
        match self {
            Self::Same(v) => v,
            Self::Owned(v) => v,
        }
    }
}

/// `v` at `level` (≤ its own), copied only if it has to be dropped.
pub(super) fn at_level<'v, A: Arith>(a: &A, v: &'v A::Value, level: usize) -> Result<AtLevel<'v, A::Value>> {
    if a.level(v) == level { Ok(AtLevel::Same(v)) } else { a.drop_to_level(v, level).map(AtLevel::Owned) }
}

/// [`Arith`] over ciphertexts: each method is the CKKS operation of the same name.
pub struct CkksArith<'a> {
    ctx: &'a Context,
    keys: &'a EvaluationKeys,
}

impl<'a> CkksArith<'a> {
    /// Evaluates with `ctx` and the compute party's evaluation keys
    /// (relinearization, plus rotations where an approximation rotates).
    #[must_use]
    pub fn new(ctx: &'a Context, keys: &'a EvaluationKeys) -> Self {
        Self { ctx, keys }
    }
}

impl Arith for CkksArith<'_> {
    type Value = Ciphertext;

    fn params(&self) -> &Params {
        self.ctx.params()
    }
    fn level(&self, v: &Ciphertext) -> usize {
        v.level()
    }
    fn scale(&self, v: &Ciphertext) -> f64 {
        v.scale()
    }
    fn slots(&self, v: &Ciphertext) -> usize {
        v.slots()
    }
    fn degree(&self, v: &Ciphertext) -> usize {
        v.degree_plus_one() - 1
    }
    fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        Ok(self.ctx.add(a, b)?)
    }
    fn add_assign(&self, a: &mut Ciphertext, b: &Ciphertext) -> Result<()> {
        Ok(self.ctx.add_assign(a, b)?)
    }
    fn sub(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        Ok(self.ctx.sub(a, b)?)
    }
    fn add_const(&self, a: &Ciphertext, c: f64) -> Result<Ciphertext> {
        Ok(self.ctx.add_const(a, c)?)
    }
    fn mul_const_scaled(&self, a: &Ciphertext, c: f64, const_scale: f64) -> Result<Ciphertext> {
        Ok(self.ctx.mul_const_scaled(a, c, const_scale)?)
    }
    fn mul(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        Ok(self.ctx.mul(a, b)?)
    }
    fn mul_sums(&self, groups: &[&[(&Ciphertext, &Ciphertext)]]) -> Result<Vec<Ciphertext>> {
        Ok(self.ctx.mul_sum_many(groups)?)
    }
    fn relinearize(&self, a: Ciphertext) -> Result<Ciphertext> {
        if a.degree_plus_one() == 2 { Ok(a) } else { Ok(self.ctx.relinearize(&a, self.keys)?) }
    }
    fn rescale(&self, a: &Ciphertext) -> Result<Ciphertext> {
        Ok(self.ctx.rescale(a)?)
    }
    fn rescale_owned(&self, values: Vec<Ciphertext>) -> Result<Vec<Ciphertext>> {
        Ok(self.ctx.rescale_owned(values)?)
    }
    fn relinearize_rescale(&self, a: Ciphertext) -> Result<Ciphertext> {
        if a.degree_plus_one() == 2 { self.rescale(&a) } else { Ok(self.ctx.relinearize_rescale(&a, self.keys)?) }
    }
    fn drop_to_level(&self, a: &Ciphertext, level: usize) -> Result<Ciphertext> {
        Ok(self.ctx.drop_to_level(a, level)?)
    }
    fn rotate(&self, a: &Ciphertext, step: i64) -> Result<Ciphertext> {
        Ok(self.ctx.rotate(a, step, self.keys)?)
    }
    fn rotate_many(&self, values: &[&Ciphertext], step: i64) -> Result<Vec<Ciphertext>> {
        Ok(self.ctx.rotate_many(values, step, self.keys)?)
    }
    fn enter_layer(&self, layer: &'static str) -> &'static str {
        self.ctx.sched().profile().set_layer(layer)
    }
    fn mul_plain_scaled(&self, a: &Ciphertext, values: &[f64], pt_scale: f64) -> Result<Ciphertext> {
        check_plain_len(a.slots(), values)?;
        let pt = self.ctx.encode(&complex(values), a.level(), pt_scale)?;
        Ok(self.ctx.mul_plain(a, &pt)?)
    }
    fn mul_plain_sums(&self, groups: &[&[(&Ciphertext, &[f64])]], pt_scale: f64) -> Result<Vec<Ciphertext>> {
        let terms = || groups.iter().flat_map(|g| g.iter());
        let (first, _) = terms().next().ok_or_else(|| no_terms("mul_plain_sums"))?;
        for (ct, values) in terms() {
            check_plain_len(ct.slots(), values)?;
        }
        let values: Vec<&[f64]> = terms().map(|(_, values)| *values).collect();
        let pts = self.ctx.value_cache().encode_real_many(self.ctx, &values, first.level(), pt_scale)?;
        let pairs: Vec<(&Ciphertext, &crate::ckks::Plaintext)> =
            terms().map(|(ct, _)| *ct).zip(pts.iter().map(|pt| &**pt)).collect();
        let mut rest = pairs.as_slice();
        let split: Vec<&[(&Ciphertext, &crate::ckks::Plaintext)]> = groups
            .iter()
            .map(|g| {
                let (group, after) = rest.split_at(g.len());
                rest = after;
                group
            })
            .collect();
        Ok(self.ctx.mul_plain_sum_many(&split)?)
    }
    fn add_plain(&self, a: &Ciphertext, values: &[f64]) -> Result<Ciphertext> {
        check_plain_len(a.slots(), values)?;
        let pt = self.ctx.encode(&complex(values), a.level(), a.scale())?;
        Ok(self.ctx.add_plain(a, &pt)?)
    }
    fn rotate_hoisted(&self, a: &Ciphertext, steps: &[i64]) -> Result<Vec<Ciphertext>> {
        Ok(self.ctx.rotate_hoisted(a, steps, self.keys)?)
    }
    fn matmul_plain(&self, plan: &MatMulPlain, xs: &[&Ciphertext], out_scale: f64) -> Result<Vec<Ciphertext>> {
        Ok(plan.apply_scaled(self.ctx, xs, self.keys, out_scale)?)
    }
    fn matmul_plain_shared(
        &self,
        plans: &[&MatMulPlain],
        xs: &[&Ciphertext],
        out_scale: f64,
    ) -> Result<Vec<Vec<Ciphertext>>> {
        Ok(MatMulPlain::apply_shared(self.ctx, plans, xs, self.keys, out_scale)?)
    }
}

/// Real values as complex slots.
fn complex(values: &[f64]) -> Vec<Complex64> {
    values.iter().map(|&v| Complex64::new(v, 0.0)).collect()
}

/// Plaintext slots with the level, scale and degree a ciphertext would have.
#[derive(Clone, Debug)]
pub struct PlainValue {
    values: Vec<f64>,
    level: usize,
    scale: f64,
    degree: usize,
}

impl PlainValue {
    /// The slot values (exact arithmetic, CKKS constant rounding included).
    #[must_use]
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Level.
    #[must_use]
    pub fn level(&self) -> usize {
        self.level
    }

    /// Scale.
    #[must_use]
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

/// [`Arith`] over plaintext slots: the mirror of [`CkksArith`], with the
/// same checks (equal level and scale for additions, degree 1 for products,
/// levels left for rescaling, constant ranges) and the same constant
/// rounding, but no noise. Counts multiplications and rotations.
pub struct PlainArith {
    params: Arc<Params>,
    multiplications: Cell<usize>,
    rotations: Cell<usize>,
}

impl PlainArith {
    /// A mirror for `params`.
    #[must_use]
    pub fn new(params: Arc<Params>) -> Self {
        Self { params, multiplications: Cell::new(0), rotations: Cell::new(0) }
    }

    /// `values` at `level` with that level's nominal scale, as
    /// [`Context::encode_real`] would encode them.
    pub fn encode(&self, values: &[f64], level: usize) -> Result<PlainValue> {
        if level > self.params.max_level() || values.is_empty() {
            return Err(CkksError::InvalidInput {
                op: "encode",
                reason: format!("{} values at level {level} (maximum {})", values.len(), self.params.max_level()),
            }
            .into());
        }
        Ok(PlainValue { values: values.to_vec(), level, scale: self.params.scale(level), degree: 1 })
    }

    /// Ciphertext-ciphertext multiplications done so far.
    #[must_use]
    pub fn multiplications(&self) -> usize {
        self.multiplications.get()
    }

    /// Rotations done so far.
    #[must_use]
    pub fn rotations(&self) -> usize {
        self.rotations.get()
    }

    fn zip(&self, op: &'static str, a: &PlainValue, b: &PlainValue, f: fn(f64, f64) -> f64) -> Result<PlainValue> {
        if a.level != b.level {
            return Err(CkksError::LevelMismatch { op, lhs: a.level, rhs: b.level }.into());
        }
        if (a.scale / b.scale - 1.0).abs() > SCALE_TOLERANCE {
            return Err(CkksError::ScaleMismatch { op, lhs: a.scale.log2(), rhs: b.scale.log2() }.into());
        }
        let values = a.values.iter().zip(&b.values).map(|(&x, &y)| f(x, y)).collect();
        Ok(PlainValue { values, degree: a.degree.max(b.degree), ..*a })
    }
}

/// Degree 1 required, as CKKS requires for products and rotations.
fn linear(op: &'static str, v: &PlainValue) -> Result<()> {
    if v.degree == 1 {
        Ok(())
    } else {
        Err(CkksError::InvalidInput { op, reason: "ciphertext has degree 2; relinearize it first".into() }.into())
    }
}

/// round(c·scale) as CKKS encodes a constant, or the error CKKS gives.
fn const_integer(op: &'static str, c: f64, scale: f64) -> Result<f64> {
    let v = (c * scale).round();
    if v.is_finite() && v.abs() < MAX_COEFF_BITS.exp2() {
        Ok(v)
    } else {
        Err(CkksError::InvalidInput {
            op,
            reason: format!("constant {c} at scale 2^{:.1} is out of range", scale.log2()),
        }
        .into())
    }
}

impl Arith for PlainArith {
    type Value = PlainValue;

    fn params(&self) -> &Params {
        &self.params
    }
    fn level(&self, v: &PlainValue) -> usize {
        v.level
    }
    fn scale(&self, v: &PlainValue) -> f64 {
        v.scale
    }
    fn slots(&self, v: &PlainValue) -> usize {
        v.values.len()
    }
    fn degree(&self, v: &PlainValue) -> usize {
        v.degree
    }
    fn add(&self, a: &PlainValue, b: &PlainValue) -> Result<PlainValue> {
        self.zip("add", a, b, |x, y| x + y)
    }
    fn add_assign(&self, a: &mut PlainValue, b: &PlainValue) -> Result<()> {
        *a = self.add(a, b)?;
        Ok(())
    }
    fn sub(&self, a: &PlainValue, b: &PlainValue) -> Result<PlainValue> {
        self.zip("sub", a, b, |x, y| x - y)
    }
    fn add_const(&self, a: &PlainValue, c: f64) -> Result<PlainValue> {
        let c = const_integer("add_const", c, a.scale)? / a.scale;
        Ok(PlainValue { values: a.values.iter().map(|x| x + c).collect(), ..a.clone() })
    }
    fn mul_const_scaled(&self, a: &PlainValue, c: f64, const_scale: f64) -> Result<PlainValue> {
        if !(const_scale.is_finite() && const_scale > 0.0) {
            return Err(CkksError::InvalidInput {
                op: "mul_const_scaled",
                reason: format!("constant scale {const_scale} must be finite and positive"),
            }
            .into());
        }
        let c = const_integer("mul_const_scaled", c, const_scale)? / const_scale;
        Ok(PlainValue { values: a.values.iter().map(|x| x * c).collect(), scale: a.scale * const_scale, ..a.clone() })
    }
    fn mul(&self, a: &PlainValue, b: &PlainValue) -> Result<PlainValue> {
        linear("mul", a)?;
        linear("mul", b)?;
        if a.level != b.level {
            return Err(CkksError::LevelMismatch { op: "mul", lhs: a.level, rhs: b.level }.into());
        }
        self.multiplications.set(self.multiplications.get() + 1);
        let values = a.values.iter().zip(&b.values).map(|(x, y)| x * y).collect();
        Ok(PlainValue { values, level: a.level, scale: a.scale * b.scale, degree: 2 })
    }
    fn relinearize(&self, a: PlainValue) -> Result<PlainValue> {
        Ok(PlainValue { degree: 1, ..a })
    }
    fn rescale(&self, a: &PlainValue) -> Result<PlainValue> {
        if a.level == 0 {
            return Err(CkksError::LevelExhausted { op: "rescale", level: 0, needed: 1 }.into());
        }
        let scale = a.scale / self.params.level_modulus(a.level);
        Ok(PlainValue { level: a.level - 1, scale, ..a.clone() })
    }
    fn drop_to_level(&self, a: &PlainValue, level: usize) -> Result<PlainValue> {
        if level > a.level {
            return Err(CkksError::InvalidInput {
                op: "drop_to_level",
                reason: format!("target level {level} is above the ciphertext's level {}", a.level),
            }
            .into());
        }
        Ok(PlainValue { level, ..a.clone() })
    }
    fn rotate(&self, a: &PlainValue, step: i64) -> Result<PlainValue> {
        linear("rotate", a)?;
        self.rotations.set(self.rotations.get() + 1);
        let n = a.values.len() as i64;
        let values = (0..n).map(|i| a.values[(i + step).rem_euclid(n) as usize]).collect();
        Ok(PlainValue { values, ..a.clone() })
    }
    fn mul_plain_scaled(&self, a: &PlainValue, values: &[f64], pt_scale: f64) -> Result<PlainValue> {
        check_plain_len(a.values.len(), values)?;
        let values = a.values.iter().zip(values).map(|(x, v)| x * v).collect();
        Ok(PlainValue { values, scale: a.scale * pt_scale, ..a.clone() })
    }
    fn add_plain(&self, a: &PlainValue, values: &[f64]) -> Result<PlainValue> {
        check_plain_len(a.values.len(), values)?;
        let values = a.values.iter().zip(values).map(|(x, v)| x + v).collect();
        Ok(PlainValue { values, ..a.clone() })
    }
    fn matmul_plain(&self, plan: &MatMulPlain, xs: &[&PlainValue], out_scale: f64) -> Result<Vec<PlainValue>> {
        let first = xs
            .first()
            .ok_or_else(|| CkksError::InvalidInput { op: "matmul_plain", reason: "no input ciphertexts".into() })?;
        if let Some(x) = xs.iter().find(|x| x.level != first.level || x.degree != 1) {
            return Err(CkksError::LevelMismatch { op: "matmul_plain", lhs: first.level, rhs: x.level }.into());
        }
        if first.level == 0 {
            return Err(CkksError::LevelExhausted { op: "matmul_plain", level: 0, needed: 1 }.into());
        }
        let slots: Vec<&[f64]> = xs.iter().map(|x| x.values.as_slice()).collect();
        let products = plan.apply_exact(&slots)?;
        Ok(products
            .into_iter()
            .map(|values| PlainValue { values, level: first.level - 1, scale: out_scale, degree: 1 })
            .collect())
    }
}
