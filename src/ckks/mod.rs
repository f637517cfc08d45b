//! The CKKS scheme: parameters, encoding, keys, encryption and homomorphic
//! evaluation, written once against the scheduler (no device code here).

mod budgeted;
mod ciphertext;
mod context;
mod encoder;
mod encryption;
pub mod error;
mod eval;
pub mod keys;
pub mod params;
mod plaintext_cache;
pub mod presets;
pub mod security;
pub mod serialize;
mod value_cache;

pub use ciphertext::{Ciphertext, Plaintext};
pub use context::Context;
pub use encoder::MAX_COEFF_BITS;
pub use error::{CkksError, ParamsError, Result, SerializationError};
pub use eval::SCALE_TOLERANCE;
pub use keys::{EvaluationKeys, KeyBundle, PublicKey, SecretKey, SwitchingKey};
pub use params::{Params, ParamsLiteral};
pub use plaintext_cache::{PlaintextCache, PlaintextKey};
pub use presets::preset;
pub use value_cache::ValueCache;
