//! Setup 1 from the command line: the data party runs the embeddings (and
//! the layers before the encrypted ones) in plaintext and encrypts the
//! hidden states; the compute party runs the last K MiniLM layers on
//! ciphertexts. `hetl profile --setup 1` measures every step of every
//! encrypted layer against the plaintext twin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, Array2, Axis};
use serde_json::json;

use super::common::{ExecArgs, load_preset, mib_to_bytes};
use super::plot::svg_bars;
use super::train::head::Head;
use super::train::{MODEL_DIR, load_data};
use crate::ckks::Ciphertext;
use crate::model::dataset::{Dataset, SPLIT_SEED, TEST_FRACTION};
use crate::model::minilm::MiniLm;
use crate::nn::approx::{Arith, CkksArith};
use crate::nn::encoder::{
    Calibration, Counting, EncryptedEncoder, Refresh, Session, Shape, StepRecord, TokenLayout, decode, layer_twin,
    plain_combination,
};
use crate::nn::head::logreg::BatchValues;
use crate::nn::party::{ComputeParty, DataParty};
use crate::sched::{OpKind, OpStats};

/// Preset of the Setup 1 commands: 128-bit, 16384 slots (32 tokens per
/// ciphertext), 19 levels between refreshes.
pub const DEFAULT_PRESET: &str = "n15";

/// Default plaintext cache of the Setup 1 commands on GPU backends whose
/// memory is unknown (wgpu), MiB; where it is known (CUDA), a quarter of it.
const GPU_PLAINTEXT_CACHE_MB: usize = 2048;

/// Bytes for attention's masks, cached by value on every backend: a layer
/// multiplies by about 20 600 of them, 104 distinct (219 MiB encoded at
/// n15), which would otherwise be encoded again at every use.
const MASK_CACHE_BYTES: usize = 512 << 20;

/// Options of the encrypted encoder shared by the Setup 1 commands.
#[derive(Clone, Debug, clap::Args)]
pub struct EncoderArgs {
    /// Number of MiniLM layers run encrypted (the last K; the data party runs the others in plaintext).
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Training notes the approximation domains are calibrated on (plaintext, data party).
    #[arg(long, default_value_t = 64)]
    pub calibration_notes: usize,
    /// Longest token sequence accepted (at most 256, MiniLM's window; the
    /// tokenizer truncates there); the encrypted cost grows with its square.
    #[arg(long, default_value_t = crate::nn::encoder::MAX_TOKENS)]
    pub max_tokens: usize,
    /// Memory (MiB) for the encoded weight diagonals of the encrypted
    /// layers, kept between forward passes instead of encoded at each (on
    /// a GPU backend, device memory); 0 encodes them at every pass.
    /// (Attention's masks, about 100 distinct ones per layer, are cached
    /// apart, up to 512 MiB.)
    /// Default: a quarter of the device's memory on CUDA (one n15 layer's
    /// diagonals take 11.6 GiB; cached, a projection ran 51× faster on an
    /// H200), 2048 on wgpu, 0 on the CPU (where encoding is a small share
    /// of a layer and holding the diagonals measured slower).
    #[arg(long)]
    pub plaintext_cache_mb: Option<usize>,
}

/// `--plaintext-cache-mb`'s default on `backend` with `memory` bytes of
/// device memory (where known).
fn default_cache_mib(backend: &str, memory: Option<usize>) -> usize {
    match (backend, memory) {
        ("cpu", _) => 0,
        (_, Some(bytes)) => (bytes / 4) >> 20,
        (_, None) => GPU_PLAINTEXT_CACHE_MB,
    }
}

impl EncoderArgs {
    /// `ctx` with the plaintext cache of `--plaintext-cache-mb` (or its
    /// default for `ctx`'s backend) and the mask cache.
    pub fn with_cache(&self, ctx: crate::ckks::Context) -> Result<crate::ckks::Context> {
        let mib = self
            .plaintext_cache_mb
            .unwrap_or_else(|| default_cache_mib(ctx.sched().backend_name(), ctx.sched().device_memory()));
        Ok(ctx.with_plaintext_cache(mib_to_bytes(mib, "--plaintext-cache-mb")?).with_value_cache(MASK_CACHE_BYTES))
    }

