//! Errors of the `nn` layer.

use thiserror::Error;

use crate::ckks::CkksError;

/// Result type of the `nn` layer.
pub type Result<T> = std::result::Result<T, NnError>;

/// Errors of encrypted neural-network operations.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NnError {
    /// A CKKS operation failed (or its plaintext mirror found the same fault).
    #[error(transparent)]
    Ckks(#[from] CkksError),
    /// Known plaintext values outside an approximation's domain.
    #[error(
        "{what}: {count} value(s) outside the domain [{lo}, {hi}] (first: {value} at index {index}); \
         the approximation is meaningless there"
    )]
    OutOfDomain {
        /// What was checked (function name).
        what: String,
        /// Lower end of the domain.
        lo: f64,
        /// Upper end of the domain.
        hi: f64,
        /// Index of the first offending value.
        index: usize,
        /// The first offending value.
        value: f64,
        /// Number of offending values.
        count: usize,
    },
    /// An approximation cannot be built as requested (degree, domain, ...).
    #[error("{what}: {reason}")]
    InvalidApprox {
        /// What was being built.
        what: String,
        /// Why it cannot be.
        reason: String,
    },
    /// A matrix, sequence or packing of the wrong shape.
    #[error("invalid shape: {0}")]
    InvalidShape(String),
    /// A sequence longer than the encrypted encoder supports.
    #[error("sequence of {tokens} tokens is longer than the {max} the encrypted encoder supports")]
    TooManyTokens {
        /// Tokens given.
        tokens: usize,
        /// Most tokens supported.
        max: usize,
    },
    /// The plaintext model failed (weights, tokenizer).
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// The input has fewer levels than the evaluation consumes.
    #[error("{what}: needs {needed} levels but the input is at level {level}")]
    NotEnoughLevels {
        /// What was being evaluated.
        what: String,
        /// Levels the evaluation consumes.
        needed: usize,
        /// Level of the input.
        level: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_strings() {
        let cases = [
            (
                NnError::OutOfDomain { what: "sigmoid".into(), lo: -8.0, hi: 8.0, index: 3, value: 9.5, count: 2 },
                "sigmoid: 2 value(s) outside the domain [-8, 8] (first: 9.5 at index 3); \
                 the approximation is meaningless there",
            ),
            (
                NnError::InvalidApprox { what: "chebyshev fit".into(), reason: "degree 0".into() },
                "chebyshev fit: degree 0",
            ),
            (
                NnError::NotEnoughLevels { what: "gelu".into(), needed: 6, level: 4 },
                "gelu: needs 6 levels but the input is at level 4",
            ),
            (
                NnError::Ckks(CkksError::LevelExhausted { op: "rescale", level: 0, needed: 1 }),
                "rescale: level exhausted (ciphertext is at level 0, the operation needs 1 more)",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }
}
