// keyswitch.cu — one digit of the key-switching inner product.
// Layout: limb-major; operands d, kb, ka, ob, oa. The digit d has basis {h.qcount, p}; the key
// polynomials kb and ka {arg[0], resp. arg[2] Q limbs, p}: digit limb k <
// h.qcount reads key limb k, a P limb k reads key limb (Q limbs) + k − h.qcount.
// In/out: [0, q). (ob, oa) = (d·kb, d·ka) when arg[1] = 1 (first digit),
// else += (mod q). CPU twin: CpuBackend::key_switch_inner (same residues);
// WGSL twin: shaders/keyswitch.wgsl.
// Launch: block KS_WG, one thread per coefficient; grid (⌈N / KS_WG⌉, limbs, items).

#define KS_WG 256u

extern "C" __global__ void key_switch_digit(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, KS_WG, &c)) return;
    const u32* d = (const u32*)operand(ops, 5u, 0u);
    const u32* kb = (const u32*)operand(ops, 5u, 1u);
    const u32* ka = (const u32*)operand(ops, 5u, 2u);
    u32* ob = (u32*)operand(ops, 5u, 3u);
    u32* oa = (u32*)operand(ops, 5u, 4u);
    const u32 limb = h.limb_start + blockIdx.y;
    const u32 g = prime_of(h, limb);
    const u32 q = modulus(cst, g);
    const u32 qd = h.qcount;
    const u64 i = (u64)limb * h.n + c;
    const u64 jb = (u64)(limb < qd ? limb : h.arg[0] + limb - qd) * h.n + c;
    const u64 ja = (u64)(limb < qd ? limb : h.arg[2] + limb - qd) * h.n + c;
    const u32 dv = d[i];
    u32 pb = mul_mod(cst, g, dv, kb[jb]);
    u32 pa = mul_mod(cst, g, dv, ka[ja]);
    if (h.arg[1] == 0u) {
        pb = add_mod(pb, ob[i], q);
        pa = add_mod(pa, oa[i], q);
    }
    ob[i] = pb;
    oa[i] = pa;
}
