//! Plaintexts and ciphertexts: device polynomials with level, scale and slots.

use crate::backend::DevicePoly;

/// An encoded message: one polynomial in the NTT domain.
#[derive(Debug)]
pub struct Plaintext {
    pub(crate) poly: DevicePoly,
    pub(crate) level: usize,
    pub(crate) scale: f64,
    pub(crate) slots: usize,
    pub(crate) params_id: [u8; 16],
}

/// A CKKS ciphertext (c0, c1[, c2]) in the NTT domain; decrypts to
/// c0 + c1·s (+ c2·s²).
#[derive(Debug)]
pub struct Ciphertext {
    pub(crate) polys: Vec<DevicePoly>,
    pub(crate) level: usize,
    pub(crate) scale: f64,
    pub(crate) slots: usize,
    pub(crate) params_id: [u8; 16],
    /// Identifier of the key pair it was encrypted under.
    pub(crate) key_id: [u8; 16],
}

/// What binary operations need to know about an operand.
pub(crate) trait Operand {
    fn level(&self) -> usize;
    fn scale(&self) -> f64;
    fn params_id(&self) -> [u8; 16];
}

macro_rules! common_accessors {
    ($t:ty) => {
        impl Operand for $t {
            fn level(&self) -> usize {
                self.level
            }
            fn scale(&self) -> f64 {
                self.scale
            }
            fn params_id(&self) -> [u8; 16] {
                self.params_id
            }
        }

        impl $t {
            /// Current level (number of rescales left).
            #[must_use]
            pub fn level(&self) -> usize {
                self.level
            }

            /// Current scale Δ.
            #[must_use]
            pub fn scale(&self) -> f64 {
                self.scale
            }

            /// Number of complex slots encoded.
            #[must_use]
            pub fn slots(&self) -> usize {
                self.slots
            }

            /// Fingerprint of the parameter set this belongs to.
            #[must_use]
            pub fn params_id(&self) -> [u8; 16] {
                self.params_id
            }
        }
    };
}

common_accessors!(Plaintext);
common_accessors!(Ciphertext);

impl Ciphertext {
    /// Number of polynomials: 2 normally, 3 after a multiplication before relinearization.
    #[must_use]
    pub fn degree_plus_one(&self) -> usize {
        self.polys.len()
    }

    /// Identifier of the key pair this ciphertext is encrypted under.
    #[must_use]
    pub fn key_id(&self) -> [u8; 16] {
        self.key_id
    }
}
