//! Data-party and compute-party file tools: `hetl keygen`, `encrypt`,
//! `decrypt` (data party, holds the secret key) and `eval` (compute party,
//! reads only `params.json` and `eval.key`).
//!
//! A key folder holds `params.json` (the parameter set, see
//! [`crate::ckks::serialize`]), `secret.key`, `public.key` and `eval.key`.
//! Ciphertext files use the binary format of [`crate::ckks::serialize`].

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail, ensure};
use num_complex::Complex64;
use zeroize::Zeroizing;

use super::common::{ExecArgs, load_preset, warn_if_toy};
use crate::ckks::serialize::{load_params, params_to_json};
use crate::ckks::{Ciphertext, Context, EvaluationKeys, Params, SecretKey};
use crate::math::sampling::Csprng;

/// Parameter file inside a key folder.
pub const PARAMS_FILE: &str = "params.json";
/// Secret key file inside a key folder (data party only).
pub const SECRET_KEY_FILE: &str = "secret.key";
/// Public key file inside a key folder.
pub const PUBLIC_KEY_FILE: &str = "public.key";
/// Evaluation keys file inside a key folder (what the compute party gets).
pub const EVAL_KEY_FILE: &str = "eval.key";

/// Arguments of `hetl keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Parameter preset (see `hetl params`).
    #[arg(long)]
    preset: String,
    /// Folder to write params.json, secret.key, public.key and eval.key into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Rotation steps to generate keys for (comma list; negative = right), e.g. 1,2,-1.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    rotations: Vec<i64>,
    /// Also generate the conjugation key.
    #[arg(long)]
    conjugate: bool,
    /// Skip the relinearization key (ciphertext multiplication becomes impossible).
    #[arg(long)]
    no_relin: bool,
    /// 64 hex digits: reproducible keys, FOR TESTS ONLY (anyone with the seed has the secret key).
    #[arg(long)]
    seed: Option<String>,
    /// Overwrite existing key files.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    exec: ExecArgs,
}

/// Which key `hetl encrypt` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EncryptWith {
    /// The public key (anyone holding public.key can encrypt).
    Public,
    /// The secret key: less noise, for the data party only.
    Secret,
}

/// Arguments of `hetl encrypt`.
#[derive(Debug, clap::Args)]
pub struct EncryptArgs {
    /// Key folder written by `hetl keygen`.
    #[arg(long)]
    keys: PathBuf,
    /// Values to encrypt: .csv (real numbers separated by commas, spaces or
    /// newlines) or .json (array of numbers, or of [re, im] pairs).
    #[arg(long)]
    input: PathBuf,
    /// Ciphertext file to write.
    #[arg(long)]
    out: PathBuf,
    /// Level to encrypt at (default: the highest).
    #[arg(long)]
    level: Option<usize>,
    /// Encrypt with the public or the secret key.
    #[arg(long, value_enum, default_value = "public")]
    with: EncryptWith,
    #[command(flatten)]
    exec: ExecArgs,
}

/// Arguments of `hetl decrypt`.
#[derive(Debug, clap::Args)]
pub struct DecryptArgs {
    /// Key folder written by `hetl keygen` (needs secret.key).
    #[arg(long)]
    keys: PathBuf,
    /// Ciphertext file.
    #[arg(long)]
    input: PathBuf,
    /// Output: .csv (real parts, one per line) or .json ([[re, im], ...]).
    #[arg(long)]
    out: PathBuf,
    /// Number of slots to write (default: all of the ciphertext's slots).
    #[arg(long)]
    count: Option<usize>,
    #[command(flatten)]
    exec: ExecArgs,
}

