//! AVX2 negacyclic NTT (8 × u32 lanes), the same transform as
//! [`NttTable::forward_scalar`] / [`NttTable::inverse_scalar`] with the same
//! twiddles, bit-identical output (every output is the unique residue in
//! [0, q)). Needs q < 2^30 (lazy values in [0, 4q) fit a u32).
//!
//! Layers with t ≥ 8 pair whole vectors with one broadcast twiddle, two
//! layers per pass over memory (radix-4: four vectors loaded, four
//! butterflies, four stored). The three layers with t < 8 run on a 16-word
//! chunk held in two registers (z0, z1), re-paired before each layer by
//! in-lane unpacks (forward) or `shufps` (inverse) so that lane l of z0 and z1
//! is one butterfly:
//!
//! | layer | z0 words (per 128-bit half: +0, +8) | z1 words     | block of lane |
//! |-------|-------------------------------------|--------------|---------------|
//! | t = 4 | 0 1 2 3                             | 4 5 6 7      | l / 4         |
//! | t = 2 | 0 4 1 5                             | 2 6 3 7      | 0 1 0 1 2 3 2 3 |
//! | t = 1 | 0 2 4 6                             | 1 3 5 7      | l             |
//!
//! The forward tail also does the final reduction to [0, q), and the
//! inverse folds N^-1 into its last layer. Layers whose blocks fit [`BLOCK`]
//! words run block by block so the data stays in L1.
//!
//! Every function needs a CPU with AVX2: callers check
//! [`Variant::Avx2`](crate::math::limb_ops::Variant) first.

use super::NttTable;
use crate::math::limb_ops::avx2::{load, mul_shoup_lazy, odd_lanes, reduce_once, splat, store};
use std::arch::x86_64::{
    __m256i, _mm_loadu_si128, _mm256_add_epi32, _mm256_castps_si256, _mm256_castsi128_si256, _mm256_castsi256_ps,
    _mm256_permute2x128_si256, _mm256_permutevar8x32_epi32, _mm256_setr_epi32, _mm256_shuffle_ps, _mm256_sub_epi32,
    _mm256_unpackhi_epi32, _mm256_unpacklo_epi32,
};

/// Words per depth-first block (16 KiB: a block and its twiddles fit L1).
const BLOCK: usize = 4096;

/// Words per tail chunk: two registers.
const CHUNK: usize = 16;

/// Modulus constants as vectors.
#[derive(Clone, Copy)]
struct Consts {
    q: __m256i,
    two_q: __m256i,
}

/// One twiddle per lane with its Shoup quotient: `(w, ws, ws_odd)`, see
/// [`mul_shoup_lazy`].
type Twiddle = (__m256i, __m256i, __m256i);

/// Forward (Cooley–Tukey) butterfly: x, y in [0, 4q) → x + w·y, x - w·y in
/// [0, 4q), exactly as the scalar loop.
#[inline]
#[target_feature(enable = "avx2")]
fn forward_butterfly(c: Consts, x: __m256i, y: __m256i, w: Twiddle) -> (__m256i, __m256i) {
    let u = reduce_once(x, c.two_q);
    let v = mul_shoup_lazy(y, w.0, w.1, w.2, c.q);
    (_mm256_add_epi32(u, v), _mm256_sub_epi32(_mm256_add_epi32(u, c.two_q), v))
}

/// Inverse (Gentleman–Sande) butterfly: x, y in [0, 2q) → x + y,
/// (x - y)·w in [0, 2q), exactly as the scalar loop.
#[inline]
#[target_feature(enable = "avx2")]
fn inverse_butterfly(c: Consts, x: __m256i, y: __m256i, w: Twiddle) -> (__m256i, __m256i) {
    let sum = reduce_once(_mm256_add_epi32(x, y), c.two_q);
    let diff = _mm256_sub_epi32(_mm256_add_epi32(x, c.two_q), y);
    (sum, mul_shoup_lazy(diff, w.0, w.1, w.2, c.q))
}

/// Broadcast twiddle `(w, ws)`.
#[inline]
#[target_feature(enable = "avx2")]
fn twiddle_splat(w: u32, ws: u32) -> Twiddle {
    let ws = splat(ws);
    (splat(w), ws, ws)
}

