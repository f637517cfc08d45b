//! AVX-512 limb loops (16 × u32 lanes) and the lane arithmetic that the
//! AVX-512 NTT (`ntt/avx512.rs`) shares. Each loop processes whole vectors
//! and hands the remainder (len mod 16) to the scalar reference, so results
//! are identical.
//!
//! Every function needs a CPU with AVX-512 F: callers check
//! [`Variant::Avx512`](super::Variant) first.

use super::super::Modulus;
use super::SumBlock;
use std::arch::x86_64::{
    __m128i, __m512i, _MM_HINT_T0, _MM_PERM_CCAA, _MM_PERM_DDBB, _mm_cvtsi32_si128, _mm_prefetch, _mm512_add_epi32,
    _mm512_add_epi64, _mm512_and_si512, _mm512_cmpeq_epi32_mask, _mm512_cmpgt_epu32_mask, _mm512_loadu_si512,
    _mm512_mask_add_epi32, _mm512_mask_shuffle_epi32, _mm512_min_epu32, _mm512_mul_epu32, _mm512_mullo_epi32,
    _mm512_permutexvar_epi32, _mm512_set1_epi32, _mm512_set1_epi64, _mm512_setzero_si512, _mm512_srl_epi64,
    _mm512_srli_epi32, _mm512_srli_epi64, _mm512_storeu_si512, _mm512_sub_epi32,
};
use std::arch::x86_64::{
    _mm256_storeu_si256, _mm512_cmpge_epi64_mask, _mm512_cmplt_epi64_mask, _mm512_cvtepi64_epi32, _mm512_cvtepi64_pd,
    _mm512_cvttpd_epi64, _mm512_mask_add_epi64, _mm512_mask_sub_epi64, _mm512_mul_pd, _mm512_mullo_epi64,
    _mm512_set1_pd, _mm512_sub_epi64,
};
use std::hint::black_box;

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

/// Low halves of the u64 lanes of `even` (words 0, 2, ...) and of `odd`
/// (words 1, 3, ...) as 16 u32 lanes in order.
#[inline]
#[target_feature(enable = "avx512f")]
fn join(even: __m512i, odd: __m512i) -> __m512i {
    // odd lanes ← low halves of `odd` (word 2i)
    _mm512_mask_shuffle_epi32::<_MM_PERM_CCAA>(even, 0xAAAA, odd)
}

/// Barrett constants for products: with s = bit length of q,
/// quotient ≈ ((x >> (s-1)) · ⌊2^(2s)/q⌋) >> (s+1).
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

    /// x - quotient·q in the low half of each u64 lane (upper halves:
    /// garbage), in [0, 3q) for x < q² and in [0, 4q) for x < 2q².
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce_lazy(&self, x: __m512i, q: __m512i) -> __m512i {
        // x >> (s-1) < 2^(s+2) ≤ 2^32 fits the 32-bit multiplier input; the
        // quotient falls short of ⌊x/q⌋ by at most 2 (x < q²) or 3 (x < 2q²).
        let t = _mm512_srl_epi64(x, self.shift_in);
        let quotient = _mm512_srl_epi64(_mm512_mul_epu32(t, self.mu), self.shift_out);
        _mm512_sub_epi32(x, _mm512_mul_epu32(quotient, q))
    }
}

/// Reduction of sums in u64 lanes: x = xh·2^32 + xl ≡ xh·c + xl with
/// c = 2^32 mod q, both terms Shoup products (by c and by 1) in u32 lanes,
/// each in [0, 2q), so their sum is below 4q.
///
/// [`Self::finish`] passes the Shoup constants through `black_box` where it
/// uses them. `_mm*_mul_epu32` is a 64-bit multiplication of operands masked
/// to 32 bits, which LLVM lowers to one `vpmuludq` only when it sees both
/// maskings in the same basic block; when it hoists the masking of a
/// loop-invariant constant out of a loop (as it did once this reduction was
/// inlined into the summation loops), it emits a 64 × 64-bit multiplication
/// instead (two `vpmuludq`, a shift and an add), doubling the reduction's
/// multiplications.
struct Reduce64 {
    q: __m512i,
    two_q: __m512i,
    c: __m512i,
    c_shoup: __m512i,
    one: __m512i,
    one_shoup: __m512i,
}

impl Reduce64 {
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn new(m: &Modulus) -> Self {
        let c = ((1u64 << 32) % u64::from(m.value())) as u32;
        Self {
            q: splat(m.value()),
            two_q: splat(2 * m.value()),
            c: splat(c),
            c_shoup: splat(m.shoup(c)),
            one: splat(1),
            one_shoup: splat(m.shoup(1)),
        }
    }

