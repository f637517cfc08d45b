//! AVX-512 negacyclic NTT (16 × u32 lanes), the same transform as
//! [`NttTable::forward_scalar`] / [`NttTable::inverse_scalar`] with the same
//! twiddles, bit-identical output (every output is the unique residue in
//! [0, q)). Needs q < 2^30 (lazy values in [0, 4q) fit a u32).
//!
//! Layers with t ≥ 16 pair whole vectors with one broadcast twiddle, two
//! layers per pass over memory (radix-4: four vectors loaded, four
//! butterflies, four stored). The four layers with t < 16 run on a 32-word
//! chunk held in two registers, re-paired by `vpermt2d` before each layer
//! (layouts [`lows`]); the forward tail also does the final reduction to
//! [0, q), and the inverse folds N^-1 into its last layer. Layers whose blocks
//! fit [`BLOCK`] words run block by block so the data stays in L1 (on Zen 4 the
//! block size made no measurable difference: the kernels are bound by
//! arithmetic, about 12 vector ops per butterfly, 4 of them multiplies).
//!
//! Every function needs a CPU with AVX-512 F: callers check
//! [`Variant::Avx512`](crate::math::limb_ops::Variant) first.

use super::NttTable;
use crate::math::limb_ops::avx512::{load, mul_shoup_lazy, odd_lanes, reduce_once, splat, store};
use std::arch::x86_64::{
    __m512i, _mm_loadu_si128, _mm256_loadu_si256, _mm512_add_epi32, _mm512_castsi128_si512, _mm512_castsi256_si512,
    _mm512_loadu_si512, _mm512_mask_set1_epi32, _mm512_permutex2var_epi32, _mm512_permutexvar_epi32, _mm512_sub_epi32,
};

/// Words per depth-first block (16 KiB: a block and its twiddles fit L1).
const BLOCK: usize = 4096;

/// Words per tail chunk: two registers.
const CHUNK: usize = 32;

/// Layout L_t of a 32-word chunk in two registers (z0, z1): z0 lane l holds
/// word `lows(t)[l]` (the words with bit t clear, ascending) and z1 lane l
/// holds word `lows(t)[l] + t`, so (z0, z1) are the butterfly pairs of the
/// layer with distance t and lane l belongs to butterfly block l / t.
/// L_16 is natural order (z0 = words 0..16, z1 = words 16..32).
const fn lows(t: usize) -> [usize; 16] {
    let mut r = [0; 16];
    let mut l = 0;
    while l < 16 {
        r[l] = l / t * 2 * t + l % t;
        l += 1;
    }
    r
}

/// `vpermt2d` indices taking (z0, z1) from layout L_`from` to L_`to`: the
/// new z0 (`high` false) or z1 (`high` true).
const fn relayout(from: usize, to: usize, high: bool) -> [u32; 16] {
    let (src, dst) = (lows(from), lows(to));
    let mut r = [0; 16];
    let mut l = 0;
    while l < 16 {
        let word = dst[l] + if high { to } else { 0 };
        let (base, offset) = if word & from == 0 { (word, 0) } else { (word - from, 16) };
        let mut k = 0;
        while src[k] != base {
            k += 1;
        }
        r[l] = (k + offset) as u32;
        l += 1;
    }
    r
}

/// Index pairs for the forward tail: L16 → L8 → L4 → L2 → L1 → L16.
const FORWARD_RELAYOUT: [[[u32; 16]; 2]; 5] = {
    let steps = [(16, 8), (8, 4), (4, 2), (2, 1), (1, 16)];
    let mut r = [[[0; 16]; 2]; 5];
    let mut i = 0;
    while i < 5 {
        r[i] = [relayout(steps[i].0, steps[i].1, false), relayout(steps[i].0, steps[i].1, true)];
        i += 1;
    }
    r
};

