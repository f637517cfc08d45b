// ntt.wgsl — forward/inverse negacyclic NTT phases, Harvey butterflies, u32 limbs.
// Layout: limb-major, data[limb · N + i]; the header maps limbs to primes.
// In: [0, q). Out: [0, q) after the last phase (between phases: forward
// [0, 4q), inverse [0, 2q)). Forward output is bit-reversed, inverse input
// bit-reversed, exactly as src/math/ntt.rs (CPU twin: NttTable::forward_scalar
// and inverse_scalar; identical twiddles from NttTable::twiddles).
// Bounds: q < 2^30 (4q fits a u32), N ≤ NTT_TILE².
//
// Bindings (besides prm, cst from modarith.wgsl):
//   @binding(2) tw: storage read, array<u32> — per global prime g, 4N words at
//     g·4N: (ψ^bitrev(k), Shoup) pairs at 2k, then (ψ^−bitrev(k), Shoup) at 2N + 2k.
//   @binding(3) data: storage read_write, array<u32>.
// Header args: H_ARG+0 log2 of the set stride S, H_ARG+1 stages m,
//   H_ARG+2 log2 of the sets per workgroup C, H_ARG+3 = 1 on the final phase.
//
// A phase runs m consecutive butterfly levels whose distances t are
// multiples of S: for them the elements b·S·2^m + r + k·S (k < 2^m) form a
// closed set. A workgroup loads C sets with consecutive r (C·2^m ≤ NTT_TILE
// words) into workgroup memory, runs the m levels there with a barrier
// between levels, and writes back. The launcher splits a transform into at
// most two phases: one over contiguous tiles (S = 1) and one strided.
// Launch: workgroup NTT_WG; grid (N / (C·2^m), limbs, items).

const NTT_WG: u32 = 256u;
const NTT_TILE: u32 = 2048u;

@group(0) @binding(2) var<storage, read> tw: array<u32>;
@group(0) @binding(3) var<storage, read_write> data: array<u32>;

var<workgroup> sh: array<u32, NTT_TILE>;

// Offset in `data` of local element l (set-major in k, column-minor in r).
fn ntt_global(base: u32, l: u32, log_cols: u32, stride: u32) -> u32 {
    return base + (l & ((1u << log_cols) - 1u)) + (l >> log_cols) * stride;
}

@compute @workgroup_size(NTT_WG)
fn ntt_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let limb = pu(H_LIMB_START) + wid.y;
    let g = prime_of(limb);
    let q = modulus(g);
    let two_q = 2u * q;
    let log_stride = pu(H_ARG);
    let m = pu(H_ARG + 1u);
    let log_cols = pu(H_ARG + 2u);
    let stride = 1u << log_stride;
    let elems = 1u << (m + log_cols);
    let first = wid.x << log_cols;
    let block = first >> log_stride;
    let base = item_base(wid.z, 3u) + limb * n + block * (stride << m) + (first & (stride - 1u));
    for (var l = lid; l < elems; l += NTT_WG) {
        sh[l] = data[ntt_global(base, l, log_cols, stride)];
    }
    workgroupBarrier();
    let tw_base = g * 4u * n;
    for (var s = 0u; s < m; s++) {
        let log_tk = m - 1u - s;                       // local distance 2^log_tk (in sets)
        let groups = n >> (log_tk + log_stride + 1u);  // N / (2t)
        let first_block = groups + (block << (m - 1u - log_tk));
        for (var j = lid; j < (elems >> 1u); j += NTT_WG) {
            let r = j & ((1u << log_cols) - 1u);
            let kb = j >> log_cols;
            let ib = kb >> log_tk;
            let k0 = (ib << (log_tk + 1u)) + (kb & ((1u << log_tk) - 1u));
            let i0 = (k0 << log_cols) + r;
            let i1 = i0 + (1u << (log_tk + log_cols));
            let wi = tw_base + 2u * (first_block + ib);
            // x, y in [0, 4q)
            var x = sh[i0];
            if (x >= two_q) {
                x -= two_q;
            }
            let v = mul_shoup_lazy(sh[i1], tw[wi], tw[wi + 1u], q); // [0, 2q)
            sh[i0] = x + v;
            sh[i1] = x + two_q - v;
        }
        workgroupBarrier();
    }
    let last = pu(H_ARG + 3u) != 0u;
    for (var l = lid; l < elems; l += NTT_WG) {
        var v = sh[l];
        if (last) {
            if (v >= two_q) {
                v -= two_q;
            }
            v = reduce_2q(v, q);
        }
        data[ntt_global(base, l, log_cols, stride)] = v;
    }
}

@compute @workgroup_size(NTT_WG)
fn ntt_inverse(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = pu(H_N);
    let limb = pu(H_LIMB_START) + wid.y;
    let g = prime_of(limb);
    let q = modulus(g);
    let two_q = 2u * q;
    let log_stride = pu(H_ARG);
    let m = pu(H_ARG + 1u);
    let log_cols = pu(H_ARG + 2u);
    let stride = 1u << log_stride;
    let elems = 1u << (m + log_cols);
    let first = wid.x << log_cols;
    let block = first >> log_stride;
    let base = item_base(wid.z, 3u) + limb * n + block * (stride << m) + (first & (stride - 1u));
    for (var l = lid; l < elems; l += NTT_WG) {
        sh[l] = data[ntt_global(base, l, log_cols, stride)];
    }
    workgroupBarrier();
    let tw_base = g * 4u * n + 2u * n;
    for (var log_tk = 0u; log_tk < m; log_tk++) {
        let groups = n >> (log_tk + log_stride + 1u);
        let first_block = groups + (block << (m - 1u - log_tk));
        for (var j = lid; j < (elems >> 1u); j += NTT_WG) {
            let r = j & ((1u << log_cols) - 1u);
            let kb = j >> log_cols;
            let ib = kb >> log_tk;
            let k0 = (ib << (log_tk + 1u)) + (kb & ((1u << log_tk) - 1u));
            let i0 = (k0 << log_cols) + r;
            let i1 = i0 + (1u << (log_tk + log_cols));
            let wi = tw_base + 2u * (first_block + ib);
            // u, v in [0, 2q)
            let u = sh[i0];
            let v = sh[i1];
            let s = u + v;
            sh[i0] = select(s, s - two_q, s >= two_q);
            sh[i1] = mul_shoup_lazy(u + two_q - v, tw[wi], tw[wi + 1u], q);
        }
        workgroupBarrier();
    }
    let last = pu(H_ARG + 3u) != 0u;
    let n_inv = cst[g * CST_STRIDE + 3u];
    let n_inv_shoup = cst[g * CST_STRIDE + 4u];
    for (var l = lid; l < elems; l += NTT_WG) {
        var v = sh[l];
        if (last) {
            v = mul_shoup(v, n_inv, n_inv_shoup, q);
        }
        data[ntt_global(base, l, log_cols, stride)] = v;
    }
}