/// Twiddles of layer t = 4: lanes 0..4 ← `w[0]`, lanes 4..8 ← `w[1]`.
#[inline]
#[target_feature(enable = "avx2")]
fn twiddle_t4(w: &[u32; 2], ws: &[u32; 2]) -> Twiddle {
    let rep = |x: &[u32; 2]| {
        _mm256_setr_epi32(
            x[0] as i32,
            x[0] as i32,
            x[0] as i32,
            x[0] as i32,
            x[1] as i32,
            x[1] as i32,
            x[1] as i32,
            x[1] as i32,
        )
    };
    let ws = rep(ws);
    // Lanes 2i and 2i+1 share a twiddle, so ws's odd lanes equal its even ones.
    (rep(w), ws, ws)
}

/// Twiddles of layer t = 2: lanes ← `w[0 1 0 1 2 3 2 3]`.
#[inline]
#[target_feature(enable = "avx2")]
fn twiddle_t2(w: &[u32; 4], ws: &[u32; 4]) -> Twiddle {
    let pattern = _mm256_setr_epi32(0, 1, 0, 1, 2, 3, 2, 3);
    let rep = |x: &[u32; 4]| {
        // SAFETY: `x` is 16 readable bytes; the load is unaligned.
        let v = unsafe { _mm_loadu_si128(x.as_ptr().cast()) };
        _mm256_permutevar8x32_epi32(_mm256_castsi128_si256(v), pattern)
    };
    let ws = rep(ws);
    (rep(w), ws, odd_lanes(ws))
}

/// Twiddles of layer t = 1: lane l ← `w[l]`.
#[inline]
#[target_feature(enable = "avx2")]
fn twiddle_t1(w: &[u32; 8], ws: &[u32; 8]) -> Twiddle {
    let ws = load(ws);
    (load(w), ws, odd_lanes(ws))
}

/// Interleaves the 32-bit words of each 128-bit half: (a, b) →
/// (a0 b0 a1 b1, a2 b2 a3 b3) per half.
#[inline]
#[target_feature(enable = "avx2")]
fn zip(a: __m256i, b: __m256i) -> (__m256i, __m256i) {
    (_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b))
}

/// Inverse of [`zip`]: even and odd words of each 128-bit half of (a, b):
/// (a0 a2 b0 b2, a1 a3 b1 b3) per half.
#[inline]
#[target_feature(enable = "avx2")]
fn unzip(a: __m256i, b: __m256i) -> (__m256i, __m256i) {
    let (a, b) = (_mm256_castsi256_ps(a), _mm256_castsi256_ps(b));
    (
        _mm256_castps_si256(_mm256_shuffle_ps::<0b10_00_10_00>(a, b)),
        _mm256_castps_si256(_mm256_shuffle_ps::<0b11_01_11_01>(a, b)),
    )
}

/// Swaps the high half of a with the low half of b: (a_lo b_lo, a_hi b_hi).
#[inline]
#[target_feature(enable = "avx2")]
fn transpose_halves(a: __m256i, b: __m256i) -> (__m256i, __m256i) {
    (_mm256_permute2x128_si256::<0x20>(a, b), _mm256_permute2x128_si256::<0x31>(a, b))
}

/// One layer with t ≥ 8 on `a` (whole blocks of 2t words): block i uses
/// twiddle `(w[i], ws[i])`; `butterfly` is the forward or inverse one.
#[inline]
#[target_feature(enable = "avx2")]
fn layer(
    c: Consts,
    a: &mut [u32],
    t: usize,
    w: &[u32],
    ws: &[u32],
    butterfly: impl Fn(Consts, __m256i, __m256i, Twiddle) -> (__m256i, __m256i),
) {
    for ((block, &w), &ws) in a.chunks_exact_mut(2 * t).zip(w).zip(ws) {
        let tw = twiddle_splat(w, ws);
        let (lo, hi) = block.split_at_mut(t);
        for (x, y) in lo.as_chunks_mut::<8>().0.iter_mut().zip(hi.as_chunks_mut::<8>().0) {
            let (u, v) = butterfly(c, load(x), load(y), tw);
            store(x, u);
            store(y, v);
        }
    }
}

