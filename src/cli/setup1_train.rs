//! `hetl train --setup 1`: the data party encrypts each note's hidden
//! states (after the plaintext layers, if any); the compute party runs the
//! last K MiniLM layers and the mean pooling on ciphertexts, repacks the
//! pooled vectors into the head's mini-batches (masks, one level) and
//! trains the head on them exactly as in Setup 2. `--mirror` runs the same
//! pipeline in exact arithmetic (same approximations, levels and refreshes,
//! no encryption): the accuracy of the approximations alone, at a cost that
//! allows every note.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;
use serde_json::json;

use super::common::load_preset;
use super::data_party::{check_key_folder, write_key_folder};
use super::setup1::{DEFAULT_PRESET, EncoderArgs, Repack, Standardization, plaintext_pooled, prepare};
use super::train::head::{Head, HeadOptions};
use super::train::{Args, HeadKind, batches};
use crate::ckks::Ciphertext;
use crate::model::dataset::{Dataset, SPLIT_SEED, TEST_FRACTION};
use crate::model::minilm::MiniLm;
use crate::nn::approx::{Arith, CkksArith, PlainArith, PlainValue};
use crate::nn::encoder::{Counting, EncryptedEncoder, MirrorRefresh, Refresh, Session};
use crate::nn::head::logreg::Batch;
use crate::nn::head::metrics::BinaryMetrics;
use crate::nn::party::{ComputeParty, DataParty};

/// What the data party does for the pipeline: encrypt, decrypt, refresh.
trait DataSide<A: Arith>: Refresh<A> {
    fn encrypt(&mut self, a: &A, values: &[f64]) -> Result<A::Value>;
    fn decrypt(&self, a: &A, value: &A::Value) -> crate::nn::Result<Vec<f64>>;
}

impl DataSide<CkksArith<'_>> for DataParty<'_> {
    fn encrypt(&mut self, _a: &CkksArith<'_>, values: &[f64]) -> Result<Ciphertext> {
        Ok(DataParty::encrypt(self, values)?)
    }
    fn decrypt(&self, _a: &CkksArith<'_>, value: &Ciphertext) -> crate::nn::Result<Vec<f64>> {
        Ok(DataParty::decrypt(self, value)?)
    }
}

impl DataSide<PlainArith> for MirrorRefresh {
    fn encrypt(&mut self, a: &PlainArith, values: &[f64]) -> Result<PlainValue> {
        Ok(a.encode(values, a.params().max_level())?)
    }
    fn decrypt(&self, _a: &PlainArith, value: &PlainValue) -> crate::nn::Result<Vec<f64>> {
        Ok(value.values().to_vec())
    }
}

/// Outputs of one run of the pipeline.
struct Outcome {
    /// Decrypted pooled vectors of the train and test notes (standardized).
    train_rows: Array2<f64>,
    test_rows: Array2<f64>,
    /// Decrypted head weights.
    weights: Vec<f64>,
    encode_time: Duration,
    head_time: Duration,
    refreshes: usize,
}

