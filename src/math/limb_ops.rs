//! Element-wise arithmetic on limbs (slices of residues mod one prime), the
//! pointwise hot loops of the CPU backend. Inputs and outputs in [0, q);
//! every slice argument of one call has the same length.
//!
//! Each op `foo` has a portable reference `foo_scalar` and SIMD variants in
//! `limb_ops/avx2.rs` and `limb_ops/avx512.rs`; `foo` runs [`Variant::best`]
//! and `foo_with` runs a chosen [`Variant`]. All variants return bit-identical
//! results (every result is the unique representative in [0, q)).
//!
//! Ops that update a limb work in place (`*_assign`, `*_inplace`). The sums
//! (`mul_sum`: the key-switching inner product, `mul_scalar_sum`: RNS basis
//! conversion) keep up to 16 products per word in `u64` register lanes and
//! reduce once; `tensor` is the ciphertext product, `center_lift` carries a
//! limb to another prime (rescaling), `permute` applies an automorphism.
//!
//! The streaming ops `add_assign` and `sub_assign` are bound by memory, not
//! arithmetic: 512-bit loops measured no faster than AVX2 (AMD Zen 4), so
//! [`Variant::Avx512`] runs the AVX2 loop for them. `mul_scalar_sum` is bound
//! by the vector ALUs: on Zen 4 the AVX-512 variant sums about 14·10^9
//! products per second (one term of 16 words: a load, a shift, two
//! multiplications and two additions).

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;

use super::Modulus;
use std::sync::OnceLock;

/// An implementation of the hot loops here and in [`super::NttTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Portable Rust; the reference for the other variants.
    Scalar,
    /// x86-64 AVX2 (8 × u32 lanes).
    Avx2,
    /// x86-64 AVX-512 F and DQ (16 × u32 lanes; DQ for 64-bit lane
    /// conversions and products).
    Avx512,
}

impl Variant {
    /// Every variant, slowest first.
    pub const ALL: [Self; 3] = [Self::Scalar, Self::Avx2, Self::Avx512];

    /// Whether this CPU can run the variant.
    #[must_use]
    pub fn is_available(self) -> bool {
        match self {
            Self::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512dq")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Self::Avx2 | Self::Avx512 => false,
        }
    }

    /// The fastest variant this CPU runs (detected once per process).
    #[must_use]
    pub fn best() -> Self {
        static BEST: OnceLock<Variant> = OnceLock::new();
        *BEST.get_or_init(|| Self::ALL.into_iter().rev().find(|v| v.is_available()).unwrap_or(Self::Scalar))
    }

    /// `self`, after checking that this CPU can run it.
    ///
    /// # Panics
    /// If [`Self::is_available`] is false.
    #[must_use]
    pub fn checked(self) -> Self {
        assert!(self.is_available(), "{self:?} is not supported by this CPU");
        self
    }
}

/// Runs `$avx2` or `$avx512` (functions of `limb_ops/avx2.rs`, `avx512.rs`)
/// when the variant says so, else `$scalar`.
macro_rules! dispatch {
    ($v:expr, $scalar:expr, $avx2:expr, $avx512:expr) => {
        match $v.checked() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `checked` verified that the CPU supports AVX2.
            Variant::Avx2 => unsafe { $avx2 },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `checked` verified that the CPU supports AVX-512 F, DQ and AVX2.
            Variant::Avx512 => unsafe { $avx512 },
            _ => $scalar,
        }
    };
}

/// `a[i] = (a[i] + b[i]) mod q`.
pub fn add_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
    add_assign_with(Variant::best(), m, a, b);
}

/// [`add_assign`] with a chosen variant (panics if the CPU lacks it).
pub fn add_assign_with(v: Variant, m: &Modulus, a: &mut [u32], b: &[u32]) {
    assert_eq!(a.len(), b.len(), "limb lengths differ");
    dispatch!(v, add_assign_scalar(m, a, b), avx2::add_assign(m, a, b), avx2::add_assign(m, a, b));
}

/// Portable [`add_assign`]; the reference for the SIMD variants.
#[inline]
pub fn add_assign_scalar(m: &Modulus, a: &mut [u32], b: &[u32]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = m.add(*x, y);
    }
}

