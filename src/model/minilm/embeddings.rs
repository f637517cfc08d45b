//! The input block: word + position + token-type embeddings, then LayerNorm.

use ndarray::{Array2, ArrayView2};

use super::config::BertConfig;
use super::layer_norm::LayerNorm;
use super::tokenizer::Tokens;
use super::weights::{Loaded, Weights};
use crate::model::{ModelError, Result};

/// Maps token ids to the first hidden state (`[tokens, hidden]`).
#[derive(Clone, Debug)]
pub struct Embeddings {
    word: Array2<f32>,
    position: Array2<f32>,
    token_type: Array2<f32>,
    norm: LayerNorm,
}

impl Embeddings {
    /// Reads the `embeddings.*` tensors.
    pub(super) fn load(weights: &Weights, config: &BertConfig) -> Loaded<Self> {
        let hidden = config.hidden_size;
        Ok(Self {
            word: weights.matrix("embeddings.word_embeddings.weight", config.vocab_size, hidden)?,
            position: weights.matrix(
                "embeddings.position_embeddings.weight",
                config.max_position_embeddings,
                hidden,
            )?,
            token_type: weights.matrix("embeddings.token_type_embeddings.weight", config.type_vocab_size, hidden)?,
            norm: LayerNorm::load(weights, "embeddings.LayerNorm", hidden, config.layer_norm_eps)?,
        })
    }

    /// Word embedding table, `[vocab, hidden]`.
    #[must_use]
    pub fn word(&self) -> ArrayView2<'_, f32> {
        self.word.view()
    }

    /// Position embedding table, `[max positions, hidden]`.
    #[must_use]
    pub fn position(&self) -> ArrayView2<'_, f32> {
        self.position.view()
    }

    /// Token-type embedding table, `[token types, hidden]`.
    #[must_use]
    pub fn token_type(&self) -> ArrayView2<'_, f32> {
        self.token_type.view()
    }

    /// The LayerNorm applied to the sum.
    #[must_use]
    pub fn norm(&self) -> &LayerNorm {
        &self.norm
    }

    /// Row i is `LayerNorm(word[ids[i]] + position[i] + token_type[type_ids[i]])`.
    /// Ids outside the tables and inputs longer than the position table are errors.
    pub fn forward(&self, tokens: &Tokens) -> Result<Array2<f32>> {
        let invalid = |reason: String| ModelError::InvalidInput { op: "embeddings", reason };
        let len = tokens.len();
        if len == 0 || len > self.position.nrows() {
            return Err(invalid(format!("{len} tokens, expected 1 to {}", self.position.nrows())));
        }
        if tokens.type_ids.len() != len {
            return Err(invalid(format!("{len} token ids but {} token type ids", tokens.type_ids.len())));
        }
        let mut x = self.position.slice(ndarray::s![..len, ..]).to_owned();
        for (i, (&id, &kind)) in tokens.ids.iter().zip(&tokens.type_ids).enumerate() {
            let word =
                self.word.row(lookup(id, self.word.nrows()).ok_or_else(|| {
                    invalid(format!("token id {id} is outside the vocabulary of {}", self.word.nrows()))
                })?);
            let kind = self.token_type.row(lookup(kind, self.token_type.nrows()).ok_or_else(|| {
                invalid(format!("token type {kind} is outside the {} types", self.token_type.nrows()))
            })?);
            let mut row = x.row_mut(i);
            row += &word;
            row += &kind;
        }
        self.norm.forward(x.view())
    }
}

/// `id` as a row index when it is below `rows`.
fn lookup(id: u32, rows: usize) -> Option<usize> {
    usize::try_from(id).ok().filter(|&i| i < rows)
}
