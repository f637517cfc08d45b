//! Setup 1: MiniLM encoder layers evaluated on ciphertexts.
//!
//! The data party tokenizes, looks up the embeddings, and runs the first
//! `6 − K` layers in plaintext ([`EncryptedEncoder::plaintext_prefix`];
//! K = 6 leaves it the embeddings alone); it encrypts the hidden states in
//! the [`TokenLayout`] (one token per block of 512 slots). The compute party
//! runs the last K layers on the ciphertexts ([`EncryptedEncoder::forward`]):
//! projections by [`crate::nn::linalg::MatMulPlain`], attention by the
//! diagonal method of [`attention`], softmax by exp and normalised squaring
//! rounds, LayerNorm by 1/√x, GELU by a Chebyshev polynomial, residuals by
//! additions — then mean pooling ([`EncryptedEncoder::mean_pool`]).
//!
//! Every step declares the levels it needs; when its inputs have fewer, the
//! [`Session`] asks its [`Refresh`] source for fresh ones (today the data
//! party's decrypt-and-re-encrypt, counted; bootstrapping later) and
//! records the step's time, operations and refreshes.
//!
//! Everything is written against [`Arith`], so the same code runs on
//! ciphertexts and on the exact-arithmetic mirror ([`crate::nn::approx::PlainArith`]):
//! the mirror gives the accuracy of the approximations alone, the
//! ciphertexts add CKKS noise.

pub mod attention;
mod calibration;
mod choice;
mod counting;
mod layer;
mod layout;
mod norm;
pub mod ops;
mod projection;
mod session;
mod twin;

pub use attention::SoftmaxPlan;
pub use calibration::{Calibration, LayerRanges, Range};
pub use choice::TOLERANCE;
pub use counting::{Counting, OpCounts};
pub use layer::EncryptedLayer;
pub use layout::{SEGMENT, TokenLayout};
pub use norm::NormPlan;
pub use ops::{plain_combination, plain_product, to_level};
pub use session::{MirrorRefresh, Refresh, Session, Shape, StepRecord};
pub use twin::{decode, layer_twin};

use ndarray::Array2;

use crate::ckks::Params;
use crate::model::minilm::{MiniLm, Tokens};
use crate::nn::approx::Arith;
use crate::nn::{NnError, Result};

/// Token block width: the hidden size 384 padded to a power of two.
pub const BLOCK: usize = 512;
/// Longest sequence supported: MiniLM's window.
pub const MAX_TOKENS: usize = 256;

/// The last K layers of a model, prepared for ciphertexts of `slots` slots.
pub struct EncryptedEncoder {
    layers: Vec<EncryptedLayer>,
    total_layers: usize,
    hidden: usize,
    slots: usize,
}

impl EncryptedEncoder {
    /// The last `encrypted` (1 ..= all) layers of `model` with the domains of
    /// `calibration`, at the largest slot count of `params`.
    pub fn new(params: &Params, model: &MiniLm, calibration: &Calibration, encrypted: usize) -> Result<Self> {
        let total = model.layers().len();
        if encrypted == 0 || encrypted > total {
            return Err(NnError::InvalidShape(format!("{encrypted} encrypted layers; the model has 1..={total}")));
        }
        if calibration.layers.len() != total {
            return Err(NnError::InvalidShape(format!(
                "calibration for {} layers; the model has {total}",
                calibration.layers.len()
            )));
        }
        let slots = params.max_slots();
        if slots < BLOCK {
            return Err(NnError::InvalidShape(format!(
                "{} has {slots} slots; a token block needs {BLOCK}",
                params.name()
            )));
        }
        let layers = (total - encrypted..total)
            .map(|i| {
                EncryptedLayer::new(params, &model.layers()[i], i, &calibration.layers[i], BLOCK, slots, MAX_TOKENS)
            })
            .collect::<Result<_>>()?;
        Ok(Self { layers, total_layers: total, hidden: model.config().hidden_size, slots })
    }

    /// The encrypted layers.
    #[must_use]
    pub fn layers(&self) -> &[EncryptedLayer] {
        &self.layers
    }

    /// Index of the first encrypted layer (the data party runs the ones before).
    #[must_use]
    pub fn first_encrypted(&self) -> usize {
        self.total_layers - self.layers.len()
    }

    /// The layout of a sequence of `tokens` tokens.
    pub fn layout(&self, tokens: usize) -> Result<TokenLayout> {
        if tokens > MAX_TOKENS {
            return Err(NnError::TooManyTokens { tokens, max: MAX_TOKENS });
        }
        TokenLayout::new(tokens, self.hidden, BLOCK, self.slots)
    }

    /// Rotation steps the evaluation keys must cover for sequences of up
    /// to `max_tokens` tokens (pooling included).
    pub fn rotations(&self, max_tokens: usize) -> Result<Vec<i64>> {
        let layout = self.layout(max_tokens)?;
        let mut steps: Vec<i64> = self.layers.iter().flat_map(|l| l.rotations(&layout)).collect();
        steps.extend(ops::rotate_sum_steps(BLOCK as i64, layout.per_ciphertext()));
        steps.sort_unstable();
        steps.dedup();
        Ok(steps)
    }

    /// The data party's plaintext part: embeddings of the real tokens, then
    /// the layers before the first encrypted one.
    pub fn plaintext_prefix(&self, model: &MiniLm, tokens: &Tokens) -> Result<Array2<f64>> {
        let real = tokens.mask.iter().filter(|&&m| m == 1).count();
        let tokens = Tokens {
            ids: tokens.ids[..real].to_vec(),
            type_ids: tokens.type_ids[..real].to_vec(),
            mask: vec![1; real],
        };
        self.layout(real)?;
        let mut x = model.embeddings().forward(&tokens)?;
        for layer in &model.layers()[..self.first_encrypted()] {
            x = layer.forward(x.view(), &tokens.mask)?;
        }
        Ok(x.mapv(f64::from))
    }

    /// The encrypted layers on `x` (token layout).
    pub fn forward<A: Arith>(
        &self,
        a: &Counting<A>,
        session: &mut Session<'_, A>,
        x: Vec<A::Value>,
        layout: &TokenLayout,
    ) -> Result<Vec<A::Value>> {
        self.layers.iter().try_fold(x, |x, layer| layer.forward(a, session, x, layout))
    }

    /// Mean over the real tokens, in every block of one ciphertext (1 level).
    pub fn mean_pool<A: Arith>(
        &self,
        a: &Counting<A>,
        session: &mut Session<'_, A>,
        x: Vec<A::Value>,
        layout: &TokenLayout,
    ) -> Result<A::Value> {
        let pooled = session.step(a, "pooling", 1, |s| {
            let x = s.ensure(a, x, 1)?;
            let per = layout.per_ciphertext();
            let parts: Vec<A::Value> = x
                .iter()
                .enumerate()
                .map(|(g, v)| {
                    let real = layout.tokens().saturating_sub(g * per).min(per);
                    let mask = (0..per).fold(vec![0.0; layout.slots()], |mut m, b| {
                        if b < real {
                            m[b * BLOCK..b * BLOCK + layout.width()].fill(1.0 / layout.tokens() as f64);
                        }
                        m
                    });
                    ops::plain_product(a, v, &mask)
                })
                .collect::<Result<_>>()?;
            ops::rotate_sum(a, ops::sum(a, &parts)?, BLOCK as i64, per)
        })?;
        session.observe(std::slice::from_ref(&pooled), Shape::Pooled)?;
        Ok(pooled)
    }
}