/// `a[i] = (a[i] - b[i]) mod q`.
pub fn sub_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
    sub_assign_with(Variant::best(), m, a, b);
}

/// [`sub_assign`] with a chosen variant (panics if the CPU lacks it).
pub fn sub_assign_with(v: Variant, m: &Modulus, a: &mut [u32], b: &[u32]) {
    assert_eq!(a.len(), b.len(), "limb lengths differ");
    dispatch!(v, sub_assign_scalar(m, a, b), avx2::sub_assign(m, a, b), avx2::sub_assign(m, a, b));
}

/// Portable [`sub_assign`]; the reference for the SIMD variants.
#[inline]
pub fn sub_assign_scalar(m: &Modulus, a: &mut [u32], b: &[u32]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = m.sub(*x, y);
    }
}

/// `a[i] = -a[i] mod q`.
pub fn neg_inplace(m: &Modulus, a: &mut [u32]) {
    for x in a.iter_mut() {
        *x = m.neg(*x);
    }
}

/// `a[i] = a[i]·b[i] mod q` (`a[i]`, `b[i]` < q).
pub fn mul_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
    mul_assign_with(Variant::best(), m, a, b);
}

/// [`mul_assign`] with a chosen variant (panics if the CPU lacks it).
pub fn mul_assign_with(v: Variant, m: &Modulus, a: &mut [u32], b: &[u32]) {
    assert_eq!(a.len(), b.len(), "limb lengths differ");
    dispatch!(v, mul_assign_scalar(m, a, b), avx2::mul_assign(m, a, b), avx512::mul_assign(m, a, b));
}

/// Portable [`mul_assign`] (Barrett on the 64-bit product); the reference
/// for the SIMD variants.
pub fn mul_assign_scalar(m: &Modulus, a: &mut [u32], b: &[u32]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = m.mul(*x, y);
    }
}

/// `a[i] = a[i]·w mod q` for a constant w < q (Shoup).
pub fn mul_scalar_inplace(m: &Modulus, a: &mut [u32], w: u32) {
    mul_scalar_inplace_with(Variant::best(), m, a, w);
}

/// [`mul_scalar_inplace`] with a chosen variant (panics if the CPU lacks it).
pub fn mul_scalar_inplace_with(v: Variant, m: &Modulus, a: &mut [u32], w: u32) {
    dispatch!(
        v,
        mul_scalar_inplace_scalar(m, a, w),
        avx2::mul_scalar_inplace(m, a, w),
        avx512::mul_scalar_inplace(m, a, w)
    );
}

/// Portable [`mul_scalar_inplace`]; the reference for the SIMD variants.
pub fn mul_scalar_inplace_scalar(m: &Modulus, a: &mut [u32], w: u32) {
    let ws = m.shoup(w);
    for x in a.iter_mut() {
        *x = m.mul_shoup(*x, w, ws);
    }
}

/// `a[i] = (a[i] + w) mod q` for a constant w < q.
pub fn add_scalar_inplace(m: &Modulus, a: &mut [u32], w: u32) {
    for x in a.iter_mut() {
        *x = m.add(*x, w);
    }
}

/// `a[i] = (a[i] - b[i])·w mod q` for a constant w < q: the last step of
/// rescale and ModDown.
pub fn sub_mul_scalar_assign(m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
    sub_mul_scalar_assign_with(Variant::best(), m, a, b, w);
}

/// [`sub_mul_scalar_assign`] with a chosen variant (panics if the CPU lacks it).
pub fn sub_mul_scalar_assign_with(v: Variant, m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
    assert_eq!(a.len(), b.len(), "limb lengths differ");
    dispatch!(
        v,
        sub_mul_scalar_assign_scalar(m, a, b, w),
        avx2::sub_mul_scalar_assign(m, a, b, w),
        avx512::sub_mul_scalar_assign(m, a, b, w)
    );
}

/// Portable [`sub_mul_scalar_assign`]; the reference for the SIMD variants.
pub fn sub_mul_scalar_assign_scalar(m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
    let ws = m.shoup(w);
    for (x, &y) in a.iter_mut().zip(b) {
        *x = m.mul_shoup(*x + m.value() - y, w, ws);
    }
}

