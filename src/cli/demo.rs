//! `hetl demo`: encrypt two vectors, compute on ciphertexts, decrypt, and
//! compare with the same computation in plaintext.

use std::time::Instant;

use anyhow::Result;
use num_complex::Complex64;

use super::common::{BackendChoice, load_preset, make_context};
use crate::ckks::KeyBundle;
use crate::math::sampling::Csprng;

/// Arguments of `hetl demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Parameter preset.
    #[arg(long, default_value = "n14")]
    preset: String,
    /// Backend to run on.
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendChoice,
    /// Worker threads of the CPU backend.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Runs `hetl demo`: computes x·y + rotate(x, 1) − 0.5 on ciphertexts.
pub fn run(args: &Args) -> Result<()> {
    let start = Instant::now();
    let params = load_preset(&args.preset)?;
    let ctx = make_context(params.clone(), args.backend, args.threads)?;
    println!("hetl demo: {:?}", params);
    let mut rng = Csprng::from_os()?;
    let KeyBundle { secret: sk, public: pk, eval: evk } = ctx.gen_keys(&[1], false, &mut rng)?;
    println!("keys generated in {:.2?}", start.elapsed());

    let slots = params.max_slots();
    let x: Vec<f64> = (0..slots).map(|i| (i as f64 * 0.001).sin()).collect();
    let y: Vec<f64> = (0..slots).map(|i| (i as f64 * 0.002).cos()).collect();
    let top = params.max_level();
    let t = Instant::now();
    let cx = ctx.encrypt(&ctx.encode_real(&x, top)?, &pk, &mut rng)?;
    let cy = ctx.encrypt(&ctx.encode_real(&y, top)?, &pk, &mut rng)?;
    println!("encrypted 2 × {slots} values in {:.2?}", t.elapsed());

    let t = Instant::now();
    let xy = ctx.rescale(&ctx.mul_relin(&cx, &cy, &evk)?)?;
    // The rotated x is one level higher than the product: bring it down to the product's level and scale.
    let rx = ctx.rescale_to(&ctx.rotate(&cx, 1, &evk)?, xy.scale())?;
    let result = ctx.add_const(&ctx.add(&xy, &rx)?, -0.5)?;
    println!("computed x·y + rotate(x, 1) − 0.5 in {:.2?} (level {} → {})", t.elapsed(), top, result.level());

    let got = ctx.decode(&ctx.decrypt(&result, &sk)?)?;
    let want: Vec<Complex64> =
        (0..slots).map(|i| Complex64::new(x[i] * y[i] + x[(i + 1) % slots] - 0.5, 0.0)).collect();
    let max_err = got.iter().zip(&want).map(|(g, w)| (g - w).norm()).fold(0.0, f64::max);
    println!("slot 0..4 decrypted: {:?}", got[..4].iter().map(|c| format!("{:.6}", c.re)).collect::<Vec<_>>());
    println!("slot 0..4 expected:  {:?}", want[..4].iter().map(|c| format!("{:.6}", c.re)).collect::<Vec<_>>());
    println!("max |error| over {slots} slots: {max_err:.3e} ({:.1} bits)", -max_err.log2());
    println!("total {:.2?}", start.elapsed());
    Ok(())
}
