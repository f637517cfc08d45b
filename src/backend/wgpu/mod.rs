//! The wgpu backend: WGSL compute shaders (`shaders/*.wgsl`) on any Vulkan,
//! Metal or DX12 device, and on the CPU through Mesa lavapipe in CI.
//!
//! Polynomials live in device storage buffers from a pool (`pool.rs`); every
//! call records its dispatches into one command buffer (`batch.rs`) and
//! returns without waiting, except [`Backend::download`]. Prime constants and
//! twiddles are uploaded once (`tables.rs`); device, pipelines and layouts
//! are built once (`context.rs`). Every result equals
//! [`super::cpu::CpuBackend`]'s bit for bit: all values are fully reduced at
//! the call boundary, so any exact modular arithmetic gives the same words,
//! and ModDown's overflow count reproduces the CPU's f64 rounding exactly
//! (see `shaders/basis_ext.wgsl`).
//!
//! Exports [`WgpuBackend`] only; nothing here knows about ciphertexts.

mod batch;
mod context;
mod pool;
mod tables;
mod timing;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(crate) use pool::WgpuBuffer;

use self::batch::{Batch, Launch, LimbMap, read_back};
use self::context::{Context, Kernel, NTT_TILE, capture};
use self::pool::{Kind, Pool};
use self::tables::Tables;
use self::timing::Timing;
use super::{
    Backend, BackendError, Basis, DeviceMem, DevicePoly, Elementwise, KeySwitchJob, Result, ScalarOp, TensorPair,
    validate,
};
use crate::backend::device_tables::{down_inverse_pairs, q_last_inverse_pairs, scalar_words};
use crate::backend::launch_plan::{
    CONV_CENTERED, DownPlan, ModUpDigit, SCALED_ADD_MUL, SCALED_SUB_MUL, UNARY_ADD, UNARY_MUL, UNARY_NEGATE, binary_op,
    mod_up_digits, mod_up_targets,
};
use crate::math::RnsRing;

const NAME: &str = "wgpu";

/// Device memory of one ModUp digit, held until its submission: conversion
/// table, the digit's coefficients and the extended output.
struct DigitBuffers {
    table: Arc<wgpu::Buffer>,
    coef: WgpuBuffer,
    out: WgpuBuffer,
}

/// wgpu implementation of [`Backend`], bit-identical to the CPU backend.
pub struct WgpuBackend {
    ring: RnsRing,
    ctx: Context,
    pool: Arc<Pool>,
    tables: Tables,
    /// Compute dispatches encoded so far.
    dispatches: AtomicU64,
    /// GPU timestamps of submissions, in the scheduler's blocking mode.
    timing: Timing,
}

impl WgpuBackend {
    /// Opens a device (the adapter `WGPU_BACKEND` selects; by default a
    /// Vulkan, Metal or DX12 one), compiles the shaders and uploads the
    /// ring's constant tables. No usable adapter gives
    /// [`BackendError::DriverUnavailable`]; a shader that does not compile,
    /// [`BackendError::Kernel`] with the WGSL location.
    pub fn new(ring: RnsRing) -> Result<Self> {
        let max_log_n = 2 * NTT_TILE.trailing_zeros();
        if !(1..=max_log_n).contains(&ring.log_n) {
            return Err(BackendError::InvalidArgument {
                op: "wgpu backend",
                reason: format!("N = 2^{} is outside [2, 2^{max_log_n}]", ring.log_n),
            });
        }
        let ctx = Context::new()?;
        let (tables, error) = capture(&ctx.device, || Tables::new(&ctx, &ring));
        let tables = tables?;
        if let Some(e) = error {
            return Err(BackendError::Device { op: "wgpu backend", reason: e.to_string() });
        }
        let pool = Pool::new(ctx.device.clone());
        let timing = Timing::new(ctx.device.features(), &ctx.queue);
        Ok(Self { ring, ctx, pool, tables, dispatches: AtomicU64::new(0), timing })
    }

