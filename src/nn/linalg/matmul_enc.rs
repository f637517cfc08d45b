//! Encrypted × encrypted matrix products in row blocks ([`RowBlocks`]),
//! each operand one ciphertext (rows ≤ slots/block, columns ≤ block):
//!
//! - [`MatMulABt`]: A·Bᵀ (A n × d, B m × d → n × m), attention scores
//!   Q·Kᵀ: S[i][j] = ⟨a_i, b_j⟩ contracts *inside* the blocks;
//! - [`MatMulAtB`]: Aᵀ·B (A n × k, B n × d → k × d), the gradient Eᵀ·X of
//!   a head's weights (one row per class): contracts *across* the blocks.
//!
//! Both broadcast one row (or column) of one operand per output row (or
//! column), multiply with the other operand, reduce with rotate-and-sum
//! and mask the result into place. **Depth 3**: broadcast mask, product,
//! placement mask, each rescaled exactly (masks are encoded with scale
//! q_level), so the output scale is A's scale × B's scale / q. Every step
//! is one batched submission over all terms and all pairs of a batch.
//!
//! A·Bᵀ (b = block, s = slots/b, d' = d padded to a power of two), for each j < m:
//! 1. B_j = Σ_{i<n} M_i ⊙ rot(B, ((j − i) mod s)·b), M_i the mask of block
//!    i: row j of B in every block i < n. The block rotations of B are one
//!    hoisted batch shared by all j (instead of log2 s rotations per j);
//! 2. P_j = A ⊙ B_j, rotate-and-sum over d' slots: S[i][j] at slot i·b;
//! 3. mask slot i·b of each block, rotate right by j; sum over j.
//!
//! Rotations: (distinct (j − i) mod s) − 1 hoisted + m·log2 d' + (m − 1);
//! n·m + m plaintext and m ciphertext multiplications. 16 × 64 · 64 × 16
//! (a MiniLM attention head, 16 tokens): 15 + 96 + 15 = 126 rotations.
//!
//! Aᵀ·B, for each column c < k of A:
//! 1. rot(A, c) (one hoisted batch), mask slot i·b of each block: A[i][c];
//!    rotate-and-sum right over d' slots: A[i][c] fills block i;
//! 2. P_c = B ⊙ that, rotate-and-sum over the s blocks: Σ_i A[i][c]·b_i
//!    in every block;
//! 3. mask block c; sum over c.
//!
//! Rotations: (k − 1) hoisted + k·(log2 d' + log2 s); 2k plaintext and k
//! ciphertext multiplications.
//!
//! Why masks rather than the diagonal form (rot(B, δ·b) ⊙ A gives
//! ⟨a_i, b_{i+δ}⟩ in block i with one level and s − 1 rotations + s·log2 d'):
//! that leaves row i of S skewed by i, and undoing a per-row skew is a
//! linear transform with n diagonals (another level and ~2√n rotations on
//! top of m − 1 shifts). Broadcasting returns S in the row-block packing
//! that softmax over rows, S·V and the weight update take directly.

use std::collections::BTreeSet;

use super::reduce::{rotate_and_sum_many, rotate_and_sum_steps, sum_each};
use super::{MatMulCounts, RowBlocks, encode_exact};
use crate::ckks::{Ciphertext, CkksError, Context, EvaluationKeys, Plaintext, Result};

/// Levels both products consume.
const DEPTH: usize = 3;

/// A·Bᵀ for encrypted A (n × d) and B (m × d), each one ciphertext in row
/// blocks of the same width and slots, with m ≤ block (consumes 3 levels).
pub struct MatMulABt {
    a: RowBlocks,
    b: RowBlocks,
    level: usize,
    /// Non-zero block shifts δ of B (rotations by δ·block), ascending.
    shifts: Vec<usize>,
    /// Mask of block i, for i < n, at the input level.
    block_masks: Vec<Plaintext>,
    /// Mask of the first slot of blocks 0..n, two levels down.
    first_slots: Plaintext,
}

