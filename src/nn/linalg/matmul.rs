//! Encrypted matrix × plaintext matrix: X (n × d, encrypted, packed in
//! [`RowBlocks`]) · W (d × k, plaintext) → n × k, packed the same way.
//!
//! **Method.** In one ciphertext (row group g, column chunk t) the map
//! x_i ↦ x_i·W_tu (W_tu the b × b sub-matrix for input chunk t and output
//! chunk u) is one block-diagonal L × L matrix, L = slots. Its generalized
//! diagonals d_o[j] = W_tu[(j mod b) + o][j mod b] (zero where the input
//! column leaves the block) are non-zero only for offsets
//! −b < o < b, so y_u = Σ_t Σ_o d_o ⊙ rot(x_t, o) stays inside every block:
//! 2b − 1 diagonals for all L/b rows of the ciphertext at once. Baby-step
//! giant-step with signed giant steps, o = g·b₁ + β (0 ≤ β < b₁):
//! `y_u = Σ_g rot(Σ_t Σ_β rot(d_o, −g·b₁) ⊙ rot(x_t, β), g·b₁)`. The baby
//! rotations of every input ciphertext form one hoisted batch, the inner
//! sums of all input chunks share each output's giant rotations, and b₁
//! is the value with the fewest rotations for this W's non-zero diagonals
//! (all-zero diagonals are skipped: d = 384 in blocks of 512 leaves 767 of
//! 1023). Diagonals are encoded at plan time with scale q_level, so the
//! one rescale restores x's scale exactly: **depth 1**.
//!
//! **Cost per row group** (T = ⌈d/b⌉ input, U = ⌈k/b⌉ output chunks):
//! T·(b₁ − 1) hoisted + U·(giants − 1) rotations and up to T·U·(2b − 1)
//! plaintext multiplications ([`MatMulPlain::counts`]).
//!
//! **Why this packing.** Alternatives at MiniLM shapes (n ≤ 128 tokens,
//! d = 384, k = 384 or 1536, L = 8192 slots at N = 2^14):
//! - one row per ciphertext with [`super::MatVec`] on Wᵀ: n ciphertexts
//!   with 512 of 8192 slots used; 384 × 384 costs 46 rotations and 512
//!   multiplications *per row*, 16 rows 736 rotations;
//! - column-major, one column of X per ciphertext (y_c = Σ_r W[r][c]·x_r):
//!   no rotation but d·k = 147 456 constant multiplications, and the slots
//!   fill only when thousands of tokens are batched;
//! - row blocks (this module): 16 × 384 · 384 × 384 is one ciphertext,
//!   54 rotations and 767 multiplications in all, 13× fewer rotations
//!   than one row per ciphertext.
//!
//! Multiplications scale as 2·n·d·k / L once the ciphertexts are full,
//! whatever b; rotations as n·(d + k)·√(2b) / L, so the narrowest block that
//! still fills a ciphertext with rows wins ([`RowBlocks::densest`]):
//! b = 512 for 16 tokens; b = 64 for 128 tokens (6 chunks of 384, no
//! padding): 126 rotations and 4572 multiplications for all 128 tokens,
//! against 180 and 4590 with b = 128 (two row groups).
//!
//! **Memory.** One plaintext per non-zero diagonal, ≈ 2·d·k/b of them,
//! each N words per limb: 767 × 0.59 MB ≈ 450 MB for 384 × 384 in blocks
//! of 512 at N = 2^14 (level 7); 4572 (2.7 GB) in blocks of 64.
//! A wider block than [`RowBlocks::densest`]'s trades rotations for memory.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use ndarray::ArrayView2;

use super::reduce::sum_each;
use super::{RowBlocks, encode_exact, zero_like};
use crate::ckks::{Ciphertext, CkksError, Context, EvaluationKeys, Plaintext, Result};

/// Operation counts of one matrix product (per row group for
/// [`MatMulPlain`], per pair for the encrypted × encrypted products).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MatMulCounts {
    /// Plaintext multiplications (diagonals or masks).
    pub plaintext_mults: usize,
    /// Ciphertext × ciphertext multiplications (each relinearized).
    pub ciphertext_mults: usize,
    /// All rotations, hoisted ones counted one each.
    pub rotations: usize,
    /// Of those, rotations sharing one decomposition per source ciphertext.
    pub hoisted_rotations: usize,
    /// Key switches: rotations plus relinearizations.
    pub key_switches: usize,
}

/// One term of an inner sum: rot(x_t, β) ⊙ rot(d_o, −g·b₁).
struct Term {
    chunk_in: usize,
    baby: usize,
    diagonal: Plaintext,
}

/// The inner sum of one output chunk and giant step.
struct Bucket {
    chunk_out: usize,
    giant: i64,
    terms: Vec<Term>,
}

