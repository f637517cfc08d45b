//! Number theory on 32-bit words: modular arithmetic, NTT-friendly primes,
//! the negacyclic NTT, RNS basis conversion, CRT reconstruction, sampling and
//! the encoding FFT.
//!
//! Nothing here knows about ciphertexts, scales or devices; `ckks` and the
//! backends build on it.

pub mod crt;
mod error;
pub mod fft;
pub mod limb_ops;
pub mod modulus;
pub mod ntt;
pub mod primes;
pub mod ring;
pub mod rns;
pub mod sampling;

pub use error::MathError;
pub use modulus::Modulus;
pub use ntt::NttTable;
pub use ring::RnsRing;