/// Arguments of `hetl eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Key folder: with --op only params.json and eval.key are read (never
    /// secret.key); with --head (data party) also secret.key.
    #[arg(long)]
    keys: PathBuf,
    /// Operation: add, sub, mul, rescale, rotate:K, conjugate, negate,
    /// mul-const:C, add-const:C, drop-level:L.
    #[arg(long, value_parser = parse_op, required_unless_present = "head", requires_all = ["a", "out"])]
    op: Option<EvalOp>,
    /// First (or only) operand.
    #[arg(long)]
    a: Option<PathBuf>,
    /// Second operand of add, sub and mul.
    #[arg(long)]
    b: Option<PathBuf>,
    /// Ciphertext file to write.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Data party: decrypt this trained head (from `hetl train --out`) and
    /// score it on the test split (accuracy, AUC, F1).
    #[arg(long, conflicts_with_all = ["op", "a", "b", "out"])]
    head: Option<PathBuf>,
    /// Kind of the head in --head.
    #[arg(long, value_enum, default_value = "logreg", requires = "head")]
    head_kind: super::train::HeadKind,
    #[command(flatten)]
    data: super::train::DataArgs,
    #[command(flatten)]
    exec: ExecArgs,
}

/// One homomorphic operation of `hetl eval`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EvalOp {
    /// a + b.
    Add,
    /// a − b.
    Sub,
    /// a · b, relinearized (not rescaled).
    Mul,
    /// Divide by the level's prime(s): one level down.
    Rescale,
    /// Rotate slots left by K (right if negative).
    Rotate(i64),
    /// Complex conjugation of every slot.
    Conjugate,
    /// −a.
    Negate,
    /// a · C (rescale afterwards).
    MulConst(f64),
    /// a + C.
    AddConst(f64),
    /// Drop to level L without dividing.
    DropLevel(usize),
}

impl EvalOp {
    fn is_binary(self) -> bool {
        matches!(self, Self::Add | Self::Sub | Self::Mul)
    }

    fn needs_keys(self) -> bool {
        matches!(self, Self::Mul | Self::Rotate(_) | Self::Conjugate)
    }
}

impl std::fmt::Display for EvalOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Add => f.write_str("add"),
            Self::Sub => f.write_str("sub"),
            Self::Mul => f.write_str("mul"),
            Self::Rescale => f.write_str("rescale"),
            Self::Rotate(k) => write!(f, "rotate:{k}"),
            Self::Conjugate => f.write_str("conjugate"),
            Self::Negate => f.write_str("negate"),
            Self::MulConst(c) => write!(f, "mul-const:{c}"),
            Self::AddConst(c) => write!(f, "add-const:{c}"),
            Self::DropLevel(l) => write!(f, "drop-level:{l}"),
        }
    }
}

/// Parses `--op`.
fn parse_op(s: &str) -> std::result::Result<EvalOp, String> {
    let (name, arg) = match s.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (s, None),
    };
    let need = |what: &str| arg.ok_or_else(|| format!("{name} needs an argument: {name}:{what}"));
    let number = |what: &str| -> std::result::Result<f64, String> {
        let a = need(what)?;
        match a.trim().parse::<f64>() {
            Ok(c) if c.is_finite() => Ok(c),
            _ => Err(format!("{name}: {a:?} is not a finite number")),
        }
    };
    let op = match name {
        "add" => EvalOp::Add,
        "sub" => EvalOp::Sub,
        "mul" => EvalOp::Mul,
        "rescale" => EvalOp::Rescale,
        "conjugate" => EvalOp::Conjugate,
        "negate" => EvalOp::Negate,
        "rotate" => {
            let a = need("K")?;
            EvalOp::Rotate(a.trim().parse().map_err(|_| format!("rotate: {a:?} is not an integer step"))?)
        }
        "mul-const" => EvalOp::MulConst(number("C")?),
        "add-const" => EvalOp::AddConst(number("C")?),
        "drop-level" => {
            let a = need("L")?;
            EvalOp::DropLevel(a.trim().parse().map_err(|_| format!("drop-level: {a:?} is not a level"))?)
        }
        _ => {
            return Err(format!(
                "unknown operation {name:?}; expected add, sub, mul, rescale, rotate:K, conjugate, negate, \
                 mul-const:C, add-const:C or drop-level:L"
            ));
        }
    };
    let takes_arg = matches!(op, EvalOp::Rotate(_) | EvalOp::MulConst(_) | EvalOp::AddConst(_) | EvalOp::DropLevel(_));
    if arg.is_some() && !takes_arg {
        return Err(format!("{name} takes no argument"));
    }
    Ok(op)
}

// ---------------------------------------------------------------------------
// Files

pub(super) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the secret key readable by its owner only (on Unix).
fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).with_context(|| format!("cannot write {}", path.display()))
}

