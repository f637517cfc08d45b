//! Compiles every CUDA kernel family in `kernels/*.cu` with NVRTC, to PTX
//! and to the CUBINs the backend loads:
//! no GPU or driver needed, only libnvrtc (CI downloads the
//! `nvidia-cuda-nvrtc-cu12` wheel and puts its lib folder on
//! `LD_LIBRARY_PATH`). A compile error fails with NVRTC's log.
//!
//! Without libnvrtc the tests print why and pass, unless
//! `HETL_REQUIRE_NVRTC=1` (CI sets it), which makes them fail instead.

use std::path::Path;

use hetl::backend::BackendError;
use hetl::backend::cuda::{FAMILIES, KERNEL_SWITCHES, compile_cubin, compile_ptx, nvrtc_available, nvrtc_version};

/// Virtual architectures compiled for (PTX): Ampere (A100) and Hopper (H100/H200).
const ARCHES: [&str; 2] = ["compute_80", "compute_90"];
/// Real architectures compiled for (CUBIN, what the backend loads).
const REAL_ARCHES: [&str; 2] = ["sm_80", "sm_90"];

/// Whether NVRTC can be used; a skip (or a failure under `HETL_REQUIRE_NVRTC`) when not.
fn nvrtc() -> bool {
    match nvrtc_available() {
        Ok(()) => {
            let (major, minor) = nvrtc_version().expect("NVRTC version");
            eprintln!("NVRTC {major}.{minor}");
            true
        }
        Err(e) => {
            assert!(std::env::var_os("HETL_REQUIRE_NVRTC").is_none(), "HETL_REQUIRE_NVRTC is set but {e}");
            eprintln!("skipped: libnvrtc cannot be loaded\n  cause: {e}");
            false
        }
    }
}

/// The `.cu` files under `kernels/`, sorted.
fn kernel_files() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("kernels/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cu"))
        .map(|p| {
            let name = p.file_name().expect("file name").to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("kernel source"))
        })
        .collect();
    files.sort();
    files
}

/// The backend builds exactly the files in `kernels/` (no file forgotten).
#[test]
fn every_kernel_file_is_a_family() {
    let files = kernel_files();
    assert_eq!(files.len(), FAMILIES.len(), "kernels/ holds {:?}", files.iter().map(|f| &f.0).collect::<Vec<_>>());
    for (name, source) in &files {
        let family = FAMILIES.iter().find(|(f, _)| f == name);
        assert!(family.is_some_and(|(_, s)| s == source), "{name} is not in backend::cuda::FAMILIES");
    }
}

#[test]
fn every_kernel_compiles_to_ptx_and_cubin() {
    if !nvrtc() {
        return;
    }
    for (name, _) in kernel_files() {
        let (family, source) = FAMILIES.iter().find(|(f, _)| *f == name).expect("family");
        for arch in ARCHES {
            match compile_ptx(family, source, arch, &[]) {
                Ok(ptx) => {
                    assert!(ptx.contains(".entry"), "{name} ({arch}): PTX without kernels");
                    eprintln!("{name} ({arch}): {} bytes of PTX", ptx.len());
                }
                Err(e) => panic!("{name} ({arch}) does not compile:\n{e}"),
            }
        }
        for arch in REAL_ARCHES {
            match compile_cubin(family, source, arch, &[]) {
                Ok(cubin) => {
                    assert!(cubin.starts_with(b"\x7fELF"), "{name} ({arch}): not an ELF CUBIN");
                    eprintln!("{name} ({arch}): {} bytes of CUBIN", cubin.len());
                }
                Err(e) => panic!("{name} ({arch}) does not compile:\n{e}"),
            }
        }
    }
}

/// Every variant that `HETL_CUDA_DEFINES` can select compiles too (to the
/// Hopper CUBIN), so a GPU run can switch it on.
#[test]
fn every_kernel_switch_compiles() {
    if !nvrtc() {
        return;
    }
    for (switch, _) in KERNEL_SWITCHES {
        let on = [format!("-D{switch}=1")];
        for (family, source) in FAMILIES {
            if let Err(e) = compile_cubin(family, source, REAL_ARCHES[1], &on) {
                panic!("{family} with {switch}=1 does not compile:\n{e}");
            }
        }
    }
}

/// A broken kernel is reported as a `Kernel` error carrying NVRTC's log.
#[test]
fn compile_errors_carry_the_log() {
    if !nvrtc() {
        return;
    }
    let broken = "extern \"C\" __global__ void broken(u32* x) { x[0] = undefined_name; }";
    match compile_ptx("broken.cu", broken, ARCHES[0], &[]) {
        Err(BackendError::Kernel { name: "broken.cu", reason }) => {
            assert!(reason.contains("undefined_name"), "log without the error: {reason}");
        }
        other => panic!("expected a Kernel error, got {other:?}"),
    }
}
