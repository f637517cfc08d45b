// automorphism.cu — X → X^g on NTT-domain limbs: a permutation of slots.
// Layout: limb-major; slot i holds a(ψ^(2·bitrev(i)+1)), so
// out[i] = in[bitrev(((2·bitrev(i)+1)·g mod 2N − 1) / 2)] (CPU twin:
// ntt_automorphism_permutation in src/backend/cpu.rs; WGSL twin:
// shaders/automorphism.wgsl). The product is taken mod 2^32 and masked: 2N
// divides 2^32. Operands: x output, y input, and the Galois element g (odd,
// < 2N) as a plain value, so one launch serves items of different rotations.
// h.op = AUT_ADD: x += the permuted y mod the limb's prime instead (a
// rotation's σ(c0) added to its switched k0 without writing σ(c0) out).
// Launch: block AUT_WG, one thread per output slot; grid (⌈N / AUT_WG⌉, limbs, items).

#define AUT_WG 256u
#define AUT_ADD 1u

extern "C" __global__ void automorphism(Header h, const u32* cst, const Operands ops) {
    u32 i;
    if (!coefficient(h, AUT_WG, &i)) return;
    u32* x = (u32*)operand(h, ops, 3u, 0u);
    const u32* y = (const u32*)operand(h, ops, 3u, 1u);
    const u32 galois = (u32)operand(h, ops, 3u, 2u);
    const u32 unused = 32u - h.log_n;
    const u64 limb = h.limb_start + block_row(h);
    const u32 e = ((2u * (__brev(i) >> unused) + 1u) * galois) & (2u * h.n - 1u);
    const u32 j = __brev((e - 1u) >> 1u) >> unused;
    const u32 v = y[limb * h.n + j];
    u32& out = x[limb * h.n + i];
    out = h.op == AUT_ADD ? add_mod(out, v, modulus(cst, prime_of(h, (u32)limb))) : v;
}
