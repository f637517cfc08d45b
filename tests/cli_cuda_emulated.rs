//! The CLI's CUDA paths on the emulated device (`HETL_CUDA_EMULATE=1`: the
//! CUDA backend with its kernels compiled by the host's C++ compiler and run
//! on the CPU): Setup 2 training end to end, and `hetl bench --profile`
//! with its per-kind device time; a bad kernel switch. Without a C++
//! compiler they skip, unless
//! `HETL_REQUIRE_CUDA_EMULATION` is set (CI sets it).

#[path = "common/cli.rs"]
mod cli;

use cli::{hetl, json_lines, stderr_of, stdout_of};

/// Whether the emulated device can be built here; a skip otherwise (a
/// failure when CI requires it).
fn emulation_available() -> bool {
    let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let found = std::process::Command::new(&compiler).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        let required = std::env::var_os("HETL_REQUIRE_CUDA_EMULATION").is_some();
        assert!(!required, "HETL_REQUIRE_CUDA_EMULATION is set but `{compiler}` cannot run");
        eprintln!("skipped: no C++ compiler (`{compiler}`) for the emulated CUDA device");
    }
    found
}

/// Encrypted training on the CUDA backend lands on the exact-arithmetic
/// mirror's weights, as on the CPU: the whole Setup 2 step (products,
/// rotations, the fused relinearize-rescale, refreshes) through CUDA launch
/// plans and kernels.
#[test]
fn setup2_training_on_emulated_cuda_matches_the_mirror() {
    check_setup2_training("0");
}

/// The same with uploads on the (emulated) copy stream.
#[test]
fn setup2_training_with_a_copy_stream_matches_the_mirror() {
    check_setup2_training("1");
}

