// host_emulation.hpp — the CUDA C that kernels/*.cu use, for a host C++
// compiler: the CUDA backend's emulated device (src/backend/cuda/emulator.rs)
// compiles this, modarith.cuh and every family into one shared library, so
// the backend's launch plans and the kernels' arithmetic are tested without
// a GPU (tests/cuda_emulated_diff.rs).
//
// What differs from a GPU, and why the results are still the kernels' own:
//   - The kernels without barriers (all but the NTT) run their blocks and
//     threads one after another on the calling thread: their threads share
//     nothing.
//   - The NTT synchronizes (__syncthreads between its rounds). It is built
//     with NTT_WG = 4 and each block runs on 4 host threads with a real
//     barrier, so the kernel's split of units over threads (`u += NTT_WG`)
//     and its barriers are exercised; blocks run one at a time in the
//     process (its __shared__ tile is one static array).
//   - IEEE binary64 products and sums round to nearest as __dmul_rn and
//     __dadd_rn (the library is built with -ffp-contract=off: no FMA).

#include <math.h>
#include <string.h>

#include <barrier>

struct dim3 {
    unsigned x, y, z;
};

static thread_local dim3 threadIdx, blockIdx;

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static

// The barrier of the block this host thread runs a thread of (none outside the NTT).
static thread_local std::barrier<>* hetl_emu_barrier = nullptr;

static inline void __syncthreads() {
    if (hetl_emu_barrier != nullptr) hetl_emu_barrier->arrive_and_wait();
}

struct alignas(8) uint2 {
    unsigned x, y;
};

struct alignas(16) uint4 {
    unsigned x, y, z, w;
};

#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(threads, blocks)

static inline unsigned __umulhi(unsigned a, unsigned b) {
    return (unsigned)(((unsigned long long)a * b) >> 32);
}

static inline unsigned __brev(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 32; i++) {
        r = (r << 1) | ((x >> i) & 1u);
    }
    return r;
}

static inline double __hiloint2double(int hi, int lo) {
    const unsigned long long bits = ((unsigned long long)(unsigned)hi << 32) | (unsigned)lo;
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
