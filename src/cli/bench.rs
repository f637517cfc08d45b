//! `hetl bench`: times CKKS primitives and operations, as a table or as JSON
//! lines (op, backend, n, limbs, dnum, batch, median_us, ops_per_s, ...).

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use num_complex::Complex64;
use serde_json::json;

use super::bench_linalg::{LINALG_OPS, LinalgPlan, is_linalg};
use super::common::{ExecArgs, load_preset, mib_to_bytes};
use crate::backend::{Basis, KernelTime};
use crate::ckks::{Ciphertext, Context, EvaluationKeys, KeyBundle, Plaintext, PublicKey, SecretKey};
use crate::math::sampling::Csprng;
use crate::sched::{DeviceCounters, OpKind, OpStats};

/// Operations `hetl bench` knows, in run order (the linear-algebra ones,
/// [`LINALG_OPS`], before `precision`).
pub const OPS: [&str; 18] = [
    "ntt",
    "intt",
    "ntt_poly",
    "encode",
    "encrypt",
    "decrypt",
    "add",
    "mul_relin",
    "rescale",
    "mul_relin_rescale",
    "rotate",
    "keyswitch",
    LINALG_OPS[0],
    LINALG_OPS[1],
    LINALG_OPS[2],
    LINALG_OPS[3],
    LINALG_OPS[4],
    "precision",
];

/// Arguments of `hetl bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    exec: ExecArgs,
    /// Parameter preset.
    #[arg(long, default_value = "n14")]
    preset: String,
    /// Batch sizes: independent operations timed together (comma list).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    batch: Vec<usize>,
    /// Timed samples per operation and batch size (the median is reported).
    #[arg(long, default_value_t = 10)]
    samples: usize,
    /// Operations to run (comma list; default all but the `matvec_*` and
    /// `matmul_*` ones, whose rotation keys take gigabytes at n16).
    #[arg(long, value_delimiter = ',')]
    ops: Vec<String>,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// After timing each op and batch size, run it once more with the
    /// scheduler waiting after every primitive and report where the device
    /// time goes, per primitive kind (µs per op; an extra line or row) and,
    /// on CUDA, per kernel (µs, launches, modeled MB and GB/s per op).
    #[arg(long)]
    profile: bool,
    /// Memory (MiB) for encoded weight diagonals kept between runs of the
    /// `matmul_enc_plain`-style ops (0, the default: every run encodes them,
    /// as a single forward pass does).
    #[arg(long, default_value_t = 0)]
    plaintext_cache_mb: usize,
}

/// Inputs shared by all timed operations.
struct Fixture {
    ctx: Context,
    sk: SecretKey,
    pk: PublicKey,
    evk: EvaluationKeys,
    rng: Csprng,
    values: Vec<Complex64>,
    /// Encodings of `values` at the top level, by slot count and whether the
    /// scale is squared (encoding runs on the host: encrypting many inputs
    /// reuses them).
    encoded: Vec<((usize, bool), Plaintext)>,
    /// Prepared plans of the linear-algebra ops, by op name.
    plans: Vec<(&'static str, LinalgPlan)>,
    /// The backend's device counters when the current profiled window began.
    counter_mark: std::cell::Cell<DeviceCounters>,
}

impl Fixture {
    fn fresh(&mut self) -> Result<Ciphertext> {
        self.encrypt_top(self.values.len(), false)
    }

    fn plan(&self, op: &str) -> Option<&LinalgPlan> {
        self.plans.iter().find(|(name, _)| *name == op).map(|(_, plan)| plan)
    }

    /// Fresh inputs of `batch` runs of `op`: one ciphertext with full slots
    /// each (at scale Δ² for `rescale`, the scale of the products it
    /// divides), or the inputs a linear-algebra plan takes.
    fn fresh_for(&mut self, op: &str, batch: usize) -> Result<Vec<Ciphertext>> {
        let (count, slots) = self.plan(op).map_or((1, self.values.len()), |p| (p.inputs(), p.slots()));
        (0..batch * count).map(|_| self.encrypt_top(slots, op == "rescale")).collect()
    }