/// A plaintext matrix W (d × k) prepared for products X·W with encrypted X
/// at one level, packed in row blocks of a given width and slot count
/// (consumes 1 level).
pub struct MatMulPlain {
    rows: usize,
    cols: usize,
    block: usize,
    slots: usize,
    level: usize,
    /// Non-zero baby steps in use, ascending.
    babies: Vec<i64>,
    /// Non-zero giant steps in use, ascending.
    giants: Vec<i64>,
    buckets: Vec<Bucket>,
    diagonals: usize,
}

impl MatMulPlain {
    /// Prepares `w` (d × k) for inputs packed in blocks of `block` columns
    /// of `slots` slots ([`RowBlocks`]), at `level` ≥ 1.
    pub fn new(ctx: &Context, w: ArrayView2<f64>, block: usize, slots: usize, level: usize) -> Result<Self> {
        let (rows, cols) = w.dim();
        let invalid = |reason: String| CkksError::InvalidInput { op: "matmul_plain", reason };
        RowBlocks::new(rows, cols, block, slots)?;
        if slots > ctx.params().max_slots() {
            return Err(invalid(format!("{slots} slots; {} has {}", ctx.params().name(), ctx.params().max_slots())));
        }
        if level == 0 || level > ctx.params().max_level() {
            return Err(invalid(format!("level {level} must be in 1..={}", ctx.params().max_level())));
        }
        if let Some(bad) = w.iter().find(|v| !v.is_finite()) {
            return Err(invalid(format!("matrix entry {bad} is not finite")));
        }
        // Non-zero diagonals (input chunk, output chunk, offset).
        let offsets: BTreeSet<(usize, usize, i64)> = w
            .indexed_iter()
            .filter(|(_, v)| **v != 0.0)
            .map(|((r, c), _)| (r / block, c / block, (r % block) as i64 - (c % block) as i64))
            .collect();
        let baby = (1..=2 * block)
            .min_by_key(|&b| (bsgs_rotations(&offsets, b, rows.div_ceil(block)), Reverse(b)))
            .unwrap_or(1) as i64;
        // d_o[j] = W_tu[(j mod b) + o][j mod b]: output column j mod b takes input column (j mod b) + o.
        let entry = |t: usize, u: usize, o: i64, j: usize| {
            let c = j % block;
            let r = c as i64 + o;
            let (row, col) = (t * block + r.max(0) as usize, u * block + c);
            if (0..block as i64).contains(&r) && row < rows && col < cols { w[[row, col]] } else { 0.0 }
        };
        let mut buckets: BTreeMap<(usize, i64), Vec<Term>> = BTreeMap::new();
        for &(t, u, o) in &offsets {
            let giant = o.div_euclid(baby) * baby;
            // rot(d_o, −giant)[j] = d_o[j − giant].
            let values: Vec<f64> =
                (0..slots).map(|j| entry(t, u, o, (j as i64 - giant).rem_euclid(slots as i64) as usize)).collect();
            let diagonal = encode_exact(ctx, &values, level)?;
            buckets.entry((u, giant)).or_default().push(Term {
                chunk_in: t,
                baby: o.rem_euclid(baby) as usize,
                diagonal,
            });
        }
        let babies = offsets.iter().map(|o| o.2.rem_euclid(baby)).filter(|&b| b != 0).collect::<BTreeSet<_>>();
        let giants = buckets.keys().map(|k| k.1).filter(|&g| g != 0).collect::<BTreeSet<_>>();
        Ok(Self {
            rows,
            cols,
            block,
            slots,
            level,
            babies: babies.into_iter().collect(),
            giants: giants.into_iter().collect(),
            buckets: buckets
                .into_iter()
                .map(|((chunk_out, giant), terms)| Bucket { chunk_out, giant, terms })
                .collect(),
            diagonals: offsets.len(),
        })
    }

    /// Matrix shape (d, k).
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Packing of an input X with `rows` rows.
    pub fn input_layout(&self, rows: usize) -> Result<RowBlocks> {
        RowBlocks::new(rows, self.rows, self.block, self.slots)
    }

    /// Packing of the product X·W for an X with `rows` rows.
    pub fn output_layout(&self, rows: usize) -> Result<RowBlocks> {
        RowBlocks::new(rows, self.cols, self.block, self.slots)
    }

    /// Levels consumed: one plaintext multiplication and its rescale.
    #[must_use]
    pub fn depth(&self) -> usize {
        1
    }

