//! AVX2 limb loops (8 × u32 lanes) and the lane arithmetic that the AVX2 NTT
//! (`ntt/avx2.rs`) shares. Each loop processes whole vectors and hands the
//! remainder (len mod 8) to the scalar reference, so results are identical.
//!
//! Every function needs a CPU with AVX2: callers check
//! [`Variant::Avx2`](super::Variant) first.

use super::super::Modulus;
use super::SumBlock;
use std::arch::x86_64::{
    __m128i, __m256i, _MM_HINT_T0, _mm_cvtsi32_si128, _mm_prefetch, _mm256_add_epi32, _mm256_add_epi64,
    _mm256_and_si256, _mm256_blend_epi32, _mm256_cmpeq_epi32, _mm256_cmpgt_epi32, _mm256_loadu_si256, _mm256_min_epu32,
    _mm256_movemask_epi8, _mm256_mul_epu32, _mm256_mullo_epi32, _mm256_permutevar8x32_epi32, _mm256_set1_epi32,
    _mm256_set1_epi64x, _mm256_setzero_si256, _mm256_slli_epi64, _mm256_srl_epi64, _mm256_srli_epi32,
    _mm256_srli_epi64, _mm256_storeu_si256, _mm256_sub_epi32,
};
use std::hint::black_box;

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

/// Low halves of the u64 lanes of `even` (words 0, 2, ...) and of `odd`
/// (words 1, 3, ...) as 8 u32 lanes in order.
#[inline]
#[target_feature(enable = "avx2")]
fn join(even: __m256i, odd: __m256i) -> __m256i {
    _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd))
}

/// Barrett constants for products: with s = bit length of q,
/// quotient ≈ ((x >> (s-1)) · ⌊2^(2s)/q⌋) >> (s+1).
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

    /// x - quotient·q in the low half of each u64 lane (upper halves:
    /// garbage), in [0, 3q) for x < q² and in [0, 4q) for x < 2q².
    #[inline]
    #[target_feature(enable = "avx2")]
    fn reduce_lazy(&self, x: __m256i, q: __m256i) -> __m256i {
        // x >> (s-1) < 2^(s+2) ≤ 2^32 fits the 32-bit multiplier input; the
        // quotient falls short of ⌊x/q⌋ by at most 2 (x < q²) or 3 (x < 2q²).
        let t = _mm256_srl_epi64(x, self.shift_in);
        let quotient = _mm256_srl_epi64(_mm256_mul_epu32(t, self.mu), self.shift_out);
        _mm256_sub_epi32(x, _mm256_mul_epu32(quotient, q))
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
    q: __m256i,
    two_q: __m256i,
    c: __m256i,
    c_shoup: __m256i,
    one: __m256i,
    one_shoup: __m256i,
}

impl Reduce64 {
    #[inline]
    #[target_feature(enable = "avx2")]
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
    #[target_feature(enable = "avx2")]
    fn finish(&self, even: __m256i, odd: __m256i) -> __m256i {
        // low and high halves of each sum, in word order
        let low = join(even, odd);
        let high = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
        let (c_shoup, one_shoup) = (black_box(self.c_shoup), black_box(self.one_shoup));
        let high = mul_shoup_lazy(high, self.c, c_shoup, c_shoup, self.q);
        let low = mul_shoup_lazy(low, self.one, one_shoup, one_shoup, self.q);
        reduce_once(reduce_once(_mm256_add_epi32(high, low), self.two_q), self.q)
    }
}

/// A reduced sum (u32 lanes) as the even and odd words' u64 accumulators.
#[inline]
#[target_feature(enable = "avx2")]
fn widen(x: __m256i) -> (__m256i, __m256i) {
    (_mm256_and_si256(x, _mm256_set1_epi64x(0xFFFF_FFFF)), _mm256_srli_epi64::<32>(x))
}

// ---------------------------------------------------------------------------
// Limb loops, in the order of `limb_ops.rs`.

/// AVX2 [`super::add_assign`].
#[target_feature(enable = "avx2")]
pub(crate) fn add_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
    let q = splat(m.value());
    let (a8, a_tail) = a.as_chunks_mut::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    for (x, y) in a8.iter_mut().zip(b8) {
        store(x, reduce_once(_mm256_add_epi32(load(x), load(y)), q));
    }
    super::add_assign_scalar(m, a_tail, b_tail);
}