/// Refuses to overwrite key files in `dir` unless `force`, and creates `dir`.
pub(super) fn check_key_folder(dir: &Path, force: bool) -> Result<()> {
    let names = [PARAMS_FILE, SECRET_KEY_FILE, PUBLIC_KEY_FILE, EVAL_KEY_FILE];
    if !force {
        let existing: Vec<String> =
            names.iter().map(|n| dir.join(n)).filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
        ensure!(existing.is_empty(), "refusing to overwrite {} (pass --force to replace them)", existing.join(", "));
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes a key folder: params.json, secret.key (owner-only), public.key, eval.key.
pub(super) fn write_key_folder(dir: &Path, params: &Params, secret: &[u8], public: &[u8], eval: &[u8]) -> Result<()> {
    let params_json = params_to_json(params)?.into_bytes();
    let files: [(&str, &[u8]); 4] =
        [(PARAMS_FILE, &params_json), (SECRET_KEY_FILE, secret), (PUBLIC_KEY_FILE, public), (EVAL_KEY_FILE, eval)];
    for (name, bytes) in files {
        let path = dir.join(name);
        if name == SECRET_KEY_FILE {
            write_secret(&path, bytes)?;
        } else {
            write_bytes(&path, bytes)?;
        }
        let note = match name {
            SECRET_KEY_FILE => "  (keep private: data party only)",
            EVAL_KEY_FILE => "  (give to the compute party with params.json)",
            _ => "",
        };
        println!("wrote {} ({} bytes){note}", path.display(), bytes.len());
    }
    Ok(())
}

/// Loads `DIR/secret.key` (the data party's).
pub(super) fn load_secret_key(ctx: &Context, dir: &Path) -> Result<SecretKey> {
    let path = dir.join(SECRET_KEY_FILE);
    let bytes = Zeroizing::new(read_bytes(&path)?);
    ctx.secret_key_from_bytes(&bytes).with_context(|| format!("cannot load secret key {}", path.display()))
}

/// Loads `DIR/params.json` and warns if it is a toy set.
pub(super) fn load_params_dir(dir: &Path) -> Result<Arc<Params>> {
    let path = dir.join(PARAMS_FILE);
    let bytes = read_bytes(&path)?;
    let params = load_params(&mut bytes.as_slice())
        .with_context(|| format!("cannot load the parameter set from {}", path.display()))?;
    warn_if_toy(&params);
    Ok(Arc::new(params))
}

pub(super) fn load_ciphertext(ctx: &Context, path: &Path) -> Result<Ciphertext> {
    let bytes = read_bytes(path)?;
    ctx.ciphertext_from_bytes(&bytes).with_context(|| format!("cannot load ciphertext {}", path.display()))
}

fn load_eval_keys(ctx: &Context, dir: &Path) -> Result<EvaluationKeys> {
    let path = dir.join(EVAL_KEY_FILE);
    let bytes = read_bytes(&path)?;
    ctx.evaluation_keys_from_bytes(&bytes).with_context(|| format!("cannot load evaluation keys {}", path.display()))
}

fn save_ciphertext(ctx: &Context, ct: &Ciphertext, path: &Path) -> Result<usize> {
    let bytes = ctx.ciphertext_to_bytes(ct).context("cannot serialize the ciphertext")?;
    write_bytes(path, &bytes)?;
    Ok(bytes.len())
}

/// File formats for values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

fn format_of(path: &Path) -> Result<Format> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => Ok(Format::Csv),
        Some("json") => Ok(Format::Json),
        Some(other) => bail!("{}: unknown file extension .{other}; use .csv or .json", path.display()),
        None => bail!("{}: no file extension; use .csv or .json", path.display()),
    }
}

/// Parses real numbers separated by commas, whitespace or newlines.
fn parse_csv(text: &str, path: &Path) -> Result<Vec<Complex64>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for token in line.split(|c: char| c == ',' || c == ';' || c.is_whitespace()).filter(|t| !t.is_empty()) {
            let x: f64 = token
                .parse()
                .map_err(|_| anyhow::anyhow!("{} line {}: {token:?} is not a number", path.display(), i + 1))?;
            ensure!(
                x.is_finite(),
                "{} line {}: {token:?} is not a finite number (NaN and infinities cannot be encrypted)",
                path.display(),
                i + 1
            );
            out.push(Complex64::new(x, 0.0));
        }
    }
    Ok(out)
}

