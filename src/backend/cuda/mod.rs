//! The CUDA backend: kernels in `kernels/*.cu`, compiled with NVRTC to a
//! CUBIN for the device's architecture at first use (cached on disk,
//! `compile.rs`), on
//! any NVIDIA GPU through the driver API (cudarc, loaded dynamically, so
//! hetl builds and runs without CUDA installed).
//!
//! Polynomials stay resident in device memory from a pool (`pool.rs`);
//! every copy and launch goes to one stream in call order and calls return
//! without waiting, except [`Backend::download`] and
//! [`Backend::synchronize`]. Prime constants and twiddles are uploaded once,
//! conversion tables on first use; the words and launch geometry are the
//! wgpu backend's (`device_tables.rs`, `launch_plan.rs`), and each primitive
//! runs the same kernel sequence as its wgpu twin, so every result equals
//! [`super::cpu::CpuBackend`]'s bit for bit (ModDown's overflow count uses
//! the CPU's f64 operations exactly, see `kernels/basis_ext.cu`).
//!
//! Without a driver or NVRTC, [`CudaBackend::new`] returns
//! [`BackendError::DriverUnavailable`]; nothing here panics for that.
//! Exports [`CudaBackend`], [`list_devices`] and the NVRTC entry points the
//! kernel compile test uses.

mod compile;
mod context;
mod pool;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

pub use self::compile::{FAMILIES, compile_cubin, compile_ptx, nvrtc_available, nvrtc_version};
pub use self::context::{CudaDeviceSummary, list_devices};
pub(crate) use self::pool::CudaBuffer;

use self::context::{COEFF_WG, Device, Kernel, Launch, NTT_TILE, NTT_WG};
use self::pool::{Pool, driver_error};
use super::device_tables::{constants_and_twiddles, conversion_words, p_inverse_pairs, q_last_inverse_pairs};
use super::launch_plan::{LimbMap, ntt_phases};
use super::{
    Backend, BackendError, Basis, DeviceMem, DevicePoly, Elementwise, KeySwitchJob, Result, ScalarOp, TensorPair,
    digit_ranges, validate,
};
use crate::backend::launch_plan::{CONV_CENTERED, UNARY_ADD, UNARY_MUL, UNARY_NEGATE, binary_op};
use crate::math::RnsRing;

const NAME: &str = "cuda";

/// CUDA implementation of [`Backend`], bit-identical to the CPU backend.
pub struct CudaBackend {
    ring: RnsRing,
    dev: Device,
    pool: Arc<Pool>,
    /// `CST_STRIDE` words per global prime (modarith.cuh).
    cst: CudaBuffer,
    /// 4N twiddle words per global prime (ntt.cu).
    tw: CudaBuffer,
    conversions: Mutex<HashMap<Vec<usize>, Arc<CudaBuffer>>>,
}

impl CudaBackend {
    /// Opens CUDA device `ordinal`, builds its kernels (NVRTC, or the disk
    /// cache) and uploads the ring's constant tables. No driver, no NVRTC
    /// or no such device gives [`BackendError::DriverUnavailable`]; a kernel
    /// that does not compile, [`BackendError::Kernel`] with NVRTC's log.
    pub fn new(ring: RnsRing, ordinal: usize) -> Result<Self> {
        let max_log_n = 2 * NTT_TILE.trailing_zeros();
        if !(1..=max_log_n).contains(&ring.log_n) {
            return Err(BackendError::InvalidArgument {
                op: "cuda backend",
                reason: format!("N = 2^{} is outside [2, 2^{max_log_n}]", ring.log_n),
            });
        }
        let dev = Device::open(ordinal)?;
        let pool = Pool::new(Arc::clone(&dev.stream));
        let (cst_words, tw_words) = constants_and_twiddles(&ring);
        let (cst, tw) = (upload_words(&dev, &pool, &cst_words)?, upload_words(&dev, &pool, &tw_words)?);
        Ok(Self { ring, dev, pool, cst, tw, conversions: Mutex::default() })
    }

