//! Criterion benchmarks of CKKS operations on the CPU backend, single thread.
//! Preset from `HETL_BENCH_PRESET` (default `n14`; use `n16` for the figures
//! compared with OpenFHE).

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use hetl::ckks::{Context, preset};
use hetl::math::sampling::Csprng;

fn ckks_ops(c: &mut Criterion) {
    let name = std::env::var("HETL_BENCH_PRESET").unwrap_or_else(|_| "n14".into());
    let params = Arc::new(preset(&name).expect("preset"));
    let ctx = Context::cpu(params.clone(), 1).expect("context");
    let mut rng = Csprng::from_seed([7; 32]);
    let keys = ctx.gen_keys(&[1], false, &mut rng).expect("keys");
    let (pk, evk) = (&keys.public, &keys.eval);
    let top = params.max_level();
    let values: Vec<f64> = (0..params.max_slots()).map(|i| (i as f64).sin()).collect();
    let pt = ctx.encode_real(&values, top).expect("encode");
    let a = ctx.encrypt(&pt, pk, &mut rng).expect("encrypt");
    let b = ctx.encrypt(&pt, pk, &mut rng).expect("encrypt");
    // Rescale divides products (scale Δ²); a fresh ciphertext is refused.
    let ab = ctx.mul_relin(&a, &b, evk).expect("mul_relin");

    let mut group = c.benchmark_group(format!("ckks/{name}"));
    group.sample_size(10);
    group.bench_function("mul_relin", |bench| bench.iter(|| ctx.mul_relin(&a, &b, evk).expect("mul_relin")));
    group.bench_function("rotate", |bench| bench.iter(|| ctx.rotate(&a, 1, evk).expect("rotate")));
    group.bench_function("rescale", |bench| bench.iter(|| ctx.rescale(&ab).expect("rescale")));
    group.bench_function("add", |bench| bench.iter(|| ctx.add(&a, &b).expect("add")));
    group.finish();
}

criterion_group!(benches, ckks_ops);
criterion_main!(benches);
