// rescale.cu — centered lift of the dropped limb into the remaining primes.
// Layout: limb-major; operands x, y. In: y = the polynomial, whose limb arg[0] (`last`, a
// Q prime) holds coefficients (after an inverse NTT). Out: x[i] =
// [centered(y[last])]_{q_i} for the limbs i the header covers (coefficient
// domain; the launcher then runs the forward NTT and `scaled`). CPU twin:
// CpuBackend::rescale; WGSL twin: shaders/rescale.wgsl. Values in [0, q).
// Launch: block RS_WG, one thread per coefficient; grid (⌈N / RS_WG⌉, limbs, items).

#define RS_WG 256u

extern "C" __global__ void rescale_lift(Header h, const u32* cst, const Operands ops) {
    u32 c;
    if (!coefficient(h, RS_WG, &c)) return;
    u32* x = (u32*)operand(h, ops, 2u, 0u);
    const u32* y = (const u32*)operand(h, ops, 2u, 1u);
    const u32 last = h.arg[0];
    const u32 q_last = modulus(cst, last);
    const u32 limb = h.limb_start + block_row(h);
    const u32 q = modulus(cst, prime_of(h, limb));
    const u32 top = y[(u64)last * h.n + c];
    const u32 reduced = top % q;
    // top > q_last/2 stands for top − q_last.
    x[(u64)limb * h.n + c] = top > q_last / 2u ? sub_mod(reduced, q_last % q, q) : reduced;
}
