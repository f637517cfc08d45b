//! Negacyclic number-theoretic transform over `Z_q[X]/(X^N + 1)`, q < 2^30.
//!
//! Forward: Cooley–Tukey with Harvey's lazy butterflies, natural-order input,
//! output in bit-reversed order: `out[i] = a(ψ^(2·bitrev(i) + 1))`.
//! Inverse: Gentleman–Sande, bit-reversed input, natural-order output.
//! Both take and return values fully reduced to [0, q); inside, values stay
//! in [0, 4q), which fits a `u32` because q < 2^30.
//!
//! [`NttTable::forward`] and [`NttTable::inverse`] run the fastest
//! [`Variant`] the CPU supports (AVX-512 in `ntt/avx512.rs`, AVX2 in
//! `ntt/avx2.rs`, else the portable `*_scalar` reference); all variants give
//! bit-identical results.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

use super::Modulus;
use super::limb_ops::Variant;
use super::primes::primitive_root_2n;

/// Precomputed twiddle factors for one prime and one ring degree N.
#[derive(Clone, Debug)]
pub struct NttTable {
    modulus: Modulus,
    log_n: u32,
    /// ψ^bitrev(k) for k in 0..N, with Shoup quotients.
    psi_rev: Vec<u32>,
    psi_rev_shoup: Vec<u32>,
    /// ψ^-bitrev(k) for k in 0..N, with Shoup quotients.
    psi_inv_rev: Vec<u32>,
    psi_inv_rev_shoup: Vec<u32>,
    n_inv: u32,
    n_inv_shoup: u32,
}

/// Reverses the low `bits` bits of `x`.
#[must_use]
#[inline]
pub fn bit_reverse(x: usize, bits: u32) -> usize {
    if bits == 0 { 0 } else { x.reverse_bits() >> (usize::BITS - bits) }
}

impl NttTable {
    /// Builds the tables for ring degree 2^`log_n`; q must be ≡ 1 (mod 2N).
    #[must_use]
    pub fn new(modulus: Modulus, log_n: u32) -> Self {
        let n = 1usize << log_n;
        let psi = primitive_root_2n(&modulus, 2 * n as u64);
        let psi_inv = modulus.inv(psi);
        let powers = |root: u32| {
            let mut natural = Vec::with_capacity(n);
            let mut acc = 1u32;
            for _ in 0..n {
                natural.push(acc);
                acc = modulus.mul(acc, root);
            }
            let rev: Vec<u32> = (0..n).map(|k| natural[bit_reverse(k, log_n)]).collect();
            let shoup = rev.iter().map(|&w| modulus.shoup(w)).collect();
            (rev, shoup)
        };
        let (psi_rev, psi_rev_shoup) = powers(psi);
        let (psi_inv_rev, psi_inv_rev_shoup) = powers(psi_inv);
        let n_inv = modulus.inv(n as u32 % modulus.value());
        Self {
            modulus,
            log_n,
            psi_rev,
            psi_rev_shoup,
            psi_inv_rev,
            psi_inv_rev_shoup,
            n_inv,
            n_inv_shoup: modulus.shoup(n_inv),
        }
    }

    /// The modulus of this table.
    #[must_use]
    pub fn modulus(&self) -> &Modulus {
        &self.modulus
    }

    /// Ring degree N.
    #[must_use]
    pub fn n(&self) -> usize {
        1 << self.log_n
    }

    /// In-place forward NTT of one limb (`a.len() == N`, natural order,
    /// values in [0, q)); output bit-reversed in [0, q).
    pub fn forward(&self, a: &mut [u32]) {
        self.forward_with(Variant::best(), a);
    }

    /// In-place inverse NTT of one limb (`a.len() == N`, bit-reversed, values
    /// in [0, q)); output natural order in [0, q).
    pub fn inverse(&self, a: &mut [u32]) {
        self.inverse_with(Variant::best(), a);
    }

