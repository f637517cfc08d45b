//! NVRTC compilation of the kernel families in `kernels/*.cu` to PTX for one
//! device architecture, with an on-disk cache keyed by the source, the NVRTC
//! version, the architecture and the options (SHA-256), under
//! `$XDG_CACHE_HOME/hetl/cuda` or `~/.cache/hetl/cuda`. Needs libnvrtc, not a
//! GPU: `tests/cuda_kernels_compile.rs` compiles every family in CI.

use std::path::PathBuf;

use cudarc::nvrtc::{CompileError, CompileOptions};
use sha2::{Digest, Sha256};

use crate::backend::{BackendError, Result};

/// Shared arithmetic and the launch header, prepended to every family.
const MODARITH: &str = include_str!("../../../kernels/modarith.cuh");

/// Every kernel family: file name under `kernels/` and source.
pub const FAMILIES: [(&str, &str); 7] = [
    ("ntt.cu", include_str!("../../../kernels/ntt.cu")),
    ("elementwise.cu", include_str!("../../../kernels/elementwise.cu")),
    ("tensor.cu", include_str!("../../../kernels/tensor.cu")),
    ("automorphism.cu", include_str!("../../../kernels/automorphism.cu")),
    ("keyswitch.cu", include_str!("../../../kernels/keyswitch.cu")),
    ("rescale.cu", include_str!("../../../kernels/rescale.cu")),
    ("basis_ext.cu", include_str!("../../../kernels/basis_ext.cu")),
];

/// Options besides the architecture: no FMA contraction, so that
/// `conv_overflow`'s f64 steps round exactly as the CPU's.
const OPTIONS: [&str; 2] = ["--fmad=false", "--std=c++17"];

/// Whether libnvrtc can be loaded; the reason when not.
pub fn nvrtc_available() -> Result<()> {
    // SAFETY: only tries to load the shared library; no NVRTC call is made.
    if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        Ok(())
    } else {
        Err(BackendError::DriverUnavailable {
            backend: "cuda",
            reason: "libnvrtc.so (CUDA 12 NVRTC) cannot be loaded: install the CUDA toolkit or the \
                     nvidia-cuda-nvrtc-cu12 wheel and put its lib folder on LD_LIBRARY_PATH"
                .into(),
        })
    }
}

/// The NVRTC version as (major, minor).
pub fn nvrtc_version() -> Result<(i32, i32)> {
    nvrtc_available()?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: the library is present (checked above); both pointers are valid.
    let status = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&raw mut major, &raw mut minor) };
    if status == cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS {
        Ok((major, minor))
    } else {
        Err(BackendError::DriverUnavailable { backend: "cuda", reason: format!("nvrtcVersion failed: {status:?}") })
    }
}

/// Compiles the family `name` (its source without the shared header) to
/// PTX for `arch` (e.g. `compute_80`); no cache. A compile error gives
/// [`BackendError::Kernel`] with NVRTC's log (locations count the
/// prepended header's lines, see `kernels/modarith.cuh`).
pub fn compile_ptx(name: &'static str, source: &str, arch: &str) -> Result<String> {
    nvrtc_available()?;
    let mut options: Vec<String> = OPTIONS.iter().map(|o| (*o).to_string()).collect();
    options.push(format!("--gpu-architecture={arch}"));
    let opts = CompileOptions { options, name: Some(name.to_string()), ..CompileOptions::default() };
    let ptx = cudarc::nvrtc::compile_ptx_with_opts(full_source(source), opts).map_err(|e| {
        let reason = match e {
            CompileError::CompileError { log, .. } => log.to_string_lossy().into_owned(),
            other => other.to_string(),
        };
        BackendError::Kernel { name, reason }
    })?;
    Ok(ptx.to_src())
}

/// The PTX of family `name` for `arch`, from the disk cache or compiled
/// (and then cached; a cache that cannot be read or written only costs a
/// compilation).
pub(super) fn cached_ptx(name: &'static str, source: &str, arch: &str) -> Result<String> {
    let (major, minor) = nvrtc_version()?;
    let mut hash = Sha256::new();
    for part in [full_source(source).as_str(), &format!("nvrtc {major}.{minor}"), arch, &OPTIONS.join(" ")] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let key: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let path = cache_dir().map(|d| d.join(format!("{}-{arch}-{key}.ptx", name.trim_end_matches(".cu"))));
    if let Some(ptx) = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
        return Ok(ptx);
    }
    let ptx = compile_ptx(name, source, arch)?;
    if let Some(path) = path {
        // Best effort: write a temporary file, then rename, so a concurrent
        // reader never sees half a file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = path.parent().is_some_and(|d| std::fs::create_dir_all(d).is_ok())
            && std::fs::write(&tmp, &ptx).is_ok()
            && std::fs::rename(&tmp, &path).is_ok();
        if !written {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    Ok(ptx)
}

fn full_source(source: &str) -> String {
    format!("{MODARITH}\n{source}")
}

/// `$XDG_CACHE_HOME/hetl/cuda`, else `$HOME/.cache/hetl/cuda`.
fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("hetl").join("cuda"))
}
