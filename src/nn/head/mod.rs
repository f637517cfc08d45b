//! Classification heads trained on encrypted representations (Setup 2 and
//! the last stage of Setup 1).
//!
//! Training is written once against [`crate::nn::approx::Arith`]: on
//! ciphertexts ([`crate::nn::approx::CkksArith`], the compute party) and on
//! its plaintext mirror ([`crate::nn::approx::PlainArith`]), which applies the
//! same approximations, level and scale rules without noise — the
//! "plaintext head trained with the same approximations" of the accuracy
//! comparison. [`logreg::train_exact`] and [`softmax::train_exact`] are the
//! references with the exact sigmoid and softmax.
//!
//! - [`logreg`]: logistic regression (2 classes, a Chebyshev sigmoid);
//! - [`softmax`]: multinomial regression (C ≥ 2 classes, exp and a
//!   Newton inverse);
//! - [`driver`]: the epoch loop both share, with the data party's refresh;
//! - [`metrics`]: accuracy, AUC and F1 on the data party's side.

mod batch;
pub mod driver;
pub mod logreg;
pub mod metrics;
mod packing;
pub mod softmax;
