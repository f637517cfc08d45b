//! `hetl train --setup 2`: the data party encodes (features, or MiniLM
//! embeddings of clinical notes), encrypts samples and labels; the compute
//! party trains a logistic-regression head on ciphertexts only; the data
//! party refreshes the weights when their levels run out, decrypts the
//! trained head and scores it on the held-out split, next to the plaintext
//! head trained with the same approximations and with the exact sigmoid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, bail, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;
use serde_json::json;

use super::common::{ExecArgs, load_preset};
use super::data_party::{check_key_folder, write_key_folder};
use crate::math::sampling::Csprng;
use crate::model::dataset::{Dataset, SPLIT_SEED, Standardizer, TEST_FRACTION};
use crate::model::minilm::MiniLm;
use crate::nn::approx::{PlainArith, PlainValue};
use crate::nn::head::logreg::Batch;
use crate::nn::head::metrics::BinaryMetrics;
use crate::nn::party::{ComputeParty, DataParty};
use crate::sched::OpStats;
pub use head::HeadKind;
use head::{Head, HeadOptions};

pub(super) mod head;

/// The Wisconsin breast-cancer data, bundled into the binary (`data/`).
const BUNDLED_DATA: &str = include_str!("../../data/breast_cancer.csv");
/// Where `tools/fetch_model.sh` puts all-MiniLM-L6-v2.
pub(super) const MODEL_DIR: &str = "models/all-MiniLM-L6-v2";

/// Representations the head can be trained on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Repr {
    /// The 30 standardized measurements.
    Features,
    /// MiniLM (384-d) embeddings of a clinical note rendered from each patient's measurements.
    Minilm,
}

/// Learning rate of the head on pooled MiniLM vectors (Setup 1, and Setup 2
/// with `--repr minilm`): their logits grow faster than on the 30 features,
/// and the head's default on features drives them out of the sigmoid's
/// domain.
pub(super) const MINILM_LR: f64 = 0.05;

impl Repr {
    /// The learning rate used when `--lr` is not given for `head`.
    fn default_lr(self, head: HeadKind) -> f64 {
        match self {
            Self::Features => head.default_lr(),
            Self::Minilm => MINILM_LR,
        }
    }
}

/// Which data and representation (shared by `hetl train` and `hetl eval --head`).
#[derive(Clone, Debug, clap::Args)]
pub struct DataArgs {
    /// `bundled` (data/breast_cancer.csv) or the path of a CSV with the same columns.
    #[arg(long, default_value = "bundled")]
    pub(super) data: String,
    /// Representation the head is trained on.
    #[arg(long, value_enum, default_value = "features")]
    pub(super) repr: Repr,
}

/// Arguments of `hetl train`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// 2: the data party runs the encoder in plaintext and the head is
    /// trained on ciphertexts; 1: the compute party also runs the last
    /// --layers MiniLM layers on ciphertexts (clinical notes).
    #[arg(long, default_value_t = 2)]
    pub(super) setup: u8,
    /// Setup 1 encoder options.
    #[command(flatten)]
    pub(super) encoder: super::setup1::EncoderArgs,
    /// Setup 1: use the first N train notes and ⌈N/4⌉ test notes (0: all).
    #[arg(long, default_value_t = 8)]
    pub(super) limit: usize,
    /// Setup 1: run the pipeline in exact arithmetic (same approximations,
    /// no encryption) to measure the approximations' accuracy on many notes.
    #[arg(long)]
    pub(super) mirror: bool,
    #[command(flatten)]
    pub(super) data: DataArgs,
    /// Head to train.
    #[arg(long, value_enum, default_value = "logreg")]
    pub(super) head: HeadKind,
    /// Passes over the training split.
    #[arg(long, default_value_t = 10)]
    pub(super) epochs: usize,
    /// Learning rate (default: 0.2 for logreg on the features, 0.05 for
    /// softmax and on MiniLM vectors, at the head's default preset; presets
    /// with smaller mini-batches, such as the toy ones, scale it down in
    /// proportion).
    #[arg(long)]
    pub(super) lr: Option<f64>,
    /// Degree of the Chebyshev sigmoid.
    #[arg(long, default_value_t = 15)]
    pub(super) sigmoid_degree: usize,
    /// Half-width R of the sigmoid's domain [-R, R]; every logit must stay inside.
    #[arg(long, default_value_t = 16.0)]
    pub(super) sigmoid_range: f64,
    /// Parameter preset (default: n14 for logreg, n15 for softmax).
    #[arg(long)]
    pub(super) preset: Option<String>,
    #[command(flatten)]
    pub(super) exec: ExecArgs,
    /// Write the encrypted trained head (weights ciphertext) here.
    #[arg(long)]
    pub(super) out: Option<PathBuf>,
    /// Write the data party's key folder here (params.json, secret.key,
    /// public.key, eval.key), e.g. for `hetl eval --head` later.
    #[arg(long)]
    pub(super) keys_out: Option<PathBuf>,
    /// Overwrite existing key files in --keys-out.
    #[arg(long)]
    pub(super) force: bool,
    /// Wait for the device after every primitive, so that per-layer and
    /// per-kind times are device times (GPU backends run ahead otherwise).
    #[arg(long)]
    pub blocking: bool,
    /// Write the accuracy and overhead report as JSON here.
    #[arg(long)]
    pub(super) report: Option<PathBuf>,
}

