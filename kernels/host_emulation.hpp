// host_emulation.hpp — the CUDA C that kernels/*.cu use, for a host C++
// compiler: the CUDA backend's emulated device (src/backend/cuda/emulator.rs)
// compiles this, modarith.cuh and every family into one shared library and
// runs each launch's blocks and threads one after another on the calling
// thread, so the backend's launch plans and the kernels' arithmetic are
// tested without a GPU (tests/cuda_emulated_diff.rs).
//
// What differs from a GPU, and why the results are still the kernels' own:
//   - threads of a block run one after the other. Only the NTT synchronizes
//     (__syncthreads between its rounds); it is compiled with NTT_WG = 1, so
//     one thread per block takes every unit of every round in the kernel's
//     own loop (`u += NTT_WG`), and the barriers are no-ops. Each unit of a
//     round reads and writes its own shared words, so the order of units does
//     not change any word.
//   - __shared__ arrays are static thread_local (one block runs at a time per
//     host thread; tests run launches on several host threads at once).
//   - IEEE binary64 products and sums round to nearest as __dmul_rn and
//     __dadd_rn (the library is built with -ffp-contract=off: no FMA).

#include <math.h>

struct dim3 {
    unsigned x, y, z;
};

static thread_local dim3 threadIdx, blockIdx;

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static thread_local
#define __syncthreads() ((void)0)

struct alignas(8) uint2 {
    unsigned x, y;
};

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

static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