    /// The device's name and the NVRTC target its kernels were built for.
    pub fn device_info(&self) -> Result<(String, String)> {
        let name = self.dev.ctx.name().map_err(driver_error("device name", 0))?;
        Ok((name, self.dev.arch.clone()))
    }

    fn n(&self) -> usize {
        self.ring.n()
    }

    fn shape(&self) -> (u32, usize) {
        (self.ring.log_n, self.ring.q.len())
    }

    /// The device allocation of `poly`, if this backend made it.
    fn buffer<'p>(&self, op: &'static str, poly: &'p DevicePoly) -> Result<&'p CudaBuffer> {
        match &poly.mem {
            DeviceMem::Cuda(b) if b.owner() == self.pool.id() => Ok(b),
            _ => Err(BackendError::ForeignMemory { op, backend: NAME }),
        }
    }

    /// Device addresses of `polys`, each checked to be this backend's.
    fn ptrs(&self, op: &'static str, polys: &[&DevicePoly]) -> Result<Vec<u64>> {
        polys.iter().map(|p| self.buffer(op, p).map(CudaBuffer::ptr)).collect()
    }

    /// A pooled allocation for `limbs` limbs (contents undefined).
    fn alloc(&self, limbs: usize) -> Result<CudaBuffer> {
        self.pool.acquire(limbs * self.n())
    }

    fn poly(&self, basis: Basis, buffer: CudaBuffer) -> DevicePoly {
        DevicePoly { mem: DeviceMem::Cuda(buffer), basis }
    }

    /// Per-limb words of one launch, on the device.
    fn upload_data(&self, words: &[u32]) -> Result<CudaBuffer> {
        upload_words(&self.dev, &self.pool, words)
    }

    /// One thread per coefficient of `launch.limbs`; `ptrs` after `cst`.
    fn coefficients(&self, kernel: Kernel, launch: &Launch, ptrs: &[u64]) -> Result<()> {
        let mut all = vec![self.cst.ptr()];
        all.extend(ptrs);
        let grid_x = (self.n() as u32).div_ceil(COEFF_WG);
        self.dev.launch(kernel, grid_x, COEFF_WG, launch, self.shape(), &all)
    }

    /// Forward or inverse NTT of `limbs` of the buffer at `data` (primes by
    /// `map`), in the phases of [`ntt_phases`] (see `ntt.cu`).
    fn ntt(&self, data: u64, limbs: std::ops::Range<usize>, map: LimbMap, forward: bool) -> Result<()> {
        let kernel = if forward { Kernel::NttForward } else { Kernel::NttInverse };
        let phases = ntt_phases(self.ring.log_n, NTT_TILE, forward);
        let count = phases.len();
        for (i, phase) in phases.into_iter().enumerate() {
            let last = u32::from(i + 1 == count);
            let launch = Launch::new(limbs.clone(), map).args([phase.log_stride, phase.stages, phase.log_cols, last]);
            let ptrs = [self.cst.ptr(), self.tw.ptr(), data];
            self.dev.launch(kernel, phase.groups(self.ring.log_n), NTT_WG, &launch, self.shape(), &ptrs)?;
        }
        Ok(())
    }

    /// Copies `limbs` limbs from limb `src_limb` of `src` to limb `dst_limb` of `dst`.
    fn copy_limbs(
        &self,
        src: &CudaBuffer,
        src_limb: usize,
        dst: &CudaBuffer,
        dst_limb: usize,
        limbs: usize,
    ) -> Result<()> {
        let (n, bytes) = (self.n(), limbs * self.n() * 4);
        if bytes == 0 {
            return Ok(());
        }
        // SAFETY: both ranges lie inside live allocations of this pool (the
        // callers size them by basis), and the copy is ordered on the stream.
        unsafe {
            cudarc::driver::result::memcpy_dtod_async(
                dst.limb(dst_limb, n),
                src.limb(src_limb, n),
                bytes,
                self.dev.stream.cu_stream(),
            )
        }
        .map_err(driver_error("copy", bytes))
    }

