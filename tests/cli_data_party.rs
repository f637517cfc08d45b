//! End to end through the `hetl` binary: keygen → encrypt → eval → decrypt
//! on toy presets, and one test per bad input (non-zero exit and a precise
//! message on stderr, never a panic).

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

const SEED_A: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const SEED_B: &str = "0202020202020202020202020202020202020202020202020202020202020202";
const TOLERANCE: f64 = 1e-3;

fn hetl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hetl"))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Runs hetl with `args` and expects success; returns stdout.
fn ok(args: &[&str]) -> String {
    let out = hetl().args(args).output().expect("run hetl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hetl {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs hetl with `args`, expects a non-zero exit and `needle` on stderr.
fn fails(args: &[&str], needle: &str) -> String {
    let out = hetl().args(args).output().expect("run hetl");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "hetl {args:?} succeeded; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "hetl {args:?} panicked:\n{stderr}");
    assert!(stderr.contains(needle), "hetl {args:?}: stderr lacks {needle:?}:\n{stderr}");
    stderr
}

/// A temporary folder with a key folder `keys/` for `preset`.
struct Workspace {
    dir: TempDir,
}

impl Workspace {
    fn new(preset: &str, extra: &[&str]) -> Self {
        let ws = Self { dir: TempDir::new().expect("tempdir") };
        let keys = ws.path("keys");
        let mut args = vec!["keygen", "--preset", preset, "--out", s(&keys), "--seed", SEED_A];
        args.extend_from_slice(extra);
        ok(&args);
        ws
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn keys(&self) -> PathBuf {
        self.path("keys")
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, text).expect("write input");
        p
    }

    /// Encrypts `values` (CSV) into `name`.
    fn encrypt(&self, name: &str, values: &[f64], extra: &[&str]) -> PathBuf {
        let csv = values.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
        let input = self.write(&format!("{name}.csv"), &csv);
        let (out, keys) = (self.path(name), self.keys());
        let mut args = vec!["encrypt", "--keys", s(&keys), "--input", s(&input), "--out", s(&out)];
        args.extend_from_slice(extra);
        ok(&args);
        out
    }

    fn eval(&self, keys: &Path, op: &str, a: &Path, b: Option<&Path>, out: &str) -> PathBuf {
        let out = self.path(out);
        let mut args = vec!["eval", "--keys", s(keys), "--op", op, "--a", s(a), "--out", s(&out)];
        if let Some(b) = b {
            args.extend_from_slice(&["--b", s(b)]);
        }
        ok(&args);
        out
    }

    /// Decrypts `ct` to CSV and returns the first `count` real values.
    fn decrypt_csv(&self, ct: &Path, count: usize) -> Vec<f64> {
        let out = self.path("out.csv");
        let n = count.to_string();
        ok(&["decrypt", "--keys", s(&self.keys()), "--input", s(ct), "--out", s(&out), "--count", &n]);
        fs::read_to_string(&out).expect("read output").lines().map(|l| l.parse().expect("number")).collect()
    }
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() < TOLERANCE, "{what}: slot {i}: got {g}, want {w}");
    }
}

#[test]
fn keygen_encrypt_eval_decrypt_end_to_end() {
    let ws = Workspace::new("toy-n1024", &["--rotations", "1,-1"]);
    for name in ["params.json", "secret.key", "public.key", "eval.key"] {
        assert!(ws.keys().join(name).is_file(), "{name} missing");
    }
    // The compute party gets params.json and eval.key only.
    let compute = ws.path("compute");
    fs::create_dir(&compute).unwrap();
    for name in ["params.json", "eval.key"] {
        fs::copy(ws.keys().join(name), compute.join(name)).unwrap();
    }

    let x = [0.5, -1.25, 2.0, 0.75, -0.1, 1.5, 0.0, -2.0];
    let y = [1.0, 0.5, -0.5, 2.0, 3.0, -1.0, 0.25, 0.125];
    let cx = ws.encrypt("x.ct", &x, &[]);
    let cy = ws.encrypt("y.ct", &y, &["--with", "secret"]);
    assert_close(&ws.decrypt_csv(&cx, 8), &x, "encrypt");

    let sum = ws.eval(&compute, "add", &cx, Some(&cy), "sum.ct");
    let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
    assert_close(&ws.decrypt_csv(&sum, 8), &want, "add");

    let diff = ws.eval(&compute, "sub", &cx, Some(&cy), "diff.ct");
    let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a - b).collect();
    assert_close(&ws.decrypt_csv(&diff, 8), &want, "sub");

    let prod = ws.eval(&compute, "mul", &cx, Some(&cy), "prod.ct");
    let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
    assert_close(&ws.decrypt_csv(&prod, 8), &want, "mul");
    let rescaled = ws.eval(&compute, "rescale", &prod, None, "prod2.ct");
    assert_close(&ws.decrypt_csv(&rescaled, 8), &want, "mul + rescale");

    let rot = ws.eval(&compute, "rotate:1", &cx, None, "rot.ct");
    let want: Vec<f64> = (0..8).map(|i| x[(i + 1) % 8]).collect();
    assert_close(&ws.decrypt_csv(&rot, 8), &want, "rotate:1");
    let rot = ws.eval(&compute, "rotate:-1", &cx, None, "rotm.ct");
    let want: Vec<f64> = (0..8).map(|i| x[(i + 7) % 8]).collect();
    assert_close(&ws.decrypt_csv(&rot, 8), &want, "rotate:-1");

    let neg = ws.eval(&compute, "negate", &cx, None, "neg.ct");
    assert_close(&ws.decrypt_csv(&neg, 8), &x.map(|v| -v), "negate");
    let plus = ws.eval(&compute, "add-const:0.5", &cx, None, "plus.ct");
    assert_close(&ws.decrypt_csv(&plus, 8), &x.map(|v| v + 0.5), "add-const");
    let times = ws.eval(&compute, "mul-const:-3", &cx, None, "times.ct");
    let times = ws.eval(&compute, "rescale", &times, None, "times2.ct");
    assert_close(&ws.decrypt_csv(&times, 8), &x.map(|v| -3.0 * v), "mul-const + rescale");
    let low = ws.eval(&compute, "drop-level:1", &cx, None, "low.ct");
    assert_close(&ws.decrypt_csv(&low, 3), &x[..3], "drop-level + --count");
}

