//! `hetl devices`: the compute devices hetl can use, and why one cannot.

use anyhow::Result;

use crate::backend::BackendError;
use crate::backend::cuda::{
    COPY_STREAM_VAR, SWITCHES_VAR, copy_stream_requested, kernel_switches, list_devices, nvrtc_version,
};
use crate::backend::wgpu::list_adapters;
use crate::math::limb_ops::Variant;

/// Arguments of `hetl devices`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `hetl devices`.
pub fn run(_: &Args) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!("cpu   available: {threads} hardware threads, SIMD {:?} (--backend cpu [--threads T])", Variant::best());
    let adapters = list_adapters();
    if adapters.is_empty() {
        println!(
            "wgpu  unavailable: no Vulkan/Metal/DX12 adapter (on Linux without a GPU: apt-get install mesa-vulkan-drivers)"
        );
    }
    for a in adapters {
        let i = &a.info;
        let usable = if a.compute { "available" } else { "unusable (no compute shaders)" };
        let timestamps = if a.timestamps { ", GPU timestamps" } else { "" };
        println!(
            "wgpu  {usable}: {} ({:?}, {:?}, driver {} {}), storage binding {} MiB, workgroup memory {} KiB{timestamps}",
            i.name,
            i.device_type,
            i.backend,
            i.driver,
            i.driver_info,
            a.max_storage_binding >> 20,
            a.workgroup_memory >> 10
        );
    }
    print_cuda();
    Ok(())
}

/// The `cuda` lines: one per device, or why CUDA cannot be used; then the
/// kernel switches `HETL_CUDA_DEFINES` asks for and whether uploads get a
/// copy stream (`HETL_CUDA_COPY_STREAM`), or what is wrong with them.
fn print_cuda() {
    let unavailable = |e: BackendError| match e {
        BackendError::DriverUnavailable { reason, .. } => reason,
        other => other.to_string(),
    };
    match list_devices() {
        Err(e) => println!("cuda  unavailable: {}", unavailable(e)),
        Ok(devices) if devices.is_empty() => println!("cuda  unavailable: the driver reports no CUDA device"),
        Ok(devices) => {
            let nvrtc = nvrtc_version().map_or_else(unavailable, |(major, minor)| format!("{major}.{minor}"));
            for d in devices {
                let (major, minor) = d.compute_capability;
                let (driver_major, driver_minor) = d.driver;
                println!(
                    "cuda  available: device {}: {} (compute {major}.{minor}, {} MiB), driver for CUDA {driver_major}.{driver_minor}, NVRTC {nvrtc} (--backend cuda)",
                    d.ordinal,
                    d.name,
                    d.total_memory >> 20
                );
            }
        }
    }
    match kernel_switches() {
        Ok(switches) if switches.is_empty() => {}
        Ok(switches) => println!("cuda  kernel switches ({SWITCHES_VAR}): {}", switches.join(" ")),
        Err(e) => println!("cuda  {e}"),
    }
    match copy_stream_requested() {
        Ok(false) => {}
        Ok(true) => println!("cuda  copy stream ({COPY_STREAM_VAR}=1): uploads overlap the kernels queued before them"),
        Err(e) => println!("cuda  {e}"),
    }
}
