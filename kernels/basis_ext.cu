// basis_ext.cu — fast RNS basis conversion (ModUp) and its exact centered
// variant (ModDown). CPU twin: BasisConverter::convert / convert_centered in
// src/math/rns.rs, bit-exact; WGSL twin: shaders/basis_ext.wgsl.
// Layout: limb-major. ys holds the s source limbs (coefficient domain) and,
// for the centered variant, one more limb for the overflow counts v.
// Steps (one launch each; the first runs inside another kernel):
//   conv_prep     ys[i] = [ys[i] · (Q/p_i)^-1]_{p_i}                   (Shoup)
//                 — fused into the inverse NTT that brings ys to the
//                 coefficient domain (ntt_inverse_prep in ntt.cu)
//   conv_overflow ys[s] = round(Σ_i ys[i] / p_i), computed exactly as the CPU's
//                 f64 loop, see below
//   conv_apply    out[t] = Σ_i ys[i] · [Q/p_i]_{m_t} (− ys[s]·[Q]_{m_t} if h.op = 1)
// In/out: [0, q).
// tab (one source set; words of src/backend/device_tables.rs,
//   conversion_words_with_rows): pairs (x, Shoup(x)): (Q/p_i)^-1 mod p_i at
//   2i; for every global prime t, at 2s + 2t(s+1): (Q/p_i) mod m_t for
//   i < s, then Q mod m_t; then from word arg[1] (a multiple of 4), for
//   every global prime t, a row of s words rounded up to a multiple of 4:
//   (Q/p_i) mod m_t for i < s, then zeros.
// Header args: arg[0] s = number of sources; conv_apply: arg[1] the word of
// tab where its factor rows start. The header's limb map names
// the source primes (conv_overflow) or the target primes (conv_apply).
// Operands per item: conv_apply (tab, ys, out), conv_overflow (ys).
// Launch: block BX_WG, one thread per coefficient; grid (⌈N / BX_WG⌉, limbs,
// items) with one limb for conv_overflow, and (⌈N / BX_WG⌉, ⌈limbs /
// CONV_TARGETS⌉, items) for conv_apply: each of its threads computes one
// coefficient of CONV_TARGETS target limbs, so every source word is read
// once per CONV_TARGETS targets instead of once per target (the sources of
// a batch do not fit in L2; issuing a coefficient block's rows together,
// for their source reads to meet in L2, measured 5 % slower on an H200:
// bench_results/h200-run8). Each target's sum is lazy (modarith.cuh): the
// products y_i·w in 64 bits, reduced once per CONV_CHUNK sources. Its
// residue is unique, so the words are the CPU's.
//
// Why conv_overflow equals the CPU bit for bit: the CPU computes, per
// coefficient, f = 0.0; f += f64(y_i) * (1.0 / f64(p_i)) for i = 0, 1, ...;
// v = f.round() as u32, each * and + rounded to nearest-even (Rust never
// fuses or reorders them). CUDA doubles are IEEE binary64: __dmul_rn and
// __dadd_rn are exactly those roundings and are never contracted into an
// FMA (the launcher also passes --fmad=false); 1.0 / f64(p_i) is rebuilt
// exactly from the host's words in cst (mantissa and exponent, put back
// into the IEEE bits it came from: no ldexp, 20 instructions a source
// instead of 35 in sm_90 code),
// and round() rounds half away from zero as Rust's f64::round. Equal
// operations on equal inputs give equal results, so v is the CPU's v for
// every input, including coefficients whose Σ y_i/p_i lies within f64
// rounding error of a half-integer.

#define BX_WG 256u
#define CONV_TARGETS 8u
// Sources per lazy sum: whole groups of 4, and the products plus a residue fit.
#define CONV_CHUNK 12u
static_assert(CONV_CHUNK % 4u == 0u && CONV_CHUNK < LAZY_TERMS, "conv_apply's lazy sums");

