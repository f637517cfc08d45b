// elementwise.wgsl — coefficient-wise limb arithmetic, u32 limbs.
// Layout: limb-major, x[limb · N + i]; the header maps limbs to primes.
// In/out: [0, q). CPU twin: src/backend/cpu.rs (`kernels`) and
// src/math/limb_ops.rs; results are the unique residues, so bit-exact.
// Bindings (besides prm, cst from modarith.wgsl):
//   @binding(2) x: storage read_write, array<u32> — destination
//   @binding(3) y: storage read, array<u32> — source (same limb index as x)
// Launch: workgroup EW_WG, one invocation per coefficient; grid (⌈N / EW_WG⌉, limbs, items).

const EW_WG: u32 = 256u;

@group(0) @binding(2) var<storage, read_write> x: array<u32>;
@group(0) @binding(3) var<storage, read> y: array<u32>;

// x op= y; H_OP: 0 add, 1 sub, 2 mul (Barrett).
@compute @workgroup_size(EW_WG)
fn binary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let c = wid.x * EW_WG + lid;
    if (c >= n) {
        return;
    }
    let limb = pu(H_LIMB_START) + wid.y;
    let g = prime_of(limb);
    let q = modulus(g);
    let i = limb * n + c;
    let a = x[item_base(wid.z, 2u) + i];
    let b = y[item_base(wid.z, 3u) + i];
    switch pu(H_OP) {
        case 0u: {
            x[item_base(wid.z, 2u) + i] = add_mod(a, b, q);
        }
        case 1u: {
            x[item_base(wid.z, 2u) + i] = sub_mod(a, b, q);
        }
        default: {
            x[item_base(wid.z, 2u) + i] = mul_mod(a, b, g);
        }
    }
}

// x = op(x) with per-limb data (c, Shoup(c)) at H_DATA + 2·(limb − start);
// H_OP: 0 negate, 1 add c, 2 multiply by c (Shoup). y is unused.
@compute @workgroup_size(EW_WG)
fn unary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let c = wid.x * EW_WG + lid;
    if (c >= n) {
        return;
    }
    let limb = pu(H_LIMB_START) + wid.y;
    let q = modulus(prime_of(limb));
    let i = limb * n + c;
    let a = x[item_base(wid.z, 2u) + i];
    let w = pu(H_DATA + 2u * wid.y);
    switch pu(H_OP) {
        case 0u: {
            x[item_base(wid.z, 2u) + i] = select(q - a, 0u, a == 0u);
        }
        case 1u: {
            x[item_base(wid.z, 2u) + i] = add_mod(a, w, q);
        }
        default: {
            x[item_base(wid.z, 2u) + i] = mul_shoup(a, w, pu(H_DATA + 2u * wid.y + 1u), q);
        }
    }
}

// With per-limb (w, Shoup(w)) at H_DATA + 2·(limb − start); H_OP: 0 x = (x − y)·w,
// the last step of rescale and ModDown (CPU: limb_ops::sub_mul_scalar_assign);
// 1 x = x + y·w, a scaled polynomial added (limb_ops::add_mul_scalar_assign).
@compute @workgroup_size(EW_WG)
fn scaled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let c = wid.x * EW_WG + lid;
    if (c >= n) {
        return;
    }
    let limb = pu(H_LIMB_START) + wid.y;
    let q = modulus(prime_of(limb));
    let i = limb * n + c;
    let w = pu(H_DATA + 2u * wid.y);
    let ws = pu(H_DATA + 2u * wid.y + 1u);
    let a = x[item_base(wid.z, 2u) + i];
    let b = y[item_base(wid.z, 3u) + i];
    if (pu(H_OP) == 0u) {
        x[item_base(wid.z, 2u) + i] = mul_shoup(a + q - b, w, ws, q);
    } else {
        x[item_base(wid.z, 2u) + i] = add_mod(a, mul_shoup(b, w, ws, q), q);
    }
}
