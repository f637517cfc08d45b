//! NVRTC compilation of the kernel families in `kernels/*.cu`: to a CUBIN
//! for the device's real architecture (`sm_90`), which the backend loads,
//! or to PTX for a virtual one (`compute_90`). The backend uses CUBINs
//! because a driver older than NVRTC cannot JIT its PTX, while CUDA 12's
//! minor-version compatibility lets it load the CUBIN. CUBINs are cached on
//! disk keyed by the source, the NVRTC version, the architecture and the
//! options (SHA-256), under `$XDG_CACHE_HOME/hetl/cuda` or
//! `~/.cache/hetl/cuda`. Needs libnvrtc, not a GPU:
//! `tests/cuda_kernels_compile.rs` compiles every family in CI.

use std::ffi::{CString, c_char};
use std::path::PathBuf;

use cudarc::nvrtc::{result, sys};
use sha2::{Digest, Sha256};

use crate::backend::{BackendError, Result};

/// Shared arithmetic and the launch header, prepended to every family.
pub(super) const MODARITH: &str = include_str!("../../../kernels/modarith.cuh");

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

/// The compile-time switches of kernel variants that `HETL_CUDA_DEFINES`
/// may set (name, what it selects), so that a variant can be measured
/// against the default in one run on one GPU. Each is 0 by default.
pub const KERNEL_SWITCHES: [(&str, &str); 1] =
    [("NTT_WIDE", "ntt.cu: a 4096-word NTT tile and rounds of up to four levels (fewer rounds and barriers)")];

/// The environment variable of [`kernel_switches`].
pub const SWITCHES_VAR: &str = "HETL_CUDA_DEFINES";

/// The `-DNAME=VALUE` compiler options that `HETL_CUDA_DEFINES` asks for:
/// space-separated `NAME=VALUE` pairs, each NAME one of
/// [`KERNEL_SWITCHES`] and each VALUE an unsigned integer. Unset or empty:
/// none. Anything else is an error, so a mistyped switch never runs the
/// default unnoticed.
pub fn kernel_switches() -> Result<Vec<String>> {
    parse_switches(&std::env::var(SWITCHES_VAR).unwrap_or_default())
}

/// The `-D` options of `text` in the syntax of `HETL_CUDA_DEFINES`.
pub(super) fn parse_switches(text: &str) -> Result<Vec<String>> {
    let error = |reason: String| BackendError::InvalidArgument { op: SWITCHES_VAR, reason };
    let known = || KERNEL_SWITCHES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    text.split_whitespace()
        .map(|pair| {
            let (name, value) = pair.split_once('=').ok_or_else(|| error(format!("`{pair}` is not NAME=VALUE")))?;
            if !KERNEL_SWITCHES.iter().any(|(n, _)| *n == name) {
                return Err(error(format!("unknown kernel switch `{name}` (known: {})", known())));
            }
            let value: u32 =
                value.parse().map_err(|_| error(format!("{name}: `{value}` is not an unsigned integer")))?;
            Ok(format!("-D{name}={value}"))
        })
        .collect()
}

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

/// What NVRTC should hand back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    /// PTX text (any architecture).
    Ptx,
    /// Machine code (a real architecture `sm_XY` only).
    Cubin,
}

/// An NVRTC program, destroyed on drop.
struct Program(sys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by nvrtcCreateProgram and destroyed only here. A
        // failure to destroy only leaks the program.
        let _ = unsafe { result::destroy_program(self.0) };
    }
}

