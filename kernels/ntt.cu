// ntt.cu — forward/inverse negacyclic NTT phases, Harvey butterflies, u32 limbs.
// Layout: limb-major, data[limb · N + i]; the header maps limbs to primes.
// In: [0, q). Out: [0, q) after the last phase (between phases: forward
// [0, 4q), inverse [0, 2q)). Forward output is bit-reversed, inverse input
// bit-reversed, exactly as src/math/ntt.rs (CPU twin: NttTable::forward_scalar
// and inverse_scalar; identical twiddles from NttTable::twiddles).
// Bounds: q < 2^30 (4q fits a u32), 4 ≤ N ≤ 2^20 (see Memory accesses).
// Arguments: tw — per global prime g, 4N words at g·4N: (ψ^bitrev(k), Shoup)
//   pairs at 2k, then (ψ^−bitrev(k), Shoup) at 2N + 2k; operand 0 of each
//   item — its limbs (data).
// Header args: arg[0] log2 of the set stride S, arg[1] stages m,
//   arg[2] log2 of the sets per block C, arg[3] = 1 on the final phase.
// A phase runs m consecutive butterfly levels whose distances are multiples
// of S: the elements b·S·2^m + r + k·S (k < 2^m) form a closed set. A block
// loads C sets with consecutive r (C·2^m ≤ NTT_TILE words) into shared
// memory and runs the m levels there in rounds of up to three: in a round
// of g levels each thread takes units of 2^g elements that those levels
// combine only among themselves (set indices base + i·2^lo, i < 2^g, lo the
// round's smallest level distance), holds them in registers, runs the g
// levels (2^(g−1)·g butterflies) and writes them back — one barrier per
// round instead of per level. Every butterfly, twiddle and lazy reduction is
// the one of the level-by-level order, so the results are the same words.
// The launcher (src/backend/launch_plan.rs) splits a transform into at most
// two phases: contiguous tiles (S = 1) and one strided.
// Launch: block NTT_WG; grid (N / (C·2^m), items, limbs) with h.items_inner =
// 1 (the items of a limb read the same twiddles); shared = 4 · NTT_TILE bytes
// (static).
// Memory accesses: the copies between device and shared memory move 4
// consecutive elements per 16-byte access (4 consecutive tile elements are
// 4 consecutive data words: the tile's rows have at least 4 columns, or it
// is contiguous, so N ≤ 2^20), and so do the rounds whose units are
// consecutive elements (level distance 1 in a contiguous tile).
// Shared memory: tile element l lives at word ntt_bank(l). By default that
// is l, and one round per direction of the contiguous phase puts several
// threads of a warp on one bank (forward: level distances 4–16, 8-way;
// inverse: 8–32, 4-way; and the inverse's 16-byte round, 2-way). With
// the kernel switch NTT_BANKS=1 (HETL_CUDA_DEFINES, src/backend/cuda/
// compile.rs) it is a permutation within each row of 32 words (one word per
// bank) under which no access of any phase at N = 2^12 .. 2^16 has a
// conflict (tools/ntt_banks.py replays the plan), at two more instructions
// per shared access. Which is faster is for a GPU to say (a layout of the
// same kind measured 12 % slower, but across two calls, before the 16-byte
// accesses: bench_results/README.md).
// Two final phases are fused with the step that follows them, saving its
// pass through memory (WGSL twin: shaders/ntt.wgsl, without these; wgpu
// runs the two steps):
// - ntt_inverse_prep, with conv_prep (basis_ext.cu): after the N^-1 scaling
//   each word of limb i is multiplied by the pair (w, Shoup(w)) at 2i of the
//   item's conversion table (operand 1).
// - ntt_forward_sub_mul, with the last step of ModDown and rescale
//   (`scaled`, elementwise.cu): the transformed word v of limb i is not
//   stored; x = (x − v)·w is, into operand 1 (x, the same limb layout) with
//   the pair (w, Shoup(w)) at 2i of operand 2.

#ifndef NTT_BANKS
#define NTT_BANKS 0
#endif