/// `a[i] = a[i] + b[i]·w mod q` for a constant w < q: adds a scaled
/// polynomial (ModDown fused with rescaling adds P·d this way).
pub fn add_mul_scalar_assign(m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
    add_mul_scalar_assign_with(Variant::best(), m, a, b, w);
}

/// [`add_mul_scalar_assign`] with a chosen variant (panics if the CPU lacks it).
pub fn add_mul_scalar_assign_with(v: Variant, m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
    assert_eq!(a.len(), b.len(), "limb lengths differ");
    dispatch!(
        v,
        add_mul_scalar_assign_scalar(m, a, b, w),
        avx2::add_mul_scalar_assign(m, a, b, w),
        avx512::add_mul_scalar_assign(m, a, b, w)
    );
}

/// Portable [`add_mul_scalar_assign`]; the reference for the SIMD variants.
pub fn add_mul_scalar_assign_scalar(m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
    let ws = m.shoup(w);
    for (x, &y) in a.iter_mut().zip(b) {
        *x = m.add(*x, m.mul_shoup(y, w, ws));
    }
}

/// Tensor product of degree-1 ciphertext limbs (NTT domain):
/// `out = (a0·b0, a0·b1 + a1·b0, a1·b1) mod q` element-wise.
pub fn tensor(m: &Modulus, a: [&[u32]; 2], b: [&[u32]; 2], out: [&mut [u32]; 3]) {
    tensor_with(Variant::best(), m, a, b, out);
}

/// [`tensor`] with a chosen variant (panics if the CPU lacks it).
pub fn tensor_with(v: Variant, m: &Modulus, a: [&[u32]; 2], b: [&[u32]; 2], out: [&mut [u32]; 3]) {
    let len = out[0].len();
    assert!(a.iter().chain(&b).all(|x| x.len() == len) && out.iter().all(|o| o.len() == len), "limb lengths differ");
    dispatch!(v, tensor_scalar(m, a, b, out), avx2::tensor(m, a, b, out), avx512::tensor(m, a, b, out));
}

/// Portable [`tensor`] (Barrett on each 64-bit product and on the sum
/// a0·b1 + a1·b0 < 2^61); the reference for the SIMD variants.
pub fn tensor_scalar(m: &Modulus, a: [&[u32]; 2], b: [&[u32]; 2], out: [&mut [u32]; 3]) {
    let [o0, o1, o2] = out;
    for i in 0..o0.len() {
        let (a0, a1, b0, b1) = (u64::from(a[0][i]), u64::from(a[1][i]), u64::from(b[0][i]), u64::from(b[1][i]));
        o0[i] = m.reduce_u64(a0 * b0);
        o1[i] = m.reduce_u64(a0 * b1 + a1 * b0);
        o2[i] = m.reduce_u64(a1 * b1);
    }
}

/// Terms summed in a `u64` before a reduction: 16 products of values below
/// 2^30 stay below 2^64, and so do a reduced partial sum plus 15 more.
const SUM_TERMS: usize = 16;

/// `out[i] = Σ_j a[j][i]·b[j][i] mod q` (every `a[j][i]`, `b[j][i]` < 2^30):
/// the key-switching inner product.
pub fn mul_sum(m: &Modulus, a: &[&[u32]], b: &[&[u32]], out: &mut [u32]) {
    mul_sum_with(Variant::best(), m, a, b, out);
}

/// [`mul_sum`] with a chosen variant (panics if the CPU lacks it).
pub fn mul_sum_with(v: Variant, m: &Modulus, a: &[&[u32]], b: &[&[u32]], out: &mut [u32]) {
    assert_eq!(a.len(), b.len(), "term counts differ");
    assert!(a.iter().chain(b).all(|x| x.len() == out.len()), "limb lengths differ");
    dispatch!(v, mul_sum_scalar(m, a, b, out), avx2::mul_sum(m, a, b, out), avx512::mul_sum(m, a, b, out));
}

/// Portable [`mul_sum`]; the reference for the SIMD variants.
pub fn mul_sum_scalar(m: &Modulus, a: &[&[u32]], b: &[&[u32]], out: &mut [u32]) {
    for (i, o) in out.iter_mut().enumerate() {
        let mut acc = 0u64;
        for (j, (x, y)) in a.iter().zip(b).enumerate() {
            if j > 0 && j % (SUM_TERMS - 1) == 0 {
                acc = u64::from(m.reduce_u64(acc));
            }
            acc += u64::from(x[i]) * u64::from(y[i]);
        }
        *o = m.reduce_u64(acc);
    }
}

