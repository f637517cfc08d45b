//! Homomorphic evaluation. Each operation checks its operands (parameter
//! set, level, scale, degree, keys) and then submits a short sequence of
//! backend primitives through the scheduler; no device code lives here.

mod arith;
mod keyswitch;
mod mul;
mod rotation_sums;

use super::ciphertext::Operand;
use super::{Ciphertext, CkksError, Result};

/// Relative scale difference below which two scales count as equal (only
/// floating-point noise from scale bookkeeping is that small).
pub const SCALE_TOLERANCE: f64 = 1e-9;

impl super::Context {
    /// A ciphertext at `level` and `scale` must leave its values room below
    /// Q_level/2: past it they wrap around the modulus and decrypt to noise,
    /// silently. Products not yet rescaled are where this happens.
    pub(crate) fn check_scale_room(&self, op: &'static str, level: usize, scale: f64) -> Result<()> {
        let log_q = self.params().log_q_at(level);
        if scale.log2() < log_q - 1.0 {
            return Ok(());
        }
        Err(CkksError::InvalidInput {
            op,
            reason: format!(
                "scale 2^{:.1} leaves no room below the modulus 2^{log_q:.1} of level {level}: the values would \
                 wrap around (rescale the operands first)",
                scale.log2()
            ),
        })
    }
}

/// The terms of one sum of products: each a degree-1 ciphertext, under the
/// first term's key and at its level, times an operand at that level, and
/// every product at the first product's scale (which is returned), with room
/// below the modulus.
fn check_product_sum<B: Operand>(ctx: &super::Context, op: &'static str, terms: &[(&Ciphertext, &B)]) -> Result<f64> {
    let Some(&(first, first_other)) = terms.first() else {
        return Err(CkksError::InvalidInput { op, reason: "an empty group has no sum".into() });
    };
    let scale = first.scale * first_other.scale();
    ctx.check_scale_room(op, first.level, scale)?;
    for &(ct, other) in terms {
        check_compatible(op, ct, other)?;
        check_compatible(op, first, ct)?;
        check_same_key(op, first, ct)?;
        check_linear(op, ct)?;
        let product = ct.scale * other.scale();
        if (product / scale - 1.0).abs() > SCALE_TOLERANCE {
            return Err(CkksError::ScaleMismatch { op, lhs: scale.log2(), rhs: product.log2() });
        }
    }
    Ok(scale)
}

/// Same parameter set and level.
fn check_compatible(op: &'static str, a: &impl Operand, b: &impl Operand) -> Result<()> {
    if a.params_id() != b.params_id() {
        return Err(CkksError::ParamsMismatch { op });
    }
    if a.level() != b.level() {
        return Err(CkksError::LevelMismatch { op, lhs: a.level(), rhs: b.level() });
    }
    Ok(())
}

/// Same key pair (ciphertext-ciphertext operations).
fn check_same_key(op: &'static str, a: &Ciphertext, b: &Ciphertext) -> Result<()> {
    if a.key_id == b.key_id { Ok(()) } else { Err(CkksError::KeyMismatch { op }) }
}

/// Same parameter set, level and scale (for additions).
fn check_additive(op: &'static str, a: &impl Operand, b: &impl Operand) -> Result<()> {
    check_compatible(op, a, b)?;
    if (a.scale() / b.scale() - 1.0).abs() > SCALE_TOLERANCE {
        return Err(CkksError::ScaleMismatch { op, lhs: a.scale().log2(), rhs: b.scale().log2() });
    }
    Ok(())
}

/// Degree-1 ciphertext (two polynomials) required.
fn check_linear(op: &'static str, ct: &Ciphertext) -> Result<()> {
    if ct.polys.len() == 2 {
        Ok(())
    } else {
        Err(CkksError::InvalidInput { op, reason: "ciphertext has degree 2; relinearize it first".into() })
    }
}
