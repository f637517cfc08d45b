//! The RNS ring Z_{QP}[X]/(X^N + 1): the primes every backend works with.

use super::Modulus;

/// Ring degree and the ordered primes of Q (ciphertext modulus) and P
/// (special modulus for key switching). Global limb index k < #Q names Q[k];
/// #Q + j names P[j].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RnsRing {
    /// log2 of the ring degree N.
    pub log_n: u32,
    /// Primes of the ciphertext modulus, lowest level first.
    pub q: Vec<Modulus>,
    /// Special primes used only inside key switching.
    pub p: Vec<Modulus>,
}

impl RnsRing {
    /// Ring degree N.
    #[must_use]
    pub fn n(&self) -> usize {
        1 << self.log_n
    }

    /// The prime of global limb index `k` (Q first, then P).
    #[must_use]
    pub fn modulus(&self, k: usize) -> &Modulus {
        if k < self.q.len() { &self.q[k] } else { &self.p[k - self.q.len()] }
    }

    /// All primes, Q then P.
    pub fn all(&self) -> impl Iterator<Item = &Modulus> {
        self.q.iter().chain(&self.p)
    }
}
