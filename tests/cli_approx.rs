//! CLI behaviour of `hetl approx`: JSON lines with the documented fields and
//! an encrypted error within the bound the library tests use; skipped rows
//! for presets without enough levels; unknown names are a clear error.

#[path = "common/cli.rs"]
mod cli;

use cli::{hetl, json_lines, stderr_of};

#[test]
fn approx_sigmoid_json_reports_depth_and_a_small_error() {
    let lines = json_lines(hetl().args(["approx", "--preset", "toy-n4096", "--functions", "sigmoid", "--json"]));
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    for key in [
        "function",
        "domain",
        "degree",
        "depth",
        "multiplications",
        "max_error",
        "mean_error",
        "plain_error",
        "ms_per_ciphertext",
        "level_in",
        "level_out",
    ] {
        assert!(l.get(key).is_some(), "missing {key} in {l}");
    }
    assert_eq!(
        (l["function"].as_str(), l["degree"].as_str(), l["depth"].as_u64()),
        (Some("sigmoid"), Some("31"), Some(6))
    );
    assert_eq!(l["level_in"].as_u64().unwrap() - l["level_out"].as_u64().unwrap(), 6);
    let (max, plain) = (l["max_error"].as_f64().unwrap(), l["plain_error"].as_f64().unwrap());
    // Noise floor of tests/nn_approx.rs: 4·(1 + L)·N/Δ with L = 2 for sigmoid on [-8, 8].
    let floor = 12.0 * 4096.0 / 2f64.powf(29.8);
    assert!(plain < 1e-5 && max <= 2.0 * plain + floor, "{l}");
}

#[test]
fn approx_skips_functions_deeper_than_the_preset_and_rejects_unknown_names() {
    let lines = json_lines(hetl().args(["approx", "--preset", "toy-n1024", "--functions", "relu,exp", "--json"]));
    assert!(lines[0]["skipped"].as_str().unwrap().contains("needs depth 13"), "{}", lines[0]);
    assert!(lines[1]["skipped"].as_str().unwrap().contains("needs depth 5"), "{}", lines[1]);
    let err = stderr_of(hetl().args(["approx", "--preset", "toy-n1024", "--functions", "softplus"]));
    assert!(err.contains("unknown function \"softplus\"") && err.contains("inv_sqrt"), "{err}");
}