    /// The sums of the even words and of the odd words (u64 lanes), fully
    /// reduced, in order.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn finish(&self, even: __m512i, odd: __m512i) -> __m512i {
        // low and high halves of each sum, in word order
        let low = join(even, odd);
        let high = _mm512_mask_shuffle_epi32::<_MM_PERM_DDBB>(odd, 0x5555, even);
        let (c_shoup, one_shoup) = (black_box(self.c_shoup), black_box(self.one_shoup));
        let high = mul_shoup_lazy(high, self.c, c_shoup, c_shoup, self.q);
        let low = mul_shoup_lazy(low, self.one, one_shoup, one_shoup, self.q);
        reduce_once(reduce_once(_mm512_add_epi32(high, low), self.two_q), self.q)
    }
}

/// A reduced sum (u32 lanes) as the even and odd words' u64 accumulators.
#[inline]
#[target_feature(enable = "avx512f")]
fn widen(x: __m512i) -> (__m512i, __m512i) {
    (_mm512_and_si512(x, _mm512_set1_epi64(0xFFFF_FFFF)), _mm512_srli_epi64::<32>(x))
}

// ---------------------------------------------------------------------------
// Limb loops, in the order of `limb_ops.rs`.

/// AVX-512 [`super::mul_assign`] (inputs < q).
#[target_feature(enable = "avx512f")]
pub(crate) fn mul_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
    let q = splat(m.value());
    let barrett = Barrett::new(m);
    let (a16, a_tail) = a.as_chunks_mut::<16>();
    let (b16, b_tail) = b.as_chunks::<16>();
    for (x, y) in a16.iter_mut().zip(b16) {
        let (xv, yv) = (load(x), load(y));
        // lhs × rhs, even and odd lanes as u64
        let even = _mm512_mul_epu32(xv, yv);
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(xv), _mm512_srli_epi64::<32>(yv));
        // Barrett to [0, 3q), then normalization
        let r = join(barrett.reduce_lazy(even, q), barrett.reduce_lazy(odd, q));
        store(x, reduce_once(reduce_once(r, q), q));
    }
    super::mul_assign_scalar(m, a_tail, b_tail);
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

/// AVX-512 [`super::sub_mul_scalar_assign`].
#[target_feature(enable = "avx512f")]
pub(crate) fn sub_mul_scalar_assign(m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
    let (q, w_v, ws) = (splat(m.value()), splat(w), splat(m.shoup(w)));
    let (a16, a_tail) = a.as_chunks_mut::<16>();
    let (b16, b_tail) = b.as_chunks::<16>();
    for (x, y) in a16.iter_mut().zip(b16) {
        let d = _mm512_sub_epi32(_mm512_add_epi32(load(x), q), load(y));
        store(x, reduce_once(mul_shoup_lazy(d, w_v, ws, ws, q), q));
    }
    super::sub_mul_scalar_assign_scalar(m, a_tail, b_tail, w);
}

/// AVX-512 [`super::add_mul_scalar_assign`].
#[target_feature(enable = "avx512f")]
pub(crate) fn add_mul_scalar_assign(m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
    let (q, w_v, ws) = (splat(m.value()), splat(w), splat(m.shoup(w)));
    let (a16, a_tail) = a.as_chunks_mut::<16>();
    let (b16, b_tail) = b.as_chunks::<16>();
    for (x, y) in a16.iter_mut().zip(b16) {
        let product = reduce_once(mul_shoup_lazy(load(y), w_v, ws, ws, q), q);
        store(x, reduce_once(_mm512_add_epi32(load(x), product), q));
    }
    super::add_mul_scalar_assign_scalar(m, a_tail, b_tail, w);
}

