//! Data-party and compute-party file tools (being written).

use anyhow::{Result, bail};

/// Arguments of `hetl keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {}
/// Arguments of `hetl encrypt`.
#[derive(Debug, clap::Args)]
pub struct EncryptArgs {}
/// Arguments of `hetl decrypt`.
#[derive(Debug, clap::Args)]
pub struct DecryptArgs {}
/// Arguments of `hetl eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {}

/// Runs `hetl keygen`.
pub fn keygen(_: &KeygenArgs) -> Result<()> {
    bail!("keygen is not available yet")
}
/// Runs `hetl encrypt`.
pub fn encrypt(_: &EncryptArgs) -> Result<()> {
    bail!("encrypt is not available yet")
}
/// Runs `hetl decrypt`.
pub fn decrypt(_: &DecryptArgs) -> Result<()> {
    bail!("decrypt is not available yet")
}
/// Runs `hetl eval`.
pub fn eval(_: &EvalArgs) -> Result<()> {
    bail!("eval is not available yet")
}
