// automorphism.wgsl — X → X^g on NTT-domain limbs: a permutation of slots.
// Layout: limb-major; slot i holds a(ψ^(2·bitrev(i)+1)), so
// out[i] = in[bitrev(((2·bitrev(i)+1)·g mod 2N − 1) / 2)] (CPU twin:
// ntt_automorphism_permutation in src/backend/cpu.rs). The product is taken
// mod 2^32 and masked: 2N divides 2^32, so no 64-bit arithmetic is needed.
// Bindings (besides prm from modarith.wgsl; cst is unused):
//   @binding(2) x: storage read_write, array<u32> — output
//   @binding(3) y: storage read, array<u32> — input
// Header args: H_ARG+0 Galois element g (odd, < 2N).
// Launch: workgroup AUT_WG, one invocation per output slot; grid (⌈N / AUT_WG⌉, limbs, items).

const AUT_WG: u32 = 256u;

@group(0) @binding(2) var<storage, read_write> x: array<u32>;
@group(0) @binding(3) var<storage, read> y: array<u32>;

@compute @workgroup_size(AUT_WG)
fn automorphism(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let i = wid.x * AUT_WG + lid;
    if (i >= n) {
        return;
    }
    let unused = 32u - pu(H_LOG_N);
    let limb = pu(H_LIMB_START) + wid.y;
    let e = ((2u * (reverseBits(i) >> unused) + 1u) * pu(H_ARG)) & (2u * n - 1u);
    let j = reverseBits((e - 1u) >> 1u) >> unused;
    x[item_base(wid.z, 2u) + limb * n + i] = y[item_base(wid.z, 3u) + limb * n + j];
}