/// AVX-512 [`super::tensor`].
#[target_feature(enable = "avx512f")]
pub(crate) fn tensor(m: &Modulus, a: [&[u32]; 2], b: [&[u32]; 2], out: [&mut [u32]; 3]) {
    let (q, two_q) = (splat(m.value()), splat(2 * m.value()));
    let barrett = Barrett::new(m);
    // Barrett to [0, 4q) (products < q², the middle sum < 2q²), then normalization.
    let reduce =
        |even, odd| reduce_once(reduce_once(join(barrett.reduce_lazy(even, q), barrett.reduce_lazy(odd, q)), two_q), q);
    let [o0, o1, o2] = out;
    let (a0, a0_tail) = a[0].as_chunks::<16>();
    let (a1, a1_tail) = a[1].as_chunks::<16>();
    let (b0, b0_tail) = b[0].as_chunks::<16>();
    let (b1, b1_tail) = b[1].as_chunks::<16>();
    let (r0, o0_tail) = o0.as_chunks_mut::<16>();
    let (r1, o1_tail) = o1.as_chunks_mut::<16>();
    let (r2, o2_tail) = o2.as_chunks_mut::<16>();
    for i in 0..r0.len() {
        let (x0, x1, y0, y1) = (load(&a0[i]), load(&a1[i]), load(&b0[i]), load(&b1[i]));
        let odd = |v| _mm512_srli_epi64::<32>(v);
        let (x0o, x1o, y0o, y1o) = (odd(x0), odd(x1), odd(y0), odd(y1));
        let (p00, p00o) = (_mm512_mul_epu32(x0, y0), _mm512_mul_epu32(x0o, y0o));
        let (p11, p11o) = (_mm512_mul_epu32(x1, y1), _mm512_mul_epu32(x1o, y1o));
        let p01 = _mm512_add_epi64(_mm512_mul_epu32(x0, y1), _mm512_mul_epu32(x1, y0));
        let p01o = _mm512_add_epi64(_mm512_mul_epu32(x0o, y1o), _mm512_mul_epu32(x1o, y0o));
        store(&mut r0[i], reduce(p00, p00o));
        store(&mut r1[i], reduce(p01, p01o));
        store(&mut r2[i], reduce(p11, p11o));
    }
    super::tensor_scalar(m, [a0_tail, a1_tail], [b0_tail, b1_tail], [o0_tail, o1_tail, o2_tail]);
}

/// The rows from word `from` on: the part a sum's vector loop leaves to the
/// scalar reference.
fn tails<'a>(rows: &[&'a [u32]], from: usize) -> Vec<&'a [u32]> {
    rows.iter().map(|r| &r[from..]).collect()
}

/// Rows of whole vectors of one group of terms of a sum.
type Rows<'a> = [&'a [[u32; 16]]; super::SUM_TERMS];

/// AVX-512 [`super::mul_sum`].
#[target_feature(enable = "avx512f")]
pub(crate) fn mul_sum(m: &Modulus, a: &[&[u32]], b: &[&[u32]], out: &mut [u32]) {
    if a.is_empty() {
        out.fill(0);
        return;
    }
    let red = Reduce64::new(m);
    let whole = out.len() / 16 * 16;
    let (o16, _) = out[..whole].as_chunks_mut::<16>();
    // Groups of 16 terms, then of 15 plus the reduced sum so far.
    let mut start = 0;
    while start < a.len() {
        let carry = start > 0;
        let end = a.len().min(start + super::SUM_TERMS - usize::from(carry));
        let (mut ra, mut rb): (Rows, Rows) = ([&[]; super::SUM_TERMS], [&[]; super::SUM_TERMS]);
        for (k, j) in (start..end).enumerate() {
            (ra[k], rb[k]) = (a[j].as_chunks::<16>().0, b[j].as_chunks::<16>().0);
        }
        let (ra, rb) = (&ra[..end - start], &rb[..end - start]);
        for (i, o) in o16.iter_mut().enumerate() {
            let (mut even, mut odd) =
                if carry { widen(load(o)) } else { (_mm512_setzero_si512(), _mm512_setzero_si512()) };
            for (x, y) in ra.iter().zip(rb) {
                let (x, y) = (load(&x[i]), load(&y[i]));
                even = _mm512_add_epi64(even, _mm512_mul_epu32(x, y));
                odd = _mm512_add_epi64(odd, _mm512_mul_epu32(_mm512_srli_epi64::<32>(x), _mm512_srli_epi64::<32>(y)));
            }
            store(o, red.finish(even, odd));
        }
        start = end;
    }
    if whole < out.len() {
        super::mul_sum_scalar(m, &tails(a, whole), &tails(b, whole), &mut out[whole..]);
    }
}

