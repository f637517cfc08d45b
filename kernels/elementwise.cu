// elementwise.cu — coefficient-wise limb arithmetic, u32 limbs.
// Layout: limb-major, x[limb · N + i]; the header maps limbs to primes.
// In/out: [0, q). CPU twin: src/math/limb_ops.rs; results are the unique
// residues, so bit-exact. WGSL twin: shaders/elementwise.wgsl.
// Per-limb data: (c, Shoup(c)) at data[2 · (limb − limb_start)].
// Launch: block EW_WG, one thread per coefficient; grid (⌈N / EW_WG⌉, limbs, items).

#define EW_WG 256u

// out = x op y (operands out, x, y; out may be x); h.op: 0 add, 1 sub, 2 mul.
extern "C" __global__ void binary(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, EW_WG, &c)) return;
    u32* out = (u32*)operand(h, ops, 3u, 0u);
    const u32* x = (const u32*)operand(h, ops, 3u, 1u);
    const u32* y = (const u32*)operand(h, ops, 3u, 2u);
    const u32 limb = h.limb_start + block_row(h);
    const u32 g = prime_of(h, limb);
    const u32 q = modulus(cst, g);
    const u64 i = (u64)limb * h.n + c;
    const u32 a = x[i], b = y[i];
    switch (h.op) {
        case 0u: out[i] = add_mod(a, b, q); break;
        case 1u: out[i] = sub_mod(a, b, q); break;
        default: out[i] = mul_mod(cst, g, a, b); break;
    }
}

// out = op(x) (operands out, x, data; out may be x); h.op: 0 negate, 1 add
// c, 2 multiply by c (Shoup).
extern "C" __global__ void unary(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, EW_WG, &c)) return;
    u32* out = (u32*)operand(h, ops, 3u, 0u);
    const u32* x = (const u32*)operand(h, ops, 3u, 1u);
    const u32* data = (const u32*)operand(h, ops, 3u, 2u);
    const u32 row = block_row(h), limb = h.limb_start + row;
    const u32 q = modulus(cst, prime_of(h, limb));
    const u64 i = (u64)limb * h.n + c;
    const u32 a = x[i];
    switch (h.op) {
        case 0u: out[i] = a == 0u ? 0u : q - a; break;
        case 1u: out[i] = add_mod(a, data[2u * row], q); break;
        default: out[i] = mul_shoup(a, data[2u * row], data[2u * row + 1u], q); break;
    }
}

// x = x + y·w with per-limb (w, Shoup(w)) (operands x, y, data): a scaled
// polynomial added (CPU: limb_ops::add_mul_scalar_assign). The WGSL twin
// also does x = (x − y)·w, the last step of rescale and ModDown, which here
// runs inside the forward NTT before it (ntt_forward_sub_mul, ntt.cu).
extern "C" __global__ void scaled(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, EW_WG, &c)) return;
    u32* x = (u32*)operand(h, ops, 3u, 0u);
    const u32* y = (const u32*)operand(h, ops, 3u, 1u);
    const u32* data = (const u32*)operand(h, ops, 3u, 2u);
    const u32 row = block_row(h), limb = h.limb_start + row;
    const u32 q = modulus(cst, prime_of(h, limb));
    const u64 i = (u64)limb * h.n + c;
    const u32 w = data[2u * row], ws = data[2u * row + 1u];
    x[i] = add_mod(x[i], mul_shoup(y[i], w, ws, q), q);
}

// dst limbs arg[1] + y = src limbs arg[0] + y for y < limb_count (operands
// dst, src; no arithmetic, any primes).
extern "C" __global__ void copy_limbs(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, EW_WG, &c)) return;
    u32* dst = (u32*)operand(h, ops, 2u, 0u);
    const u32* src = (const u32*)operand(h, ops, 2u, 1u);
    const u32 row = block_row(h);
    dst[(u64)(h.arg[1] + row) * h.n + c] = src[(u64)(h.arg[0] + row) * h.n + c];
}

// x = [c]_q in every limb the header covers, from N signed coefficients
// c (two's complement, as (low, high) u32 pairs; operands x, coeffs): the
// residues of an encoded polynomial, reduced here instead of on the host
// so that N 8-byte words cross the bus instead of a 4-byte word per
// coefficient and limb. CPU twin: reduce_signed in src/math/limb_ops.rs.
extern "C" __global__ void reduce_signed(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, EW_WG, &c)) return;
    u32* x = (u32*)operand(h, ops, 2u, 0u);
    const u32* coeffs = (const u32*)operand(h, ops, 2u, 1u);
    const u32 limb = h.limb_start + block_row(h);
    const u32 q = modulus(cst, prime_of(h, limb));
    const u64 v = ((u64)coeffs[2u * c + 1u] << 32) | coeffs[2u * c];
    const bool negative = (v >> 63) != 0u;
    // |c| (2^63 for the most negative c, in u64 arithmetic).
    const u32 r = (u32)((negative ? 0ull - v : v) % q);
    x[(u64)limb * h.n + c] = negative && r != 0u ? q - r : r;
}
