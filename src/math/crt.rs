//! Chinese remaindering of RNS residues into a centered real number, by
//! Garner's mixed-radix algorithm: x = v_0 + v_1·q_0 + v_2·q_0·q_1 + …
//! with digits 0 ≤ v_i < q_i, computed with word arithmetic only. The sign
//! is read off the digits exactly and the value evaluated by Horner's rule
//! in f64, so a value of any size below M/2 (M = Π q_i) comes back with f64's
//! relative precision, and a small negative one as a small negative number
//! rather than M minus it. Decoding needs this when the scale exceeds what
//! two or three limbs can hold (products not yet rescaled).

use super::Modulus;

/// Reconstructs centered values from their residues modulo a list of primes.
#[derive(Clone, Debug)]
pub struct MixedRadix {
    moduli: Vec<Modulus>,
    /// `inverses[i][j]` = q_j^-1 mod q_i, for j < i.
    inverses: Vec<Vec<u32>>,
    /// Mixed-radix digits of (M − 1)/2, the largest non-negative centered value.
    half: Vec<u32>,
}

impl MixedRadix {
    /// The reconstruction modulo the product of `moduli` (distinct primes).
    #[must_use]
    pub fn new(moduli: &[Modulus]) -> Self {
        let inverses = moduli
            .iter()
            .enumerate()
            .map(|(i, m)| moduli[..i].iter().map(|q| m.inv(m.reduce_u64(q.value().into()))).collect())
            .collect();
        let mut radix = Self { moduli: moduli.to_vec(), inverses, half: Vec::new() };
        // M ≡ 0 mod q_i, so (M − 1)/2 ≡ −2^-1 = (q_i − 1)/2 mod q_i.
        let half_residues: Vec<u32> = moduli.iter().map(|m| (m.value() - 1) / 2).collect();
        let mut half = Vec::new();
        radix.digits(&half_residues, &mut half);
        radix.half = half;
        radix
    }

    /// The mixed-radix digits of the value with these residues (into `digits`).
    fn digits(&self, residues: &[u32], digits: &mut Vec<u32>) {
        digits.clear();
        for ((m, inverses), &r) in self.moduli.iter().zip(&self.inverses).zip(residues) {
            let mut t = m.reduce_u64(r.into());
            for (&v, &inv) in digits.iter().zip(inverses) {
                t = m.mul(m.sub(t, m.reduce_u64(v.into())), inv);
            }
            digits.push(t);
        }
    }

    /// The centered value in (−M/2, M/2) with these residues (one per prime,
    /// each below its prime), as the nearest f64 up to a few ulps.
    /// `digits` is scratch space, reused across calls.
    #[must_use]
    pub fn centered_f64(&self, residues: &[u32], digits: &mut Vec<u32>) -> f64 {
        debug_assert_eq!(residues.len(), self.moduli.len());
        self.digits(residues, digits);
        // Most significant digit first: the value exceeds (M − 1)/2 when its
        // digits do, lexicographically.
        let negative = digits.iter().rev().cmp(self.half.iter().rev()).is_gt();
        let horner = |digit: &dyn Fn(u32, u32) -> u32| {
            digits
                .iter()
                .zip(&self.moduli)
                .rev()
                .fold(0.0, |acc, (&v, m)| acc * f64::from(m.value()) + f64::from(digit(v, m.value())))
        };
        if negative {
            // M − 1 − x has the digits q_i − 1 − v_i: no cancellation.
            -(horner(&|v, q| q - 1 - v) + 1.0)
        } else {
            horner(&|v, _| v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::primes::ntt_primes_below;

    fn moduli(count: usize) -> Vec<Modulus> {
        ntt_primes_below(30, 1 << 11).take(count).map(|q| Modulus::new(q).unwrap()).collect()
    }

    /// Residues of ±m·2^e (m < 2^53, so the value is an exact f64).
    fn residues(moduli: &[Modulus], m: u64, e: u64, negative: bool) -> Vec<u32> {
        moduli
            .iter()
            .map(|q| {
                let r = q.mul(q.reduce_u64(m), q.pow(2, e));
                if negative { q.neg(r) } else { r }
            })
            .collect()
    }

    #[test]
    fn small_values_are_exact_and_signed() {
        let moduli = moduli(3);
        let radix = MixedRadix::new(&moduli);
        let mut digits = Vec::new();
        for (value, negative) in [(0u64, false), (1, false), (1, true), (123_456_789, true), ((1 << 53) - 1, false)] {
            let got = radix.centered_f64(&residues(&moduli, value, 0, negative), &mut digits);
            let want = if negative { -(value as f64) } else { value as f64 };
            assert_eq!(got, want, "{value} negative {negative}");
        }
    }

    #[test]
    fn large_values_keep_their_relative_precision() {
        let moduli = moduli(8);
        let log_m: f64 = moduli.iter().map(|q| f64::from(q.value()).log2()).sum();
        let radix = MixedRadix::new(&moduli);
        let mut digits = Vec::new();
        let m = 0x1f_1234_5678_9abc_u64;
        // Up to 2^(e + 53) just below M/2.
        for e in [0, 40, 100, 150, log_m as u64 - 55] {
            for negative in [false, true] {
                let got = radix.centered_f64(&residues(&moduli, m, e, negative), &mut digits);
                let want = (m as f64) * (e as f64).exp2() * if negative { -1.0 } else { 1.0 };
                assert!(((got - want) / want).abs() < 1e-15, "2^{e}: {got:e} vs {want:e}");
            }
        }
    }

    #[test]
    fn the_halfway_point_splits_positive_from_negative() {
        let moduli = moduli(4);
        let radix = MixedRadix::new(&moduli);
        let mut digits = Vec::new();
        let half: Vec<u32> = moduli.iter().map(|q| (q.value() - 1) / 2).collect();
        let above: Vec<u32> = moduli.iter().zip(&half).map(|(q, &h)| q.add(h, 1)).collect();
        let m: f64 = moduli.iter().map(|q| f64::from(q.value())).product();
        let (at, past) = (radix.centered_f64(&half, &mut digits), radix.centered_f64(&above, &mut digits));
        assert!(at > 0.0 && ((at - m / 2.0) / m).abs() < 1e-15, "{at:e}");
        assert!(past < 0.0 && ((past + m / 2.0) / m).abs() < 1e-15, "{past:e}");
    }
}
