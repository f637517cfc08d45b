//! The plaintext reference model layer: the all-MiniLM-L6-v2 sentence encoder
//! in ndarray (weights from safetensors, WordPiece tokenizer from
//! tokenizer.json) and the bundled data sets. Every encrypted result of `nn`
//! has a plaintext twin computed here.
//!
//! This layer must not import `ckks`, `nn` or `cli`: it is what the encrypted
//! code is checked against, so it stays independent of it.

pub mod dataset;
mod error;
pub mod minilm;

pub use error::{DatasetError, ModelError, Result, TensorError};
