// tensor.cu — tensor product of two degree-1 ciphertexts (NTT domain).
// Layout: limb-major, all seven buffers (operands a0, a1, b0, b1, d0, d1, d2)
// of one basis. In/out: [0, q).
// out = (a0·b0, a0·b1 + a1·b0, a1·b1) mod q (CPU twin: limb_ops::tensor;
// WGSL twin: shaders/tensor.wgsl).
// tensor_mod_up fuses the product with the first step of ModUp (ModUp of
// d2, basis_ext.cu): a launch covers the limbs of one digit of d2, and d2
// is written where ModUp would copy it, not to a buffer of its own. Its 8
// operands: a0, a1, b0, b1, d0, d1, coef (the digit's limbs from 0; arg[0]
// = the digit's first limb), out (the extended digit, whose Q limbs sit at
// the source's indices). The same words as tensor then ModUp's copies (CPU
// twin: Backend::tensor_mod_up's default; no WGSL twin, wgpu runs the two).
// Launch: block TS_WG, one thread per coefficient; grid (⌈N / TS_WG⌉, limbs, items).

#define TS_WG 256u

struct Products {
    u32 d0, d1, d2;
};

// The three products of one coefficient of the limb of global prime g.
__device__ __forceinline__ Products products(const u32* cst, u32 g, u32 x0, u32 x1, u32 y0, u32 y1) {
    const u32 q = modulus(cst, g);
    return {mul_mod(cst, g, x0, y0), add_mod(mul_mod(cst, g, x0, y1), mul_mod(cst, g, x1, y0), q),
            mul_mod(cst, g, x1, y1)};
}

extern "C" __global__ void tensor(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, TS_WG, &c)) return;
    const u32* a0 = (const u32*)operand(ops, 7u, 0u);
    const u32* a1 = (const u32*)operand(ops, 7u, 1u);
    const u32* b0 = (const u32*)operand(ops, 7u, 2u);
    const u32* b1 = (const u32*)operand(ops, 7u, 3u);
    u32* d0 = (u32*)operand(ops, 7u, 4u);
    u32* d1 = (u32*)operand(ops, 7u, 5u);
    u32* d2 = (u32*)operand(ops, 7u, 6u);
    const u32 limb = h.limb_start + blockIdx.y;
    const u64 i = (u64)limb * h.n + c;
    const Products d = products(cst, prime_of(h, limb), a0[i], a1[i], b0[i], b1[i]);
    d0[i] = d.d0;
    d1[i] = d.d1;
    d2[i] = d.d2;
}

extern "C" __global__ void tensor_mod_up(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, TS_WG, &c)) return;
    const u32* a0 = (const u32*)operand(ops, 8u, 0u);
    const u32* a1 = (const u32*)operand(ops, 8u, 1u);
    const u32* b0 = (const u32*)operand(ops, 8u, 2u);
    const u32* b1 = (const u32*)operand(ops, 8u, 3u);
    u32* d0 = (u32*)operand(ops, 8u, 4u);
    u32* d1 = (u32*)operand(ops, 8u, 5u);
    u32* coef = (u32*)operand(ops, 8u, 6u);
    u32* out = (u32*)operand(ops, 8u, 7u);
    const u32 limb = h.limb_start + blockIdx.y;
    const u64 i = (u64)limb * h.n + c;
    const Products d = products(cst, prime_of(h, limb), a0[i], a1[i], b0[i], b1[i]);
    d0[i] = d.d0;
    d1[i] = d.d1;
    coef[(u64)(limb - h.arg[0]) * h.n + c] = d.d2;
    out[i] = d.d2;
}