    /// The adapter in use (name, driver, and which API: Vulkan, Metal, ...).
    #[must_use]
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.ctx.info
    }

    /// Whether the device writes GPU timestamps (then the scheduler's
    /// blocking mode records each kind's device time).
    #[must_use]
    pub fn has_timestamps(&self) -> bool {
        self.timing.supported()
    }

    /// Compute dispatches encoded so far: a batched call costs one per step
    /// whatever the batch size, when its steps merge (tests check this).
    #[must_use]
    pub fn dispatches(&self) -> u64 {
        self.dispatches.load(Ordering::Relaxed)
    }
}

/// What `hetl devices` shows about one wgpu adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    /// Name, device type, backend and driver.
    pub info: wgpu::AdapterInfo,
    /// Whether it runs compute shaders (required).
    pub compute: bool,
    /// Largest storage-buffer binding, bytes.
    pub max_storage_binding: u64,
    /// Workgroup shared memory, bytes.
    pub workgroup_memory: u32,
    /// Whether it writes GPU timestamps inside command encoders (profiles
    /// then carry each primitive kind's GPU time).
    pub timestamps: bool,
}

/// Every adapter of the backends `WGPU_BACKEND` allows (default Vulkan,
/// Metal, DX12); empty when none is installed.
#[must_use]
pub fn list_adapters() -> Vec<AdapterSummary> {
    let instance = context::instance();
    let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
    pollster::block_on(instance.enumerate_adapters(backends))
        .into_iter()
        .map(|a| {
            let limits = a.limits();
            AdapterSummary {
                info: a.get_info(),
                compute: a.get_downlevel_capabilities().flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS),
                max_storage_binding: limits.max_storage_buffer_binding_size,
                workgroup_memory: limits.max_compute_workgroup_storage_size,
                timestamps: a.features().contains(timing::FEATURES),
            }
        })
        .collect()
}

impl WgpuBackend {
    fn n(&self) -> usize {
        self.ring.n()
    }

    /// Runs `f` inside device error scopes; a device error becomes
    /// [`BackendError::Device`] instead of a panic.
    fn run<T>(&self, op: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let (out, error) = capture(&self.ctx.device, f);
        let out = out?;
        match error {
            None => Ok(out),
            Some(e) => Err(BackendError::Device { op, reason: e.to_string() }),
        }
    }