impl MatMulABt {
    /// Prepares the masks for A and B packed as `a` and `b` at `level` ≥ 3.
    pub fn new(ctx: &Context, a: RowBlocks, b: RowBlocks, level: usize) -> Result<Self> {
        check_operands("matmul_abt", ctx, &a, &b, level)?;
        if a.cols() != b.cols() || b.rows() > a.block() {
            return Err(CkksError::InvalidInput {
                op: "matmul_abt",
                reason: format!(
                    "A is {}×{} and B {}×{}: the inner dimensions must agree and B's {} rows fit a block of {}",
                    a.rows(),
                    a.cols(),
                    b.rows(),
                    b.cols(),
                    b.rows(),
                    a.block()
                ),
            });
        }
        let (s, block, slots) = (a.rows_per_ciphertext(), a.block(), a.slots());
        let shifts: BTreeSet<usize> =
            (0..a.rows()).flat_map(|i| (0..b.rows()).map(move |j| (j + s - i) % s)).filter(|&d| d != 0).collect();
        let block_masks =
            (0..a.rows()).map(|i| mask(ctx, slots, level, |x| x / block == i)).collect::<Result<Vec<_>>>()?;
        let first_slots = mask(ctx, slots, level - 2, |x| x % block == 0 && x / block < a.rows())?;
        Ok(Self { a, b, level, shifts: shifts.into_iter().collect(), block_masks, first_slots })
    }

    /// Packing of the product (n × m, same block and slots).
    pub fn output_layout(&self) -> Result<RowBlocks> {
        self.a.reshaped(self.a.rows(), self.b.rows())
    }

    /// Levels consumed: broadcast mask, product, placement mask.
    #[must_use]
    pub fn depth(&self) -> usize {
        DEPTH
    }

    fn shift_steps(&self) -> Vec<i64> {
        self.shifts.iter().map(|&d| (d * self.a.block()) as i64).collect()
    }

    fn inner_pad(&self) -> usize {
        self.a.cols().next_power_of_two()
    }