/// Forward layers t and t/2 (t/2 ≥ 8) on `a` (whole blocks of 2t words) in
/// one pass: block i uses `w1[i]` for layer t, then `w2[2i]` and `w2[2i+1]`
/// for its two halves in layer t/2. Twiddles are `(w, w_shoup)` slices.
#[inline]
#[target_feature(enable = "avx2")]
fn forward_pair(c: Consts, a: &mut [u32], t: usize, w1: (&[u32], &[u32]), w2: (&[u32], &[u32])) {
    let w1 = w1.0.iter().zip(w1.1);
    let w2 = w2.0.as_chunks::<2>().0.iter().zip(w2.1.as_chunks::<2>().0);
    for ((block, (&w, &ws)), (w2, ws2)) in a.chunks_exact_mut(2 * t).zip(w1).zip(w2) {
        let outer = twiddle_splat(w, ws);
        let inner = (twiddle_splat(w2[0], ws2[0]), twiddle_splat(w2[1], ws2[1]));
        for [x0, x1, x2, x3] in quarters(block) {
            let (mut y0, mut y1, mut y2, mut y3) = (load(x0), load(x1), load(x2), load(x3));
            (y0, y2) = forward_butterfly(c, y0, y2, outer);
            (y1, y3) = forward_butterfly(c, y1, y3, outer);
            (y0, y1) = forward_butterfly(c, y0, y1, inner.0);
            (y2, y3) = forward_butterfly(c, y2, y3, inner.1);
            store(x0, y0);
            store(x1, y1);
            store(x2, y2);
            store(x3, y3);
        }
    }
}

/// Inverse layers t and 2t (t ≥ 8) on `a` (whole blocks of 4t words) in one
/// pass: block i uses `w1[2i]` and `w1[2i+1]` for its two halves in layer t,
/// then `w2[i]` for layer 2t. Twiddles are `(w, w_shoup)` slices.
#[inline]
#[target_feature(enable = "avx2")]
fn inverse_pair(c: Consts, a: &mut [u32], t: usize, w1: (&[u32], &[u32]), w2: (&[u32], &[u32])) {
    let w1 = w1.0.as_chunks::<2>().0.iter().zip(w1.1.as_chunks::<2>().0);
    let w2 = w2.0.iter().zip(w2.1);
    for ((block, (w1, ws1)), (&w, &ws)) in a.chunks_exact_mut(4 * t).zip(w1).zip(w2) {
        let inner = (twiddle_splat(w1[0], ws1[0]), twiddle_splat(w1[1], ws1[1]));
        let outer = twiddle_splat(w, ws);
        for [x0, x1, x2, x3] in quarters(block) {
            let (mut y0, mut y1, mut y2, mut y3) = (load(x0), load(x1), load(x2), load(x3));
            (y0, y1) = inverse_butterfly(c, y0, y1, inner.0);
            (y2, y3) = inverse_butterfly(c, y2, y3, inner.1);
            (y0, y2) = inverse_butterfly(c, y0, y2, outer);
            (y1, y3) = inverse_butterfly(c, y1, y3, outer);
            store(x0, y0);
            store(x1, y1);
            store(x2, y2);
            store(x3, y3);
        }
    }
}

/// The four quarters of `block`, vector by vector, in step.
#[inline]
fn quarters(block: &mut [u32]) -> impl Iterator<Item = [&mut [u32; 8]; 4]> {
    fn vectors(q: &mut [u32]) -> std::slice::IterMut<'_, [u32; 8]> {
        q.as_chunks_mut::<8>().0.iter_mut()
    }
    let quarter = block.len() / 4;
    let (lo, hi) = block.split_at_mut(2 * quarter);
    let ((q0, q1), (q2, q3)) = (lo.split_at_mut(quarter), hi.split_at_mut(quarter));
    vectors(q0).zip(vectors(q1)).zip(vectors(q2)).zip(vectors(q3)).map(|(((x0, x1), x2), x3)| [x0, x1, x2, x3])
}

