//! The RNS ring `Z_QP[X]/(X^N + 1)`: the primes every backend works with.

use super::Modulus;

/// Ring degree and the ordered primes of Q (ciphertext modulus) and P
/// (special modulus for key switching). Global limb index k < #Q names `Q[k]`;
/// #Q + j names `P[j]`.
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

    /// P, the product of all special primes, mod each Q prime: the factor of
    /// the key-switching gadget (and of what a fused rescale adds before its ModDown).
    #[must_use]
    pub fn p_mod_q(&self) -> Vec<u32> {
        self.q.iter().map(|m| self.p.iter().fold(1, |acc, p| m.mul(acc, p.value() % m.value()))).collect()
    }

    /// Global indices of the divisor's primes of a ModDown that also drops
    /// `drop` Q limbs of a polynomial with `q` Q limbs and `p` P limbs:
    /// Q[q−drop..q] then P[0..p], its limbs q − drop .. q + p (contiguous).
    #[must_use]
    pub fn down_sources(&self, q: usize, drop: usize, p: usize) -> Vec<usize> {
        (q - drop..q).chain(self.q.len()..self.q.len() + p).collect()
    }

    /// That ModDown's factor per remaining limb: (P[0..p] · Q[q−drop..q])^-1
    /// mod `Q[i]` for i < q − drop.
    #[must_use]
    pub fn down_factors(&self, q: usize, drop: usize, p: usize) -> Vec<u32> {
        let sources = self.down_sources(q, drop, p);
        self.q[..q - drop]
            .iter()
            .map(|m| m.inv(sources.iter().fold(1, |acc, &g| m.mul(acc, self.modulus(g).value() % m.value()))))
            .collect()
    }
}
