//! Differential tests: the wgpu backend against the CPU reference, bit for
//! bit (the suite in `common/backend_diff.rs`).
//!
//! Without any wgpu adapter the tests print why and pass (install
//! `mesa-vulkan-drivers` for the lavapipe software device), unless
//! `HETL_REQUIRE_WGPU` is set, as CI does. With
//! `WGPU_BACKEND=vulkan` they also check that the adapter really is Vulkan.

#[path = "common/backend_diff.rs"]
mod backend_diff;

use std::sync::Arc;

use hetl::backend::wgpu::WgpuBackend;

use backend_diff::Target;

static WGPU: Target = Target {
    name: "wgpu",
    missing: "no wgpu adapter",
    require_env: "HETL_REQUIRE_WGPU",
    hint: "install mesa-vulkan-drivers",
    open: |ring| {
        let b = WgpuBackend::new(ring)?;
        check_requested_backend(&b);
        Ok(Arc::new(b))
    },
};

/// With `WGPU_BACKEND=vulkan` the adapter must be Vulkan, not a fallback.
fn check_requested_backend(b: &WgpuBackend) {
    let info = b.adapter_info();
    let wanted = std::env::var("WGPU_BACKEND").unwrap_or_default().to_ascii_lowercase();
    if matches!(wanted.as_str(), "vulkan" | "vk") {
        assert_eq!(info.backend, wgpu::Backend::Vulkan, "WGPU_BACKEND=vulkan but got {info:?}");
    }
    eprintln!("wgpu adapter: {} ({:?}, {:?})", info.name, info.backend, info.device_type);
}

backend_diff_tests!(WGPU);

/// A batched call runs each step once for the whole batch: the NTT of 64
/// one-limb polynomials (one phase at N = 1024) and the rescale of 64
/// ciphertext halves take as many dispatches as for one polynomial, and the
/// results still equal the CPU backend's word for word.
#[test]
fn batched_steps_merge_into_one_dispatch() {
    use hetl::backend::cpu::CpuBackend;
    use hetl::backend::{Backend, BackendError, Basis};
    use hetl::math::sampling::Csprng;

    let ring = hetl::ckks::preset("toy-n1024").expect("preset").ring().clone();
    let gpu = match WgpuBackend::new(ring.clone()) {
        Ok(b) => b,
        Err(BackendError::DriverUnavailable { reason, .. }) => {
            assert!(std::env::var_os("HETL_REQUIRE_WGPU").is_none(), "HETL_REQUIRE_WGPU is set: {reason}");
            eprintln!("skipped: no wgpu adapter ({reason})");
            return;
        }
        Err(e) => panic!("wgpu backend: {e}"),
    };
    let cpu = CpuBackend::new(ring.clone(), 1).expect("cpu backend");
    let mut rng = Csprng::from_seed([7; 32]);
    let n = ring.n();
    let limbs = ring.q.len();
    let words = |limbs: usize, rng: &mut Csprng| -> Vec<u32> {
        (0..limbs * n).map(|i| rng.uniform_mod(&ring.q[i / n])).collect()
    };
    // Dispatches of `run` on one polynomial, then on 64.
    let mut count = |batch: usize, polys_limbs: usize, run: &dyn Fn(&dyn Backend, &mut [&mut _])| -> u64 {
        let data: Vec<Vec<u32>> = (0..batch).map(|_| words(polys_limbs, &mut rng)).collect();
        let upload = |b: &dyn Backend| -> Vec<_> {
            data.iter().map(|d| b.upload(Basis::q(polys_limbs), d).expect("upload")).collect()
        };
        let (mut on_gpu, mut on_cpu) = (upload(&gpu), upload(&cpu));
        let before = gpu.dispatches();
        run(&gpu, &mut on_gpu.iter_mut().collect::<Vec<_>>());
        let dispatches = gpu.dispatches() - before;
        run(&cpu, &mut on_cpu.iter_mut().collect::<Vec<_>>());
        for (g, c) in on_gpu.iter().zip(&on_cpu) {
            assert_eq!(gpu.download(g).expect("download"), cpu.download(c).expect("download"));
        }
        dispatches
    };
    let ntt = |b: &dyn Backend, p: &mut [&mut _]| b.ntt_forward(p).expect("ntt");
    assert_eq!(count(64, 1, &ntt), count(1, 1, &ntt), "batched NTT dispatches");
    let rescale = |b: &dyn Backend, p: &mut [&mut _]| b.rescale(p, 1).expect("rescale");
    let (one, many) = (count(1, limbs, &rescale), count(64, limbs, &rescale));
    assert_eq!(many, one, "batched rescale dispatches");
    assert!(one >= 4, "rescale takes at least 4 steps, counted {one}");
}