/// Setup 2 training on the emulated device with `HETL_CUDA_COPY_STREAM`
/// set to `copy_stream` lands on the mirror's weights.
fn check_setup2_training(copy_stream: &str) {
    if !emulation_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.json");
    let out = stdout_of(
        hetl()
            .env("HETL_CUDA_EMULATE", "1")
            .env("HETL_CUDA_COPY_STREAM", copy_stream)
            .args(["train", "--backend", "cuda", "--preset", "toy-n4096", "--epochs", "1", "--report"])
            .arg(&report),
    );
    assert!(out.contains("encrypted training (HE)"), "{out}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("JSON");
    assert_eq!(report["backend"], "cuda");
    let diff = report["max_weight_diff_vs_mirror"].as_f64().expect("weight difference");
    assert!(diff < 1e-3, "encrypted weights {diff:e} away from the mirror's");
    let accuracy = report["results"][0]["metrics"]["accuracy"].as_f64().expect("accuracy");
    assert!(accuracy > 0.9, "test accuracy {accuracy}");
}

/// `hetl bench --backend cuda --profile` reports every op and a profile line
/// per op and batch size with the device time of each primitive kind and
/// the kernel launches per op.
#[test]
fn bench_profile_on_emulated_cuda_reports_device_time() {
    if !emulation_available() {
        return;
    }
    let lines = json_lines(hetl().env("HETL_CUDA_EMULATE", "1").args([
        "bench",
        "--backend",
        "cuda",
        "--preset",
        "toy-n1024",
        "--ops",
        "ntt,mul_relin_rescale,rotate",
        "--batch",
        "1,3",
        "--samples",
        "1",
        "--profile",
        "--json",
    ]));
    assert_eq!(lines.len(), 3 * 2 * 2, "3 ops × 2 batch sizes, each a timing and a profile line");
    for line in &lines {
        assert_eq!(line["backend"], "cuda", "{line}");
    }
    let profiles: Vec<_> = lines.iter().filter(|l| l["what"] == "profile").collect();
    for profile in &profiles {
        let device = profile["device_us_per_op"].as_object().expect("device time per kind");
        let busy: f64 = device.values().filter_map(serde_json::Value::as_f64).sum();
        assert!(busy > 0.0, "no device time in {profile}");
    }
    // One launch per step for a whole batch: fewer launches per op at batch 3.
    let launches = |op: &str, batch: u64| {
        let line = profiles.iter().find(|l| l["op"] == op && l["batch"] == batch).expect("profile line");
        line["launches_per_op"].as_f64().expect("launches per op")
    };
    for op in ["ntt", "mul_relin_rescale", "rotate"] {
        let (one, three) = (launches(op, 1), launches(op, 3));
        assert!(one >= 1.0 && three < one, "{op}: {one} launches per op alone, {three} in a batch of 3");
    }
    // The modeled traffic is charged to the kinds it comes from.
    for profile in &profiles {
        let total = profile["model_mb_per_op"].as_f64().expect("modeled traffic");
        let by_kind: f64 =
            profile["model_mb_by_kind"].as_object().expect("per kind").values().filter_map(|v| v.as_f64()).sum();
        assert!(total > 0.0 && (by_kind - total).abs() < 0.01, "{total} MB per op, {by_kind} by kind: {profile}");
    }
    // Each kernel's launches, modeled traffic and device time, adding up to
    // the op's: every launch timed once, under its kernel.
    for profile in &profiles {
        let kernels = profile["kernels"].as_object().expect("per kernel");
        let sum = |field: &str| kernels.values().map(|k| k[field].as_f64().expect(field)).sum::<f64>();
        let launches = profile["launches_per_op"].as_f64().expect("launches");
        assert!((sum("launches_per_op") - launches).abs() < 0.01, "{profile}");
        let mb = profile["model_mb_per_op"].as_f64().expect("modeled traffic");
        assert!((sum("model_mb_per_op") - mb).abs() < 0.01, "{profile}");
        let device: f64 =
            profile["device_us_per_op"].as_object().expect("per kind").values().filter_map(|v| v.as_f64()).sum();
        let timed = sum("device_us_per_op");
        assert!(timed > 0.0 && timed <= device * 1.01 + 1.0, "kernels {timed} µs of the kinds' {device} µs: {profile}");
    }
    // A batched mul_relin_rescale runs the basis conversion and both NTT
    // phases, each named.
    let product = profiles.iter().find(|l| l["op"] == "mul_relin_rescale" && l["batch"] == 3).expect("profile");
    for kernel in ["conv_apply", "key_switch_inner", "ntt_forward (S = 2^0)", "ntt_inverse_prep (S = 2^0)"] {
        assert!(product["kernels"].get(kernel).is_some(), "no {kernel} in {product}");
    }
    // An NTT of one limb of N = 1024 (one phase) reads and writes its words once.
    let ntt = profiles.iter().find(|l| l["op"] == "ntt" && l["batch"] == 1).expect("ntt profile");
    let mb = ntt["model_mb_per_op"].as_f64().expect("modeled traffic");
    assert!((mb - 2.0 * 4.0 * 1024.0 / 1e6).abs() < 5e-4, "{ntt}");
}

/// A mistyped kernel switch or copy-stream value stops a CUDA command with a clear error and a
/// non-zero exit instead of running the default kernels unnoticed.
#[test]
fn a_bad_kernel_switch_is_an_error() {
    let bench = ["bench", "--backend", "cuda", "--preset", "toy-n1024", "--ops", "ntt", "--samples", "1"];
    let err = stderr_of(hetl().env("HETL_CUDA_EMULATE", "1").env("HETL_CUDA_DEFINES", "NTT_WIDE=on").args(bench));
    assert!(err.contains("HETL_CUDA_DEFINES: NTT_WIDE: `on` is not an unsigned integer"), "{err}");
    let err = stderr_of(hetl().env("HETL_CUDA_EMULATE", "1").env("HETL_CUDA_COPY_STREAM", "on").args(bench));
    assert!(err.contains("HETL_CUDA_COPY_STREAM: `on` is neither 0 nor 1"), "{err}");
}