    /// A public-key encryption of the first `slots` values at the top level,
    /// at the nominal scale Δ or, with `squared`, at Δ².
    fn encrypt_top(&mut self, slots: usize, squared: bool) -> Result<Ciphertext> {
        let i = match self.encoded.iter().position(|(key, _)| *key == (slots, squared)) {
            Some(i) => i,
            None => {
                let top = self.ctx.params().max_level();
                let scale = self.ctx.params().scale(top);
                let scale = if squared { scale * scale } else { scale };
                let pt = self.ctx.encode(&self.values[..slots], top, scale)?;
                self.encoded.push(((slots, squared), pt));
                self.encoded.len() - 1
            }
        };
        Ok(self.ctx.encrypt(&self.encoded[i].1, &self.pk, &mut self.rng)?)
    }
}

/// Runs `hetl bench`.
pub fn run(args: &Args) -> Result<()> {
    if args.samples == 0 || args.batch.contains(&0) {
        bail!("--samples and every --batch size must be at least 1");
    }
    let ops: Vec<&str> = if args.ops.is_empty() {
        OPS.iter().copied().filter(|op| !is_linalg(op)).collect()
    } else {
        args.ops
            .iter()
            .map(|o| {
                OPS.iter()
                    .find(|k| **k == o)
                    .copied()
                    .with_context(|| format!("unknown op {o:?}; known: {}", OPS.join(", ")))
            })
            .collect::<Result<_>>()?
    };
    let params = load_preset(&args.preset)?;
    let cache = mib_to_bytes(args.plaintext_cache_mb, "--plaintext-cache-mb")?;
    let ctx = args.exec.context(params.clone())?.with_plaintext_cache(cache);
    let spinner = ProgressBar::new_spinner().with_message(format!("generating keys for {}", params.name()));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let mut rng = Csprng::from_os()?;
    let plans = ops
        .iter()
        .filter(|op| is_linalg(op))
        .map(|&op| Ok((op, LinalgPlan::new(&ctx, op, &mut || unit(&mut rng))?)))
        .collect::<Result<Vec<_>>>()?;
    let mut steps: Vec<i64> = plans.iter().flat_map(|(_, p)| p.rotations()).collect();
    steps.push(1);
    steps.sort_unstable();
    steps.dedup();
    let KeyBundle { secret: sk, public: pk, eval: evk } = ctx.gen_keys(&steps, false, &mut rng)?;
    spinner.finish_and_clear();
    let values = (0..params.max_slots()).map(|_| Complex64::new(unit(&mut rng), unit(&mut rng))).collect();
    let mut fx =
        Fixture { ctx, sk, pk, evk, rng, values, encoded: Vec::new(), plans, counter_mark: Default::default() };
    let bar = ProgressBar::new((ops.len() * args.batch.len()) as u64)
        .with_style(ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("static template"));
    if !args.json {
        println!("{:<10} {:>6} {:>6} {:>6} {:>14} {:>12}", "op", "limbs", "dnum", "batch", "median (µs)", "ops/s");
    }
    for op in ops {
        if op == "precision" {
            report_precision(&mut fx, args)?;
            bar.inc(args.batch.len() as u64);
            continue;
        }
        for &batch in &args.batch {
            bar.set_message(format!("{op} × {batch}"));
            let (limbs, median_us, _) = time_op(&mut fx, op, batch, args.samples, false)?;
            let ops_per_s = batch as f64 * 1e6 / median_us;
            let p = fx.ctx.params();
            let counts = fx.plan(op).map(LinalgPlan::counts);
            if args.json {
                let mut line = json!({
                    "op": op, "backend": fx.ctx.sched().backend_name(), "impl": "hetl", "preset": p.name(),
                    "threads": args.exec.threads, "n": p.n(), "limbs": limbs, "dnum": p.dnum(), "batch": batch,
                    "median_us": round3(median_us), "ops_per_s": round3(ops_per_s),
                });
                if args.plaintext_cache_mb > 0 {
                    line["plaintext_cache_mb"] = json!(args.plaintext_cache_mb);
                }
                if is_transform(op) {
                    // One read and one write of every word: the least traffic
                    // a transform needs; bytes·batch/median is its effective
                    // memory bandwidth.
                    let bytes = 2 * 4 * limbs * p.n();
                    line["bytes"] = json!(bytes);
                    line["effective_gb_per_s"] = json!(round3(bytes as f64 * batch as f64 / median_us / 1e3));
                }
                if let Some(serde_json::Value::Object(fields)) = counts {
                    for (key, value) in fields {
                        line[key] = value;
                    }
                }
                bar.suspend(|| println!("{line}"));
            } else {
                bar.suspend(|| {
                    println!("{op:<10} {limbs:>6} {:>6} {batch:>6} {median_us:>14.1} {ops_per_s:>12.1}", p.dnum());
                });
            }
            if args.profile {
                let breakdown = profile_op(&mut fx, op, batch)?;
                bar.suspend(|| print_profile(op, batch, &breakdown, args.json, &fx));
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// One primitive kind in a profile, per op.
struct KindCost {
    kind: OpKind,
    /// Wall µs (in blocking mode).
    us: f64,
    /// Device µs from GPU timestamps (0 without).
    device_us: f64,
    /// Modeled device-memory MB (0 without a traffic model).
    mb: f64,
    /// Submissions (for the whole batch).
    submissions: u64,
}

/// A profile of one op: its per-kind costs, and per op its kernel launches
/// and modeled device-memory bytes (where the backend counts them), and the
/// time of each kernel (where it times them).
struct OpProfile {
    kinds: Vec<KindCost>,
    launches: Option<f64>,
    bytes: Option<f64>,
    kernels: Vec<KernelTime>,
}

/// Where the time of one blocking run of `batch` × `op` goes, by kind, and
/// its device counters per op.
fn profile_op(fx: &mut Fixture, op: &str, batch: usize) -> Result<OpProfile> {
    fx.ctx.sched().set_blocking(true);
    let run = time_op(fx, op, batch, 1, true);
    fx.ctx.sched().set_blocking(false);
    let (kinds, counters, kernels) = run?.2.unwrap_or_default();
    let per_op = |d: std::time::Duration| d.as_secs_f64() * 1e6 / batch as f64;
    let costs = kinds
        .into_iter()
        .map(|(kind, s)| KindCost {
            kind,
            us: per_op(s.total),
            device_us: per_op(s.device),
            mb: s.traffic as f64 / 1e6 / batch as f64,
            submissions: s.count,
        })
        .collect();
    let per_batch = |x: Option<u64>| x.map(|x| x as f64 / batch as f64);
    Ok(OpProfile {
        kinds: costs,
        launches: per_batch(counters.launches),
        bytes: per_batch(counters.traffic_bytes),
        kernels,
    })
}

fn print_profile(op: &str, batch: usize, profile: &OpProfile, json: bool, fx: &Fixture) {
    let OpProfile { kinds: breakdown, launches, bytes, kernels } = profile;
    // Per kernel and op: launches, device µs, modeled MB, and their GB/s.
    let per_kernel = kernels.iter().map(|k| {
        let us = k.device.as_secs_f64() * 1e6 / batch as f64;
        let mb = k.bytes as f64 / 1e6 / batch as f64;
        (k, k.launches as f64 / batch as f64, us, mb, if us > 0.0 { mb / us * 1e3 } else { 0.0 })
    });
    let timestamps = breakdown.iter().any(|c| c.device_us > 0.0);
    // The modeled traffic over the device time of the op's kinds: the
    // bandwidth its kernels reach (meaningful on a GPU, with timestamps).
    let device_us: f64 = breakdown.iter().map(|c| c.device_us).sum();
    let model_gb_per_s = bytes.filter(|_| timestamps && device_us > 0.0).map(|b| b / device_us / 1e3);
    if json {
        let field = |f: &dyn Fn(&KindCost) -> serde_json::Value| -> serde_json::Map<String, serde_json::Value> {
            breakdown.iter().map(|c| (json!(c.kind).as_str().unwrap_or("?").to_string(), f(c))).collect()
        };
        let p = fx.ctx.params();
        let mut line = json!({"op": op, "what": "profile", "backend": fx.ctx.sched().backend_name(), "preset": p.name(),
            "batch": batch, "us_per_op": field(&|c| json!(round3(c.us))),
            "submissions": field(&|c| json!(c.submissions))});
        if timestamps {
            line["device_us_per_op"] = json!(field(&|c| json!(round3(c.device_us))));
        }
        if let Some(l) = launches {
            line["launches_per_op"] = json!(round3(*l));
        }
        if let Some(b) = bytes {
            line["model_mb_per_op"] = json!(round3(b / 1e6));
            line["model_mb_by_kind"] = json!(field(&|c| json!(round3(c.mb))));
        }
        if let Some(g) = model_gb_per_s {
            line["model_gb_per_s"] = json!(round3(g));
        }
        if !kernels.is_empty() {
            let by_kernel: serde_json::Map<String, serde_json::Value> = per_kernel
                .map(|(k, launches, us, mb, gb_per_s)| {
                    let fields = json!({"launches_per_op": round3(launches), "device_us_per_op": round3(us),
                        "model_mb_per_op": round3(mb), "model_gb_per_s": round3(gb_per_s)});
                    (k.kernel.clone(), fields)
                })
                .collect();
            line["kernels"] = json!(by_kernel);
        }
        println!("{line}");
    } else {
        let parts: Vec<String> = breakdown
            .iter()
            .map(|c| {
                let gpu = if timestamps { format!(", GPU {:.1} µs", c.device_us) } else { String::new() };
                let mb = if bytes.is_some() { format!(", {:.1} MB", c.mb) } else { String::new() };
                format!("{:?} {:.1} µs{gpu}{mb} ({}×)", c.kind, c.us, c.submissions)
            })
            .collect();
        let launches = launches.map_or(String::new(), |l| format!("; {l:.1} kernel launches"));
        let traffic = bytes.map_or(String::new(), |b| format!(", {:.1} MB modeled traffic", b / 1e6));
        let bandwidth = model_gb_per_s.map_or(String::new(), |g| format!(" ({g:.1} GB/s)"));
        println!("  profile per op: {}{launches}{traffic}{bandwidth}", parts.join(", "));
        let kernel_parts: Vec<String> = per_kernel
            .map(|(k, launches, us, mb, gb_per_s)| {
                format!("{} {us:.1} µs ({launches:.2}×, {mb:.2} MB, {gb_per_s:.1} GB/s)", k.kernel)
            })
            .collect();
        if !kernel_parts.is_empty() {
            println!("  kernels per op, most device time first: {}", kernel_parts.join(", "));
        }
    }
}

fn unit(rng: &mut Csprng) -> f64 {
    f64::from(rng.next_u32()) / f64::from(u32::MAX) * 2.0 - 1.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Limbs, median µs and (when asked) the per-kind profile of a timed op.
type TimedOp = (usize, f64, Option<Window>);

/// What the profiled window of a timed op recorded: per-kind totals, the
/// device counters over it, and its kernels' times.
type Window = (BTreeMap<OpKind, OpStats>, DeviceCounters, Vec<KernelTime>);

/// Median wall time (µs) of `batch` independent runs of `op`, over `samples`
/// samples after one warm-up; inputs are prepared outside the clock
/// (ciphertexts once: the ops read them and return new ones, so every sample
/// does the same work without encrypting `batch` inputs again on the host),
/// and the clock stops when the device has finished.
/// With `profile`, also the scheduler's per-kind totals over the last
/// sample's timed window.
fn time_op(fx: &mut Fixture, op: &str, batch: usize, samples: usize, profile: bool) -> Result<TimedOp> {
    let params = fx.ctx.params().clone();
    let top = params.max_level();
    let limbs = params.q_limbs(top);
    let mut times = Vec::with_capacity(samples);
    let mut window = None;
    let inputs = match op {
        _ if is_transform(op) || matches!(op, "encode" | "encrypt") => None,
        _ => Some((fx.fresh_for(op, batch)?, fx.fresh()?)),
    };
    for sample in 0..=samples {
        let elapsed = match op {
            _ if is_transform(op) => {
                // `ntt`/`intt`: one limb per polynomial, the per-limb figure
                // peers report; `ntt_poly`: every Q limb of a top-level
                // polynomial, the transform mul_relin and rotate run.
                let (n, limbs) = (params.n(), ntt_limbs(op, limbs));
                let ring = params.ring();
                let words: Vec<u32> = (0..limbs * n).map(|i| fx.rng.uniform_mod(&ring.q[i / n])).collect();
                let mut polys = (0..batch)
                    .map(|_| fx.ctx.sched().submit(OpKind::Upload, |b| b.upload(Basis::q(limbs), &words)))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut refs: Vec<_> = polys.iter_mut().collect();
                fx.ctx.synchronize()?;
                let forward = op != "intt";
                let start = begin(fx, profile)?;
                fx.ctx.sched().submit(if forward { OpKind::Ntt } else { OpKind::Intt }, |b| {
                    if forward { b.ntt_forward(&mut refs) } else { b.ntt_inverse(&mut refs) }
                })?;
                fx.ctx.synchronize()?;
                start.elapsed()
            }
            "encode" => {
                let values = vec![fx.values.as_slice(); batch];
                let start = begin(fx, profile)?;
                fx.ctx.encode_many(&values, top, params.scale(top))?;
                fx.ctx.synchronize()?;
                start.elapsed()
            }
            "encrypt" => {
                let pt = fx.ctx.encode(&fx.values, top, params.scale(top))?;
                fx.ctx.synchronize()?;
                let start = begin(fx, profile)?;
                for _ in 0..batch {
                    fx.ctx.encrypt(&pt, &fx.pk, &mut fx.rng)?;
                }
                fx.ctx.synchronize()?;
                start.elapsed()
            }
            _ => {
                let (cts, other) = inputs.as_ref().context("ciphertext inputs")?;
                let relin = fx.evk.relin_key().context("relinearization key missing")?;
                let refs: Vec<&Ciphertext> = cts.iter().collect();
                let pairs: Vec<(&Ciphertext, &Ciphertext)> = cts.iter().map(|ct| (ct, other)).collect();
                fx.ctx.synchronize()?;
                // The whole batch goes through the batched (`*_many`) operations.
                let start = begin(fx, profile)?;
                match op {
                    "decrypt" => {
                        for ct in cts {
                            fx.ctx.decode(&fx.ctx.decrypt(ct, &fx.sk)?)?;
                        }
                    }
                    "add" => drop(fx.ctx.add_many(&pairs)?),
                    "mul_relin" => drop(fx.ctx.mul_relin_many(&pairs, &fx.evk)?),
                    "rescale" => drop(fx.ctx.rescale_many(&refs)?),
                    "mul_relin_rescale" => drop(fx.ctx.mul_relin_rescale_many(&pairs, &fx.evk)?),
                    "rotate" => drop(fx.ctx.rotate_many(&refs, 1, &fx.evk)?),
                    "keyswitch" => drop(fx.ctx.key_switch_many(&refs, relin)?),
                    _ if is_linalg(op) => {
                        fx.plan(op).context("linear-algebra plan")?.run(&fx.ctx, &refs, &fx.evk)?;
                    }
                    _ => unreachable!("op names are validated against OPS"),
                }
                fx.ctx.synchronize()?;
                start.elapsed()
            }
        };
        if sample > 0 {
            times.push(elapsed.as_secs_f64() * 1e6);
        }
        if profile {
            let counters = fx.ctx.sched().counters().since(fx.counter_mark.get());
            window = Some((fx.ctx.sched().profile().by_kind(), counters, fx.ctx.sched().take_kernel_times()?));
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((ntt_limbs(op, limbs), times[times.len() / 2], window))
}

/// Starts a timed window: the clock, and a fresh profile (and kernel
/// times) when profiling.
fn begin(fx: &Fixture, profile: bool) -> Result<Instant> {
    if profile {
        fx.ctx.sched().profile().reset();
        fx.counter_mark.set(fx.ctx.sched().counters());
        fx.ctx.sched().take_kernel_times()?;
    }
    Ok(Instant::now())
}

/// Whether `op` times bare NTTs (`ntt`, `intt` per limb; `ntt_poly`).
fn is_transform(op: &str) -> bool {
    matches!(op, "ntt" | "intt" | "ntt_poly")
}

/// Limbs of the polynomials `op` works on: one for the per-limb transforms,
/// else the top level's `limbs`.
fn ntt_limbs(op: &str, limbs: usize) -> usize {
    if op == "ntt" || op == "intt" { 1 } else { limbs }
}

/// Measures the precision of one (fused) mul_relin_rescale on fresh top-level
/// ciphertexts of random values in the unit square, for public-key and
/// secret-key encryption: max error and bits (−log2 of it).
fn report_precision(fx: &mut Fixture, args: &Args) -> Result<()> {
    let top = fx.ctx.params().max_level();
    let pt = fx.ctx.encode(&fx.values, top, fx.ctx.params().scale(top))?;
    for encryption in ["public-key", "secret-key"] {
        let (a, b) = if encryption == "public-key" {
            (fx.fresh()?, fx.fresh()?)
        } else {
            (fx.ctx.encrypt_symmetric(&pt, &fx.sk, &mut fx.rng)?, fx.ctx.encrypt_symmetric(&pt, &fx.sk, &mut fx.rng)?)
        };
        let prod = fx.ctx.mul_relin_rescale(&a, &b, &fx.evk)?;
        let got = fx.ctx.decode(&fx.ctx.decrypt(&prod, &fx.sk)?)?;
        let max_err = got.iter().zip(&fx.values).map(|(g, v)| (g - v * v).norm()).fold(0.0, f64::max);
        let bits = -max_err.log2();
        let p = fx.ctx.params();
        if args.json {
            let line = json!({"op": "precision", "what": "mul_relin_rescale", "encryption": encryption,
                "preset": p.name(), "n": p.n(), "limbs": p.q_limbs(top), "max_abs_error": max_err, "bits": round3(bits)});
            println!("{line}");
        } else {
            println!(
                "precision after mul_relin_rescale ({encryption} encryption): max |error| {max_err:.3e} ({bits:.1} bits)"
            );
        }
    }
    Ok(())
}
