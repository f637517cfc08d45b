// basis_ext.wgsl — fast RNS basis conversion (ModUp) and its exact centered
// variant (ModDown). CPU twin: BasisConverter::convert / convert_centered in
// src/math/rns.rs, bit-exact.
// Layout: limb-major. ys holds the s source limbs (coefficient domain) and,
// for the centered variant, one more limb for the overflow counts v.
// Steps (one dispatch each):
//   conv_prep     ys[i] = [ys[i] · (Q/p_i)^-1]_{p_i}                   (Shoup)
//   conv_overflow ys[s] = round(Σ_i ys[i] / p_i), computed exactly as the CPU's
//                 f64 loop, see below
//   conv_apply    out[t] = Σ_i ys[i] · [Q/p_i]_{m_t} (− ys[s]·[Q]_{m_t} if H_OP = 1)
// In/out: [0, q).
// Bindings (besides prm, cst from modarith.wgsl):
//   @binding(2) tab: storage read, array<u32> — for one source set: pairs
//     (x, Shoup(x)): (Q/p_i)^-1 mod p_i at 2i; for every global prime t, at
//     2s + 2t(s+1): (Q/p_i) mod m_t for i < s, then Q mod m_t.
//   @binding(3) ys: storage read_write, array<u32> — sources (+ overflow limb)
//   @binding(4) out: storage read_write, array<u32> — targets
// Header args: H_ARG+0 s = number of sources. The header's limb map names
// the source primes (conv_prep, conv_overflow) or the target primes (conv_apply).
// Launch: workgroup BX_WG, one invocation per coefficient; grid
// (⌈N / BX_WG⌉, limbs, items) with one limb for conv_overflow.
//
// Why conv_overflow equals the CPU bit for bit: the CPU computes, per
// coefficient, f = 0.0; f += f64(y_i) * (1.0 / f64(p_i)) for i = 0, 1, ...;
// v = f.round() as u32, each * and + rounded to nearest-even (Rust never
// fuses or reorders them). WGSL has no f64, so this file emulates exactly
// those IEEE-754 binary64 operations on integers: the host uploads the
// bits of 1.0 / f64(p_i) (cst), the product y·M (≤ 85 bits) and the aligned
// sum (≤ 108 bits) are formed exactly in 128-bit integers and rounded to 53
// bits with round-to-nearest-even, the same function IEEE defines. Only
// non-negative normal numbers and zero occur (y < 2^30, 1/p_i ≥ 2^-30,
// sums < s), so no subnormal, infinity or NaN handling is needed. Equal
// operations on equal inputs give equal results, so v is the CPU's v for
// every input, including the rare coefficients whose exact Σ y_i/p_i lies
// within f64 rounding error of a half-integer.

const BX_WG: u32 = 256u;

@group(0) @binding(2) var<storage, read> tab: array<u32>;
@group(0) @binding(3) var<storage, read_write> ys: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(BX_WG)
fn conv_prep(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let c = wid.x * BX_WG + lid;
    if (c >= n) {
        return;
    }
    let i = pu(H_LIMB_START) + wid.y;
    let p = modulus(prime_of(i));
    ys[item_base(wid.z, 3u) + i * n + c] = mul_shoup(ys[item_base(wid.z, 3u) + i * n + c], tab[item_base(wid.z, 2u) + 2u * i], tab[item_base(wid.z, 2u) + 2u * i + 1u], p);
}

@compute @workgroup_size(BX_WG)
fn conv_apply(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let c = wid.x * BX_WG + lid;
    if (c >= n) {
        return;
    }
    let s = pu(H_ARG);
    let limb = pu(H_LIMB_START) + wid.y;
    let t = prime_of(limb);
    let m = modulus(t);
    let row = 2u * s + 2u * t * (s + 1u);
    var acc = 0u;
    for (var i = 0u; i < s; i++) {
        acc = add_mod(acc, mul_shoup(ys[item_base(wid.z, 3u) + i * n + c], tab[item_base(wid.z, 2u) + row + 2u * i], tab[item_base(wid.z, 2u) + row + 2u * i + 1u], m), m);
    }
    if (pu(H_OP) == 1u) {
        acc = sub_mod(acc, mul_shoup(ys[item_base(wid.z, 3u) + s * n + c], tab[item_base(wid.z, 2u) + row + 2u * s], tab[item_base(wid.z, 2u) + row + 2u * s + 1u], m), m);
    }
    out[item_base(wid.z, 4u) + limb * n + c] = acc;
}

// ---- exact binary64 emulation for conv_overflow --------------------------

// A non-negative binary64 value mant·2^e; mant = (lo, hi) is 0 or in [2^52, 2^53).
struct F64 {
    lo: u32,
    hi: u32,
    e: i32,
}

// Bit length of a 128-bit integer (little-endian words).
fn bitlen128(v: vec4<u32>) -> u32 {
    for (var w = 3i; w >= 0i; w--) {
        if (v[w] != 0u) {
            return u32(w) * 32u + 32u - countLeadingZeros(v[w]);
        }
    }
    return 0u;
}

fn shr128(v: vec4<u32>, s: u32) -> vec4<u32> {
    var r = vec4<u32>(0u);
    let ws = s >> 5u;
    let bs = s & 31u;
    for (var i = 0u; i + ws < 4u; i++) {
        var w = v[i + ws] >> bs;
        if (bs != 0u && i + ws + 1u < 4u) {
            w |= v[i + ws + 1u] << (32u - bs);
        }
        r[i] = w;
    }
    return r;
}

