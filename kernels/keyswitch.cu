// keyswitch.cu — the key-switching inner product, up to KS_DIGITS digits per
// launch: (ob, oa) = Σ_j (d_j·kb_j, d_j·ka_j), written when arg[1] = 1 (the
// first launch of a product), else added to (ob, oa) — one read of every
// digit and key limb and one write of the outputs, instead of a
// read-modify-write of the outputs per digit.
// Layout: limb-major. Operands per item: ob, oa, then (d_j, kb_j, ka_j) for
// j < KS_DIGITS (unused slots beyond arg[3] digits are 0), then e0, e1, data
// (see KS_ADD below; 0 otherwise). Each digit d_j
// has basis {h.qcount, p}; the key polynomials kb_j and ka_j {arg[0], resp.
// arg[2] Q limbs, p}: digit limb k < h.qcount reads key limb k, a P limb k
// reads key limb (Q limbs) + k − h.qcount.
// In/out: [0, q). The sum is taken in 64 bits and reduced once (a lazy sum,
// modarith.cuh); its residue is unique, so the words equal the CPU's
// (CpuBackend::key_switch_inner) and the one-digit-per-launch order's. WGSL twin:
// shaders/keyswitch.wgsl (one digit per dispatch).
// Header args: arg[0] key Q limbs of kb, arg[1] first, arg[2] key Q limbs of
// ka, arg[3] digits in this launch (1..KS_DIGITS).
// h.op bit 0 (KS_ADD) on a first launch: the sums start from (w·e0, w·e1) on
// the Q limbs instead of 0, for the addend operands e0, e1 (basis
// {h.qcount, 0}) and data (per-limb (w, Shoup(w)) pairs) after the digit
// slots — the add_scaled of the fused relinearize-rescale, which otherwise
// reads and writes the outputs once more (CPU twin: the default
// Backend::key_switch_inner_add, inner product then add_scaled; the
// residues are unique, so the words agree).
// Launch: block KS_WG, one thread per coefficient; grid (⌈N / KS_WG⌉, items,
// limbs) with h.items_inner = 1: the items of a batch read the same key limbs.

#define KS_WG 256u
#define KS_DIGITS 4u
static_assert(KS_DIGITS < LAZY_TERMS, "a start value and KS_DIGITS products fit a u64");

extern "C" __global__ void key_switch_inner(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, KS_WG, &c)) return;
    const u32 limb = h.limb_start + block_row(h);
    const u32 g = prime_of(h, limb);
    const u32 q = modulus(cst, g);
    const u32 qd = h.qcount;
    const u64 i = (u64)limb * h.n + c;
    const u64 jb = (u64)(limb < qd ? limb : h.arg[0] + limb - qd) * h.n + c;
    const u64 ja = (u64)(limb < qd ? limb : h.arg[2] + limb - qd) * h.n + c;
    u32* ob = (u32*)operand(h, ops, 17u, 0u);
    u32* oa = (u32*)operand(h, ops, 17u, 1u);
    // Lazy sums (see modarith.cuh): the start value and up to KS_DIGITS
    // products in 64 bits, one reduction per output.
    u64 sb = 0u, sa = 0u;
    if (h.arg[1] == 0u) {
        sb = ob[i];
        sa = oa[i];
    } else if ((h.op & 1u) != 0u && limb < qd) {
        const u32* e0 = (const u32*)operand(h, ops, 17u, 2u + 3u * KS_DIGITS);
        const u32* e1 = (const u32*)operand(h, ops, 17u, 3u + 3u * KS_DIGITS);
        const u32* data = (const u32*)operand(h, ops, 17u, 4u + 3u * KS_DIGITS);
        const u32 w = data[2u * limb], ws = data[2u * limb + 1u];
        sb = mul_shoup(e0[i], w, ws, q);
        sa = mul_shoup(e1[i], w, ws, q);
    }
    for (u32 j = 0; j < h.arg[3]; j++) {
        const u32* d = (const u32*)operand(h, ops, 17u, 2u + 3u * j);
        const u32* kb = (const u32*)operand(h, ops, 17u, 3u + 3u * j);
        const u32* ka = (const u32*)operand(h, ops, 17u, 4u + 3u * j);
        const u64 dv = d[i];
        sb += dv * kb[jb];
        sa += dv * ka[ja];
    }
    ob[i] = reduce_u64(cst, g, sb);
    oa[i] = reduce_u64(cst, g, sa);
}
