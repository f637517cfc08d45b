//! Arithmetic modulo a prime q < 2^30 on `u32` words.
//!
//! The bound q < 2^30 lets the NTT keep values lazily in [0, 4q) without
//! overflowing a `u32` (Harvey butterflies). Multiplication by a fixed
//! operand (twiddles, RNS constants) uses Shoup's precomputed quotient;
//! multiplication of two variable operands uses Barrett reduction of the
//! 64-bit product.

use super::MathError;

/// Largest supported modulus size in bits: every q satisfies q < 2^30.
pub const MAX_MODULUS_BITS: u32 = 30;

/// A prime modulus with its precomputed reduction constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Modulus {
    q: u32,
    /// floor(2^64 / q), for Barrett reduction of 64-bit values.
    barrett: u64,
}

impl Modulus {
    /// Wraps `q`, which must be an odd prime below 2^30.
    pub fn new(q: u32) -> Result<Self, MathError> {
        if !(3..1 << MAX_MODULUS_BITS).contains(&q) {
            return Err(MathError::InvalidModulus { q: q.into(), reason: "must lie in [3, 2^30)" });
        }
        if !super::primes::is_prime(q) {
            return Err(MathError::InvalidModulus { q: q.into(), reason: "not prime" });
        }
        Ok(Self { q, barrett: (u128::from(u64::MAX) + 1).div_euclid(u128::from(q)) as u64 })
    }

    /// The modulus q.
    #[must_use]
    #[inline]
    pub fn value(&self) -> u32 {
        self.q
    }

    /// floor(2^64 / q), the Barrett constant (exposed for SIMD kernels).
    #[must_use]
    #[inline]
    pub fn barrett(&self) -> u64 {
        self.barrett
    }

    /// x mod q for any 64-bit x.
    #[must_use]
    #[inline]
    pub fn reduce_u64(&self, x: u64) -> u32 {
        let quotient = ((u128::from(x) * u128::from(self.barrett)) >> 64) as u64;
        let r = x.wrapping_sub(quotient.wrapping_mul(u64::from(self.q)));
        // r < 2q by the Barrett bound.
        (if r >= u64::from(self.q) { r - u64::from(self.q) } else { r }) as u32
    }

    /// x mod q for a signed value, result in [0, q).
    #[must_use]
    #[inline]
    pub fn reduce_i64(&self, x: i64) -> u32 {
        let r = self.reduce_u64(x.unsigned_abs());
        if x < 0 { self.neg(r) } else { r }
    }

    /// (a + b) mod q for a, b in [0, q).
    #[must_use]
    #[inline]
    pub fn add(&self, a: u32, b: u32) -> u32 {
        let s = a + b;
        if s >= self.q { s - self.q } else { s }
    }

    /// (a - b) mod q for a, b in [0, q).
    #[must_use]
    #[inline]
    pub fn sub(&self, a: u32, b: u32) -> u32 {
        if a >= b { a - b } else { a + self.q - b }
    }

    /// -a mod q for a in [0, q).
    #[must_use]
    #[inline]
    pub fn neg(&self, a: u32) -> u32 {
        if a == 0 { 0 } else { self.q - a }
    }

    /// a·b mod q for a, b < 2^32 (Barrett).
    #[must_use]
    #[inline]
    pub fn mul(&self, a: u32, b: u32) -> u32 {
        self.reduce_u64(u64::from(a) * u64::from(b))
    }

    /// Shoup's precomputed quotient floor(w·2^32 / q) for a fixed operand w < q.
    #[must_use]
    #[inline]
    pub fn shoup(&self, w: u32) -> u32 {
        ((u64::from(w) << 32) / u64::from(self.q)) as u32
    }

    /// a·w mod q, lazily in [0, 2q), for any a < 2^32 and w < q with
    /// `w_shoup = self.shoup(w)`.
    #[must_use]
    #[inline]
    pub fn mul_shoup_lazy(&self, a: u32, w: u32, w_shoup: u32) -> u32 {
        let quotient = ((u64::from(a) * u64::from(w_shoup)) >> 32) as u32;
        a.wrapping_mul(w).wrapping_sub(quotient.wrapping_mul(self.q))
    }

    /// a·w mod q in [0, q), see [`Self::mul_shoup_lazy`].
    #[must_use]
    #[inline]
    pub fn mul_shoup(&self, a: u32, w: u32, w_shoup: u32) -> u32 {
        let r = self.mul_shoup_lazy(a, w, w_shoup);
        if r >= self.q { r - self.q } else { r }
    }

    /// a^e mod q.
    #[must_use]
    pub fn pow(&self, a: u32, mut e: u64) -> u32 {
        let (mut base, mut acc) = (a % self.q, 1u32);
        while e > 0 {
            if e & 1 == 1 {
                acc = self.mul(acc, base);
            }
            base = self.mul(base, base);
            e >>= 1;
        }
        acc
    }

    /// a^-1 mod q for a not divisible by q (Fermat, q prime).
    #[must_use]
    pub fn inv(&self, a: u32) -> u32 {
        debug_assert!(!a.is_multiple_of(self.q), "inverse of zero");
        self.pow(a, u64::from(self.q) - 2)
    }

    /// Centered representative of a in (-q/2, q/2].
    #[must_use]
    #[inline]
    pub fn center(&self, a: u32) -> i64 {
        if a > self.q / 2 { i64::from(a) - i64::from(self.q) } else { i64::from(a) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIMES: [u32; 3] = [97, 1_073_479_681, 536_903_681];

    #[test]
    fn rejects_bad_moduli() {
        assert!(Modulus::new(1 << 30).is_err());
        assert!(Modulus::new(1_073_741_823).is_err());
        assert!(Modulus::new(15).is_err());
    }

    #[test]
    fn operations_match_u128_reference() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for q in PRIMES {
            let m = Modulus::new(q).unwrap();
            let q64 = u64::from(q);
            for _ in 0..10_000 {
                let (a, b, big) = ((next() % q64) as u32, (next() % q64) as u32, next());
                assert_eq!(u64::from(m.mul(a, b)), u64::from(a) * u64::from(b) % q64);
                assert_eq!(u64::from(m.reduce_u64(big)), big % q64);
                assert_eq!(u64::from(m.add(a, b)), (u64::from(a) + u64::from(b)) % q64);
                assert_eq!(u64::from(m.sub(a, b)), (q64 + u64::from(a) - u64::from(b)) % q64);
                let lazy_in = next() as u32;
                let lazy = m.mul_shoup_lazy(lazy_in, b, m.shoup(b));
                assert!(lazy < 2 * q);
                assert_eq!(u64::from(lazy) % q64, u64::from(lazy_in) * u64::from(b) % q64);
                let signed = next() as i64 >> 3;
                assert_eq!(i128::from(m.reduce_i64(signed)), i128::from(signed).rem_euclid(i128::from(q)));
            }
            assert_eq!(m.mul(m.inv(12345 % q), 12345 % q), 1);
        }
    }
}
