//! Host-side words of the constant tables every GPU backend uploads once
//! (per-prime constants, NTT twiddles, basis-conversion tables) and of the
//! per-limb (w, Shoup(w)) pairs their launches pass. Layouts are documented
//! in `shaders/modarith.wgsl`, `shaders/ntt.wgsl` and `shaders/basis_ext.wgsl`;
//! `kernels/*.cu` read the same words. Nothing here touches a device.

use super::Basis;
use crate::math::{Modulus, NttTable, RnsRing};

/// Words per prime in the constant table (`CST_STRIDE` in the kernels).
pub(crate) const CST_STRIDE: usize = 11;

/// The per-prime record of the constant table: q, Barrett k and mu, N^-1
/// and its Shoup quotient, the bits of the CPU's `1.0 / f64(q)`, and
/// 2^32 mod q, its Shoup quotient and ⌊2^32/q⌋ (the kernels' `reduce_u64`).
fn prime_record(m: &Modulus, table: &NttTable) -> [u32; CST_STRIDE] {
    let q = m.value();
    let k = u32::BITS - q.leading_zeros();
    let mu = ((1u64 << (2 * k)) / u64::from(q)) as u32;
    let (n_inv, n_inv_shoup) = table.n_inv();
    // Exactly the CPU's 1.0 / f64(q) (BasisConverter::convert_centered): a
    // normal number, mantissa with its hidden bit times 2^(exponent − 1075).
    let bits = (1.0 / f64::from(q)).to_bits();
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let exponent = ((bits >> 52) & 0x7FF) as i32 - 1075;
    // reduce_u64's factors: 2^32 mod q and 1, each with its Shoup quotient
    // (that of 1 is ⌊2^32/q⌋).
    let r32 = m.reduce_u64(1 << 32);
    let (mantissa_lo, mantissa_hi) = (mantissa as u32, (mantissa >> 32) as u32);
    [q, k, mu, n_inv, n_inv_shoup, mantissa_lo, mantissa_hi, exponent as u32, r32, m.shoup(r32), m.shoup(1)]
}

/// The constant table (`CST_STRIDE` words per global prime) and the
/// twiddles (4N words per global prime: forward (w, Shoup) pairs, then
/// inverse ones) of `ring`.
pub(crate) fn constants_and_twiddles(ring: &RnsRing) -> (Vec<u32>, Vec<u32>) {
    let n = ring.n();
    let primes = ring.q.len() + ring.p.len();
    let mut cst = Vec::with_capacity(primes * CST_STRIDE);
    let mut tw = Vec::with_capacity(primes * 4 * n);
    for m in ring.all() {
        let table = NttTable::new(*m, ring.log_n);
        cst.extend(prime_record(m, &table));
        let [fwd, fwd_shoup, inv, inv_shoup] = table.twiddles();
        for (w, s) in fwd.iter().zip(fwd_shoup).chain(inv.iter().zip(inv_shoup)) {
            tw.extend([*w, *s]);
        }
    }
    (cst, tw)
}

/// The conversion table from the global primes `sources` to every global
/// prime: (x, Shoup(x)) pairs of (Q/p_i)^-1 mod p_i at 2i, then for every
/// global prime t at 2s + 2t(s+1): (Q/p_i) mod m_t for i < s, then Q mod m_t.
pub(crate) fn conversion_words(ring: &RnsRing, sources: &[usize]) -> Vec<u32> {
    let src: Vec<Modulus> = sources.iter().map(|&g| *ring.modulus(g)).collect();
    // Π_{k ≠ skip} p_k mod m (the product of all sources when skip is None).
    let product = |m: &Modulus, skip: Option<usize>| {
        src.iter()
            .enumerate()
            .filter(|&(k, _)| Some(k) != skip)
            .fold(1, |acc, (_, p)| m.mul(acc, p.value() % m.value()))
    };
    let mut words = Vec::with_capacity(2 * src.len() + ring.all().count() * 2 * (src.len() + 1));
    for (i, p) in src.iter().enumerate() {
        let w = p.inv(product(p, Some(i)));
        words.extend([w, p.shoup(w)]);
    }
    for m in ring.all() {
        for i in (0..src.len()).map(Some).chain([None]) {
            let w = product(m, i);
            words.extend([w, m.shoup(w)]);
        }
    }
    words
}

