// modarith.cuh — shared modular arithmetic and launch header for every hetl
// CUDA kernel. The launcher (src/backend/cuda/compile.rs) prepends this file
// to each family's source before NVRTC compiles it, so compile errors in a
// family file are reported at (its line + the line count of this file).
//
// Every kernel takes `Header h` by value, `const u32* cst`, then (NTT only)
// `const u32* tw`, and last `Operands ops` by value:
//   Header: n (ring degree N), log_n, limb_start (first limb of the buffers
//     this launch covers; block_row = limb − limb_start), limb_count,
//     gshift/qcount/qtotal (limb → prime map, see prime_of), op
//     (kernel-specific selector), arg[4] (kernel-specific arguments),
//     items_inner (the grid's order, see block_item).
//     Its twin is `Header` in src/backend/cuda/context.rs (#[repr(C)]).
//   cst: CST_STRIDE words per global prime g (Q primes first, then P): q,
//     Barrett k, Barrett mu, N^-1, Shoup(N^-1), 1/q as an IEEE binary64
//     (mantissa lo, mantissa hi with the hidden bit, unbiased exponent as
//     i32 bits), then 2^32 mod q, its Shoup quotient and ⌊2^32/q⌋ (see
//     reduce_u64) — the words of src/backend/device_tables.rs.
//   ops: the buffers of a batch of independent items that share the header
//     (same limbs, primes and arguments): item z = block_item(h) has the
//     kernel's PER_ITEM operands at ops.p[z · PER_ITEM ..]; each operand is
//     a device address, or a plain value where a kernel says so. One launch
//     thus covers batch × limbs × N (the launcher splits batches larger than
//     MAX_OPERANDS / PER_ITEM). Twin: `Operands` in src/backend/cuda/context.rs.
//
// Arithmetic: q < 2^30 (so 4q fits a u32). Products use native 64-bit
// integers (no 64-bit division). Shoup: a·w − ⌊a·w'/2^32⌋·q for a fixed
// w < q with w' = ⌊w·2^32/q⌋: [0, 2q). Barrett: k = bitlen(q),
// mu = ⌊2^(2k)/q⌋ (< 2^31); x < q² < 2^(2k) gives ⌊⌊x/2^(k−1)⌋·mu/2^(k+1)⌋
// within 2 of ⌊x/q⌋, so two subtractions finish (the WGSL twin's products;
// the kernels reduce products with reduce_u64). Lazy sums: a product of two
// residues is below 2^60, so a u64 holds a residue plus LAZY_TERMS of them
// (16·(2^30 − 1)² + 2^30 < 2^64), and one reduce_u64 per sum replaces one
// reduction per term. Results at every function boundary below are in
// [0, q) unless named _lazy. WGSL twin: shaders/modarith.wgsl.

typedef unsigned int u32;
typedef unsigned long long u64;

#define CST_STRIDE 11u
#define LAZY_TERMS 16u

struct Header {
    u32 n;
    u32 log_n;
    u32 limb_start;
    u32 limb_count;
    u32 gshift;
    u32 qcount;
    u32 qtotal;
    u32 op;
    u32 arg[4];
    u32 items_inner;
};

// Global prime index of a limb of the bound buffer(s): k = limb + gshift is
// Q prime k if k < qcount, else P prime k − qcount (global qtotal + k − qcount).
__device__ __forceinline__ u32 prime_of(const Header& h, u32 limb) {
    u32 k = limb + h.gshift;
    return k < h.qcount ? k : h.qtotal + k - h.qcount;
}

#define MAX_OPERANDS 256u

struct Operands {
    u64 p[MAX_OPERANDS];
};

// This block's item and limb row (limb − limb_start; conv_apply's rows hold
// CONV_TARGETS limbs). The grid is (x, rows, items), or (x, items, rows)
// when h.items_inner = 1: the launcher sets it for the kernels whose items
// read the same per-limb tables from device memory (the NTT's twiddles, the
// key-switching keys). Blocks are issued x first, then y, then z, so the
// blocks of one limb of every item then run together and share those reads
// in L2 instead of reading them again from DRAM for each item.
__device__ __forceinline__ u32 block_item(const Header& h) {
    return h.items_inner ? blockIdx.y : blockIdx.z;
}