/// AVX2 [`super::sub_assign`].
#[target_feature(enable = "avx2")]
pub(crate) fn sub_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
    let q = splat(m.value());
    let (a8, a_tail) = a.as_chunks_mut::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    for (x, y) in a8.iter_mut().zip(b8) {
        // x - y, plus q where that wrapped
        let d = _mm256_sub_epi32(load(x), load(y));
        store(x, _mm256_min_epu32(d, _mm256_add_epi32(d, q)));
    }
    super::sub_assign_scalar(m, a_tail, b_tail);
}

/// AVX2 [`super::mul_assign`] (inputs < q).
#[target_feature(enable = "avx2")]
pub(crate) fn mul_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
    let q = splat(m.value());
    let barrett = Barrett::new(m);
    let (a8, a_tail) = a.as_chunks_mut::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    for (x, y) in a8.iter_mut().zip(b8) {
        let (xv, yv) = (load(x), load(y));
        // lhs × rhs, even and odd lanes as u64
        let even = _mm256_mul_epu32(xv, yv);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(xv), _mm256_srli_epi64::<32>(yv));
        // Barrett to [0, 3q), then normalization
        let r = join(barrett.reduce_lazy(even, q), barrett.reduce_lazy(odd, q));
        store(x, reduce_once(reduce_once(r, q), q));
    }
    super::mul_assign_scalar(m, a_tail, b_tail);
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

/// AVX2 [`super::sub_mul_scalar_assign`].
#[target_feature(enable = "avx2")]
pub(crate) fn sub_mul_scalar_assign(m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
    let (q, w_v, ws) = (splat(m.value()), splat(w), splat(m.shoup(w)));
    let (a8, a_tail) = a.as_chunks_mut::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    for (x, y) in a8.iter_mut().zip(b8) {
        let d = _mm256_sub_epi32(_mm256_add_epi32(load(x), q), load(y));
        store(x, reduce_once(mul_shoup_lazy(d, w_v, ws, ws, q), q));
    }
    super::sub_mul_scalar_assign_scalar(m, a_tail, b_tail, w);
}

/// AVX2 [`super::add_mul_scalar_assign`].
#[target_feature(enable = "avx2")]
pub(crate) fn add_mul_scalar_assign(m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
    let (q, w_v, ws) = (splat(m.value()), splat(w), splat(m.shoup(w)));
    let (a8, a_tail) = a.as_chunks_mut::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    for (x, y) in a8.iter_mut().zip(b8) {
        let product = reduce_once(mul_shoup_lazy(load(y), w_v, ws, ws, q), q);
        store(x, reduce_once(_mm256_add_epi32(load(x), product), q));
    }
    super::add_mul_scalar_assign_scalar(m, a_tail, b_tail, w);
}

