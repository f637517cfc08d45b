//! Per-limb NTT and limb-op throughput for every CPU variant this machine
//! runs. Groups `math/ntt_forward`, `math/ntt_inverse`, `math/limb_<op>`;
//! ids `<variant>/n<N>`; throughput in words (one limb of N words; the sums
//! `mul_sum` and `mul_scalar_sum` count output words).
//!
//! `cargo bench --bench ntt [-- <filter>]`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hetl::math::limb_ops::{self, SUM_BLOCK, SumBlock, Variant};
use hetl::math::primes::ntt_primes_below;
use hetl::math::{Modulus, NttTable};
use std::hint::black_box;
use std::time::Duration;

const LOG_NS: [u32; 3] = [14, 15, 16];

fn variants() -> impl Iterator<Item = Variant> {
    Variant::ALL.into_iter().filter(|v| v.is_available())
}

fn name(v: Variant) -> String {
    format!("{v:?}").to_lowercase()
}

/// The largest 30-bit prime that supports every N benchmarked.
fn modulus() -> Modulus {
    let q = ntt_primes_below(30, 2 << LOG_NS[LOG_NS.len() - 1]).next().expect("a 30-bit NTT prime");
    Modulus::new(q).expect("prime below 2^30")
}

/// `n` pseudo-random residues below q.
fn limb(m: &Modulus, n: usize, seed: u64) -> Vec<u32> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % u64::from(m.value())) as u32
        })
        .collect()
}

fn ntt(c: &mut Criterion) {
    let m = modulus();
    for (group_name, inverse) in [("math/ntt_forward", false), ("math/ntt_inverse", true)] {
        let mut group = c.benchmark_group(group_name);
        for log_n in LOG_NS {
            let table = NttTable::new(m, log_n);
            let n = table.n();
            group.throughput(Throughput::Elements(n as u64));
            let input = limb(&m, n, 1);
            for v in variants() {
                // Each iteration transforms the previous output: inputs stay in [0, q).
                let mut a = input.clone();
                group.bench_function(BenchmarkId::new(name(v), format!("n{n}")), |b| {
                    b.iter(|| {
                        if inverse {
                            table.inverse_with(v, black_box(&mut a));
                        } else {
                            table.forward_with(v, black_box(&mut a));
                        }
                    });
                });
            }
        }
        group.finish();
    }
}

fn limb_loops(c: &mut Criterion) {
    type Assign = fn(Variant, &Modulus, &mut [u32], &[u32]);
    let m = modulus();
    let n = 1 << 16;
    let (a, b) = (limb(&m, n, 2), limb(&m, n, 3));
    let mut x = a.clone();
    let mut bench = |op: &str, f: &mut dyn FnMut(Variant)| {
        let mut group = c.benchmark_group(format!("math/limb_{op}"));
        group.throughput(Throughput::Elements(n as u64));
        for v in variants() {
            group.bench_function(BenchmarkId::new(name(v), format!("n{n}")), |bench| bench.iter(|| f(v)));
        }
        group.finish();
    };
    let assign: [(&str, Assign); 3] = [
        ("mul_assign", limb_ops::mul_assign_with),
        ("add_assign", limb_ops::add_assign_with),
        ("sub_assign", limb_ops::sub_assign_with),
    ];
    // Each iteration updates the previous output: inputs stay in [0, q).
    for (op, f) in assign {
        bench(op, &mut |v| f(v, &m, black_box(&mut x), black_box(&b)));
    }
    let w = b[0];
    bench("mul_scalar_inplace", &mut |v| limb_ops::mul_scalar_inplace_with(v, &m, black_box(&mut x), w));
    bench("sub_mul_scalar_assign", &mut |v| limb_ops::sub_mul_scalar_assign_with(v, &m, black_box(&mut x), &b, w));
    let [mut o0, mut o1, mut o2] = [(); 3].map(|()| vec![0u32; n]);
    bench("tensor", &mut |v| {
        limb_ops::tensor_with(v, &m, [black_box(&a), &b], [&b, &a], [&mut o0, &mut o1, &mut o2]);
    });
    // The key-switching inner product of 3 digits (dnum 3).
    let rows: Vec<Vec<u32>> = (0..6).map(|k| limb(&m, n, 10 + k)).collect();
    let (digits, keys): (Vec<&[u32]>, Vec<&[u32]>) =
        (rows[..3].iter().map(|r| &r[..]).collect(), rows[3..].iter().map(|r| &r[..]).collect());
    bench("mul_sum", &mut |v| limb_ops::mul_sum_with(v, &m, black_box(&digits), &keys, &mut o0));
    // One target of a basis conversion from 14 sources (n16: alpha 14).
    let terms = 14;
    let blocks: Vec<SumBlock> =
        (0..n / SUM_BLOCK * terms).map(|k| SumBlock(std::array::from_fn(|l| a[(k * SUM_BLOCK + l) % n]))).collect();
    let consts: Vec<u32> = b[..terms].to_vec();
    bench("mul_scalar_sum", &mut |v| limb_ops::mul_scalar_sum_with(v, &m, black_box(&blocks), &consts, &mut o0));
    let from = ntt_primes_below(30, 2 << LOG_NS[LOG_NS.len() - 1]).nth(1).expect("a second 30-bit NTT prime");
    let from_limb = limb(&Modulus::new(from).expect("prime below 2^30"), n, 4);
    bench("center_lift", &mut |v| limb_ops::center_lift_with(v, &m, from, black_box(&from_limb), &mut o0));
    let perm = hetl::backend::cpu::ntt_automorphism_permutation(16, 5);
    bench("permute", &mut |v| limb_ops::permute_with(v, black_box(&a), &perm, &mut o0));
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = ntt, limb_loops
}
criterion_main!(benches);
