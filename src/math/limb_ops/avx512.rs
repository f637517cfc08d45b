//! AVX-512 limb loops (16 × u32 lanes) and the lane arithmetic that the
//! AVX-512 NTT (`ntt/avx512.rs`) shares. Each loop processes whole vectors
//! and hands the remainder (len mod 16) to the scalar reference, so results
//! are identical.
//!
//! Every function needs a CPU with AVX-512 F: callers check
//! [`Variant::Avx512`](super::Variant) first.

use super::super::Modulus;
use std::arch::x86_64::{
    __m128i, __m512i, _MM_PERM_CCAA, _MM_PERM_DDBB, _mm_cvtsi32_si128, _mm512_add_epi32, _mm512_loadu_si512,
    _mm512_mask_shuffle_epi32, _mm512_min_epu32, _mm512_mul_epu32, _mm512_mullo_epi32, _mm512_permutex2var_epi32,
    _mm512_set1_epi32, _mm512_setr_epi32, _mm512_srl_epi64, _mm512_srli_epi64, _mm512_storeu_si512, _mm512_sub_epi32,
};

// ---------------------------------------------------------------------------
// Lane arithmetic (values are u32 lanes unless a name says u64).

/// Loads 16 words.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn load(x: &[u32; 16]) -> __m512i {
    // SAFETY: `x` is 64 readable bytes; the load is unaligned.
    unsafe { _mm512_loadu_si512(x.as_ptr().cast()) }
}

/// Stores 16 words.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn store(x: &mut [u32; 16], v: __m512i) {
    // SAFETY: `x` is 64 writable bytes; the store is unaligned.
    unsafe { _mm512_storeu_si512(x.as_mut_ptr().cast(), v) }
}

/// Loads 16 u64 words as (words 0..8, words 8..16).
#[inline]
#[target_feature(enable = "avx512f")]
fn load_u64_pair(x: &[u64; 16]) -> (__m512i, __m512i) {
    // SAFETY: `x` is 128 readable bytes, so both 64-byte unaligned loads
    // (at word 0 and word 8) stay inside it.
    unsafe { (_mm512_loadu_si512(x.as_ptr().cast()), _mm512_loadu_si512(x.as_ptr().add(8).cast())) }
}

/// All lanes = x.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn splat(x: u32) -> __m512i {
    _mm512_set1_epi32(x as i32)
}

/// x - c where x ≥ c, else x: maps [0, 2c) onto [0, c). Equals the scalar
/// `if x >= c { x - c } else { x }` for every x.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn reduce_once(x: __m512i, c: __m512i) -> __m512i {
    _mm512_min_epu32(x, _mm512_sub_epi32(x, c))
}

/// High 32 bits of a·b per lane; `b_odd` holds b's odd lanes in the even
/// positions (`b_odd = b` when b is a splat).
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn mul_hi(a: __m512i, b: __m512i, b_odd: __m512i) -> __m512i {
    let even = _mm512_mul_epu32(a, b);
    let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), b_odd);
    // even lanes ← high halves of `even` (word 2i+1), odd lanes keep `odd`'s
    _mm512_mask_shuffle_epi32::<_MM_PERM_DDBB>(odd, 0x5555, even)
}

/// b's odd lanes moved to the even positions, the `b_odd` of [`mul_hi`].
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn odd_lanes(b: __m512i) -> __m512i {
    _mm512_srli_epi64::<32>(b)
}

/// a·w mod q lazily in [0, 2q) for any a and w < q, `ws = shoup(w)`
/// (`ws_odd` as in [`mul_hi`]): [`Modulus::mul_shoup_lazy`] per lane.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn mul_shoup_lazy(a: __m512i, w: __m512i, ws: __m512i, ws_odd: __m512i, q: __m512i) -> __m512i {
    // quotient = (a·ws) >> 32; a·w - quotient·q (mod 2^32)
    let quotient = mul_hi(a, ws, ws_odd);
    _mm512_sub_epi32(_mm512_mullo_epi32(a, w), _mm512_mullo_epi32(quotient, q))
}

// ---------------------------------------------------------------------------
// Limb loops, in the order of `limb_ops.rs`.

/// Barrett constants for [`mul`]: with s = bit length of q,
/// quotient ≈ ((x >> (s-1)) · ⌊2^(2s)/q⌋) >> (s+1) for x < q².
struct Barrett {
    mu: __m512i,
    shift_in: __m128i,
    shift_out: __m128i,
}

impl Barrett {
    #[inline]
    #[target_feature(enable = "avx512f")]
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
    #[target_feature(enable = "avx512f")]
    fn reduce_lazy(&self, x: __m512i, q: __m512i) -> __m512i {
        // x >> (s-1) < 2^(s+1) fits the 32-bit multiplier input.
        let t = _mm512_srl_epi64(x, self.shift_in);
        let quotient = _mm512_srl_epi64(_mm512_mul_epu32(t, self.mu), self.shift_out);
        _mm512_sub_epi32(x, _mm512_mul_epu32(quotient, q))
    }
}

