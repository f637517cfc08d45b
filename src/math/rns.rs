//! Fast RNS basis conversion (Bajard et al.; Halevi–Polyakov–Shoup).
//!
//! Given x in basis {q_i} (coefficient domain), computes
//! `Σ_i [x_i · (Q/q_i)^-1]_{q_i} · (Q/q_i) mod p_j` for every target p_j.
//! [`BasisConverter::convert`] returns x + u·Q for a small integer
//! 0 ≤ u < #sources: exact enough for ModUp. [`BasisConverter::convert_centered`]
//! removes u with a floating-point estimate of Σ y_i/q_i and returns the
//! centered x in (-Q/2, Q/2]: ModDown needs it, because the biased u would
//! otherwise multiply the secret into a smooth, large error.

use super::Modulus;
use super::limb_ops::{self, SUM_BLOCK, SumBlock};

/// Coefficients per tile: the tile's words of every source (after the
/// (Q/q_i)^-1 factor) stay in L1/L2 while every target's sums are formed.
const TILE: usize = 4096;

/// Precomputed constants to convert from one RNS basis to another.
#[derive(Clone, Debug)]
pub struct BasisConverter {
    sources: Vec<Modulus>,
    targets: Vec<Modulus>,
    /// (Q/q_i)^-1 mod q_i, per source.
    qhat_inv: Vec<u32>,
    /// 1/q_i, per source, for the overflow estimate of centered conversion.
    source_inv: Vec<f64>,
    /// Per target p_j: (Q/q_i) mod p_j for every source, then -Q mod p_j,
    /// the factor of the overflow count in centered conversion.
    target_factors: Vec<Vec<u32>>,
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
        let target_factors = targets
            .iter()
            .map(|pj| {
                let mut factors: Vec<u32> = (0..sources.len())
                    .map(|i| {
                        sources
                            .iter()
                            .enumerate()
                            .filter(|&(k, _)| k != i)
                            .fold(1, |acc, (_, qk)| pj.mul(acc, qk.value() % pj.value()))
                    })
                    .collect();
                let q_mod = sources.iter().fold(1, |acc, qi| pj.mul(acc, qi.value() % pj.value()));
                factors.push(pj.neg(q_mod));
                factors
            })
            .collect();
        let source_inv = sources.iter().map(|qi| 1.0 / f64::from(qi.value())).collect();
        Self { sources: sources.to_vec(), targets: targets.to_vec(), qhat_inv, source_inv, target_factors }
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
    /// `output` (`targets.len()` limbs). `scratch` is working memory (any
    /// contents; keep it to reuse its allocation).
    pub fn convert(&self, input: &[u32], output: &mut [u32], scratch: &mut Vec<u32>) {
        self.convert_flat(input, output, scratch, false);
    }

    /// Exact conversion of the centered representative x in (-Q/2, Q/2]
    /// (same layout as [`Self::convert`]).
    pub fn convert_centered(&self, input: &[u32], output: &mut [u32], scratch: &mut Vec<u32>) {
        self.convert_flat(input, output, scratch, true);
    }

    fn convert_flat(&self, input: &[u32], output: &mut [u32], scratch: &mut Vec<u32>, centered: bool) {
        let n = input.len() / self.sources.len();
        assert_eq!(input.len(), n * self.sources.len(), "input is not whole limbs");
        assert_eq!(output.len(), n * self.targets.len(), "output is not whole limbs");
        let input: Vec<&[u32]> = input.chunks_exact(n.max(1)).collect();
        let mut output: Vec<&mut [u32]> = output.chunks_exact_mut(n.max(1)).collect();
        self.convert_limbs(&input, &mut output, centered, scratch);
    }