fn shl128(v: vec4<u32>, s: u32) -> vec4<u32> {
    var r = vec4<u32>(0u);
    let ws = s >> 5u;
    let bs = s & 31u;
    for (var i = ws; i < 4u; i++) {
        var w = v[i - ws] << bs;
        if (bs != 0u && i > ws) {
            w |= v[i - ws - 1u] >> (32u - bs);
        }
        r[i] = w;
    }
    return r;
}

fn add128(a: vec4<u32>, b: vec4<u32>) -> vec4<u32> {
    var r = vec4<u32>(0u);
    var carry = 0u;
    for (var i = 0u; i < 4u; i++) {
        let s = a[i] + b[i];
        let c1 = select(0u, 1u, s < a[i]);
        r[i] = s + carry;
        carry = c1 + select(0u, 1u, r[i] < s);
    }
    return r;
}

// Whether any of the lowest `count` bits of v is set.
fn low_bits_set(v: vec4<u32>, count: u32) -> bool {
    for (var i = 0u; i < 4u; i++) {
        let lo = i * 32u;
        if (count <= lo) {
            return false;
        }
        let take = min(count - lo, 32u);
        let mask = select((1u << take) - 1u, 0xFFFFFFFFu, take == 32u);
        if ((v[i] & mask) != 0u) {
            return true;
        }
    }
    return false;
}

// The binary64 nearest to v·2^e (ties to even): IEEE rounding of an exact result.
fn round53(v: vec4<u32>, e: i32) -> F64 {
    let len = bitlen128(v);
    if (len == 0u) {
        return F64(0u, 0u, 0i);
    }
    if (len <= 53u) {
        let m = shl128(v, 53u - len);
        return F64(m.x, m.y, e - i32(53u - len));
    }
    let s = len - 53u;
    let m = shr128(v, s);
    var lo = m.x;
    var hi = m.y;
    let guard = (v[(s - 1u) >> 5u] >> ((s - 1u) & 31u)) & 1u;
    if (guard == 1u && (low_bits_set(v, s - 1u) || (lo & 1u) == 1u)) {
        lo += 1u;
        if (lo == 0u) {
            hi += 1u;
        }
        if (hi == (1u << 21u)) {
            // mantissa overflowed to 2^53
            return F64(0u, 1u << 20u, e + i32(s) + 1i);
        }
    }
    return F64(lo, hi, e + i32(s));
}

// f64(y) * a, rounded as IEEE multiplication.
fn f64_mul_u32(y: u32, a: F64) -> F64 {
    let p0 = mul_wide(y, a.lo);
    let p1 = mul_wide(y, a.hi);
    let w1 = p0.y + p1.x;
    let carry = select(0u, 1u, w1 < p0.y);
    return round53(vec4<u32>(p0.x, w1, p1.y + carry, 0u), a.e);
}

// a + b for non-negative a, b, rounded as IEEE addition.
fn f64_add(a: F64, b: F64) -> F64 {
    if (a.hi == 0u) {
        return b;
    }
    if (b.hi == 0u) {
        return a;
    }
    var big = a;
    var small = b;
    if (b.e > a.e) {
        big = b;
        small = a;
    }
    let d = u32(big.e - small.e);
    // For d ≥ 55 the smaller operand (< 2^53 units of 2^small.e) is below
    // half an ulp of the larger (2^(d−1) units), so the sum rounds to `big`.
    if (d >= 55u) {
        return big;
    }
    let v = add128(shl128(vec4<u32>(big.lo, big.hi, 0u, 0u), d), vec4<u32>(small.lo, small.hi, 0u, 0u));
    return round53(v, small.e);
}

// f.round() as u32: round half away from zero, saturating.
fn f64_round_u32(a: F64) -> u32 {
    if (a.hi == 0u) {
        return 0u;
    }
    if (a.e >= 0i) {
        return 0xFFFFFFFFu;
    }
    let s = u32(-a.e);
    if (s > 53u) {
        return 0u; // a < 2^53 · 2^-54 = 1/2
    }
    let m = vec4<u32>(a.lo, a.hi, 0u, 0u);
    let whole = shr128(m, s);
    let half = (m[(s - 1u) >> 5u] >> ((s - 1u) & 31u)) & 1u;
    if (whole.y != 0u || (whole.x == 0xFFFFFFFFu && half == 1u)) {
        return 0xFFFFFFFFu;
    }
    return whole.x + half;
}

@compute @workgroup_size(BX_WG)
fn conv_overflow(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let c = wid.x * BX_WG + lid;
    if (c >= n) {
        return;
    }
    let s = pu(H_ARG);
    var f = F64(0u, 0u, 0i);
    for (var i = 0u; i < s; i++) {
        let g = prime_of(i);
        let inv = F64(cst[g * CST_STRIDE + 5u], cst[g * CST_STRIDE + 6u], bitcast<i32>(cst[g * CST_STRIDE + 7u]));
        f = f64_add(f, f64_mul_u32(ys[item_base(wid.z, 3u) + i * n + c], inv));
    }
    ys[item_base(wid.z, 3u) + s * n + c] = f64_round_u32(f);
}
