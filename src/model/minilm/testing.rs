//! A tiny random BERT folder (hidden 8, 2 heads, 2 layers, 13-word
//! vocabulary) in the all-MiniLM-L6-v2 layout, for tests that must not
//! depend on the real weights.

use std::path::Path;

use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde_json::json;
use tempfile::TempDir;

const VOCAB: [&str; 13] =
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "patient", "has", "a", "mass", ".", "benign", "##es", "[MASK]"];
const HIDDEN: usize = 8;
const INTERMEDIATE: usize = 16;
const LAYERS: usize = 2;
const POSITIONS: usize = 16;

/// A temporary model folder; removed on drop.
pub(super) struct TinyModel(TempDir);

impl TinyModel {
    /// Writes config.json, sentence_bert_config.json, tokenizer.json and
    /// deterministic pseudo-random weights.
    pub(super) fn write() -> Self {
        let model = Self(tempfile::tempdir().unwrap());
        let config = json!({
            "vocab_size": VOCAB.len(), "hidden_size": HIDDEN, "num_hidden_layers": LAYERS,
            "num_attention_heads": 2, "intermediate_size": INTERMEDIATE, "hidden_act": "gelu",
            "max_position_embeddings": POSITIONS, "type_vocab_size": 2, "layer_norm_eps": 1e-12
        });
        model.put("config.json", &config);
        model.put("sentence_bert_config.json", &json!({ "max_seq_length": POSITIONS }));
        model.put("tokenizer.json", &tokenizer_json());
        model.write_weights(|_, shape| shape);
        model
    }

    /// The folder.
    pub(super) fn dir(&self) -> &Path {
        self.0.path()
    }

    /// (Re)writes model.safetensors; `reshape(name, shape)` may change the
    /// shape stored for a tensor.
    pub(super) fn write_weights(&self, reshape: impl Fn(&str, Vec<usize>) -> Vec<usize>) {
        let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = shapes()
            .into_iter()
            .enumerate()
            .map(|(k, (name, shape))| {
                let len: usize = shape.iter().product();
                let values = (0..len).map(|i| if name.ends_with("LayerNorm.weight") { 1.0 } else { noise(k, i) });
                let bytes = values.flat_map(f32::to_le_bytes).collect();
                let shape = reshape(&name, shape);
                (name, shape, bytes)
            })
            .collect();
        let views: Vec<_> = tensors
            .iter()
            .map(|(name, shape, bytes)| (name.as_str(), TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap()))
            .collect();
        std::fs::write(self.dir().join("model.safetensors"), safetensors::serialize(views, None).unwrap()).unwrap();
    }

    fn put(&self, name: &str, value: &serde_json::Value) {
        std::fs::write(self.dir().join(name), value.to_string()).unwrap();
    }
}

/// A deterministic value in [-0.5, 0.5) for element `i` of tensor `k`.
fn noise(k: usize, i: usize) -> f32 {
    let x = ((k * 7919 + i) as f64 * 12.9898).sin() * 43758.5453;
    (x - x.floor() - 0.5) as f32
}

/// Every tensor of the model with its configuration-implied shape.
fn shapes() -> Vec<(String, Vec<usize>)> {
    let mut out = vec![
        ("embeddings.word_embeddings.weight".to_owned(), vec![VOCAB.len(), HIDDEN]),
        ("embeddings.position_embeddings.weight".to_owned(), vec![POSITIONS, HIDDEN]),
        ("embeddings.token_type_embeddings.weight".to_owned(), vec![2, HIDDEN]),
    ];
    let norm = |prefix: String, out: &mut Vec<(String, Vec<usize>)>| {
        out.push((format!("{prefix}.weight"), vec![HIDDEN]));
        out.push((format!("{prefix}.bias"), vec![HIDDEN]));
    };
    norm("embeddings.LayerNorm".to_owned(), &mut out);
    for l in 0..LAYERS {
        let p = format!("encoder.layer.{l}");
        for (name, rows, cols) in [
            ("attention.self.query", HIDDEN, HIDDEN),
            ("attention.self.key", HIDDEN, HIDDEN),
            ("attention.self.value", HIDDEN, HIDDEN),
            ("attention.output.dense", HIDDEN, HIDDEN),
            ("intermediate.dense", INTERMEDIATE, HIDDEN),
            ("output.dense", HIDDEN, INTERMEDIATE),
        ] {
            out.push((format!("{p}.{name}.weight"), vec![rows, cols]));
            out.push((format!("{p}.{name}.bias"), vec![rows]));
        }
        norm(format!("{p}.attention.output.LayerNorm"), &mut out);
        norm(format!("{p}.output.LayerNorm"), &mut out);
    }
    out
}

/// A BERT WordPiece tokenizer.json over [`VOCAB`], like all-MiniLM-L6-v2's.
fn tokenizer_json() -> serde_json::Value {
    let vocab: serde_json::Map<_, _> = VOCAB.iter().enumerate().map(|(i, w)| ((*w).to_owned(), json!(i))).collect();
    let special = |t: &str| json!({ "SpecialToken": { "id": t, "type_id": 0 } });
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": { "type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                        "strip_accents": null, "lowercase": true },
        "pre_tokenizer": { "type": "BertPreTokenizer" },
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]"), { "Sequence": { "id": "A", "type_id": 0 } }, special("[SEP]")],
            "pair": [special("[CLS]"), { "Sequence": { "id": "A", "type_id": 0 } }, special("[SEP]"),
                     { "Sequence": { "id": "B", "type_id": 1 } }, { "SpecialToken": { "id": "[SEP]", "type_id": 1 } }],
            "special_tokens": {
                "[CLS]": { "id": "[CLS]", "ids": [2], "tokens": ["[CLS]"] },
                "[SEP]": { "id": "[SEP]", "ids": [3], "tokens": ["[SEP]"] }
            }
        },
        "decoder": null,
        "model": { "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                   "max_input_chars_per_word": 100, "vocab": vocab }
    })
}
