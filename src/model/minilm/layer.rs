//! One transformer encoder layer: attention block, then feed-forward block.

use ndarray::{Array2, ArrayView2};

use super::attention::Attention;
use super::config::BertConfig;
use super::feed_forward::FeedForward;
use super::weights::{Loaded, Weights};
use crate::model::Result;

/// `feed_forward(attention(x, mask))`, each block with its residual and LayerNorm.
#[derive(Clone, Debug)]
pub struct EncoderLayer {
    attention: Attention,
    feed_forward: FeedForward,
}

impl EncoderLayer {
    /// Reads the tensors of `encoder.layer.<index>`.
    pub(super) fn load(weights: &Weights, index: usize, config: &BertConfig) -> Loaded<Self> {
        let prefix = format!("encoder.layer.{index}");
        Ok(Self {
            attention: Attention::load(weights, &format!("{prefix}.attention"), config)?,
            feed_forward: FeedForward::load(weights, &prefix, config)?,
        })
    }

    /// The attention block.
    #[must_use]
    pub fn attention(&self) -> &Attention {
        &self.attention
    }

    /// The feed-forward block.
    #[must_use]
    pub fn feed_forward(&self) -> &FeedForward {
        &self.feed_forward
    }

    /// Maps the hidden state `[tokens, hidden]` to the next one; `mask` has
    /// one entry per token (1 real, 0 padding).
    pub fn forward(&self, x: ArrayView2<f32>, mask: &[u32]) -> Result<Array2<f32>> {
        self.feed_forward.forward(self.attention.forward(x, mask)?.view())
    }
}
