// rescale.wgsl — centered lift of the dropped limb into the remaining primes.
// Layout: limb-major. In: y = the polynomial, whose limb H_ARG+0 (`last`, a
// Q prime) holds coefficients (after an inverse NTT). Out: x[i] =
// [centered(y[last])]_{q_i} for the limbs i the header covers (coefficient
// domain; the launcher then runs the forward NTT and `scaled`). CPU twin:
// CpuBackend::rescale. Values in [0, q).
// Bindings (besides prm, cst from modarith.wgsl):
//   @binding(2) x: storage read_write, array<u32> — scratch, one limb per target
//   @binding(3) y: storage read, array<u32> — the polynomial
// Launch: workgroup RS_WG, one invocation per coefficient; grid (⌈N / RS_WG⌉, limbs, items).

const RS_WG: u32 = 256u;

@group(0) @binding(2) var<storage, read_write> x: array<u32>;
@group(0) @binding(3) var<storage, read> y: array<u32>;

@compute @workgroup_size(RS_WG)
fn rescale_lift(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let c = wid.x * RS_WG + lid;
    if (c >= n) {
        return;
    }
    let last = pu(H_ARG);
    let q_last = modulus(last);
    let limb = pu(H_LIMB_START) + wid.y;
    let q = modulus(prime_of(limb));
    let top = y[item_base(wid.z, 3u) + last * n + c];
    let reduced = top % q;
    // top > q_last/2 stands for top − q_last.
    x[item_base(wid.z, 2u) + limb * n + c] = select(reduced, sub_mod(reduced, q_last % q, q), top > q_last / 2u);
}
