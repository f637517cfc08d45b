//! `hetl profile --setup 1`: the JSON profile's schema and values, the SVG
//! plot, and bad inputs (one clear line, non-zero exit). Needs the model
//! weights (`bash tools/fetch_model.sh`).

#[path = "common/cli.rs"]
mod cli;

use cli::{hetl, stderr_of, stdout_of};

fn model_present(test: &str) -> bool {
    let present = std::path::Path::new("models/all-MiniLM-L6-v2/model.safetensors").exists();
    if !present && std::env::var("HETL_SKIP_MODEL_TESTS").is_ok_and(|v| v == "1") {
        println!("skipped {test}: HETL_SKIP_MODEL_TESTS=1 and the model is missing");
        return false;
    }
    assert!(present, "models/all-MiniLM-L6-v2 is missing: run bash tools/fetch_model.sh");
    true
}

const STEPS: [&str; 12] = [
    "attention/qkv",
    "attention/broadcast",
    "attention/scores",
    "attention/softmax",
    "attention/context",
    "attention/output",
    "attention/layernorm",
    "ffn/intermediate",
    "ffn/gelu",
    "ffn/output",
    "ffn/layernorm",
    "pooling",
];

#[test]
fn profile_setup1_writes_a_row_per_step_with_errors_against_the_twin() {
    if !model_present("profile_setup1_writes_a_row_per_step_with_errors_against_the_twin") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (json, svg) = (dir.path().join("p.json"), dir.path().join("p.svg"));
    let stdout = stdout_of(
        hetl()
            .args(["profile", "--setup", "1", "--preset", "toy-deep", "--layers", "1", "--calibration-notes", "4"])
            .args(["--text", "Fine needle aspirate of a breast mass."])
            .arg("--json")
            .arg(&json)
            .arg("--plot")
            .arg(&svg),
    );
    assert!(stdout.contains("pooled embedding: cosine"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["setup"], 1);
    assert_eq!(v["encrypted_layers"], serde_json::json!([5]));
    assert_eq!(v["tokens"], 12);
    let rows = v["rows"].as_array().unwrap();
    let steps: Vec<&str> = rows.iter().map(|r| r["step"].as_str().unwrap()).collect();
    assert_eq!(steps, STEPS);
    for r in rows {
        assert_eq!(r["block"], 5);
        for key in ["mul", "mul_plain", "rotate", "rescale", "keyswitch"] {
            assert!(r["ops"][key].is_u64(), "{key} in {r}");
        }
        assert!(r["seconds"].as_f64().unwrap() > 0.0 && r["levels"].as_u64().unwrap() >= 1, "{r}");
        if r["step"] != "attention/broadcast" {
            // Each output within the approximations' and CKKS's error of the plaintext twin.
            let err = r["max_error"].as_f64().unwrap_or_else(|| panic!("no error in {r}"));
            assert!(err < 0.05, "{r}");
        }
    }
    let share: f64 = rows.iter().map(|r| r["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 0.05, "shares sum to {share}");
    assert!(rows.iter().map(|r| r["refreshes"].as_u64().unwrap()).sum::<u64>() > 0);
    assert!(v["pooled_cosine"].as_f64().unwrap() > 0.9999);
    let totals = &v["totals"];
    for key in ["seconds", "plaintext_seconds", "overhead_factor", "refreshes", "eval_key_bytes", "upload_bytes"] {
        assert!(totals[key].is_number(), "missing totals.{key}");
    }
    assert!(totals["overhead_factor"].as_f64().unwrap() > 1.0);
    if cfg!(target_os = "linux") {
        // The process's peak resident memory holds at least its evaluation keys.
        let peak = totals["peak_resident_bytes"].as_u64().unwrap_or_else(|| panic!("no peak in {totals}"));
        assert!(peak > totals["eval_key_bytes"].as_u64().unwrap(), "{totals}");
        assert!(totals["layer_page_faults"].is_u64(), "{totals}");
        assert!(stdout.contains("host memory: peak"), "{stdout}");
    }
    // Each step's time by primitive kind, adding up to the step's time.
    let by_kind = v["seconds_by_kind"].as_array().unwrap();
    let kind_steps: Vec<&str> = by_kind.iter().map(|k| k["step"].as_str().unwrap()).collect();
    assert_eq!(kind_steps, STEPS);
    for (k, r) in by_kind.iter().zip(rows) {
        let kinds = k["kinds"].as_object().unwrap();
        let sum: f64 = kinds.values().map(|s| s.as_f64().unwrap()).sum();
        let seconds = r["seconds"].as_f64().unwrap();
        assert!((sum - seconds).abs() <= 0.01 * seconds + 1e-3, "{k} against {r}");
    }
    let kinds = |step: usize| by_kind[step]["kinds"].as_object().unwrap();
    assert!(kinds(0).contains_key("KeySwitchInner") && kinds(2).contains_key("Tensor"), "{by_kind:?}");
    assert!(stdout.contains("seconds by primitive kind"), "{stdout}");
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains("layer 5 attention/scores"));
}

#[test]
fn profile_setup1_bad_inputs_are_clear_errors() {
    if !model_present("profile_setup1_bad_inputs_are_clear_errors") {
        return;
    }
    let run = |args: &[&str]| {
        stderr_of(
            hetl().args(["profile", "--setup", "1", "--preset", "toy-deep", "--calibration-notes", "2"]).args(args),
        )
    };
    let err = run(&["--layers", "7"]);
    assert!(err.contains("7 encrypted layers; the model has 1..=6"), "{err}");
    let err = run(&["--max-tokens", "8", "--text", "Fine needle aspirate of a breast mass."]);
    assert!(err.contains("the text has 12 tokens, more than --max-tokens 8"), "{err}");
    let err = run(&["--max-tokens", "300"]);
    assert!(err.contains("--max-tokens must be in 1..=256"), "{err}");
    let err = run(&["--note", "569"]);
    assert!(err.contains("row 569 is out of range"), "{err}");
    let err = stderr_of(hetl().args(["profile", "--setup", "3"]));
    assert!(err.contains("--setup 3"), "{err}");
    // Missing weights: run from a folder without models/.
    let dir = tempfile::tempdir().unwrap();
    let err = stderr_of(hetl().current_dir(dir.path()).args(["profile", "--setup", "1", "--preset", "toy-deep"]));
    assert!(err.contains("fetch_model.sh"), "{err}");
}

#[test]
fn train_setup1_mirror_runs_end_to_end() {
    if !model_present("train_setup1_mirror_runs_end_to_end") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let stdout = stdout_of(
        hetl()
            .args(["train", "--setup", "1", "--mirror", "--preset", "toy-deep", "--limit", "4", "--epochs", "2"])
            .args(["--calibration-notes", "8", "--report"])
            .arg(&report),
    );
    assert!(stdout.contains("MIRROR: exact arithmetic"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!((v["setup"].as_u64(), v["mirror"].as_bool()), (Some(1), Some(true)));
    assert_eq!((v["train_notes"].as_u64(), v["test_notes"].as_u64()), (Some(4), Some(1)));
    // The approximated encoder's pooled vectors agree with the plaintext model's.
    assert!(v["min_cosine_vs_plaintext"].as_f64().unwrap() > 0.999, "{v}");
    assert_eq!(v["results"].as_array().unwrap().len(), 3);
    assert_eq!(v["test_predictions_agreeing"], 1);
}

#[test]
fn infer_bad_inputs_are_clear_errors() {
    let err = stderr_of(hetl().args(["infer", "--setup", "2", "--keys", "k", "--head", "h"]));
    assert!(err.contains("for Setup 2 use hetl eval --head"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = stderr_of(hetl().arg("infer").arg("--keys").arg(dir.path()).args(["--head", "h.ct"]));
    assert!(err.contains("params.json"), "{err}");
}
