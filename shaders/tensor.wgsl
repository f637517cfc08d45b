// tensor.wgsl — tensor product of two degree-1 ciphertexts (NTT domain).
// Layout: limb-major, all seven buffers of one basis. In/out: [0, q).
// out = (a0·b0, a0·b1 + a1·b0, a1·b1) mod q (CPU twin: limb_ops::tensor).
// Bindings (besides prm, cst from modarith.wgsl):
//   @binding(2..5) a0, a1, b0, b1: storage read, array<u32>
//   @binding(6..8) d0, d1, d2: storage read_write, array<u32>
// Launch: workgroup TS_WG, one invocation per coefficient; grid (⌈N / TS_WG⌉, limbs, items).

const TS_WG: u32 = 256u;

@group(0) @binding(2) var<storage, read> a0: array<u32>;
@group(0) @binding(3) var<storage, read> a1: array<u32>;
@group(0) @binding(4) var<storage, read> b0: array<u32>;
@group(0) @binding(5) var<storage, read> b1: array<u32>;
@group(0) @binding(6) var<storage, read_write> d0: array<u32>;
@group(0) @binding(7) var<storage, read_write> d1: array<u32>;
@group(0) @binding(8) var<storage, read_write> d2: array<u32>;

@compute @workgroup_size(TS_WG)
fn tensor(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let c = wid.x * TS_WG + lid;
    if (c >= n) {
        return;
    }
    let limb = pu(H_LIMB_START) + wid.y;
    let g = prime_of(limb);
    let q = modulus(g);
    let i = limb * n + c;
    let x0 = a0[item_base(wid.z, 2u) + i];
    let x1 = a1[item_base(wid.z, 3u) + i];
    let y0 = b0[item_base(wid.z, 4u) + i];
    let y1 = b1[item_base(wid.z, 5u) + i];
    d0[item_base(wid.z, 6u) + i] = mul_mod(x0, y0, g);
    d1[item_base(wid.z, 7u) + i] = add_mod(mul_mod(x0, y1, g), mul_mod(x1, y0, g), q);
    d2[item_base(wid.z, 8u) + i] = mul_mod(x1, y1, g);
}