    /// Rotation steps the evaluation keys must cover (giant steps may be negative).
    #[must_use]
    pub fn rotations(&self) -> Vec<i64> {
        let mut steps: Vec<i64> = self.babies.iter().chain(&self.giants).copied().collect();
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// Operations per row group (one ciphertext per input chunk).
    #[must_use]
    pub fn counts(&self) -> MatMulCounts {
        let hoisted = self.chunks_in() * self.babies.len();
        let rotations = hoisted + self.buckets.iter().filter(|b| b.giant != 0).count();
        MatMulCounts {
            plaintext_mults: self.diagonals,
            ciphertext_mults: 0,
            rotations,
            hoisted_rotations: hoisted,
            key_switches: rotations,
        }
    }

    fn chunks_in(&self) -> usize {
        self.rows.div_ceil(self.block)
    }

    fn chunks_out(&self) -> usize {
        self.cols.div_ceil(self.block)
    }

    /// X·W for X packed by [`Self::input_layout`] (ciphertexts in order
    /// g·T + t; any number of row groups, so a batch of matrices is a list of
    /// groups) at the plan's level. The result, in order g·U + u, is one
    /// level lower at X's scale.
    pub fn apply(&self, ctx: &Context, xs: &[&Ciphertext], keys: &EvaluationKeys) -> Result<Vec<Ciphertext>> {
        let (chunks_in, chunks_out) = (self.chunks_in(), self.chunks_out());
        let invalid = |reason: String| CkksError::InvalidInput { op: "matmul_plain", reason };
        if xs.is_empty() || !xs.len().is_multiple_of(chunks_in) {
            return Err(invalid(format!(
                "{} ciphertexts are not whole row groups of {chunks_in} column chunks",
                xs.len()
            )));
        }
        if let Some(x) = xs.iter().find(|x| x.level() != self.level || x.slots() != self.slots) {
            return Err(invalid(format!(
                "input at level {} with {} slots; the plan expects level {} and {} slots",
                x.level(),
                x.slots(),
                self.level,
                self.slots
            )));
        }
        let groups = xs.len() / chunks_in;
        let rotated =
            if self.babies.is_empty() { Vec::new() } else { ctx.rotate_hoisted_many(xs, &self.babies, keys)? };
        let baby = |x: usize, beta: usize| match self.babies.binary_search(&(beta as i64)) {
            Ok(k) => &rotated[x][k],
            Err(_) => xs[x],
        };
        // Inner sums, one multiplication submission per bucket for all row groups.
        let mut inner = Vec::with_capacity(self.buckets.len() * groups);
        for bucket in &self.buckets {
            let pairs: Vec<(&Ciphertext, &Plaintext)> = (0..groups)
                .flat_map(|g| bucket.terms.iter().map(move |term| (g * chunks_in + term.chunk_in, term)))
                .map(|(x, term)| (baby(x, term.baby), &term.diagonal))
                .collect();
            let mut products = ctx.mul_plain_many(&pairs)?.into_iter();
            let per_group = (0..groups).map(|_| products.by_ref().take(bucket.terms.len()).collect()).collect();
            inner.extend(sum_each(ctx, per_group)?);
        }
        let mut inner = ctx.rescale_many(&inner.iter().collect::<Vec<_>>())?.into_iter();
        let mut by_bucket: Vec<Vec<Ciphertext>> =
            self.buckets.iter().map(|_| inner.by_ref().take(groups).collect()).collect();
        // Giant rotations: one batched rotation per distinct step.
        for &step in &self.giants {
            let members: Vec<usize> = (0..self.buckets.len()).filter(|&b| self.buckets[b].giant == step).collect();
            let rotated = {
                let cts: Vec<&Ciphertext> = members.iter().flat_map(|&b| &by_bucket[b]).collect();
                ctx.rotate_many(&cts, step, keys)?
            };
            let mut rotated = rotated.into_iter();
            for &b in &members {
                by_bucket[b] = rotated.by_ref().take(groups).collect();
            }
        }
        let mut outputs: Vec<Vec<Ciphertext>> = (0..groups * chunks_out).map(|_| Vec::new()).collect();
        for (bucket, cts) in self.buckets.iter().zip(by_bucket) {
            for (g, ct) in cts.into_iter().enumerate() {
                outputs[g * chunks_out + bucket.chunk_out].push(ct);
            }
        }
        for (i, out) in outputs.iter_mut().enumerate() {
            if out.is_empty() {
                // An all-zero column chunk of W.
                out.push(zero_like(ctx, xs[i / chunks_out * chunks_in], self.level - 1)?);
            }
        }
        sum_each(ctx, outputs)
    }
}

/// Rotations per row group of a baby-step count `baby`: the distinct
/// non-zero baby steps once per input chunk, the non-zero giant steps once
/// per output chunk.
fn bsgs_rotations(offsets: &BTreeSet<(usize, usize, i64)>, baby: usize, chunks_in: usize) -> usize {
    let baby = baby as i64;
    let babies: BTreeSet<i64> = offsets.iter().map(|o| o.2.rem_euclid(baby)).filter(|&b| b != 0).collect();
    let giants: BTreeSet<(usize, i64)> =
        offsets.iter().map(|o| (o.1, o.2.div_euclid(baby))).filter(|g| g.1 != 0).collect();
    chunks_in * babies.len() + giants.len()
}
