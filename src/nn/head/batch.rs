//! Mini-batches as the heads receive them: the encrypted (or mirrored)
//! ciphertexts of one step, their plaintext slot vectors on the data party's
//! side, and the shape checks every head applies before packing.
//!
//! The slot layout of each vector is the head's own (see its module docs);
//! what the fields hold is the same for every head.

use crate::nn::{NnError, Result};

/// One mini-batch as the compute party receives it (encrypted) or as the
/// mirror holds it.
#[derive(Clone, Debug)]
pub struct Batch<V> {
    /// Samples, packed as the head lays them out.
    pub x: V,
    /// (lr / samples in the batch) · x, for the gradient.
    pub x_grad: V,
    /// Labels (0/1, or one-hot per class), replicated as the head needs them.
    pub y: V,
}

/// The plaintext slot vectors of one [`Batch`] (data party, before encryption).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchValues {
    /// See [`Batch::x`].
    pub x: Vec<f64>,
    /// See [`Batch::x_grad`].
    pub x_grad: Vec<f64>,
    /// See [`Batch::y`].
    pub y: Vec<f64>,
}

impl BatchValues {
    /// All-zero vectors of `slots` slots, to be filled by a head's packing.
    pub(super) fn zeros(slots: usize) -> Self {
        Self { x: vec![0.0; slots], x_grad: vec![0.0; slots], y: vec![0.0; slots] }
    }
}

/// Checks the shape of a mini-batch before packing: 1..=`per_batch` rows of
/// `features` finite values each, and one label per row. `what` names the
/// head in the error.
pub(super) fn check_samples(what: &str, x: &[Vec<f64>], y: &[f64], features: usize, per_batch: usize) -> Result<()> {
    let invalid = |reason: String| NnError::InvalidApprox { what: format!("{what} batch"), reason };
    if x.is_empty() || x.len() != y.len() || x.len() > per_batch {
        return Err(invalid(format!("{} samples with {} labels (1..={per_batch} per batch)", x.len(), y.len())));
    }
    if let Some(b) = x.iter().position(|row| row.len() != features) {
        return Err(invalid(format!("sample {b} has {} features, expected {features}", x[b].len())));
    }
    match x.iter().position(|row| row.iter().any(|v| !v.is_finite())) {
        Some(b) => Err(invalid(format!("sample {b} has a non-finite feature"))),
        None => Ok(()),
    }
}