extern "C" __global__ void conv_apply(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, BX_WG, &c)) return;
    const u32* tab = (const u32*)operand(h, ops, 3u, 0u);
    const u32* ys = (const u32*)operand(h, ops, 3u, 1u);
    u32* out = (u32*)operand(h, ops, 3u, 2u);
    const u32 s = h.arg[0];
    const u32 first = h.limb_start + block_row(h) * CONV_TARGETS;
    const u32 count = min(CONV_TARGETS, h.limb_start + h.limb_count - first);
    u32 t[CONV_TARGETS];
    const uint4* factors[CONV_TARGETS];
    u64 acc[CONV_TARGETS];
    const u32 row_len = (s + 3u) & ~3u;
#pragma unroll
    for (u32 k = 0; k < CONV_TARGETS; k++) {
        t[k] = prime_of(h, first + min(k, count - 1u));
        factors[k] = (const uint4*)(tab + h.arg[1] + t[k] * row_len);
        acc[k] = 0u;
    }
    // Lazy sums (modarith.cuh) of CONV_CHUNK products on top of the residue
    // of the previous chunks, one reduction per target a chunk; the sources
    // four at a time, with one 16-byte load of each target's four factors
    // (past s the factors are 0 and the sources are not read). In sm_90 code
    // (tools/kernel_sass.py): 100 instructions per four sources for the 8
    // targets, 40 registers; with a 4-byte factor load per source and target
    // 53 a source, with a reduction per product 94. opaque() keeps the
    // reductions' constants out of registers (hoisted out of the chunk loop
    // they took 96).
    for (u32 start = 0; start < s; start += CONV_CHUNK) {
        const u32 end = min(s, start + CONV_CHUNK);
#pragma unroll 1
        for (u32 i = start; i < end; i += 4u) {
            const u32* y = ys + (u64)i * h.n + c;
            const u64 y0 = y[0];
            const u64 y1 = i + 1u < s ? y[h.n] : 0u;
            const u64 y2 = i + 2u < s ? y[2u * h.n] : 0u;
            const u64 y3 = i + 3u < s ? y[3u * h.n] : 0u;
#pragma unroll
            for (u32 k = 0; k < CONV_TARGETS; k++) {
                const uint4 w = factors[k][i / 4u];
                acc[k] += y0 * w.x + y1 * w.y + y2 * w.z + y3 * w.w;
            }
        }
#pragma unroll
        for (u32 k = 0; k < CONV_TARGETS; k++) acc[k] = reduce_u64(opaque(cst), t[k], acc[k]);
    }
    if (h.op == 1u) {
        const u32 v = ys[(u64)s * h.n + c];
#pragma unroll
        for (u32 k = 0; k < CONV_TARGETS; k++) {
            const u32* pair = tab + 2u * s + 2u * t[k] * (s + 1u) + 2u * s; // Q mod m_t
            const u32 m = modulus(cst, t[k]);
            acc[k] = sub_mod((u32)acc[k], mul_shoup(v, pair[0], pair[1], m), m);
        }
    }
#pragma unroll
    for (u32 k = 0; k < CONV_TARGETS; k++) {
        if (k < count) out[(u64)(first + k) * h.n + c] = (u32)acc[k];
    }
}

extern "C" __global__ void conv_overflow(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, BX_WG, &c)) return;
    u32* ys = (u32*)operand(h, ops, 1u, 0u);
    const u32 s = h.arg[0];
    double f = 0.0;
    for (u32 i = 0; i < s; i++) {
        const u32 g = prime_of(h, i);
        const u32* record = cst + g * CST_STRIDE;
        // The IEEE bits of mantissa · 2^exponent, a normal number: the
        // biased exponent, then the mantissa without its hidden bit.
        const double inv = __hiloint2double((int)(((record[7] + 1075u) << 20) | (record[6] & 0xFFFFFu)), (int)record[5]);
        f = __dadd_rn(f, __dmul_rn((double)ys[(u64)i * h.n + c], inv));
    }
    // f.round() as u32: half away from zero, saturating (f ≥ 0 here).
    const double r = round(f);
    ys[(u64)s * h.n + c] = r >= 4294967295.0 ? 0xFFFFFFFFu : (u32)r;
}
