//! `hetl approx`: runs each polynomial approximation on encrypted random
//! inputs from its domain and reports domain, degree, depth, ciphertext
//! multiplications, encrypted max and mean error, the plaintext polynomial
//! error and the time per ciphertext, as a table or JSON lines.

use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use num_complex::Complex64;
use serde_json::json;

use super::common::{ExecArgs, load_preset};
use crate::ckks::{Context, EvaluationKeys, KeyBundle, SecretKey};
use crate::math::sampling::Csprng;
use crate::nn::approx::{Approximation, CkksArith, Domain, FUNCTION_NAMES, Fit, Softmax};

/// Arguments of `hetl approx`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Parameter preset.
    #[arg(long, default_value = "n15")]
    preset: String,
    #[command(flatten)]
    exec: ExecArgs,
    /// Functions (comma list; default all): sigmoid, tanh, gelu, exp, inverse, inv_sqrt, relu, softmax.
    #[arg(long, value_delimiter = ',')]
    functions: Vec<String>,
    /// How polynomials are fitted: Chebyshev interpolation or Remez minimax.
    #[arg(long, value_enum, default_value = "interpolation")]
    fit: FitChoice,
    /// Slots the softmax runs over (a power of two; the ciphertext is packed sparsely).
    #[arg(long, default_value_t = 64)]
    softmax_slots: usize,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

/// `--fit` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum FitChoice {
    /// Interpolation at Chebyshev nodes.
    Interpolation,
    /// Remez exchange (minimax).
    Minimax,
}

impl From<FitChoice> for Fit {
    fn from(f: FitChoice) -> Self {
        match f {
            FitChoice::Interpolation => Self::Interpolation,
            FitChoice::Minimax => Self::Minimax,
        }
    }
}

/// What one row measures.
enum Subject {
    Elementwise(Approximation),
    Softmax(Box<Softmax>),
}

impl Subject {
    fn name(&self) -> &str {
        match self {
            Self::Elementwise(f) => f.name(),
            Self::Softmax(_) => "softmax",
        }
    }

    fn domain(&self) -> Domain {
        match self {
            Self::Elementwise(f) => f.domain(),
            Self::Softmax(s) => s.domain(),
        }
    }

    fn degree(&self) -> String {
        match self {
            Self::Elementwise(f) => f.degree_label(),
            Self::Softmax(s) => format!("exp {}, 1/x {}", s.exp().degree_label(), s.inverse().degree_label()),
        }
    }

    fn depth(&self) -> usize {
        match self {
            Self::Elementwise(f) => f.depth(),
            Self::Softmax(s) => s.depth(),
        }
    }

    fn multiplications(&self) -> usize {
        match self {
            Self::Elementwise(f) => f.multiplications(),
            Self::Softmax(s) => s.multiplications(),
        }
    }
}

/// Errors and time of one encrypted evaluation.
struct Measurement {
    max_error: f64,
    mean_error: f64,
    plain_error: f64,
    seconds: f64,
    level_in: usize,
    level_out: usize,
    slots: usize,
}

/// Keys and randomness of the run: the data party encrypts and decrypts,
/// the compute party evaluates with `evk`.
struct Party {
    ctx: Context,
    sk: SecretKey,
    evk: EvaluationKeys,
    rng: Csprng,
}

