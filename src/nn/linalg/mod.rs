//! Encrypted linear algebra over slot-packed ciphertexts.
//!
//! A ciphertext with `L` slots (a power of two) is a cyclic vector of length
//! `L`: a rotation by `k` moves slot `j + k` to slot `j`, modulo `L`. Vectors
//! shorter than `L` are packed *replicated*: `x` padded to a power of two `n`
//! and repeated `L / n` times ([`pack_replicated`]), so that rotations wrap
//! inside every copy. Layers chain: a [`MatVec`] takes a replicated input
//! and returns a replicated output.
//!
//! - [`MatVec`]: plaintext matrix × encrypted vector, diagonal method with
//!   baby-step giant-step and hoisted baby rotations (1 level).
//! - [`rotate_and_sum`]: the sum of a vector's blocks (log rotations, 0 levels).

mod matvec;
mod reduce;

pub use matvec::{MatVec, MatVecCounts};
pub use reduce::{rotate_and_sum, rotate_and_sum_steps};

use crate::ckks::{CkksError, Result};

/// `values` padded with zeros to `period` (a power of two ≥ its length) and
/// repeated to fill `slots` (a multiple of `period`).
pub fn pack_replicated(values: &[f64], period: usize, slots: usize) -> Result<Vec<f64>> {
    if !period.is_power_of_two() || !slots.is_power_of_two() || period > slots || values.len() > period {
        return Err(CkksError::InvalidInput {
            op: "pack_replicated",
            reason: format!(
                "{} values do not pack with period {period} into {slots} slots (powers of two, period ≤ slots)",
                values.len()
            ),
        });
    }
    Ok((0..slots).map(|j| values.get(j % period).copied().unwrap_or(0.0)).collect())
}
