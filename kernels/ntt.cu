// ntt.cu — forward/inverse negacyclic NTT phases, Harvey butterflies, u32 limbs.
// Layout: limb-major, data[limb · N + i]; the header maps limbs to primes.
// In: [0, q). Out: [0, q) after the last phase (between phases: forward
// [0, 4q), inverse [0, 2q)). Forward output is bit-reversed, inverse input
// bit-reversed, exactly as src/math/ntt.rs (CPU twin: NttTable::forward_scalar
// and inverse_scalar; identical twiddles from NttTable::twiddles).
// Bounds: q < 2^30 (4q fits a u32), N ≤ NTT_TILE².
// Arguments: tw — per global prime g, 4N words at g·4N: (ψ^bitrev(k), Shoup)
//   pairs at 2k, then (ψ^−bitrev(k), Shoup) at 2N + 2k; data — the limbs.
// Header args: arg[0] log2 of the set stride S, arg[1] stages m,
//   arg[2] log2 of the sets per block C, arg[3] = 1 on the final phase.
// A phase runs m consecutive butterfly levels whose distances are multiples
// of S: the elements b·S·2^m + r + k·S (k < 2^m) form a closed set. A block
// loads C sets with consecutive r (C·2^m ≤ NTT_TILE words) into shared
// memory, runs the m levels there with a barrier between levels, and writes
// back. The launcher (src/backend/launch_plan.rs) splits a transform into at
// most two phases: contiguous tiles (S = 1) and one strided.
// Launch: block NTT_WG; grid (N / (C·2^m), limbs); shared = 4 · NTT_TILE bytes (static).
// WGSL twin: shaders/ntt.wgsl.

#define NTT_WG 256u
#define NTT_TILE 2048u

// Offset in `data` of local element l (set-major in k, column-minor in r).
__device__ __forceinline__ u32 ntt_global(u32 base, u32 l, u32 log_cols, u32 stride) {
    return base + (l & ((1u << log_cols) - 1u)) + (l >> log_cols) * stride;
}

extern "C" __global__ void ntt_forward(Header h, const u32* cst, const u32* tw, u32* data) {
    __shared__ u32 sh[NTT_TILE];
    const u32 n = h.n;
    const u32 limb = h.limb_start + blockIdx.y;
    const u32 g = prime_of(h, limb);
    const u32 q = modulus(cst, g);
    const u32 two_q = 2u * q;
    const u32 log_stride = h.arg[0], m = h.arg[1], log_cols = h.arg[2];
    const u32 stride = 1u << log_stride;
    const u32 elems = 1u << (m + log_cols);
    const u32 first = blockIdx.x << log_cols;
    const u32 block = first >> log_stride;
    const u32 base = limb * n + block * (stride << m) + (first & (stride - 1u));
    for (u32 l = threadIdx.x; l < elems; l += NTT_WG) {
        sh[l] = data[ntt_global(base, l, log_cols, stride)];
    }
    __syncthreads();
    const u32 tw_base = g * 4u * n;
    for (u32 s = 0; s < m; s++) {
        const u32 log_tk = m - 1u - s;                          // local distance 2^log_tk (in sets)
        const u32 groups = n >> (log_tk + log_stride + 1u);     // N / (2t)
        const u32 first_block = groups + (block << (m - 1u - log_tk));
        for (u32 j = threadIdx.x; j < (elems >> 1u); j += NTT_WG) {
            const u32 r = j & ((1u << log_cols) - 1u);
            const u32 kb = j >> log_cols;
            const u32 ib = kb >> log_tk;
            const u32 k0 = (ib << (log_tk + 1u)) + (kb & ((1u << log_tk) - 1u));
            const u32 i0 = (k0 << log_cols) + r;
            const u32 i1 = i0 + (1u << (log_tk + log_cols));
            const u32 wi = tw_base + 2u * (first_block + ib);
            u32 x = sh[i0];                                     // [0, 4q)
            if (x >= two_q) x -= two_q;
            const u32 v = mul_shoup_lazy(sh[i1], tw[wi], tw[wi + 1u], q); // [0, 2q)
            sh[i0] = x + v;
            sh[i1] = x + two_q - v;
        }
        __syncthreads();
    }
    const bool last = h.arg[3] != 0u;
    for (u32 l = threadIdx.x; l < elems; l += NTT_WG) {
        u32 v = sh[l];
        if (last) {
            if (v >= two_q) v -= two_q;
            v = reduce_2q(v, q);
        }
        data[ntt_global(base, l, log_cols, stride)] = v;
    }
}

extern "C" __global__ void ntt_inverse(Header h, const u32* cst, const u32* tw, u32* data) {
    __shared__ u32 sh[NTT_TILE];
    const u32 n = h.n;
    const u32 limb = h.limb_start + blockIdx.y;
    const u32 g = prime_of(h, limb);
    const u32 q = modulus(cst, g);
    const u32 two_q = 2u * q;
    const u32 log_stride = h.arg[0], m = h.arg[1], log_cols = h.arg[2];
    const u32 stride = 1u << log_stride;
    const u32 elems = 1u << (m + log_cols);
    const u32 first = blockIdx.x << log_cols;
    const u32 block = first >> log_stride;
    const u32 base = limb * n + block * (stride << m) + (first & (stride - 1u));
    for (u32 l = threadIdx.x; l < elems; l += NTT_WG) {
        sh[l] = data[ntt_global(base, l, log_cols, stride)];
    }
    __syncthreads();
    const u32 tw_base = g * 4u * n + 2u * n;
    for (u32 log_tk = 0; log_tk < m; log_tk++) {
        const u32 groups = n >> (log_tk + log_stride + 1u);
        const u32 first_block = groups + (block << (m - 1u - log_tk));
        for (u32 j = threadIdx.x; j < (elems >> 1u); j += NTT_WG) {
            const u32 r = j & ((1u << log_cols) - 1u);
            const u32 kb = j >> log_cols;
            const u32 ib = kb >> log_tk;
            const u32 k0 = (ib << (log_tk + 1u)) + (kb & ((1u << log_tk) - 1u));
            const u32 i0 = (k0 << log_cols) + r;
            const u32 i1 = i0 + (1u << (log_tk + log_cols));
            const u32 wi = tw_base + 2u * (first_block + ib);
            const u32 u = sh[i0];                               // [0, 2q)
            const u32 v = sh[i1];                               // [0, 2q)
            const u32 s = u + v;
            sh[i0] = s >= two_q ? s - two_q : s;
            sh[i1] = mul_shoup_lazy(u + two_q - v, tw[wi], tw[wi + 1u], q);
        }
        __syncthreads();
    }
    const bool last = h.arg[3] != 0u;
    const u32 n_inv = cst[g * CST_STRIDE + 3u];
    const u32 n_inv_shoup = cst[g * CST_STRIDE + 4u];
    for (u32 l = threadIdx.x; l < elems; l += NTT_WG) {
        u32 v = sh[l];
        if (last) v = mul_shoup(v, n_inv, n_inv_shoup, q);
        data[ntt_global(base, l, log_cols, stride)] = v;
    }
}
