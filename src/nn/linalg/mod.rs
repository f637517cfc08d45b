//! Encrypted linear algebra over slot-packed ciphertexts.
//!
//! A ciphertext with `L` slots (a power of two) is a cyclic vector of length
//! `L`: a rotation by `k` moves slot `j + k` to slot `j`, modulo `L`. Vectors
//! shorter than `L` are packed *replicated*: `x` padded to a power of two `n`
//! and repeated `L / n` times ([`pack_replicated`]), so that rotations wrap
//! inside every copy. Layers chain: a [`MatVec`] takes a replicated input
//! and returns a replicated output. Matrices are packed in row blocks
//! ([`RowBlocks`]: one row per block of a power-of-two width, zero-padded),
//! and the matrix products take and return that packing.
//!
//! - [`MatVec`]: plaintext matrix × encrypted vector, diagonal method with
//!   baby-step giant-step and hoisted baby rotations (1 level).
//! - [`MatMulPlain`]: encrypted matrix × plaintext matrix, the diagonals of
//!   a block-diagonal matrix with baby-step giant-step (1 level).
//! - [`MatMulABt`], [`MatMulAtB`]: encrypted × encrypted products A·Bᵀ
//!   (attention scores Q·Kᵀ) and Aᵀ·B (gradients), by broadcasting rows or
//!   columns with masks and rotate-and-sum (3 levels).
//! - [`rotate_and_sum`]: the sum of a vector's blocks (log rotations, 0 levels).

mod layout;
mod matmul;
mod matmul_enc;
mod matvec;
mod reduce;

pub use layout::RowBlocks;
pub use matmul::{MatMulCounts, MatMulPlain};
pub use matmul_enc::{MatMulABt, MatMulAtB};
pub use matvec::{MatVec, MatVecCounts};
pub use reduce::{rotate_and_sum, rotate_and_sum_many, rotate_and_sum_steps};

use num_complex::Complex64;

use crate::ckks::{Ciphertext, CkksError, Context, Plaintext, Result};

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

/// Real `values` encoded at `level` with scale q_level (the primes the next
/// rescale drops), so that multiplying by it and rescaling returns exactly
/// to the ciphertext's scale.
fn encode_exact(ctx: &Context, values: &[f64], level: usize) -> Result<Plaintext> {
    let complex: Vec<Complex64> = values.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    ctx.encode(&complex, level, ctx.params().level_modulus(level))
}

/// An encryption of zero at `level` with `ct`'s scale, slots and key (the
/// product with an all-zero matrix).
fn zero_like(ctx: &Context, ct: &Ciphertext, level: usize) -> Result<Ciphertext> {
    let low = ctx.drop_to_level(ct, level)?;
    ctx.sub(&low, &low)
}
