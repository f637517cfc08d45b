//! Primality testing and generation of NTT-friendly primes q ≡ 1 (mod 2N).

use super::Modulus;

/// Deterministic Miller–Rabin for 32-bit integers (bases 2, 7, 61 suffice).
#[must_use]
pub fn is_prime(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    for p in [2u32, 3, 5, 7, 11, 13, 61] {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let n64 = u64::from(n);
    let (mut d, mut s) = (n64 - 1, 0);
    while d % 2 == 0 {
        d /= 2;
        s += 1;
    }
    let pow = |mut b: u64, mut e: u64| {
        let mut acc = 1u64;
        b %= n64;
        while e > 0 {
            if e & 1 == 1 {
                acc = acc * b % n64;
            }
            b = b * b % n64;
            e >>= 1;
        }
        acc
    };
    'witness: for a in [2u64, 7, 61] {
        let mut x = pow(a, d);
        if x == 1 || x == n64 - 1 {
            continue;
        }
        for _ in 1..s {
            x = x * x % n64;
            if x == n64 - 1 {
                continue 'witness;
            }
        }
        return false;
    }
    true
}

/// All primes q ≡ 1 (mod `two_n`) with q < 2^`max_bits`, largest first.
pub fn ntt_primes_below(max_bits: u32, two_n: u64) -> impl Iterator<Item = u32> {
    let top = (1u64 << max_bits) - 1;
    let first = top - (top - 1) % two_n; // largest value ≡ 1 (mod 2N) not above top
    (0..)
        .map(move |k| first.checked_sub(k * two_n))
        .take_while(move |c| c.is_some_and(|c| c > two_n))
        .map(|c| c.unwrap_or_default() as u32)
        .filter(|&c| is_prime(c))
}

/// A primitive 2N-th root of unity ψ modulo `m` (requires 2N | q-1).
#[must_use]
pub fn primitive_root_2n(m: &Modulus, two_n: u64) -> u32 {
    let q = u64::from(m.value());
    debug_assert_eq!((q - 1) % two_n, 0);
    (2..m.value())
        .map(|x| m.pow(x, (q - 1) / two_n))
        .find(|&psi| m.pow(psi, two_n / 2) == m.value() - 1)
        .expect("a prime q = 1 mod 2N has a primitive 2N-th root of unity")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn miller_rabin_matches_trial_division() {
        let trial = |n: u32| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| !n.is_multiple_of(d));
        for n in 0..20_000 {
            assert_eq!(is_prime(n), trial(n), "n = {n}");
        }
        assert!(is_prime(1_073_479_681));
        assert!(!is_prime(1_073_479_683));
    }

    #[test]
    fn generated_primes_are_ntt_friendly() {
        let two_n = 1 << 17;
        let primes: Vec<u32> = ntt_primes_below(30, two_n).take(20).collect();
        assert_eq!(primes.len(), 20);
        for w in primes.windows(2) {
            assert!(w[0] > w[1]);
        }
        for &p in &primes {
            assert!(is_prime(p) && p < 1 << 30 && u64::from(p) % two_n == 1);
            let m = Modulus::new(p).unwrap();
            let psi = primitive_root_2n(&m, two_n);
            assert_eq!(m.pow(psi, two_n), 1);
            assert_eq!(m.pow(psi, two_n / 2), p - 1);
        }
    }
}