    fn batch(&self) -> Batch<'_> {
        Batch::new(
            &self.ctx,
            (&self.pool, &self.dispatches, &self.timing),
            &self.tables.cst,
            (self.ring.log_n, self.ring.q.len()),
        )
    }

    /// The device buffer of `poly`, if this backend allocated it.
    fn buffer<'p>(&self, op: &'static str, poly: &'p DevicePoly) -> Result<&'p wgpu::Buffer> {
        match &poly.mem {
            DeviceMem::Wgpu(b) if b.owner() == self.pool.id() => Ok(b.raw()),
            _ => Err(BackendError::ForeignMemory { op, backend: NAME }),
        }
    }

    /// A pooled buffer for `limbs` limbs (contents undefined).
    fn alloc(&self, limbs: usize) -> Result<WgpuBuffer> {
        let bytes = (limbs * self.n() * 4) as u64;
        let max = self.ctx.max_buffer_bytes();
        if bytes > max {
            return Err(BackendError::OutOfMemory { bytes });
        }
        self.pool.acquire(Kind::Storage, bytes)
    }

    fn poly(&self, basis: Basis, buffer: WgpuBuffer) -> DevicePoly {
        DevicePoly { mem: DeviceMem::Wgpu(buffer), basis }
    }

    /// Forward or inverse NTT of every limb of every polynomial.
    fn ntt(&self, op: &'static str, polys: &mut [&mut DevicePoly], forward: bool) -> Result<()> {
        let items = polys
            .iter()
            .map(|p| Ok((self.buffer(op, p)?, 0..p.basis.limbs(), LimbMap::basis(p.basis))))
            .collect::<Result<Vec<_>>>()?;
        self.run(op, || {
            let mut batch = self.batch();
            batch.ntt(&self.tables.tw, &items, forward);
            batch.submit()
        })
    }

    /// Records the ModUp of every digit (step by step across them, equal
    /// steps adjacent so that they merge, see [`mod_up_digits`]): sources are
    /// `inputs[d.source]`, memory `bufs`.
    fn record_mod_up<'a>(
        &'a self,
        batch: &mut Batch<'a>,
        inputs: &[&'a wgpu::Buffer],
        digits: &[ModUpDigit],
        bufs: &'a [DigitBuffers],
    ) {
        // The digit's own limbs pass through; the rest is converted.
        for (d, b) in digits.iter().zip(bufs) {
            let (input, s) = (inputs[d.source], d.limbs.len());
            batch.copy(input, d.limbs.start, b.coef.raw(), 0, s);
            batch.copy(input, d.limbs.start, b.out.raw(), d.limbs.start, s);
        }
        let coefs: Vec<_> = digits
            .iter()
            .zip(bufs)
            .map(|(d, b)| (b.coef.raw(), 0..d.limbs.len(), LimbMap::q_from(d.limbs.start)))
            .collect();
        batch.ntt(&self.tables.tw, &coefs, false);
        for (d, b) in digits.iter().zip(bufs) {
            let prep = Launch::new(0..d.limbs.len(), LimbMap::q_from(d.limbs.start)).args(d.args());
            batch.coefficients(Kernel::ConvPrep, &prep, &[], 0, &[&b.table, b.coef.raw(), &self.ctx.unused_write]);
        }
        let targets = mod_up_targets(digits);
        for (i, t) in &targets {
            let (d, b) = (&digits[*i], &bufs[*i]);
            let apply = Launch::new(t.clone(), LimbMap::basis(d.out_basis)).args(d.args());
            batch.coefficients(Kernel::ConvApply, &apply, &[], 0, &[&b.table, b.coef.raw(), b.out.raw()]);
        }
        let outs: Vec<_> = targets
            .iter()
            .map(|(i, t)| (bufs[*i].out.raw(), t.clone(), LimbMap::basis(digits[*i].out_basis)))
            .collect();
        batch.ntt(&self.tables.tw, &outs, true);
    }
}

