//! `hetl infer --setup 1`: encrypted inference with a head trained by
//! `hetl train --setup 1 --out head.ct --keys-out DIR`. The data party
//! encrypts one note's hidden states; the compute party runs the encrypted
//! layers, the pooling, the standardization and the head's logit on
//! ciphertexts; the data party decrypts the logit alone.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result, ensure};

use super::common::ExecArgs;
use super::data_party::{
    EVAL_KEY_FILE, PUBLIC_KEY_FILE, load_ciphertext, load_params_dir, load_secret_key, read_bytes,
};
use super::setup1::{EncoderArgs, Repack, Standardization, plaintext_pooled, prepare};
use super::train::HeadKind;
use super::train::head::{Head, HeadOptions};
use crate::nn::approx::Arith;
use crate::nn::encoder::{Counting, EncryptedEncoder, Session, ops::rotate_sum, to_level};
use crate::nn::party::{ComputeParty, DataParty};

/// Arguments of `hetl infer`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only 1 (Setup 2 inference is `hetl eval --head`).
    #[arg(long, default_value_t = 1)]
    setup: u8,
    /// The key folder written by `hetl train --setup 1 --keys-out`.
    #[arg(long)]
    keys: PathBuf,
    /// The encrypted head written by `hetl train --setup 1 --out`.
    #[arg(long)]
    head: PathBuf,
    /// Encoder options: must equal those of the training run.
    #[command(flatten)]
    encoder: EncoderArgs,
    /// `bundled` or a CSV path (the calibration notes and the note to classify).
    #[arg(long, default_value = "bundled")]
    data: String,
    /// Row of the data set whose clinical note is classified.
    #[arg(long, default_value_t = 0)]
    note: usize,
    /// Classify this text instead of a clinical note.
    #[arg(long)]
    text: Option<String>,
    #[command(flatten)]
    exec: ExecArgs,
}

/// Runs `hetl infer`.
pub fn run(args: &Args) -> Result<()> {
    ensure!(args.setup == 1, "hetl infer is Setup 1; for Setup 2 use hetl eval --head");
    let params = load_params_dir(&args.keys)?;
    let ctx = args.exec.context(params.clone())?;
    let mut party = DataParty::from_secret(&ctx, load_secret_key(&ctx, &args.keys)?)?;
    let compute = ComputeParty::from_bytes(
        &ctx,
        &read_bytes(&args.keys.join(PUBLIC_KEY_FILE))?,
        &read_bytes(&args.keys.join(EVAL_KEY_FILE))?,
    )
    .context("cannot load the compute party's keys")?;
    let w = load_ciphertext(&ctx, &args.head)?;
    let prepared = prepare(&args.data, args.encoder.calibration_notes)?;
    let model = &prepared.model;
    let stats = Standardization::of_calibration(&prepared)?;
    let encoder = EncryptedEncoder::new(&params, model, &prepared.calibration, args.encoder.layers)?;
    let options = HeadOptions { lr: 0.05, epochs: 1, sigmoid_degree: 3, sigmoid_range: 1.0 };
    let head = Head::new(HeadKind::Logreg, stats.mean.len(), params.max_slots(), &options)?;
    ensure!(
        w.slots() == head.slots(),
        "the head has {} slots; a {} head needs {}",
        w.slots(),
        params.name(),
        head.slots()
    );
    let text = match &args.text {
        Some(t) => t.clone(),
        None => prepared.data.clinical_note(args.note).with_context(|| format!("--note {}", args.note))?,
    };
    let tokens = args.encoder.tokenize(model, &text)?;

    let start = Instant::now();
    let x = encoder.plaintext_prefix(model, &tokens)?;
    let layout = encoder.layout(x.nrows())?;
    let xs = layout.pack(x.view())?.iter().map(|v| party.encrypt(v)).collect::<Result<Vec<_>, _>>()?;
    let a = Counting::new(compute.arith());
    let logit = {
        let mut session = Session::new(&mut party);
        let out = encoder.forward(&a, &mut session, xs, &layout)?;
        let pooled = encoder.mean_pool(&a, &mut session, out, &layout)?;
        // Standardize into the head's sample layout (sample 0), then w·x by a sum over the block.
        let repack = Repack::new(&head, &stats, &[0.0])?;
        let pooled = session.ensure(&a, vec![pooled], 2)?;
        let x = Repack::apply(&a, &pooled, &repack.x, &repack.offsets.x)?;
        let level = a.level(&x).min(a.level(&w));
        let (x, w) = (to_level(&a, &x, level)?, to_level(&a, &w, level)?);
        let product = crate::nn::encoder::ops::sum_of_products(&a, &[(&x, &w)])?;
        rotate_sum(&a, product, 1, head.slots() / head.samples_per_batch())?
    };
    let encrypted_time = start.elapsed();
    let logit = party.decrypt(&logit)?[0];
    let probability = 1.0 / (1.0 + (-logit).exp());
    let plain = stats.apply(&plaintext_pooled(model, &[text])?);
    println!(
        "encrypted inference: logit {logit:.4}, probability of malignant {probability:.4} → {} ({} tokens, {:.2?}, {} ciphertext refreshes)",
        if probability >= 0.5 { "malignant" } else { "benign" },
        layout.tokens(),
        encrypted_time,
        party.refresh_stats().0
    );
    let weights = party.decrypt(&w)?;
    println!("same head on the plaintext encoder's vector: probability {:.4}", head.scores(&weights, &plain)[0]);
    if args.text.is_none() {
        let label = prepared.data.labels()[args.note];
        println!("true diagnosis of row {}: {}", args.note, if label == 1.0 { "malignant" } else { "benign" });
    }
    Ok(())
}