    /// [`Self::forward`] with a chosen variant. The SIMD kernels need
    /// N ≥ 16 (AVX2) or N ≥ 32 (AVX-512); below that the next narrower
    /// variant runs.
    ///
    /// # Panics
    /// If `a.len() != N` or the CPU lacks the variant.
    pub fn forward_with(&self, v: Variant, a: &mut [u32]) {
        assert_eq!(a.len(), self.n(), "limb length must equal N");
        match v.checked() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `checked` verified that the CPU supports AVX-512 F.
            Variant::Avx512 if a.len() >= 32 => unsafe { avx512::forward(self, a) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `checked` verified AVX2 (which the AVX-512 variant also requires).
            Variant::Avx2 | Variant::Avx512 if a.len() >= 16 => unsafe { avx2::forward(self, a) },
            _ => self.forward_scalar(a),
        }
    }

    /// [`Self::inverse`] with a chosen variant (small N as in
    /// [`Self::forward_with`]).
    ///
    /// # Panics
    /// If `a.len() != N` or the CPU lacks the variant.
    pub fn inverse_with(&self, v: Variant, a: &mut [u32]) {
        assert_eq!(a.len(), self.n(), "limb length must equal N");
        match v.checked() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `checked` verified that the CPU supports AVX-512 F.
            Variant::Avx512 if a.len() >= 32 => unsafe { avx512::inverse(self, a) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `checked` verified AVX2 (which the AVX-512 variant also requires).
            Variant::Avx2 | Variant::Avx512 if a.len() >= 16 => unsafe { avx2::inverse(self, a) },
            _ => self.inverse_scalar(a),
        }
    }

