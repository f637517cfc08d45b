// Times OpenFHE's own compiled NTT of one RNS limb (forward to bit-reversed order and back).
// OpenFHE keeps residues in 64-bit words whatever the prime size; this is the code path its CKKS
// limbs take (NativeVector = NativeVectorT<NativeIntegerT<uint64_t>>).
//
// The openfhe wheel ships libOPENFHEcore.so.1 but no C++ headers, so this file declares the
// few pieces of OpenFHE's ABI it needs and binds them to the library's exported symbols
// (Itanium-mangled names of the 64-bit NativeVector instantiation, x86-64 Linux):
//   intnat::ChineseRemainderTransformFTTNat<NativeVector>::ForwardTransformToBitReverseInPlace
//   intnat::ChineseRemainderTransformFTTNat<NativeVector>::InverseTransformFromBitReverseInPlace
// both non-static members taking (this, const NativeInteger& root, usint cycloOrder,
// NativeVector* element). The transform keeps its tables in static maps, so `this` is unused.
// NativeVector is laid out as {vtable pointer, uint64_t modulus, std::vector<uint64_t> data}
// (NativeIntegerT<uint64_t> is a bare uint64_t). main() checks the transform against a naive
// negacyclic evaluation and the round trip before timing, so an ABI mismatch fails loudly.
//
// Build: g++ -O2 -std=c++17 bench_openfhe_ntt.cpp -L$LIB -l:libOPENFHEcore.so.1 -Wl,-rpath,$LIB
// Usage: bench_openfhe_ntt LOG_N PRIME_BITS SAMPLES
// Prints one line: "<prime> <forward median us> <inverse median us>".

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

struct NativeVector {
    const void* vptr;
    uint64_t modulus;
    std::vector<uint64_t> data;
};
static_assert(sizeof(NativeVector) == 40, "unexpected std::vector layout");

}  // namespace

#define OFHE_CRT_FTT "_ZN6intnat31ChineseRemainderTransformFTTNatINS_13NativeVectorTINS_14NativeIntegerTImEEEEE"
extern "C" {
extern const char ofhe_native_vector_vtable[] asm(
    "_ZTVN6intnat13NativeVectorTINS_14NativeIntegerTImEEEE");
void ofhe_forward_in_place(void* self, const uint64_t* root, unsigned cyclo_order, NativeVector* element) asm(
    OFHE_CRT_FTT "35ForwardTransformToBitReverseInPlaceERKS3_jPS4_");
void ofhe_inverse_in_place(void* self, const uint64_t* root, unsigned cyclo_order, NativeVector* element) asm(
    OFHE_CRT_FTT "37InverseTransformFromBitReverseInPlaceERKS3_jPS4_");
}

namespace {

uint64_t mul_mod(uint64_t a, uint64_t b, uint64_t q) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(a) * b % q);
}

uint64_t pow_mod(uint64_t base, uint64_t exp, uint64_t q) {
    uint64_t result = 1;
    for (; exp != 0; exp >>= 1) {
        if (exp & 1) result = mul_mod(result, base, q);
        base = mul_mod(base, base, q);
    }
    return result;
}

bool is_prime(uint64_t q) {
    if (q < 2) return false;
    for (uint64_t d = 2; d * d <= q; ++d)
        if (q % d == 0) return false;
    return true;
}

// Largest prime below 2^bits that is 1 mod 2n (so that a primitive 2n-th root of unity exists).
uint64_t ntt_prime(unsigned bits, uint64_t n) {
    uint64_t step = 2 * n;
    for (uint64_t q = ((uint64_t{1} << bits) - 1) / step * step + 1; q > step; q -= step)
        if (is_prime(q)) return q;
    std::fprintf(stderr, "no %u-bit prime = 1 mod %llu\n", bits, static_cast<unsigned long long>(step));
    std::exit(1);
}

// A primitive 2n-th root of unity mod q (n a power of two): psi^n = -1.
uint64_t primitive_root(uint64_t n, uint64_t q) {
    for (uint64_t g = 2; g < q; ++g) {
        uint64_t psi = pow_mod(g, (q - 1) / (2 * n), q);
        if (pow_mod(psi, n, q) == q - 1) return psi;
    }
    std::fprintf(stderr, "no primitive root mod %llu\n", static_cast<unsigned long long>(q));
    std::exit(1);
}

uint64_t bit_reverse(uint64_t x, unsigned bits) {
    uint64_t r = 0;
    for (unsigned i = 0; i < bits; ++i, x >>= 1) r = (r << 1) | (x & 1);
    return r;
}

// Output slot i of OpenFHE's forward transform holds a(psi^(2 * bitrev(i) + 1)).
void check_transform(const std::vector<uint64_t>& input, const NativeVector& output, uint64_t psi,
                     unsigned log_n) {
    const uint64_t q = output.modulus, n = input.size();
    for (uint64_t i : {uint64_t{0}, uint64_t{1}, n / 2 + 3, n - 1}) {
        uint64_t x = pow_mod(psi, 2 * bit_reverse(i, log_n) + 1, q), acc = 0;
        for (uint64_t j = n; j-- > 0;) acc = (mul_mod(acc, x, q) + input[j]) % q;
        if (output.data[i] != acc) {
            std::fprintf(stderr, "OpenFHE NTT output mismatch at slot %llu: ABI assumptions broken\n",
                         static_cast<unsigned long long>(i));
            std::exit(1);
        }
    }
}

template <typename F>
double median_us(unsigned samples, unsigned reps, F&& op) {
    std::vector<double> times;
    for (unsigned s = 0; s < samples; ++s) {
        auto start = std::chrono::steady_clock::now();
        for (unsigned r = 0; r < reps; ++r) op();
        std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - start;
        times.push_back(elapsed.count() / reps);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s LOG_N PRIME_BITS SAMPLES\n", argv[0]);
        return 2;
    }
    const unsigned log_n = std::atoi(argv[1]), bits = std::atoi(argv[2]), samples = std::atoi(argv[3]);
    const uint64_t n = uint64_t{1} << log_n;
    const uint64_t q = ntt_prime(bits, n), psi = primitive_root(n, q);
    const unsigned cyclo_order = 2 * n;

    std::mt19937_64 rng(1);
    std::vector<uint64_t> input(n);
    for (auto& x : input) x = rng() % q;
    NativeVector vec{ofhe_native_vector_vtable + 16, q, input};
    char transform;  // stands in for the stateless ChineseRemainderTransformFTTNat object

    ofhe_forward_in_place(&transform, &psi, cyclo_order, &vec);  // also builds OpenFHE's tables
    check_transform(input, vec, psi, log_n);
    ofhe_inverse_in_place(&transform, &psi, cyclo_order, &vec);
    if (vec.data != input) {
        std::fprintf(stderr, "OpenFHE NTT round trip failed: ABI assumptions broken\n");
        return 1;
    }

    // About 50 ms of work per sample keeps the clock resolution irrelevant.
    const unsigned reps = std::max<unsigned>(1, (200u << 14) >> log_n);
    double forward = median_us(samples, reps, [&] { ofhe_forward_in_place(&transform, &psi, cyclo_order, &vec); });
    double inverse = median_us(samples, reps, [&] { ofhe_inverse_in_place(&transform, &psi, cyclo_order, &vec); });
    std::printf("%llu %.3f %.3f\n", static_cast<unsigned long long>(q), forward, inverse);
    return 0;
}
