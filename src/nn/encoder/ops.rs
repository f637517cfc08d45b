//! Level- and scale-disciplined building blocks over [`Arith`]: every value
//! the encoder keeps sits on its level's nominal scale, so that sums need
//! only equal levels and products of two values land on the nominal scale
//! of the next level (the parameter sets define Δ_{l−1} = Δ_l² / q_l).

use crate::ckks::SCALE_TOLERANCE;
use crate::nn::Result;
use crate::nn::approx::Arith;
use crate::nn::approx::finish;

/// `v` at `level` (≤ its own) on the nominal scale: a copy when it is there
/// already, else dropped to `level + 1` and multiplied by 1 encoded at the
/// scale that makes the rescale land on Δ_level.
pub fn to_level<A: Arith>(a: &A, v: &A::Value, level: usize) -> Result<A::Value> {
    let nominal = a.params().scale(level);
    if a.level(v) == level && (a.scale(v) / nominal - 1.0).abs() < SCALE_TOLERANCE {
        return a.drop_to_level(v, level);
    }
    let high = a.drop_to_level(v, level + 1)?;
    let factor = nominal * a.params().level_modulus(level + 1) / a.scale(&high);
    finish(a, a.mul_const_scaled(&high, 1.0, factor)?)
}

/// Σ_i v_i ⊙ m_i (all v_i at one level and scale), one rescale: one level
/// down, nominal scale. Masks that select disjoint slots make this a merge.
pub fn plain_combination<A: Arith>(a: &A, terms: &[(&A::Value, &[f64])]) -> Result<A::Value> {
    let (first, rest) = terms.split_first().ok_or_else(|| empty("plain_combination"))?;
    let level = a.level(first.0);
    if level == 0 {
        return Err(crate::ckks::CkksError::LevelExhausted { op: "plain_combination", level, needed: 1 }.into());
    }
    let pt_scale = a.params().scale(level - 1) * a.params().level_modulus(level) / a.scale(first.0);
    let mut acc = a.mul_plain_scaled(first.0, first.1, pt_scale)?;
    for (v, m) in rest {
        a.add_assign(&mut acc, &a.mul_plain_scaled(v, m, pt_scale)?)?;
    }
    a.rescale(&acc)
}

/// v ⊙ m, one level down on the nominal scale.
pub fn plain_product<A: Arith>(a: &A, v: &A::Value, m: &[f64]) -> Result<A::Value> {
    plain_combination(a, &[(v, m)])
}

/// Σ_i u_i ⊙ v_i of ciphertext pairs at one level, one relinearization
/// and one rescale for the whole sum.
pub fn sum_of_products<A: Arith>(a: &A, pairs: &[(&A::Value, &A::Value)]) -> Result<A::Value> {
    let (first, rest) = pairs.split_first().ok_or_else(|| empty("sum_of_products"))?;
    let mut acc = a.mul(first.0, first.1)?;
    for (u, v) in rest {
        a.add_assign(&mut acc, &a.mul(u, v)?)?;
    }
    finish(a, acc)
}

/// Σ_{t < count} rot(v, t·step), `count` a power of two: log2(count)
/// rotations, no level.
pub fn rotate_sum<A: Arith>(a: &A, v: A::Value, step: i64, count: usize) -> Result<A::Value> {
    let mut acc = v;
    let mut shift = step;
    for _ in 0..count.trailing_zeros() {
        let rotated = a.rotate(&acc, shift)?;
        a.add_assign(&mut acc, &rotated)?;
        shift *= 2;
    }
    Ok(acc)
}

/// The steps [`rotate_sum`] rotates by.
#[must_use]
pub fn rotate_sum_steps(step: i64, count: usize) -> Vec<i64> {
    (0..count.trailing_zeros()).map(|i| step << i).collect()
}

/// The sum of many values at one level and scale.
pub fn sum<A: Arith>(a: &A, values: &[A::Value]) -> Result<A::Value> {
    let (first, rest) = values.split_first().ok_or_else(|| empty("sum"))?;
    let mut acc = a.drop_to_level(first, a.level(first))?;
    for v in rest {
        a.add_assign(&mut acc, v)?;
    }
    Ok(acc)
}

fn empty(op: &'static str) -> crate::nn::NnError {
    crate::ckks::CkksError::InvalidInput { op, reason: "no operands".into() }.into()
}