/// Where the factor rows of [`conversion_words_with_rows`] for `s` sources
/// start: after [`conversion_words`], at a multiple of 4 words.
pub(crate) fn factor_rows_at(ring: &RnsRing, s: usize) -> usize {
    (2 * s + ring.all().count() * 2 * (s + 1)).next_multiple_of(4)
}

/// [`conversion_words`], then (from [`factor_rows_at`]) a row per global
/// prime t of s words rounded up to a multiple of 4: (Q/p_i) mod m_t for
/// i < s, then zeros. Rows of 16-byte groups, so the CUDA conv_apply reads
/// the factors of four sources in one access.
pub(crate) fn conversion_words_with_rows(ring: &RnsRing, sources: &[usize]) -> Vec<u32> {
    let s = sources.len();
    let pairs = conversion_words(ring, sources);
    let mut words = pairs.clone();
    words.resize(factor_rows_at(ring, s), 0);
    // Each target's pairs: (Q/p_i mod m_t, Shoup) for i < s, then Q's pair.
    for row in pairs[2 * s..].chunks_exact(2 * (s + 1)) {
        let factors = row.iter().step_by(2).take(s).copied();
        words.extend(factors.chain(std::iter::repeat(0)).take(s.next_multiple_of(4)));
    }
    words
}

/// (w, Shoup(w)) per limb of the global primes `globals`, for `w(m)`.
pub(crate) fn shoup_pairs(
    ring: &RnsRing,
    globals: impl Iterator<Item = usize>,
    w: impl Fn(&Modulus) -> u32,
) -> Vec<u32> {
    globals
        .flat_map(|g| {
            let m = ring.modulus(g);
            let v = w(m);
            [v, m.shoup(v)]
        })
        .collect()
}

/// ModDown's factors when it divides by P[0..p] and the last `drop` of `q`
/// Q primes ([`RnsRing::down_factors`]), as (w, Shoup(w)) pairs.
pub(crate) fn down_inverse_pairs(ring: &RnsRing, q: usize, drop: usize, p: usize) -> Vec<u32> {
    ring.down_factors(q, drop, p).into_iter().zip(&ring.q).flat_map(|(w, m)| [w, m.shoup(w)]).collect()
}

/// Rescale's factors: q_last^-1 mod q_i for i < `last`, as (w, Shoup(w)) pairs.
pub(crate) fn q_last_inverse_pairs(ring: &RnsRing, last: usize) -> Vec<u32> {
    let q_last = ring.q[last].value();
    shoup_pairs(ring, 0..last, |m| m.inv(m.reduce_u64(q_last.into())))
}

/// Per-limb words of a constant add or multiply on a polynomial of `basis`:
/// (c mod q_k, Shoup(c) when `mul`, else 0) for each limb's `per_limb[k]`.
pub(crate) fn scalar_words(ring: &RnsRing, basis: Basis, per_limb: &[u32], mul: bool) -> Vec<u32> {
    per_limb
        .iter()
        .enumerate()
        .flat_map(|(k, &c)| {
            let m = ring.modulus(basis.global(k, ring));
            let c = m.reduce_u64(c.into());
            [c, if mul { m.shoup(c) } else { 0 }]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::primes::ntt_primes_below;

    /// The factor rows follow the pair table at a multiple of 4 words, one
    /// per global prime, each the pairs' factors padded with zeros to 4.
    #[test]
    fn factor_rows_repeat_the_pairs_factors_in_16_byte_rows() {
        let mut primes = ntt_primes_below(30, 2 << 10).map(|v| Modulus::new(v).expect("prime"));
        let ring = RnsRing { log_n: 10, q: primes.by_ref().take(5).collect(), p: primes.take(2).collect() };
        for sources in [vec![0, 2, 3], vec![1, 2, 3, 4], vec![5]] {
            let s = sources.len();
            let pairs = conversion_words(&ring, &sources);
            let words = conversion_words_with_rows(&ring, &sources);
            let at = factor_rows_at(&ring, s);
            assert_eq!(at % 4, 0);
            assert_eq!(words[..pairs.len()], pairs[..]);
            let len = s.next_multiple_of(4);
            assert_eq!(words.len(), at + 7 * len);
            for t in 0..7 {
                let row = &words[at + t * len..at + (t + 1) * len];
                for (i, &w) in row.iter().enumerate() {
                    let expected = if i < s { pairs[2 * s + 2 * t * (s + 1) + 2 * i] } else { 0 };
                    assert_eq!(w, expected, "target {t}, source {i}");
                }
            }
        }
    }
}