    /// Portable forward transform; the reference for every SIMD variant.
    pub fn forward_scalar(&self, a: &mut [u32]) {
        let m = &self.modulus;
        let two_q = 2 * m.value();
        let n = a.len();
        let mut t = n;
        let mut groups = 1;
        while groups < n {
            t >>= 1;
            for (i, block) in a.chunks_exact_mut(2 * t).enumerate() {
                let (w, ws) = (self.psi_rev[groups + i], self.psi_rev_shoup[groups + i]);
                let (lo, hi) = block.split_at_mut(t);
                for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                    // x, y in [0, 4q)
                    let u = if *x >= two_q { *x - two_q } else { *x };
                    let v = m.mul_shoup_lazy(*y, w, ws); // [0, 2q)
                    *x = u + v;
                    *y = u + two_q - v;
                }
            }
            groups <<= 1;
        }
        for x in a.iter_mut() {
            let mut v = *x;
            if v >= two_q {
                v -= two_q;
            }
            if v >= m.value() {
                v -= m.value();
            }
            *x = v;
        }
    }

    /// Portable inverse transform; the reference for every SIMD variant.
    pub fn inverse_scalar(&self, a: &mut [u32]) {
        let m = &self.modulus;
        let two_q = 2 * m.value();
        let n = a.len();
        let mut t = 1;
        let mut groups = n >> 1;
        while groups >= 1 {
            for (i, block) in a.chunks_exact_mut(2 * t).enumerate() {
                let (w, ws) = (self.psi_inv_rev[groups + i], self.psi_inv_rev_shoup[groups + i]);
                let (lo, hi) = block.split_at_mut(t);
                for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                    // x, y in [0, 2q)
                    let (u, v) = (*x, *y);
                    let s = u + v;
                    *x = if s >= two_q { s - two_q } else { s };
                    *y = m.mul_shoup_lazy(u + two_q - v, w, ws);
                }
            }
            t <<= 1;
            groups >>= 1;
        }
        for x in a.iter_mut() {
            *x = m.mul_shoup(*x, self.n_inv, self.n_inv_shoup);
        }
    }

    /// Twiddle tables (ψ^bitrev, Shoup, ψ^-bitrev, Shoup) for device backends
    /// and SIMD kernels, which must use exactly these values.
    #[must_use]
    pub fn twiddles(&self) -> [&[u32]; 4] {
        [&self.psi_rev, &self.psi_rev_shoup, &self.psi_inv_rev, &self.psi_inv_rev_shoup]
    }

    /// N^-1 mod q and its Shoup quotient.
    #[must_use]
    pub fn n_inv(&self) -> (u32, u32) {
        (self.n_inv, self.n_inv_shoup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::primes::ntt_primes_below;

    fn table(log_n: u32) -> NttTable {
        let q = ntt_primes_below(30, 2 << log_n).next().unwrap();
        NttTable::new(Modulus::new(q).unwrap(), log_n)
    }

    fn pseudo_random(n: usize, q: u32, seed: u64) -> Vec<u32> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % u64::from(q)) as u32
            })
            .collect()
    }

    #[test]
    fn forward_matches_naive_evaluation_at_bit_reversed_odd_powers() {
        let log_n = 5;
        let t = table(log_n);
        let m = *t.modulus();
        let n = t.n();
        let psi = t.psi_rev[bit_reverse(1, log_n)];
        let a = pseudo_random(n, m.value(), 7);
        let mut fast = a.clone();
        t.forward(&mut fast);
        for (i, &got) in fast.iter().enumerate() {
            let root = m.pow(psi, (2 * bit_reverse(i, log_n) + 1) as u64);
            let want = a.iter().rev().fold(0, |acc, &c| m.add(m.mul(acc, root), c));
            assert_eq!(got, want, "slot {i}");
        }
    }

    #[test]
    fn known_answer_for_x() {
        // NTT(X)[i] = ψ^(2·bitrev(i)+1): checks the documented output order.
        let log_n = 3;
        let t = table(log_n);
        let m = *t.modulus();
        let psi = t.psi_rev[bit_reverse(1, log_n)];
        let mut a = vec![0u32; 8];
        a[1] = 1;
        t.forward(&mut a);
        let want: Vec<u32> = (0..8).map(|i| m.pow(psi, (2 * bit_reverse(i, log_n) + 1) as u64)).collect();
        assert_eq!(a, want);
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // the naive product reads clearest with indices
    fn round_trip_and_negacyclic_convolution() {
        for log_n in [4, 10, 14] {
            let t = table(log_n);
            let m = *t.modulus();
            let n = t.n();
            let a = pseudo_random(n, m.value(), 3);
            let mut b = a.clone();
            t.forward(&mut b);
            assert!(b.iter().all(|&x| x < m.value()));
            t.inverse(&mut b);
            assert_eq!(a, b, "round trip at log_n = {log_n}");
        }
        let log_n = 6;
        let t = table(log_n);
        let m = *t.modulus();
        let n = t.n();
        let (a, b) = (pseudo_random(n, m.value(), 11), pseudo_random(n, m.value(), 13));
        let mut naive = vec![0u32; n];
        for i in 0..n {
            for j in 0..n {
                let p = m.mul(a[i], b[j]);
                let k = (i + j) % n;
                naive[k] = if i + j >= n { m.sub(naive[k], p) } else { m.add(naive[k], p) };
            }
        }
        let (mut fa, mut fb) = (a, b);
        t.forward(&mut fa);
        t.forward(&mut fb);
        let mut prod: Vec<u32> = fa.iter().zip(&fb).map(|(&x, &y)| m.mul(x, y)).collect();
        t.inverse(&mut prod);
        assert_eq!(prod, naive);
    }

    #[test]
    fn simd_variants_match_scalar() {
        use crate::math::limb_ops::tests::{TestRng, simd_variants, test_moduli};
        let mut rng = TestRng(0x2545_F491_4F6C_DD1D);
        // NTT-friendly for every N up to 2^16 (q ≡ 1 mod 2^17), 20 to 30 bits.
        let moduli: Vec<Modulus> = test_moduli().into_iter().filter(|m| m.value() % (1 << 17) == 1).collect();
        assert!(moduli.len() >= 5 && moduli.iter().any(|m| m.value() > (1 << 30) - (1 << 20)));
        for m in moduli {
            let q = m.value();
            for log_n in 4..=16 {
                let t = NttTable::new(m, log_n);
                let n = t.n();
                for input in [rng.limb(q, n), vec![q - 1; n]] {
                    let mut want = input.clone();
                    t.forward_scalar(&mut want);
                    let mut want_inv = input.clone();
                    t.inverse_scalar(&mut want_inv);
                    for v in simd_variants() {
                        let mut got = input.clone();
                        t.forward_with(v, &mut got);
                        assert_eq!(got, want, "forward {v:?} q = {q} N = {n}");
                        assert!(got.iter().all(|&x| x < q));
                        let mut got = input.clone();
                        t.inverse_with(v, &mut got);
                        assert_eq!(got, want_inv, "inverse {v:?} q = {q} N = {n}");
                        assert!(got.iter().all(|&x| x < q));
                    }
                }
            }
        }
    }
}