/// Index pairs for the inverse tail: L16 → L1 → L2 → L4 → L8 → L16.
const INVERSE_RELAYOUT: [[[u32; 16]; 2]; 5] = {
    let steps = [(16, 1), (1, 2), (2, 4), (4, 8), (8, 16)];
    let mut r = [[[0; 16]; 2]; 5];
    let mut i = 0;
    while i < 5 {
        r[i] = [relayout(steps[i].0, steps[i].1, false), relayout(steps[i].0, steps[i].1, true)];
        i += 1;
    }
    r
};

/// Lane l ← word l / 4 and lane l ← word l / 2: twiddle expansion for the
/// layers t = 4 and t = 2 (lane l of L_t uses block l / t).
const REPEAT4: [u32; 16] = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3];
const REPEAT2: [u32; 16] = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7];

#[inline]
#[target_feature(enable = "avx512f")]
fn load_index(idx: &[u32; 16]) -> __m512i {
    // SAFETY: `idx` is 64 readable bytes; the load is unaligned.
    unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
}

/// Re-pairs (z0, z1) with the index pair `idx`.
#[inline]
#[target_feature(enable = "avx512f")]
fn permute(z: (__m512i, __m512i), idx: (__m512i, __m512i)) -> (__m512i, __m512i) {
    (_mm512_permutex2var_epi32(z.0, idx.0, z.1), _mm512_permutex2var_epi32(z.0, idx.1, z.1))
}

/// Modulus constants as vectors.
#[derive(Clone, Copy)]
struct Consts {
    q: __m512i,
    two_q: __m512i,
}

/// One twiddle per lane with its Shoup quotient: `(w, ws, ws_odd)`, see
/// [`mul_shoup_lazy`].
type Twiddle = (__m512i, __m512i, __m512i);

/// Forward (Cooley–Tukey) butterfly: x, y in [0, 4q) → x + w·y, x - w·y in
/// [0, 4q), exactly as the scalar loop.
#[inline]
#[target_feature(enable = "avx512f")]
fn forward_butterfly(c: Consts, x: __m512i, y: __m512i, w: Twiddle) -> (__m512i, __m512i) {
    let u = reduce_once(x, c.two_q);
    let v = mul_shoup_lazy(y, w.0, w.1, w.2, c.q);
    (_mm512_add_epi32(u, v), _mm512_sub_epi32(_mm512_add_epi32(u, c.two_q), v))
}

/// Inverse (Gentleman–Sande) butterfly: x, y in [0, 2q) → x + y,
/// (x - y)·w in [0, 2q), exactly as the scalar loop.
#[inline]
#[target_feature(enable = "avx512f")]
fn inverse_butterfly(c: Consts, x: __m512i, y: __m512i, w: Twiddle) -> (__m512i, __m512i) {
    let sum = reduce_once(_mm512_add_epi32(x, y), c.two_q);
    let diff = _mm512_sub_epi32(_mm512_add_epi32(x, c.two_q), y);
    (sum, mul_shoup_lazy(diff, w.0, w.1, w.2, c.q))
}

/// Broadcast twiddle `(w, ws)`.
#[inline]
#[target_feature(enable = "avx512f")]
fn twiddle_splat(w: u32, ws: u32) -> Twiddle {
    let ws = splat(ws);
    (splat(w), ws, ws)
}

/// Twiddles of layer t = 8 in L8: lanes 0..8 ← `w[0]`, lanes 8..16 ← `w[1]`.
#[inline]
#[target_feature(enable = "avx512f")]
fn twiddle_t8(w: &[u32; 2], ws: &[u32; 2]) -> Twiddle {
    let rep = |x: &[u32; 2]| _mm512_mask_set1_epi32(splat(x[0]), 0xFF00, x[1] as i32);
    let ws = rep(ws);
    // Lanes 2i and 2i+1 share a twiddle, so ws's odd lanes equal its even ones.
    (rep(w), ws, ws)
}

