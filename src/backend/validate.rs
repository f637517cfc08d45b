//! Argument checks shared by every backend, so that all of them reject the
//! same bad calls with the same errors.

use super::{BackendError, Basis, DevicePoly, Result};

/// Operands must have the same basis.
pub(crate) fn same_basis(op: &'static str, lhs: Basis, rhs: Basis) -> Result<()> {
    if lhs == rhs { Ok(()) } else { Err(BackendError::BasisMismatch { op, lhs, rhs }) }
}

/// A Galois element must be odd and below 2N.
pub(crate) fn galois(galois: u64, n: usize) -> Result<()> {
    let two_n = 2 * n as u64;
    if galois % 2 == 1 && galois < two_n {
        Ok(())
    } else {
        Err(BackendError::InvalidArgument {
            op: "automorphism",
            reason: format!("Galois element {galois} must be odd and below 2N = {two_n}"),
        })
    }
}

/// The digits of a key-switching inner product share one basis and the key
/// covers them (its Q part may be longer); returns the digits' basis.
pub(crate) fn key_switch_inner(digits: &[DevicePoly], key: &[[&DevicePoly; 2]]) -> Result<Basis> {
    let Some(first) = digits.first() else {
        return Err(BackendError::InvalidArgument { op: "key_switch_inner", reason: "no digits".into() });
    };
    let basis = first.basis;
    if key.len() < digits.len() || digits.iter().any(|d| d.basis != basis) {
        return Err(BackendError::InvalidArgument {
            op: "key_switch_inner",
            reason: format!("{} digits of basis {basis:?} for {} key digits", digits.len(), key.len()),
        });
    }
    for k in key.iter().flatten() {
        if k.basis.q < basis.q || k.basis.p != basis.p {
            return Err(BackendError::BasisMismatch { op: "key_switch_inner", lhs: basis, rhs: k.basis });
        }
    }
    Ok(basis)
}