/// AVX2 [`super::tensor`].
#[target_feature(enable = "avx2")]
pub(crate) fn tensor(m: &Modulus, a: [&[u32]; 2], b: [&[u32]; 2], out: [&mut [u32]; 3]) {
    let (q, two_q) = (splat(m.value()), splat(2 * m.value()));
    let barrett = Barrett::new(m);
    // Barrett to [0, 4q) (products < q², the middle sum < 2q²), then normalization.
    let reduce =
        |even, odd| reduce_once(reduce_once(join(barrett.reduce_lazy(even, q), barrett.reduce_lazy(odd, q)), two_q), q);
    let [o0, o1, o2] = out;
    let (a0, a0_tail) = a[0].as_chunks::<8>();
    let (a1, a1_tail) = a[1].as_chunks::<8>();
    let (b0, b0_tail) = b[0].as_chunks::<8>();
    let (b1, b1_tail) = b[1].as_chunks::<8>();
    let (r0, o0_tail) = o0.as_chunks_mut::<8>();
    let (r1, o1_tail) = o1.as_chunks_mut::<8>();
    let (r2, o2_tail) = o2.as_chunks_mut::<8>();
    for i in 0..r0.len() {
        let (x0, x1, y0, y1) = (load(&a0[i]), load(&a1[i]), load(&b0[i]), load(&b1[i]));
        let odd = |v| _mm256_srli_epi64::<32>(v);
        let (x0o, x1o, y0o, y1o) = (odd(x0), odd(x1), odd(y0), odd(y1));
        let (p00, p00o) = (_mm256_mul_epu32(x0, y0), _mm256_mul_epu32(x0o, y0o));
        let (p11, p11o) = (_mm256_mul_epu32(x1, y1), _mm256_mul_epu32(x1o, y1o));
        let p01 = _mm256_add_epi64(_mm256_mul_epu32(x0, y1), _mm256_mul_epu32(x1, y0));
        let p01o = _mm256_add_epi64(_mm256_mul_epu32(x0o, y1o), _mm256_mul_epu32(x1o, y0o));
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
type Rows<'a> = [&'a [[u32; 8]]; super::SUM_TERMS];

/// AVX2 [`super::mul_sum`].
#[target_feature(enable = "avx2")]
pub(crate) fn mul_sum(m: &Modulus, a: &[&[u32]], b: &[&[u32]], out: &mut [u32]) {
    if a.is_empty() {
        out.fill(0);
        return;
    }
    let red = Reduce64::new(m);
    let whole = out.len() / 8 * 8;
    let (o8, _) = out[..whole].as_chunks_mut::<8>();
    // Groups of 16 terms, then of 15 plus the reduced sum so far.
    let mut start = 0;
    while start < a.len() {
        let carry = start > 0;
        let end = a.len().min(start + super::SUM_TERMS - usize::from(carry));
        let (mut ra, mut rb): (Rows, Rows) = ([&[]; super::SUM_TERMS], [&[]; super::SUM_TERMS]);
        for (k, j) in (start..end).enumerate() {
            (ra[k], rb[k]) = (a[j].as_chunks::<8>().0, b[j].as_chunks::<8>().0);
        }
        let (ra, rb) = (&ra[..end - start], &rb[..end - start]);
        for (i, o) in o8.iter_mut().enumerate() {
            let (mut even, mut odd) =
                if carry { widen(load(o)) } else { (_mm256_setzero_si256(), _mm256_setzero_si256()) };
            for (x, y) in ra.iter().zip(rb) {
                let (x, y) = (load(&x[i]), load(&y[i]));
                even = _mm256_add_epi64(even, _mm256_mul_epu32(x, y));
                odd = _mm256_add_epi64(odd, _mm256_mul_epu32(_mm256_srli_epi64::<32>(x), _mm256_srli_epi64::<32>(y)));
            }
            store(o, red.finish(even, odd));
        }
        start = end;
    }
    if whole < out.len() {
        super::mul_sum_scalar(m, &tails(a, whole), &tails(b, whole), &mut out[whole..]);
    }
}

/// `acc` (even and odd words of words 0..8 and of words 8..16, as u64
/// lanes) plus Σ_j x_j·c_j over the terms `x` of one block.
#[inline]
#[target_feature(enable = "avx2")]
fn accumulate_block(mut acc: [__m256i; 4], x: &[SumBlock], consts: &[__m256i]) -> [__m256i; 4] {
    for (x, &c) in x.iter().zip(consts) {
        let (halves, _) = x.0.as_chunks::<8>();
        let (lo, hi) = (load(&halves[0]), load(&halves[1]));
        acc[0] = _mm256_add_epi64(acc[0], _mm256_mul_epu32(lo, c));
        acc[1] = _mm256_add_epi64(acc[1], _mm256_mul_epu32(_mm256_srli_epi64::<32>(lo), c));
        acc[2] = _mm256_add_epi64(acc[2], _mm256_mul_epu32(hi, c));
        acc[3] = _mm256_add_epi64(acc[3], _mm256_mul_epu32(_mm256_srli_epi64::<32>(hi), c));
    }
    acc
}

/// [`accumulate_block`] for the terms past the first 16: groups of 15 plus
/// the reduced sum so far.
#[target_feature(enable = "avx2")]
fn accumulate_block_rest(red: &Reduce64, mut acc: [__m256i; 4], x: &[SumBlock], consts: &[__m256i]) -> [__m256i; 4] {
    for (x, consts) in x.chunks(super::SUM_TERMS - 1).zip(consts.chunks(super::SUM_TERMS - 1)) {
        let ((e0, o0), (e1, o1)) = (widen(red.finish(acc[0], acc[1])), widen(red.finish(acc[2], acc[3])));
        acc = accumulate_block([e0, o0, e1, o1], x, consts);
    }
    acc
}

/// Σ_j x_j·c_j mod q of one block (`x`: its terms, `consts`: the c_j as
/// u64 lanes), fully reduced: words 0..8 and 8..16.
#[inline]
#[target_feature(enable = "avx2")]
fn sum_block(red: &Reduce64, x: &[SumBlock], consts: &[__m256i]) -> [__m256i; 2] {
    let first = consts.len().min(super::SUM_TERMS);
    let mut acc = accumulate_block([_mm256_setzero_si256(); 4], &x[..first], &consts[..first]);
    if first < consts.len() {
        acc = accumulate_block_rest(red, acc, &x[first..], &consts[first..]);
    }
    [red.finish(acc[0], acc[1]), red.finish(acc[2], acc[3])]
}

/// AVX2 [`super::mul_scalar_sum`]: each 16-word block as two vectors.
#[target_feature(enable = "avx2")]
pub(crate) fn mul_scalar_sum(m: &Modulus, x: &[SumBlock], c: &[u32], out: &mut [u32]) {
    if c.is_empty() {
        out.fill(0);
        return;
    }
    let red = Reduce64::new(m);
    let consts: Vec<__m256i> = c.iter().map(|&c| _mm256_set1_epi64x(i64::from(c))).collect();
    let mut blocks = x.chunks_exact(c.len());
    let (o16, o_tail) = out.as_chunks_mut::<16>();
    for (o, block) in o16.iter_mut().zip(blocks.by_ref()) {
        let (halves, _) = o.as_chunks_mut::<8>();
        for (h, r) in halves.iter_mut().zip(sum_block(&red, block, &consts)) {
            store(h, r);
        }
    }
    if let Some(block) = blocks.next() {
        let mut last = [0u32; 16];
        let (halves, _) = last.as_chunks_mut::<8>();
        for (h, r) in halves.iter_mut().zip(sum_block(&red, block, &consts)) {
            store(h, r);
        }
        o_tail.copy_from_slice(&last[..o_tail.len()]);
    }
}

/// AVX2 [`super::center_lift`].
#[target_feature(enable = "avx2")]
pub(crate) fn center_lift(m: &Modulus, from: u32, a: &[u32], out: &mut [u32]) {
    let q = splat(m.value());
    let (one, one_shoup) = (splat(1), splat(m.shoup(1)));
    // Signed comparison: a[i] < 2^30.
    let half = splat(from / 2);
    // x > from/2: x mod q - (from mod q), as x mod q + (q - from mod q) then reduced
    let adjust = splat(m.value() - m.reduce_u64(from.into()));
    let (a8, a_tail) = a.as_chunks::<8>();
    let (o8, o_tail) = out.as_chunks_mut::<8>();
    for (o, x) in o8.iter_mut().zip(a8) {
        let x = load(x);
        let x_mod = reduce_once(mul_shoup_lazy(x, one, one_shoup, one_shoup, q), q);
        let negative = _mm256_cmpgt_epi32(x, half);
        store(o, reduce_once(_mm256_add_epi32(x_mod, _mm256_and_si256(negative, adjust)), q));
    }
    super::center_lift_scalar(m, from, a_tail, o_tail);
}

/// Blocks ahead whose source [`permute`] prefetches.
const PERMUTE_PREFETCH: usize = 32;

/// Asks for the cache line of `a[i]` (if any) to be loaded into L1.
#[inline]
#[target_feature(enable = "avx2")]
fn prefetch(a: &[u32], i: usize) {
    if let Some(x) = a.get(i) {
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(x).cast());
    }
}

/// AVX2 [`super::permute`].
#[target_feature(enable = "avx2")]
pub(crate) fn permute(a: &[u32], perm: &[u32], out: &mut [u32]) {
    let (a8, _) = a.as_chunks::<8>();
    let (p8, p_tail) = perm.as_chunks::<8>();
    let (o8, o_tail) = out.as_chunks_mut::<8>();
    for (i, (o, p)) in o8.iter_mut().zip(p8).enumerate() {
        // The sources come in no order the hardware prefetcher follows.
        if let Some(ahead) = p8.get(i + PERMUTE_PREFETCH) {
            prefetch(a, ahead[0] as usize);
        }
        let index = load(p);
        // One shuffle if all 8 sources lie in the block of the first.
        let block = p[0] >> 3;
        let inside = _mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_srli_epi32::<3>(index), splat(block)));
        match a8.get(block as usize) {
            Some(src) if inside == -1 => store(o, _mm256_permutevar8x32_epi32(load(src), index)),
            _ => super::permute_scalar(a, p, o),
        }
    }
    super::permute_scalar(a, p_tail, o_tail);
}