/// Train and test representations with 0/1 labels.
struct Prepared {
    train: (Array2<f64>, Vec<f64>),
    test: (Array2<f64>, Vec<f64>),
}

pub(super) fn load_data(data: &str) -> Result<Dataset> {
    if data == "bundled" {
        Ok(Dataset::parse(BUNDLED_DATA, "bundled data/breast_cancer.csv")?)
    } else {
        Ok(Dataset::load(Path::new(data)).with_context(|| format!("cannot load {data}"))?)
    }
}

fn prepare(data: &Dataset, repr: Repr) -> Result<Prepared> {
    let split = data.split(TEST_FRACTION, SPLIT_SEED)?;
    let labels = |d: &Dataset| d.labels().to_vec();
    match repr {
        Repr::Features => {
            let standardizer = Standardizer::fit(&split.train);
            Ok(Prepared {
                train: (standardizer.transform(&split.train), labels(&split.train)),
                test: (standardizer.transform(&split.test), labels(&split.test)),
            })
        }
        Repr::Minilm => {
            let model = MiniLm::load(Path::new(MODEL_DIR))?;
            let embed = |d: &Dataset| -> Result<Array2<f64>> {
                let notes = (0..d.len()).map(|i| d.clinical_note(i)).collect::<Result<Vec<_>, _>>()?;
                let refs: Vec<&str> = notes.iter().map(String::as_str).collect();
                Ok(model.embed(&refs)?.mapv(f64::from))
            };
            eprintln!("embedding {} clinical notes with MiniLM (data party, plaintext)", data.len());
            let (train, test) = (embed(&split.train)?, embed(&split.test)?);
            // The notes share one template, so the embeddings share a large
            // common part: standardize each coordinate with the train statistics.
            let mean = train.mean_axis(ndarray::Axis(0)).context("empty training split")?;
            let std = train.std_axis(ndarray::Axis(0), 0.0).mapv(|s| if s > 0.0 { s } else { 1.0 });
            Ok(Prepared {
                train: ((&train - &mean) / &std, labels(&split.train)),
                test: ((&test - &mean) / &std, labels(&split.test)),
            })
        }
    }
}

/// Mini-batches of the training split, in order.
pub(super) fn batches(x: &Array2<f64>, y: &[f64], per_batch: usize) -> Vec<(Vec<Vec<f64>>, Vec<f64>)> {
    let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    rows.chunks(per_batch).zip(y.chunks(per_batch)).map(|(x, y)| (x.to_vec(), y.to_vec())).collect()
}

