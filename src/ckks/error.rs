//! Errors of the CKKS layer.

use thiserror::Error;

use crate::backend::BackendError;
use crate::math::MathError;

/// Result type of the CKKS layer.
pub type Result<T> = std::result::Result<T, CkksError>;

/// Invalid or insecure parameters.
#[derive(Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum ParamsError {
    /// A field is out of range.
    #[error("invalid parameter {field}: {reason}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Not enough NTT-friendly primes below 2^30 for this N.
    #[error("not enough NTT-friendly primes below 2^30 for N = 2^{log_n}: need {wanted}, found {found}")]
    NotEnoughPrimes {
        /// log2 N.
        log_n: u32,
        /// Primes needed.
        wanted: usize,
        /// Primes available.
        found: usize,
    },
    /// The chosen primes cannot keep the scale near 2^log_scale.
    #[error("no primes keep the scale near 2^{log_scale} at level {level}; lower log_scale")]
    ScaleDrift {
        /// Requested log2 scale.
        log_scale: f64,
        /// Level where it drifted.
        level: usize,
    },
    /// Outside the HE-standard 128-bit bound without a `toy-` name.
    #[error("parameter set {name} is not 128-bit secure: {reason} (only sets named toy-* may be insecure)")]
    Insecure {
        /// Name of the set.
        name: String,
        /// Why.
        reason: String,
    },
    /// No preset of that name.
    #[error("unknown preset {name:?}; known presets: {known}")]
    UnknownPreset {
        /// Requested name.
        name: String,
        /// Comma-separated known names.
        known: String,
    },
    /// A prime failed validation.
    #[error(transparent)]
    Math(#[from] MathError),
}

/// Errors reading or writing hetl files.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SerializationError {
    /// Not a hetl file, or a different kind of object.
    #[error("not a hetl {expected} file (bad magic or kind)")]
    WrongKind {
        /// What the caller expected.
        expected: &'static str,
    },
    /// Written by an unsupported format version.
    #[error("unsupported format version {found} (this build reads version {supported})")]
    Version {
        /// Version in the file.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// The file ends early.
    #[error("file is truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// Bytes expected.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The checksum does not match: corrupt data.
    #[error("integrity check failed: the file is corrupt")]
    Checksum,
    /// The object belongs to another parameter set.
    #[error("parameter-set mismatch: file was made for {found}, expected {expected}")]
    ParamsMismatch {
        /// Fingerprint in the file (hex).
        found: String,
        /// Fingerprint of the parameters in use (hex).
        expected: String,
    },
    /// Structurally invalid contents.
    #[error("malformed file: {0}")]
    Malformed(String),
    /// Underlying I/O error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Errors of CKKS operations.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CkksError {
    /// Bad parameters.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The ciphertext has no level left for this operation.
    #[error("{op}: level exhausted (ciphertext is at level {level}, the operation needs {needed} more)")]
    LevelExhausted {
        /// Operation name.
        op: &'static str,
        /// Current level.
        level: usize,
        /// Levels needed.
        needed: usize,
    },
    /// Operands at different levels.
    #[error("{op}: level mismatch ({lhs} vs {rhs}); drop the higher operand to the lower level first")]
    LevelMismatch {
        /// Operation name.
        op: &'static str,
        /// Left level.
        lhs: usize,
        /// Right level.
        rhs: usize,
    },
    /// Operands at different scales.
    #[error("{op}: scale mismatch (2^{lhs:.4} vs 2^{rhs:.4})")]
    ScaleMismatch {
        /// Operation name.
        op: &'static str,
        /// log2 of the left scale.
        lhs: f64,
        /// log2 of the right scale.
        rhs: f64,
    },
    /// Operands from different parameter sets.
    #[error("{op}: operands belong to different parameter sets")]
    ParamsMismatch {
        /// Operation name.
        op: &'static str,
    },
    /// Operands or keys from different key pairs.
    #[error("{op}: encrypted under a different key pair")]
    KeyMismatch {
        /// Operation name.
        op: &'static str,
    },
    /// A needed evaluation key was not provided.
    #[error("{op}: missing {kind} key{}", step.map(|s| format!(" for step {s}")).unwrap_or_default())]
    MissingKey {
        /// Operation name.
        op: &'static str,
        /// "relinearization", "rotation" or "conjugation".
        kind: &'static str,
        /// Rotation step, if any.
        step: Option<i64>,
    },
    /// Inputs that cannot be encoded or are otherwise out of range.
    #[error("{op}: {reason}")]
    InvalidInput {
        /// Operation name.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Device-layer failure.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Number-theory failure (e.g. no OS randomness).
    #[error(transparent)]
    Math(#[from] MathError),
    /// File format problem.
    #[error(transparent)]
    Serialization(#[from] SerializationError),
}