/// Twiddles of layer t = 4 in L4: lane l ← `w[l / 4]`.
#[inline]
#[target_feature(enable = "avx512f")]
fn twiddle_t4(w: &[u32; 4], ws: &[u32; 4], repeat4: __m512i) -> Twiddle {
    let rep = |x: &[u32; 4]| {
        // SAFETY: `x` is 16 readable bytes; the load is unaligned.
        let v = unsafe { _mm_loadu_si128(x.as_ptr().cast()) };
        _mm512_permutexvar_epi32(repeat4, _mm512_castsi128_si512(v))
    };
    let ws = rep(ws);
    // Lanes 2i and 2i+1 share a twiddle, so ws's odd lanes equal its even ones.
    (rep(w), ws, ws)
}

/// Twiddles of layer t = 2 in L2: lane l ← `w[l / 2]`.
#[inline]
#[target_feature(enable = "avx512f")]
fn twiddle_t2(w: &[u32; 8], ws: &[u32; 8], repeat2: __m512i) -> Twiddle {
    let rep = |x: &[u32; 8]| {
        // SAFETY: `x` is 32 readable bytes; the load is unaligned.
        let v = unsafe { _mm256_loadu_si256(x.as_ptr().cast()) };
        _mm512_permutexvar_epi32(repeat2, _mm512_castsi256_si512(v))
    };
    let ws = rep(ws);
    // Lanes 2i and 2i+1 share a twiddle, so ws's odd lanes equal its even ones.
    (rep(w), ws, ws)
}

/// Twiddles of layer t = 1 in L1: lane l ← `w[l]`.
#[inline]
#[target_feature(enable = "avx512f")]
fn twiddle_t1(w: &[u32; 16], ws: &[u32; 16]) -> Twiddle {
    let ws = load(ws);
    (load(w), ws, odd_lanes(ws))
}

/// One layer with t ≥ 16 on `a` (whole blocks of 2t words): block i uses
/// twiddle `(w[i], ws[i])`; `butterfly` is the forward or inverse one.
#[inline]
#[target_feature(enable = "avx512f")]
fn layer(
    c: Consts,
    a: &mut [u32],
    t: usize,
    w: &[u32],
    ws: &[u32],
    butterfly: impl Fn(Consts, __m512i, __m512i, Twiddle) -> (__m512i, __m512i),
) {
    for ((block, &w), &ws) in a.chunks_exact_mut(2 * t).zip(w).zip(ws) {
        let tw = twiddle_splat(w, ws);
        let (lo, hi) = block.split_at_mut(t);
        for (x, y) in lo.as_chunks_mut::<16>().0.iter_mut().zip(hi.as_chunks_mut::<16>().0) {
            let (u, v) = butterfly(c, load(x), load(y), tw);
            store(x, u);
            store(y, v);
        }
    }
}

/// Forward layers t and t/2 (t/2 ≥ 16) on `a` (whole blocks of 2t words) in
/// one pass: block i uses `w1[i]` for layer t, then `w2[2i]` and `w2[2i+1]`
/// for its two halves in layer t/2. Twiddles are `(w, w_shoup)` slices.
#[inline]
#[target_feature(enable = "avx512f")]
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

/// Inverse layers t and 2t (t ≥ 16) on `a` (whole blocks of 4t words) in one
/// pass: block i uses `w1[2i]` and `w1[2i+1]` for its two halves in layer t,
/// then `w2[i]` for layer 2t. Twiddles are `(w, w_shoup)` slices.
#[inline]
#[target_feature(enable = "avx512f")]
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
fn quarters(block: &mut [u32]) -> impl Iterator<Item = [&mut [u32; 16]; 4]> {
    fn vectors(q: &mut [u32]) -> std::slice::IterMut<'_, [u32; 16]> {
        q.as_chunks_mut::<16>().0.iter_mut()
    }
    let quarter = block.len() / 4;
    let (lo, hi) = block.split_at_mut(2 * quarter);
    let ((q0, q1), (q2, q3)) = (lo.split_at_mut(quarter), hi.split_at_mut(quarter));
    vectors(q0).zip(vectors(q1)).zip(vectors(q2)).zip(vectors(q3)).map(|(((x0, x1), x2), x3)| [x0, x1, x2, x3])
}

