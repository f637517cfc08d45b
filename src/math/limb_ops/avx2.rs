//! AVX2 limb loops (8 × u32 lanes) and the lane arithmetic that the AVX2 NTT
//! (`ntt/avx2.rs`) shares. Each loop processes whole vectors and hands the
//! remainder (len mod 8) to the scalar reference, so results are identical.
//!
//! Every function needs a CPU with AVX2: callers check
//! [`Variant::Avx2`](super::Variant) first.

use super::super::Modulus;
use std::arch::x86_64::{
    __m128i, __m256i, _mm_cvtsi32_si128, _mm_loadu_si128, _mm256_add_epi32, _mm256_add_epi64, _mm256_blend_epi32,
    _mm256_cvtepu32_epi64, _mm256_loadu_si256, _mm256_min_epu32, _mm256_mul_epu32, _mm256_mullo_epi32,
    _mm256_permutevar8x32_epi32, _mm256_set1_epi32, _mm256_set1_epi64x, _mm256_setr_epi32, _mm256_slli_epi64,
    _mm256_srl_epi64, _mm256_srli_epi64, _mm256_storeu_si256, _mm256_sub_epi32,
};

// ---------------------------------------------------------------------------
// Lane arithmetic (values are u32 lanes unless a name says u64).

/// Loads 8 words.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn load(x: &[u32; 8]) -> __m256i {
    // SAFETY: `x` is 32 readable bytes; the load is unaligned.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

/// Stores 8 words.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn store(x: &mut [u32; 8], v: __m256i) {
    // SAFETY: `x` is 32 writable bytes; the store is unaligned.
    unsafe { _mm256_storeu_si256(x.as_mut_ptr().cast(), v) }
}

/// Loads 4 u64 words.
#[inline]
#[target_feature(enable = "avx2")]
fn load_u64(x: &[u64; 4]) -> __m256i {
    // SAFETY: `x` is 32 readable bytes; the load is unaligned.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

/// Loads 8 u64 words as (words 0..4, words 4..8).
#[inline]
#[target_feature(enable = "avx2")]
fn load_u64_pair(x: &[u64; 8]) -> (__m256i, __m256i) {
    // SAFETY: `x` is 64 readable bytes, so both 32-byte unaligned loads
    // (at word 0 and word 4) stay inside it.
    unsafe { (_mm256_loadu_si256(x.as_ptr().cast()), _mm256_loadu_si256(x.as_ptr().add(4).cast())) }
}

/// Stores 4 u64 words.
#[inline]
#[target_feature(enable = "avx2")]
fn store_u64(x: &mut [u64; 4], v: __m256i) {
    // SAFETY: `x` is 32 writable bytes; the store is unaligned.
    unsafe { _mm256_storeu_si256(x.as_mut_ptr().cast(), v) }
}

/// Loads 4 words zero-extended to u64 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn load_widen(x: &[u32; 4]) -> __m256i {
    // SAFETY: `x` is 16 readable bytes; the load is unaligned.
    _mm256_cvtepu32_epi64(unsafe { _mm_loadu_si128(x.as_ptr().cast()) })
}

/// All lanes = x.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn splat(x: u32) -> __m256i {
    _mm256_set1_epi32(x as i32)
}

/// x - c where x ≥ c, else x: maps [0, 2c) onto [0, c). Equals the scalar
/// `if x >= c { x - c } else { x }` for every x.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn reduce_once(x: __m256i, c: __m256i) -> __m256i {
    _mm256_min_epu32(x, _mm256_sub_epi32(x, c))
}

/// High 32 bits of a·b per lane; `b_odd` holds b's odd lanes in the even
/// positions (`b_odd = b` when b is a splat).
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn mul_hi(a: __m256i, b: __m256i, b_odd: __m256i) -> __m256i {
    let even = _mm256_mul_epu32(a, b);
    let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), b_odd);
    _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd)
}

/// b's odd lanes moved to the even positions, the `b_odd` of [`mul_hi`].
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn odd_lanes(b: __m256i) -> __m256i {
    _mm256_srli_epi64::<32>(b)
}

/// a·w mod q lazily in [0, 2q) for any a and w < q, `ws = shoup(w)`
/// (`ws_odd` as in [`mul_hi`]): [`Modulus::mul_shoup_lazy`] per lane.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn mul_shoup_lazy(a: __m256i, w: __m256i, ws: __m256i, ws_odd: __m256i, q: __m256i) -> __m256i {
    // quotient = (a·ws) >> 32; a·w - quotient·q (mod 2^32)
    let quotient = mul_hi(a, ws, ws_odd);
    _mm256_sub_epi32(_mm256_mullo_epi32(a, w), _mm256_mullo_epi32(quotient, q))
}

