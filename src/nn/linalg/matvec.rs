//! Plaintext matrix × encrypted vector: the diagonal method (Halevi–Shoup)
//! with baby-step giant-step and hoisted baby rotations.
//!
//! For W (m × n, padded to powers of two) and x packed replicated with
//! period n in L = max(m, n) slots, define the D = min(m, n) generalized
//! diagonals `d_i[j] = W[j mod m][(j + i) mod n]` (j < L). Then
//! `y' = Σ_i d_i ⊙ rot(x, i)` holds, in slot j, row (j mod m)'s products
//! over columns j + i; when m < n the n/m partial sums of each row are
//! folded with [`rotate_and_sum_many`] (step m, all inputs at once). With
//! i = g·b₁ + b (b < b₁, the baby steps),
//! `y' = Σ_g rot(Σ_b rot(d_i, −g·b₁) ⊙ rot(x, b), g·b₁)`:
//! b₁ − 1 hoisted baby rotations of x and D/b₁ − 1 giant rotations instead
//! of D − 1 rotations, the giant ones one [`Context::sum_rotations`] (one
//! ModDown for all). The diagonals are rotated and encoded once, at plan
//! time, with scale q_level, so the one rescale restores x's scale exactly.

use ndarray::ArrayView2;

use super::reduce::{rotate_and_sum_many, rotate_and_sum_steps, sum_rotations_or};
use super::{encode_exact, zero_like};
use crate::ckks::{Ciphertext, CkksError, Context, EvaluationKeys, Plaintext, Result};

/// Operation counts of one [`MatVec::apply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MatVecCounts {
    /// Non-zero diagonals (plaintext multiplications).
    pub diagonals: usize,
    /// Baby steps b₁ (hoisted rotations: b₁ − 1, sharing one decomposition).
    pub baby_steps: usize,
    /// Giant steps (rotations after the inner sums: giant − 1).
    pub giant_steps: usize,
    /// Rotations folding row partial sums (log2(n/m) when m < n).
    pub fold_rotations: usize,
    /// All rotations = key switches (hoisted ones counted one each).
    pub rotations: usize,
    /// Fewest rotations of any BSGS split of this diagonal count:
    /// min over b₁ of (b₁ − 1) + (D/b₁ − 1), plus the fold.
    pub bsgs_minimum: usize,
}

/// A plaintext matrix prepared for multiplication with encrypted vectors at
/// one level (consumes 1 level).
pub struct MatVec {
    rows: usize,
    cols: usize,
    /// Padded output length m.
    m: usize,
    /// Padded input length n.
    n: usize,
    baby: usize,
    /// `(giant index g, baby index b, encoded rot(d_{g·b₁+b}, −g·b₁))`, non-zero diagonals only.
    diagonals: Vec<(usize, usize, Plaintext)>,
    level: usize,
}

impl MatVec {
    /// Prepares `w` (rows × cols) for inputs at `level`, with b₁ = √D
    /// rounded to a power of two (the fewest rotations). Needs L =
    /// max(m, n) ≤ the slots of the parameter set and level ≥ 1.
    pub fn new(ctx: &Context, w: ArrayView2<f64>, level: usize) -> Result<Self> {
        let (rows, cols) = w.dim();
        let invalid = |reason: String| CkksError::InvalidInput { op: "matvec", reason };
        if rows == 0 || cols == 0 {
            return Err(invalid(format!("empty matrix {rows}×{cols}")));
        }
        if let Some(bad) = w.iter().find(|v| !v.is_finite()) {
            return Err(invalid(format!("matrix entry {bad} is not finite")));
        }
        let (m, n) = (rows.next_power_of_two(), cols.next_power_of_two());
        let slots = m.max(n);
        if slots > ctx.params().max_slots() {
            return Err(invalid(format!(
                "{rows}×{cols} needs {slots} slots; {} has {}",
                ctx.params().name(),
                ctx.params().max_slots()
            )));
        }
        if level == 0 || level > ctx.params().max_level() {
            return Err(invalid(format!("level {level} must be in 1..={}", ctx.params().max_level())));
        }
        let count = m.min(n);
        let baby = 1usize << count.trailing_zeros().div_ceil(2);
        let entry = |r: usize, c: usize| if r < rows && c < cols { w[[r, c]] } else { 0.0 };
        let mut diagonals = Vec::new();
        for i in 0..count {
            let (g, b) = (i / baby, i % baby);
            // rot(d_i, −g·b₁)[j] = d_i[j − g·b₁].
            let values: Vec<f64> = (0..slots)
                .map(|j| {
                    let k = (j + slots - (g * baby) % slots) % slots;
                    entry(k % m, (k + i) % n)
                })
                .collect();
            if values.iter().any(|&v| v != 0.0) {
                diagonals.push((g, b, encode_exact(ctx, &values, level)?));
            }
        }
        Ok(Self { rows, cols, m, n, baby, diagonals, level })
    }