#[test]
fn json_input_with_complex_pairs() {
    let ws = Workspace::new("toy-n1024", &["--conjugate", "--no-relin"]);
    let input = ws.write("z.json", "[[1.0, 2.0], [0.5, -1.5], [-0.25, 0.0], 3]");
    let ct = ws.path("z.ct");
    ok(&["encrypt", "--keys", s(&ws.keys()), "--input", s(&input), "--out", s(&ct), "--level", "2"]);
    let conj = ws.eval(&ws.keys(), "conjugate", &ct, None, "conj.ct");
    let out = ws.path("conj.json");
    ok(&["decrypt", "--keys", s(&ws.keys()), "--input", s(&conj), "--out", s(&out)]);
    let got: Vec<[f64; 2]> = serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
    let want = [[1.0, -2.0], [0.5, 1.5], [-0.25, 0.0], [3.0, 0.0]];
    assert_eq!(got.len(), 4, "all slots of the ciphertext");
    for (g, w) in got.iter().zip(&want) {
        assert!((g[0] - w[0]).abs() < TOLERANCE && (g[1] - w[1]).abs() < TOLERANCE, "{g:?} vs {w:?}");
    }
    // --no-relin: multiplication must say the key is missing.
    fails(
        &["eval", "--keys", s(&ws.keys()), "--op", "mul", "--a", s(&ct), "--b", s(&ct), "--out", s(&ws.path("m.ct"))],
        "mul_relin: missing relinearization key",
    );
}

#[test]
fn unknown_preset_is_rejected() {
    let dir = TempDir::new().unwrap();
    fails(&["keygen", "--preset", "toy-n999", "--out", s(dir.path())], "unknown preset \"toy-n999\"");
}

#[test]
fn keygen_refuses_to_overwrite() {
    let ws = Workspace::new("toy-n1024", &[]);
    fails(&["keygen", "--preset", "toy-n1024", "--out", s(&ws.keys())], "refusing to overwrite");
    ok(&["keygen", "--preset", "toy-n1024", "--out", s(&ws.keys()), "--force"]);
    fails(&["keygen", "--preset", "toy-n1024", "--out", s(&ws.path("k")), "--seed", "12ab"], "64 hex digits");
}

#[test]
fn truncated_ciphertext_is_rejected() {
    let ws = Workspace::new("toy-n1024", &[]);
    let ct = ws.encrypt("x.ct", &[1.0, 2.0], &[]);
    let bytes = fs::read(&ct).unwrap();
    fs::write(&ct, &bytes[..bytes.len() / 2]).unwrap();
    let out = ws.path("out.csv");
    let err = fails(&["decrypt", "--keys", s(&ws.keys()), "--input", s(&ct), "--out", s(&out)], "file is truncated");
    assert!(err.contains("cannot load ciphertext"), "{err}");
}

#[test]
fn flipped_byte_is_rejected() {
    let ws = Workspace::new("toy-n1024", &[]);
    let ct = ws.encrypt("x.ct", &[1.0, 2.0], &[]);
    let mut bytes = fs::read(&ct).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x04;
    fs::write(&ct, &bytes).unwrap();
    let out = ws.path("neg.ct");
    fails(
        &["eval", "--keys", s(&ws.keys()), "--op", "negate", "--a", s(&ct), "--out", s(&out)],
        "integrity check failed: the file is corrupt",
    );
}

