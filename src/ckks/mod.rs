//! The CKKS scheme: parameters, encoding, keys, encryption and homomorphic
//! evaluation, written once against the scheduler (no device code here).

pub mod error;
pub mod params;
pub mod presets;
pub mod security;

pub use error::{CkksError, ParamsError, Result, SerializationError};
pub use params::{Params, ParamsLiteral};
pub use presets::preset;