/// The pipeline on arithmetic `a` with data side `data`.
#[allow(clippy::too_many_arguments)]
fn run_pipeline<A: Arith, D: DataSide<A>>(
    a: &Counting<A>,
    data: &mut D,
    model: &MiniLm,
    encoder: &EncryptedEncoder,
    enc: &EncoderArgs,
    head: &Head,
    stats: &Standardization,
    notes: (&[String], &[String]),
    labels: &[f64],
    save_head: impl FnOnce(&A::Value) -> Result<()>,
) -> Result<Outcome> {
    let bar = ProgressBar::new((notes.0.len() + notes.1.len()) as u64)
        .with_style(ProgressStyle::with_template("{bar:30} note {pos}/{len} {elapsed}").expect("static template"));
    let start = Instant::now();
    let mut pooled = Vec::new();
    let mut refreshes = 0;
    for text in notes.0.iter().chain(notes.1) {
        let tokens = enc.tokenize(model, text)?;
        let x = encoder.plaintext_prefix(model, &tokens)?;
        let layout = encoder.layout(x.nrows())?;
        let xs = layout.pack(x.view())?.iter().map(|v| data.encrypt(a.inner(), v)).collect::<Result<Vec<_>>>()?;
        let mut session = Session::new(data);
        let out = encoder.forward(a, &mut session, xs, &layout)?;
        pooled.push(encoder.mean_pool(a, &mut session, out, &layout)?);
        refreshes += session.records().iter().map(|r| r.refreshed_ciphertexts).sum::<usize>();
        bar.inc(1);
    }
    bar.finish_and_clear();
    let encode_time = start.elapsed();
    let test_pooled = pooled.split_off(notes.0.len());
    let width = stats.mean.len();
    let rows = |values: &[A::Value]| -> Result<Array2<f64>> {
        let flat =
            values.iter().map(|v| Ok(data.decrypt(a.inner(), v)?[..width].to_vec())).collect::<Result<Vec<_>>>()?;
        Ok(stats.apply(&Array2::from_shape_vec((flat.len(), width), flat.concat())?))
    };
    let (train_rows, test_rows) = (rows(&pooled)?, rows(&test_pooled)?);

    // Compute party: pooled vectors → the head's mini-batches (masks carry 1/σ; offsets −μ/σ and the bias).
    let per_batch = head.samples_per_batch();
    let mut batches = Vec::new();
    for (chunk, y) in pooled.chunks(per_batch).zip(labels.chunks(per_batch)) {
        let repack = Repack::new(head, stats, y)?;
        let x = Repack::apply(a, chunk, &repack.x, &repack.offsets.x)?;
        let x_grad = Repack::apply(a, chunk, &repack.x_grad, &repack.offsets.x_grad)?;
        let fresh = Refresh::refresh(data, a.inner(), &[x, x_grad])?;
        refreshes += 2;
        let mut fresh = fresh.into_iter();
        let (x, x_grad) = (fresh.next().context("refresh")?, fresh.next().context("refresh")?);
        batches.push(Batch { x, x_grad, y: data.encrypt(a.inner(), &repack.offsets.y)? });
    }

    // Head training on the ciphertexts, refreshed by the data party (domain checked on its rows).
    let rows: Vec<Vec<f64>> = train_rows.rows().into_iter().map(|r| r.to_vec()).collect();
    let start = Instant::now();
    let w0 = data.encrypt(a.inner(), &head.initial_weights())?;
    let (w, head_refreshes) = head.train(
        a.inner(),
        w0,
        &batches,
        |w| {
            let values = data.decrypt(a.inner(), w)?;
            head.check_domain(&values, &rows)?;
            Ok(Refresh::refresh(data, a.inner(), std::slice::from_ref(w))?.remove(0))
        },
        |_| {},
    )?;
    let head_time = start.elapsed();
    let weights = data.decrypt(a.inner(), &w)?;
    save_head(&w)?;
    Ok(Outcome { train_rows, test_rows, weights, encode_time, head_time, refreshes: refreshes + head_refreshes })
}

