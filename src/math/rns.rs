//! Fast RNS basis conversion (Bajard et al.; Halevi–Polyakov–Shoup).
//!
//! Given x in basis {q_i} (coefficient domain), computes
//! `Σ_i [x_i · (Q/q_i)^-1]_{q_i} · (Q/q_i) mod p_j` for every target p_j.
//! [`BasisConverter::convert`] returns x + u·Q for a small integer
//! 0 ≤ u < #sources: exact enough for ModUp. [`BasisConverter::convert_centered`]
//! removes u with a floating-point estimate of Σ y_i/q_i and returns the
//! centered x in (-Q/2, Q/2]: ModDown needs it, because the biased u would
//! otherwise multiply the secret into a smooth, large error.

use super::{Modulus, limb_ops};

/// Largest number of 60-bit products summed in a `u64` before a reduction.
const PRODUCTS_PER_REDUCTION: usize = 15;

/// Coefficients per tile of the accumulation (8 KiB of u64 accumulators).
const TILE: usize = 1024;

/// Precomputed constants to convert from one RNS basis to another.
#[derive(Clone, Debug)]
pub struct BasisConverter {
    sources: Vec<Modulus>,
    targets: Vec<Modulus>,
    /// (Q/q_i)^-1 mod q_i, per source.
    qhat_inv: Vec<u32>,
    /// (Q/q_i) mod p_j, indexed `[target][source]`.
    qhat_mod_target: Vec<Vec<u32>>,
    /// Q mod p_j, per target.
    q_mod_target: Vec<u32>,
}

