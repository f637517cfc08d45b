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
    /// A device kernel (shader) failed to compile or to build its pipeline.
    #[error("kernel {name} failed to build: {reason}")]
    Kernel {
        /// Source file of the kernel family.
        name: &'static str,
        /// The compiler's message, with the source location.
        reason: String,
    },
    /// The device could not allocate memory.
    #[error("device out of memory allocating {bytes} bytes")]
    OutOfMemory {
        /// Size of the failed allocation.
        bytes: u64,
    },
    /// The device reported an error while running an operation.
    #[error("{op}: device error: {reason}")]
    Device {
        /// Operation name.
        op: &'static str,
        /// The driver's message.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_strings() {
        let cases = [
            (
                BackendError::DriverUnavailable { backend: "wgpu", reason: "no adapter".into() },
                "backend wgpu is unavailable: no adapter",
            ),
            (BackendError::Kernel { name: "ntt.wgsl", reason: "bad".into() }, "kernel ntt.wgsl failed to build: bad"),
            (BackendError::OutOfMemory { bytes: 64 }, "device out of memory allocating 64 bytes"),
            (BackendError::Device { op: "download", reason: "lost".into() }, "download: device error: lost"),
            (
                BackendError::ForeignMemory { op: "copy", backend: "cpu" },
                "copy: polynomial belongs to another backend than cpu",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }
}