/// `acc` (even and odd words of two blocks, as u64 lanes) plus
/// Σ_j x_j·c_j over the terms `x0` (first block) and `x1` (second block).
#[inline]
#[target_feature(enable = "avx512f")]
fn accumulate_pair(mut acc: [__m512i; 4], x0: &[SumBlock], x1: &[SumBlock], consts: &[__m512i]) -> [__m512i; 4] {
    for ((x0, x1), &c) in x0.iter().zip(x1).zip(consts) {
        let (x0, x1) = (load(&x0.0), load(&x1.0));
        acc[0] = _mm512_add_epi64(acc[0], _mm512_mul_epu32(x0, c));
        acc[1] = _mm512_add_epi64(acc[1], _mm512_mul_epu32(_mm512_srli_epi64::<32>(x0), c));
        acc[2] = _mm512_add_epi64(acc[2], _mm512_mul_epu32(x1, c));
        acc[3] = _mm512_add_epi64(acc[3], _mm512_mul_epu32(_mm512_srli_epi64::<32>(x1), c));
    }
    acc
}

/// [`accumulate_pair`] for any number of terms (those past the first 16 of a
/// sum): groups of 15, each added to the reduced sum so far.
#[target_feature(enable = "avx512f")]
fn accumulate_pair_rest(
    red: &Reduce64,
    mut acc: [__m512i; 4],
    x0: &[SumBlock],
    x1: &[SumBlock],
    consts: &[__m512i],
) -> [__m512i; 4] {
    let groups = x0.chunks(super::SUM_TERMS - 1).zip(x1.chunks(super::SUM_TERMS - 1));
    for ((x0, x1), consts) in groups.zip(consts.chunks(super::SUM_TERMS - 1)) {
        let ((e0, o0), (e1, o1)) = (widen(red.finish(acc[0], acc[1])), widen(red.finish(acc[2], acc[3])));
        acc = accumulate_pair([e0, o0, e1, o1], x0, x1, consts);
    }
    acc
}

/// AVX-512 [`super::mul_scalar_sum`].
#[target_feature(enable = "avx512f")]
pub(crate) fn mul_scalar_sum(m: &Modulus, x: &[SumBlock], c: &[u32], out: &mut [u32]) {
    let t = c.len();
    if t == 0 {
        out.fill(0);
        return;
    }
    let red = Reduce64::new(m);
    // The c_j as u64 lanes (on the stack for the usual term counts).
    let mut stack = [_mm512_setzero_si512(); 2 * super::SUM_TERMS];
    let heap: Vec<__m512i>;
    let consts: &[__m512i] = if t <= stack.len() {
        stack.iter_mut().zip(c).for_each(|(s, &c)| *s = _mm512_set1_epi64(i64::from(c)));
        &stack[..t]
    } else {
        heap = c.iter().map(|&c| _mm512_set1_epi64(i64::from(c))).collect();
        &heap
    };
    let first = t.min(super::SUM_TERMS);
    // Pairs of blocks in batches: first the sums of a batch, then their
    // reductions (each a chain of dependent multiplications, so that these
    // overlap better with one another than with the sums).
    let (pairs, pair_tail) = out.as_chunks_mut::<32>();
    let (x, rest) = x.split_at(pairs.len() * 2 * t);
    let mut sums = [[_mm512_setzero_si512(); 4]; SUM_BATCH];
    for (o, x) in pairs.chunks_mut(SUM_BATCH).zip(x.chunks(SUM_BATCH * 2 * t)) {
        for (s, x) in sums.iter_mut().zip(x.chunks_exact(2 * t)) {
            let (x0, x1) = x.split_at(t);
            *s = accumulate_pair([_mm512_setzero_si512(); 4], &x0[..first], &x1[..first], &consts[..first]);
            if first < t {
                *s = accumulate_pair_rest(&red, *s, &x0[first..], &x1[first..], &consts[first..]);
            }
        }
        for (o, s) in o.iter_mut().zip(&sums) {
            let (o0, o1) = o.as_chunks_mut::<16>().0.split_at_mut(1);
            store(&mut o0[0], red.finish(s[0], s[1]));
            store(&mut o1[0], red.finish(s[2], s[3]));
        }
    }
    // Up to two blocks left, the last of them possibly partial.
    if !pair_tail.is_empty() {
        let (lo, hi) = if rest.len() == 2 * t { rest.split_at(t) } else { (rest, rest) };
        let s = accumulate_pair_rest(&red, [_mm512_setzero_si512(); 4], lo, hi, consts);
        let mut last = [0u32; 32];
        let (l0, l1) = last.as_chunks_mut::<16>().0.split_at_mut(1);
        store(&mut l0[0], red.finish(s[0], s[1]));
        store(&mut l1[0], red.finish(s[2], s[3]));
        pair_tail.copy_from_slice(&last[..pair_tail.len()]);
    }
}

