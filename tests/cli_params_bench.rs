//! CLI behaviour of `hetl params`, `hetl bench`, `hetl demo` and `hetl train`, including
//! their bad-input errors (one clear line, non-zero exit).

#[path = "common/cli.rs"]
mod cli;

use cli::{hetl, json_lines, stderr_of, stdout_of};

#[test]
fn params_lists_presets_and_marks_toys_insecure() {
    let out = hetl().args(["params"]).assert().success().get_output().clone();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for name in ["toy-n1024", "toy-n4096", "n14", "n15", "n16"] {
        assert!(stdout.contains(&format!("parameter set {name}")), "{stdout}");
    }
    assert!(stdout.contains("128-bit (HE standard"));
    assert!(stderr.contains("toy-n1024 is INSECURE"), "{stderr}");
}

#[test]
fn params_json_has_the_fields_compare_py_reads() {
    let v: serde_json::Value = serde_json::from_str(&stdout_of(hetl().args(["params", "--preset", "n14", "--json"])))
        .expect("one JSON object");
    for key in ["log_n", "depth", "dnum", "log_scale", "q_limbs", "p_limbs", "log_qp", "security", "fingerprint"] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert!(v["log_qp"].as_f64().unwrap() <= 438.0);
}

#[test]
fn unknown_preset_is_a_clear_error() {
    let err = stderr_of(hetl().args(["params", "--preset", "n99"]));
    assert!(err.contains("unknown preset \"n99\"") && err.contains("n14"), "{err}");
}

#[test]
fn insecure_custom_parameters_are_rejected_unless_toy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    let literal = |name: &str| {
        format!(
            r#"{{"name":"{name}","log_n":14,"depth":20,"log_scale":29.8,"base_primes":2,"primes_per_level":1,"dnum":3,"secret_hw":null}}"#
        )
    };
    std::fs::write(&path, literal("mine")).unwrap();
    let err = stderr_of(hetl().args(["params", "--file"]).arg(&path));
    assert!(err.contains("not 128-bit secure") && err.contains("exceeds the 128-bit bound 438"), "{err}");
    std::fs::write(&path, literal("toy-mine")).unwrap();
    assert!(stdout_of(hetl().args(["params", "--file"]).arg(&path)).contains("INSECURE"));
    std::fs::write(&path, "{not json").unwrap();
    let err = stderr_of(hetl().args(["params", "--file"]).arg(&path));
    assert!(err.contains("is not a valid parameter literal"), "{err}");
}

#[test]
fn bench_json_lines_have_the_documented_fields() {
    // The default ops: every one must run (a refused input fails here).
    let lines =
        json_lines(hetl().args(["bench", "--preset", "toy-n1024", "--samples", "2", "--batch", "1,2", "--json"]));
    let timed = ["ntt", "intt", "ntt_poly", "encode", "encrypt", "decrypt", "add"].into_iter().chain([
        "mul_relin",
        "rescale",
        "mul_relin_rescale",
        "rotate",
        "keyswitch",
    ]);
    let ops: Vec<&str> = lines.iter().map(|l| l["op"].as_str().unwrap()).collect();
    let want: Vec<&str> = timed.flat_map(|op| [op, op]).chain(["precision", "precision"]).collect();
    assert_eq!(ops, want, "each default op × 2 batch sizes, then 2 precision lines");
    for l in lines.iter().filter(|l| l["op"] != "precision") {
        for key in ["op", "backend", "n", "limbs", "dnum", "batch", "median_us", "ops_per_s"] {
            assert!(l.get(key).is_some(), "missing {key} in {l}");
        }
        assert!(l["median_us"].as_f64().unwrap() > 0.0);
    }
    let precision: Vec<_> = lines.iter().filter(|l| l["op"] == "precision").collect();
    assert!(precision.iter().all(|l| l["bits"].as_f64().unwrap() > 10.0), "{precision:?}");
}