// ---------------------------------------------------------------------------
// Limb loops, in the order of `limb_ops.rs`.

/// AVX2 [`super::add`].
#[target_feature(enable = "avx2")]
pub(crate) fn add(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    let q = splat(m.value());
    let (a8, a_tail) = a.as_chunks::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    let (o8, o_tail) = out.as_chunks_mut::<8>();
    for ((o, x), y) in o8.iter_mut().zip(a8).zip(b8) {
        store(o, reduce_once(_mm256_add_epi32(load(x), load(y)), q));
    }
    super::add_scalar(m, a_tail, b_tail, o_tail);
}

/// AVX2 [`super::sub`].
#[target_feature(enable = "avx2")]
pub(crate) fn sub(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    let q = splat(m.value());
    let (a8, a_tail) = a.as_chunks::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    let (o8, o_tail) = out.as_chunks_mut::<8>();
    for ((o, x), y) in o8.iter_mut().zip(a8).zip(b8) {
        // x - y, plus q where that wrapped
        let d = _mm256_sub_epi32(load(x), load(y));
        store(o, _mm256_min_epu32(d, _mm256_add_epi32(d, q)));
    }
    super::sub_scalar(m, a_tail, b_tail, o_tail);
}

/// Barrett constants for [`mul`]: with s = bit length of q,
/// quotient ≈ ((x >> (s-1)) · ⌊2^(2s)/q⌋) >> (s+1) for x < q².
struct Barrett {
    mu: __m256i,
    shift_in: __m128i,
    shift_out: __m128i,
}

impl Barrett {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn new(m: &Modulus) -> Self {
        let s = u32::BITS - m.value().leading_zeros();
        // 2^(s-1) < q < 2^s, so 2^s < mu < 2^(s+1) ≤ 2^31.
        let mu = ((1u64 << (2 * s)) / u64::from(m.value())) as u32;
        Self {
            mu: splat(mu),
            shift_in: _mm_cvtsi32_si128((s - 1) as i32),
            shift_out: _mm_cvtsi32_si128((s + 1) as i32),
        }
    }

    /// x - quotient·q in [0, 3q) in the low half of each u64 lane, for
    /// products x < q² in u64 lanes (upper halves of the result: garbage).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn reduce_lazy(&self, x: __m256i, q: __m256i) -> __m256i {
        // x >> (s-1) < 2^(s+1) fits the 32-bit multiplier input.
        let t = _mm256_srl_epi64(x, self.shift_in);
        let quotient = _mm256_srl_epi64(_mm256_mul_epu32(t, self.mu), self.shift_out);
        _mm256_sub_epi32(x, _mm256_mul_epu32(quotient, q))
    }
}

/// AVX2 [`super::mul`] (inputs < q).
#[target_feature(enable = "avx2")]
pub(crate) fn mul(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    let q = splat(m.value());
    let barrett = Barrett::new(m);
    let (a8, a_tail) = a.as_chunks::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    let (o8, o_tail) = out.as_chunks_mut::<8>();
    for ((o, x), y) in o8.iter_mut().zip(a8).zip(b8) {
        let (x, y) = (load(x), load(y));
        // lhs × rhs, even and odd lanes as u64
        let even = _mm256_mul_epu32(x, y);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(x), _mm256_srli_epi64::<32>(y));
        // Barrett to [0, 3q), back into u32 lanes
        let r_even = barrett.reduce_lazy(even, q);
        let r_odd = barrett.reduce_lazy(odd, q);
        let r = _mm256_blend_epi32::<0b1010_1010>(r_even, _mm256_slli_epi64::<32>(r_odd));
        // normalization
        store(o, reduce_once(reduce_once(r, q), q));
    }
    super::mul_scalar(m, a_tail, b_tail, o_tail);
}

/// AVX2 [`super::mul_scalar_inplace`].
#[target_feature(enable = "avx2")]
pub(crate) fn mul_scalar_inplace(m: &Modulus, a: &mut [u32], w: u32) {
    let (q, ws) = (splat(m.value()), splat(m.shoup(w)));
    let w_v = splat(w);
    let (a8, a_tail) = a.as_chunks_mut::<8>();
    for x in a8.iter_mut() {
        store(x, reduce_once(mul_shoup_lazy(load(x), w_v, ws, ws, q), q));
    }
    super::mul_scalar_inplace_scalar(m, a_tail, w);
}