/// Parses a JSON array of numbers or of [re, im] pairs.
fn parse_json(text: &str, path: &Path) -> Result<Vec<Complex64>> {
    let value: serde_json::Value =
        serde_json::from_str(text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    let serde_json::Value::Array(items) = value else {
        bail!("{}: expected a JSON array of numbers or of [re, im] pairs", path.display());
    };
    let number = |v: &serde_json::Value, i: usize| -> Result<f64> {
        match v.as_f64() {
            Some(x) if x.is_finite() => Ok(x),
            _ => bail!("{} element {i}: {v} is not a finite number", path.display()),
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            serde_json::Value::Array(pair) if pair.len() == 2 => {
                Ok(Complex64::new(number(&pair[0], i)?, number(&pair[1], i)?))
            }
            serde_json::Value::Array(pair) => {
                bail!("{} element {i}: a complex value needs [re, im], got {} numbers", path.display(), pair.len())
            }
            _ => Ok(Complex64::new(number(v, i)?, 0.0)),
        })
        .collect()
}

/// Reads the values to encrypt and checks they fit `params`' slots.
fn read_values(path: &Path, params: &Params) -> Result<Vec<Complex64>> {
    let format = format_of(path)?;
    let bytes = read_bytes(path)?;
    let text = String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    let values = match format {
        Format::Csv => parse_csv(&text, path)?,
        Format::Json => parse_json(&text, path)?,
    };
    ensure!(!values.is_empty(), "{} holds no values to encrypt", path.display());
    ensure!(
        values.len() <= params.max_slots(),
        "{}: {} values do not fit the {} slots (N/2) of parameter set {}",
        path.display(),
        values.len(),
        params.max_slots(),
        params.name()
    );
    Ok(values)
}

fn write_values(path: &Path, format: Format, values: &[Complex64]) -> Result<()> {
    let text = match format {
        Format::Csv => values.iter().map(|v| format!("{:?}\n", v.re)).collect::<String>(),
        Format::Json => {
            let pairs: Vec<[f64; 2]> = values.iter().map(|v| [v.re, v.im]).collect();
            serde_json::to_string(&pairs).context("cannot format the values as JSON")? + "\n"
        }
    };
    write_bytes(path, text.as_bytes())
}

fn describe(ct: &Ciphertext) -> String {
    format!("level {}, scale 2^{:.2}, {} slots", ct.level(), ct.scale().log2(), ct.slots())
}

// ---------------------------------------------------------------------------
// Commands

fn parse_seed(hex: &str) -> Result<[u8; 32]> {
    let hex = hex.trim();
    ensure!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "--seed must be exactly 64 hex digits (32 bytes), got {} characters",
        hex.len()
    );
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex digits");
    }
    Ok(seed)
}

/// Runs `hetl keygen`.
pub fn keygen(args: &KeygenArgs) -> Result<()> {
    let mut seed = args.seed.as_deref().map(parse_seed).transpose()?;
    let params = load_preset(&args.preset)?;
    let dir = &args.out;
    check_key_folder(dir, args.force)?;
    let ctx = args.exec.context(params.clone())?;
    let mut rng = match &mut seed {
        Some(s) => {
            eprintln!(
                "WARNING: --seed makes these keys reproducible by anyone who knows the seed. Seeded keys are for \
                 TESTS ONLY: never use them for real data."
            );
            let rng = Csprng::from_seed(*s);
            zeroize::Zeroize::zeroize(s);
            rng
        }
        None => Csprng::from_os().context("cannot seed the key generator from the OS")?,
    };
    let sk = ctx.gen_secret_key(&mut rng);
    let pk = ctx.gen_public_key(&sk, &mut rng).context("cannot generate the public key")?;
    let evk = ctx
        .gen_evaluation_keys(&sk, !args.no_relin, &args.rotations, args.conjugate, &mut rng)
        .context("cannot generate the evaluation keys")?;

    println!("parameter set {} (fingerprint {})", params.name(), params.fingerprint_hex());
    let secret = ctx.secret_key_to_bytes(&sk)?;
    write_key_folder(dir, &params, &secret, &ctx.public_key_to_bytes(&pk)?, &ctx.evaluation_keys_to_bytes(&evk)?)?;
    let mut steps: Vec<i64> = args.rotations.clone();
    steps.sort_unstable();
    steps.dedup();
    println!(
        "evaluation keys: relinearization {}, rotations [{}], conjugation {}",
        if evk.has_relin() { "yes" } else { "no" },
        steps.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
        if args.conjugate { "yes" } else { "no" }
    );
    Ok(())
}