/// Runs `hetl train`; returns the training time per layer of the step.
pub fn run(args: &Args) -> Result<BTreeMap<&'static str, OpStats>> {
    match args.setup {
        1 => return super::setup1_train::run(args, &args.encoder, args.limit, args.mirror).map(|()| BTreeMap::new()),
        2 => {}
        other => bail!("--setup {other}: choose 1 (encrypted encoder) or 2 (plaintext encoder, encrypted head)"),
    }
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    if let Some(dir) = &args.keys_out {
        check_key_folder(dir, args.force)?;
    }
    let data = load_data(&args.data.data)?;
    let prepared = prepare(&data, args.data.repr)?;
    let features = prepared.train.0.ncols();
    let params = load_preset(args.preset.as_deref().unwrap_or(args.head.default_preset()))?;
    let ctx = args.exec.context(params.clone())?;
    let mut options = HeadOptions {
        lr: args.lr.unwrap_or(args.data.repr.default_lr(args.head)),
        epochs: args.epochs,
        sigmoid_degree: args.sigmoid_degree,
        sigmoid_range: args.sigmoid_range,
    };
    if args.lr.is_none() {
        options.scale_default_lr(args.head, features, params.max_slots())?;
    }
    let trainer = Head::new(args.head, features, params.max_slots(), &options)?;
    if trainer.depth_per_step() > params.max_level() {
        bail!(
            "a training step needs {} levels; preset {} has {} (lower the degrees or take a deeper preset)",
            trainer.depth_per_step(),
            params.name(),
            params.max_level()
        );
    }
    let batches = batches(&prepared.train.0, &prepared.train.1, trainer.samples_per_batch());
    let train_rows: Vec<Vec<f64>> = batches.iter().flat_map(|(x, _)| x.iter().cloned()).collect();
    println!(
        "Setup 2, {:?} representation: {} train / {} test patients, {} features, {} mini-batch ciphertext(s) of {} samples, learning rate {}, preset {}",
        args.data.repr,
        prepared.train.1.len(),
        prepared.test.1.len(),
        features,
        batches.len(),
        trainer.samples_per_batch(),
        options.lr,
        params.name()
    );

    // Data party: keys, encoding, encryption.
    let start = Instant::now();
    let (mut data_party, material) = DataParty::generate(&ctx, &trainer.rotations())?;
    let keygen_time = start.elapsed();
    let eval_key_bytes = material.eval.len() + material.public.len();
    if let Some(dir) = &args.keys_out {
        write_key_folder(dir, &params, &data_party.secret_key_bytes()?, &material.public, &material.eval)?;
    }
    let start = Instant::now();
    let values = batches.iter().map(|(x, y)| trainer.batch_values(x, y)).collect::<Result<Vec<_>, _>>()?;
    let encrypted = values
        .iter()
        .map(|v| {
            Ok(Batch {
                x: data_party.encrypt(&v.x)?,
                x_grad: data_party.encrypt(&v.x_grad)?,
                y: data_party.encrypt(&v.y)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let encrypt_time = start.elapsed();
    let upload_bytes: usize = encrypted
        .iter()
        .flat_map(|b| [&b.x, &b.x_grad, &b.y])
        .map(|c| ctx.ciphertext_to_bytes(c).map(|b| b.len()))
        .sum::<Result<usize, _>>()?;

    // Compute party: ciphertexts and the serialized public and evaluation keys only.
    let compute = ComputeParty::from_bytes(&ctx, &material.public, &material.eval)?;
    drop(material);
    let w0 = compute.encrypt_zeros(trainer.slots(), &mut Csprng::from_os()?)?;
    let ciphertext_bytes = ctx.ciphertext_to_bytes(&w0)?.len();
    let bar = ProgressBar::new(args.epochs as u64)
        .with_style(ProgressStyle::with_template("{bar:30} epoch {pos}/{len} {elapsed}").expect("static template"));
    ctx.sched().profile().reset();
    ctx.sched().set_blocking(args.blocking);
    let start = Instant::now();
    let (w_enc, _) = trainer.train(
        &compute.arith(),
        w0,
        &encrypted,
        |w| {
            let step_layer = ctx.sched().profile().set_layer("refresh (data party)");
            let fresh = data_party.refresh(w, |values| trainer.check_domain(values, &train_rows));
            ctx.sched().profile().set_layer(step_layer);
            fresh
        },
        |e| bar.set_position(e as u64),
    )?;
    ctx.sched().profile().set_layer("wait for the device");
    ctx.synchronize()?;
    let (refreshes, refresh_time, refresh_bytes) = data_party.refresh_stats();
    let train_time = start.elapsed() - refresh_time;
    bar.finish_and_clear();
    let (per_layer, per_kind) = (ctx.sched().profile().by_layer(), ctx.sched().profile().by_kind());

    // Data party: download and decrypt the head.
    let head_bytes = ctx.ciphertext_to_bytes(&w_enc)?;
    let start = Instant::now();
    let w_encrypted = data_party.decrypt(&w_enc)?;
    let decrypt_time = start.elapsed();
    if let Some(path) = &args.out {
        std::fs::write(path, &head_bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }

    // Plaintext twins: the mirror (same approximations, levels and refreshes) and the exact activation.
    let start = Instant::now();
    let mirror = PlainArith::new(params.clone());
    let top = params.max_level();
    let plain_batches = values
        .iter()
        .map(|v| {
            Ok(Batch {
                x: mirror.encode(&v.x, top)?,
                x_grad: mirror.encode(&v.x_grad, top)?,
                y: mirror.encode(&v.y, top)?,
            })
        })
        .collect::<Result<Vec<_>, crate::nn::NnError>>()?;
    let (w_mirror, _) = trainer.train(
        &mirror,
        mirror.encode(&trainer.initial_weights(), top)?,
        &plain_batches,
        |w: &PlainValue| {
            trainer.check_domain(w.values(), &train_rows)?;
            mirror.encode(w.values(), top)
        },
        |_| {},
    )?;
    let mirror_time = start.elapsed();
    let w_mirror = w_mirror.values().to_vec();
    let (test_x, test_y) = &prepared.test;
    let start = Instant::now();
    let exact_scores = trainer.exact_scores(&batches, test_x)?;
    let exact_time = start.elapsed();

    let rows = [
        ("encrypted training (HE)", trainer.scores(&w_encrypted, test_x), train_time),
        ("plaintext, same approximations", trainer.scores(&w_mirror, test_x), mirror_time),
        ("plaintext, exact activation", exact_scores, exact_time),
    ];
    println!("{:?} head", args.head);
    println!("{:<40} {:>9} {:>7} {:>7} {:>12}", "training", "accuracy", "AUC", "F1", "train time");
    let mut metrics = Vec::new();
    for (name, scores, time) in rows {
        let m = BinaryMetrics::new(&scores, test_y);
        println!("{name:<40} {:>8.2}% {:>7.4} {:>7.4} {:>12.2?}", 100.0 * m.accuracy, m.auc, m.f1, time);
        metrics.push(json!({"head": name, "metrics": m, "train_seconds": time.as_secs_f64()}));
    }
    let max_weight_diff = w_encrypted.iter().zip(&w_mirror).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let approximation_errors = trainer.approximation_errors();
    let errors: Vec<String> = approximation_errors.iter().map(|(f, e)| format!("{f} {e:.2e}")).collect();
    println!(
        "max |encrypted − mirror| over the weight slots = {max_weight_diff:.3e}; approximation errors: {}",
        errors.join(", ")
    );
    println!();
    println!("overhead (data party / compute party):");
    println!("  keygen {keygen_time:.2?}, evaluation keys {:.1} MiB", eval_key_bytes as f64 / 1048576.0);
    println!(
        "  encode+encrypt {encrypt_time:.2?}, upload {:.1} MiB ({} B per ciphertext)",
        upload_bytes as f64 / 1048576.0,
        ciphertext_bytes
    );
    println!(
        "  encrypted training {train_time:.2?} ({:.2?} per epoch) vs plaintext exact {exact_time:.2?}",
        train_time / args.epochs as u32
    );
    println!(
        "  refreshes {refreshes} ({:.2?}, {:.1} KiB moved), head download {:.1} KiB, decrypt {decrypt_time:.2?}",
        refresh_time,
        refresh_bytes as f64 / 1024.0,
        head_bytes.len() as f64 / 1024.0
    );
    let peak = peak_memory_bytes();
    if let Some(bytes) = peak {
        println!("  peak memory (resident) {:.0} MiB", bytes as f64 / 1048576.0);
    }
    println!("  training time per layer of the step (primitive submissions, wall time; GPU time where timestamped):");
    for (layer, stats) in &per_layer {
        println!("    {layer:<22} {}", stats_line(stats));
    }
    println!("  training time per primitive kind:");
    for (kind, stats) in &per_kind {
        println!("    {:<22} {}", format!("{kind:?}"), stats_line(stats));
    }
    if let Some(path) = &args.report {
        let report = json!({
            "setup": 2, "repr": format!("{:?}", args.data.repr).to_lowercase(), "head": format!("{:?}", args.head).to_lowercase(), "preset": params.name(),
            "backend": ctx.sched().backend_name(), "threads": args.exec.threads, "lr": options.lr, "epochs": options.epochs,
            "train_patients": prepared.train.1.len(), "test_patients": test_y.len(), "features": features,
            "depth_per_step": trainer.depth_per_step(),
            "approximation_errors": approximation_errors.iter().map(|(f, e)| (f.to_string(), json!(e))).collect::<serde_json::Map<_, _>>(),
            "results": metrics, "max_weight_diff_vs_mirror": max_weight_diff,
            "overhead": {
                "keygen_seconds": keygen_time.as_secs_f64(), "eval_key_bytes": eval_key_bytes,
                "encrypt_seconds": encrypt_time.as_secs_f64(), "upload_bytes": upload_bytes,
                "ciphertext_bytes": ciphertext_bytes, "train_seconds": train_time.as_secs_f64(),
                "train_seconds_per_epoch": train_time.as_secs_f64() / args.epochs as f64,
                "plaintext_exact_seconds": exact_time.as_secs_f64(), "refreshes": refreshes,
                "refresh_seconds": refresh_time.as_secs_f64(), "refresh_bytes": refresh_bytes,
                "download_bytes": head_bytes.len(), "decrypt_seconds": decrypt_time.as_secs_f64(), "peak_memory_bytes": peak,
                "per_layer": stats_json(per_layer.iter().map(|(l, s)| ((*l).to_string(), s))),
                "per_kind": stats_json(per_kind.iter().map(|(k, s)| (format!("{k:?}"), s))),
            },
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(per_layer)
}

/// The process's peak resident memory (Linux `VmHWM`), if the system tells.
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Scores a decrypted head of `kind` (its weight slots, from `hetl eval
/// --head`) on the test split of the data and representation it was trained on.
pub fn score_head(slots: &[f64], kind: HeadKind, data: &DataArgs) -> Result<()> {
    let prepared = prepare(&load_data(&data.data)?, data.repr)?;
    let features = prepared.test.0.ncols();
    ensure!(slots.len().is_power_of_two(), "the head has {} slots, not a power of two", slots.len());
    // The packing depends on the feature and slot counts only.
    let options = HeadOptions { lr: kind.default_lr(), epochs: 1, sigmoid_degree: 3, sigmoid_range: 1.0 };
    let head = Head::new(kind, features, slots.len(), &options)
        .with_context(|| format!("a {kind:?} head of {} slots cannot hold {features} features", slots.len()))?;
    let m = BinaryMetrics::new(&head.scores(slots, &prepared.test.0), &prepared.test.1);
    println!(
        "{kind:?} head on the {} test patients ({:?} representation): accuracy {:.2}%, AUC {:.4}, F1 {:.4}",
        prepared.test.1.len(),
        data.repr,
        100.0 * m.accuracy,
        m.auc,
        m.f1
    );
    Ok(())
}

/// `{name: {calls, seconds, gpu_seconds}}` for a profile table
/// (`gpu_seconds`: GPU timestamps, 0 where none were taken).
fn stats_json<'a>(rows: impl Iterator<Item = (String, &'a OpStats)>) -> serde_json::Value {
    let row = |s: &OpStats| json!({"calls": s.count, "seconds": s.total.as_secs_f64(), "gpu_seconds": s.device.as_secs_f64()});
    rows.map(|(name, s)| (name, row(s))).collect::<serde_json::Map<_, _>>().into()
}

/// Calls and wall time of a profile row, and the GPU time when the backend
/// timestamped it (blocking mode on wgpu).
fn stats_line(stats: &OpStats) -> String {
    let gpu = if stats.device.is_zero() { String::new() } else { format!("  (GPU {:.2?})", stats.device) };
    format!("{:>6} calls {:>12.2?}{gpu}", stats.count, stats.total)
}
