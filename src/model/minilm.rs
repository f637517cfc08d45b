//! all-MiniLM-L6-v2 (a 6-layer BERT with mean pooling) in plain ndarray, f32
//! like the Hugging Face reference.
//!
//! The pipeline is split into the pieces the encrypted Setup 1 replaces one
//! at a time: [`MiniLm::tokenize`] -> [`Embeddings::forward`] -> each
//! [`EncoderLayer::forward`] (itself [`Attention`] then [`FeedForward`], both
//! built from [`Linear`] and [`LayerNorm`]) -> [`mean_pool`] ->
//! [`l2_normalize`]. Hidden states are `[tokens, hidden]` matrices of one
//! sentence; the attention mask has one entry per token (1 real, 0 padding).

mod attention;
mod config;
mod embeddings;
mod feed_forward;
mod layer;
mod layer_norm;
mod linear;
mod pooling;
#[cfg(test)]
mod testing;
mod tokenizer;
mod weights;

use std::path::Path;

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

pub use attention::{Attention, masked_softmax};
pub use config::{BertConfig, SentenceConfig};
pub use embeddings::Embeddings;
pub use feed_forward::{FeedForward, gelu};
pub use layer::EncoderLayer;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use pooling::{l2_normalize, mean_pool};
pub use tokenizer::Tokens;
use tokenizer::WordPiece;
use weights::{Loaded, Weights};

use crate::model::{ModelError, Result};

/// Files a model folder must hold (as tools/fetch_model.sh extracts them).
pub const REQUIRED_FILES: [&str; 4] =
    ["config.json", "sentence_bert_config.json", "tokenizer.json", "model.safetensors"];

/// The sentence encoder: tokenizer, embeddings and encoder layers.
pub struct MiniLm {
    config: BertConfig,
    tokenizer: WordPiece,
    embeddings: Embeddings,
    layers: Vec<EncoderLayer>,
}

impl MiniLm {
    /// Loads a sentence-transformers BERT folder (config.json,
    /// sentence_bert_config.json, tokenizer.json, model.safetensors), such as
    /// `models/all-MiniLM-L6-v2` from `tools/fetch_model.sh`. A missing file
    /// is an error that says to run that script; every tensor is checked for
    /// dtype (F32, or F16 from `tools/shrink_model.py`) and the shape
    /// config.json implies.
    pub fn load(dir: &Path) -> Result<Self> {
        if let Some(file) = REQUIRED_FILES.into_iter().find(|f| !dir.join(f).is_file()) {
            return Err(ModelError::MissingModel { dir: dir.to_owned(), file });
        }
        let config = BertConfig::load(&dir.join("config.json"))?;
        let sentence = SentenceConfig::load(&dir.join("sentence_bert_config.json"), &config)?;

        let path = dir.join("model.safetensors");
        let bytes = std::fs::read(&path).map_err(|cause| ModelError::Io { path: path.clone(), cause })?;
        let blocks = Weights::parse(&bytes).and_then(|weights| {
            let embeddings = Embeddings::load(&weights, &config)?;
            let layers = (0..config.num_hidden_layers)
                .map(|i| EncoderLayer::load(&weights, i, &config))
                .collect::<Loaded<Vec<_>>>()?;
            Ok((embeddings, layers))
        });
        let (embeddings, layers) = blocks.map_err(|cause| ModelError::Weights { path, cause })?;

        let tokenizer = WordPiece::load(&dir.join("tokenizer.json"), sentence.max_seq_length)?;
        Ok(Self { config, tokenizer, embeddings, layers })
    }

    /// The encoder's hyper-parameters.
    #[must_use]
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// WordPiece ids of one text with `[CLS]` and `[SEP]`, truncated to the
    /// model's `max_seq_length` (256 for all-MiniLM-L6-v2), no padding.
    pub fn tokenize(&self, text: &str) -> Result<Tokens> {
        self.tokenizer.tokenize(text)
    }

    /// The input block (first hidden state from token ids).
    #[must_use]
    pub fn embeddings(&self) -> &Embeddings {
        &self.embeddings
    }

    /// The encoder layers, first to last.
    #[must_use]
    pub fn layers(&self) -> &[EncoderLayer] {
        &self.layers
    }

    /// The last hidden state (`[tokens, hidden]`) of a tokenized sentence.
    pub fn encode(&self, tokens: &Tokens) -> Result<Array2<f32>> {
        self.layers.iter().try_fold(self.embeddings.forward(tokens)?, |x, layer| layer.forward(x.view(), &tokens.mask))
    }

    /// The unit-length sentence embedding (`[hidden]`) of a tokenized sentence:
    /// mean of the last hidden state over the real tokens, L2-normalised.
    pub fn sentence_embedding(&self, tokens: &Tokens) -> Result<Array1<f32>> {
        Ok(l2_normalize(mean_pool(self.encode(tokens)?.view(), &tokens.mask)?))
    }

    /// Sentence embeddings of `texts`, one unit-length row each
    /// (`[texts, hidden]`), computed in parallel.
    pub fn embed(&self, texts: &[&str]) -> Result<Array2<f32>> {
        let rows =
            texts.par_iter().map(|text| self.sentence_embedding(&self.tokenize(text)?)).collect::<Result<Vec<_>>>()?;
        let mut out = Array2::zeros((rows.len(), self.config.hidden_size));
        for (mut dst, row) in out.axis_iter_mut(Axis(0)).zip(&rows) {
            dst.assign(row);
        }
        Ok(out)
    }
}