/// Runs `hetl encrypt`.
pub fn encrypt(args: &EncryptArgs) -> Result<()> {
    let params = load_params_dir(&args.keys)?;
    let values = read_values(&args.input, &params)?;
    let ctx = args.exec.context(params.clone())?;
    let level = args.level.unwrap_or(params.max_level());
    ensure!(
        level <= params.max_level(),
        "--level {level} is above the maximum level {} of parameter set {}",
        params.max_level(),
        params.name()
    );
    let pt = ctx
        .encode(&values, level, params.scale(level))
        .with_context(|| format!("cannot encode the values of {}", args.input.display()))?;
    let mut rng = Csprng::from_os().context("cannot seed the encryption randomness from the OS")?;
    let ct = match args.with {
        EncryptWith::Public => {
            let path = args.keys.join(PUBLIC_KEY_FILE);
            let pk = ctx
                .public_key_from_bytes(&read_bytes(&path)?)
                .with_context(|| format!("cannot load public key {}", path.display()))?;
            ctx.encrypt(&pt, &pk, &mut rng)
        }
        EncryptWith::Secret => ctx.encrypt_symmetric(&pt, &load_secret_key(&ctx, &args.keys)?, &mut rng),
    }
    .context("cannot encrypt")?;
    let size = save_ciphertext(&ctx, &ct, &args.out)?;
    println!("encrypted {} values: wrote {} ({}, {size} bytes)", values.len(), args.out.display(), describe(&ct));
    Ok(())
}

/// Runs `hetl decrypt`.
pub fn decrypt(args: &DecryptArgs) -> Result<()> {
    let format = format_of(&args.out)?;
    let params = load_params_dir(&args.keys)?;
    let ctx = args.exec.context(params)?;
    let sk = load_secret_key(&ctx, &args.keys)?;
    let ct = load_ciphertext(&ctx, &args.input)?;
    let count = args.count.unwrap_or(ct.slots());
    ensure!(
        (1..=ct.slots()).contains(&count),
        "--count {count} is outside 1..={} (the slots of {})",
        ct.slots(),
        args.input.display()
    );
    let pt = ctx.decrypt(&ct, &sk).with_context(|| format!("cannot decrypt {}", args.input.display()))?;
    let values = ctx.decode(&pt).context("cannot decode the decrypted plaintext")?;
    write_values(&args.out, format, &values[..count])?;
    println!(
        "decrypted {count} values from {} ({}): wrote {}",
        args.input.display(),
        describe(&ct),
        args.out.display()
    );
    Ok(())
}

