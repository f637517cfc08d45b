// ntt.cu — forward/inverse negacyclic NTT phases, Harvey butterflies, u32 limbs.
// Layout: limb-major, data[limb · N + i]; the header maps limbs to primes.
// In: [0, q). Out: [0, q) after the last phase (between phases: forward
// [0, 4q), inverse [0, 2q)). Forward output is bit-reversed, inverse input
// bit-reversed, exactly as src/math/ntt.rs (CPU twin: NttTable::forward_scalar
// and inverse_scalar; identical twiddles from NttTable::twiddles).
// Bounds: q < 2^30 (4q fits a u32), 4 ≤ N ≤ 2^20 (see Memory accesses).
// Arguments: tw — per global prime g, 4N words at g·4N: (ψ^bitrev(k), Shoup)
//   pairs at 2k, then (ψ^−bitrev(k), Shoup) at 2N + 2k; operand 0 of each
//   item — its limbs (data); the inverse kernels' last operand — the words
//   the phase reads (data, or another buffer of the same layout: see Fused).
// Header args: arg[0] log2 of the set stride S, arg[1] stages m,
//   arg[2] log2 of the sets per block C, arg[3] = 1 on the final phase.
// A phase runs m consecutive butterfly levels whose distances are multiples
// of S: the elements b·S·2^m + r + k·S (k < 2^m) form a closed set. A block
// takes C sets with consecutive r (C·2^m ≤ NTT_TILE words) and runs the m
// levels in rounds of up to three (four with NTT_WIDE, below): in a round
// of g levels each thread takes units of 2^g elements that those levels
// combine only among themselves
// (set indices base + i·2^lo, i < 2^g, lo the round's smallest level
// distance), holds them in registers, runs the g levels (2^(g−1)·g
// butterflies) and writes them back — one barrier per round instead of per
// level. The first round loads its units straight from device memory, the
// last stores them straight back (through the final phase's fused step),
// and the rounds between pass them through the block's shared tile: a
// phase of r rounds makes r − 1 passes through shared memory and waits at
// r − 1 barriers. (Copying the tile in before the rounds and out after
// them, two passes and two barriers more, measured 1.04× slower for
// mul_relin_rescale and rotate at N = 2^16 and 1.05× to 1.28× for NTTs on
// an H100: bench_results/h100-run7.) Every butterfly, twiddle and lazy
// reduction is the one of the level-by-level order, so the results are the
// same words.
// The launcher (src/backend/launch_plan.rs) splits a transform into at most
// two phases: contiguous tiles (S = 1) and one strided.
// Launch: block NTT_WG; grid (N / (C·2^m), items, limbs) with h.items_inner =
// 1 (the items of a limb read the same twiddles); shared = 4 · NTT_TILE bytes
// (static).
// Memory accesses: the rounds whose units are consecutive elements (level
// distance 1 in a contiguous tile: a forward phase's last round, an inverse
// phase's first, which are the ones on device memory) move 4 elements per
// 16-byte access; the other device rounds' units have an element per
// column, consecutive threads consecutive columns.
// Shared memory: tile element l lives at word l. One round per direction
// of the contiguous phase puts several threads of a warp on one bank
// (forward: level distances 4–16, 8-way; inverse: 8–32, 4-way; and the
// inverse's 16-byte round, 2-way; tools/ntt_banks.py replays the plan). A
// layout without conflicts (a permutation within rows of 32 words, at two
// more instructions per shared access) was measured three times with no
// gain (0.94–1.02×: bench_results/h100-run7, h200-run8, h100-run9) and
// removed.
// Wide variant (kernel switch NTT_WIDE=1, HETL_CUDA_DEFINES, src/backend/
// cuda/compile.rs): a 4096-word tile and rounds of up to four levels, 16
// registers a unit. At N = 2^16 a transform then takes 3 + 1 rounds
// instead of 4 + 2, and the strided phase's single round never touches
// shared memory: 2 tile passes and 2 barriers instead of 4 and 4, at 3
// blocks an SM instead of 5. The launcher reads the tile from the switch.
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

#ifndef NTT_WIDE
#define NTT_WIDE 0
#endif

// The host emulation (host_emulation.hpp) builds the NTT with NTT_WG = 4.
#ifndef NTT_WG
#define NTT_WG 256u
#endif
// At most 48 registers a thread, so 5 blocks (1 280 threads) fit an SM's
// 64 Ki registers: unbounded, sm_90 code took 60 (4 blocks); at 40 (6
// blocks) the device-side rounds spill (kernel_sass.py). The wide variant's
// units of 16 take up to 80 (3 blocks; at 64, 4 blocks, ntt_forward spilled
// 104 bytes a thread, at 80 it keeps 40).
#if NTT_WIDE
#define NTT_BOUNDS __launch_bounds__(NTT_WG, 3)
#define NTT_TILE 4096u
#define NTT_ROUND 4u
#else
#define NTT_BOUNDS __launch_bounds__(NTT_WG, 5)
#define NTT_TILE 2048u
#define NTT_ROUND 3u
#endif

