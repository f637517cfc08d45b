//! Per-limb NTT and limb-op throughput for every CPU variant this machine
//! runs. Groups `math/ntt_forward`, `math/ntt_inverse`, `math/limb_<op>`;
//! ids `<variant>/n<N>`; throughput in words (one limb of N words).
//!
//! `cargo bench --bench ntt [-- <filter>]`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hetl::math::limb_ops::{self, Variant};
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
    type Binary = fn(Variant, &Modulus, &[u32], &[u32], &mut [u32]);
    let m = modulus();
    let n = 1 << 16;
    let (a, b) = (limb(&m, n, 2), limb(&m, n, 3));
    let mut out = vec![0u32; n];
    let mut acc = vec![0u64; n];
    let binary: [(&str, Binary); 3] =
        [("limb_mul", limb_ops::mul_with), ("limb_add", limb_ops::add_with), ("limb_sub", limb_ops::sub_with)];
    for (op, f) in binary {
        let mut group = c.benchmark_group(format!("math/{op}"));
        group.throughput(Throughput::Elements(n as u64));
        for v in variants() {
            group.bench_function(BenchmarkId::new(name(v), format!("n{n}")), |bench| {
                bench.iter(|| f(v, &m, black_box(&a), black_box(&b), &mut out));
            });
        }
        group.finish();
    }
    let w = b[0];
    let mut group = c.benchmark_group("math/limb_mul_scalar_inplace");
    group.throughput(Throughput::Elements(n as u64));
    for v in variants() {
        let mut x = a.clone();
        group.bench_function(BenchmarkId::new(name(v), format!("n{n}")), |bench| {
            bench.iter(|| limb_ops::mul_scalar_inplace_with(v, &m, black_box(&mut x), w));
        });
    }
    group.finish();
    let mut group = c.benchmark_group("math/limb_sub_mul_scalar");
    group.throughput(Throughput::Elements(n as u64));
    for v in variants() {
        group.bench_function(BenchmarkId::new(name(v), format!("n{n}")), |bench| {
            bench.iter(|| limb_ops::sub_mul_scalar_with(v, &m, black_box(&a), black_box(&b), w, &mut out));
        });
    }
    group.finish();
    let mut group = c.benchmark_group("math/limb_mul_acc_u64");
    group.throughput(Throughput::Elements(n as u64));
    for v in variants() {
        group.bench_function(BenchmarkId::new(name(v), format!("n{n}")), |bench| {
            bench.iter(|| limb_ops::mul_acc_u64_with(v, black_box(&mut acc), black_box(&a), black_box(&b)));
        });
    }
    group.finish();
    let mut group = c.benchmark_group("math/limb_mul_scalar_acc_u64");
    group.throughput(Throughput::Elements(n as u64));
    for v in variants() {
        group.bench_function(BenchmarkId::new(name(v), format!("n{n}")), |bench| {
            bench.iter(|| limb_ops::mul_scalar_acc_u64_with(v, black_box(&mut acc), black_box(&a), w));
        });
    }
    group.finish();
    let mut group = c.benchmark_group("math/limb_reduce_u64");
    group.throughput(Throughput::Elements(n as u64));
    for v in variants() {
        group.bench_function(BenchmarkId::new(name(v), format!("n{n}")), |bench| {
            bench.iter(|| limb_ops::reduce_u64_with(v, &m, black_box(&acc), &mut out));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = ntt, limb_loops
}
criterion_main!(benches);