/// Compiles the family `name` (its source without the shared header) for
/// `arch` with the `-D` options `switches`; a compile error gives
/// [`BackendError::Kernel`] with NVRTC's log (locations count the prepended
/// header's lines, see `kernels/modarith.cuh`).
fn compile(name: &'static str, source: &str, arch: &str, switches: &[String], output: Output) -> Result<Vec<u8>> {
    nvrtc_available()?;
    let error = |reason: String| BackendError::Kernel { name, reason };
    let c_source = CString::new(full_source(source)).map_err(|_| error("the source holds a NUL byte".into()))?;
    let c_name = CString::new(name).map_err(|_| error("the name holds a NUL byte".into()))?;
    let program = Program(result::create_program(&c_source, Some(&c_name)).map_err(|e| error(format!("{e:?}")))?);
    let mut options: Vec<String> = OPTIONS.iter().map(|o| (*o).to_string()).collect();
    options.push(format!("--gpu-architecture={arch}"));
    options.extend_from_slice(switches);
    // SAFETY: a live program and valid option strings.
    if let Err(e) = unsafe { result::compile_program(program.0, &options) } {
        // SAFETY: a live program.
        let log = unsafe { result::get_program_log(program.0) }.map_or_else(|e| format!("{e:?}"), |l| text(&l));
        return Err(error(format!("{e:?}\n{log}")));
    }
    match output {
        // SAFETY: a live, compiled program.
        Output::Ptx => unsafe { result::get_ptx(program.0) }.map(|p| text(&p).into_bytes()),
        Output::Cubin => {
            let mut size = 0usize;
            let mut cubin = Vec::new();
            // SAFETY: a live, compiled program; the buffer holds `size` bytes.
            unsafe {
                sys::nvrtcGetCUBINSize(program.0, &raw mut size).result().and_then(|()| {
                    cubin.resize(size, 0u8);
                    sys::nvrtcGetCUBIN(program.0, cubin.as_mut_ptr().cast::<c_char>()).result()
                })
            }
            .map(|()| cubin)
        }
    }
    .map_err(|e| error(format!("reading the output: {e:?}")))
}

/// A NUL-terminated C string from NVRTC as text.
fn text(bytes: &[c_char]) -> String {
    let bytes: Vec<u8> = bytes.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// PTX of the family `name` for the virtual architecture `arch` (e.g.
/// `compute_90`); no cache. See [`compile_cubin`] for errors.
pub fn compile_ptx(name: &'static str, source: &str, arch: &str, switches: &[String]) -> Result<String> {
    compile(name, source, arch, switches, Output::Ptx).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// CUBIN of the family `name` (its source without the shared header) for
/// the real architecture `arch` (e.g. `sm_90`) with the `-D` options
/// `switches` ([`kernel_switches`]); no cache. A compile error gives
/// [`BackendError::Kernel`] with NVRTC's log.
pub fn compile_cubin(name: &'static str, source: &str, arch: &str, switches: &[String]) -> Result<Vec<u8>> {
    compile(name, source, arch, switches, Output::Cubin)
}

/// The CUBIN of family `name` for `arch` and `switches`, from the disk
/// cache or compiled (and then cached; a cache that cannot be read or
/// written only costs a compilation).
pub(super) fn cached_cubin(name: &'static str, source: &str, arch: &str, switches: &[String]) -> Result<Vec<u8>> {
    let (major, minor) = nvrtc_version()?;
    let mut hash = Sha256::new();
    let options = [&OPTIONS[..], &switches.iter().map(String::as_str).collect::<Vec<_>>()].concat().join(" ");
    for part in [full_source(source).as_str(), &format!("nvrtc {major}.{minor}"), arch, &options] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let key: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let path = cache_dir().map(|d| d.join(format!("{}-{arch}-{key}.cubin", name.trim_end_matches(".cu"))));
    if let Some(cubin) = path.as_ref().and_then(|p| std::fs::read(p).ok()) {
        return Ok(cubin);
    }
    let cubin = compile_cubin(name, source, arch, switches)?;
    if let Some(path) = path {
        // Best effort: write a temporary file, then rename, so a concurrent
        // reader never sees half a file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = path.parent().is_some_and(|d| std::fs::create_dir_all(d).is_ok())
            && std::fs::write(&tmp, &cubin).is_ok()
            && std::fs::rename(&tmp, &path).is_ok();
        if !written {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    Ok(cubin)
}

fn full_source(source: &str) -> String {
    format!("{MODARITH}\n{source}")
}

/// `$XDG_CACHE_HOME/hetl/cuda`, else `$HOME/.cache/hetl/cuda`.
pub(super) fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("hetl").join("cuda"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_switches_parse_to_defines_and_refuse_the_rest() {
        assert_eq!(parse_switches("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_switches(" NTT_WIDE=1 ").unwrap(), ["-DNTT_WIDE=1"]);
        for (bad, says) in [
            ("NTT_WIDE", "not NAME=VALUE"),
            ("NTT_WID=1", "unknown kernel switch `NTT_WID` (known: NTT_WIDE)"),
            ("NTT_WIDE=yes", "not an unsigned integer"),
            ("NTT_WIDE=1 NTT_WG=4", "unknown kernel switch `NTT_WG`"),
        ] {
            let err = parse_switches(bad).expect_err(bad).to_string();
            assert!(err.starts_with("HETL_CUDA_DEFINES: ") && err.contains(says), "{bad}: {err}");
        }
    }
}
