// modarith.wgsl — shared u32-only modular arithmetic for every hetl shader.
// The launcher prepends this file to each family's source, so compile errors
// in a family file are reported at (its line + the line count of this file).
//
// Bindings declared here (every family uses them):
//   @group(0) @binding(0) prm: uniform, array<vec4<u32>, 32> — one 512-byte
//     parameter block per dispatch: a 16-word header (H_* below) followed by
//     up to 112 words of per-limb data.
//   @group(0) @binding(1) cst: storage read, array<u32> — CST_STRIDE words per
//     global prime g (Q primes first, then P): q, Barrett k, Barrett mu,
//     N^-1, Shoup(N^-1), 1/q as an IEEE binary64 (mantissa lo, mantissa
//     hi with the hidden bit, unbiased exponent as i32 bits), then three
//     words only the CUDA kernels read (2^32 mod q, its Shoup quotient,
//     ⌊2^32/q⌋: reduce_u64 in kernels/modarith.cuh).
//
// Arithmetic: no 64-bit integers in WGSL, so 32×32→64 products are built
// from four 16×16→32 partial products (mul_wide). Every q < 2^30.
// Shoup: a·w − ⌊a·w'/2^32⌋·q for a fixed w < q with w' = ⌊w·2^32/q⌋: [0, 2q).
// Barrett: k = bitlen(q), mu = ⌊2^(2k)/q⌋ (< 2^31); x < q² < 2^(2k) gives
// ⌊⌊x/2^(k−1)⌋·mu/2^(k+1)⌋ within 2 of ⌊x/q⌋, so two subtractions finish.
// Results at every function boundary below are in [0, q) unless named _lazy.

const H_N: u32 = 0u;            // ring degree N
const H_LOG_N: u32 = 1u;        // log2 N
const H_LIMB_START: u32 = 2u;   // first limb of the bound buffer(s) this dispatch covers
const H_LIMB_COUNT: u32 = 3u;   // number of limbs (= workgroups along y)
const H_GSHIFT: u32 = 4u;       // limb → prime map: k = limb + H_GSHIFT ...
const H_QCOUNT: u32 = 5u;       // ... is Q prime k if k < H_QCOUNT ...
const H_QTOTAL: u32 = 6u;       // ... else P prime k − H_QCOUNT (global H_QTOTAL + k − H_QCOUNT)
const H_OP: u32 = 7u;           // kernel-specific operation selector
const H_ARG: u32 = 8u;          // kernel-specific arguments H_ARG .. H_ARG + 3
const H_ITEM_STRIDE: u32 = 12u; // merged dispatch: words between the items' slots ...
const H_ITEM_MASK: u32 = 13u;   // ... in the bindings b whose bit b − 2 is set (see item_base)
const H_DATA: u32 = 16u;        // per-limb data, relative to H_LIMB_START

const CST_STRIDE: u32 = 11u;

@group(0) @binding(0) var<uniform> prm: array<vec4<u32>, 32>;
@group(0) @binding(1) var<storage, read> cst: array<u32>;

// Word offset of item z's slot in binding b: a merged dispatch runs many
// items (workgroup z = item) whose per-item buffers were gathered into one
// buffer per binding, slot z at z · H_ITEM_STRIDE; bindings shared by every
// item (tables, twiddles) and ordinary dispatches (mask 0) give 0.
fn item_base(z: u32, b: u32) -> u32 {
    if (((pu(H_ITEM_MASK) >> (b - 2u)) & 1u) == 0u) {
        return 0u;
    }
    return z * pu(H_ITEM_STRIDE);
}

// Word i of this dispatch's parameter block.
fn pu(i: u32) -> u32 {
    return prm[i >> 2u][i & 3u];
}

// Global prime index of a limb of the bound buffer(s).
fn prime_of(limb: u32) -> u32 {
    let k = limb + pu(H_GSHIFT);
    if (k < pu(H_QCOUNT)) {
        return k;
    }
    return pu(H_QTOTAL) + k - pu(H_QCOUNT);
}

fn modulus(g: u32) -> u32 {
    return cst[g * CST_STRIDE];
}

// Full 64-bit product (lo, hi) of two u32 from 16-bit halves.
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xFFFFu;
    let a1 = a >> 16u;
    let b0 = b & 0xFFFFu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 16u) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu); // < 3·2^16
    let lo = (mid << 16u) | (p00 & 0xFFFFu);
    let hi = p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
    return vec2<u32>(lo, hi);
}

fn mul_hi(a: u32, b: u32) -> u32 {
    return mul_wide(a, b).y;
}

// a + b mod q for a, b in [0, q).
fn add_mod(a: u32, b: u32, q: u32) -> u32 {
    let s = a + b;
    return select(s, s - q, s >= q);
}

// a − b mod q for a, b in [0, q).
fn sub_mod(a: u32, b: u32, q: u32) -> u32 {
    return select(a - b, a + q - b, a < b);
}

// x in [0, 2q) → [0, q).
fn reduce_2q(x: u32, q: u32) -> u32 {
    return select(x, x - q, x >= q);
}

// a·w mod q in [0, 2q) for any a < 2^32, w < q, ws = Shoup(w).
fn mul_shoup_lazy(a: u32, w: u32, ws: u32, q: u32) -> u32 {
    return a * w - mul_hi(a, ws) * q;
}

// a·w mod q in [0, q), see mul_shoup_lazy.
fn mul_shoup(a: u32, w: u32, ws: u32, q: u32) -> u32 {
    return reduce_2q(mul_shoup_lazy(a, w, ws, q), q);
}

// a·b mod q_g for a, b in [0, q_g) (Barrett, see the header).
fn mul_mod(a: u32, b: u32, g: u32) -> u32 {
    let q = cst[g * CST_STRIDE];
    let k = cst[g * CST_STRIDE + 1u];
    let mu = cst[g * CST_STRIDE + 2u];
    let x = mul_wide(a, b);                                  // < 2^(2k)
    let x1 = (x.x >> (k - 1u)) | (x.y << (33u - k));         // x >> (k−1) < 2^(k+1)
    let t = mul_wide(x1, mu);                                // < 2^(2k+2)
    let quotient = (t.x >> (k + 1u)) | (t.y << (31u - k));   // t >> (k+1)
    var r = x.x - quotient * q;                              // exact: [0, 3q)
    if (r >= q) {
        r -= q;
    }
    if (r >= q) {
        r -= q;
    }
    return r;
}