/// Runs `hetl approx`.
pub fn run(args: &Args) -> Result<()> {
    let subjects = subjects(args)?;
    let params = load_preset(&args.preset)?;
    let ctx = args.exec.context(params.clone())?;
    let steps: Vec<i64> = subjects
        .iter()
        .filter_map(|s| match s {
            Subject::Softmax(s) => Some(s.rotation_steps()),
            Subject::Elementwise(_) => None,
        })
        .flatten()
        .collect();
    let spinner = ProgressBar::new_spinner().with_message(format!("generating keys for {}", params.name()));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let mut rng = Csprng::from_os()?;
    let KeyBundle { secret: sk, eval: evk, .. } = ctx.gen_keys(&steps, false, &mut rng)?;
    spinner.finish_and_clear();
    let mut party = Party { ctx, sk, evk, rng };
    let bar = ProgressBar::new(subjects.len() as u64)
        .with_style(ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("static template"));
    if !args.json {
        println!(
            "{} (N = {}, {} levels), backend {}, secret-key encryption at the top level, random inputs over the domain",
            params.name(),
            params.n(),
            params.max_level(),
            party.ctx.sched().backend_name()
        );
        println!(
            "{:<9} {:<11} {:<22} {:>5} {:>5} {:>10} {:>10} {:>10} {:>9}",
            "function", "domain", "degree", "depth", "mults", "max err", "mean err", "plain err", "ms / ct"
        );
    }
    for subject in &subjects {
        bar.set_message(subject.name().to_string());
        let max_level = params.max_level();
        if subject.depth() > max_level {
            let reason = format!("needs depth {} but {} has {max_level} levels", subject.depth(), params.name());
            bar.suspend(|| print_skipped(args, subject, &reason));
        } else {
            let m = measure(&mut party, subject, args.softmax_slots)
                .with_context(|| format!("evaluating {} failed", subject.name()))?;
            bar.suspend(|| print_row(args, &party, subject, &m));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

/// The requested functions with their defaults, in table order.
fn subjects(args: &Args) -> Result<Vec<Subject>> {
    let known: Vec<&str> = FUNCTION_NAMES.iter().copied().chain(["softmax"]).collect();
    let names: Vec<&str> =
        if args.functions.is_empty() { known.clone() } else { args.functions.iter().map(String::as_str).collect() };
    names
        .into_iter()
        .map(|name| match name {
            "softmax" => Softmax::with_defaults(args.softmax_slots)
                .map(|s| Subject::Softmax(Box::new(s)))
                .context("invalid --softmax-slots"),
            _ if known.contains(&name) => {
                Ok(Subject::Elementwise(Approximation::by_name(name)?.with_fit(args.fit.into())?))
            }
            _ => bail!("unknown function {name:?}; known: {}", known.join(", ")),
        })
        .collect()
}

/// Encrypts random inputs from the domain, evaluates, decrypts and compares.
fn measure(p: &mut Party, subject: &Subject, softmax_slots: usize) -> Result<Measurement> {
    let params = p.ctx.params().clone();
    let slots = match subject {
        Subject::Elementwise(_) => params.max_slots(),
        Subject::Softmax(_) => softmax_slots,
    };
    let domain = subject.domain();
    let xs: Vec<f64> = (0..slots)
        .map(|_| domain.lo() + (domain.hi() - domain.lo()) * f64::from(p.rng.next_u32()) / f64::from(u32::MAX))
        .collect();
    let top = params.max_level();
    let values: Vec<Complex64> = xs.iter().map(|&x| Complex64::new(x, 0.0)).collect();
    let pt = p.ctx.encode(&values, top, params.scale(top))?;
    let ct = p.ctx.encrypt_symmetric(&pt, &p.sk, &mut p.rng)?;
    let arith = CkksArith::new(&p.ctx, &p.evk);
    let start = Instant::now();
    let (out, want, plain_error) = match subject {
        Subject::Elementwise(f) => {
            let want: Vec<f64> = xs.iter().map(|&x| f.reference(x)).collect();
            (f.evaluate(&arith, &ct)?, want, f.plain_error())
        }
        Subject::Softmax(s) => {
            let want = Softmax::reference(&xs);
            let plain = s.eval_f64(&xs).iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            (s.evaluate(&arith, &ct)?, want, plain)
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let got = p.ctx.decode(&p.ctx.decrypt(&out, &p.sk)?)?;
    let errors: Vec<f64> = got.iter().zip(&want).map(|(g, w)| (g.re - w).abs()).collect();
    Ok(Measurement {
        max_error: errors.iter().copied().fold(0.0, f64::max),
        mean_error: errors.iter().sum::<f64>() / errors.len() as f64,
        plain_error,
        seconds,
        level_in: top,
        level_out: out.level(),
        slots,
    })
}

fn print_row(args: &Args, p: &Party, subject: &Subject, m: &Measurement) {
    let params = p.ctx.params();
    let ms = m.seconds * 1e3;
    if args.json {
        let line = json!({
            "function": subject.name(), "preset": params.name(), "backend": p.ctx.sched().backend_name(),
            "n": params.n(), "slots": m.slots, "domain": [subject.domain().lo(), subject.domain().hi()],
            "degree": subject.degree(), "depth": subject.depth(), "multiplications": subject.multiplications(),
            "level_in": m.level_in, "level_out": m.level_out, "max_error": m.max_error,
            "mean_error": m.mean_error, "plain_error": m.plain_error, "ms_per_ciphertext": (ms * 1e3).round() / 1e3,
        });
        println!("{line}");
    } else {
        println!(
            "{:<9} {:<11} {:<22} {:>5} {:>5} {:>10.2e} {:>10.2e} {:>10.2e} {:>9.1}",
            subject.name(),
            subject.domain().to_string(),
            subject.degree(),
            subject.depth(),
            subject.multiplications(),
            m.max_error,
            m.mean_error,
            m.plain_error,
            ms
        );
    }
}

fn print_skipped(args: &Args, subject: &Subject, reason: &str) {
    if args.json {
        println!("{}", json!({ "function": subject.name(), "skipped": reason }));
    } else {
        println!(
            "{:<9} {:<11} {:<22} skipped: {reason}",
            subject.name(),
            subject.domain().to_string(),
            subject.degree()
        );
    }
}
