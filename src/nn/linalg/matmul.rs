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
//! sums of all input chunks share each output's giant rotations, which are
//! one [`Context::sum_rotations`] (one ModDown per output, not one per
//! giant step), and b₁
//! is the value with the fewest rotations for this W's non-zero diagonals
//! (all-zero diagonals are skipped: d = 384 in blocks of 512 leaves 767 of
//! 1023). Diagonals are encoded when the product is applied, at the
//! input's level with the scale that makes the one rescale land on the
//! wanted output scale (x's own by default): **depth 1**, any input level.
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
//! **Memory.** The plan keeps W and the diagonal structure only; each
//! bucket's diagonals are computed from W and encoded when applied, and
//! dropped after its multiplications. Keeping them encoded would cost one
//! plaintext per non-zero diagonal, ≈ 2·d·k/b of them, each N words per
//! limb: 767 × 0.59 MB ≈ 450 MB for 384 × 384 in blocks of 512 at N = 2^14
//! (level 7), 5.4 GB for one MiniLM layer; encoding instead costs one FFT
//! and one NTT per diagonal per call, shared by all row groups of the call.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ndarray::{Array2, ArrayView2};
use num_complex::Complex64;

use super::reduce::sum_rotations_or;
use super::{RowBlocks, zero_like};
use crate::ckks::{
    Ciphertext, CkksError, Context, EvaluationKeys, Params, Plaintext, PlaintextCache, PlaintextKey, Result,
};

/// Bytes of encoded diagonals one multiplication submission of a product
/// holds at once (a run of buckets, see `apply_rotated`): the more buckets
/// share a submission, the fewer times their row groups' baby rotations
/// are read.
const DIAGONAL_RUN_BYTES: usize = 512 << 20;

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

/// One term of an inner sum: rot(x_t, β) ⊙ rot(d_o, −g·b₁), o = offset.
struct Term {
    chunk_in: usize,
    baby: usize,
    offset: i64,
}

/// The inner sum of one output chunk and giant step.
struct Bucket {
    chunk_out: usize,
    giant: i64,
    terms: Vec<Term>,
}

/// A plaintext matrix W (d × k) prepared for products X·W with encrypted X
/// packed in row blocks of a given width and slot count (consumes 1 level).
pub struct MatMulPlain {
    w: Array2<f64>,
    block: usize,
    slots: usize,
    /// Non-zero baby steps in use, ascending.
    babies: Vec<i64>,
    /// Non-zero giant steps in use, ascending.
    giants: Vec<i64>,
    buckets: Vec<Bucket>,
    diagonals: usize,
    /// Owner id of its encoded diagonals in a [`PlaintextCache`].
    cache_id: u64,
}

impl MatMulPlain {
    /// Prepares `w` (d × k) for inputs packed in blocks of `block` columns
    /// of `slots` slots ([`RowBlocks`]) under the parameter set `params`.
    pub fn new(params: &Params, w: ArrayView2<f64>, block: usize, slots: usize) -> Result<Self> {
        Self::with_baby_step(params, w, block, slots, None)
    }