impl BasisConverter {
    /// Constants for converting from `sources` to `targets` (disjoint sets).
    #[must_use]
    pub fn new(sources: &[Modulus], targets: &[Modulus]) -> Self {
        let qhat_inv = sources
            .iter()
            .enumerate()
            .map(|(i, qi)| {
                let qhat = sources
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k != i)
                    .fold(1, |acc, (_, qk)| qi.mul(acc, qk.value() % qi.value()));
                qi.inv(qhat)
            })
            .collect();
        let qhat_mod_target = targets
            .iter()
            .map(|pj| {
                (0..sources.len())
                    .map(|i| {
                        sources
                            .iter()
                            .enumerate()
                            .filter(|&(k, _)| k != i)
                            .fold(1, |acc, (_, qk)| pj.mul(acc, qk.value() % pj.value()))
                    })
                    .collect()
            })
            .collect();
        let q_mod_target =
            targets.iter().map(|pj| sources.iter().fold(1, |acc, qi| pj.mul(acc, qi.value() % pj.value()))).collect();
        Self { sources: sources.to_vec(), targets: targets.to_vec(), qhat_inv, qhat_mod_target, q_mod_target }
    }

    /// Number of source limbs.
    #[must_use]
    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// Number of target limbs.
    #[must_use]
    pub fn target_count(&self) -> usize {
        self.targets.len()
    }

    /// Converts `input` (`sources.len()` limbs of N words, limb-major) into
    /// `output` (`targets.len()` limbs). `scratch` holds N·#sources words.
    pub fn convert(&self, input: &[u32], output: &mut [u32], scratch: &mut Vec<u32>) {
        self.convert_impl(input, output, scratch, false);
    }

    /// Exact conversion of the centered representative x in (-Q/2, Q/2]
    /// (same layout as [`Self::convert`]).
    pub fn convert_centered(&self, input: &[u32], output: &mut [u32], scratch: &mut Vec<u32>) {
        self.convert_impl(input, output, scratch, true);
    }

    fn convert_impl(&self, input: &[u32], output: &mut [u32], scratch: &mut Vec<u32>, centered: bool) {
        let n = input.len() / self.sources.len();
        assert_eq!(input.len(), n * self.sources.len(), "input is not whole limbs");
        assert_eq!(output.len(), n * self.targets.len(), "output is not whole limbs");
        scratch.resize(input.len(), 0);
        for ((x, y), (qi, &inv)) in
            input.chunks_exact(n).zip(scratch.chunks_exact_mut(n)).zip(self.sources.iter().zip(&self.qhat_inv))
        {
            y.copy_from_slice(x);
            limb_ops::mul_scalar_inplace(qi, y, inv);
        }
        // Multiples of Q to remove: round(Σ_i y_i / q_i) per coefficient.
        let overflow: Vec<u32> = if centered {
            let mut f = vec![0f64; n];
            for (y, qi) in scratch.chunks_exact(n).zip(&self.sources) {
                let inv = 1.0 / f64::from(qi.value());
                for (f, &y) in f.iter_mut().zip(y) {
                    *f += f64::from(y) * inv;
                }
            }
            f.iter().map(|&f| f.round() as u32).collect()
        } else {
            Vec::new()
        };
        // Tile by tile over the coefficients, so the accumulators stay in L1
        // and the tile's words of every source stay in L2 across targets.
        let tile = TILE.min(n);
        let mut acc = vec![0u64; tile];
        let (mut reduced, mut correction) = (vec![0u32; tile], vec![0u32; tile]);
        for start in (0..n).step_by(tile) {
            let len = tile.min(n - start);
            let acc = &mut acc[..len];
            for (((out, pj), coeffs), &q_mod) in
                output.chunks_exact_mut(n).zip(&self.targets).zip(&self.qhat_mod_target).zip(&self.q_mod_target)
            {
                let out = &mut out[start..start + len];
                acc.fill(0);
                for (i, (y, &c)) in scratch.chunks_exact(n).zip(coeffs).enumerate() {
                    if i > 0 && i % PRODUCTS_PER_REDUCTION == 0 {
                        // Reduce through `out` (free until the end) and restart from the residues.
                        limb_ops::reduce_u64(pj, acc, out);
                        acc.iter_mut().zip(out.iter()).for_each(|(a, &o)| *a = u64::from(o));
                    }
                    limb_ops::mul_scalar_acc_u64(acc, &y[start..start + len], c);
                }
                if centered {
                    // out = Σ - overflow·(Q mod p_j)
                    let (reduced, correction) = (&mut reduced[..len], &mut correction[..len]);
                    limb_ops::reduce_u64(pj, acc, reduced);
                    correction.copy_from_slice(&overflow[start..start + len]);
                    limb_ops::mul_scalar_inplace(pj, correction, q_mod);
                    limb_ops::sub(pj, reduced, correction, out);
                } else {
                    limb_ops::reduce_u64(pj, acc, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::primes::ntt_primes_below;

    #[test]
    fn centered_conversion_is_exact() {
        let primes: Vec<Modulus> = ntt_primes_below(30, 64).take(8).map(|q| Modulus::new(q).unwrap()).collect();
        let (src, dst) = primes.split_at(5);
        let conv = BasisConverter::new(src, dst);
        let xs: Vec<i64> = (0..64).map(|k| (k - 32) * 987_654_321_987 + k * 7).collect();
        let input: Vec<u32> = src.iter().flat_map(|q| xs.iter().map(|&x| q.reduce_i64(x))).collect();
        let mut out = vec![0u32; 64 * dst.len()];
        conv.convert_centered(&input, &mut out, &mut Vec::new());
        for (j, pj) in dst.iter().enumerate() {
            for (k, &x) in xs.iter().enumerate() {
                assert_eq!(out[j * 64 + k], pj.reduce_i64(x), "target {j}, coefficient {k}");
            }
        }
    }

    #[test]
    fn conversion_is_exact_up_to_small_multiple_of_q() {
        // 20 sources exercise the chunked accumulation.
        let primes: Vec<Modulus> = ntt_primes_below(30, 64).take(23).map(|q| Modulus::new(q).unwrap()).collect();
        let (src, dst) = primes.split_at(20);
        let conv = BasisConverter::new(src, dst);
        // x = small values (both signs), so x mod Q is known for every prime.
        let xs: Vec<i64> = (0..64).map(|k| (k * 7919 - 200_000) * 1_000_003).collect();
        let input: Vec<u32> = src.iter().flat_map(|q| xs.iter().map(|&x| q.reduce_i64(x))).collect();
        let mut out = vec![0u32; 64 * dst.len()];
        conv.convert(&input, &mut out, &mut Vec::new());
        // Q mod p_j, to check out = x + u·Q for some u in [0, #sources].
        for (j, pj) in dst.iter().enumerate() {
            let q_mod = src.iter().fold(1, |acc, qi| pj.mul(acc, qi.value() % pj.value()));
            for (k, &x) in xs.iter().enumerate() {
                let got = out[j * 64 + k];
                let ok = (0..=src.len() as u32).any(|u| pj.add(pj.reduce_i64(x), pj.mul(u, q_mod)) == got);
                assert!(ok, "target {j}, coefficient {k}");
            }
        }
    }

    #[test]
    fn tiled_conversion_equals_coefficientwise_conversion() {
        // n = 2500: two full tiles and a partial one; 20 sources need an
        // intermediate reduction.
        let primes: Vec<Modulus> = ntt_primes_below(30, 64).take(23).map(|q| Modulus::new(q).unwrap()).collect();
        let (src, dst) = primes.split_at(20);
        let conv = BasisConverter::new(src, dst);
        let n = 2500;
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let input: Vec<u32> = src
            .iter()
            .flat_map(|q| std::iter::repeat_n(q.value(), n))
            .map(|q| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % u64::from(q)) as u32
            })
            .collect();
        for centered in [false, true] {
            let mut out = vec![0u32; n * dst.len()];
            conv.convert_impl(&input, &mut out, &mut Vec::new(), centered);
            for k in 0..n {
                let column: Vec<u32> = (0..src.len()).map(|i| input[i * n + k]).collect();
                let mut one = vec![0u32; dst.len()];
                conv.convert_impl(&column, &mut one, &mut Vec::new(), centered);
                let got: Vec<u32> = (0..dst.len()).map(|j| out[j * n + k]).collect();
                assert_eq!(got, one, "coefficient {k}, centered = {centered}");
            }
        }
    }
}
