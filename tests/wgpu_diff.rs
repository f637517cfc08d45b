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
