//! Encrypted neural-network building blocks on top of the public `ckks` API:
//! linear algebra over slot-packed ciphertexts ([`linalg`]), polynomial
//! approximations of activations and of the nonlinear pieces of softmax and
//! layer normalization ([`approx`]), classification heads trained on
//! ciphertexts ([`head`]), and the data and compute parties ([`party`]).
//! Nothing here touches the scheduler or a backend, so everything runs on
//! every backend.

pub mod approx;
pub mod encoder;
pub mod error;
pub mod head;
pub mod linalg;
pub mod party;

pub use error::{NnError, Result};