    /// The real tokens of `text`, checked against `--max-tokens`.
    pub fn tokenize(&self, model: &MiniLm, text: &str) -> Result<crate::model::minilm::Tokens> {
        ensure!(
            (1..=crate::nn::encoder::MAX_TOKENS).contains(&self.max_tokens),
            "--max-tokens must be in 1..={}",
            crate::nn::encoder::MAX_TOKENS
        );
        let tokens = model.tokenize(text)?;
        ensure!(
            tokens.len() <= self.max_tokens,
            "the text has {} tokens, more than --max-tokens {}",
            tokens.len(),
            self.max_tokens
        );
        Ok(tokens)
    }
}

/// What `hetl profile --setup 1` runs on and writes.
#[derive(Clone, Debug)]
pub struct ProfileRequest {
    /// Encoder options.
    pub encoder: EncoderArgs,
    /// Text to encode (default: the clinical note of `note`).
    pub text: Option<String>,
    /// Row of the data set whose clinical note is encoded.
    pub note: usize,
    /// Data set (`bundled` or a CSV path).
    pub data: String,
    /// Parameter preset.
    pub preset: String,
    /// Backend and threads of the compute party.
    pub exec: ExecArgs,
    /// JSON report path.
    pub json: Option<PathBuf>,
    /// SVG plot path.
    pub plot: Option<PathBuf>,
}

/// The model, the calibration on the first training notes, and the encoder.
pub struct Prepared {
    /// The plaintext model.
    pub model: MiniLm,
    /// The data set.
    pub data: Dataset,
    /// Domains of the approximations.
    pub calibration: Calibration,
    /// Plaintext mean-pooled vectors of the calibration notes (same pass).
    pub pooled: Array2<f64>,
}

/// Loads the model and data and calibrates on `notes` training notes.
pub fn prepare(data: &str, notes: usize) -> Result<Prepared> {
    ensure!(notes >= 1, "--calibration-notes must be at least 1");
    let model = MiniLm::load(Path::new(MODEL_DIR))?;
    let data = load_data(data)?;
    let split = data.split(TEST_FRACTION, SPLIT_SEED)?;
    let texts =
        (0..split.train.len().min(notes)).map(|i| split.train.clinical_note(i)).collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let (calibration, pooled) = Calibration::measure_pooled(&model, &texts)?;
    eprintln!("calibrated the approximation domains on {} training notes in {:.1?}", texts.len(), start.elapsed());
    Ok(Prepared { model, data, calibration, pooled })
}

/// Per-coordinate mean and standard deviation of pooled vectors (from the
/// data party's calibration notes): the head's public preprocessing.
pub struct Standardization {
    /// Mean of each coordinate.
    pub mean: Array1<f64>,
    /// Standard deviation of each coordinate (1 where it is 0).
    pub std: Array1<f64>,
}

impl Standardization {
    /// The statistics of `pooled` (one row per note).
    pub fn fit(pooled: &Array2<f64>) -> Result<Self> {
        let mean = pooled.mean_axis(Axis(0)).context("no calibration notes")?;
        let std = pooled.std_axis(Axis(0), 0.0).mapv(|s| if s > 1e-9 { s } else { 1.0 });
        Ok(Self { mean, std })
    }

    /// (rows − mean) / std.
    #[must_use]
    pub fn apply(&self, rows: &Array2<f64>) -> Array2<f64> {
        (rows - &self.mean) / &self.std
    }

    /// The statistics of the plaintext pooled vectors of the calibration notes.
    pub fn of_calibration(prepared: &Prepared) -> Result<Self> {
        Self::fit(&prepared.pooled)
    }
}

/// The plaintext pieces that put pooled vectors (each replicated in every
/// block) into a head's mini-batch layout, standardized: per sample, a mask
/// for x and one for (lr/batch)·x carrying 1/σ; the offsets carry −μ/σ, the
/// bias and the labels.
pub struct Repack {
    /// Mask of each sample for x.
    pub x: Vec<Vec<f64>>,
    /// Mask of each sample for x_grad.
    pub x_grad: Vec<Vec<f64>>,
    /// What is added: −μ/σ and the bias in x and x_grad, the labels in y.
    pub offsets: BatchValues,
}

