//! `hetl demo` and `hetl profile`. `hetl demo` is the Setup 2 flow on the bundled breast-cancer features with
//! the default hyperparameters (`hetl train` with its defaults; every flag of
//! `hetl train` is accepted): a hospital encrypts its patients' features and
//! diagnoses, a compute party trains a logistic-regression head on
//! ciphertexts only, and the hospital decrypts it and compares its accuracy
//! with plaintext training, with the overhead of each phase.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use super::plot::svg_bars;
use super::{setup1, train};

/// Arguments of `hetl demo`: those of `hetl train`, with the same defaults.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    train: train::Args,
}

/// Runs `hetl demo`.
pub fn run(args: &Args) -> Result<()> {
    println!("hetl demo — Setup 2: the data party (hospital) encrypts; the compute party trains on ciphertexts only.");
    train::run(&args.train).map(drop)
}

/// Arguments of `hetl profile`: those of `hetl train`, plus the Setup 1
/// encoder options and the outputs.
#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    train: train::Args,
    /// Setup 1: row of the data set whose clinical note is encoded.
    #[arg(long, default_value_t = 0)]
    note: usize,
    /// Setup 1: encode this text instead of a clinical note.
    #[arg(long)]
    text: Option<String>,
    /// Write the profile as JSON here (Setup 2: the training report).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a bar chart of the time per layer as SVG here.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// Runs `hetl profile`. Setup 1: one sequence through the encrypted
/// encoder layers, every step timed (device-synchronous), counted and
/// compared with the plaintext twin. Setup 2: `hetl train` in blocking
/// mode, whose report ends with the cost of each layer of a training step.
pub fn profile(args: &ProfileArgs) -> Result<()> {
    let t = &args.train;
    match t.setup {
        1 => setup1::profile(&setup1::ProfileRequest {
            encoder: t.encoder.clone(),
            text: args.text.clone(),
            note: args.note,
            data: t.data.data.clone(),
            preset: t.preset.clone().unwrap_or_else(|| setup1::DEFAULT_PRESET.into()),
            exec: t.exec,
            json: args.json.clone(),
            plot: args.plot.clone(),
        }),
        2 => {
            let mut train = t.clone();
            train.blocking = true;
            train.report = args.json.clone().or(train.report);
            let per_layer = train::run(&train)?;
            if let Some(path) = &args.plot {
                let bars: Vec<(String, f64)> =
                    per_layer.iter().map(|(layer, s)| (layer.to_string(), s.total.as_secs_f64())).collect();
                std::fs::write(path, svg_bars("Setup 2: seconds per layer of training", &bars))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(())
        }
        other => bail!("--setup {other}: choose 1 (encrypted encoder) or 2 (plaintext encoder, encrypted head)"),
    }
}
