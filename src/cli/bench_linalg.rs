//! The linear-algebra ops of `hetl bench`: `matvec_RxC` (plaintext matrix ×
//! encrypted vector) and `matmul_*` (matrix products at MiniLM shapes).
//! Each op's plan is prepared before the keys (which cover its rotation
//! steps) and outside the clock, and reports its operation counts.

use anyhow::{Context as _, Result};
use ndarray::Array2;
use serde_json::{Value, json};

use crate::ckks::{Ciphertext, Context, EvaluationKeys};
use crate::nn::linalg::{MatMulABt, MatMulPlain, MatVec, RowBlocks};

/// The linear-algebra ops, all opt-in: their rotation keys and diagonals
/// take gigabytes at n16.
pub const LINALG_OPS: [&str; 5] =
    ["matvec_384x384", "matvec_384x1536", "matvec_1536x384", "matmul_enc_plain", "matmul_enc_enc"];

/// X (tokens × hidden) · W (hidden × hidden) of `matmul_enc_plain`: 16
/// tokens of MiniLM's hidden size 384.
const ENC_PLAIN_SHAPE: (usize, usize, usize) = (16, 384, 384);

/// Q·Kᵀ (tokens × head size, twice) of `matmul_enc_enc`: one MiniLM
/// attention head (384 / 6 heads) over 16 tokens.
const ENC_ENC_SHAPE: (usize, usize) = (16, 64);

/// A prepared linear-algebra op.
pub enum LinalgPlan {
    /// W·x.
    MatVec(MatVec),
    /// X·W with X packed as `layout`.
    EncPlain {
        /// The prepared W.
        plan: MatMulPlain,
        /// Packing of X.
        layout: RowBlocks,
    },
    /// Q·Kᵀ with Q and K packed as `layout`.
    EncEnc {
        /// The prepared masks.
        plan: MatMulABt,
        /// Packing of Q and K.
        layout: RowBlocks,
    },
}

/// Shape (rows, cols) of a `matvec_RxC` op: MiniLM's hidden size 384 and
/// feed-forward size 1536.
fn matvec_shape(op: &str) -> Option<(usize, usize)> {
    let (rows, cols) = op.strip_prefix("matvec_")?.split_once('x')?;
    Some((rows.parse().ok()?, cols.parse().ok()?))
}

/// Whether `op` is one of [`LINALG_OPS`].
#[must_use]
pub fn is_linalg(op: &str) -> bool {
    LINALG_OPS.contains(&op)
}

impl LinalgPlan {
    /// The plan of `op` (a name from [`LINALG_OPS`]) at the top level, with
    /// random entries in [−1, 1] drawn by `unit`.
    pub fn new(ctx: &Context, op: &str, unit: &mut dyn FnMut() -> f64) -> Result<Self> {
        let params = ctx.params();
        let (top, max_slots) = (params.max_level(), params.max_slots());
        let fits = || format!("{op} does not fit preset {}", params.name());
        let plan = match op {
            "matmul_enc_plain" => {
                let (tokens, hidden, out) = ENC_PLAIN_SHAPE;
                let layout = RowBlocks::densest(tokens, hidden, max_slots)?;
                let w = Array2::from_shape_simple_fn((hidden, out), unit);
                let plan =
                    MatMulPlain::new(ctx.params(), w.view(), layout.block(), layout.slots()).with_context(fits)?;
                Self::EncPlain { plan, layout }
            }
            "matmul_enc_enc" => {
                let (tokens, head) = ENC_ENC_SHAPE;
                let layout = RowBlocks::densest(tokens, head, max_slots)?;
                Self::EncEnc { plan: MatMulABt::new(ctx, layout, layout, top).with_context(fits)?, layout }
            }
            _ => {
                let (rows, cols) = matvec_shape(op).with_context(|| format!("{op} is not a linear-algebra op"))?;
                let w = Array2::from_shape_simple_fn((rows, cols), unit);
                Self::MatVec(MatVec::new(ctx, w.view(), top).with_context(fits)?)
            }
        };
        Ok(plan)
    }

    /// Rotation steps the evaluation keys must cover.
    #[must_use]
    pub fn rotations(&self) -> Vec<i64> {
        match self {
            Self::MatVec(m) => m.rotations(),
            Self::EncPlain { plan, .. } => plan.rotations(),
            Self::EncEnc { plan, .. } => plan.rotations(),
        }
    }

    /// Slots of every input ciphertext.
    #[must_use]
    pub fn slots(&self) -> usize {
        match self {
            Self::MatVec(m) => m.slots(),
            Self::EncPlain { layout, .. } | Self::EncEnc { layout, .. } => layout.slots(),
        }
    }

    /// Input ciphertexts of one application.
    #[must_use]
    pub fn inputs(&self) -> usize {
        match self {
            Self::MatVec(_) => 1,
            Self::EncPlain { layout, .. } => layout.ciphertexts(),
            Self::EncEnc { .. } => 2,
        }
    }

    /// Applies the op to `cts` (a batch of [`Self::inputs`] ciphertexts
    /// each), the whole batch in one batched call.
    pub fn run(&self, ctx: &Context, cts: &[&Ciphertext], keys: &EvaluationKeys) -> Result<()> {
        match self {
            Self::MatVec(m) => drop(m.apply_many(ctx, cts, keys)?),
            // A batch of token matrices is a list of row groups.
            Self::EncPlain { plan, .. } => drop(plan.apply(ctx, cts, keys)?),
            Self::EncEnc { plan, .. } => {
                let pairs: Vec<(&Ciphertext, &Ciphertext)> = cts.chunks_exact(2).map(|p| (p[0], p[1])).collect();
                drop(plan.apply_many(ctx, &pairs, keys)?);
            }
        }
        Ok(())
    }

    /// Operation counts of one application, as JSON fields.
    #[must_use]
    pub fn counts(&self) -> Value {
        match self {
            Self::MatVec(m) => {
                let c = m.counts();
                json!({"rotations": c.rotations, "key_switches": c.rotations,
                    "bsgs_minimum_rotations": c.bsgs_minimum, "plaintext_mults": c.diagonals})
            }
            Self::EncPlain { plan, layout } => {
                let (hidden, out) = plan.shape();
                matmul_fields(json!(plan.counts()), format!("{}x{hidden}x{out}", layout.rows()), layout, plan.depth())
            }
            Self::EncEnc { plan, layout } => {
                let (tokens, head) = (layout.rows(), layout.cols());
                matmul_fields(json!(plan.counts()), format!("{tokens}x{head}x{tokens}"), layout, plan.depth())
            }
        }
    }
}

/// A matrix product's counts plus its shape (n×d×k), packing and depth.
fn matmul_fields(mut counts: Value, shape: String, layout: &RowBlocks, depth: usize) -> Value {
    counts["shape"] = json!(shape);
    counts["block"] = json!(layout.block());
    counts["slots"] = json!(layout.slots());
    counts["depth"] = json!(depth);
    counts
}
