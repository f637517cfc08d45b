//! Slot-packing steps shared by the heads, written against [`Arith`]:
//! rotate-and-sum over a block or over samples, the rotation keys it needs,
//! the logits every head starts its step with and the gradient-descent
//! update it ends with.
//!
//! Products are summed before they are rescaled: the rotations' key
//! switching adds noise far below the product's scale (≈ Δ²), so the sum of
//! n terms carries one rescale rounding (≈ N/Δ) instead of n of them. For
//! the gradient, a sum over hundreds of samples of values ≈ lr/count, that
//! is what keeps CKKS noise well below the update itself.

use super::batch::Batch;
use crate::nn::Result;
use crate::nn::approx::Arith;
use crate::nn::linalg::rotate_and_sum_steps;

/// Runs `f` with its work charged to `layer` in the profile (see
/// [`Arith::enter_layer`]), then returns to the enclosing layer.
pub(super) fn in_layer<A: Arith, T>(a: &A, layer: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let outer = a.enter_layer(layer);
    let out = f();
    a.enter_layer(outer);
    out
}

/// Σ_{t < count} rot(v, t·step) with log2(count) rotations and no level
/// (`count` a power of two): slot j then holds v_j + v_(j+step) + ... +
/// v_(j+(count−1)·step), cyclically. A negative step sums to the right,
/// which replicates a value masked to one slot over the `count` slots after it.
pub(super) fn rotate_and_sum<A: Arith>(a: &A, v: A::Value, step: i64, count: usize) -> Result<A::Value> {
    let mut acc = v;
    for k in 0..count.trailing_zeros() {
        let rotated = a.rotate(&acc, step << k)?;
        acc = a.add(&acc, &rotated)?;
    }
    Ok(acc)
}

/// Rotation steps [`rotate_and_sum`] uses for `step` and `count` (negated
/// when `right`).
pub(super) fn sum_steps(step: usize, count: usize, right: bool) -> impl Iterator<Item = i64> {
    // Steps are slot counts, far below i64::MAX.
    let step = step as i64;
    rotate_and_sum_steps(if right { -step } else { step }, count).into_iter()
}

/// The first two steps of every head: z = X ⊙ w summed over the `count`
/// feature slots `stride` apart (the logit lands on each block's first
/// feature slot), multiplied by `mask` (zero elsewhere; its values scale the
/// logits for the polynomial that follows) and replicated back over the
/// feature slots by a right rotate-and-sum. Two levels below `w`.
pub(super) fn masked_logits<A: Arith>(
    a: &A,
    w: &A::Value,
    x: &A::Value,
    mask: &[f64],
    stride: usize,
    count: usize,
) -> Result<A::Value> {
    let x = a.drop_to_level(x, a.level(w))?;
    let z = a.relinearize(a.mul(&x, w)?)?;
    let u = a.rescale(&rotate_and_sum(a, z, stride as i64, count)?)?;
    let masked = a.rescale(&a.mul_plain(&u, mask)?)?;
    rotate_and_sum(a, masked, -(stride as i64), count)
}

/// The update a step ends with, given the predictions `p` (laid out like the
/// labels): w − g with g = Σ_b (p − y)_b ⊙ X'_b, the sum over the `count`
/// sample blocks of `stride` slots, which leaves g laid out like w. One
/// level below `p`; y and w are brought to their partner's level and exact
/// scale with a constant folded into a rescale they had to make anyway.
pub(super) fn descend<A: Arith>(
    a: &A,
    w: &A::Value,
    p: &A::Value,
    batch: &Batch<A::Value>,
    stride: usize,
    count: usize,
) -> Result<A::Value> {
    let y = match_scale(a, &batch.y, a.level(p), a.scale(p))?;
    let e = a.sub(p, &y)?;
    let x_grad = a.drop_to_level(&batch.x_grad, a.level(&e))?;
    let terms = a.relinearize(a.mul(&e, &x_grad)?)?;
    let g = a.rescale(&rotate_and_sum(a, terms, stride as i64, count)?)?;
    let w_low = match_scale(a, w, a.level(&g), a.scale(&g))?;
    a.sub(&w_low, &g)
}

/// `v` at `level` with scale exactly `scale` (`v` one level above `level` at
/// least): a constant 1 encoded so that the rescale lands on `scale`.
fn match_scale<A: Arith>(a: &A, v: &A::Value, level: usize, scale: f64) -> Result<A::Value> {
    let above = a.drop_to_level(v, level + 1)?;
    let ratio = scale * a.params().level_modulus(level + 1) / a.scale(&above);
    let lifted = a.mul_const_scaled(&above, 1.0, ratio)?;
    a.rescale(&lifted)
}