#[test]
fn bench_matmul_ops_report_their_counts_and_batch() {
    let lines = json_lines(
        hetl()
            .args(["bench", "--preset", "toy-n4096", "--ops", "matmul_enc_plain,matmul_enc_enc", "--samples", "1"])
            .args(["--batch", "1,2", "--json"]),
    );
    assert_eq!(lines.len(), 2 * 2, "2 ops × 2 batch sizes");
    for l in &lines {
        for key in ["rotations", "key_switches", "plaintext_mults", "depth", "shape", "block", "median_us"] {
            assert!(l.get(key).is_some(), "missing {key} in {l}");
        }
    }
    assert_eq!(lines[0]["shape"], "16x384x384");
    assert_eq!(lines[2]["shape"], "16x64x16");
    assert_eq!((lines[2]["depth"].as_u64(), lines[2]["key_switches"].as_u64()), (Some(3), Some(142)));
}

#[test]
fn bench_rejects_unknown_ops_and_zero_batches() {
    let err = stderr_of(hetl().args(["bench", "--preset", "toy-n1024", "--ops", "fft"]));
    assert!(err.contains("unknown op \"fft\""), "{err}");
    let err = stderr_of(hetl().args(["bench", "--preset", "toy-n1024", "--batch", "0"]));
    assert!(err.contains("at least 1"), "{err}");
}

/// `--threads 0` takes every core the process may use (and says how many);
/// a count that is not a number is a clear error.
#[test]
fn threads_zero_means_every_core() {
    let lines = json_lines(hetl().args(["bench", "--preset", "toy-n1024", "--ops", "add", "--samples", "1"]).args([
        "--threads",
        "0",
        "--json",
    ]));
    let cores = std::thread::available_parallelism().unwrap().get() as u64;
    assert_eq!(lines[0]["threads"].as_u64(), Some(cores), "{lines:?}");
    let err = stderr_of(hetl().args(["train", "--threads", "all"]));
    assert!(err.contains("\"all\" is not a thread count"), "{err}");
}

/// The demo is Setup 2 (here at a toy preset, one epoch): encrypted training
/// reports the same accuracy as its plaintext mirror.
#[test]
fn demo_trains_on_ciphertexts_and_matches_the_mirror() {
    let stdout = stdout_of(hetl().args(["demo", "--preset", "toy-n4096", "--epochs", "1"]));
    let accuracy = |head: &str| {
        let line = stdout.lines().find(|l| l.starts_with(head)).unwrap_or_else(|| panic!("{head}: {stdout}"));
        line[head.len()..].split_whitespace().next().unwrap().trim_end_matches('%').parse::<f64>().unwrap()
    };
    let encrypted = accuracy("encrypted training (HE)");
    let mirror = accuracy("plaintext, same approximations");
    assert!((encrypted - mirror).abs() <= 1.0, "{stdout}");
    assert!(encrypted > 85.0, "{stdout}");
    assert!(stdout.contains("refreshes"), "{stdout}");
}

/// The data party keeps its key folder and the encrypted head; later,
/// `hetl eval --head` decrypts the head and scores it like `hetl train` did.
#[test]
fn trained_head_is_decrypted_and_scored_by_eval() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, head) = (dir.path().join("keys"), dir.path().join("head.ct"));
    let stdout = stdout_of(hetl().args(["train", "--preset", "toy-n4096", "--epochs", "1"]).args([
        "--keys-out",
        keys.to_str().unwrap(),
        "--out",
        head.to_str().unwrap(),
    ]));
    let trained = stdout.lines().find(|l| l.starts_with("encrypted training")).unwrap().split_whitespace().nth(3);
    let scored = stdout_of(hetl().args(["eval", "--keys", keys.to_str().unwrap(), "--head", head.to_str().unwrap()]));
    let accuracy = trained.unwrap().trim_end_matches('%');
    assert!(scored.contains(&format!("accuracy {accuracy}")), "train: {stdout}\neval: {scored}");
    let err = stderr_of(hetl().args(["train", "--preset", "toy-n4096", "--keys-out", keys.to_str().unwrap()]));
    assert!(err.contains("refusing to overwrite"), "{err}");
}

/// `hetl profile` reports the cost of every layer of a training step.
#[test]
fn profile_reports_each_layer_of_a_step() {
    let dir = tempfile::tempdir().unwrap();
    let (json, svg) = (dir.path().join("p.json"), dir.path().join("p.svg"));
    let stdout = stdout_of(
        hetl()
            .args(["profile", "--setup", "2", "--preset", "toy-n4096", "--epochs", "1", "--json"])
            .arg(&json)
            .arg("--plot")
            .arg(&svg),
    );
    for layer in ["logits", "sigmoid", "gradient+update", "refresh (data party)"] {
        assert!(stdout.lines().any(|l| l.trim_start().starts_with(layer) && l.contains("calls")), "{layer}: {stdout}");
    }
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["setup"], 2);
    assert!(report["overhead"]["per_layer"]["sigmoid"]["seconds"].as_f64().unwrap() > 0.0, "{report}");
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains(">sigmoid<"), "{plot}");
}