    /// [`Self::new`] with the baby-step count b₁ fixed (rotation steps
    /// 1..b₁ and multiples of b₁), so that several products share their
    /// rotation keys; `None` picks the b₁ with the fewest rotations.
    pub fn with_baby_step(
        params: &Params,
        w: ArrayView2<f64>,
        block: usize,
        slots: usize,
        baby: Option<usize>,
    ) -> Result<Self> {
        let (rows, cols) = w.dim();
        let invalid = |reason: String| CkksError::InvalidInput { op: "matmul_plain", reason };
        RowBlocks::new(rows, cols, block, slots)?;
        if slots > params.max_slots() {
            return Err(invalid(format!("{slots} slots; {} has {}", params.name(), params.max_slots())));
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
        if baby.is_some_and(|b| b == 0 || b > 2 * block) {
            return Err(invalid(format!("baby step {baby:?} must be in 1..={}", 2 * block)));
        }
        let baby = baby.unwrap_or_else(|| {
            (1..=2 * block)
                .min_by_key(|&b| (bsgs_rotations(&offsets, b, rows.div_ceil(block)), Reverse(b)))
                .unwrap_or(1)
        }) as i64;
        let mut buckets: BTreeMap<(usize, i64), Vec<Term>> = BTreeMap::new();
        for &(t, u, o) in &offsets {
            let giant = o.div_euclid(baby) * baby;
            buckets.entry((u, giant)).or_default().push(Term {
                chunk_in: t,
                baby: o.rem_euclid(baby) as usize,
                offset: o,
            });
        }
        let babies = offsets.iter().map(|o| o.2.rem_euclid(baby)).filter(|&b| b != 0).collect::<BTreeSet<_>>();
        let giants = buckets.keys().map(|k| k.1).filter(|&g| g != 0).collect::<BTreeSet<_>>();
        Ok(Self {
            w: w.to_owned(),
            block,
            slots,
            babies: babies.into_iter().collect(),
            giants: giants.into_iter().collect(),
            buckets: buckets
                .into_iter()
                .map(|((chunk_out, giant), terms)| Bucket { chunk_out, giant, terms })
                .collect(),
            diagonals: offsets.len(),
            cache_id: PlaintextCache::owner_id(),
        })
    }

    /// Matrix shape (d, k).
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        self.w.dim()
    }