impl Backend for WgpuBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn ring(&self) -> &RnsRing {
        &self.ring
    }

    fn upload(&self, basis: Basis, data: &[u32]) -> Result<DevicePoly> {
        validate::upload(basis, data.len(), &self.ring)?;
        self.run("upload", || {
            let buffer = self.alloc(basis.limbs())?;
            if !data.is_empty() {
                // Staged by wgpu and executed before the next submission.
                self.ctx.queue.write_buffer(buffer.raw(), 0, bytemuck::cast_slice(data));
            }
            Ok(self.poly(basis, buffer))
        })
    }

    fn download(&self, poly: &DevicePoly) -> Result<Vec<u32>> {
        let buffer = self.buffer("download", poly)?;
        let bytes = (poly.basis.limbs() * self.n() * 4) as u64;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        self.run("download", || {
            let staging = self.pool.acquire(Kind::Staging, bytes)?;
            read_back(&self.ctx, buffer, staging.raw(), bytes)
        })
    }

    fn zeros(&self, basis: Basis) -> Result<DevicePoly> {
        self.run("zeros", || {
            let out = self.alloc(basis.limbs())?;
            let mut batch = self.batch();
            batch.clear(out.raw());
            batch.submit()?;
            Ok(self.poly(basis, out))
        })
    }

    fn copy(&self, polys: &[&DevicePoly]) -> Result<Vec<DevicePoly>> {
        let inputs = polys.iter().map(|p| self.buffer("copy", p)).collect::<Result<Vec<_>>>()?;
        self.run("copy", || {
            let outs = polys.iter().map(|p| self.alloc(p.basis.limbs())).collect::<Result<Vec<_>>>()?;
            let mut batch = self.batch();
            for ((p, input), out) in polys.iter().zip(&inputs).zip(&outs) {
                batch.copy(input, 0, out.raw(), 0, p.basis.limbs());
            }
            batch.submit()?;
            Ok(polys.iter().zip(outs).map(|(p, o)| self.poly(p.basis, o)).collect())
        })
    }

    fn zeroize(&self, poly: &mut DevicePoly) -> Result<()> {
        let buffer = self.buffer("zeroize", poly)?;
        self.run("zeroize", || {
            // The whole buffer, including limbs dropped by truncate/rescale.
            let mut batch = self.batch();
            batch.clear(buffer);
            batch.submit()
        })
    }

    fn truncate(&self, poly: &mut DevicePoly, q: usize) -> Result<()> {
        self.buffer("truncate", poly)?;
        validate::truncate(poly.basis, q)?;
        // Limb-major: the first q limbs stay where they are.
        poly.basis = Basis::q(q);
        Ok(())
    }

    fn ntt_forward(&self, polys: &mut [&mut DevicePoly]) -> Result<()> {
        self.ntt("ntt_forward", polys, true)
    }

    fn ntt_inverse(&self, polys: &mut [&mut DevicePoly]) -> Result<()> {
        self.ntt("ntt_inverse", polys, false)
    }

    fn elementwise(&self, op: Elementwise, dst: &mut [&mut DevicePoly], src: &[&DevicePoly]) -> Result<()> {
        validate::elementwise(dst.iter().map(|d| d.basis), src)?;
        self.run("elementwise", || {
            let mut batch = self.batch();
            for (d, s) in dst.iter().zip(src) {
                let buffers = [self.buffer("elementwise", d)?, self.buffer("elementwise", s)?];
                let launch = Launch::new(0..d.basis.limbs(), LimbMap::basis(d.basis)).op(binary_op(op));
                batch.coefficients(Kernel::Binary, &launch, &[], 0, &buffers);
            }
            batch.submit()
        })
    }

    fn negate(&self, dst: &mut [&mut DevicePoly]) -> Result<()> {
        self.run("negate", || {
            let mut batch = self.batch();
            for d in dst.iter() {
                let buffers = [self.buffer("negate", d)?, &self.ctx.unused_read];
                let launch = Launch::new(0..d.basis.limbs(), LimbMap::basis(d.basis)).op(UNARY_NEGATE);
                batch.coefficients(Kernel::Unary, &launch, &[], 0, &buffers);
            }
            batch.submit()
        })
    }

    fn scalar(&self, op: ScalarOp, dst: &mut [&mut DevicePoly], per_limb: &[u32]) -> Result<()> {
        validate::scalar(dst.iter().map(|d| d.basis), per_limb)?;
        self.run("scalar", || {
            let mut batch = self.batch();
            for d in dst.iter() {
                let basis = d.basis;
                let data = scalar_words(&self.ring, basis, per_limb, op == ScalarOp::Mul);
                let code = if op == ScalarOp::Mul { UNARY_MUL } else { UNARY_ADD };
                let buffers = [self.buffer("scalar", d)?, &self.ctx.unused_read];
                let launch = Launch::new(0..basis.limbs(), LimbMap::basis(basis)).op(code);
                batch.coefficients(Kernel::Unary, &launch, &data, 2, &buffers);
            }
            batch.submit()
        })
    }

    fn add_scaled(&self, dst: &mut [&mut DevicePoly], src: &[&DevicePoly], per_q_prime: &[u32]) -> Result<()> {
        validate::add_scaled(dst, src, per_q_prime)?;
        self.run("add_scaled", || {
            let mut batch = self.batch();
            for (d, s) in dst.iter().zip(src) {
                let basis = s.basis;
                let data = scalar_words(&self.ring, basis, &per_q_prime[..basis.q], true);
                let buffers = [self.buffer("add_scaled", d)?, self.buffer("add_scaled", s)?];
                let launch = Launch::new(0..basis.limbs(), LimbMap::basis(basis)).op(SCALED_ADD_MUL);
                batch.coefficients(Kernel::Scaled, &launch, &data, 2, &buffers);
            }
            batch.submit()
        })
    }

    fn tensor(&self, pairs: &[TensorPair]) -> Result<Vec<[DevicePoly; 3]>> {
        let bases = pairs.iter().map(validate::tensor).collect::<Result<Vec<_>>>()?;
        let inputs = pairs
            .iter()
            .map(|pair| {
                let [[a0, a1], [b0, b1]] = pair.map(|ab| ab.map(|p| self.buffer("tensor", p)));
                Ok([a0?, a1?, b0?, b1?])
            })
            .collect::<Result<Vec<_>>>()?;
        self.run("tensor", || {
            let outs = bases
                .iter()
                .map(|b| Ok([self.alloc(b.limbs())?, self.alloc(b.limbs())?, self.alloc(b.limbs())?]))
                .collect::<Result<Vec<_>>>()?;
            let mut batch = self.batch();
            for ((basis, [a0, a1, b0, b1]), outs) in bases.iter().zip(&inputs).zip(&outs) {
                let buffers = [*a0, *a1, *b0, *b1, outs[0].raw(), outs[1].raw(), outs[2].raw()];
                let launch = Launch::new(0..basis.limbs(), LimbMap::basis(*basis));
                batch.coefficients(Kernel::Tensor, &launch, &[], 0, &buffers);
            }
            batch.submit()?;
            Ok(outs.into_iter().zip(bases).map(|(o, basis)| o.map(|o| self.poly(basis, o))).collect())
        })
    }

    fn automorphism(&self, src: &[(&DevicePoly, u64)]) -> Result<Vec<DevicePoly>> {
        src.iter().try_for_each(|&(_, g)| validate::galois(g, self.n()))?;
        let inputs = src.iter().map(|(p, _)| self.buffer("automorphism", p)).collect::<Result<Vec<_>>>()?;
        self.run("automorphism", || {
            let outs = src.iter().map(|(p, _)| self.alloc(p.basis.limbs())).collect::<Result<Vec<_>>>()?;
            let mut batch = self.batch();
            for ((&(p, galois), input), out) in src.iter().zip(&inputs).zip(&outs) {
                let launch = Launch::new(0..p.basis.limbs(), LimbMap::basis(p.basis)).args([galois as u32, 0, 0, 0]);
                batch.coefficients(Kernel::Automorphism, &launch, &[], 0, &[out.raw(), input]);
            }
            batch.submit()?;
            Ok(src.iter().zip(outs).map(|((p, _), o)| self.poly(p.basis, o)).collect())
        })
    }

    fn mod_up(&self, src: &[&DevicePoly], alpha: usize, p: usize) -> Result<Vec<Vec<DevicePoly>>> {
        src.iter().try_for_each(|s| validate::mod_up(s.basis, alpha, p, &self.ring))?;
        let inputs = src.iter().map(|s| self.buffer("mod_up", s)).collect::<Result<Vec<_>>>()?;
        self.run("mod_up", || {
            // Scratch and outputs of every digit are held until the one submission.
            let digits = mod_up_digits(src.iter().map(|s| s.basis.q), alpha, p);
            let bufs = digits
                .iter()
                .map(|d| {
                    let sources: Vec<usize> = d.limbs.clone().collect();
                    Ok(DigitBuffers {
                        table: self.tables.conversion(&self.ctx, &self.ring, &sources),
                        coef: self.alloc(d.limbs.len())?,
                        out: self.alloc(d.out_basis.limbs())?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let mut batch = self.batch();
            self.record_mod_up(&mut batch, &inputs, &digits, &bufs);
            batch.submit()?;
            let mut extended: Vec<Vec<DevicePoly>> = src.iter().map(|_| Vec::new()).collect();
            for (d, b) in digits.iter().zip(bufs) {
                extended[d.source].push(self.poly(d.out_basis, b.out));
            }
            Ok(extended)
        })
    }

    fn key_switch_inner(&self, jobs: &[KeySwitchJob]) -> Result<Vec<[DevicePoly; 2]>> {
        let bases = jobs.iter().map(validate::key_switch_inner).collect::<Result<Vec<_>>>()?;
        let op = "key_switch_inner";
        self.run(op, || {
            let outs = bases
                .iter()
                .map(|b| Ok([self.alloc(b.limbs())?, self.alloc(b.limbs())?]))
                .collect::<Result<Vec<_>>>()?;
            let mut batch = self.batch();
            // Digit j of every job, then digit j + 1: equal steps merge.
            let digits = jobs.iter().map(|job| job.digits.len()).max().unwrap_or(0);
            for j in 0..digits {
                for ((job, basis), outs) in jobs.iter().zip(&bases).zip(&outs) {
                    let (Some(d), Some([kb, ka])) = (job.digits.get(j), job.key.get(j)) else { continue };
                    let buffers =
                        [self.buffer(op, d)?, self.buffer(op, kb)?, self.buffer(op, ka)?, outs[0].raw(), outs[1].raw()];
                    let args = [kb.basis.q as u32, u32::from(j == 0), ka.basis.q as u32, 0];
                    let launch = Launch::new(0..basis.limbs(), LimbMap::basis(*basis)).args(args);
                    batch.coefficients(Kernel::KeySwitchDigit, &launch, &[], 0, &buffers);
                }
            }
            batch.submit()?;
            Ok(outs.into_iter().zip(bases).map(|(o, basis)| o.map(|o| self.poly(basis, o))).collect())
        })
    }

    fn mod_down(&self, polys: &mut [&mut DevicePoly], drop: usize) -> Result<()> {
        for poly in polys.iter() {
            self.buffer("mod_down", poly)?;
            validate::mod_down(poly.basis, drop)?;
        }
        self.run("mod_down", || {
            let tables: Vec<_> = polys
                .iter()
                .map(|poly| {
                    let sources = self.ring.down_sources(poly.basis.q, drop, poly.basis.p);
                    self.tables.conversion(&self.ctx, &self.ring, &sources)
                })
                .collect();
            let scratch = polys
                .iter()
                .map(|poly| Ok((self.alloc(drop + poly.basis.p + 1)?, self.alloc(poly.basis.q - drop)?)))
                .collect::<Result<Vec<_>>>()?;
            let buffers = polys.iter().map(|p| self.buffer("mod_down", p)).collect::<Result<Vec<_>>>()?;
            let plans: Vec<DownPlan> = polys.iter().map(|p| DownPlan::new(p.basis, drop)).collect();
            let each = || {
                plans
                    .iter()
                    .zip(&buffers)
                    .zip(&tables)
                    .zip(&scratch)
                    .map(|(((d, x), t), (ys, conv))| (d, *x, &**t, ys.raw(), conv.raw()))
            };
            let unused = &self.ctx.unused_write;
            let mut batch = self.batch();
            // Coefficients of the divisor's limbs, then their exact centered
            // value mod each remaining Q prime.
            for (d, x, _, ys, _) in each() {
                batch.copy(x, d.kept, ys, 0, d.sources);
            }
            batch.ntt(
                &self.tables.tw,
                &each().map(|(d, _, _, ys, _)| (ys, 0..d.sources, d.source_map)).collect::<Vec<_>>(),
                false,
            );
            for (d, _, t, ys, _) in each() {
                let prep = Launch::new(0..d.sources, d.source_map).args(d.args());
                batch.coefficients(Kernel::ConvPrep, &prep, &[], 0, &[t, ys, unused]);
            }
            for (d, _, t, ys, _) in each() {
                let overflow = Launch::new(0..1, d.source_map).args(d.args());
                batch.coefficients(Kernel::ConvOverflow, &overflow, &[], 0, &[t, ys, unused]);
            }
            for (d, _, t, ys, conv) in each() {
                let apply = Launch::new(0..d.kept, LimbMap::q_from(0)).op(CONV_CENTERED).args(d.args());
                batch.coefficients(Kernel::ConvApply, &apply, &[], 0, &[t, ys, conv]);
            }
            batch.ntt(
                &self.tables.tw,
                &each().map(|(d, _, _, _, conv)| (conv, 0..d.kept, LimbMap::q_from(0))).collect::<Vec<_>>(),
                true,
            );
            // x = (x − conv)·divisor^-1 on the kept Q limbs.
            for (d, x, _, _, conv) in each() {
                let factors = down_inverse_pairs(&self.ring, d.basis.q, drop, d.basis.p);
                let launch = Launch::new(0..d.kept, LimbMap::q_from(0)).op(SCALED_SUB_MUL);
                batch.coefficients(Kernel::Scaled, &launch, &factors, 2, &[x, conv]);
            }
            batch.submit()
        })?;
        for poly in polys.iter_mut() {
            poly.basis = Basis::q(poly.basis.q - drop);
        }
        Ok(())
    }

    fn rescale(&self, polys: &mut [&mut DevicePoly], drop: usize) -> Result<()> {
        for poly in polys.iter() {
            self.buffer("rescale", poly)?;
            validate::rescale(poly.basis, drop)?;
        }
        if drop == 0 {
            return Ok(());
        }
        self.run("rescale", || {
            let scratch = polys.iter().map(|p| self.alloc(p.basis.q - 1)).collect::<Result<Vec<_>>>()?;
            let buffers = polys.iter().map(|p| self.buffer("rescale", p)).collect::<Result<Vec<_>>>()?;
            let tw = &self.tables.tw;
            let mut batch = self.batch();
            for k in 0..drop {
                // The k-th dropped limb of every polynomial, the top one first.
                let each =
                    || polys.iter().zip(&buffers).zip(&scratch).map(|((p, x), lf)| (p.basis.q - 1 - k, *x, lf.raw()));
                // Coefficients of the dropped limb, centered into each remaining prime.
                batch.ntt(
                    tw,
                    &each().map(|(last, x, _)| (x, last..last + 1, LimbMap::q_from(0))).collect::<Vec<_>>(),
                    false,
                );
                for (last, x, lifted) in each() {
                    let lift = Launch::new(0..last, LimbMap::q_from(0)).args([last as u32, 0, 0, 0]);
                    batch.coefficients(Kernel::RescaleLift, &lift, &[], 0, &[lifted, x]);
                }
                batch.ntt(
                    tw,
                    &each().map(|(last, _, lifted)| (lifted, 0..last, LimbMap::q_from(0))).collect::<Vec<_>>(),
                    true,
                );
                for (last, x, lifted) in each() {
                    let inv = q_last_inverse_pairs(&self.ring, last);
                    batch.coefficients(
                        Kernel::Scaled,
                        &Launch::new(0..last, LimbMap::q_from(0)).op(SCALED_SUB_MUL),
                        &inv,
                        2,
                        &[x, lifted],
                    );
                }
            }
            batch.submit()
        })?;
        for poly in polys.iter_mut() {
            poly.basis = Basis::q(poly.basis.q - drop);
        }
        Ok(())
    }

    fn launches(&self) -> Option<u64> {
        Some(self.dispatches())
    }

    fn batch_budget_bytes(&self) -> usize {
        super::GPU_BATCH_BUDGET_BYTES
    }

    fn set_device_timing(&self, on: bool) {
        self.timing.set(on);
    }

    fn take_device_time(&self) -> Result<Option<Duration>> {
        self.timing.take(&self.ctx.device)
    }

    fn synchronize(&self) -> Result<()> {
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(drop)
            .map_err(|e| BackendError::Device { op: "synchronize", reason: e.to_string() })
    }
}