/// Words per block of the interleaved layout of [`mul_scalar_sum`].
pub const SUM_BLOCK: usize = 16;

/// One block of one term of [`mul_scalar_sum`]: 16 words, aligned to a cache
/// line so that each vector load touches one line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct SumBlock(pub [u32; SUM_BLOCK]);

/// `out[i] = Σ_j x_j[i]·c[j] mod q` for constants `c[j]` (all `x_j[i]`,
/// `c[j]` < 2^30): the inner loop of RNS basis conversion. The terms are
/// interleaved by blocks of [`SUM_BLOCK`] words: with t = `c.len()`,
/// `x[b·t + j]` holds words `16b .. 16b + 16` of `x_j`, and `x.len()` is t
/// times the number of blocks of `out` (the last one may be partial: its
/// extra words are ignored). Each block's terms are then one contiguous run
/// of cache lines.
pub fn mul_scalar_sum(m: &Modulus, x: &[SumBlock], c: &[u32], out: &mut [u32]) {
    mul_scalar_sum_with(Variant::best(), m, x, c, out);
}

/// [`mul_scalar_sum`] with a chosen variant (panics if the CPU lacks it).
pub fn mul_scalar_sum_with(v: Variant, m: &Modulus, x: &[SumBlock], c: &[u32], out: &mut [u32]) {
    assert_eq!(x.len(), out.len().div_ceil(SUM_BLOCK) * c.len(), "not one block per term and output block");
    dispatch!(
        v,
        mul_scalar_sum_scalar(m, x, c, out),
        avx2::mul_scalar_sum(m, x, c, out),
        avx512::mul_scalar_sum(m, x, c, out)
    );
}

/// Portable [`mul_scalar_sum`]; the reference for the SIMD variants.
pub fn mul_scalar_sum_scalar(m: &Modulus, x: &[SumBlock], c: &[u32], out: &mut [u32]) {
    if c.is_empty() {
        out.fill(0);
        return;
    }
    for (block, out) in x.chunks_exact(c.len()).zip(out.chunks_mut(SUM_BLOCK)) {
        for (l, o) in out.iter_mut().enumerate() {
            let mut acc = 0u64;
            for (j, (x, &c)) in block.iter().zip(c).enumerate() {
                if j > 0 && j % (SUM_TERMS - 1) == 0 {
                    acc = u64::from(m.reduce_u64(acc));
                }
                acc += u64::from(x.0[l]) * u64::from(c);
            }
            *o = m.reduce_u64(acc);
        }
    }
}

/// `out[i] = x mod q`, where x is the centered representative of `a[i]` mod
/// `from` (`a[i] - from` if `a[i] > from / 2`, else `a[i]`; `a[i] < from < 2^30`):
/// a limb of one prime carried to another, as rescaling needs.
pub fn center_lift(m: &Modulus, from: u32, a: &[u32], out: &mut [u32]) {
    center_lift_with(Variant::best(), m, from, a, out);
}

/// [`center_lift`] with a chosen variant (panics if the CPU lacks it).
pub fn center_lift_with(v: Variant, m: &Modulus, from: u32, a: &[u32], out: &mut [u32]) {
    assert_eq!(a.len(), out.len(), "limb lengths differ");
    dispatch!(
        v,
        center_lift_scalar(m, from, a, out),
        avx2::center_lift(m, from, a, out),
        avx512::center_lift(m, from, a, out)
    );
}

/// Portable [`center_lift`]; the reference for the SIMD variants.
pub fn center_lift_scalar(m: &Modulus, from: u32, a: &[u32], out: &mut [u32]) {
    let (half, from_mod) = (from / 2, m.reduce_u64(from.into()));
    for (o, &x) in out.iter_mut().zip(a) {
        let x_mod = m.reduce_u64(x.into());
        *o = if x > half { m.sub(x_mod, from_mod) } else { x_mod };
    }
}

