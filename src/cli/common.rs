//! Options and helpers shared by several subcommands.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::ValueEnum;

use crate::backend::cuda::CudaBackend;
use crate::backend::wgpu::WgpuBackend;
use crate::ckks::{Context, Params, preset};

/// Compute backends selectable with `--backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// The CPU reference backend.
    Cpu,
    /// WGSL compute shaders on any Vulkan/Metal/DX12 adapter (`WGPU_BACKEND` selects one).
    Wgpu,
    /// CUDA kernels (NVRTC-compiled at first use) on NVIDIA GPU 0.
    Cuda,
}

/// Loads a preset by name, warning on stderr when it is insecure.
pub fn load_preset(name: &str) -> Result<Arc<Params>> {
    let params = preset(name).with_context(|| format!("cannot load preset {name:?}"))?;
    warn_if_toy(&params);
    Ok(Arc::new(params))
}

/// Prints the INSECURE banner for `toy-*` parameter sets.
pub fn warn_if_toy(params: &Params) {
    if params.is_toy() {
        eprintln!("warning: parameter set {} is INSECURE (toy parameters, for tests only)", params.name());
    }
}

/// With this variable set to 1, `--backend cuda` runs the CUDA backend on
/// the emulated device (its kernels compiled by the host's C++ compiler and
/// run on the CPU): for testing the CUDA paths without a GPU; slow.
pub const CUDA_EMULATE_ENV: &str = "HETL_CUDA_EMULATE";

/// `mib` MiB in bytes, for the flag `flag` (an error where it overflows).
pub fn mib_to_bytes(mib: usize, flag: &str) -> Result<usize> {
    mib.checked_mul(1 << 20).with_context(|| format!("{flag} {mib} is too large"))
}

/// Parses `--threads`: a count, or 0 for every core this process may use.
pub fn parse_threads(arg: &str) -> Result<usize, String> {
    match arg.parse::<usize>().map_err(|e| format!("{arg:?} is not a thread count: {e}"))? {
        0 => std::thread::available_parallelism()
            .map(usize::from)
            .map_err(|e| format!("--threads 0 (every core): cannot count the cores: {e}")),
        n => Ok(n),
    }
}

/// `--backend` and `--threads`, shared by every command that computes on
/// ciphertexts.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct ExecArgs {
    /// Backend to run on (the compute party's).
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendChoice,
    /// Worker threads of the CPU backend, and host threads that encode
    /// plaintexts on every backend (1 = single-threaded, 0 = every core).
    #[arg(long, default_value_t = 1, value_parser = parse_threads)]
    pub threads: usize,
}

impl ExecArgs {
    /// A CKKS context on the chosen backend; `threads` are the CPU backend's
    /// workers and, on every backend, the host threads that encode plaintexts.
    pub fn context(&self, params: Arc<Params>) -> Result<Context> {
        let threads = self.threads;
        match self.backend {
            BackendChoice::Cpu => Context::cpu(params, threads).context("cannot start the CPU backend"),
            BackendChoice::Wgpu => {
                let backend = WgpuBackend::new(params.ring().clone()).context("cannot start the wgpu backend")?;
                let ctx = Context::new(params, Arc::new(backend)).context("cannot start the wgpu backend")?;
                ctx.with_host_threads(threads).context("cannot start the host threads")
            }
            BackendChoice::Cuda => {
                let backend = if std::env::var_os(CUDA_EMULATE_ENV).is_some_and(|v| v == "1") {
                    CudaBackend::emulated(params.ring().clone()).context("cannot start the emulated CUDA device")?
                } else {
                    CudaBackend::new(params.ring().clone(), 0).context("cannot start the CUDA backend")?
                };
                let ctx = Context::new(params, Arc::new(backend)).context("cannot start the CUDA backend")?;
                ctx.with_host_threads(threads).context("cannot start the host threads")
            }
        }
    }
}
