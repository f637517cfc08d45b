//! The `hetl` command line: one module per subcommand group. Errors print as
//! one sentence plus its causes and exit non-zero.

mod approx;
mod bench;
mod bench_linalg;
mod common;
mod data_party;
mod demo;
mod devices;
mod infer;
mod params;
mod plot;
mod setup1;
mod setup1_train;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// GPU-accelerated CKKS homomorphic encryption with encrypted transfer learning.
#[derive(Debug, Parser)]
#[command(name = "hetl", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show and validate parameter sets (presets or a JSON file).
    Params(params::Args),
    /// Generate a key pair and evaluation keys into a folder (data party).
    Keygen(data_party::KeygenArgs),
    /// Encrypt a vector from a CSV or JSON file (data party).
    Encrypt(data_party::EncryptArgs),
    /// Decrypt a ciphertext file to CSV or JSON (data party).
    Decrypt(data_party::DecryptArgs),
    /// Evaluate one homomorphic operation on ciphertext files (compute party).
    Eval(data_party::EvalArgs),
    /// List the compute devices (CPU, wgpu adapters, CUDA) and why one is unavailable.
    Devices(devices::Args),
    /// Train a classification head on encrypted data and compare with plaintext training.
    Train(train::Args),
    /// Setup 1 encrypted inference: encoder layers and a trained head on one note's ciphertexts.
    Infer(infer::Args),
    /// Setup 2 training with device-synchronous timing: the cost of each layer of a step.
    Profile(demo::ProfileArgs),
    /// Benchmark CKKS primitives and operations.
    Bench(bench::Args),
    /// Encrypt, compute and decrypt a small example, and print the error.
    Demo(demo::Args),
    /// Measure the polynomial approximations (sigmoid, GELU, exp, 1/x, ...) on ciphertexts.
    Approx(approx::Args),
}

/// Parses the command line, runs the command and maps errors to exit codes.
#[must_use]
pub fn main() -> ExitCode {
    crate::host_memory::keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Params(a) => params::run(&a),
        Command::Keygen(a) => data_party::keygen(&a),
        Command::Encrypt(a) => data_party::encrypt(&a),
        Command::Decrypt(a) => data_party::decrypt(&a),
        Command::Eval(a) => data_party::eval(&a),
        Command::Devices(a) => devices::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Train(a) => train::run(&a).map(drop),
        Command::Infer(a) => infer::run(&a),
        Command::Profile(a) => demo::profile(&a),
        Command::Demo(a) => demo::run(&a),
        Command::Approx(a) => approx::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
