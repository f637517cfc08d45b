//! `hetl params`: show and validate parameter sets.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde_json::json;

use super::common::warn_if_toy;
use crate::ckks::presets::PRESET_NAMES;
use crate::ckks::security::max_log_qp_128;
use crate::ckks::{Params, ParamsLiteral, preset};

/// Arguments of `hetl params`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Preset to show (default: all presets).
    #[arg(long, conflicts_with = "file")]
    preset: Option<String>,
    /// A JSON parameter literal to validate instead of a preset.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Print one JSON object per set instead of a table.
    #[arg(long)]
    json: bool,
    /// Also list the primes.
    #[arg(long)]
    primes: bool,
}

/// Runs `hetl params`.
pub fn run(args: &Args) -> Result<()> {
    let sets: Vec<Params> = match (&args.preset, &args.file) {
        (Some(name), _) => vec![preset(name)?],
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let literal: ParamsLiteral = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid parameter literal", path.display()))?;
            vec![
                Params::try_from_literal(literal)
                    .with_context(|| format!("invalid parameters in {}", path.display()))?,
            ]
        }
        (None, None) => PRESET_NAMES.iter().map(|n| preset(n)).collect::<Result<_, _>>()?,
    };
    for p in &sets {
        if args.json {
            println!("{}", describe(p, args.primes));
        } else {
            warn_if_toy(p);
            print_table(p, args.primes);
        }
    }
    Ok(())
}

/// The JSON description of a set (also read by `tools/compare.py`).
#[must_use]
pub fn describe(p: &Params, primes: bool) -> serde_json::Value {
    let mut v = json!({
        "name": p.name(),
        "log_n": p.log_n(),
        "n": p.n(),
        "slots": p.max_slots(),
        "depth": p.max_level(),
        "q_limbs": p.ring().q.len(),
        "p_limbs": p.ring().p.len(),
        "primes_per_level": p.primes_per_level(),
        "dnum": p.dnum(),
        "alpha": p.alpha(),
        "log_scale": p.literal().log_scale,
        "log_q": p.log_q(),
        "log_qp": p.log_qp(),
        "max_log_qp_128": max_log_qp_128(p.log_n()),
        "security": p.security(),
        "fingerprint": p.fingerprint_hex(),
    });
    if primes {
        v["q"] = json!(p.ring().q.iter().map(|m| m.value()).collect::<Vec<_>>());
        v["p"] = json!(p.ring().p.iter().map(|m| m.value()).collect::<Vec<_>>());
    }
    v
}

fn print_table(p: &Params, primes: bool) {
    let bound = max_log_qp_128(p.log_n()).map_or_else(|| "none".to_string(), |b| b.to_string());
    println!("parameter set {}", p.name());
    println!("  N                 2^{} = {}", p.log_n(), p.n());
    println!("  slots             {}", p.max_slots());
    println!("  depth             {} (levels {}..0)", p.max_level(), p.max_level());
    println!("  Q limbs           {} ({} base + {} per level)", p.ring().q.len(), p.q_limbs(0), p.primes_per_level());
    println!("  P limbs           {}", p.ring().p.len());
    println!("  dnum              {} (alpha = {} limbs per digit)", p.dnum(), p.alpha());
    println!("  scale             2^{}", p.literal().log_scale);
    println!("  log Q / log QP    {:.1} / {:.1} bits (128-bit bound: {bound})", p.log_q(), p.log_qp());
    println!("  security          {}", p.security());
    println!("  fingerprint       {}", p.fingerprint_hex());
    if primes {
        println!("  Q primes          {:?}", p.ring().q.iter().map(|m| m.value()).collect::<Vec<_>>());
        println!("  P primes          {:?}", p.ring().p.iter().map(|m| m.value()).collect::<Vec<_>>());
    }
}
