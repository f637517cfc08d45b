// tensor.cu — tensor product of two degree-1 ciphertexts (NTT domain).
// Operands per item: a0, a1, b0, b1, d0, d1, d2, out. Layout: limb-major,
// one basis. In/out: [0, q).
// (d0, d1, d2) = (a0·b0, a0·b1 + a1·b0, a1·b1) mod q (CPU twin:
// limb_ops::tensor; WGSL twin: shaders/tensor.wgsl, without op).
// h.op = 1 (TENSOR_MOD_UP) fuses the product with the first step of ModUp
// (ModUp of d2, basis_ext.cu): a launch covers the limbs of one digit of
// d2, and d2 is written where ModUp would copy it instead of to a buffer of
// its own: into out, the digit's extended output, at the source's indices
// (d2 is not written; ModUp's inverse NTT reads the limbs from out). The
// same words as the product then ModUp's copy (CPU twin:
// Backend::tensor_mod_up's default; wgpu runs the two).
// Launch: block TS_WG, one thread per coefficient; grid (⌈N / TS_WG⌉, limbs, items).

#define TS_WG 256u

extern "C" __global__ void tensor(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, TS_WG, &c)) return;
    const u32* a0 = (const u32*)operand(h, ops, 8u, 0u);
    const u32* a1 = (const u32*)operand(h, ops, 8u, 1u);
    const u32* b0 = (const u32*)operand(h, ops, 8u, 2u);
    const u32* b1 = (const u32*)operand(h, ops, 8u, 3u);
    u32* d0 = (u32*)operand(h, ops, 8u, 4u);
    u32* d1 = (u32*)operand(h, ops, 8u, 5u);
    u32* d2 = (u32*)operand(h, ops, 8u, 6u);
    u32* out = (u32*)operand(h, ops, 8u, 7u);
    const u32 limb = h.limb_start + block_row(h);
    const u32 g = prime_of(h, limb);
    const u64 i = (u64)limb * h.n + c;
    const u32 x0 = a0[i], x1 = a1[i], y0 = b0[i], y1 = b1[i];
    d0[i] = mul_mod(cst, g, x0, y0);
    d1[i] = reduce_u64(cst, g, (u64)x0 * y1 + (u64)x1 * y0); // a lazy sum (modarith.cuh)
    const u32 v = mul_mod(cst, g, x1, y1);
    (h.op == 1u ? out : d2)[i] = v;
}