/// AVX2 [`super::mul_acc_u64`].
#[target_feature(enable = "avx2")]
pub(crate) fn mul_acc_u64(acc: &mut [u64], a: &[u32], b: &[u32]) {
    let (s4, s_tail) = acc.as_chunks_mut::<4>();
    let (a4, a_tail) = a.as_chunks::<4>();
    let (b4, b_tail) = b.as_chunks::<4>();
    for ((s, x), y) in s4.iter_mut().zip(a4).zip(b4) {
        let p = _mm256_mul_epu32(load_widen(x), load_widen(y));
        store_u64(s, _mm256_add_epi64(load_u64(s), p));
    }
    super::mul_acc_u64_scalar(s_tail, a_tail, b_tail);
}

/// AVX2 [`super::mul_scalar_acc_u64`].
#[target_feature(enable = "avx2")]
pub(crate) fn mul_scalar_acc_u64(acc: &mut [u64], a: &[u32], c: u32) {
    let c_v = _mm256_set1_epi64x(i64::from(c));
    let (s4, s_tail) = acc.as_chunks_mut::<4>();
    let (a4, a_tail) = a.as_chunks::<4>();
    for (s, x) in s4.iter_mut().zip(a4) {
        let p = _mm256_mul_epu32(load_widen(x), c_v);
        store_u64(s, _mm256_add_epi64(load_u64(s), p));
    }
    super::mul_scalar_acc_u64_scalar(s_tail, a_tail, c);
}

/// AVX2 [`super::reduce_u64`] (any u64 input).
#[target_feature(enable = "avx2")]
pub(crate) fn reduce_u64(m: &Modulus, acc: &[u64], out: &mut [u32]) {
    // x = xh·2^32 + xl ≡ xh·c + xl with c = 2^32 mod q; both terms are
    // Shoup products (by c and by 1), each in [0, 2q), so the sum is < 4q.
    let c = ((1u64 << 32) % u64::from(m.value())) as u32;
    let (q, two_q) = (splat(m.value()), splat(2 * m.value()));
    let (c_v, c_shoup, one_shoup) = (splat(c), splat(m.shoup(c)), splat(m.shoup(1)));
    let lazy = |x: __m256i| {
        let xh = _mm256_srli_epi64::<32>(x);
        let quotient_h = _mm256_srli_epi64::<32>(_mm256_mul_epu32(xh, c_shoup));
        let quotient_l = _mm256_srli_epi64::<32>(_mm256_mul_epu32(x, one_shoup));
        // xl + xh·c - (quotient_h + quotient_l)·q, exact mod 2^32
        let sum = _mm256_add_epi32(x, _mm256_mul_epu32(xh, c_v));
        _mm256_sub_epi32(sum, _mm256_mul_epu32(_mm256_add_epi32(quotient_h, quotient_l), q))
    };
    let unzip = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    let (x8, x_tail) = acc.as_chunks::<8>();
    let (o8, o_tail) = out.as_chunks_mut::<8>();
    for (o, x) in o8.iter_mut().zip(x8) {
        let (lo, hi) = load_u64_pair(x);
        let (r_lo, r_hi) = (lazy(lo), lazy(hi));
        // lanes (0, 4, 1, 5, ...) → (0, 1, 2, ...)
        let r = _mm256_blend_epi32::<0b1010_1010>(r_lo, _mm256_slli_epi64::<32>(r_hi));
        let r = _mm256_permutevar8x32_epi32(r, unzip);
        // normalization
        store(o, reduce_once(reduce_once(r, two_q), q));
    }
    super::reduce_u64_scalar(m, x_tail, o_tail);
}

/// AVX2 [`super::sub_mul_scalar`].
#[target_feature(enable = "avx2")]
pub(crate) fn sub_mul_scalar(m: &Modulus, a: &[u32], b: &[u32], w: u32, out: &mut [u32]) {
    let (q, w_v, ws) = (splat(m.value()), splat(w), splat(m.shoup(w)));
    let (a8, a_tail) = a.as_chunks::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    let (o8, o_tail) = out.as_chunks_mut::<8>();
    for ((o, x), y) in o8.iter_mut().zip(a8).zip(b8) {
        let d = _mm256_sub_epi32(_mm256_add_epi32(load(x), q), load(y));
        store(o, reduce_once(mul_shoup_lazy(d, w_v, ws, ws, q), q));
    }
    super::sub_mul_scalar_scalar(m, a_tail, b_tail, w, o_tail);
}