/// Runs `hetl eval`.
pub fn eval(args: &EvalArgs) -> Result<()> {
    if let Some(head) = &args.head {
        let params = load_params_dir(&args.keys)?;
        let ctx = args.exec.context(params)?;
        let sk = load_secret_key(&ctx, &args.keys)?;
        let ct = load_ciphertext(&ctx, head)?;
        let slots =
            ctx.decode(&ctx.decrypt(&ct, &sk).with_context(|| format!("cannot decrypt {}", head.display()))?)?;
        let values: Vec<f64> = slots.iter().map(|z| z.re).collect();
        return super::train::score_head(&values, args.head_kind, &args.data);
    }
    let (Some(op), Some(a_path), Some(out)) = (args.op, &args.a, &args.out) else {
        bail!("--op, --a and --out are required (or --head to score a trained head)");
    };
    match (&args.b, op.is_binary()) {
        (None, true) => bail!("--op {op} needs a second operand (--b FILE)"),
        (Some(_), false) => bail!("--op {op} takes one operand; remove --b"),
        _ => {}
    }
    let params = load_params_dir(&args.keys)?;
    let ctx = args.exec.context(params)?;
    let a = load_ciphertext(&ctx, a_path)?;
    let b = args.b.as_deref().map(|p| load_ciphertext(&ctx, p)).transpose()?;
    let keys = if op.needs_keys() { Some(load_eval_keys(&ctx, &args.keys)?) } else { None };
    let (b, keys) = (b.as_ref(), keys.as_ref());
    let result = match op {
        EvalOp::Add => ctx.add(&a, b.expect("checked binary")),
        EvalOp::Sub => ctx.sub(&a, b.expect("checked binary")),
        EvalOp::Mul => ctx.mul_relin(&a, b.expect("checked binary"), keys.expect("loaded for mul")),
        EvalOp::Rescale => ctx.rescale(&a),
        EvalOp::Rotate(k) => ctx.rotate(&a, k, keys.expect("loaded for rotate")),
        EvalOp::Conjugate => ctx.conjugate(&a, keys.expect("loaded for conjugate")),
        EvalOp::Negate => ctx.negate(&a),
        EvalOp::MulConst(c) => ctx.mul_const(&a, c),
        EvalOp::AddConst(c) => ctx.add_const(&a, c),
        EvalOp::DropLevel(l) => ctx.drop_to_level(&a, l),
    }
    .with_context(|| format!("cannot evaluate {op}"))?;
    let size = save_ciphertext(&ctx, &result, out)?;
    println!("{op}: wrote {} ({}, {size} bytes)", out.display(), describe(&result));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_parse() {
        assert_eq!(parse_op("add"), Ok(EvalOp::Add));
        assert_eq!(parse_op("rotate:-3"), Ok(EvalOp::Rotate(-3)));
        assert_eq!(parse_op("mul-const:2.5"), Ok(EvalOp::MulConst(2.5)));
        assert_eq!(parse_op("drop-level:1"), Ok(EvalOp::DropLevel(1)));
        assert!(parse_op("rotate").unwrap_err().contains("needs an argument"));
        assert!(parse_op("rotate:x").unwrap_err().contains("not an integer"));
        assert!(parse_op("mul-const:NaN").unwrap_err().contains("not a finite number"));
        assert!(parse_op("add:1").unwrap_err().contains("takes no argument"));
        assert!(parse_op("frobnicate").unwrap_err().contains("unknown operation"));
        assert_eq!(parse_op("rotate:-1").unwrap().to_string(), "rotate:-1");
    }

    #[test]
    fn csv_and_json_inputs_parse() {
        let p = Path::new("x.csv");
        let v = parse_csv("1, 2\n3 4;5\n\n-6e-1\n", p).unwrap();
        assert_eq!(v.iter().map(|c| c.re).collect::<Vec<_>>(), [1.0, 2.0, 3.0, 4.0, 5.0, -0.6]);
        let e = parse_csv("1\n2,abc\n", p).unwrap_err().to_string();
        assert!(e.contains("line 2: \"abc\" is not a number"), "{e}");
        let e = parse_csv("1\nNaN\n", p).unwrap_err().to_string();
        assert!(e.contains("line 2: \"NaN\" is not a finite number"), "{e}");
        let p = Path::new("x.json");
        let v = parse_json("[[1, 2], 3, [0.5, -1]]", p).unwrap();
        assert_eq!(v, [Complex64::new(1.0, 2.0), Complex64::new(3.0, 0.0), Complex64::new(0.5, -1.0)]);
        assert!(parse_json("[[1, 2, 3]]", p).unwrap_err().to_string().contains("needs [re, im]"));
        assert!(parse_json("[\"a\"]", p).unwrap_err().to_string().contains("element 0"));
        assert!(parse_json("{}", p).unwrap_err().to_string().contains("expected a JSON array"));
        assert!(format_of(Path::new("x.txt")).unwrap_err().to_string().contains("unknown file extension .txt"));
    }

    #[test]
    fn seeds_parse() {
        assert_eq!(parse_seed(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert!(parse_seed("abc").is_err());
        assert!(parse_seed(&"zz".repeat(32)).is_err());
    }
}
