// tensor.cu — tensor product of two degree-1 ciphertexts (NTT domain).
// Layout: limb-major, all seven buffers (operands a0, a1, b0, b1, d0, d1, d2)
// of one basis. In/out: [0, q).
// out = (a0·b0, a0·b1 + a1·b0, a1·b1) mod q (CPU twin: limb_ops::tensor;
// WGSL twin: shaders/tensor.wgsl).
// Launch: block TS_WG, one thread per coefficient; grid (⌈N / TS_WG⌉, limbs, items).

#define TS_WG 256u

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
    const u32 g = prime_of(h, limb);
    const u32 q = modulus(cst, g);
    const u64 i = (u64)limb * h.n + c;
    const u32 x0 = a0[i], x1 = a1[i], y0 = b0[i], y1 = b1[i];
    d0[i] = mul_mod(cst, g, x0, y0);
    d1[i] = add_mod(mul_mod(cst, g, x0, y1), mul_mod(cst, g, x1, y0), q);
    d2[i] = mul_mod(cst, g, x1, y1);
}