// The host emulation (host_emulation.hpp) builds the NTT with NTT_WG = 4.
#ifndef NTT_WG
#define NTT_WG 256u
#endif
// At most 40 registers a thread, so 6 blocks (1 536 threads) fit an SM's
// 64 Ki registers: unbounded, sm_90 code took 60 in ntt_forward (4 blocks);
// 8 blocks (32 registers) spill, and so does NTT_BANKS's addressing at 40
// (cuobjdump --dump-resource-usage), which gets 48 (5 blocks).
#if NTT_BANKS
#define NTT_BOUNDS __launch_bounds__(NTT_WG, 5)
#else
#define NTT_BOUNDS __launch_bounds__(NTT_WG, 6)
#endif
#define NTT_TILE 2048u

// Shared-memory word of tile element l (see the header): l, or with
// NTT_BANKS bits 2–4 of l XORed with bits 5–7. Either way a group of 4
// elements 4k..4k+3 stays 4 consecutive words in order (ntt_group).
__device__ __forceinline__ u32 ntt_bank(u32 l) {
#if NTT_BANKS
    return l ^ ((l >> 3) & 0x1cu);
#else
    return l;
#endif
}

// Tile element at + offset. With the default layout the unit's address
// sh + at is formed once and each element adds its offset (one instruction
// each instead of an add and a scaling).
__device__ __forceinline__ u32& ntt_word(u32* sh, u32 at, u32 offset) {
#if NTT_BANKS
    return sh[ntt_bank(at + offset)];
#else
    return (sh + at)[offset];
#endif
}

// Tile elements 4k..4k+3 (at = 4k) as one 16-byte word of shared memory.
__device__ __forceinline__ uint4& ntt_group(u32* sh, u32 at) {
    return *(uint4*)(sh + ntt_bank(at));
}

// Offset in `data` of local element l (set-major in k, column-minor in r).
__device__ __forceinline__ u32 ntt_global(u32 base, u32 l, u32 log_cols, u32 stride) {
    return base + (l & ((1u << log_cols) - 1u)) + (l >> log_cols) * stride;
}

// The block's place in its limb: first data word, block index among the
// limb's blocks of this phase (for the twiddle index), elements of the tile.
struct Tile {
    u32 base;
    u32 block;
    u32 elems;
};

__device__ __forceinline__ Tile ntt_tile(const Header& h) {
    const u32 log_stride = h.arg[0], m = h.arg[1], log_cols = h.arg[2];
    const u32 stride = 1u << log_stride;
    const u32 first = blockIdx.x << log_cols;
    const u32 block = first >> log_stride;
    const u32 limb = h.limb_start + block_row(h);
    return {limb * h.n + block * (stride << m) + (first & (stride - 1u)), block, 1u << (m + log_cols)};
}