impl Repack {
    /// The pieces for a batch of `labels.len()` samples of `head`.
    pub fn new(head: &Head, stats: &Standardization, labels: &[f64]) -> Result<Self> {
        let n = labels.len();
        let zero = vec![vec![0.0; stats.mean.len()]; n];
        let offsets = head.batch_values(&vec![(-&stats.mean / &stats.std).to_vec(); n], labels)?;
        let empty = head.batch_values(&zero, labels)?;
        let diff = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(a, b)| a - b).collect::<Vec<f64>>();
        let (mut x, mut x_grad) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for s in 0..n {
            let mut rows = zero.clone();
            rows[s] = stats.std.mapv(f64::recip).to_vec();
            let v = head.batch_values(&rows, labels)?;
            x.push(diff(&v.x, &empty.x));
            x_grad.push(diff(&v.x_grad, &empty.x_grad));
        }
        Ok(Self { x, x_grad, offsets })
    }

    /// Σ_s masks[s] ⊙ pooled[s] + offset on ciphertexts (or the mirror): one level.
    pub fn apply<A: Arith>(a: &A, pooled: &[A::Value], masks: &[Vec<f64>], offset: &[f64]) -> Result<A::Value> {
        let level = pooled.iter().map(|v| a.level(v)).min().unwrap_or(0);
        let aligned = pooled.iter().map(|v| a.drop_to_level(v, level)).collect::<crate::nn::Result<Vec<_>>>()?;
        let terms: Vec<(&A::Value, &[f64])> = aligned.iter().zip(masks).map(|(v, m)| (v, m.as_slice())).collect();
        Ok(a.add_plain(&plain_combination(a, &terms)?, offset)?)
    }
}

/// Mean-pooled final hidden states of `texts` in plaintext (no L2 normalisation).
pub fn plaintext_pooled(model: &MiniLm, texts: &[String]) -> Result<Array2<f64>> {
    let rows = texts
        .iter()
        .map(|t| {
            let tokens = model.tokenize(t)?;
            Ok(model.encode(&tokens)?.mean_axis(Axis(0)).context("empty note")?.mapv(f64::from).to_vec())
        })
        .collect::<Result<Vec<Vec<f64>>>>()?;
    let width = rows.first().map_or(0, Vec::len);
    Ok(Array2::from_shape_vec((rows.len(), width), rows.concat())?)
}