/// Forward layers t = `t_hi`, `t_hi`/2, ..., ≥ `t_lo` (all ≥ 16), two per
/// pass, on `a`, which starts at word `offset` of an `n`-word limb.
#[inline]
#[target_feature(enable = "avx512f")]
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

/// Inverse layers t = `t_lo`, 2`t_lo`, ... < `t_end` (all ≥ 16), two per pass,
/// on `a`, which starts at word `offset` of an `n`-word limb.
#[inline]
#[target_feature(enable = "avx512f")]
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

/// Forward transform of `a` (N ≥ 32 words, values in [0, q)), output
/// bit-reversed in [0, q).
#[target_feature(enable = "avx512f")]
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
        forward_layers(c, block, k * block_len, (block_len / 2, 16), w, ws);
        forward_tail(c, block, k * block_len / CHUNK, w, ws);
    }
}

/// Layers t = 8, 4, 2, 1 and the final reduction to [0, q) on `a`, whose
/// first 32-word chunk is chunk `g` of the whole limb.
#[inline]
#[target_feature(enable = "avx512f")]
fn forward_tail(c: Consts, a: &mut [u32], g: usize, w: &[u32], ws: &[u32]) {
    let n = w.len();
    let idx = FORWARD_RELAYOUT.map(|[lo, hi]| (load_index(&lo), load_index(&hi)));
    let (repeat4, repeat2) = (load_index(&REPEAT4), load_index(&REPEAT2));
    // Twiddle arrays of one chunk per layer: block i of layer t is chunk
    // i·2t/32, so chunk g starts at n/(2t) + g·16/t.
    let w8 = w[n / 16 + 2 * g..].as_chunks::<2>().0.iter().zip(ws[n / 16 + 2 * g..].as_chunks::<2>().0);
    let w4 = w[n / 8 + 4 * g..].as_chunks::<4>().0.iter().zip(ws[n / 8 + 4 * g..].as_chunks::<4>().0);
    let w2 = w[n / 4 + 8 * g..].as_chunks::<8>().0.iter().zip(ws[n / 4 + 8 * g..].as_chunks::<8>().0);
    let w1 = w[n / 2 + 16 * g..].as_chunks::<16>().0.iter().zip(ws[n / 2 + 16 * g..].as_chunks::<16>().0);
    let twiddles = w8.zip(w4).zip(w2).zip(w1);
    for (chunk, (((w8, w4), w2), w1)) in a.as_chunks_mut::<CHUNK>().0.iter_mut().zip(twiddles) {
        let (x, y) = chunk.as_chunks_mut::<16>().0.split_at_mut(1);
        let mut z = permute((load(&x[0]), load(&y[0])), idx[0]);
        z = forward_butterfly(c, z.0, z.1, twiddle_t8(w8.0, w8.1));
        z = permute(z, idx[1]);
        z = forward_butterfly(c, z.0, z.1, twiddle_t4(w4.0, w4.1, repeat4));
        z = permute(z, idx[2]);
        z = forward_butterfly(c, z.0, z.1, twiddle_t2(w2.0, w2.1, repeat2));
        z = permute(z, idx[3]);
        z = forward_butterfly(c, z.0, z.1, twiddle_t1(w1.0, w1.1));
        // normalization: [0, 4q) → [0, q)
        let fix = |v| reduce_once(reduce_once(v, c.two_q), c.q);
        z = permute((fix(z.0), fix(z.1)), idx[4]);
        store(&mut x[0], z.0);
        store(&mut y[0], z.1);
    }
}