#[test]
fn ciphertext_from_another_parameter_set_is_rejected() {
    let small = Workspace::new("toy-n1024", &[]);
    let big = Workspace::new("toy-n4096", &[]);
    let ct = small.encrypt("x.ct", &[1.0, 2.0], &[]);
    let out = small.path("out.csv");
    fails(&["decrypt", "--keys", s(&big.keys()), "--input", s(&ct), "--out", s(&out)], "parameter-set mismatch");
    fails(
        &["eval", "--keys", s(&big.keys()), "--op", "negate", "--a", s(&ct), "--out", s(&small.path("n.ct"))],
        "parameter-set mismatch",
    );
}

#[test]
fn operands_at_different_levels_are_rejected() {
    let ws = Workspace::new("toy-n1024", &[]);
    let a = ws.encrypt("a.ct", &[1.0, 2.0], &[]);
    let b = ws.encrypt("b.ct", &[3.0, 4.0], &[]);
    let low = ws.eval(&ws.keys(), "drop-level:3", &a, None, "low.ct");
    let out = ws.path("sum.ct");
    fails(
        &["eval", "--keys", s(&ws.keys()), "--op", "add", "--a", s(&low), "--b", s(&b), "--out", s(&out)],
        "add: level mismatch (3 vs 4)",
    );
}

#[test]
fn operands_at_different_scales_are_rejected() {
    let ws = Workspace::new("toy-n1024", &[]);
    let a = ws.encrypt("a.ct", &[1.0, 2.0], &[]);
    let b = ws.encrypt("b.ct", &[3.0, 4.0], &[]);
    // mul-const keeps the level and multiplies the scale by the level's prime (≈ 2^29.8).
    let scaled = ws.eval(&ws.keys(), "mul-const:2", &a, None, "scaled.ct");
    let out = ws.path("sum.ct");
    let err = fails(
        &["eval", "--keys", s(&ws.keys()), "--op", "add", "--a", s(&scaled), "--b", s(&b), "--out", s(&out)],
        "add: scale mismatch (2^59.",
    );
    assert!(err.contains("vs 2^29.") && !err.contains("level mismatch"), "{err}");
}

#[test]
fn decrypt_with_another_key_pair_is_rejected() {
    let ws = Workspace::new("toy-n1024", &[]);
    let other = ws.path("other");
    ok(&["keygen", "--preset", "toy-n1024", "--out", s(&other), "--seed", SEED_B]);
    let ct = ws.encrypt("x.ct", &[1.0, 2.0], &[]);
    let out = ws.path("out.csv");
    fails(
        &["decrypt", "--keys", s(&other), "--input", s(&ct), "--out", s(&out)],
        "decrypt: encrypted under a different key pair",
    );
}

#[test]
fn nan_in_csv_is_rejected() {
    let ws = Workspace::new("toy-n1024", &[]);
    let input = ws.write("bad.csv", "1.0, 2.0\nNaN, 3.0\n");
    let out = ws.path("x.ct");
    fails(
        &["encrypt", "--keys", s(&ws.keys()), "--input", s(&input), "--out", s(&out)],
        "line 2: \"NaN\" is not a finite number",
    );
    let input = ws.write("words.csv", "1.0\n2.0, x1\n");
    fails(
        &["encrypt", "--keys", s(&ws.keys()), "--input", s(&input), "--out", s(&out)],
        "line 2: \"x1\" is not a number",
    );
    let input = ws.write("empty.csv", "\n \n");
    fails(&["encrypt", "--keys", s(&ws.keys()), "--input", s(&input), "--out", s(&out)], "holds no values");
    let input = ws.write("values.txt", "1");
    fails(&["encrypt", "--keys", s(&ws.keys()), "--input", s(&input), "--out", s(&out)], "unknown file extension .txt");
    let input = ws.write("huge.csv", "1e300");
    fails(&["encrypt", "--keys", s(&ws.keys()), "--input", s(&input), "--out", s(&out)], "values too large");
}

#[test]
fn too_many_values_are_rejected() {
    let ws = Workspace::new("toy-n1024", &[]);
    let csv = vec!["0.5"; 513].join("\n");
    let input = ws.write("many.csv", &csv);
    let out = ws.path("x.ct");
    fails(
        &["encrypt", "--keys", s(&ws.keys()), "--input", s(&input), "--out", s(&out)],
        "513 values do not fit the 512 slots",
    );
}

#[test]
fn rotate_without_its_key_is_rejected() {
    let ws = Workspace::new("toy-n1024", &["--rotations", "1"]);
    let ct = ws.encrypt("x.ct", &[1.0, 2.0], &[]);
    let out = ws.path("r.ct");
    fails(
        &["eval", "--keys", s(&ws.keys()), "--op", "rotate:2", "--a", s(&ct), "--out", s(&out)],
        "rotate: missing rotation key for step 2",
    );
    fails(
        &["eval", "--keys", s(&ws.keys()), "--op", "conjugate", "--a", s(&ct), "--out", s(&out)],
        "conjugate: missing conjugation key",
    );
    fails(&["eval", "--keys", s(&ws.keys()), "--op", "add", "--a", s(&ct), "--out", s(&out)], "needs a second operand");
}
