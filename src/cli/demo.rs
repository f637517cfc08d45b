//! `hetl demo` and `hetl profile`. `hetl demo` is the Setup 2 flow on the bundled breast-cancer features with
//! the default hyperparameters (`hetl train` with its defaults; every flag of
//! `hetl train` is accepted): a hospital encrypts its patients' features and
//! diagnoses, a compute party trains a logistic-regression head on
//! ciphertexts only, and the hospital decrypts it and compares its accuracy
//! with plaintext training, with the overhead of each phase.

use anyhow::Result;

use super::train;

/// Arguments of `hetl demo`: those of `hetl train`, with the same defaults.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    train: train::Args,
}

/// Runs `hetl demo`.
pub fn run(args: &Args) -> Result<()> {
    println!("hetl demo — Setup 2: the data party (hospital) encrypts; the compute party trains on ciphertexts only.");
    train::run(&args.train)
}

/// Arguments of `hetl profile`: those of `hetl train`.
#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    train: train::Args,
}

/// Runs `hetl profile`: `hetl train` in blocking mode, whose report ends with
/// the cost of each layer of a training step and of each primitive kind.
pub fn profile(args: &ProfileArgs) -> Result<()> {
    let mut train = args.train.clone();
    train.blocking = true;
    train::run(&train)
}