/// Without `--lr`, a preset whose mini-batches hold fewer samples than the
/// head's default preset's (toy-n4096: 64 against n14's 256) scales the
/// default rate down in proportion, so that the default ten epochs keep the
/// logits inside the sigmoid's domain; `--lr` is taken as given.
#[test]
fn default_learning_rate_scales_with_the_mini_batch() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let stdout = stdout_of(hetl().args(["train", "--preset", "toy-n4096", "--report"]).arg(&report));
    assert!(stdout.contains("64 samples, learning rate 0.05,"), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!((report["lr"].as_f64(), report["epochs"].as_u64()), (Some(0.05), Some(10)), "{report}");
    assert!(report["results"][0]["metrics"]["accuracy"].as_f64().unwrap() > 0.9, "{report}");
    let stdout = stdout_of(hetl().args(["train", "--preset", "toy-n4096", "--epochs", "1", "--lr", "0.2"]));
    assert!(stdout.contains("learning rate 0.2,"), "{stdout}");
}

/// Bad data files and impossible settings give one clear error, not a panic.
#[test]
fn train_rejects_bad_data_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "mean radius,diagnosis\n1.0,benign\n").unwrap();
    let err = stderr_of(hetl().args(["train", "--preset", "toy-n1024", "--data", bad.to_str().unwrap()]));
    assert!(err.contains("cannot load") && err.contains("mean texture"), "{err}");
    let err = stderr_of(hetl().args(["train", "--preset", "toy-n1024", "--data", "/nonexistent.csv"]));
    assert!(err.contains("cannot load"), "{err}");
    let err = stderr_of(hetl().args(["train", "--setup", "3"]));
    assert!(err.contains("--setup 3: choose 1"), "{err}");
    let err = stderr_of(hetl().args(["train", "--setup", "1", "--head", "softmax", "--preset", "toy-deep"]));
    assert!(err.contains("--setup 1 trains the logreg head"), "{err}");
    let err = stderr_of(hetl().args(["train", "--preset", "toy-n1024", "--sigmoid-degree", "63"]));
    assert!(err.contains("levels"), "{err}");
    let err = stderr_of(hetl().args(["train", "--preset", "toy-n4096", "--lr", "50", "--epochs", "3"]));
    assert!(err.contains("outside the domain"), "{err}");
}

#[test]
fn devices_lists_every_backend() {
    let stdout = stdout_of(hetl().arg("devices"));
    assert!(stdout.contains("cpu   available"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("wgpu  ")), "{stdout}");
    assert!(stdout.contains("cuda  unavailable"), "{stdout}");
    assert!(!stdout.contains("kernel switch"), "{stdout}");
    let stdout = stdout_of(hetl().arg("devices").env("HETL_CUDA_DEFINES", "NTT_WIDE=1"));
    assert!(stdout.contains("cuda  kernel switches (HETL_CUDA_DEFINES): -DNTT_WIDE=1"), "{stdout}");
    let stdout = stdout_of(hetl().arg("devices").env("HETL_CUDA_DEFINES", "NTT_WIDEZ=1"));
    assert!(stdout.contains("HETL_CUDA_DEFINES: unknown kernel switch `NTT_WIDEZ`"), "{stdout}");
    assert!(!stdout.contains("copy stream"), "{stdout}");
    let stdout = stdout_of(hetl().arg("devices").env("HETL_CUDA_COPY_STREAM", "1"));
    assert!(stdout.contains("cuda  copy stream (HETL_CUDA_COPY_STREAM=1)"), "{stdout}");
    let stdout = stdout_of(hetl().arg("devices").env("HETL_CUDA_COPY_STREAM", "yes"));
    assert!(stdout.contains("HETL_CUDA_COPY_STREAM: `yes` is neither 0 nor 1"), "{stdout}");
}