/// AVX-512 [`super::mul`] (inputs < q).
#[target_feature(enable = "avx512f")]
pub(crate) fn mul(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    let q = splat(m.value());
    let barrett = Barrett::new(m);
    let (a16, a_tail) = a.as_chunks::<16>();
    let (b16, b_tail) = b.as_chunks::<16>();
    let (o16, o_tail) = out.as_chunks_mut::<16>();
    for ((o, x), y) in o16.iter_mut().zip(a16).zip(b16) {
        let (x, y) = (load(x), load(y));
        // lhs × rhs, even and odd lanes as u64
        let even = _mm512_mul_epu32(x, y);
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(x), _mm512_srli_epi64::<32>(y));
        // Barrett to [0, 3q); odd lanes ← low halves of `r_odd` (word 2i)
        let r_even = barrett.reduce_lazy(even, q);
        let r_odd = barrett.reduce_lazy(odd, q);
        let r = _mm512_mask_shuffle_epi32::<_MM_PERM_CCAA>(r_even, 0xAAAA, r_odd);
        // normalization
        store(o, reduce_once(reduce_once(r, q), q));
    }
    super::mul_scalar(m, a_tail, b_tail, o_tail);
}

/// AVX-512 [`super::mul_scalar_inplace`].
#[target_feature(enable = "avx512f")]
pub(crate) fn mul_scalar_inplace(m: &Modulus, a: &mut [u32], w: u32) {
    let (q, ws) = (splat(m.value()), splat(m.shoup(w)));
    let w_v = splat(w);
    let (a16, a_tail) = a.as_chunks_mut::<16>();
    for x in a16.iter_mut() {
        store(x, reduce_once(mul_shoup_lazy(load(x), w_v, ws, ws, q), q));
    }
    super::mul_scalar_inplace_scalar(m, a_tail, w);
}

/// AVX-512 [`super::reduce_u64`] (any u64 input).
#[target_feature(enable = "avx512f")]
pub(crate) fn reduce_u64(m: &Modulus, acc: &[u64], out: &mut [u32]) {
    // x = xh·2^32 + xl ≡ xh·c + xl with c = 2^32 mod q; both terms are
    // Shoup products (by c and by 1), each in [0, 2q), so the sum is < 4q.
    let c = ((1u64 << 32) % u64::from(m.value())) as u32;
    let (q, two_q) = (splat(m.value()), splat(2 * m.value()));
    let (c_v, c_shoup, one_shoup) = (splat(c), splat(m.shoup(c)), splat(m.shoup(1)));
    let lazy = |x: __m512i| {
        let xh = _mm512_srli_epi64::<32>(x);
        let quotient_h = _mm512_srli_epi64::<32>(_mm512_mul_epu32(xh, c_shoup));
        let quotient_l = _mm512_srli_epi64::<32>(_mm512_mul_epu32(x, one_shoup));
        // xl + xh·c - (quotient_h + quotient_l)·q, exact mod 2^32
        let sum = _mm512_add_epi32(x, _mm512_mul_epu32(xh, c_v));
        _mm512_sub_epi32(sum, _mm512_mul_epu32(_mm512_add_epi32(quotient_h, quotient_l), q))
    };
    let evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let (x16, x_tail) = acc.as_chunks::<16>();
    let (o16, o_tail) = out.as_chunks_mut::<16>();
    for (o, x) in o16.iter_mut().zip(x16) {
        let (lo, hi) = load_u64_pair(x);
        // low halves of the 16 u64 lanes, in order
        let r = _mm512_permutex2var_epi32(lazy(lo), evens, lazy(hi));
        // normalization
        store(o, reduce_once(reduce_once(r, two_q), q));
    }
    super::reduce_u64_scalar(m, x_tail, o_tail);
}

/// AVX-512 [`super::sub_mul_scalar`].
#[target_feature(enable = "avx512f")]
pub(crate) fn sub_mul_scalar(m: &Modulus, a: &[u32], b: &[u32], w: u32, out: &mut [u32]) {
    let (q, w_v, ws) = (splat(m.value()), splat(w), splat(m.shoup(w)));
    let (a16, a_tail) = a.as_chunks::<16>();
    let (b16, b_tail) = b.as_chunks::<16>();
    let (o16, o_tail) = out.as_chunks_mut::<16>();
    for ((o, x), y) in o16.iter_mut().zip(a16).zip(b16) {
        let d = _mm512_sub_epi32(_mm512_add_epi32(load(x), q), load(y));
        store(o, reduce_once(mul_shoup_lazy(d, w_v, ws, ws, q), q));
    }
    super::sub_mul_scalar_scalar(m, a_tail, b_tail, w, o_tail);
}