    /// The matrix W.
    #[must_use]
    pub fn matrix(&self) -> ArrayView2<'_, f64> {
        self.w.view()
    }

    /// Packing of an input X with `rows` rows.
    pub fn input_layout(&self, rows: usize) -> Result<RowBlocks> {
        RowBlocks::new(rows, self.w.nrows(), self.block, self.slots)
    }

    /// Packing of the product X·W for an X with `rows` rows.
    pub fn output_layout(&self, rows: usize) -> Result<RowBlocks> {
        RowBlocks::new(rows, self.w.ncols(), self.block, self.slots)
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

    /// Rescales per row group (one per inner sum).
    #[must_use]
    pub fn rescales(&self) -> usize {
        self.buckets.len()
    }

    /// Input column chunks T = ⌈d / b⌉.
    #[must_use]
    pub fn chunks_in(&self) -> usize {
        self.w.nrows().div_ceil(self.block)
    }

    /// Output column chunks U = ⌈k / b⌉.
    #[must_use]
    pub fn chunks_out(&self) -> usize {
        self.w.ncols().div_ceil(self.block)
    }

    /// The exact product on slot values (the noiseless twin of
    /// [`Self::apply`]): `xs` in the input packing, the result in the output
    /// packing, padding columns zero.
    pub fn apply_exact(&self, xs: &[&[f64]]) -> Result<Vec<Vec<f64>>> {
        let (chunks_in, chunks_out, b) = (self.chunks_in(), self.chunks_out(), self.block);
        if xs.is_empty() || !xs.len().is_multiple_of(chunks_in) || xs.iter().any(|x| x.len() != self.slots) {
            return Err(CkksError::InvalidInput {
                op: "matmul_plain",
                reason: format!(
                    "{} slot vectors are not whole row groups of {chunks_in} chunks of {} slots",
                    xs.len(),
                    self.slots
                ),
            });
        }
        let (rows, cols) = self.w.dim();
        let mut out = Vec::with_capacity(xs.len() / chunks_in * chunks_out);
        for group in xs.chunks(chunks_in) {
            for u in 0..chunks_out {
                let mut y = vec![0.0; self.slots];
                for (t, x) in group.iter().enumerate() {
                    for (row_in, c) in (t * b..rows.min((t + 1) * b)).zip(0..) {
                        for (col, c_out) in (u * b..cols.min((u + 1) * b)).zip(0..) {
                            let w = self.w[[row_in, col]];
                            for block in 0..self.slots / b {
                                y[block * b + c_out] += x[block * b + c] * w;
                            }
                        }
                    }
                }
                out.push(y);
            }
        }
        Ok(out)
    }

    /// rot(d_o, −giant) for input chunk t and output chunk u: slot j holds
    /// d_o[j − giant], d_o[j] = W_tu[(j mod b) + o][j mod b] (output column
    /// j mod b takes input column (j mod b) + o).
    fn diagonal(&self, t: usize, u: usize, o: i64, giant: i64) -> Vec<f64> {
        let (rows, cols) = self.w.dim();
        let block = self.block as i64;
        (0..self.slots as i64)
            .map(|j| {
                let c = (j - giant).rem_euclid(self.slots as i64) % block;
                let r = c + o;
                let (row, col) = (t * self.block + r.max(0) as usize, u * self.block + c as usize);
                if (0..block).contains(&r) && row < rows && col < cols { self.w[[row, col]] } else { 0.0 }
            })
            .collect()
    }

    /// X·W for X packed by [`Self::input_layout`] (ciphertexts in order
    /// g·T + t; any number of row groups, so a batch of matrices is a list of
    /// groups), all at one level ≥ 1. The result, in order g·U + u, is one
    /// level lower at X's scale.
    pub fn apply(&self, ctx: &Context, xs: &[&Ciphertext], keys: &EvaluationKeys) -> Result<Vec<Ciphertext>> {
        let scale = xs.first().map_or(1.0, |x| x.scale());
        self.apply_scaled(ctx, xs, keys, scale)
    }

    /// [`Self::apply`] with the result at scale `out_scale` (the diagonals
    /// are encoded at q_level · out_scale / X's scale).
    pub fn apply_scaled(
        &self,
        ctx: &Context,
        xs: &[&Ciphertext],
        keys: &EvaluationKeys,
        out_scale: f64,
    ) -> Result<Vec<Ciphertext>> {
        Ok(Self::apply_shared(ctx, &[self], xs, keys, out_scale)?.remove(0))
    }

    /// X·W for several plans on the same X: when the plans share their baby
    /// steps (e.g. fixed by [`Self::with_baby_step`]), the hoisted baby
    /// rotations of X are computed once for all (Q, K and V projections).
    pub fn apply_shared(
        ctx: &Context,
        plans: &[&Self],
        xs: &[&Ciphertext],
        keys: &EvaluationKeys,
        out_scale: f64,
    ) -> Result<Vec<Vec<Ciphertext>>> {
        let mut babies: Vec<i64> = plans.iter().flat_map(|p| p.babies.iter().copied()).collect();
        babies.sort_unstable();
        babies.dedup();
        for plan in plans {
            plan.check_inputs(xs)?;
        }
        let rotated = if babies.is_empty() { Vec::new() } else { ctx.rotate_hoisted_many(xs, &babies, keys)? };
        plans.iter().map(|plan| plan.apply_rotated(ctx, xs, &babies, &rotated, keys, out_scale)).collect()
    }

    /// The inputs are whole row groups at one level ≥ 1 and scale, with the plan's slots.
    fn check_inputs(&self, xs: &[&Ciphertext]) -> Result<()> {
        let chunks_in = self.chunks_in();
        let invalid = |reason: String| CkksError::InvalidInput { op: "matmul_plain", reason };
        if xs.is_empty() || !xs.len().is_multiple_of(chunks_in) {
            return Err(invalid(format!(
                "{} ciphertexts are not whole row groups of {chunks_in} column chunks",
                xs.len()
            )));
        }
        let (level, scale) = (xs[0].level(), xs[0].scale());
        if let Some(x) = xs.iter().find(|x| x.level() != level || x.scale() != scale || x.slots() != self.slots) {
            return Err(invalid(format!(
                "inputs at levels {} and {} with {} slots; the plan expects one level and scale, and {} slots",
                level,
                x.level(),
                x.slots(),
                self.slots
            )));
        }
        if level == 0 {
            return Err(CkksError::LevelExhausted { op: "matmul_plain", level, needed: 1 });
        }
        Ok(())
    }

    /// Bucket `item`'s diagonals encoded at `level` and `pt_scale`, once per
    /// level and scale while the context's plaintext cache has room.
    fn encoded_diagonals(
        &self,
        ctx: &Context,
        item: usize,
        level: usize,
        pt_scale: f64,
    ) -> Result<Arc<Vec<Plaintext>>> {
        let bucket = &self.buckets[item];
        let key = PlaintextKey { owner: self.cache_id, item, level, scale_bits: pt_scale.to_bits() };
        ctx.plaintext_cache().get_or_encode(key, || {
            let values: Vec<Vec<Complex64>> = bucket
                .terms
                .iter()
                .map(|term| {
                    let values = self.diagonal(term.chunk_in, bucket.chunk_out, term.offset, bucket.giant);
                    values.into_iter().map(|v| Complex64::new(v, 0.0)).collect()
                })
                .collect();
            ctx.encode_many(&values.iter().map(Vec::as_slice).collect::<Vec<_>>(), level, pt_scale)
        })
    }

    /// The product from X's baby rotations (`rotated[x][k]` = rot(xs[x], babies[k])).
    fn apply_rotated(
        &self,
        ctx: &Context,
        xs: &[&Ciphertext],
        babies: &[i64],
        rotated: &[Vec<Ciphertext>],
        keys: &EvaluationKeys,
        out_scale: f64,
    ) -> Result<Vec<Ciphertext>> {
        let (chunks_in, chunks_out) = (self.chunks_in(), self.chunks_out());
        let (level, scale) = (xs[0].level(), xs[0].scale());
        let pt_scale = ctx.params().level_modulus(level) * out_scale / scale;
        let groups = xs.len() / chunks_in;
        let baby = |x: usize, beta: usize| match babies.binary_search(&(beta as i64)) {
            Ok(k) => &rotated[x][k],
            Err(_) => xs[x],
        };
        // Inner sums, one multiplication submission per run of buckets for
        // all row groups: the groups of a run read the same baby rotations,
        // which the backend then reads once per tile for all of them. A run
        // holds its buckets' encoded diagonals at once: at most
        // DIAGONAL_RUN_BYTES of them (and at least one bucket).
        let diagonal_bytes = ctx.params().q_limbs(level) * ctx.params().n() * 4;
        let (mut runs, mut run_bytes): (Vec<std::ops::Range<usize>>, usize) = (Vec::new(), 0);
        for (item, bucket) in self.buckets.iter().enumerate() {
            let bytes = bucket.terms.len() * diagonal_bytes;
            match runs.last_mut() {
                Some(run) if run_bytes + bytes <= DIAGONAL_RUN_BYTES => {
                    run.end += 1;
                    run_bytes += bytes;
                }
                _ => {
                    runs.push(item..item + 1);
                    run_bytes = bytes;
                }
            }
        }
        let mut inner = Vec::with_capacity(self.buckets.len() * groups);
        for run in runs {
            let encoded: Vec<Arc<Vec<Plaintext>>> =
                run.clone().map(|item| self.encoded_diagonals(ctx, item, level, pt_scale)).collect::<Result<_>>()?;
            let pairs: Vec<Vec<(&Ciphertext, &Plaintext)>> = self.buckets[run]
                .iter()
                .zip(&encoded)
                .flat_map(|(bucket, diagonals)| {
                    (0..groups).map(move |g| {
                        bucket
                            .terms
                            .iter()
                            .zip(diagonals.iter())
                            .map(|(term, d)| (baby(g * chunks_in + term.chunk_in, term.baby), d))
                            .collect()
                    })
                })
                .collect();
            inner.extend(ctx.mul_plain_sum_many(&pairs.iter().map(Vec::as_slice).collect::<Vec<_>>())?);
        }
        let mut inner = ctx.rescale_owned(inner)?.into_iter();
        let by_bucket: Vec<Vec<Ciphertext>> =
            self.buckets.iter().map(|_| inner.by_ref().take(groups).collect()).collect();
        // Output (g, u) = Σ over u's buckets of rot(inner sum, giant): one
        // sum of rotations each, divided by P once for all its giant steps.
        let mut terms: Vec<Vec<(&Ciphertext, i64)>> = (0..groups * chunks_out).map(|_| Vec::new()).collect();
        for (bucket, cts) in self.buckets.iter().zip(&by_bucket) {
            for (g, ct) in cts.iter().enumerate() {
                terms[g * chunks_out + bucket.chunk_out].push((ct, bucket.giant));
            }
        }
        // An all-zero column chunk of W gives an encryption of zero.
        sum_rotations_or(ctx, &terms, keys, |i| zero_like(ctx, xs[i / chunks_out * chunks_in], level - 1))
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