/// Runs `hetl train --setup 1`.
pub fn run(args: &Args, enc: &EncoderArgs, limit: usize, mirror: bool) -> Result<()> {
    ensure!(args.head == HeadKind::Logreg, "--setup 1 trains the logreg head (softmax: Setup 2)");
    let prepared = prepare(&args.data.data, enc.calibration_notes)?;
    let (model, data) = (&prepared.model, &prepared.data);
    let split = data.split(TEST_FRACTION, SPLIT_SEED)?;
    let pick = |d: &Dataset, n: usize| -> Result<(Vec<String>, Vec<f64>)> {
        let n = if limit == 0 { d.len() } else { n.min(d.len()) };
        Ok((
            (0..n).map(|i| d.clinical_note(i)).collect::<Result<_, _>>()?,
            d.labels().iter().take(n).copied().collect(),
        ))
    };
    let (train_notes, train_y) = pick(&split.train, limit)?;
    let (test_notes, test_y) = pick(&split.test, limit.div_ceil(4))?;
    let params = load_preset(args.preset.as_deref().unwrap_or(DEFAULT_PRESET))?;
    let encoder = EncryptedEncoder::new(&params, model, &prepared.calibration, enc.layers)?;
    let stats = Standardization::of_calibration(&prepared)?;
    let mut options = HeadOptions {
        lr: args.lr.unwrap_or(super::train::MINILM_LR),
        epochs: args.epochs,
        sigmoid_degree: args.sigmoid_degree,
        sigmoid_range: args.sigmoid_range,
    };
    if args.lr.is_none() {
        options.scale_default_lr(args.head, stats.mean.len(), params.max_slots())?;
    }
    let head = Head::new(args.head, stats.mean.len(), params.max_slots(), &options)?;
    println!(
        "Setup 1: {} train / {} test notes, layers {}..{} encrypted, head learning rate {}, preset {}{}",
        train_notes.len(),
        test_notes.len(),
        encoder.first_encrypted(),
        model.layers().len() - 1,
        options.lr,
        params.name(),
        if mirror { " — MIRROR: exact arithmetic, same approximations, no encryption" } else { "" }
    );
    let notes = (train_notes.as_slice(), test_notes.as_slice());
    let start = Instant::now();
    let (outcome, backend, key_bytes) = if mirror {
        ensure!(
            args.out.is_none() && args.keys_out.is_none(),
            "--mirror trains no encrypted head: drop --out and --keys-out"
        );
        let a = Counting::new(PlainArith::new(params.clone()));
        let o = run_pipeline(&a, &mut MirrorRefresh, model, &encoder, enc, &head, &stats, notes, &train_y, |_| Ok(()))?;
        (o, "mirror", 0)
    } else {
        let ctx = enc.with_cache(args.exec.context(params.clone())?)?;
        let mut steps = encoder.rotations(enc.max_tokens)?;
        steps.extend(head.rotations());
        steps.sort_unstable();
        steps.dedup();
        let (mut party, material) = DataParty::generate(&ctx, &steps)?;
        let compute = ComputeParty::from_bytes(&ctx, &material.public, &material.eval)?;
        let a = Counting::new(compute.arith());
        if let Some(dir) = &args.keys_out {
            check_key_folder(dir, args.force)?;
            write_key_folder(dir, &params, &party.secret_key_bytes()?, &material.public, &material.eval)?;
        }
        let key_bytes = material.eval.len() + material.public.len();
        // The bytes sent are freed for the encrypted layers to reuse.
        drop(material);
        let save = |w: &Ciphertext| -> Result<()> {
            if let Some(path) = &args.out {
                std::fs::write(path, ctx.ciphertext_to_bytes(w)?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(())
        };
        let outcome = run_pipeline(&a, &mut party, model, &encoder, enc, &head, &stats, notes, &train_y, save)?;
        let cache = ctx.plaintext_cache();
        let (hits, misses) = cache.hits_and_misses();
        println!(
            "plaintext cache (--plaintext-cache-mb): {} of {} MiB of encoded weight diagonals, {hits} sets reused, {misses} encoded",
            cache.used_bytes() >> 20,
            cache.budget() >> 20
        );
        (outcome, ctx.sched().backend_name(), key_bytes)
    };
    let total = start.elapsed();

    // Plaintext twin on the same notes: exact encoder, same standardization, exact sigmoid.
    let plain_train = stats.apply(&plaintext_pooled(model, &train_notes)?);
    let plain_test = stats.apply(&plaintext_pooled(model, &test_notes)?);
    let exact = head.exact_scores(&batches(&plain_train, &train_y, head.samples_per_batch()), &plain_test)?;
    let cosines: Vec<f64> = outcome
        .test_rows
        .rows()
        .into_iter()
        .chain(outcome.train_rows.rows())
        .zip(plain_test.rows().into_iter().chain(plain_train.rows()))
        .map(|(a, b)| a.dot(&b) / (a.dot(&a).sqrt() * b.dot(&b).sqrt()))
        .collect();
    let min_cos = cosines.iter().copied().fold(f64::INFINITY, f64::min);
    let rows = [
        (
            if mirror { "Setup 1 mirror (approximations, no HE)" } else { "Setup 1 encrypted (HE encoder + HE head)" },
            head.scores(&outcome.weights, &outcome.test_rows),
        ),
        ("plaintext encoder + the same trained head", head.scores(&outcome.weights, &plain_test)),
        ("plaintext encoder + exact head", exact),
    ];
    // Inference impact of the encrypted encoder: same head, HE vs plaintext vectors.
    let agree = rows[0].1.iter().zip(&rows[1].1).filter(|(p, q)| (**p >= 0.5) == (**q >= 0.5)).count();
    println!("{:<42} {:>9} {:>7} {:>7}", "pipeline", "accuracy", "AUC", "F1");
    let mut metrics = Vec::new();
    for (name, scores) in &rows {
        let m = BinaryMetrics::new(scores, &test_y);
        println!("{name:<42} {:>8.2}% {:>7.4} {:>7.4}", 100.0 * m.accuracy, m.auc, m.f1);
        metrics.push(json!({"pipeline": name, "metrics": m}));
    }
    println!("same head on encrypted-encoder vs plaintext vectors: {agree}/{} test predictions agree", test_y.len());
    println!(
        "standardized pooled vectors vs plaintext: min cosine {min_cos:.6} over {} notes; encoder {:.2?} ({:.2?} per note), head training {:.2?}, {} ciphertext refreshes, total {total:.2?}",
        cosines.len(),
        outcome.encode_time,
        outcome.encode_time / (train_notes.len() + test_notes.len()).max(1) as u32,
        outcome.head_time,
        outcome.refreshes
    );
    if let Some(path) = &args.report {
        let report = json!({
            "setup": 1, "mirror": mirror, "backend": backend, "preset": params.name(),
            "encrypted_layers": encoder.layers().iter().map(|l| l.index()).collect::<Vec<_>>(),
            "train_notes": train_notes.len(), "test_notes": test_notes.len(), "results": metrics,
            "min_cosine_vs_plaintext": min_cos, "test_predictions_agreeing": agree, "encoder_seconds": outcome.encode_time.as_secs_f64(),
            "head_seconds": outcome.head_time.as_secs_f64(), "refreshed_ciphertexts": outcome.refreshes,
            "eval_key_bytes": key_bytes, "total_seconds": total.as_secs_f64(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