    /// Rotation steps the evaluation keys must cover.
    #[must_use]
    pub fn rotations(&self) -> Vec<i64> {
        let mut steps = self.shift_steps();
        steps.extend(rotate_and_sum_steps(1, self.inner_pad()));
        steps.extend((1..self.b.rows() as i64).map(|j| -j));
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// Operations per pair.
    #[must_use]
    pub fn counts(&self) -> MatMulCounts {
        let (n, m) = (self.a.rows(), self.b.rows());
        let rotations = self.shifts.len() + m * self.inner_pad().trailing_zeros() as usize + (m - 1);
        MatMulCounts {
            plaintext_mults: n * m + m,
            ciphertext_mults: m,
            rotations,
            hoisted_rotations: self.shifts.len(),
            key_switches: rotations + m,
        }
    }

    /// A·Bᵀ for one pair at the plan's level; the result is 3 levels lower.
    pub fn apply(&self, ctx: &Context, a: &Ciphertext, b: &Ciphertext, keys: &EvaluationKeys) -> Result<Ciphertext> {
        Ok(self.apply_many(ctx, &[(a, b)], keys)?.remove(0))
    }

    /// [`Self::apply`] to many pairs, every step batched over all of them.
    pub fn apply_many(
        &self,
        ctx: &Context,
        pairs: &[(&Ciphertext, &Ciphertext)],
        keys: &EvaluationKeys,
    ) -> Result<Vec<Ciphertext>> {
        check_pairs("matmul_abt", pairs, self.level, self.a.slots())?;
        let (n, m, s, count) = (self.a.rows(), self.b.rows(), self.a.rows_per_ciphertext(), pairs.len());
        let bs: Vec<&Ciphertext> = pairs.iter().map(|p| p.1).collect();
        let steps = self.shift_steps();
        let shifted = if steps.is_empty() { Vec::new() } else { ctx.rotate_hoisted_many(&bs, &steps, keys)? };
        let rows_of_b = |p: usize, delta: usize| match self.shifts.binary_search(&delta) {
            Ok(k) => &shifted[p][k],
            Err(_) => bs[p],
        };
        // 1. Row j of B broadcast to blocks 0..n (order: j-major, pair-minor).
        let mut broadcasts = Vec::with_capacity(m * count);
        for j in 0..m {
            let terms: Vec<(&Ciphertext, &Plaintext)> = (0..count)
                .flat_map(|p| (0..n).map(move |i| (p, i)))
                .map(|(p, i)| (rows_of_b(p, (j + s - i) % s), &self.block_masks[i]))
                .collect();
            broadcasts.extend(ctx.mul_plain_sum_many(&terms.chunks(n).collect::<Vec<_>>())?);
        }
        let broadcasts = ctx.rescale_owned(broadcasts)?;
        // 2. Products with A, summed over each row: S[i][j] at slot i·block.
        let products = multiply(ctx, pairs.iter().map(|p| p.0), &broadcasts, keys)?;
        let reduced = rotate_and_sum_many(ctx, &products.iter().collect::<Vec<_>>(), 1, self.inner_pad(), keys)?;
        // 3. Keep slot i·block, move it to column j.
        let masked = mask_many(ctx, &reduced.iter().map(|r| (r, &self.first_slots)).collect::<Vec<_>>())?;
        let mut masked = masked.into_iter();
        let mut per_pair: Vec<Vec<Ciphertext>> = (0..count).map(|_| Vec::with_capacity(m)).collect();
        for j in 0..m {
            let column: Vec<Ciphertext> = masked.by_ref().take(count).collect();
            let placed =
                if j == 0 { column } else { ctx.rotate_many(&column.iter().collect::<Vec<_>>(), -(j as i64), keys)? };
            for (p, ct) in placed.into_iter().enumerate() {
                per_pair[p].push(ct);
            }
        }
        sum_each(ctx, per_pair)
    }
}

/// Aᵀ·B for encrypted A (n × k) and B (n × d), each one ciphertext in row
/// blocks of the same width and slots, with k ≤ slots/block (consumes 3 levels).
pub struct MatMulAtB {
    a: RowBlocks,
    b: RowBlocks,
    level: usize,
    /// Mask of the first slot of blocks 0..n, at the input level.
    first_slots: Plaintext,
    /// Mask of block c, for c < k, two levels down.
    row_masks: Vec<Plaintext>,
}

impl MatMulAtB {
    /// Prepares the masks for A and B packed as `a` and `b` at `level` ≥ 3.
    pub fn new(ctx: &Context, a: RowBlocks, b: RowBlocks, level: usize) -> Result<Self> {
        check_operands("matmul_atb", ctx, &a, &b, level)?;
        if a.rows() != b.rows() || a.cols() > a.rows_per_ciphertext() {
            return Err(CkksError::InvalidInput {
                op: "matmul_atb",
                reason: format!(
                    "A is {}×{} and B {}×{}: the row counts must agree and Aᵀ's {} rows fit {} blocks",
                    a.rows(),
                    a.cols(),
                    b.rows(),
                    b.cols(),
                    a.cols(),
                    a.rows_per_ciphertext()
                ),
            });
        }
        let (block, slots) = (a.block(), a.slots());
        let first_slots = mask(ctx, slots, level, |x| x % block == 0 && x / block < a.rows())?;
        let row_masks =
            (0..a.cols()).map(|c| mask(ctx, slots, level - 2, |x| x / block == c)).collect::<Result<Vec<_>>>()?;
        Ok(Self { a, b, level, first_slots, row_masks })
    }

