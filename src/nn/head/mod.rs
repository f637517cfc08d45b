//! Classification heads trained on encrypted representations (Setup 2 and
//! the last stage of Setup 1).
//!
//! Training is written once against [`crate::nn::approx::Arith`]: on
//! ciphertexts ([`crate::nn::approx::CkksArith`], the compute party) and on
//! its plaintext mirror ([`crate::nn::approx::PlainArith`]), which applies the
//! same approximations, level and scale rules without noise — the
//! "plaintext head trained with the same approximations" of the accuracy
//! comparison. [`logreg::train_exact`] is the reference with the exact
//! sigmoid.

pub mod logreg;
pub mod metrics;
