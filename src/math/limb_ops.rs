//! Element-wise arithmetic on limbs (slices of residues mod one prime), the
//! pointwise hot loops of the CPU backend. Inputs and outputs in [0, q);
//! every slice argument of one call has the same length.
//!
//! Each op `foo` has a portable reference `foo_scalar` and SIMD variants in
//! `limb_ops/avx2.rs` and `limb_ops/avx512.rs`; `foo` runs [`Variant::best`]
//! and `foo_with` runs a chosen [`Variant`]. All variants return bit-identical
//! results (every result is the unique representative in [0, q)).
//!
//! The streaming ops (`add`, `sub`, `mul_acc_u64`, `mul_scalar_acc_u64`) are
//! bound by memory, not arithmetic: the compiler's SSE2 loops for the scalar
//! versions are only 1.2–1.4× slower than AVX2, and 512-bit loops measured no
//! faster than AVX2 (AMD Zen 4), so [`Variant::Avx512`] runs the AVX2 loop for them.

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
    /// x86-64 AVX-512 F (16 × u32 lanes).
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
                std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("avx512f")
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
            // SAFETY: `checked` verified that the CPU supports AVX-512 F and AVX2.
            Variant::Avx512 => unsafe { $avx512 },
            _ => $scalar,
        }
    };
}

/// `out[i] = (a[i] + b[i]) mod q`.
pub fn add(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    add_with(Variant::best(), m, a, b, out);
}

/// [`add`] with a chosen variant (panics if the CPU lacks it).
pub fn add_with(v: Variant, m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    assert!(a.len() == out.len() && b.len() == out.len(), "limb lengths differ");
    dispatch!(v, add_scalar(m, a, b, out), avx2::add(m, a, b, out), avx2::add(m, a, b, out));
}

/// Portable [`add`]; the reference for the SIMD variants.
#[inline]
pub fn add_scalar(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.add(x, y);
    }
}

/// `out[i] = (a[i] - b[i]) mod q`.
pub fn sub(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    sub_with(Variant::best(), m, a, b, out);
}

/// [`sub`] with a chosen variant (panics if the CPU lacks it).
pub fn sub_with(v: Variant, m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    assert!(a.len() == out.len() && b.len() == out.len(), "limb lengths differ");
    dispatch!(v, sub_scalar(m, a, b, out), avx2::sub(m, a, b, out), avx2::sub(m, a, b, out));
}

/// Portable [`sub`]; the reference for the SIMD variants.
#[inline]
pub fn sub_scalar(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.sub(x, y);
    }
}

/// `a[i] = -a[i] mod q`.
pub fn neg_inplace(m: &Modulus, a: &mut [u32]) {
    for x in a.iter_mut() {
        *x = m.neg(*x);
    }
}

/// `out[i] = a[i]·b[i] mod q` (`a[i]`, `b[i]` < q).
pub fn mul(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    mul_with(Variant::best(), m, a, b, out);
}

/// [`mul`] with a chosen variant (panics if the CPU lacks it).
pub fn mul_with(v: Variant, m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    assert!(a.len() == out.len() && b.len() == out.len(), "limb lengths differ");
    dispatch!(v, mul_scalar(m, a, b, out), avx2::mul(m, a, b, out), avx512::mul(m, a, b, out));
}