/// Inverse transform of `a` (N ≥ 32 words, bit-reversed, values in [0, q)),
/// output natural order in [0, q), scaled by N^-1.
#[target_feature(enable = "avx512f")]
pub(super) fn inverse(table: &NttTable, a: &mut [u32]) {
    let n = a.len();
    debug_assert!(n >= CHUNK && n == table.n());
    let m = table.modulus;
    let c = Consts { q: splat(m.value()), two_q: splat(2 * m.value()) };
    let (w, ws) = (table.psi_inv_rev.as_slice(), table.psi_inv_rev_shoup.as_slice());
    // Layers t < 16 and those whose blocks fit BLOCK run block by block, the
    // others on the whole array; the last layer (t = n/2) is left for the
    // N^-1 pass below.
    let block_len = BLOCK.min(n);
    let split = block_len.min(n / 2);
    for (k, block) in a.chunks_exact_mut(block_len).enumerate() {
        inverse_tail(c, block, k * block_len / CHUNK, w, ws);
        inverse_layers(c, block, k * block_len, (16, split), w, ws);
    }
    inverse_layers(c, a, 0, (split, n / 2), w, ws);
    // Last layer with the N^-1 scaling folded in: x + y → (x + y)·N^-1 and
    // (x - y)·w → (x - y)·(w·N^-1), then reduced to [0, q).
    let (n_inv, n_inv_shoup) = (table.n_inv, table.n_inv_shoup);
    let w_last = m.mul(w[1], n_inv);
    let (n_inv, w_last) = (twiddle_splat(n_inv, n_inv_shoup), twiddle_splat(w_last, m.shoup(w_last)));
    let (lo, hi) = a.split_at_mut(n / 2);
    for (x, y) in lo.as_chunks_mut::<16>().0.iter_mut().zip(hi.as_chunks_mut::<16>().0) {
        let (u, v) = (load(x), load(y));
        let sum = mul_shoup_lazy(_mm512_add_epi32(u, v), n_inv.0, n_inv.1, n_inv.2, c.q);
        let diff = _mm512_sub_epi32(_mm512_add_epi32(u, c.two_q), v);
        let diff = mul_shoup_lazy(diff, w_last.0, w_last.1, w_last.2, c.q);
        store(x, reduce_once(sum, c.q));
        store(y, reduce_once(diff, c.q));
    }
}

/// Inverse layers t = 1, 2, 4, 8 on `a`, whose first 32-word chunk is chunk
/// `g` of the whole limb.
#[inline]
#[target_feature(enable = "avx512f")]
fn inverse_tail(c: Consts, a: &mut [u32], g: usize, w: &[u32], ws: &[u32]) {
    let n = w.len();
    let idx = INVERSE_RELAYOUT.map(|[lo, hi]| (load_index(&lo), load_index(&hi)));
    let (repeat4, repeat2) = (load_index(&REPEAT4), load_index(&REPEAT2));
    let w8 = w[n / 16 + 2 * g..].as_chunks::<2>().0.iter().zip(ws[n / 16 + 2 * g..].as_chunks::<2>().0);
    let w4 = w[n / 8 + 4 * g..].as_chunks::<4>().0.iter().zip(ws[n / 8 + 4 * g..].as_chunks::<4>().0);
    let w2 = w[n / 4 + 8 * g..].as_chunks::<8>().0.iter().zip(ws[n / 4 + 8 * g..].as_chunks::<8>().0);
    let w1 = w[n / 2 + 16 * g..].as_chunks::<16>().0.iter().zip(ws[n / 2 + 16 * g..].as_chunks::<16>().0);
    let twiddles = w8.zip(w4).zip(w2).zip(w1);
    for (chunk, (((w8, w4), w2), w1)) in a.as_chunks_mut::<CHUNK>().0.iter_mut().zip(twiddles) {
        let (x, y) = chunk.as_chunks_mut::<16>().0.split_at_mut(1);
        let mut z = permute((load(&x[0]), load(&y[0])), idx[0]);
        z = inverse_butterfly(c, z.0, z.1, twiddle_t1(w1.0, w1.1));
        z = permute(z, idx[1]);
        z = inverse_butterfly(c, z.0, z.1, twiddle_t2(w2.0, w2.1, repeat2));
        z = permute(z, idx[2]);
        z = inverse_butterfly(c, z.0, z.1, twiddle_t4(w4.0, w4.1, repeat4));
        z = permute(z, idx[3]);
        z = inverse_butterfly(c, z.0, z.1, twiddle_t8(w8.0, w8.1));
        z = permute(z, idx[4]);
        store(&mut x[0], z.0);
        store(&mut y[0], z.1);
    }
}