    /// Fills all of `buffer` (every allocated word) with zeros.
    fn clear(&self, buffer: &CudaBuffer) -> Result<()> {
        let bytes = buffer.words() * 4;
        // SAFETY: the whole allocation, ordered on the stream.
        unsafe { cudarc::driver::result::memset_d8_async(buffer.ptr(), 0, bytes, self.dev.stream.cu_stream()) }
            .map_err(driver_error("clear", bytes))
    }

    /// The conversion table from the global primes `sources` (layout in
    /// `basis_ext.cu`), uploaded on first use.
    fn conversion(&self, sources: &[usize]) -> Result<Arc<CudaBuffer>> {
        let mut cache = self.conversions.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = cache.get(sources) {
            return Ok(Arc::clone(t));
        }
        let table = Arc::new(self.upload_data(&conversion_words(&self.ring, sources))?);
        cache.insert(sources.to_vec(), Arc::clone(&table));
        Ok(table)
    }

    /// Forward or inverse NTT of every limb of every polynomial.
    fn ntt_all(&self, op: &'static str, polys: &[&mut DevicePoly], forward: bool) -> Result<()> {
        self.dev.bind(op)?;
        for p in polys {
            let ptr = self.buffer(op, p)?.ptr();
            self.ntt(ptr, 0..p.basis.limbs(), LimbMap::basis(p.basis), forward)?;
        }
        Ok(())
    }

    /// ModUp of one source at `input` (see [`Backend::mod_up`]) into new
    /// polynomials of `out_basis`.
    fn mod_up_one(&self, input: &CudaBuffer, out_basis: Basis, alpha: usize) -> Result<Vec<DevicePoly>> {
        let out_map = LimbMap::basis(out_basis);
        let mut outs = Vec::new();
        for digit in digit_ranges(out_basis.q, alpha) {
            let s = digit.len();
            let table = self.conversion(&digit.clone().collect::<Vec<_>>())?;
            let (coef, out) = (self.alloc(s)?, self.alloc(out_basis.limbs())?);
            let source_map = LimbMap::q_from(digit.start);
            // The digit's own limbs pass through; the rest is converted.
            self.copy_limbs(input, digit.start, &coef, 0, s)?;
            self.copy_limbs(input, digit.start, &out, digit.start, s)?;
            self.ntt(coef.ptr(), 0..s, source_map, false)?;
            let args = [s as u32, 0, 0, 0];
            self.coefficients(Kernel::ConvPrep, &Launch::new(0..s, source_map).args(args), &[table.ptr(), coef.ptr()])?;
            for targets in [0..digit.start, digit.end..out_basis.limbs()] {
                if !targets.is_empty() {
                    let apply = Launch::new(targets.clone(), out_map).args(args);
                    self.coefficients(Kernel::ConvApply, &apply, &[table.ptr(), coef.ptr(), out.ptr()])?;
                    self.ntt(out.ptr(), targets, out_map, true)?;
                }
            }
            outs.push(self.poly(out_basis, out));
        }
        Ok(outs)
    }
}

/// A new pooled allocation holding `words`.
fn upload_words(dev: &Device, pool: &Arc<Pool>, words: &[u32]) -> Result<CudaBuffer> {
    dev.bind("upload")?;
    let buffer = pool.acquire(words.len())?;
    if !words.is_empty() {
        // SAFETY: the allocation holds at least `words.len()` words; the
        // driver copies pageable host memory before this call returns.
        unsafe { cudarc::driver::result::memcpy_htod_async(buffer.ptr(), words, dev.stream.cu_stream()) }
            .map_err(driver_error("upload", words.len() * 4))?;
    }
    Ok(buffer)
}

