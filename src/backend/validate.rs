//! Argument checks shared by every backend, so that all of them reject the
//! same bad calls with the same errors.

use super::{BackendError, Basis, DevicePoly, KeySwitchJob, Result, TensorPair};
use crate::math::RnsRing;

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
pub(crate) fn key_switch_inner(job: &KeySwitchJob) -> Result<Basis> {
    let KeySwitchJob { digits, key } = *job;
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

/// `data` holds exactly the limbs of `basis`, which the ring has.
pub(crate) fn upload(basis: Basis, words: usize, ring: &RnsRing) -> Result<()> {
    if words != basis.limbs() * ring.n() || basis.q > ring.q.len() || basis.p > ring.p.len() {
        return Err(BackendError::InvalidArgument {
            op: "upload",
            reason: format!("{words} words do not form basis {basis:?} at N = {}", ring.n()),
        });
    }
    Ok(())
}

/// Signed coefficients to upload: N of them, for a basis of the ring.
pub(crate) fn upload_signed(basis: Basis, coeffs: usize, ring: &RnsRing) -> Result<()> {
    if coeffs != ring.n() || basis.q > ring.q.len() || basis.p > ring.p.len() {
        return Err(BackendError::InvalidArgument {
            op: "upload_signed",
            reason: format!("{coeffs} coefficients for basis {basis:?} at N = {}", ring.n()),
        });
    }
    Ok(())
}

/// Truncation keeps 1..=q Q-limbs of a polynomial without P limbs.
pub(crate) fn truncate(basis: Basis, q: usize) -> Result<()> {
    if basis.p != 0 || q > basis.q || q == 0 {
        return Err(BackendError::InvalidArgument {
            op: "truncate",
            reason: format!("cannot keep {q} Q limbs of basis {basis:?}"),
        });
    }
    Ok(())
}

/// Every tensor operand has the basis of the pair's first.
pub(crate) fn tensor(pair: &TensorPair) -> Result<Basis> {
    let basis = pair[0][0].basis;
    pair.iter().flatten().try_for_each(|p| same_basis("tensor", basis, p.basis))?;
    Ok(basis)
}

/// Element-wise operands (the bases of the left ones, then the right
/// ones) pair up one to one with equal bases.
pub(crate) fn elementwise(lhs: impl ExactSizeIterator<Item = Basis>, rhs: &[&DevicePoly]) -> Result<()> {
    if lhs.len() != rhs.len() {
        return Err(BackendError::InvalidArgument {
            op: "elementwise",
            reason: format!("{} left operands for {} right ones", lhs.len(), rhs.len()),
        });
    }
    lhs.zip(rhs).try_for_each(|(l, r)| same_basis("elementwise", l, r.basis))
}

/// One constant per limb of every operand (given by its basis).
pub(crate) fn scalar(mut bases: impl Iterator<Item = Basis>, per_limb: &[u32]) -> Result<()> {
    match bases.find(|b| per_limb.len() != b.limbs()) {
        Some(b) => Err(BackendError::InvalidArgument {
            op: "scalar",
            reason: format!("{} constants for {} limbs", per_limb.len(), b.limbs()),
        }),
        None => Ok(()),
    }
}

/// One Q-only source per destination with its Q limbs, and a constant for
/// each of them.
pub(crate) fn add_scaled(dst: &[&mut DevicePoly], src: &[&DevicePoly], per_q_prime: &[u32]) -> Result<()> {
    let err = |reason: String| Err(BackendError::InvalidArgument { op: "add_scaled", reason });
    if dst.len() != src.len() {
        return err(format!("{} destinations for {} sources", dst.len(), src.len()));
    }
    for (d, s) in dst.iter().zip(src) {
        if s.basis != Basis::q(d.basis.q) {
            return err(format!("source basis {:?} for destination basis {:?}", s.basis, d.basis));
        }
        if per_q_prime.len() < s.basis.q {
            return err(format!("{} constants for {} limbs", per_q_prime.len(), s.basis.q));
        }
    }
    Ok(())
}

/// ModUp takes a Q-only polynomial, non-empty digits and at most the ring's P limbs.
pub(crate) fn mod_up(basis: Basis, alpha: usize, p: usize, ring: &RnsRing) -> Result<()> {
    if basis.p != 0 || alpha == 0 || p > ring.p.len() {
        return Err(BackendError::InvalidArgument {
            op: "mod_up",
            reason: format!("basis {basis:?}, alpha {alpha}, p {p}"),
        });
    }
    Ok(())
}

/// One addend pair per key-switching job, of basis {q, 0} for the job's
/// {q, p}, and a constant for each of its Q limbs.
pub(crate) fn key_switch_addends(bases: &[Basis], addends: &[[&DevicePoly; 2]], per_q_prime: &[u32]) -> Result<()> {
    let err = |reason: String| Err(BackendError::InvalidArgument { op: "key_switch_inner_add", reason });
    if addends.len() != bases.len() {
        return err(format!("{} addend pairs for {} jobs", addends.len(), bases.len()));
    }
    for (basis, pair) in bases.iter().zip(addends) {
        if let Some(e) = pair.iter().find(|e| e.basis != Basis::q(basis.q)) {
            return err(format!("addend basis {:?} for a job of basis {basis:?}", e.basis));
        }
        if per_q_prime.len() < basis.q {
            return err(format!("{} constants for {} Q limbs", per_q_prime.len(), basis.q));
        }
    }
    Ok(())
}

/// ModDown needs P limbs and keeps at least one Q limb.
pub(crate) fn mod_down(basis: Basis, drop: usize) -> Result<()> {
    if basis.p == 0 || drop >= basis.q {
        return Err(BackendError::InvalidArgument {
            op: "mod_down",
            reason: format!("cannot divide basis {basis:?} by P and {drop} Q limbs"),
        });
    }
    Ok(())
}

/// Rescale drops fewer Q limbs than there are, from a polynomial without P limbs.
pub(crate) fn rescale(basis: Basis, drop: usize) -> Result<()> {
    if basis.p != 0 || drop >= basis.q {
        return Err(BackendError::InvalidArgument {
            op: "rescale",
            reason: format!("cannot drop {drop} limbs of basis {basis:?}"),
        });
    }
    Ok(())
}
