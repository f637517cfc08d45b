//! Rotate-and-sum reductions.

use crate::ckks::{Ciphertext, CkksError, Context, EvaluationKeys, Result};

/// Rotation steps [`rotate_and_sum`] needs: `step · 2^i` for 2^i < `count`.
pub fn rotate_and_sum_steps(step: usize, count: usize) -> Vec<i64> {
    (0..count.trailing_zeros()).map(|i| (step << i) as i64).collect()
}

/// Σ_{t < count} rot(ct, t · step): with `count` a power of two, log2(count)
/// rotations and additions (no level consumed). Slot j then holds the sum of
/// slots j, j + step, ..., j + (count − 1)·step (cyclically).
pub fn rotate_and_sum(
    ctx: &Context,
    ct: &Ciphertext,
    step: usize,
    count: usize,
    keys: &EvaluationKeys,
) -> Result<Ciphertext> {
    if !count.is_power_of_two() {
        return Err(CkksError::InvalidInput {
            op: "rotate_and_sum",
            reason: format!("count {count} is not a power of two"),
        });
    }
    let mut acc = ctx.copy_ciphertext(ct)?;
    for s in rotate_and_sum_steps(step, count) {
        let rotated = ctx.rotate(&acc, s, keys)?;
        ctx.add_assign(&mut acc, &rotated)?;
    }
    Ok(acc)
}
