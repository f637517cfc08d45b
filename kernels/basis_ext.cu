// basis_ext.cu — fast RNS basis conversion (ModUp) and its exact centered
// variant (ModDown). CPU twin: BasisConverter::convert / convert_centered in
// src/math/rns.rs, bit-exact; WGSL twin: shaders/basis_ext.wgsl.
// Layout: limb-major. ys holds the s source limbs (coefficient domain) and,
// for the centered variant, one more limb for the overflow counts v.
// Steps (one launch each):
//   conv_prep     ys[i] = [ys[i] · (Q/p_i)^-1]_{p_i}                   (Shoup)
//   conv_overflow ys[s] = round(Σ_i ys[i] / p_i), computed exactly as the CPU's
//                 f64 loop, see below
//   conv_apply    out[t] = Σ_i ys[i] · [Q/p_i]_{m_t} (− ys[s]·[Q]_{m_t} if h.op = 1)
// In/out: [0, q).
// tab (one source set; words of src/backend/device_tables.rs): pairs
//   (x, Shoup(x)): (Q/p_i)^-1 mod p_i at 2i; for every global prime t, at
//   2s + 2t(s+1): (Q/p_i) mod m_t for i < s, then Q mod m_t.
// Header args: arg[0] s = number of sources. The header's limb map names
// the source primes (conv_prep, conv_overflow) or the target primes (conv_apply).
// Launch: block BX_WG, one thread per coefficient; grid (⌈N / BX_WG⌉, limbs)
// with one limb for conv_overflow.
//
// Why conv_overflow equals the CPU bit for bit: the CPU computes, per
// coefficient, f = 0.0; f += f64(y_i) * (1.0 / f64(p_i)) for i = 0, 1, ...;
// v = f.round() as u32, each * and + rounded to nearest-even (Rust never
// fuses or reorders them). CUDA doubles are IEEE binary64: __dmul_rn and
// __dadd_rn are exactly those roundings and are never contracted into an
// FMA (the launcher also passes --fmad=false); 1.0 / f64(p_i) is rebuilt
// exactly from the host's bits in cst (mantissa · 2^exponent, both exact),
// and round() rounds half away from zero as Rust's f64::round. Equal
// operations on equal inputs give equal results, so v is the CPU's v for
// every input, including coefficients whose Σ y_i/p_i lies within f64
// rounding error of a half-integer.

#define BX_WG 256u

extern "C" __global__ void conv_prep(Header h, const u32* cst, const u32* tab, u32* ys) {
    u32 c;
    if (!coefficient(h, BX_WG, &c)) return;
    const u32 i = h.limb_start + blockIdx.y;
    const u32 p = modulus(cst, prime_of(h, i));
    const u64 k = (u64)i * h.n + c;
    ys[k] = mul_shoup(ys[k], tab[2u * i], tab[2u * i + 1u], p);
}

extern "C" __global__ void conv_apply(Header h, const u32* cst, const u32* tab, const u32* ys, u32* out) {
    u32 c;
    if (!coefficient(h, BX_WG, &c)) return;
    const u32 s = h.arg[0];
    const u32 limb = h.limb_start + blockIdx.y;
    const u32 t = prime_of(h, limb);
    const u32 m = modulus(cst, t);
    const u32 row = 2u * s + 2u * t * (s + 1u);
    u32 acc = 0u;
    for (u32 i = 0; i < s; i++) {
        acc = add_mod(acc, mul_shoup(ys[(u64)i * h.n + c], tab[row + 2u * i], tab[row + 2u * i + 1u], m), m);
    }
    if (h.op == 1u) {
        acc = sub_mod(acc, mul_shoup(ys[(u64)s * h.n + c], tab[row + 2u * s], tab[row + 2u * s + 1u], m), m);
    }
    out[(u64)limb * h.n + c] = acc;
}

extern "C" __global__ void conv_overflow(Header h, const u32* cst, u32* ys) {
    u32 c;
    if (!coefficient(h, BX_WG, &c)) return;
    const u32 s = h.arg[0];
    double f = 0.0;
    for (u32 i = 0; i < s; i++) {
        const u32 g = prime_of(h, i);
        const u64 mantissa = ((u64)cst[g * CST_STRIDE + 6u] << 32) | cst[g * CST_STRIDE + 5u];
        const double inv = ldexp((double)mantissa, (int)cst[g * CST_STRIDE + 7u]);
        f = __dadd_rn(f, __dmul_rn((double)ys[(u64)i * h.n + c], inv));
    }
    // f.round() as u32: half away from zero, saturating (f ≥ 0 here).
    const double r = round(f);
    ys[(u64)s * h.n + c] = r >= 4294967295.0 ? 0xFFFFFFFFu : (u32)r;
}
