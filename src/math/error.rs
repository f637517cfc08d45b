use thiserror::Error;

/// Errors of the number-theory layer.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum MathError {
    /// A modulus outside the supported range or not prime.
    #[error("invalid modulus {q}: {reason}")]
    InvalidModulus {
        /// The rejected value.
        q: u64,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Not enough NTT-friendly primes exist in the requested range.
    #[error("not enough NTT-friendly primes below 2^{max_bits} for 2N = {two_n}: wanted {wanted}, found {found}")]
    NotEnoughPrimes {
        /// Upper bound in bits.
        max_bits: u32,
        /// The NTT order 2N.
        two_n: u64,
        /// Number of primes requested.
        wanted: usize,
        /// Number of primes available.
        found: usize,
    },
    /// The operating system's random source failed.
    #[error("operating-system randomness unavailable: {0}")]
    Entropy(String),
}