// One round of G levels on the tile in `sh` (see the header): forward
// levels from set distance 2^(lo+G−1) down to 2^lo, inverse from 2^lo up.
// GROUPED (G ≥ 2, lo = 0 in a contiguous tile, so a unit's elements are
// consecutive): 16-byte shared-memory accesses.
template <int G, bool FORWARD, bool GROUPED>
__device__ __forceinline__ void ntt_round(u32* sh, const Header& h, const u32* tw, u32 tw_base, u32 block, u32 lo,
                                          u32 q) {
    static_assert(!GROUPED || G >= 2, "16-byte accesses take groups of 4 elements");
    const u32 n = h.n;
    const u32 log_stride = h.arg[0], m = h.arg[1], log_cols = h.arg[2];
    const u32 two_q = 2u * q;
    const u32 units = 1u << (m + log_cols - G);
    for (u32 u = threadIdx.x; u < units; u += NTT_WG) {
        const u32 r = u & ((1u << log_cols) - 1u);
        const u32 ku = u >> log_cols;
        const u32 base = ((ku >> lo) << (lo + G)) + (ku & ((1u << lo) - 1u));
        // Element i of the unit is tile element ((base + i·2^lo) << log_cols) + r.
        const u32 at = (base << log_cols) + r, step = 1u << (lo + log_cols);
        u32 v[1 << G];
        if constexpr (GROUPED) {
#pragma unroll
            for (int i = 0; i < (1 << G); i += 4) {
                const uint4 x = ntt_group(sh, at + (u32)i);
                v[i] = x.x, v[i + 1] = x.y, v[i + 2] = x.z, v[i + 3] = x.w;
            }
        } else {
#pragma unroll
            for (int i = 0; i < (1 << G); i++) v[i] = ntt_word(sh, at, (u32)i * step);
        }
#pragma unroll
        for (int t = 0; t < G; t++) {
            const int hd = FORWARD ? 1 << (G - 1 - t) : 1 << t;   // pair distance in v
            const u32 log_tk = FORWARD ? lo + G - 1 - t : lo + t; // level distance 2^log_tk sets
            const u32 groups = n >> (log_tk + log_stride + 1u);
            const u32 first_block = groups + (block << (m - 1u - log_tk));
            // The butterfly of v[i] takes twiddle first_block + ((base + i·2^lo) >> (log_tk + 1)):
            // base has no bits in [lo, lo + G), so that is the level's first twiddle of this unit,
            // first_block + (base >> (log_tk + 1)), plus i / (2·hd). The level's (1 << G) / (2·hd)
            // distinct twiddles are loaded once each (7 loads per round of three, not 12).
            // (twiddle, Shoup) pairs, one 8-byte load each (tw is 256-byte aligned,
            // tw_base even), at constant offsets from the level's first.
            // (The index summed in 32 bits first: one IMAD.WIDE, not two 64-bit adds.)
            const uint2* pairs = (const uint2*)(tw + tw_base) + (first_block + (base >> (log_tk + 1u)));
            uint2 ws[1 << (G - 1)];
#pragma unroll
            for (int j = 0; j < (1 << G) / (2 * hd); j++) ws[j] = pairs[j];
#pragma unroll
            for (int i = 0; i < (1 << G); i++) {
                if (i & hd) continue;
                const uint2 w = ws[i / (2 * hd)];
                if (FORWARD) {
                    const u32 x = sub_if_ge(v[i], two_q);                   // [0, 4q) → [0, 2q)
                    const u32 y = mul_shoup_lazy(v[i + hd], w.x, w.y, q); // [0, 2q)
                    v[i] = x + y;
                    v[i + hd] = x + two_q - y;
                } else {
                    const u32 x = v[i], y = v[i + hd];                      // [0, 2q)
                    v[i] = sub_if_ge(x + y, two_q);
                    v[i + hd] = mul_shoup_lazy(x + two_q - y, w.x, w.y, q);
                }
            }
        }
        if constexpr (GROUPED) {
#pragma unroll
            for (int i = 0; i < (1 << G); i += 4) ntt_group(sh, at + (u32)i) = {v[i], v[i + 1], v[i + 2], v[i + 3]};
        } else {
#pragma unroll
            for (int i = 0; i < (1 << G); i++) ntt_word(sh, at, (u32)i * step) = v[i];
        }
    }
}

// Every level of the phase, in rounds of three (the remainder last).
// The fused step of a final phase (all null: none): `prep` the conversion
// table of ntt_inverse_prep; `x` and `w` those of ntt_forward_sub_mul.
struct Fused {
    const u32* prep;
    u32* x;
    const u32* w;
};