/// Portable [`mul`] (Barrett on the 64-bit product); the reference for the
/// SIMD variants.
pub fn mul_scalar(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.mul(x, y);
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

/// `acc[i] += a[i]·b[i]` (wrapping; with `a[i]`, `b[i]` < 2^30 up to 16 terms fit,
/// so the caller reduces at most every 16 terms).
pub fn mul_acc_u64(acc: &mut [u64], a: &[u32], b: &[u32]) {
    mul_acc_u64_with(Variant::best(), acc, a, b);
}

/// [`mul_acc_u64`] with a chosen variant (panics if the CPU lacks it).
pub fn mul_acc_u64_with(v: Variant, acc: &mut [u64], a: &[u32], b: &[u32]) {
    assert!(a.len() == acc.len() && b.len() == acc.len(), "limb lengths differ");
    dispatch!(v, mul_acc_u64_scalar(acc, a, b), avx2::mul_acc_u64(acc, a, b), avx2::mul_acc_u64(acc, a, b));
}

/// Portable [`mul_acc_u64`]; the reference for the SIMD variants.
#[inline]
pub fn mul_acc_u64_scalar(acc: &mut [u64], a: &[u32], b: &[u32]) {
    for ((s, &x), &y) in acc.iter_mut().zip(a).zip(b) {
        *s = s.wrapping_add(u64::from(x) * u64::from(y));
    }
}

/// `acc[i] += a[i]·c` for a constant c (wrapping; the same budget as
/// [`mul_acc_u64`]): the inner loop of RNS basis conversion.
pub fn mul_scalar_acc_u64(acc: &mut [u64], a: &[u32], c: u32) {
    mul_scalar_acc_u64_with(Variant::best(), acc, a, c);
}

/// [`mul_scalar_acc_u64`] with a chosen variant (panics if the CPU lacks it).
pub fn mul_scalar_acc_u64_with(v: Variant, acc: &mut [u64], a: &[u32], c: u32) {
    assert_eq!(a.len(), acc.len(), "limb lengths differ");
    dispatch!(
        v,
        mul_scalar_acc_u64_scalar(acc, a, c),
        avx2::mul_scalar_acc_u64(acc, a, c),
        avx2::mul_scalar_acc_u64(acc, a, c)
    );
}

/// Portable [`mul_scalar_acc_u64`]; the reference for the SIMD variants.
#[inline]
pub fn mul_scalar_acc_u64_scalar(acc: &mut [u64], a: &[u32], c: u32) {
    let c = u64::from(c);
    for (s, &x) in acc.iter_mut().zip(a) {
        *s = s.wrapping_add(u64::from(x) * c);
    }
}

/// `out[i] = acc[i] mod q`, for any 64-bit `acc[i]`.
pub fn reduce_u64(m: &Modulus, acc: &[u64], out: &mut [u32]) {
    reduce_u64_with(Variant::best(), m, acc, out);
}

/// [`reduce_u64`] with a chosen variant (panics if the CPU lacks it).
pub fn reduce_u64_with(v: Variant, m: &Modulus, acc: &[u64], out: &mut [u32]) {
    assert_eq!(acc.len(), out.len(), "limb lengths differ");
    dispatch!(v, reduce_u64_scalar(m, acc, out), avx2::reduce_u64(m, acc, out), avx512::reduce_u64(m, acc, out));
}

/// Portable [`reduce_u64`]; the reference for the SIMD variants.
pub fn reduce_u64_scalar(m: &Modulus, acc: &[u64], out: &mut [u32]) {
    for (o, &s) in out.iter_mut().zip(acc) {
        *o = m.reduce_u64(s);
    }
}

/// `out[i] = (a[i] - b[i])·w mod q` for a constant w < q: the last step of
/// rescale and ModDown.
pub fn sub_mul_scalar(m: &Modulus, a: &[u32], b: &[u32], w: u32, out: &mut [u32]) {
    sub_mul_scalar_with(Variant::best(), m, a, b, w, out);
}

/// [`sub_mul_scalar`] with a chosen variant (panics if the CPU lacks it).
pub fn sub_mul_scalar_with(v: Variant, m: &Modulus, a: &[u32], b: &[u32], w: u32, out: &mut [u32]) {
    assert!(a.len() == out.len() && b.len() == out.len(), "limb lengths differ");
    dispatch!(
        v,
        sub_mul_scalar_scalar(m, a, b, w, out),
        avx2::sub_mul_scalar(m, a, b, w, out),
        avx512::sub_mul_scalar(m, a, b, w, out)
    );
}

/// Portable [`sub_mul_scalar`]; the reference for the SIMD variants.
pub fn sub_mul_scalar_scalar(m: &Modulus, a: &[u32], b: &[u32], w: u32, out: &mut [u32]) {
    let ws = m.shoup(w);
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.mul_shoup(x + m.value() - y, w, ws);
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
    fn binary_ops_match_scalar() {
        type Op = fn(Variant, &Modulus, &[u32], &[u32], &mut [u32]);
        type Reference = fn(&Modulus, &[u32], &[u32], &mut [u32]);
        let ops: [(&str, Op, Reference); 3] =
            [("add", add_with, add_scalar), ("sub", sub_with, sub_scalar), ("mul", mul_with, mul_scalar)];
        for_all(|v, m, len, rng| {
            let (a, b) = (rng.limb(m.value(), len), rng.limb(m.value(), len));
            for (name, op, reference) in ops {
                let (mut got, mut want) = (vec![0; len], vec![0; len]);
                op(v, m, &a, &b, &mut got);
                reference(m, &a, &b, &mut want);
                assert_eq!(got, want, "{name} {v:?} q = {} len = {len}", m.value());
                assert_reduced(m, &got);
            }
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
    fn sub_mul_scalar_matches_scalar() {
        for_all(|v, m, len, rng| {
            let (a, b) = (rng.limb(m.value(), len), rng.limb(m.value(), len));
            let w = (rng.next() % u64::from(m.value())) as u32;
            let (mut got, mut want) = (vec![0; len], vec![0; len]);
            sub_mul_scalar_with(v, m, &a, &b, w, &mut got);
            sub_mul_scalar_scalar(m, &a, &b, w, &mut want);
            assert_eq!(got, want, "{v:?} q = {} len = {len}", m.value());
            assert_reduced(m, &got);
        });
    }

    #[test]
    fn accumulate_and_reduce_match_scalar() {
        for_all(|v, m, len, rng| {
            let start: Vec<u64> = (0..len).map(|_| rng.next() >> 4).collect();
            let (a, b) = (rng.limb(m.value(), len), rng.limb(m.value(), len));
            let c = (rng.next() % u64::from(m.value())) as u32;
            let (mut got, mut want) = (start.clone(), start);
            mul_acc_u64_with(v, &mut got, &a, &b);
            mul_acc_u64_scalar(&mut want, &a, &b);
            mul_scalar_acc_u64_with(v, &mut got, &a, c);
            mul_scalar_acc_u64_scalar(&mut want, &a, c);
            assert_eq!(got, want, "{v:?} q = {} len = {len}", m.value());
            // reduce_u64 takes any u64: add the extremes to the accumulators.
            got.iter_mut().zip([u64::MAX, 0, u64::MAX - 1, u64::from(m.value()) << 32]).for_each(|(x, e)| *x = e);
            let (mut out, mut out_ref) = (vec![0; len], vec![0; len]);
            reduce_u64_with(v, m, &got, &mut out);
            reduce_u64_scalar(m, &got, &mut out_ref);
            assert_eq!(out, out_ref, "reduce_u64 {v:?} q = {} len = {len}", m.value());
            assert_reduced(m, &out);
        });
    }
}