/// `out[i] = c[i] mod q` in [0, q) for signed coefficients: a limb of an
/// encoding's residues. The AVX-512 variant estimates the quotient in
/// floating point and corrects it with exact 64-bit lane products (AVX2 has
/// no 64-bit lane multiply and runs the scalar loop).
pub fn reduce_signed(m: &Modulus, c: &[i64], out: &mut [u32]) {
    reduce_signed_with(Variant::best(), m, c, out);
}

/// [`reduce_signed`] with a chosen variant (panics if the CPU lacks it).
pub fn reduce_signed_with(v: Variant, m: &Modulus, c: &[i64], out: &mut [u32]) {
    assert_eq!(c.len(), out.len(), "limb lengths differ");
    if v.checked() == Variant::Avx512 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `checked` verified that the CPU supports AVX-512 F and DQ.
        return unsafe { avx512::reduce_signed(m, c, out) };
    }
    reduce_signed_scalar(m, c, out);
}

/// Portable [`reduce_signed`]; the reference for the SIMD variant.
pub fn reduce_signed_scalar(m: &Modulus, c: &[i64], out: &mut [u32]) {
    for (o, &x) in out.iter_mut().zip(c) {
        *o = m.reduce_i64(x);
    }
}

/// `out[i] = a[perm[i]]` (every `perm[i] < a.len()`). The SIMD variants
/// permute whole aligned blocks of 8 or 16 words with one shuffle where
/// `perm` maps such a block into one aligned block, as the NTT-domain
/// automorphisms do (see `backend::cpu::ntt_automorphism_permutation`),
/// and gather word by word elsewhere.
pub fn permute(a: &[u32], perm: &[u32], out: &mut [u32]) {
    permute_with(Variant::best(), a, perm, out);
}

/// [`permute`] with a chosen variant (panics if the CPU lacks it).
pub fn permute_with(v: Variant, a: &[u32], perm: &[u32], out: &mut [u32]) {
    assert_eq!(perm.len(), out.len(), "permutation length differs");
    dispatch!(v, permute_scalar(a, perm, out), avx2::permute(a, perm, out), avx512::permute(a, perm, out));
}