impl Backend for CudaBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn ring(&self) -> &RnsRing {
        &self.ring
    }

    fn upload(&self, basis: Basis, data: &[u32]) -> Result<DevicePoly> {
        validate::upload(basis, data.len(), &self.ring)?;
        Ok(self.poly(basis, self.upload_data(data)?))
    }

    fn download(&self, poly: &DevicePoly) -> Result<Vec<u32>> {
        let buffer = self.buffer("download", poly)?;
        let mut out = vec![0u32; poly.basis.limbs() * self.n()];
        if out.is_empty() {
            return Ok(out);
        }
        self.dev.bind("download")?;
        // SAFETY: the allocation holds at least the basis' words; the copy
        // waits for every earlier launch on the stream.
        unsafe { cudarc::driver::result::memcpy_dtoh_async(&mut out, buffer.ptr(), self.dev.stream.cu_stream()) }
            .map_err(driver_error("download", out.len() * 4))?;
        self.dev.stream.synchronize().map_err(driver_error("download", 0))?;
        Ok(out)
    }

    fn zeros(&self, basis: Basis) -> Result<DevicePoly> {
        self.dev.bind("zeros")?;
        let out = self.alloc(basis.limbs())?;
        self.clear(&out)?;
        Ok(self.poly(basis, out))
    }

    fn copy(&self, polys: &[&DevicePoly]) -> Result<Vec<DevicePoly>> {
        let inputs = polys.iter().map(|p| self.buffer("copy", p)).collect::<Result<Vec<_>>>()?;
        self.dev.bind("copy")?;
        polys
            .iter()
            .zip(inputs)
            .map(|(p, input)| {
                let out = self.alloc(p.basis.limbs())?;
                self.copy_limbs(input, 0, &out, 0, p.basis.limbs())?;
                Ok(self.poly(p.basis, out))
            })
            .collect()
    }

    fn zeroize(&self, poly: &mut DevicePoly) -> Result<()> {
        let buffer = self.buffer("zeroize", poly)?;
        self.dev.bind("zeroize")?;
        // The whole allocation, including limbs dropped by truncate/rescale.
        self.clear(buffer)
    }

    fn truncate(&self, poly: &mut DevicePoly, q: usize) -> Result<()> {
        self.buffer("truncate", poly)?;
        validate::truncate(poly.basis, q)?;
        // Limb-major: the first q limbs stay where they are.
        poly.basis = Basis::q(q);
        Ok(())
    }

    fn ntt_forward(&self, polys: &mut [&mut DevicePoly]) -> Result<()> {
        self.ntt_all("ntt_forward", polys, true)
    }

    fn ntt_inverse(&self, polys: &mut [&mut DevicePoly]) -> Result<()> {
        self.ntt_all("ntt_inverse", polys, false)
    }

    fn elementwise(&self, op: Elementwise, dst: &mut [&mut DevicePoly], src: &[&DevicePoly]) -> Result<()> {
        validate::elementwise(dst, src)?;
        self.dev.bind("elementwise")?;
        for (d, s) in dst.iter().zip(src) {
            let ptrs = [self.buffer("elementwise", d)?.ptr(), self.buffer("elementwise", s)?.ptr()];
            let launch = Launch::new(0..d.basis.limbs(), LimbMap::basis(d.basis)).op(binary_op(op));
            self.coefficients(Kernel::Binary, &launch, &ptrs)?;
        }
        Ok(())
    }

    fn negate(&self, dst: &mut [&mut DevicePoly]) -> Result<()> {
        self.dev.bind("negate")?;
        for d in dst.iter() {
            let launch = Launch::new(0..d.basis.limbs(), LimbMap::basis(d.basis)).op(UNARY_NEGATE);
            // The data pointer is unused by the negation.
            self.coefficients(Kernel::Unary, &launch, &[self.buffer("negate", d)?.ptr(), 0])?;
        }
        Ok(())
    }

    fn scalar(&self, op: ScalarOp, dst: &mut [&mut DevicePoly], per_limb: &[u32]) -> Result<()> {
        validate::scalar(dst, per_limb)?;
        self.dev.bind("scalar")?;
        for d in dst.iter() {
            let basis = d.basis;
            let words: Vec<u32> = per_limb
                .iter()
                .enumerate()
                .flat_map(|(k, &c)| {
                    let m = self.ring.modulus(basis.global(k, &self.ring));
                    let c = m.reduce_u64(c.into());
                    [c, if op == ScalarOp::Mul { m.shoup(c) } else { 0 }]
                })
                .collect();
            let data = self.upload_data(&words)?;
            let code = if op == ScalarOp::Mul { UNARY_MUL } else { UNARY_ADD };
            let launch = Launch::new(0..basis.limbs(), LimbMap::basis(basis)).op(code);
            self.coefficients(Kernel::Unary, &launch, &[self.buffer("scalar", d)?.ptr(), data.ptr()])?;
        }
        Ok(())
    }

    fn tensor(&self, pairs: &[TensorPair]) -> Result<Vec<[DevicePoly; 3]>> {
        let bases = pairs.iter().map(validate::tensor).collect::<Result<Vec<_>>>()?;
        let inputs = pairs
            .iter()
            .map(|[[a0, a1], [b0, b1]]| self.ptrs("tensor", &[a0, a1, b0, b1]))
            .collect::<Result<Vec<_>>>()?;
        self.dev.bind("tensor")?;
        bases
            .iter()
            .zip(inputs)
            .map(|(basis, mut ptrs)| {
                let outs = [self.alloc(basis.limbs())?, self.alloc(basis.limbs())?, self.alloc(basis.limbs())?];
                ptrs.extend(outs.iter().map(CudaBuffer::ptr));
                self.coefficients(Kernel::Tensor, &Launch::new(0..basis.limbs(), LimbMap::basis(*basis)), &ptrs)?;
                Ok(outs.map(|o| self.poly(*basis, o)))
            })
            .collect()
    }

    fn automorphism(&self, src: &[(&DevicePoly, u64)]) -> Result<Vec<DevicePoly>> {
        src.iter().try_for_each(|&(_, g)| validate::galois(g, self.n()))?;
        let inputs = src.iter().map(|(p, _)| self.buffer("automorphism", p)).collect::<Result<Vec<_>>>()?;
        self.dev.bind("automorphism")?;
        src.iter()
            .zip(inputs)
            .map(|(&(p, galois), input)| {
                let out = self.alloc(p.basis.limbs())?;
                let launch = Launch::new(0..p.basis.limbs(), LimbMap::basis(p.basis)).args([galois as u32, 0, 0, 0]);
                self.coefficients(Kernel::Automorphism, &launch, &[out.ptr(), input.ptr()])?;
                Ok(self.poly(p.basis, out))
            })
            .collect()
    }

    fn mod_up(&self, src: &[&DevicePoly], alpha: usize, p: usize) -> Result<Vec<Vec<DevicePoly>>> {
        src.iter().try_for_each(|s| validate::mod_up(s.basis, alpha, p, &self.ring))?;
        let inputs = src.iter().map(|s| self.buffer("mod_up", s)).collect::<Result<Vec<_>>>()?;
        self.dev.bind("mod_up")?;
        src.iter().zip(inputs).map(|(s, input)| self.mod_up_one(input, Basis { q: s.basis.q, p }, alpha)).collect()
    }

    fn key_switch_inner(&self, jobs: &[KeySwitchJob]) -> Result<Vec<[DevicePoly; 2]>> {
        let bases = jobs.iter().map(validate::key_switch_inner).collect::<Result<Vec<_>>>()?;
        let op = "key_switch_inner";
        self.dev.bind(op)?;
        jobs.iter()
            .zip(&bases)
            .map(|(job, basis)| {
                let outs = [self.alloc(basis.limbs())?, self.alloc(basis.limbs())?];
                for (j, (d, [kb, ka])) in job.digits.iter().zip(job.key).enumerate() {
                    let mut ptrs = self.ptrs(op, &[d, kb, ka])?;
                    ptrs.extend(outs.iter().map(CudaBuffer::ptr));
                    let args = [kb.basis.q as u32, u32::from(j == 0), ka.basis.q as u32, 0];
                    let launch = Launch::new(0..basis.limbs(), LimbMap::basis(*basis)).args(args);
                    self.coefficients(Kernel::KeySwitchDigit, &launch, &ptrs)?;
                }
                Ok(outs.map(|o| self.poly(*basis, o)))
            })
            .collect()
    }

    fn mod_down(&self, polys: &mut [&mut DevicePoly]) -> Result<()> {
        for poly in polys.iter() {
            self.buffer("mod_down", poly)?;
            validate::mod_down(poly.basis)?;
        }
        self.dev.bind("mod_down")?;
        let q_total = self.ring.q.len();
        for poly in polys.iter_mut() {
            let Basis { q, p } = poly.basis;
            let table = self.conversion(&(q_total..q_total + p).collect::<Vec<_>>())?;
            let (ys, conv) = (self.alloc(p + 1)?, self.alloc(q)?);
            let buffer = self.buffer("mod_down", poly)?;
            let args = [p as u32, 0, 0, 0];
            // Coefficients of the P part, then their exact centered value mod each Q prime.
            self.copy_limbs(buffer, q, &ys, 0, p)?;
            self.ntt(ys.ptr(), 0..p, LimbMap::p(), false)?;
            self.coefficients(Kernel::ConvPrep, &Launch::new(0..p, LimbMap::p()).args(args), &[table.ptr(), ys.ptr()])?;
            self.coefficients(Kernel::ConvOverflow, &Launch::new(0..1, LimbMap::p()).args(args), &[ys.ptr()])?;
            let apply = Launch::new(0..q, LimbMap::q_from(0)).op(CONV_CENTERED).args(args);
            self.coefficients(Kernel::ConvApply, &apply, &[table.ptr(), ys.ptr(), conv.ptr()])?;
            self.ntt(conv.ptr(), 0..q, LimbMap::q_from(0), true)?;
            // x = (x − conv)·P^-1 on the Q limbs.
            let p_inv = self.upload_data(&p_inverse_pairs(&self.ring, q, p))?;
            let sub_mul = Launch::new(0..q, LimbMap::basis(poly.basis));
            self.coefficients(Kernel::SubMul, &sub_mul, &[buffer.ptr(), conv.ptr(), p_inv.ptr()])?;
            poly.basis = Basis::q(q);
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
        self.dev.bind("rescale")?;
        for poly in polys.iter_mut() {
            let q = poly.basis.q;
            let lifted = self.alloc(q - 1)?;
            let buffer = self.buffer("rescale", poly)?.ptr();
            for last in (q - drop..q).rev() {
                // Coefficients of the dropped limb, centered into each remaining prime.
                self.ntt(buffer, last..last + 1, LimbMap::q_from(0), false)?;
                let lift = Launch::new(0..last, LimbMap::q_from(0)).args([last as u32, 0, 0, 0]);
                self.coefficients(Kernel::RescaleLift, &lift, &[lifted.ptr(), buffer])?;
                self.ntt(lifted.ptr(), 0..last, LimbMap::q_from(0), true)?;
                let inv = self.upload_data(&q_last_inverse_pairs(&self.ring, last))?;
                let sub_mul = Launch::new(0..last, LimbMap::q_from(0));
                self.coefficients(Kernel::SubMul, &sub_mul, &[buffer, lifted.ptr(), inv.ptr()])?;
            }
            poly.basis = Basis::q(q - drop);
        }
        Ok(())
    }

    fn synchronize(&self) -> Result<()> {
        self.dev.bind("synchronize")?;
        self.dev.stream.synchronize().map_err(driver_error("synchronize", 0))
    }
}
