//! Reductions: rotate-and-sum, and sums of groups of ciphertexts, each
//! round batched over every ciphertext involved.

use crate::ckks::{Ciphertext, CkksError, Context, EvaluationKeys, Result};

/// Rotation steps [`rotate_and_sum`] needs: `step · 2^i` for 2^i < `count`.
pub fn rotate_and_sum_steps(step: i64, count: usize) -> Vec<i64> {
    (0..count.trailing_zeros()).map(|i| step << i).collect()
}

/// Σ_{t < count} rot(ct, t · step): with `count` a power of two, log2(count)
/// rotations and additions (no level consumed). Slot j then holds the sum of
/// slots j, j + step, ..., j + (count − 1)·step (cyclically); a negative
/// step sums towards lower slots.
pub fn rotate_and_sum(
    ctx: &Context,
    ct: &Ciphertext,
    step: i64,
    count: usize,
    keys: &EvaluationKeys,
) -> Result<Ciphertext> {
    Ok(rotate_and_sum_many(ctx, &[ct], step, count, keys)?.remove(0))
}

/// [`rotate_and_sum`] of every ciphertext: each of the log2(`count`) rounds
/// is one batched rotation and one batched addition.
pub fn rotate_and_sum_many(
    ctx: &Context,
    cts: &[&Ciphertext],
    step: i64,
    count: usize,
    keys: &EvaluationKeys,
) -> Result<Vec<Ciphertext>> {
    if !count.is_power_of_two() {
        return Err(CkksError::InvalidInput {
            op: "rotate_and_sum",
            reason: format!("count {count} is not a power of two"),
        });
    }
    let mut acc = ctx.copy_many(cts)?;
    for s in rotate_and_sum_steps(step, count) {
        let rotated = ctx.rotate_many(&acc.iter().collect::<Vec<_>>(), s, keys)?;
        ctx.add_assign_many(&mut acc.iter_mut().collect::<Vec<_>>(), &rotated.iter().collect::<Vec<_>>())?;
    }
    Ok(acc)
}

/// The sum of each group (every group non-empty), by a pairwise tree: each
/// round adds the second half of every group onto its first half, in place
/// and in one batched addition, so ⌈log2(largest group)⌉ rounds.
pub(crate) fn sum_each(ctx: &Context, mut groups: Vec<Vec<Ciphertext>>) -> Result<Vec<Ciphertext>> {
    while groups.iter().any(|g| g.len() > 1) {
        {
            let (mut lower, upper): (Vec<&mut Ciphertext>, Vec<&Ciphertext>) = groups
                .iter_mut()
                .flat_map(|g| {
                    let half = g.len().div_ceil(2);
                    let (lower, upper) = g.split_at_mut(half);
                    let upper: &[Ciphertext] = upper;
                    lower.iter_mut().zip(upper)
                })
                .unzip();
            ctx.add_assign_many(&mut lower, &upper)?;
        }
        for g in &mut groups {
            g.truncate(g.len().div_ceil(2));
        }
    }
    groups
        .into_iter()
        .map(|g| {
            g.into_iter()
                .next()
                .ok_or_else(|| CkksError::InvalidInput { op: "sum", reason: "an empty group has no sum".into() })
        })
        .collect()
}

/// [`Context::sum_rotations`] of each group of (ciphertext, step) terms, or
/// `zero(i)` where group i is empty (e.g. an all-zero block of a matrix).
pub(crate) fn sum_rotations_or(
    ctx: &Context,
    groups: &[Vec<(&Ciphertext, i64)>],
    keys: &EvaluationKeys,
    zero: impl Fn(usize) -> Result<Ciphertext>,
) -> Result<Vec<Ciphertext>> {
    let nonempty: Vec<&[(&Ciphertext, i64)]> = groups.iter().filter(|g| !g.is_empty()).map(Vec::as_slice).collect();
    let mut sums = ctx.sum_rotations(&nonempty, keys)?.into_iter();
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| if g.is_empty() { zero(i) } else { Ok(sums.next().expect("one sum per non-empty group")) })
        .collect()
}