/// Forward layers t = `t_hi`, `t_hi`/2, ..., ≥ `t_lo` (all ≥ 8), two per
/// pass, on `a`, which starts at word `offset` of an `n`-word limb.
#[inline]
#[target_feature(enable = "avx2")]
fn forward_layers(c: Consts, a: &mut [u32], offset: usize, (t_hi, t_lo): (usize, usize), w: &[u32], ws: &[u32]) {
    let n = w.len();
    // Layer t's first block here has twiddle index n/(2t) + offset/(2t).
    let twiddles = |t: usize| {
        let first = (n + offset) / (2 * t);
        (&w[first..], &ws[first..])
    };
    let mut t = t_hi;
    while t >= t_lo {
        if t / 2 >= t_lo {
            forward_pair(c, a, t, twiddles(t), twiddles(t / 2));
            t /= 4;
        } else {
            let (w, ws) = twiddles(t);
            layer(c, a, t, w, ws, |c, x, y, tw| forward_butterfly(c, x, y, tw));
            t /= 2;
        }
    }
}

/// Inverse layers t = `t_lo`, 2`t_lo`, ... < `t_end` (all ≥ 8), two per pass,
/// on `a`, which starts at word `offset` of an `n`-word limb.
#[inline]
#[target_feature(enable = "avx2")]
fn inverse_layers(c: Consts, a: &mut [u32], offset: usize, (t_lo, t_end): (usize, usize), w: &[u32], ws: &[u32]) {
    let n = w.len();
    let twiddles = |t: usize| {
        let first = (n + offset) / (2 * t);
        (&w[first..], &ws[first..])
    };
    let mut t = t_lo;
    while t < t_end {
        if 2 * t < t_end {
            inverse_pair(c, a, t, twiddles(t), twiddles(2 * t));
            t *= 4;
        } else {
            let (w, ws) = twiddles(t);
            layer(c, a, t, w, ws, |c, x, y, tw| inverse_butterfly(c, x, y, tw));
            t *= 2;
        }
    }
}

/// Forward transform of `a` (N ≥ 16 words, values in [0, q)), output
/// bit-reversed in [0, q).
#[target_feature(enable = "avx2")]
pub(super) fn forward(table: &NttTable, a: &mut [u32]) {
    let n = a.len();
    debug_assert!(n >= CHUNK && n == table.n());
    let q = table.modulus.value();
    let c = Consts { q: splat(q), two_q: splat(2 * q) };
    let (w, ws) = (table.psi_rev.as_slice(), table.psi_rev_shoup.as_slice());
    // Layers whose blocks are longer than BLOCK run on the whole array, the
    // others block by block.
    let block_len = BLOCK.min(n);
    forward_layers(c, a, 0, (n / 2, block_len), w, ws);
    for (k, block) in a.chunks_exact_mut(block_len).enumerate() {
        forward_layers(c, block, k * block_len, (block_len / 2, 8), w, ws);
        forward_tail(c, block, k * block_len / CHUNK, w, ws);
    }
}

/// Layers t = 4, 2, 1 and the final reduction to [0, q) on `a`, whose first
/// 16-word chunk is chunk `g` of the whole limb.
#[inline]
#[target_feature(enable = "avx2")]
fn forward_tail(c: Consts, a: &mut [u32], g: usize, w: &[u32], ws: &[u32]) {
    let n = w.len();
    // Twiddle arrays of one chunk per layer: block i of layer t is chunk
    // i·2t/16, so chunk g starts at n/(2t) + g·8/t.
    let w4 = w[n / 8 + 2 * g..].as_chunks::<2>().0.iter().zip(ws[n / 8 + 2 * g..].as_chunks::<2>().0);
    let w2 = w[n / 4 + 4 * g..].as_chunks::<4>().0.iter().zip(ws[n / 4 + 4 * g..].as_chunks::<4>().0);
    let w1 = w[n / 2 + 8 * g..].as_chunks::<8>().0.iter().zip(ws[n / 2 + 8 * g..].as_chunks::<8>().0);
    for (chunk, ((w4, w2), w1)) in a.as_chunks_mut::<CHUNK>().0.iter_mut().zip(w4.zip(w2).zip(w1)) {
        let (x, y) = chunk.as_chunks_mut::<8>().0.split_at_mut(1);
        let mut z = transpose_halves(load(&x[0]), load(&y[0]));
        z = forward_butterfly(c, z.0, z.1, twiddle_t4(w4.0, w4.1));
        z = zip(z.0, z.1);
        z = forward_butterfly(c, z.0, z.1, twiddle_t2(w2.0, w2.1));
        z = zip(z.0, z.1);
        z = forward_butterfly(c, z.0, z.1, twiddle_t1(w1.0, w1.1));
        // normalization: [0, 4q) → [0, q)
        let fix = |v| reduce_once(reduce_once(v, c.two_q), c.q);
        z = zip(fix(z.0), fix(z.1));
        z = transpose_halves(z.0, z.1);
        store(&mut x[0], z.0);
        store(&mut y[0], z.1);
    }
}