/// Portable [`permute`]; the reference for the SIMD variants.
pub fn permute_scalar(a: &[u32], perm: &[u32], out: &mut [u32]) {
    for (o, &j) in out.iter_mut().zip(perm) {
        *o = a[j as usize];
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::math::primes::ntt_primes_below;

    /// xorshift64: deterministic test data without a seed file.
    pub(crate) struct TestRng(pub(crate) u64);

    impl TestRng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// `len` residues below q; the first ones are the edge values q-1 and 0.
        pub(crate) fn limb(&mut self, q: u32, len: usize) -> Vec<u32> {
            let mut v: Vec<u32> = (0..len).map(|_| (self.next() % u64::from(q)) as u32).collect();
            v.iter_mut().zip([q - 1, 0, q - 1]).for_each(|(x, e)| *x = e);
            v
        }
    }

    /// NTT-friendly primes (2N = 2^17) of 20 to 30 bits, the two largest below
    /// 2^30 among them, plus 2^30 - 35, the largest prime below 2^30.
    pub(crate) fn test_moduli() -> Vec<Modulus> {
        let mut primes: Vec<u32> =
            [20, 22, 25, 28, 29].iter().filter_map(|&b| ntt_primes_below(b, 1 << 17).next()).collect();
        primes.extend(ntt_primes_below(30, 1 << 17).take(2));
        primes.push(1_073_741_789);
        primes.into_iter().map(|q| Modulus::new(q).unwrap()).collect()
    }

    /// The SIMD variants this CPU runs (others are skipped silently).
    pub(crate) fn simd_variants() -> impl Iterator<Item = Variant> {
        Variant::ALL.into_iter().filter(|&v| v != Variant::Scalar && v.is_available())
    }

    const LENGTHS: [usize; 10] = [0, 1, 7, 8, 15, 16, 17, 33, 1000, 4096];

    /// Runs `check(variant, modulus, len, rng)` for every available SIMD
    /// variant, test modulus and length.
    fn for_all(mut check: impl FnMut(Variant, &Modulus, usize, &mut TestRng)) {
        let mut rng = TestRng(0x9E37_79B9_7F4A_7C15);
        for m in test_moduli() {
            for len in LENGTHS {
                for v in simd_variants() {
                    check(v, &m, len, &mut rng);
                }
            }
        }
    }

    fn assert_reduced(m: &Modulus, out: &[u32]) {
        assert!(out.iter().all(|&x| x < m.value()), "output not below q = {}", m.value());
    }

    #[test]
    fn variant_best_is_available_and_scalar_always_is() {
        assert!(Variant::Scalar.is_available());
        assert!(Variant::best().is_available());
        assert_eq!(Variant::best().checked(), Variant::best());
    }

    #[test]
    fn assign_ops_match_scalar() {
        type Op = fn(Variant, &Modulus, &mut [u32], &[u32]);
        type Reference = fn(&Modulus, &mut [u32], &[u32]);
        let ops: [(&str, Op, Reference); 3] = [
            ("add_assign", add_assign_with, add_assign_scalar),
            ("sub_assign", sub_assign_with, sub_assign_scalar),
            ("mul_assign", mul_assign_with, mul_assign_scalar),
        ];
        for_all(|v, m, len, rng| {
            let (a, b) = (rng.limb(m.value(), len), rng.limb(m.value(), len));
            for (name, op, reference) in ops {
                let (mut got, mut want) = (a.clone(), a.clone());
                op(v, m, &mut got, &b);
                reference(m, &mut want, &b);
                assert_eq!(got, want, "{name} {v:?} q = {} len = {len}", m.value());
                assert_reduced(m, &got);
            }
        });
    }

    #[test]
    fn reduce_signed_matches_scalar_over_all_of_i64() {
        for_all(|v, m, len, rng| {
            let q = i64::from(m.value());
            let edges = [0, 1, -1, q, -q, q - 1, 1 - q, 3 * q, -3 * q, i64::MAX, i64::MIN, 1 << 62, -(1 << 62)];
            // Edges, then values of every magnitude (a random shift of a
            // random word) and large values just off a multiple of q, where
            // the floating-point quotient is most often one off.
            let mut value = |i: usize| match (edges.get(i), i % 2) {
                (Some(&e), _) => e,
                (None, 0) => (rng.next() as i64) >> (rng.next() % 64),
                (None, _) => {
                    let k = i64::MAX / q - (rng.next() % (1 << 20)) as i64;
                    let off = 1 + (rng.next() % 3) as i64;
                    if rng.next() % 2 == 0 { -(k * q) - off } else { k * q + off - 1 }
                }
            };
            let c: Vec<i64> = (0..len).map(&mut value).collect();
            let (mut got, mut want) = (vec![0; len], vec![0; len]);
            reduce_signed_with(v, m, &c, &mut got);
            reduce_signed_scalar(m, &c, &mut want);
            assert_eq!(got, want, "{v:?} q = {q} len = {len}");
            assert_reduced(m, &got);
        });
    }

    #[test]
    fn mul_scalar_inplace_matches_scalar() {
        for_all(|v, m, len, rng| {
            let a = rng.limb(m.value(), len);
            for w in [0, 1, m.value() - 1, (rng.next() % u64::from(m.value())) as u32] {
                let (mut got, mut want) = (a.clone(), a.clone());
                mul_scalar_inplace_with(v, m, &mut got, w);
                mul_scalar_inplace_scalar(m, &mut want, w);
                assert_eq!(got, want, "{v:?} q = {} len = {len} w = {w}", m.value());
                assert_reduced(m, &got);
            }
        });
    }

    #[test]
    fn scaled_assign_ops_match_scalar() {
        type Op = fn(Variant, &Modulus, &mut [u32], &[u32], u32);
        type Reference = fn(&Modulus, &mut [u32], &[u32], u32);
        let ops: [(&str, Op, Reference); 2] = [
            ("sub_mul_scalar_assign", sub_mul_scalar_assign_with, sub_mul_scalar_assign_scalar),
            ("add_mul_scalar_assign", add_mul_scalar_assign_with, add_mul_scalar_assign_scalar),
        ];
        for_all(|v, m, len, rng| {
            let (a, b) = (rng.limb(m.value(), len), rng.limb(m.value(), len));
            for w in [0, 1, m.value() - 1, (rng.next() % u64::from(m.value())) as u32] {
                for (name, op, reference) in ops {
                    let (mut got, mut want) = (a.clone(), a.clone());
                    op(v, m, &mut got, &b, w);
                    reference(m, &mut want, &b, w);
                    assert_eq!(got, want, "{name} {v:?} q = {} len = {len} w = {w}", m.value());
                    assert_reduced(m, &got);
                }
            }
        });
    }

    #[test]
    fn add_mul_scalar_assign_is_a_plus_b_times_w() {
        let mut rng = TestRng(5);
        for m in test_moduli() {
            let q = u64::from(m.value());
            let (a, b) = (rng.limb(m.value(), 64), rng.limb(m.value(), 64));
            let w = (rng.next() % q) as u32;
            let mut got = a.clone();
            add_mul_scalar_assign(&m, &mut got, &b, w);
            for i in 0..64 {
                let want = (u64::from(a[i]) + u64::from(b[i]) * u64::from(w) % q) % q;
                assert_eq!(u64::from(got[i]), want, "q = {q} i = {i}");
            }
        }
    }

    #[test]
    fn tensor_matches_scalar_and_naive() {
        for_all(|v, m, len, rng| {
            let q = m.value();
            let mut inputs: Vec<Vec<u32>> = (0..4).map(|_| rng.limb(q, len)).collect();
            // All q - 1 somewhere: the largest middle sum 2(q-1)².
            for x in &mut inputs {
                x.iter_mut().skip(3).step_by(5).for_each(|x| *x = q - 1);
            }
            let [a0, a1, b0, b1] = [&inputs[0], &inputs[1], &inputs[2], &inputs[3]].map(Vec::as_slice);
            let mut got = [vec![0; len], vec![0; len], vec![0; len]];
            let mut want = got.clone();
            let [g0, g1, g2] = &mut got;
            tensor_with(v, m, [a0, a1], [b0, b1], [g0, g1, g2]);
            let [w0, w1, w2] = &mut want;
            tensor_scalar(m, [a0, a1], [b0, b1], [w0, w1, w2]);
            assert_eq!(got, want, "{v:?} q = {q} len = {len}");
            let q128 = u128::from(q);
            for i in 0..len {
                let [x0, x1, y0, y1] = [a0[i], a1[i], b0[i], b1[i]].map(u128::from);
                let naive = [x0 * y0 % q128, (x0 * y1 + x1 * y0) % q128, x1 * y1 % q128];
                assert_eq!([got[0][i], got[1][i], got[2][i]].map(u128::from), naive, "q = {q} i = {i}");
            }
        });
    }

    #[test]
    fn sums_match_scalar_and_naive() {
        const MAX: u32 = (1 << 30) - 1;
        for_all(|v, m, len, rng| {
            let q = m.value();
            for terms in [0, 1, 2, 14, 15, 16, 17, 31, 32, 46] {
                // Rows below 2^30 (not only below q); the first row all 2^30 - 1.
                let rows: Vec<Vec<u32>> = (0..terms)
                    .map(
                        |j| if j == 0 { vec![MAX; len] } else { (0..len).map(|_| (rng.next() >> 34) as u32).collect() },
                    )
                    .collect();
                let keys: Vec<Vec<u32>> = (0..terms).map(|_| vec![MAX; len]).collect();
                let consts: Vec<u32> =
                    (0..terms).map(|j| if j % 2 == 0 { MAX } else { (rng.next() >> 34) as u32 }).collect();
                let (a, b): (Vec<&[u32]>, Vec<&[u32]>) =
                    (rows.iter().map(Vec::as_slice).collect(), keys.iter().map(Vec::as_slice).collect());
                let (mut got, mut want) = (vec![7; len], vec![9; len]);
                mul_sum_with(v, m, &a, &b, &mut got);
                mul_sum_scalar(m, &a, &b, &mut want);
                assert_eq!(got, want, "mul_sum {v:?} q = {q} len = {len} terms = {terms}");
                let naive: Vec<u32> = (0..len)
                    .map(|i| {
                        (a.iter().zip(&b).map(|(x, y)| u128::from(x[i]) * u128::from(y[i])).sum::<u128>()
                            % u128::from(q)) as u32
                    })
                    .collect();
                assert_eq!(got, naive, "mul_sum naive q = {q} len = {len} terms = {terms}");
                // The same rows interleaved by blocks, the last block padded with garbage.
                let blocks = len.div_ceil(SUM_BLOCK);
                let interleaved: Vec<SumBlock> = (0..blocks * terms)
                    .map(|k| {
                        let (b, j) = (k / terms, k % terms);
                        SumBlock(std::array::from_fn(|l| a[j].get(b * SUM_BLOCK + l).copied().unwrap_or(MAX)))
                    })
                    .collect();
                let (mut got, mut want) = (vec![7; len], vec![9; len]);
                mul_scalar_sum_with(v, m, &interleaved, &consts, &mut got);
                mul_scalar_sum_scalar(m, &interleaved, &consts, &mut want);
                assert_eq!(got, want, "mul_scalar_sum {v:?} q = {q} len = {len} terms = {terms}");
                let naive: Vec<u32> = (0..len)
                    .map(|i| {
                        (a.iter().zip(&consts).map(|(x, &c)| u128::from(x[i]) * u128::from(c)).sum::<u128>()
                            % u128::from(q)) as u32
                    })
                    .collect();
                assert_eq!(got, naive, "mul_scalar_sum naive q = {q} len = {len} terms = {terms}");
            }
        });
    }

    #[test]
    fn center_lift_matches_scalar_and_naive() {
        let moduli = test_moduli();
        for_all(|v, m, len, rng| {
            for from in &moduli {
                let f = from.value();
                let mut a = rng.limb(f, len);
                a.iter_mut().skip(3).zip([f / 2, f / 2 + 1, 1, f - 2]).for_each(|(x, e)| *x = e);
                let (mut got, mut want) = (vec![0; len], vec![0; len]);
                center_lift_with(v, m, f, &a, &mut got);
                center_lift_scalar(m, f, &a, &mut want);
                assert_eq!(got, want, "{v:?} q = {} from = {f} len = {len}", m.value());
                for (&x, &g) in a.iter().zip(&got) {
                    assert_eq!(g, m.reduce_i64(from.center(x)), "q = {} from = {f} x = {x}", m.value());
                }
            }
        });
    }

    #[test]
    fn permute_matches_scalar() {
        use crate::math::ntt::bit_reverse;
        let mut rng = TestRng(0x1234_5678_9ABC_DEF1);
        for v in simd_variants() {
            for log_n in 0..=12 {
                let n = 1usize << log_n;
                let a: Vec<u32> = (0..n).map(|_| rng.next() as u32).collect();
                // NTT-domain automorphisms (whole blocks), the identity and a
                // random permutation (word-by-word fallback).
                let mut perms: Vec<Vec<u32>> = [1u64, 3, 5, 2 * n as u64 - 1, 2 * n as u64 + 1]
                    .iter()
                    .map(|&g| {
                        let g = (g % (2 * n as u64)) | 1;
                        (0..n)
                            .map(|i| {
                                let e = ((2 * bit_reverse(i, log_n) as u64 + 1) * g) & (2 * n as u64 - 1);
                                bit_reverse(((e - 1) / 2) as usize, log_n) as u32
                            })
                            .collect()
                    })
                    .collect();
                let mut shuffled: Vec<u32> = (0..n as u32).collect();
                for i in (1..n).rev() {
                    shuffled.swap(i, (rng.next() % (i as u64 + 1)) as usize);
                }
                perms.push(shuffled);
                for perm in &perms {
                    let (mut got, mut want) = (vec![0; n], vec![0; n]);
                    permute_with(v, &a, perm, &mut got);
                    permute_scalar(&a, perm, &mut want);
                    assert_eq!(got, want, "{v:?} n = {n}");
                }
            }
            // Lengths that are not whole vectors, and a gather from a longer source.
            for len in LENGTHS {
                let a: Vec<u32> = (0..2 * len + 5).map(|_| rng.next() as u32).collect();
                let perm: Vec<u32> = (0..len).map(|_| (rng.next() % a.len() as u64) as u32).collect();
                let (mut got, mut want) = (vec![0; len], vec![0; len]);
                permute_with(v, &a, &perm, &mut got);
                permute_scalar(&a, &perm, &mut want);
                assert_eq!(got, want, "{v:?} len = {len}");
            }
        }
    }
}
