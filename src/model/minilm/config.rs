//! The encoder's hyper-parameters, read from the model folder's config.json
//! (Hugging Face BertConfig) and sentence_bert_config.json
//! (sentence-transformers), and checked for what this implementation supports.

use std::path::Path;

use serde::Deserialize;

use crate::model::{ModelError, Result};

/// Hyper-parameters of a BERT encoder as stored in config.json. For
/// all-MiniLM-L6-v2: vocabulary 30522, hidden 384, 6 layers, 12 heads,
/// intermediate 1536, 512 positions, 2 token types, LayerNorm eps 1e-12.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct BertConfig {
    /// WordPiece vocabulary size (rows of the word embedding table).
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer; divides `hidden_size`.
    pub num_attention_heads: usize,
    /// Width of the feed-forward block's inner layer.
    pub intermediate_size: usize,
    /// Activation of the feed-forward block; only exact "gelu" is supported.
    pub hidden_act: String,
    /// Rows of the position embedding table (longest possible input).
    pub max_position_embeddings: usize,
    /// Rows of the token-type (segment) embedding table.
    pub type_vocab_size: usize,
    /// Epsilon of every LayerNorm.
    pub layer_norm_eps: f64,
    /// Only "absolute" learned position embeddings are supported.
    #[serde(default = "absolute")]
    pub position_embedding_type: String,
}

fn absolute() -> String {
    "absolute".to_owned()
}

/// The part of sentence_bert_config.json the encoder uses.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SentenceConfig {
    /// Inputs are truncated to this many tokens, `[CLS]` and `[SEP]` included.
    pub max_seq_length: usize,
}

impl BertConfig {
    /// Reads and validates config.json.
    pub fn load(path: &Path) -> Result<Self> {
        let config: Self = read_json(path)?;
        config.validate().map_err(|reason| ModelError::Config { path: path.to_owned(), reason })?;
        Ok(config)
    }

    /// Width of one attention head.
    #[must_use]
    pub fn head_size(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let sizes = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} is 0"));
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.hidden_act != "gelu" {
            return Err(format!("hidden_act {:?} is not supported (only exact \"gelu\")", self.hidden_act));
        }
        if self.position_embedding_type != "absolute" {
            return Err(format!(
                "position_embedding_type {:?} is not supported (only \"absolute\")",
                self.position_embedding_type
            ));
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(format!("layer_norm_eps {} is not a positive number", self.layer_norm_eps));
        }
        Ok(())
    }
}

impl SentenceConfig {
    /// Reads sentence_bert_config.json and checks `max_seq_length` against
    /// the encoder's position table.
    pub fn load(path: &Path, bert: &BertConfig) -> Result<Self> {
        let config: Self = read_json(path)?;
        if config.max_seq_length < 2 || config.max_seq_length > bert.max_position_embeddings {
            return Err(ModelError::Config {
                path: path.to_owned(),
                reason: format!(
                    "max_seq_length {} is outside [2, max_position_embeddings = {}]",
                    config.max_seq_length, bert.max_position_embeddings
                ),
            });
        }
        Ok(config)
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|cause| ModelError::Io { path: path.to_owned(), cause })?;
    serde_json::from_str(&text).map_err(|e| ModelError::Config { path: path.to_owned(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const MINILM: &str = r#"{"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
        "num_attention_heads": 12, "intermediate_size": 1536, "hidden_act": "gelu",
        "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
        "position_embedding_type": "absolute", "model_type": "bert"}"#;

    #[test]
    fn reads_minilm_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = BertConfig::load(&write(dir.path(), "config.json", MINILM)).unwrap();
        assert_eq!((config.hidden_size, config.head_size(), config.num_hidden_layers), (384, 32, 6));
        let sentence = SentenceConfig::load(&write(dir.path(), "s.json", r#"{"max_seq_length": 256}"#), &config);
        assert_eq!(sentence.unwrap().max_seq_length, 256);
        let too_long = SentenceConfig::load(&write(dir.path(), "s.json", r#"{"max_seq_length": 513}"#), &config);
        assert!(too_long.unwrap_err().to_string().contains("max_seq_length 513"));
    }

    #[test]
    fn rejects_unsupported_configs() {
        let dir = tempfile::tempdir().unwrap();
        for (from, to, needle) in [
            ("\"gelu\"", "\"relu\"", "hidden_act \"relu\""),
            ("\"num_attention_heads\": 12", "\"num_attention_heads\": 7", "not a multiple"),
            ("\"hidden_size\": 384", "\"hidden_size\": 0", "hidden_size is 0"),
            ("\"absolute\"", "\"relative_key\"", "position_embedding_type"),
            ("\"vocab_size\": 30522,", "", "missing field `vocab_size`"),
        ] {
            let path = write(dir.path(), "config.json", &MINILM.replace(from, to));
            let err = BertConfig::load(&path).unwrap_err().to_string();
            assert!(err.starts_with("invalid model config") && err.contains(needle), "{err}");
        }
    }
}