    /// Packing of the product (k × d, same block and slots).
    pub fn output_layout(&self) -> Result<RowBlocks> {
        self.a.reshaped(self.a.cols(), self.b.cols())
    }

    /// Levels consumed: broadcast mask, product, placement mask.
    #[must_use]
    pub fn depth(&self) -> usize {
        DEPTH
    }

    fn inner_pad(&self) -> usize {
        self.b.cols().next_power_of_two()
    }

    /// Rotation steps the evaluation keys must cover.
    #[must_use]
    pub fn rotations(&self) -> Vec<i64> {
        let mut steps: Vec<i64> = (1..self.a.cols() as i64).collect();
        steps.extend(rotate_and_sum_steps(-1, self.inner_pad()));
        steps.extend(rotate_and_sum_steps(self.a.block() as i64, self.a.rows_per_ciphertext()));
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// Operations per pair.
    #[must_use]
    pub fn counts(&self) -> MatMulCounts {
        let k = self.a.cols();
        let reduce = (self.inner_pad() * self.a.rows_per_ciphertext()).trailing_zeros() as usize;
        let rotations = (k - 1) + k * reduce;
        MatMulCounts {
            plaintext_mults: 2 * k,
            ciphertext_mults: k,
            rotations,
            hoisted_rotations: k - 1,
            key_switches: rotations + k,
        }
    }

    /// Aᵀ·B for one pair at the plan's level; the result is 3 levels lower.
    pub fn apply(&self, ctx: &Context, a: &Ciphertext, b: &Ciphertext, keys: &EvaluationKeys) -> Result<Ciphertext> {
        Ok(self.apply_many(ctx, &[(a, b)], keys)?.remove(0))
    }

    /// [`Self::apply`] to many pairs, every step batched over all of them.
    pub fn apply_many(
        &self,
        ctx: &Context,
        pairs: &[(&Ciphertext, &Ciphertext)],
        keys: &EvaluationKeys,
    ) -> Result<Vec<Ciphertext>> {
        check_pairs("matmul_atb", pairs, self.level, self.a.slots())?;
        let (k, count) = (self.a.cols(), pairs.len());
        let a_cts: Vec<&Ciphertext> = pairs.iter().map(|p| p.0).collect();
        let steps: Vec<i64> = (1..k as i64).collect();
        let shifted = if steps.is_empty() { Vec::new() } else { ctx.rotate_hoisted_many(&a_cts, &steps, keys)? };
        let column = |p: usize, c: usize| if c == 0 { a_cts[p] } else { &shifted[p][c - 1] };
        // 1. Column c of A broadcast within each block (order: c-major, pair-minor).
        let firsts: Vec<(&Ciphertext, &Plaintext)> = (0..k)
            .flat_map(|c| (0..count).map(move |p| (c, p)))
            .map(|(c, p)| (column(p, c), &self.first_slots))
            .collect();
        let firsts = mask_many(ctx, &firsts)?;
        let broadcasts = rotate_and_sum_many(ctx, &firsts.iter().collect::<Vec<_>>(), -1, self.inner_pad(), keys)?;
        // 2. Products with B, summed over the blocks: row c of Aᵀ·B in every block.
        let products = multiply(ctx, pairs.iter().map(|p| p.1), &broadcasts, keys)?;
        let totals = rotate_and_sum_many(
            ctx,
            &products.iter().collect::<Vec<_>>(),
            self.a.block() as i64,
            self.a.rows_per_ciphertext(),
            keys,
        )?;
        // 3. Keep block c.
        let rows: Vec<(&Ciphertext, &Plaintext)> =
            totals.iter().enumerate().map(|(idx, t)| (t, &self.row_masks[idx / count])).collect();
        let mut rows = mask_many(ctx, &rows)?.into_iter();
        let mut per_pair: Vec<Vec<Ciphertext>> = (0..count).map(|_| Vec::with_capacity(k)).collect();
        for _ in 0..k {
            for (p, ct) in rows.by_ref().take(count).enumerate() {
                per_pair[p].push(ct);
            }
        }
        sum_each(ctx, per_pair)
    }
}

/// Checks shared by both products: same block and slots, one ciphertext
/// per operand, slots available, level in [`DEPTH`]..=max.
fn check_operands(op: &'static str, ctx: &Context, a: &RowBlocks, b: &RowBlocks, level: usize) -> Result<()> {
    let invalid = |reason: String| CkksError::InvalidInput { op, reason };
    if a.block() != b.block() || a.slots() != b.slots() {
        return Err(invalid(format!(
            "operands packed in blocks of {} / {} slots and {} / {} slots; they must agree",
            a.block(),
            a.slots(),
            b.block(),
            b.slots()
        )));
    }
    if a.ciphertexts() != 1 || b.ciphertexts() != 1 {
        return Err(invalid(format!(
            "A ({}×{}) and B ({}×{}) must each fit one ciphertext ({} rows of {} columns)",
            a.rows(),
            a.cols(),
            b.rows(),
            b.cols(),
            a.rows_per_ciphertext(),
            a.block()
        )));
    }
    if a.slots() > ctx.params().max_slots() {
        return Err(invalid(format!("{} slots; {} has {}", a.slots(), ctx.params().name(), ctx.params().max_slots())));
    }
    if !(DEPTH..=ctx.params().max_level()).contains(&level) {
        return Err(invalid(format!("level {level} must be in {DEPTH}..={}", ctx.params().max_level())));
    }
    Ok(())
}

/// Every input at `level` with `slots` slots.
fn check_pairs(op: &'static str, pairs: &[(&Ciphertext, &Ciphertext)], level: usize, slots: usize) -> Result<()> {
    if pairs.is_empty() {
        return Err(CkksError::InvalidInput { op, reason: "no operands".into() });
    }
    match pairs.iter().flat_map(|(a, b)| [*a, *b]).find(|ct| ct.level() != level || ct.slots() != slots) {
        Some(ct) => Err(CkksError::InvalidInput {
            op,
            reason: format!(
                "operand at level {} with {} slots; the plan expects level {level} and {slots} slots",
                ct.level(),
                ct.slots()
            ),
        }),
        None => Ok(()),
    }
}

/// A 0/1 mask over `slots` slots at `level` (exact scale, see [`encode_exact`]).
fn mask(ctx: &Context, slots: usize, level: usize, keep: impl Fn(usize) -> bool) -> Result<Plaintext> {
    let values: Vec<f64> = (0..slots).map(|x| if keep(x) { 1.0 } else { 0.0 }).collect();
    encode_exact(ctx, &values, level)
}

/// ct ⊙ mask for every pair, rescaled: one level down at the ciphertext's scale.
fn mask_many(ctx: &Context, pairs: &[(&Ciphertext, &Plaintext)]) -> Result<Vec<Ciphertext>> {
    ctx.rescale_owned(ctx.mul_plain_many(pairs)?)
}

/// `terms[idx] ⊙ fixed[idx mod fixed count]` (terms in term-major,
/// pair-minor order), with each fixed operand first dropped to the terms'
/// level; relinearized and rescaled.
fn multiply<'a>(
    ctx: &Context,
    fixed: impl Iterator<Item = &'a Ciphertext>,
    terms: &[Ciphertext],
    keys: &EvaluationKeys,
) -> Result<Vec<Ciphertext>> {
    let level = terms.first().map_or(0, Ciphertext::level);
    let fixed = fixed.map(|ct| ctx.drop_to_level(ct, level)).collect::<Result<Vec<_>>>()?;
    let pairs: Vec<(&Ciphertext, &Ciphertext)> =
        terms.iter().enumerate().map(|(idx, t)| (&fixed[idx % fixed.len()], t)).collect();
    ctx.mul_relin_rescale_many(&pairs, keys)
}