/// The data party during profiling: refreshes, and decrypts each step's
/// output to compare it with the plaintext twin (a measurement aid).
struct Profiler<'p> {
    party: DataParty<'p>,
    layout: TokenLayout,
    heads: usize,
    twins: BTreeMap<(usize, &'static str), Array2<f64>>,
    /// Cosine of each layer's output (and of the pooled vector) with the twin.
    cosines: Vec<(usize, &'static str, f64)>,
    bar: ProgressBar,
}

impl Refresh<CkksArith<'_>> for Profiler<'_> {
    fn refresh(&mut self, a: &CkksArith<'_>, values: &[Ciphertext]) -> crate::nn::Result<Vec<Ciphertext>> {
        Refresh::refresh(&mut self.party, a, values)
    }

    fn observe(
        &mut self,
        block: usize,
        step: &'static str,
        values: &[Ciphertext],
        shape: Shape,
    ) -> crate::nn::Result<Option<f64>> {
        self.bar.inc(1);
        self.bar.set_message(format!("layer {block} {step}"));
        let Some(twin) = self.twins.get(&(block, step)) else { return Ok(None) };
        let slots = values.iter().map(|ct| self.party.decrypt(ct)).collect::<Result<Vec<_>, _>>()?;
        let got = decode(&self.layout, shape, self.heads, &slots)?;
        if step == "ffn/layernorm" || step == "pooling" {
            let flat = |m: &Array2<f64>| m.iter().copied().collect::<Vec<f64>>();
            self.cosines.push((block, step, cosine(&flat(&got), &flat(twin))));
        }
        Ok(Some((&got - twin).iter().fold(0.0, |m, v| m.max(v.abs()))))
    }
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt() * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

/// Runs `hetl profile --setup 1`.
pub fn profile(req: &ProfileRequest) -> Result<()> {
    let prepared = prepare(&req.data, req.encoder.calibration_notes)?;
    let (model, data) = (&prepared.model, &prepared.data);
    let text = match &req.text {
        Some(t) => t.clone(),
        None => data.clinical_note(req.note).with_context(|| format!("--note {}", req.note))?,
    };
    let params = load_preset(&req.preset)?;
    let ctx = req.encoder.with_cache(req.exec.context(params.clone())?)?;
    let encoder = EncryptedEncoder::new(&params, model, &prepared.calibration, req.encoder.layers)?;
    let tokens = req.encoder.tokenize(model, &text)?;

    // Data party: plaintext prefix, keys, encryption.
    let start = Instant::now();
    let x = encoder.plaintext_prefix(model, &tokens)?;
    let prefix_time = start.elapsed();
    let layout = encoder.layout(x.nrows())?;
    let start = Instant::now();
    let (mut party, material) = DataParty::generate(&ctx, &encoder.rotations(layout.tokens())?)?;
    let keygen_time = start.elapsed();
    let key_bytes = material.eval.len() + material.public.len();
    let start = Instant::now();
    let xs: Vec<Ciphertext> = layout.pack(x.view())?.iter().map(|v| party.encrypt(v)).collect::<Result<_, _>>()?;
    let encrypt_time = start.elapsed();
    let upload: usize = xs.iter().map(|c| ctx.ciphertext_to_bytes(c).map(|b| b.len())).sum::<Result<_, _>>()?;

    // The same layers in plaintext, timed alone (the overhead factor's denominator).
    let start = Instant::now();
    let mut inputs = Vec::with_capacity(encoder.layers().len());
    let mut hidden = x.mapv(|v| v as f32);
    for layer in encoder.layers() {
        let next = model.layers()[layer.index()].forward(hidden.view(), &vec![1; hidden.nrows()])?;
        inputs.push(std::mem::replace(&mut hidden, next));
    }
    let plaintext_time = start.elapsed();
    let hidden = hidden.mapv(f64::from);
    // Plaintext twins of every step of every encrypted layer, from the same inputs.
    let mut twins = BTreeMap::new();
    for (layer, input) in encoder.layers().iter().zip(&inputs) {
        let plain = &model.layers()[layer.index()];
        for (step, m) in layer_twin(plain, &input.mapv(f64::from), layer.softmax_rounds())? {
            twins.insert((layer.index(), step), m);
        }
    }
    let pooled_twin = hidden.mean_axis(Axis(0)).context("no tokens")?;
    let last = encoder.layers().last().map_or(0, |l| l.index());
    twins.insert((last, "pooling"), pooled_twin.clone().insert_axis(Axis(0)));

    println!(
        "Setup 1: {} tokens, layers {}..{} encrypted (layers before run by the data party in plaintext), preset {}, {} ciphertexts of {} tokens",
        layout.tokens(),
        encoder.first_encrypted(),
        model.layers().len() - 1,
        params.name(),
        layout.ciphertexts(),
        layout.per_ciphertext()
    );
    for layer in encoder.layers() {
        let approx: Vec<String> = layer
            .approximations()
            .iter()
            .map(|(what, a)| {
                format!(
                    "{what} {} on [{:.3}, {:.3}] (depth {})",
                    a.degree_label(),
                    a.domain().lo(),
                    a.domain().hi(),
                    a.depth()
                )
            })
            .collect();
        println!(
            "  layer {}: softmax in {} squaring rounds; {}",
            layer.index(),
            layer.softmax_rounds(),
            approx.join("; ")
        );
    }

    // Compute party: ciphertexts and serialized evaluation keys only.
    let compute = ComputeParty::from_bytes(&ctx, &material.public, &material.eval)?;
    // The bytes sent (2.1 GiB at n15) are freed for the layers to reuse.
    drop(material);
    let a = Counting::new(compute.arith());
    ctx.sched().set_blocking(true);
    // Ticks once per observed step: 10 per layer (the broadcast is not observed) and the pooling.
    let bar = ProgressBar::new((10 * encoder.layers().len() + 1) as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed} {msg}").expect("static template"),
    );
    let heads = encoder.layers().first().map_or(1, |l| l.heads());
    let mut profiler = Profiler { party, layout, heads, twins, cosines: Vec::new(), bar };
    let memory_before = crate::host_memory::usage();
    let start = Instant::now();
    let (pooled, records) = {
        let mut session = Session::new(&mut profiler);
        let out = encoder.forward(&a, &mut session, xs, &layout)?;
        let pooled = encoder.mean_pool(&a, &mut session, out, &layout)?;
        (pooled, session.records().to_vec())
    };
    let wall = start.elapsed();
    // (peak resident bytes, page faults of the encrypted layers)
    let memory = crate::host_memory::usage()
        .zip(memory_before)
        .map(|(after, before)| (after.peak_resident_bytes, after.minor_faults - before.minor_faults));
    profiler.bar.finish_and_clear();
    let pooled = profiler.party.decrypt(&pooled)?;
    let final_cosine = cosine(&pooled[..pooled_twin.len()], pooled_twin.as_slice().unwrap_or(&[]));
    let (refreshes, refresh_time, refresh_bytes) = profiler.party.refresh_stats();

    print_table(&records);
    let kinds = step_kinds(&records, &ctx.sched().profile().snapshot());
    print_kinds(&kinds);
    for (block, step, c) in &profiler.cosines {
        println!("cosine with the plaintext model after layer {block} ({step}): {c:.8}");
    }
    let compute_seconds: f64 = records.iter().map(|r| r.seconds).sum::<f64>() - refresh_time.as_secs_f64();
    println!(
        "\npooled embedding: cosine {final_cosine:.6} with the plaintext model; max error {:.3e}",
        records.last().and_then(|r| r.max_error).unwrap_or(f64::NAN)
    );
    println!("overhead:");
    println!(
        "  data party: plaintext prefix {prefix_time:.2?}, keygen {keygen_time:.2?} (evaluation keys {:.1} MiB), encrypt {encrypt_time:.2?} (upload {:.1} MiB)",
        key_bytes as f64 / 1048576.0,
        upload as f64 / 1048576.0
    );
    println!(
        "  encrypted layers {:.2?} (compute {compute_seconds:.2} s + {refreshes} ciphertext refreshes {refresh_time:.2?}, {:.1} MiB moved); same layers in plaintext {plaintext_time:.2?}: {:.0}× slower",
        wall,
        refresh_bytes as f64 / 1048576.0,
        wall.as_secs_f64() / plaintext_time.as_secs_f64().max(1e-9)
    );
    if let Some((peak, faults)) = memory {
        println!(
            "  host memory: peak {:.2} GiB resident; {faults} page faults during the encrypted layers (first touches of memory)",
            peak as f64 / (1u64 << 30) as f64
        );
    }
    let (masks, masks_encoded) = ctx.value_cache().values_and_encodings();
    println!(
        "  masks: {masks} multiplied, {masks_encoded} encoded, the others reused ({} kept, {:.1} MiB)",
        ctx.value_cache().len(),
        ctx.value_cache().used_bytes() as f64 / 1048576.0
    );
    if let Some(path) = &req.json {
        let report = json!({
            "setup": 1, "preset": params.name(), "backend": ctx.sched().backend_name(), "threads": req.exec.threads,
            "tokens": layout.tokens(), "encrypted_layers": encoder.layers().iter().map(|l| l.index()).collect::<Vec<_>>(),
            "rows": records.iter().map(|r| row_json(r, wall)).collect::<Vec<_>>(),
            "totals": {
                "seconds": wall.as_secs_f64(), "compute_seconds": compute_seconds,
                "plaintext_seconds": plaintext_time.as_secs_f64(),
                "overhead_factor": wall.as_secs_f64() / plaintext_time.as_secs_f64().max(1e-9),
                "refreshes": refreshes, "refresh_seconds": refresh_time.as_secs_f64(), "refresh_bytes": refresh_bytes,
                "keygen_seconds": keygen_time.as_secs_f64(), "eval_key_bytes": key_bytes,
                "encrypt_seconds": encrypt_time.as_secs_f64(), "upload_bytes": upload,
                "prefix_seconds": prefix_time.as_secs_f64(),
                "masks": masks, "masks_encoded": masks_encoded,
                "peak_resident_bytes": memory.map(|(peak, _)| peak),
                "layer_page_faults": memory.map(|(_, faults)| faults),
            },
            "seconds_by_kind": kinds.iter().map(|(step, k)| json!({"step": step, "kinds": k.iter().cloned().collect::<BTreeMap<_, _>>()})).collect::<Vec<_>>(),
            "pooled_cosine": final_cosine,
            "cosines": profiler.cosines.iter().map(|(b, s, c)| json!({"block": b, "step": s, "cosine": c})).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &req.plot {
        let bars: Vec<(String, f64)> =
            records.iter().map(|r| (format!("layer {} {}", r.block, r.step), r.seconds)).collect();
        std::fs::write(path, svg_bars("Setup 1: seconds per encrypted step", &bars))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// One JSON row of the profile.
fn row_json(r: &StepRecord, wall: Duration) -> serde_json::Value {
    json!({
        "block": r.block, "step": r.step, "seconds": r.seconds, "share": r.seconds / wall.as_secs_f64().max(1e-9),
        "ops": r.ops, "levels": r.depth, "refreshes": r.refreshes, "refreshed_ciphertexts": r.refreshed_ciphertexts,
        "max_error": r.max_error,
    })
}

/// Seconds by primitive kind of each step (summed over the encrypted
/// layers; steps in order of first run), most first, from the scheduler's
/// profile: the submissions' wall times. "host" is the rest of the step's
/// time: encoding plaintexts on the host threads, refreshes at the data
/// party, bookkeeping.
fn step_kinds(
    records: &[StepRecord],
    profile: &BTreeMap<(&'static str, OpKind), OpStats>,
) -> Vec<(&'static str, Vec<(String, f64)>)> {
    let mut steps: Vec<(&'static str, f64)> = Vec::new();
    for r in records {
        match steps.iter_mut().find(|(step, _)| *step == r.step) {
            Some((_, seconds)) => *seconds += r.seconds,
            None => steps.push((r.step, r.seconds)),
        }
    }
    steps
        .into_iter()
        .map(|(step, seconds)| {
            let mut kinds: Vec<(String, f64)> = profile
                .iter()
                .filter(|((layer, _), _)| *layer == step)
                .map(|((_, kind), s)| (format!("{kind:?}"), s.total.as_secs_f64()))
                .collect();
            let host = seconds - kinds.iter().map(|(_, s)| s).sum::<f64>();
            kinds.push(("host".into(), host.max(0.0)));
            kinds.sort_by(|a, b| b.1.total_cmp(&a.1));
            (step, kinds)
        })
        .collect()
}

/// Prints [`step_kinds`], the kinds above a millisecond.
fn print_kinds(kinds: &[(&'static str, Vec<(String, f64)>)]) {
    println!("seconds by primitive kind (over the encrypted layers; host: encoding and the rest of the step):");
    for (step, kinds) in kinds {
        let parts: Vec<String> =
            kinds.iter().filter(|(_, s)| *s >= 1e-3).map(|(kind, s)| format!("{kind} {s:.3}")).collect();
        println!("  {step:<22} {}", parts.join(", "));
    }
}

fn print_table(records: &[StepRecord]) {
    let total: f64 = records.iter().map(|r| r.seconds).sum();
    println!(
        "{:<6} {:<22} {:>9} {:>6} {:>6} {:>7} {:>6} {:>7} {:>9} {:>6} {:>8} {:>10}",
        "layer",
        "step",
        "seconds",
        "share",
        "mul",
        "ptmul",
        "rot",
        "rescale",
        "keyswitch",
        "levels",
        "refresh",
        "max err"
    );
    for r in records {
        println!(
            "{:<6} {:<22} {:>9.3} {:>5.1}% {:>6} {:>7} {:>6} {:>7} {:>9} {:>6} {:>8} {:>10}",
            r.block,
            r.step,
            r.seconds,
            100.0 * r.seconds / total.max(1e-9),
            r.ops.mul,
            r.ops.mul_plain,
            r.ops.rotate,
            r.ops.rescale,
            r.ops.keyswitch,
            r.depth,
            r.refreshed_ciphertexts,
            r.max_error.map_or("-".into(), |e| format!("{e:.2e}"))
        );
    }
    let mut by_block: BTreeMap<usize, f64> = BTreeMap::new();
    for r in records {
        *by_block.entry(r.block).or_default() += r.seconds;
    }
    for (block, seconds) in by_block {
        println!("{:<6} {:<22} {:>9.3} {:>5.1}%", block, "(layer total)", seconds, 100.0 * seconds / total.max(1e-9));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plaintext_cache_defaults_to_a_quarter_of_a_known_device() {
        assert_eq!(default_cache_mib("cpu", None), 0);
        assert_eq!(default_cache_mib("cuda", Some(143_155 << 20)), 35_788);
        assert_eq!(default_cache_mib("wgpu", None), GPU_PLAINTEXT_CACHE_MB);
    }
}