__device__ __forceinline__ u32 block_row(const Header& h) {
    return h.items_inner ? blockIdx.z : blockIdx.y;
}

// Operand j of this block's item, in a kernel with `per_item` operands per item.
__device__ __forceinline__ u64 operand(const Header& h, const Operands& ops, u32 per_item, u32 j) {
    return ops.p[block_item(h) * per_item + j];
}

__device__ __forceinline__ u32 modulus(const u32* cst, u32 g) {
    return cst[g * CST_STRIDE];
}

// x − m if x ≥ m, else x, for any x and 0 < m: when x < m, x − m wraps to
// x − m + 2^32 > x. One subtraction and one unsigned minimum (VIMNMX), where
// a compare, a select and a subtraction were three instructions.
__device__ __forceinline__ u32 sub_if_ge(u32 x, u32 m) {
    return min(x, x - m);
}

// a + b mod q for a, b in [0, q).
__device__ __forceinline__ u32 add_mod(u32 a, u32 b, u32 q) {
    return sub_if_ge(a + b, q);
}

// a − b mod q for a, b in [0, q): a − b wraps past q exactly when a < b,
// and then a − b + q (mod 2^32) is the smaller.
__device__ __forceinline__ u32 sub_mod(u32 a, u32 b, u32 q) {
    const u32 d = a - b;
    return min(d, d + q);
}

// x in [0, 2q) → [0, q).
__device__ __forceinline__ u32 reduce_2q(u32 x, u32 q) {
    return sub_if_ge(x, q);
}

// a·w mod q in [0, 2q) for any a < 2^32, w < q, ws = Shoup(w).
__device__ __forceinline__ u32 mul_shoup_lazy(u32 a, u32 w, u32 ws, u32 q) {
    return a * w - __umulhi(a, ws) * q;
}

// a·w mod q in [0, q), see mul_shoup_lazy.
__device__ __forceinline__ u32 mul_shoup(u32 a, u32 w, u32 ws, u32 q) {
    return reduce_2q(mul_shoup_lazy(a, w, ws, q), q);
}

// x mod q_g for any 64-bit x: x = hi·2^32 + lo ≡ hi·(2^32 mod q) + lo·1,
// two Shoup products in [0, 2q) each (w = 2^32 mod q and w = 1, both < q,
// for any 32-bit hi and lo), so their sum is below 4q < 2^32 and two
// subtractions finish. 32-bit multiplies only: 3 IMAD, 2 IMAD.HI.
__device__ __forceinline__ u32 reduce_u64(const u32* cst, u32 g, u64 x) {
    const u32* c = cst + g * CST_STRIDE;
    const u32 q = c[0];
    const u32 hi = (u32)(x >> 32), lo = (u32)x;
    const u32 r = mul_shoup_lazy(hi, c[8], c[9], q) + (lo - __umulhi(lo, c[10]) * q);
    return sub_if_ge(sub_if_ge(r, 2u * q), q);
}

// p, opaque to the optimizer (an empty asm that "changes" it): loads through
// it stay where they are written instead of being hoisted out of the loop
// around them, which would hold their values in registers for the whole
// loop (conv_apply's per-chunk reductions: 32 registers for 8 targets).
__device__ __forceinline__ const u32* opaque(const u32* p) {
#ifdef __CUDA_ARCH__
    asm volatile("" : "+l"(p));
#else
    asm volatile("" : "+r"(p));
#endif
    return p;
}

// a·b mod q_g for a, b in [0, q_g).
__device__ __forceinline__ u32 mul_mod(const u32* cst, u32 g, u32 a, u32 b) {
    return reduce_u64(cst, g, (u64)a * b);
}

// Coefficient index of this thread in a one-thread-per-coefficient launch
// with blocks of `block` threads; false when it is past N.
__device__ __forceinline__ bool coefficient(const Header& h, u32 block, u32* c) {
    *c = blockIdx.x * block + threadIdx.x;
    return *c < h.n;
}