    /// Slots of the input and output ciphertexts: max(m, n).
    #[must_use]
    pub fn slots(&self) -> usize {
        self.m.max(self.n)
    }

    /// Padded input period n (pack x with [`super::pack_replicated`]`(x, n, slots)`).
    #[must_use]
    pub fn input_period(&self) -> usize {
        self.n
    }

    /// Padded output period m: slot j holds y[j mod m] (for j mod m < rows).
    #[must_use]
    pub fn output_period(&self) -> usize {
        self.m
    }

    /// Matrix shape (rows, cols).
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Levels consumed: one plaintext multiplication and its rescale.
    #[must_use]
    pub fn depth(&self) -> usize {
        1
    }

    fn giant(&self) -> usize {
        self.m.min(self.n).div_ceil(self.baby)
    }

    /// Rotation steps the evaluation keys must cover.
    #[must_use]
    pub fn rotations(&self) -> Vec<i64> {
        let mut steps: Vec<i64> = (1..self.baby as i64).collect();
        steps.extend((1..self.giant()).map(|g| (g * self.baby) as i64));
        if self.m < self.n {
            steps.extend(rotate_and_sum_steps(self.m as i64, self.n / self.m));
        }
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// How many multiplications and rotations one application costs.
    #[must_use]
    pub fn counts(&self) -> MatVecCounts {
        let count = self.m.min(self.n);
        let fold = if self.m < self.n { (self.n / self.m).trailing_zeros() as usize } else { 0 };
        let bsgs_minimum =
            (0..=count.trailing_zeros()).map(|k| (1usize << k) - 1 + count.div_ceil(1 << k) - 1).min().unwrap_or(0);
        MatVecCounts {
            diagonals: self.diagonals.len(),
            baby_steps: self.baby,
            giant_steps: self.giant(),
            fold_rotations: fold,
            rotations: self.baby - 1 + self.giant() - 1 + fold,
            bsgs_minimum: bsgs_minimum + fold,
        }
    }

    /// W·x for x packed replicated with period n in [`Self::slots`] slots,
    /// at the plan's level; the result is one level lower at x's scale.
    pub fn apply(&self, ctx: &Context, x: &Ciphertext, keys: &EvaluationKeys) -> Result<Ciphertext> {
        Ok(self.apply_many(ctx, &[x], keys)?.remove(0))
    }

    /// [`Self::apply`] to many vectors; the baby rotations of all of them
    /// form one hoisted batch.
    pub fn apply_many(&self, ctx: &Context, xs: &[&Ciphertext], keys: &EvaluationKeys) -> Result<Vec<Ciphertext>> {
        for x in xs {
            if x.level() != self.level || x.slots() != self.slots() {
                return Err(CkksError::InvalidInput {
                    op: "matvec",
                    reason: format!(
                        "input at level {} with {} slots; the plan expects level {} and {} slots",
                        x.level(),
                        x.slots(),
                        self.level,
                        self.slots()
                    ),
                });
            }
        }
        let steps: Vec<i64> = (1..self.baby as i64).collect();
        let rotated = ctx.rotate_hoisted_many(xs, &steps, keys)?;
        let mut inner_sums = Vec::new();
        for (x, rotated) in xs.iter().zip(&rotated) {
            let baby = |b: usize| if b == 0 { *x } else { &rotated[b - 1] };
            let mut sums: Vec<Option<Ciphertext>> = (0..self.giant()).map(|_| None).collect();
            for (g, b, diagonal) in &self.diagonals {
                let term = ctx.mul_plain(baby(*b), diagonal)?;
                match &mut sums[*g] {
                    Some(acc) => ctx.add_assign(acc, &term)?,
                    slot => *slot = Some(term),
                }
            }
            inner_sums.push(sums);
        }
        // The giant steps each input has a sum for, then all sums rescaled.
        let present: Vec<Vec<usize>> =
            inner_sums.iter().map(|sums| (0..sums.len()).filter(|&g| sums[g].is_some()).collect()).collect();
        let rescaled = ctx.rescale_owned(inner_sums.into_iter().flatten().flatten().collect())?;
        // y = Σ_g rot(sum_g, g·b₁): one sum of rotations per input (one ModDown).
        let mut rescaled = rescaled.iter();
        let terms: Vec<Vec<(&Ciphertext, i64)>> = present
            .iter()
            .map(|present| {
                present.iter().map(|&g| (rescaled.next().expect("one per sum"), (g * self.baby) as i64)).collect()
            })
            .collect();
        // An all-zero matrix: W·x = 0, an encryption of zero at the output level.
        let ys = sum_rotations_or(ctx, &terms, keys, |i| zero_like(ctx, xs[i], self.level - 1))?;
        if self.m < self.n {
            rotate_and_sum_many(ctx, &ys.iter().collect::<Vec<_>>(), self.m as i64, self.n / self.m, keys)
        } else {
            Ok(ys)
        }
    }
}