/// Checks that `x` has `width` columns; `op` names the block in the error.
fn check_width(op: &'static str, x: ArrayView2<f32>, width: usize) -> Result<()> {
    if x.ncols() == width {
        return Ok(());
    }
    Err(ModelError::InvalidInput { op, reason: format!("input has width {}, expected {width}", x.ncols()) })
}

/// Checks that `mask` has one 0/1 entry per token and marks at least one token.
fn check_mask(op: &'static str, tokens: usize, mask: &[u32]) -> Result<()> {
    let invalid = |reason: String| Err(ModelError::InvalidInput { op, reason });
    if mask.len() != tokens {
        return invalid(format!("mask has {} entries for {tokens} tokens", mask.len()));
    }
    if mask.iter().any(|&m| m > 1) {
        return invalid("mask entries must be 0 or 1".to_owned());
    }
    if !mask.contains(&1) {
        return invalid("mask marks no token".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::testing::TinyModel;
    use super::*;

    #[test]
    fn missing_folder_or_file_says_to_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let err = MiniLm::load(&dir.path().join("absent")).err().unwrap().to_string();
        assert!(err.contains("lacks config.json") && err.contains("tools/fetch_model.sh"), "{err}");

        let tiny = TinyModel::write();
        std::fs::remove_file(tiny.dir().join("model.safetensors")).unwrap();
        let err = MiniLm::load(tiny.dir()).err().unwrap().to_string();
        assert!(err.contains("lacks model.safetensors") && err.contains("tools/fetch_model.sh"), "{err}");
    }

    #[test]
    fn wrong_weights_are_errors() {
        let tiny = TinyModel::write();
        let path = tiny.dir().join("model.safetensors");
        tiny.write_weights(|name, shape| {
            if name == "encoder.layer.1.output.dense.weight" { vec![shape[1], shape[0]] } else { shape }
        });
        let err = MiniLm::load(tiny.dir()).err().unwrap().to_string();
        assert!(
            err.contains("tensor encoder.layer.1.output.dense.weight has shape [16, 8], expected [8, 16]"),
            "{err}"
        );

        std::fs::write(&path, b"\x05\x00\x00\x00\x00\x00\x00\x00{}").unwrap();
        let err = MiniLm::load(tiny.dir()).err().unwrap().to_string();
        assert!(err.contains("not a safetensors file"), "{err}");
    }

    #[test]
    fn embeddings_are_unit_length_and_deterministic() {
        let tiny = TinyModel::write();
        let model = MiniLm::load(tiny.dir()).unwrap();
        let texts = ["The patient has a mass.", "Benign masses.", "the the the"];
        let a = model.embed(&texts).unwrap();
        assert_eq!(a.dim(), (3, 8));
        for row in a.rows() {
            assert!((row.dot(&row) - 1.0).abs() < 1e-5);
        }
        assert_eq!(a, model.embed(&texts).unwrap());
        assert_eq!(model.embed(&[]).unwrap().dim(), (0, 8));
    }

    #[test]
    fn long_texts_are_truncated_to_max_seq_length() {
        let tiny = TinyModel::write();
        let model = MiniLm::load(tiny.dir()).unwrap();
        let tokens = model.tokenize(&"the patient ".repeat(20)).unwrap();
        assert_eq!(tokens.len(), 16, "max_seq_length of the tiny model");
        assert_eq!((tokens.ids[0], tokens.ids[15]), (2, 3), "[CLS] … [SEP] kept");
        assert!(model.sentence_embedding(&tokens).is_ok());
    }

    #[test]
    fn padding_under_the_mask_changes_nothing() {
        let tiny = TinyModel::write();
        let model = MiniLm::load(tiny.dir()).unwrap();
        let tokens = model.tokenize("The patient has a mass.").unwrap();
        let mut padded = tokens.clone();
        for _ in 0..3 {
            padded.ids.push(0);
            padded.type_ids.push(0);
            padded.mask.push(0);
        }
        let (plain, with_pad) = (model.encode(&tokens).unwrap(), model.encode(&padded).unwrap());
        let real = with_pad.slice(ndarray::s![..tokens.len(), ..]);
        assert!(plain.iter().zip(real.iter()).all(|(a, b)| (a - b).abs() < 1e-5));
        let (e, f) = (model.sentence_embedding(&tokens).unwrap(), model.sentence_embedding(&padded).unwrap());
        assert!(e.iter().zip(f.iter()).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let tiny = TinyModel::write();
        let model = MiniLm::load(tiny.dir()).unwrap();
        let tokens = model.tokenize("a mass").unwrap();
        let error = |r: Result<Array2<f32>>| r.err().unwrap().to_string();

        let bad_id = Tokens { ids: vec![2, 999, 8, 3], ..tokens.clone() };
        assert!(error(model.embeddings().forward(&bad_id)).contains("token id 999 is outside the vocabulary"));
        let too_long = Tokens { ids: vec![2; 17], type_ids: vec![0; 17], mask: vec![1; 17] };
        assert!(error(model.embeddings().forward(&too_long)).contains("17 tokens, expected 1 to 16"));

        let x = model.embeddings().forward(&tokens).unwrap();
        let layer = &model.layers()[0];
        assert!(error(layer.forward(x.view(), &[1, 1])).contains("mask has 2 entries for 4 tokens"));
        assert!(error(layer.forward(x.view(), &[0, 0, 0, 0])).contains("mask marks no token"));
        let narrow = Array2::<f32>::zeros((4, 5));
        assert_eq!(error(layer.forward(narrow.view(), &tokens.mask)), "attention: input has width 5, expected 8");
        assert!(error(layer.feed_forward().forward(narrow.view())).contains("input has width 5"));
    }
}