template <bool FORWARD>
__device__ __forceinline__ void ntt_phase(Header h, const u32* cst, const u32* tw, u32* data, Fused fused) {
    __shared__ __align__(16) u32 sh[NTT_TILE];
    const Tile tile = ntt_tile(h);
    const u32 g = prime_of(h, h.limb_start + block_row(h));
    const u32 q = modulus(cst, g);
    const u32 m = h.arg[1], log_cols = h.arg[2], stride = 1u << h.arg[0];
    // Groups of 4 elements, one 16-byte access each (see the header).
    for (u32 l = 4u * threadIdx.x; l < tile.elems; l += 4u * NTT_WG) {
        ntt_group(sh, l) = *(const uint4*)(data + ntt_global(tile.base, l, log_cols, stride));
    }
    __syncthreads();
    const u32 tw_base = g * 4u * h.n + (FORWARD ? 0u : 2u * h.n);
    for (u32 done = 0; done < m;) {
        const u32 levels = min(3u, m - done);
        // Forward levels run from distance 2^(m−1) down, inverse from 2^0 up.
        const u32 lo = FORWARD ? m - done - levels : done;
        const bool grouped = lo == 0u && log_cols == 0u;
        if (levels == 3u) {
            if (grouped) ntt_round<3, FORWARD, true>(sh, h, tw, tw_base, tile.block, lo, q);
            else ntt_round<3, FORWARD, false>(sh, h, tw, tw_base, tile.block, lo, q);
        } else if (levels == 2u) {
            if (grouped) ntt_round<2, FORWARD, true>(sh, h, tw, tw_base, tile.block, lo, q);
            else ntt_round<2, FORWARD, false>(sh, h, tw, tw_base, tile.block, lo, q);
        } else {
            ntt_round<1, FORWARD, false>(sh, h, tw, tw_base, tile.block, lo, q);
        }
        __syncthreads();
        done += levels;
    }
    const bool last = h.arg[3] != 0u;
    const u32 n_inv = cst[g * CST_STRIDE + 3u];
    const u32 n_inv_shoup = cst[g * CST_STRIDE + 4u];
    const u32 local = h.limb_start + block_row(h);
    for (u32 l = 4u * threadIdx.x; l < tile.elems; l += 4u * NTT_WG) {
        const uint4 group = ntt_group(sh, l);
        u32 v[4] = {group.x, group.y, group.z, group.w};
        const u32 at = ntt_global(tile.base, l, log_cols, stride);
        if (last) {
            if (FORWARD) {
#pragma unroll
                for (int k = 0; k < 4; k++) v[k] = reduce_2q(sub_if_ge(v[k], 2u * q), q);
                if (fused.x) {
                    const u32 w = fused.w[2u * local], ws = fused.w[2u * local + 1u];
                    uint4* x = (uint4*)(fused.x + at);
                    const uint4 xs = *x;
                    const u32 xv[4] = {xs.x, xs.y, xs.z, xs.w};
#pragma unroll
                    for (int k = 0; k < 4; k++) v[k] = mul_shoup(xv[k] + q - v[k], w, ws, q);
                    *x = {v[0], v[1], v[2], v[3]};
                    continue;
                }
            } else {
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    v[k] = mul_shoup(v[k], n_inv, n_inv_shoup, q);
                    if (fused.prep) v[k] = mul_shoup(v[k], fused.prep[2u * local], fused.prep[2u * local + 1u], q);
                }
            }
        }
        *(uint4*)(data + at) = {v[0], v[1], v[2], v[3]};
    }
}

extern "C" __global__ void NTT_BOUNDS ntt_forward(Header h, const u32* cst, const u32* tw, const Operands ops) {
    ntt_phase<true>(h, cst, tw, (u32*)operand(h, ops, 1u, 0u), Fused{nullptr, nullptr, nullptr});
}

extern "C" __global__ void NTT_BOUNDS ntt_inverse(Header h, const u32* cst, const u32* tw, const Operands ops) {
    ntt_phase<false>(h, cst, tw, (u32*)operand(h, ops, 1u, 0u), Fused{nullptr, nullptr, nullptr});
}

extern "C" __global__ void NTT_BOUNDS ntt_inverse_prep(Header h, const u32* cst, const u32* tw, const Operands ops) {
    const Fused fused{(const u32*)operand(h, ops, 2u, 1u), nullptr, nullptr};
    ntt_phase<false>(h, cst, tw, (u32*)operand(h, ops, 2u, 0u), fused);
}

extern "C" __global__ void NTT_BOUNDS ntt_forward_sub_mul(Header h, const u32* cst, const u32* tw, const Operands ops) {
    const Fused fused{nullptr, (u32*)operand(h, ops, 3u, 1u), (const u32*)operand(h, ops, 3u, 2u)};
    ntt_phase<true>(h, cst, tw, (u32*)operand(h, ops, 3u, 0u), fused);
}
