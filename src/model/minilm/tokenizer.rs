//! WordPiece tokenization with the model's own tokenizer.json (Hugging Face
//! `tokenizers`), set up as sentence-transformers runs it: [CLS] … [SEP],
//! truncation to `max_seq_length`, no padding.

use std::path::Path;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::model::{ModelError, Result};

/// Characters of an input text quoted in a tokenization error.
const QUOTED_CHARS: usize = 60;

/// One tokenized sentence: the encoder's input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    /// WordPiece ids, starting with `[CLS]` and ending with `[SEP]`.
    pub ids: Vec<u32>,
    /// Segment (token type) ids, all 0 for a single sentence.
    pub type_ids: Vec<u32>,
    /// 1 for a real token, 0 for padding (which attention and pooling ignore).
    pub mask: Vec<u32>,
}

impl Tokens {
    /// Number of positions, padding included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no positions at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The model's tokenizer with padding off and truncation at `max_len`.
pub(super) struct WordPiece(Tokenizer);

impl WordPiece {
    /// Loads tokenizer.json; inputs are truncated to `max_len` tokens.
    pub(super) fn load(path: &Path, max_len: usize) -> Result<Self> {
        let error = |reason: String| ModelError::Tokenizer { path: path.to_owned(), reason };
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| error(e.to_string()))?;
        let truncation = TruncationParams {
            direction: TruncationDirection::Right,
            max_length: max_len,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        };
        tokenizer.with_padding(None).with_truncation(Some(truncation)).map_err(|e| error(e.to_string()))?;
        Ok(Self(tokenizer))
    }

    /// Tokenizes one text, with [CLS] and [SEP].
    pub(super) fn tokenize(&self, text: &str) -> Result<Tokens> {
        let encoding = self.0.encode(text, true).map_err(|e| ModelError::Tokenize {
            text: text.chars().take(QUOTED_CHARS).collect(),
            reason: e.to_string(),
        })?;
        Ok(Tokens {
            ids: encoding.get_ids().to_vec(),
            type_ids: encoding.get_type_ids().to_vec(),
            mask: encoding.get_attention_mask().to_vec(),
        })
    }
}
