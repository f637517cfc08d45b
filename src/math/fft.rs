//! The CKKS "special" FFT: the canonical embedding restricted to the slots
//! indexed by the rotation group ⟨5⟩ mod 2N (as in HEAAN).
//!
//! `embed` maps `slots` complex coefficients to slot values (decoding);
//! `embed_inv` is its inverse (encoding). With slot ordering by powers of 5,
//! the Galois automorphism X → X^(5^r) rotates the slots left by r.

use num_complex::Complex64;

/// Precomputed twiddles for ring degree N (M = 2N).
///
/// The butterflies of blocks of `len` = 2·h elements use, for j < h, the
/// root ζ^((5^j mod 4·len)·M/(4·len)) (ζ = exp(2πi/M)) when embedding and
/// its inverse when encoding; both tables hold it at index h + j, so each
/// level reads a contiguous run (no index arithmetic per butterfly).
#[derive(Clone, Debug)]
pub struct SpecialFft {
    /// Roots of [`Self::embed`], at h + j.
    forward: Vec<Complex64>,
    /// Roots of [`Self::embed_inv`], at h + j.
    inverse: Vec<Complex64>,
}

impl SpecialFft {
    /// Tables for ring degree `n` (a power of two).
    #[must_use]
    pub fn new(n: usize) -> Self {
        let m = 2 * n;
        let mut rot_group = Vec::with_capacity(n / 2);
        let mut g = 1usize;
        for _ in 0..n / 2 {
            rot_group.push(g);
            g = g * 5 % m;
        }
        let roots: Vec<Complex64> =
            (0..=m).map(|k| Complex64::from_polar(1.0, std::f64::consts::TAU * k as f64 / m as f64)).collect();
        let (mut forward, mut inverse) = (vec![Complex64::new(0.0, 0.0); n / 2], vec![Complex64::new(0.0, 0.0); n / 2]);
        let mut h = 1;
        while h < n / 2 {
            let lenq = 8 * h;
            for j in 0..h {
                let r = rot_group[j] % lenq;
                forward[h + j] = roots[r * (m / lenq)];
                inverse[h + j] = roots[(lenq - r) * (m / lenq)];
            }
            h *= 2;
        }
        Self { forward, inverse }
    }

    /// Slot values from complex coefficients (in place; length a power of two ≤ N/2).
    pub fn embed(&self, vals: &mut [Complex64]) {
        let size = vals.len();
        bit_reverse_permute(vals);
        let mut h = 1;
        while h < size {
            let roots = &self.forward[h..2 * h];
            for block in vals.chunks_exact_mut(2 * h) {
                let (lo, hi) = block.split_at_mut(h);
                for ((a, b), w) in lo.iter_mut().zip(hi.iter_mut()).zip(roots) {
                    let (u, v) = (*a, *b * w);
                    *a = u + v;
                    *b = u - v;
                }
            }
            h *= 2;
        }
    }

    /// Complex coefficients from slot values (in place), the inverse of [`Self::embed`].
    pub fn embed_inv(&self, vals: &mut [Complex64]) {
        let size = vals.len();
        let mut h = size / 2;
        while h >= 1 {
            let roots = &self.inverse[h..2 * h];
            for block in vals.chunks_exact_mut(2 * h) {
                let (lo, hi) = block.split_at_mut(h);
                for ((a, b), w) in lo.iter_mut().zip(hi.iter_mut()).zip(roots) {
                    let (u, v) = (*a + *b, (*a - *b) * w);
                    *a = u;
                    *b = v;
                }
            }
            h /= 2;
        }
        bit_reverse_permute(vals);
        let inv = 1.0 / size as f64;
        for v in vals.iter_mut() {
            *v *= inv;
        }
    }
}

fn bit_reverse_permute<T>(vals: &mut [T]) {
    let bits = vals.len().trailing_zeros();
    for i in 0..vals.len() {
        let j = super::ntt::bit_reverse(i, bits);
        if i < j {
            vals.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_is_evaluation_at_powers_of_five_and_invertible() {
        // embed(u)[j] = Σ_k u_k · ζ^(gap·k·5^j), ζ = exp(2πi/M), gap = N/(2·slots).
        let n = 16;
        let fft = SpecialFft::new(n);
        for slots in [n / 2, n / 8] {
            let coeffs: Vec<Complex64> = (0..slots).map(|k| Complex64::new(k as f64 - 3.0, 0.5 * k as f64)).collect();
            let mut vals = coeffs.clone();
            fft.embed(&mut vals);
            let gap = n / (2 * slots);
            let mut power = 1;
            for (j, v) in vals.iter().enumerate() {
                let angle = std::f64::consts::TAU * (gap * power) as f64 / (2 * n) as f64;
                power = power * 5 % (2 * n);
                let root = Complex64::from_polar(1.0, angle);
                let want = coeffs.iter().rev().fold(Complex64::new(0.0, 0.0), |acc, c| acc * root + c);
                assert!((v - want).norm() < 1e-9, "slots {slots}, slot {j}: {v} vs {want}");
            }
            fft.embed_inv(&mut vals);
            for (a, b) in coeffs.iter().zip(&vals) {
                assert!((a - b).norm() < 1e-12);
            }
        }
    }
}
