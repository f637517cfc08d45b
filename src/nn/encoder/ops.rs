//! Level- and scale-disciplined building blocks over [`Arith`]: every value
//! the encoder keeps sits on its level's nominal scale, so that sums need
//! only equal levels and products of two values land on the nominal scale
//! of the next level (the parameter sets define Δ_{l−1} = Δ_l² / q_l).

use crate::ckks::SCALE_TOLERANCE;
use crate::nn::Result;
use crate::nn::approx::Arith;
use crate::nn::approx::{AtLevel, finish, no_terms};

/// `v` at `level` (≤ its own) on the nominal scale: `v` itself when it is
/// there already, else dropped to `level + 1` and multiplied by 1 encoded at
/// the scale that makes the rescale land on Δ_level.
pub(crate) fn at_nominal_level<'v, A: Arith>(a: &A, v: &'v A::Value, level: usize) -> Result<AtLevel<'v, A::Value>> {
    let nominal = a.params().scale(level);
    if a.level(v) == level && (a.scale(v) / nominal - 1.0).abs() < SCALE_TOLERANCE {
        return Ok(AtLevel::Same(v));
    }
    if level >= a.level(v) {
        return Err(crate::ckks::CkksError::InvalidInput {
            op: "to_level",
            reason: format!(
                "a value at level {} (scale 2^{:.2}) cannot reach level {level} on the nominal scale",
                a.level(v),
                a.scale(v).log2()
            ),
        }
        .into());
    }
    let high = a.drop_to_level(v, level + 1)?;
    let factor = nominal * a.params().level_modulus(level + 1) / a.scale(&high);
    finish(a, a.mul_const_scaled(&high, 1.0, factor)?).map(AtLevel::Owned)
}

/// `at_nominal_level` as a new value (a copy when `v` is there already).
pub fn to_level<A: Arith>(a: &A, v: &A::Value, level: usize) -> Result<A::Value> {
    match at_nominal_level(a, v, level)? {
        AtLevel::Same(v) => a.drop_to_level(v, level),
        AtLevel::Owned(v) => Ok(v),
    }
}

/// Σ_i v_i ⊙ m_i (all v_i at one level and scale), one rescale: one level
/// down, nominal scale. Masks that select disjoint slots make this a merge.
pub fn plain_combination<A: Arith>(a: &A, terms: &[(&A::Value, &[f64])]) -> Result<A::Value> {
    plain_combinations(a, &[terms])?.pop().ok_or_else(|| no_terms("plain_combination"))
}

/// [`plain_combination`] of each group (all values at one level and
/// scale), the plaintexts of all groups encoded in one batch.
pub fn plain_combinations<A: Arith>(a: &A, groups: &[&[(&A::Value, &[f64])]]) -> Result<Vec<A::Value>> {
    let (first, _) = groups.iter().find_map(|g| g.first()).ok_or_else(|| no_terms("plain_combination"))?;
    let level = a.level(first);
    if level == 0 {
        return Err(crate::ckks::CkksError::LevelExhausted { op: "plain_combination", level, needed: 1 }.into());
    }
    let pt_scale = a.params().scale(level - 1) * a.params().level_modulus(level) / a.scale(first);
    a.rescale_owned(a.mul_plain_sums(groups, pt_scale)?)
}

/// v ⊙ m, one level down on the nominal scale.
pub fn plain_product<A: Arith>(a: &A, v: &A::Value, m: &[f64]) -> Result<A::Value> {
    plain_combination(a, &[(v, m)])
}

/// Σ_i u_i ⊙ v_i of ciphertext pairs at one level, one relinearization
/// and one rescale for the whole sum.
pub fn sum_of_products<A: Arith>(a: &A, pairs: &[(&A::Value, &A::Value)]) -> Result<A::Value> {
    sums_of_products(a, &[pairs])?.pop().ok_or_else(|| no_terms("sum_of_products"))
}

/// [`sum_of_products`] of each group, the products of all groups summed in
/// one fused pass ([`Arith::mul_sums`]); lone products are tensor products,
/// which take one pass over their operands.
pub fn sums_of_products<A: Arith>(a: &A, groups: &[&[(&A::Value, &A::Value)]]) -> Result<Vec<A::Value>> {
    let sums = if groups.iter().all(|g| g.len() == 1) {
        groups.iter().map(|g| a.mul(g[0].0, g[0].1)).collect::<Result<Vec<_>>>()?
    } else {
        a.mul_sums(groups)?
    };
    sums.into_iter().map(|s| finish(a, s)).collect()
}

/// Σ_{t < count} rot(v, t·step), `count` a power of two: log2(count)
/// rotations, no level.
pub fn rotate_sum<A: Arith>(a: &A, v: A::Value, step: i64, count: usize) -> Result<A::Value> {
    Ok(rotate_sum_many(a, vec![v], step, count)?.remove(0))
}

/// [`rotate_sum`] of every value, each round one batched rotation of all.
pub fn rotate_sum_many<A: Arith>(a: &A, values: Vec<A::Value>, step: i64, count: usize) -> Result<Vec<A::Value>> {
    let mut acc = values;
    for shift in rotate_sum_steps(step, count) {
        let rotated = a.rotate_many(&acc.iter().collect::<Vec<_>>(), shift)?;
        for (v, r) in acc.iter_mut().zip(&rotated) {
            a.add_assign(v, r)?;
        }
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
    let (first, rest) = values.split_first().ok_or_else(|| no_terms("sum"))?;
    let mut acc = a.drop_to_level(first, a.level(first))?;
    for v in rest {
        a.add_assign(&mut acc, v)?;
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ckks::preset;
    use crate::nn::approx::PlainArith;

    #[test]
    fn values_move_down_on_the_nominal_scale_and_products_stay_nominal() {
        let params = Arc::new(preset("toy-deep").unwrap());
        let a = PlainArith::new(params.clone());
        let v = a.encode(&[1.5, -2.0], 10).unwrap();
        let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-8);
        // The factor 1 is encoded as an integer at ≈ 2^30: the mirror rounds it as CKKS does.
        let low = to_level(&a, &v, 7).unwrap();
        assert!(low.level() == 7 && close(low.values(), v.values()), "{low:?}");
        assert!((low.scale() / params.scale(7) - 1.0).abs() < 1e-12);
        let p = sum_of_products(&a, &[(&low, &low)]).unwrap();
        assert!(close(p.values(), &[2.25, 4.0]), "{p:?}");
        assert!((p.scale() / params.scale(6) - 1.0).abs() < 1e-9);
        let m = plain_product(&a, &low, &[2.0, 0.5]).unwrap();
        assert!(m.level() == 6 && close(m.values(), &[3.0, -1.0]), "{m:?}");
        assert!(to_level(&a, &low, 8).is_err(), "levels cannot be raised");
        assert_eq!(rotate_sum(&a, a.encode(&[1.0, 2.0, 3.0, 4.0], 3).unwrap(), 1, 4).unwrap().values(), [10.0; 4]);
        let many = [[1.0, 0.0, 2.0, 0.0], [0.5, 1.5, -1.0, 3.0]].map(|v| a.encode(&v, 3).unwrap());
        let sums = rotate_sum_many(&a, many.to_vec(), 2, 2).unwrap();
        assert_eq!(sums[0].values(), [3.0, 0.0, 3.0, 0.0]);
        assert_eq!(sums[1].values(), [-0.5, 4.5, -0.5, 4.5]);
    }
}