/// Inverse transform of `a` (N ≥ 16 words, bit-reversed, values in [0, q)),
/// output natural order in [0, q), scaled by N^-1.
#[target_feature(enable = "avx2")]
pub(super) fn inverse(table: &NttTable, a: &mut [u32]) {
    let n = a.len();
    debug_assert!(n >= CHUNK && n == table.n());
    let m = table.modulus;
    let c = Consts { q: splat(m.value()), two_q: splat(2 * m.value()) };
    let (w, ws) = (table.psi_inv_rev.as_slice(), table.psi_inv_rev_shoup.as_slice());
    // Layers t < 8 and those whose blocks fit BLOCK run block by block, the
    // others on the whole array; the last layer (t = n/2) is left for the
    // N^-1 pass below.
    let block_len = BLOCK.min(n);
    let split = block_len.min(n / 2);
    for (k, block) in a.chunks_exact_mut(block_len).enumerate() {
        inverse_tail(c, block, k * block_len / CHUNK, w, ws);
        inverse_layers(c, block, k * block_len, (8, split), w, ws);
    }
    inverse_layers(c, a, 0, (split, n / 2), w, ws);
    // Last layer with the N^-1 scaling folded in: x + y → (x + y)·N^-1 and
    // (x - y)·w → (x - y)·(w·N^-1), then reduced to [0, q).
    let w_last = m.mul(w[1], table.n_inv);
    let n_inv = twiddle_splat(table.n_inv, table.n_inv_shoup);
    let w_last = twiddle_splat(w_last, m.shoup(w_last));
    let (lo, hi) = a.split_at_mut(n / 2);
    for (x, y) in lo.as_chunks_mut::<8>().0.iter_mut().zip(hi.as_chunks_mut::<8>().0) {
        let (u, v) = (load(x), load(y));
        let sum = mul_shoup_lazy(_mm256_add_epi32(u, v), n_inv.0, n_inv.1, n_inv.2, c.q);
        let diff = _mm256_sub_epi32(_mm256_add_epi32(u, c.two_q), v);
        let diff = mul_shoup_lazy(diff, w_last.0, w_last.1, w_last.2, c.q);
        store(x, reduce_once(sum, c.q));
        store(y, reduce_once(diff, c.q));
    }
}

/// Inverse layers t = 1, 2, 4 on `a`, whose first 16-word chunk is chunk `g`
/// of the whole limb.
#[inline]
#[target_feature(enable = "avx2")]
fn inverse_tail(c: Consts, a: &mut [u32], g: usize, w: &[u32], ws: &[u32]) {
    let n = w.len();
    let w4 = w[n / 8 + 2 * g..].as_chunks::<2>().0.iter().zip(ws[n / 8 + 2 * g..].as_chunks::<2>().0);
    let w2 = w[n / 4 + 4 * g..].as_chunks::<4>().0.iter().zip(ws[n / 4 + 4 * g..].as_chunks::<4>().0);
    let w1 = w[n / 2 + 8 * g..].as_chunks::<8>().0.iter().zip(ws[n / 2 + 8 * g..].as_chunks::<8>().0);
    for (chunk, ((w4, w2), w1)) in a.as_chunks_mut::<CHUNK>().0.iter_mut().zip(w4.zip(w2).zip(w1)) {
        let (x, y) = chunk.as_chunks_mut::<8>().0.split_at_mut(1);
        let mut z = transpose_halves(load(&x[0]), load(&y[0]));
        z = unzip(z.0, z.1);
        z = inverse_butterfly(c, z.0, z.1, twiddle_t1(w1.0, w1.1));
        z = unzip(z.0, z.1);
        z = inverse_butterfly(c, z.0, z.1, twiddle_t2(w2.0, w2.1));
        z = unzip(z.0, z.1);
        z = inverse_butterfly(c, z.0, z.1, twiddle_t4(w4.0, w4.1));
        z = transpose_halves(z.0, z.1);
        store(&mut x[0], z.0);
        store(&mut y[0], z.1);
    }
}