    /// [`Self::convert`] (or, if `centered`, [`Self::convert_centered`]) on
    /// separate limbs: `input[i]` holds source i, `output[j]` receives target
    /// j, all of one length. The conversion is coefficient-wise, so it may be
    /// split into coefficient ranges (the backends' threads do).
    pub fn convert_limbs(&self, input: &[&[u32]], output: &mut [&mut [u32]], centered: bool, scratch: &mut Vec<u32>) {
        assert_eq!(input.len(), self.sources.len(), "one input limb per source");
        assert_eq!(output.len(), self.targets.len(), "one output limb per target");
        let n = input.first().map_or(0, |x| x.len());
        assert!(input.iter().all(|x| x.len() == n) && output.iter().all(|x| x.len() == n), "limb lengths differ");
        let s = self.sources.len();
        let terms = s + usize::from(centered);
        let tile = TILE.min(n).max(1);
        // One tile's y_i = [x_i·(Q/q_i)^-1]_{q_i} (and the overflow count v),
        // interleaved by blocks as `mul_scalar_sum` takes them: they stay in
        // L1/L2 while every target's sums are formed.
        let mut interleaved = vec![SumBlock::default(); tile.div_ceil(SUM_BLOCK) * terms];
        scratch.resize(tile, 0);
        let mut estimate = if centered { vec![0f64; tile] } else { Vec::new() };
        for start in (0..n).step_by(tile) {
            let len = tile.min(n - start);
            let interleaved = &mut interleaved[..len.div_ceil(SUM_BLOCK) * terms];
            let y = &mut scratch[..len];
            if centered {
                estimate[..len].fill(0.0);
            }
            for (i, (x, (qi, &inv))) in input.iter().zip(self.sources.iter().zip(&self.qhat_inv)).enumerate() {
                y.copy_from_slice(&x[start..start + len]);
                limb_ops::mul_scalar_inplace(qi, y, inv);
                scatter(y, interleaved, terms, i);
                if centered {
                    // Multiples of Q to remove: v = round(Σ_i y_i / q_i),
                    // one more term with factor -Q mod p_j. The wgpu backend
                    // emulates exactly these f64 steps (shaders/basis_ext.wgsl):
                    // keep them unfused and in source order, or change both.
                    let inv = self.source_inv[i];
                    for (f, &y) in estimate.iter_mut().zip(y.iter()) {
                        *f += f64::from(y) * inv;
                    }
                }
            }
            if centered {
                for (v, &f) in y.iter_mut().zip(&estimate[..len]) {
                    *v = f.round() as u32;
                }
                scatter(y, interleaved, terms, s);
            }
            for ((out, pj), factors) in output.iter_mut().zip(&self.targets).zip(&self.target_factors) {
                limb_ops::mul_scalar_sum(pj, interleaved, &factors[..terms], &mut out[start..start + len]);
            }
        }
    }
}

/// Writes `row` as term `term` of `terms` into the block-interleaved `dst`.
fn scatter(row: &[u32], dst: &mut [SumBlock], terms: usize, term: usize) {
    let (whole, tail) = row.as_chunks::<SUM_BLOCK>();
    let mut blocks = dst.chunks_exact_mut(terms);
    for (chunk, block) in whole.iter().zip(blocks.by_ref()) {
        block[term].0 = *chunk;
    }
    if let Some(block) = blocks.next() {
        block[term].0[..tail.len()].copy_from_slice(tail);
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
        // Two full tiles and a partial one (with a partial block); 20 sources
        // (and the overflow count) need an intermediate reduction.
        let primes: Vec<Modulus> = ntt_primes_below(30, 64).take(23).map(|q| Modulus::new(q).unwrap()).collect();
        let (src, dst) = primes.split_at(20);
        let conv = BasisConverter::new(src, dst);
        let n = 2 * TILE + 452;
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
            conv.convert_flat(&input, &mut out, &mut Vec::new(), centered);
            for k in 0..n {
                let column: Vec<u32> = (0..src.len()).map(|i| input[i * n + k]).collect();
                let mut one = vec![0u32; dst.len()];
                conv.convert_flat(&column, &mut one, &mut Vec::new(), centered);
                let got: Vec<u32> = (0..dst.len()).map(|j| out[j * n + k]).collect();
                assert_eq!(got, one, "coefficient {k}, centered = {centered}");
            }
        }
    }
}
