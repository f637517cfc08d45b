//! Encrypted neural-network building blocks on top of the public `ckks` API:
//! polynomial approximations of activations and of the nonlinear pieces of
//! softmax and layer normalization. Nothing here touches `math`, the
//! scheduler or a backend.

pub mod approx;
pub mod error;

pub use error::{NnError, Result};
