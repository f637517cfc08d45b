//! Polynomial approximations of nonlinear functions on CKKS ciphertexts.
//!
//! - [`ChebyshevSeries`]: fitting on an interval (interpolation or Remez
//!   minimax, see [`Fit`]) and the plaintext error.
//! - [`ChebyshevEvaluator`]: depth-optimal evaluation on ciphertexts with
//!   exact scale management, written once against [`Arith`], so the
//!   plaintext mirror [`PlainArith`] runs the very same order of operations.
//! - [`Approximation`]: named functions (sigmoid, tanh, GELU, exp, 1/x, 1/√x,
//!   ReLU) with domains, default degrees, depths and multiplication counts;
//!   [`Relu::max`] for slot-wise max; [`Softmax`] over a ciphertext's slots.
//!
//! Out-of-domain inputs: see [`Domain`]. Nothing can check encrypted values;
//! [`Domain::check`] is for whoever still holds the plaintext.

mod arith;
mod chebyshev;
mod composite;
mod domain;
mod eval;
mod functions;
mod newton;
pub mod reference;
mod remez;
mod softmax;

pub use arith::{Arith, CkksArith, PlainArith, PlainValue};
pub(crate) use arith::{AtLevel, finish, no_terms};
pub use chebyshev::{ChebyshevSeries, Fit, MAX_DEGREE, grid_points};
pub use composite::{Relu, SignStage};
pub use domain::Domain;
pub use eval::ChebyshevEvaluator;
pub use functions::{Approximation, DEFAULT_RELU_STAGES, FUNCTION_NAMES};
pub use newton::{Newton, NewtonTarget};
pub use remez::MAX_MINIMAX_DEGREE;
pub use softmax::Softmax;