// Tile elements 4k..4k+3 (at = 4k) as one 16-byte word of shared memory.
__device__ __forceinline__ uint4& ntt_group(u32* sh, u32 at) {
    return *(uint4*)(sh + at);
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

// The step fused into a kernel's final phase, and the kernel's operands per
// item: the limbs (data); then ntt_forward_sub_mul's x and (w, Shoup(w))
// pairs, or ntt_inverse_prep's conversion table; and last, for the inverse
// kernels, the source: the words the phase reads, data itself except in the
// first phase of an out-of-place transform (ModDown's, from the divisor
// limbs of its input), which writes data.
enum FusedStep { NONE, PREP, SUB_MUL };

template <bool FORWARD, FusedStep STEP>
struct Fused {
    static constexpr u32 operands = FORWARD ? (STEP == SUB_MUL ? 3u : 1u) : (STEP == PREP ? 3u : 2u);
    static constexpr u32 source = FORWARD ? 0u : operands - 1u;
};

// What every round of a block's phase shares. Device addresses are read
// from the launch's operand table (a kernel parameter) where they are used.
struct Phase {
    const Operands& ops;
    const u32* cst;
    Tile tile;
    u32 g;      // global prime of the limb
    u32 limb;   // the limb (index into the fused step's table)
    u32 q;
    bool last;  // the transform's final phase
};

// The final phase's factors, read before its words are (stores could alias
// them): forward, SUB_MUL's (w, Shoup(w)); inverse, N^-1 and PREP's pair.
struct Finish {
    uint2 first;
    uint2 second;
};

template <bool FORWARD, FusedStep STEP>
__device__ __forceinline__ Finish ntt_finish_factors(const Header& h, const Phase& p) {
    constexpr u32 PER_ITEM = Fused<FORWARD, STEP>::operands;
    Finish f{{0u, 0u}, {0u, 0u}};
    if constexpr (FORWARD && STEP == SUB_MUL) {
        f.first = *((const uint2*)operand(h, p.ops, PER_ITEM, 2u) + p.limb);
    } else if constexpr (!FORWARD) {
        f.first = {p.cst[p.g * CST_STRIDE + 3u], p.cst[p.g * CST_STRIDE + 4u]};
        if constexpr (STEP == PREP) f.second = *((const uint2*)operand(h, p.ops, PER_ITEM, 1u) + p.limb);
    }
    return f;
}

// The K words v of the final phase after its last level: forward [0, 4q) →
// [0, q), then x = (x − v)·w for SUB_MUL (x holds the words of operand 1 at
// the same places, and gets the result); inverse: times N^-1, then PREP's
// conversion factor.
template <bool FORWARD, FusedStep STEP, int K>
__device__ __forceinline__ void ntt_finish(u32 q, const Finish& f, u32 (&v)[K], const u32 (&x)[K]) {
#pragma unroll
    for (int k = 0; k < K; k++) {
        if constexpr (FORWARD) {
            v[k] = reduce_2q(sub_if_ge(v[k], 2u * q), q);
            if constexpr (STEP == SUB_MUL) v[k] = mul_shoup(x[k] + q - v[k], f.first.x, f.first.y, q);
        } else {
            v[k] = mul_shoup(v[k], f.first.x, f.first.y, q);
            if constexpr (STEP == PREP) v[k] = mul_shoup(v[k], f.second.x, f.second.y, q);
        }
    }
}

// The 2^G elements of a unit, `step` words apart from `at` (GROUPED: 4
// consecutive ones per 16-byte access), in device memory ...
template <int G, bool GROUPED>
__device__ __forceinline__ void device_load(u32 (&v)[1 << G], const u32* at, u32 step) {
#pragma unroll
    for (int i = 0; i < (1 << G); i += GROUPED ? 4 : 1) {
        if constexpr (GROUPED) {
            const uint4 x = *(const uint4*)(at + i);
            v[i] = x.x, v[i + 1] = x.y, v[i + 2] = x.z, v[i + 3] = x.w;
        } else {
            v[i] = at[(u32)i * step];
        }
    }
}

template <int G, bool GROUPED>
__device__ __forceinline__ void device_store(const u32 (&v)[1 << G], u32* at, u32 step) {
#pragma unroll
    for (int i = 0; i < (1 << G); i += GROUPED ? 4 : 1) {
        if constexpr (GROUPED) {
            *(uint4*)(at + i) = {v[i], v[i + 1], v[i + 2], v[i + 3]};
        } else {
            at[(u32)i * step] = v[i];
        }
    }
}

// ... and in the shared tile, from tile element `at`.
template <int G, bool GROUPED>
__device__ __forceinline__ void tile_load(u32 (&v)[1 << G], u32* sh, u32 at, u32 step) {
#pragma unroll
    for (int i = 0; i < (1 << G); i += GROUPED ? 4 : 1) {
        if constexpr (GROUPED) {
            const uint4 x = ntt_group(sh, at + (u32)i);
            v[i] = x.x, v[i + 1] = x.y, v[i + 2] = x.z, v[i + 3] = x.w;
        } else {
            v[i] = (sh + at)[(u32)i * step];
        }
    }
}

template <int G, bool GROUPED>
__device__ __forceinline__ void tile_store(const u32 (&v)[1 << G], u32* sh, u32 at, u32 step) {
#pragma unroll
    for (int i = 0; i < (1 << G); i += GROUPED ? 4 : 1) {
        if constexpr (GROUPED) {
            ntt_group(sh, at + (u32)i) = {v[i], v[i + 1], v[i + 2], v[i + 3]};
        } else {
            (sh + at)[(u32)i * step] = v[i];
        }
    }
}

// One round of G levels (see the header): forward levels from set distance
// 2^(lo+G−1) down to 2^lo, inverse from 2^lo up. Its units come from the
// shared tile and go back to it, except that a phase's first round
// (FROM_DEVICE) takes them straight from device memory and its last
// (TO_DEVICE) writes them straight back, through ntt_finish on the final
// phase. GROUPED (G ≥ 2, lo = 0 in a contiguous tile: a unit's elements are
// consecutive): 16-byte accesses.
template <int G, bool FORWARD, FusedStep STEP, bool GROUPED, bool FROM_DEVICE, bool TO_DEVICE>
__device__ __forceinline__ void ntt_round(u32* sh, const Header& h, const u32* tw, u32 tw_base, const Phase& p,
                                          u32 lo) {
    static_assert(!GROUPED || G >= 2, "16-byte accesses take groups of 4 elements");
    constexpr u32 PER_ITEM = Fused<FORWARD, STEP>::operands;
    const u32 n = h.n, q = p.q;
    const u32 log_stride = h.arg[0], m = h.arg[1], log_cols = h.arg[2];
    const u32 two_q = 2u * q;
    const u32 units = 1u << (m + log_cols - G);
    Finish f{{0u, 0u}, {0u, 0u}};
    if (TO_DEVICE && p.last) f = ntt_finish_factors<FORWARD, STEP>(h, p);
    for (u32 u = threadIdx.x; u < units; u += NTT_WG) {
        const u32 r = u & ((1u << log_cols) - 1u);
        const u32 ku = u >> log_cols;
        const u32 base = ((ku >> lo) << (lo + G)) + (ku & ((1u << lo) - 1u));
        // Element i of the unit is set base + i·2^lo, column r: tile element
        // ((base + i·2^lo) << log_cols) + r, device word tile.base + r +
        // (base + i·2^lo)·S.
        const u32 at = (base << log_cols) + r, step = 1u << (lo + log_cols);
        const u32 word = p.tile.base + r + (base << log_stride), word_step = 1u << (lo + log_stride);
        u32 v[1 << G];
        if constexpr (FROM_DEVICE) {
            const u32* source = (const u32*)operand(h, p.ops, PER_ITEM, Fused<FORWARD, STEP>::source);
            device_load<G, GROUPED>(v, source + word, word_step);
        } else {
            tile_load<G, GROUPED>(v, sh, at, step);
        }
#pragma unroll
        for (int t = 0; t < G; t++) {
            const int hd = FORWARD ? 1 << (G - 1 - t) : 1 << t;   // pair distance in v
            const u32 log_tk = FORWARD ? lo + G - 1 - t : lo + t; // level distance 2^log_tk sets
            const u32 groups = n >> (log_tk + log_stride + 1u);
            const u32 first_block = groups + (p.tile.block << (m - 1u - log_tk));
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
        if constexpr (TO_DEVICE) {
            u32* out = (u32*)operand(h, p.ops, PER_ITEM, 0u) + word;
            if (p.last) {
                u32 x[1 << G] = {};
                if constexpr (FORWARD && STEP == SUB_MUL) {
                    out = (u32*)operand(h, p.ops, PER_ITEM, 1u) + word;
                    device_load<G, GROUPED>(x, out, word_step);
                }
                ntt_finish<FORWARD, STEP>(q, f, v, x);
            }
            device_store<G, GROUPED>(v, out, word_step);
        } else {
            tile_store<G, GROUPED>(v, sh, at, step);
        }
    }
}

// A round of `levels` ≤ NTT_ROUND levels. Units of consecutive elements (grouped)
// come only at level distance 1 of a contiguous tile: a forward phase's
// last round, an inverse phase's first (the ones on device memory).
template <bool FORWARD, FusedStep STEP, bool FROM_DEVICE, bool TO_DEVICE>
__device__ __forceinline__ void ntt_round_of(u32 levels, bool grouped, u32* sh, const Header& h, const u32* tw,
                                             u32 tw_base, const Phase& p, u32 lo) {
    constexpr bool CAN_GROUP = FORWARD ? TO_DEVICE : FROM_DEVICE;
    if (NTT_ROUND >= 4u && levels == 4u) {
        if (CAN_GROUP && grouped) ntt_round<NTT_ROUND, FORWARD, STEP, CAN_GROUP, FROM_DEVICE, TO_DEVICE>(sh, h, tw, tw_base, p, lo);
        else ntt_round<NTT_ROUND, FORWARD, STEP, false, FROM_DEVICE, TO_DEVICE>(sh, h, tw, tw_base, p, lo);
    } else if (levels == 3u) {
        if (CAN_GROUP && grouped) ntt_round<3, FORWARD, STEP, CAN_GROUP, FROM_DEVICE, TO_DEVICE>(sh, h, tw, tw_base, p, lo);
        else ntt_round<3, FORWARD, STEP, false, FROM_DEVICE, TO_DEVICE>(sh, h, tw, tw_base, p, lo);
    } else if (levels == 2u) {
        if (CAN_GROUP && grouped) ntt_round<2, FORWARD, STEP, CAN_GROUP, FROM_DEVICE, TO_DEVICE>(sh, h, tw, tw_base, p, lo);
        else ntt_round<2, FORWARD, STEP, false, FROM_DEVICE, TO_DEVICE>(sh, h, tw, tw_base, p, lo);
    } else {
        ntt_round<1, FORWARD, STEP, false, FROM_DEVICE, TO_DEVICE>(sh, h, tw, tw_base, p, lo);
    }
}

// Every level of the phase, in rounds of NTT_ROUND (the remainder last),
// with a barrier between rounds.
template <bool FORWARD, FusedStep STEP>
__device__ __forceinline__ void ntt_phase(const Header& h, const u32* cst, const u32* tw, const Operands& ops) {
    __shared__ __align__(16) u32 sh[NTT_TILE];
    const u32 limb = h.limb_start + block_row(h);
    const u32 g = prime_of(h, limb);
    const Phase p{ops, cst, ntt_tile(h), g, limb, modulus(cst, g), h.arg[3] != 0u};
    const u32 m = h.arg[1], log_cols = h.arg[2];
    const u32 tw_base = g * 4u * h.n + (FORWARD ? 0u : 2u * h.n);
    for (u32 done = 0; done < m;) {
        const u32 levels = min(NTT_ROUND, m - done);
        // Forward levels run from distance 2^(m−1) down, inverse from 2^0 up.
        const u32 lo = FORWARD ? m - done - levels : done;
        const bool grouped = lo == 0u && log_cols == 0u;
        const bool first = done == 0u;
        done += levels;
        const bool last = done == m;
        if (first && last) ntt_round_of<FORWARD, STEP, true, true>(levels, grouped, sh, h, tw, tw_base, p, lo);
        else if (first) ntt_round_of<FORWARD, STEP, true, false>(levels, grouped, sh, h, tw, tw_base, p, lo);
        else if (last) ntt_round_of<FORWARD, STEP, false, true>(levels, grouped, sh, h, tw, tw_base, p, lo);
        else ntt_round_of<FORWARD, STEP, false, false>(levels, grouped, sh, h, tw, tw_base, p, lo);
        if (!last) __syncthreads();
    }
}

extern "C" __global__ void NTT_BOUNDS ntt_forward(Header h, const u32* cst, const u32* tw, const Operands ops) {
    ntt_phase<true, NONE>(h, cst, tw, ops);
}

extern "C" __global__ void NTT_BOUNDS ntt_inverse(Header h, const u32* cst, const u32* tw, const Operands ops) {
    ntt_phase<false, NONE>(h, cst, tw, ops);
}

extern "C" __global__ void NTT_BOUNDS ntt_inverse_prep(Header h, const u32* cst, const u32* tw, const Operands ops) {
    ntt_phase<false, PREP>(h, cst, tw, ops);
}

extern "C" __global__ void NTT_BOUNDS ntt_forward_sub_mul(Header h, const u32* cst, const u32* tw, const Operands ops) {
    ntt_phase<true, SUB_MUL>(h, cst, tw, ops);
}
