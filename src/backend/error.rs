use thiserror::Error;

use super::Basis;

/// Errors of the device layer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The requested backend cannot run on this machine.
    #[error("backend {backend} is unavailable: {reason}")]
    DriverUnavailable {
        /// Backend name.
        backend: &'static str,
        /// Why (missing driver, no adapter, ...).
        reason: String,
    },
    /// Operands of an operation have different RNS bases.
    #[error("{op}: operand bases differ ({lhs:?} vs {rhs:?})")]
    BasisMismatch {
        /// Operation name.
        op: &'static str,
        /// Left/destination basis.
        lhs: Basis,
        /// Right/source basis.
        rhs: Basis,
    },
    /// An argument does not satisfy the operation's contract.
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// Operation name.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A polynomial allocated by another backend was passed in.
    #[error("{op}: polynomial belongs to another backend than {backend}")]
    ForeignMemory {
        /// Operation name.
        op: &'static str,
        /// This backend's name.
        backend: &'static str,
    },
}