/// Pairs of blocks summed before their reductions (see `mul_scalar_sum`).
const SUM_BATCH: usize = 16;

/// AVX-512 [`super::center_lift`].
#[target_feature(enable = "avx512f")]
pub(crate) fn center_lift(m: &Modulus, from: u32, a: &[u32], out: &mut [u32]) {
    let q = splat(m.value());
    let (one, one_shoup) = (splat(1), splat(m.shoup(1)));
    let half = splat(from / 2);
    // x > from/2: x mod q - (from mod q), as x mod q + (q - from mod q) then reduced
    let adjust = splat(m.value() - m.reduce_u64(from.into()));
    let (a16, a_tail) = a.as_chunks::<16>();
    let (o16, o_tail) = out.as_chunks_mut::<16>();
    for (o, x) in o16.iter_mut().zip(a16) {
        let x = load(x);
        let x_mod = reduce_once(mul_shoup_lazy(x, one, one_shoup, one_shoup, q), q);
        let negative = _mm512_cmpgt_epu32_mask(x, half);
        store(o, reduce_once(_mm512_mask_add_epi32(x_mod, negative, x_mod, adjust), q));
    }
    super::center_lift_scalar(m, from, a_tail, o_tail);
}

/// Blocks ahead whose source [`permute`] prefetches.
const PERMUTE_PREFETCH: usize = 32;

/// Asks for the cache line of `a[i]` (if any) to be loaded into L1.
#[inline]
#[target_feature(enable = "avx512f")]
fn prefetch(a: &[u32], i: usize) {
    if let Some(x) = a.get(i) {
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(x).cast());
    }
}

/// AVX-512 [`super::permute`].
#[target_feature(enable = "avx512f")]
pub(crate) fn permute(a: &[u32], perm: &[u32], out: &mut [u32]) {
    let (a16, _) = a.as_chunks::<16>();
    let (p16, p_tail) = perm.as_chunks::<16>();
    let (o16, o_tail) = out.as_chunks_mut::<16>();
    for (i, (o, p)) in o16.iter_mut().zip(p16).enumerate() {
        // The sources come in no order the hardware prefetcher follows.
        if let Some(ahead) = p16.get(i + PERMUTE_PREFETCH) {
            prefetch(a, ahead[0] as usize);
        }
        let index = load(p);
        // One shuffle if all 16 sources lie in the block of the first.
        let block = p[0] >> 4;
        let inside = _mm512_cmpeq_epi32_mask(_mm512_srli_epi32::<4>(index), splat(block));
        match a16.get(block as usize) {
            Some(src) if inside == 0xFFFF => store(o, _mm512_permutexvar_epi32(index, load(src))),
            _ => super::permute_scalar(a, p, o),
        }
    }
    super::permute_scalar(a, p_tail, o_tail);
}

/// [`super::reduce_signed`], 8 coefficients a vector: the quotient
/// t = trunc(c · (1/q)) in f64 is within one of c/q's for every i64 c, so
/// c − t·q (exact in wrapping 64-bit lanes, as the true value is small)
/// lies in (−2q, 2q) and two conditional additions and a subtraction bring
/// it into [0, q).
#[target_feature(enable = "avx512f,avx512dq")]
pub(crate) fn reduce_signed(m: &Modulus, c: &[i64], out: &mut [u32]) {
    let q = i64::from(m.value());
    let (vq, inv, zero) = (_mm512_set1_epi64(q), _mm512_set1_pd(1.0 / q as f64), _mm512_setzero_si512());
    let whole = c.len() / 8 * 8;
    for (x, o) in c[..whole].chunks_exact(8).zip(out[..whole].chunks_exact_mut(8)) {
        // SAFETY: `x` is 64 readable bytes; the load is unaligned.
        let x = unsafe { _mm512_loadu_si512(x.as_ptr().cast()) };
        let t = _mm512_cvttpd_epi64(_mm512_mul_pd(_mm512_cvtepi64_pd(x), inv));
        let mut r = _mm512_sub_epi64(x, _mm512_mullo_epi64(t, vq));
        r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, zero), r, vq);
        r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, zero), r, vq);
        r = _mm512_mask_sub_epi64(r, _mm512_cmpge_epi64_mask(r, vq), r, vq);
        // SAFETY: `o` is 32 writable bytes; the store is unaligned.
        unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), _mm512_cvtepi64_epi32(r)) };
    }
    super::reduce_signed_scalar(m, &c[whole..], &mut out[whole..]);
}
