// keyswitch.wgsl — one digit of the key-switching inner product.
// Layout: limb-major. The digit has basis {H_QCOUNT, p}; the key polynomials
// kb and ka {H_ARG+0, resp. H_ARG+2 Q limbs, p}: digit limb k < H_QCOUNT
// reads key limb k, a P limb k reads key limb (Q limbs) + k − H_QCOUNT.
// In/out: [0, q). (ob, oa) = (d·kb, d·ka) when H_ARG+1 = 1 (first digit),
// else += (mod q).
// CPU twin: CpuBackend::key_switch_inner (same residues; the CPU sums in u64).
// Bindings (besides prm, cst from modarith.wgsl):
//   @binding(2) d: storage read, array<u32> — the digit
//   @binding(3) kb, @binding(4) ka: storage read, array<u32> — key (b_j, a_j)
//   @binding(5) ob, @binding(6) oa: storage read_write, array<u32> — accumulators
// Launch: workgroup KS_WG, one invocation per coefficient; grid (⌈N / KS_WG⌉, limbs, items).

const KS_WG: u32 = 256u;

@group(0) @binding(2) var<storage, read> d: array<u32>;
@group(0) @binding(3) var<storage, read> kb: array<u32>;
@group(0) @binding(4) var<storage, read> ka: array<u32>;
@group(0) @binding(5) var<storage, read_write> ob: array<u32>;
@group(0) @binding(6) var<storage, read_write> oa: array<u32>;

@compute @workgroup_size(KS_WG)
fn key_switch_digit(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let c = wid.x * KS_WG + lid;
    if (c >= n) {
        return;
    }
    let limb = pu(H_LIMB_START) + wid.y;
    let g = prime_of(limb);
    let q = modulus(g);
    let qd = pu(H_QCOUNT);
    let i = limb * n + c;
    let jb = select(pu(H_ARG) + limb - qd, limb, limb < qd) * n + c;
    let ja = select(pu(H_ARG + 2u) + limb - qd, limb, limb < qd) * n + c;
    let dv = d[item_base(wid.z, 2u) + i];
    var pb = mul_mod(dv, kb[item_base(wid.z, 3u) + jb], g);
    var pa = mul_mod(dv, ka[item_base(wid.z, 4u) + ja], g);
    if (pu(H_ARG + 1u) == 0u) {
        pb = add_mod(pb, ob[item_base(wid.z, 5u) + i], q);
        pa = add_mod(pa, oa[item_base(wid.z, 6u) + i], q);
    }
    ob[item_base(wid.z, 5u) + i] = pb;
    oa[item_base(wid.z, 6u) + i] = pa;
}
