//! The CUDA backend: kernels in `kernels/*.cu`, compiled with NVRTC to a
//! CUBIN for the device's architecture at first use (cached on disk,
//! `compile.rs`), on any NVIDIA GPU through the driver API (cudarc, loaded
//! dynamically, so hetl builds and runs without CUDA installed).
//!
//! Polynomials stay resident in device memory from a pool (`pool.rs`);
//! every copy and launch goes to one stream in call order (uploads of
//! polynomials to a copy stream of their own with `HETL_CUDA_COPY_STREAM=1`,
//! ordered by events, `streams.rs`) and calls return without waiting,
//! except [`Backend::download`] and [`Backend::synchronize`]. A batched call runs each step once for the
//! whole batch: items whose launches agree (limbs, primes, arguments) share
//! one kernel launch over batch × limbs × N (`Operands` in
//! `kernels/modarith.cuh`). Prime constants and twiddles are uploaded once,
//! conversion and rescaling tables on first use; the words and launch
//! geometry are the wgpu backend's (`device_tables.rs`, `launch_plan.rs`),
//! and each primitive runs the steps of its wgpu twin (here the NTT keeps
//! three levels per round in registers, a conversion thread computes 8
//! target limbs and the inner product sums up to 4 digits per launch, and
//! fused kernels merge steps that would each pass through memory: the
//! tensor product with ModUp's copies, conv_prep and ModDown's last step
//! with the NTT phases next to them, the relinearized pair's addition with
//! the inner product); every step yields unique residues, so every result equals
//! [`super::cpu::CpuBackend`]'s bit for bit (ModDown's overflow count uses
//! the CPU's f64 operations exactly, see `kernels/basis_ext.cu`).
//!
//! Without a driver or NVRTC, [`CudaBackend::new`] returns
//! [`BackendError::DriverUnavailable`]; nothing here panics for that.
//! [`CudaBackend::emulated`] runs the same backend on an emulated device
//! (`emulator.rs`: the kernels built by the host's C++ compiler), so its
//! launch plans and kernels are tested without a GPU.
//! Exports [`CudaBackend`], [`list_devices`] and the NVRTC entry points the
//! kernel compile test uses.

mod compile;
mod context;
mod emulator;
mod pool;
mod streams;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use self::compile::parse_switches;
pub use self::compile::{
    FAMILIES, KERNEL_SWITCHES, SWITCHES_VAR, compile_cubin, compile_ptx, kernel_switches, nvrtc_available,
    nvrtc_version,
};
pub use self::context::{CudaDeviceSummary, list_devices};
pub(crate) use self::pool::CudaBuffer;
pub use self::streams::{COPY_STREAM_VAR, StreamOrder, copy_stream_requested};

use self::context::{COEFF_WG, Device, KS_DIGITS, Kernel, Launch, NTT_TILE, NTT_WG};
use self::pool::Pool;
use super::device_tables::{
    constants_and_twiddles, conversion_words_with_rows, down_inverse_pairs, factor_rows_at, q_last_inverse_pairs,
    scalar_words,
};
use super::launch_plan::{DownPlan, LimbMap, ModUpDigit, mod_up_digits, mod_up_targets, ntt_phases};
use super::{
    Backend, BackendError, Basis, DeviceMem, DevicePoly, Elementwise, KeySwitchJob, Result, ScalarOp, TensorPair,
    validate,
};
use crate::backend::launch_plan::{
    AUT_ADD, CONV_CENTERED, KS_ADD, TENSOR_MOD_UP, UNARY_ADD, UNARY_MUL, UNARY_NEGATE, binary_op,
};
use crate::math::RnsRing;

const NAME: &str = "cuda";

/// CUDA implementation of [`Backend`], bit-identical to the CPU backend.
pub struct CudaBackend {
    ring: RnsRing,
    dev: Arc<Device>,
    pool: Arc<Pool>,
    /// `CST_STRIDE` words per global prime (modarith.cuh).
    cst: CudaBuffer,
    /// 4N twiddle words per global prime (ntt.cu).
    tw: CudaBuffer,
    tables: Mutex<HashMap<Table, Arc<CudaBuffer>>>,
}

/// Constant tables uploaded on first use (words of `device_tables.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Table {
    /// Basis conversion from these global primes (`basis_ext.cu`).
    Conversion(Vec<usize>),
    /// ModDown's factors ([`RnsRing::down_factors`]): the inverse of P (`p`
    /// primes) times the last `drop` of `q` Q primes, mod each kept prime.
    DownInverse { q: usize, drop: usize, p: usize },
    /// q_last^-1 mod each prime below `last` (rescale).
    QLastInverse(usize),
}

/// What the last phase of an NTT does besides transforming (`ntt.cu`).
#[derive(Clone, Copy)]
enum LastPhase<'a> {
    /// Nothing.
    Plain,
    /// conv_prep with each item's conversion table (inverse NTTs).
    Prep(&'a [u64]),
    /// x = (x − transform)·w with each item's (x, w words) (forward NTTs).
    SubMul(&'a [[u64; 2]]),
}

/// Addend pairs of key-switching jobs and their per-Q-prime constants
/// ([`Backend::key_switch_inner_add`]).
type Addends<'a> = (&'a [[&'a DevicePoly; 2]], &'a [u32]);

/// One item of a batched launch: its launch plan and operand words.
type Item = (Launch, Vec<u64>);

/// Limbs of a buffer to transform: address, limb range, primes.
type NttItem = (u64, Range<usize>, LimbMap);

/// Limbs to copy: (source address, first source limb, destination address,
/// first destination limb, limb count).
type CopyItem = (u64, usize, u64, usize, usize);

impl CudaBackend {
    /// Opens CUDA device `ordinal`, builds its kernels (NVRTC, or the disk
    /// cache) and uploads the ring's constant tables. No driver, no NVRTC
    /// or no such device gives [`BackendError::DriverUnavailable`]; a kernel
    /// that does not compile, [`BackendError::Kernel`] with NVRTC's log.
    pub fn new(ring: RnsRing, ordinal: usize) -> Result<Self> {
        check_ring(&ring)?;
        Self::on(ring, Device::open(ordinal)?)
    }

    /// The CUDA backend on the emulated device: every kernel compiled by the
    /// host's C++ compiler and run on the CPU (see
    /// `kernels/host_emulation.hpp`). For testing the backend's launch plans
    /// and kernels without a GPU; far slower than the CPU backend. No C++
    /// compiler gives [`BackendError::DriverUnavailable`]. The kernel
    /// switches and the copy stream are the environment's, as on a GPU (a
    /// copy stream runs copies first, see [`Self::emulated_with_streams`]).
    pub fn emulated(ring: RnsRing) -> Result<Self> {
        check_ring(&ring)?;
        let streams = copy_stream_requested()?.then_some(StreamOrder::CopiesFirst);
        Self::on(ring, Device::emulated(&kernel_switches()?, streams)?)
    }

    /// [`Self::emulated`] with the kernel switches `switches` (the syntax
    /// of `HETL_CUDA_DEFINES`, [`kernel_switches`]) instead of the
    /// environment's: tests of a kernel variant.
    pub fn emulated_with_switches(ring: RnsRing, switches: &str) -> Result<Self> {
        check_ring(&ring)?;
        Self::on(ring, Device::emulated(&parse_switches(switches)?, None)?)
    }

    /// [`Self::emulated`] with a copy stream for uploads, the two streams
    /// queued and run in `order` whenever the host waits (`streams.rs`):
    /// tests that the streams' events order every upload.
    pub fn emulated_with_streams(ring: RnsRing, order: StreamOrder) -> Result<Self> {
        check_ring(&ring)?;
        Self::on(ring, Device::emulated(&kernel_switches()?, Some(order))?)
    }

    /// The backend on `dev`, with the ring's constant tables uploaded.
    fn on(ring: RnsRing, dev: Device) -> Result<Self> {
        let dev = Arc::new(dev);
        let pool = Pool::new(Arc::clone(&dev), dev.memory_bytes()? / 2);
        let (cst_words, tw_words) = constants_and_twiddles(&ring);
        let (cst, tw) = (upload_words(&dev, &pool, &cst_words)?, upload_words(&dev, &pool, &tw_words)?);
        Ok(Self { ring, dev, pool, cst, tw, tables: Mutex::default() })
    }

    /// The device's name and the NVRTC target its kernels were built for.
    pub fn device_info(&self) -> Result<(String, String)> {
        Ok((self.dev.name()?, self.dev.arch.clone()))
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

    /// New polynomials of `bases`, written by `fill` from their device
    /// addresses.
    fn new_polys(&self, bases: Vec<Basis>, fill: impl FnOnce(&[u64]) -> Result<()>) -> Result<Vec<DevicePoly>> {
        let outs = bases.iter().map(|b| self.alloc(b.limbs())).collect::<Result<Vec<_>>>()?;
        fill(&outs.iter().map(CudaBuffer::ptr).collect::<Vec<_>>())?;
        Ok(bases.into_iter().zip(outs).map(|(b, out)| self.poly(b, out)).collect())
    }

    /// Per-limb words of one launch, on the device.
    fn upload_data(&self, words: &[u32]) -> Result<CudaBuffer> {
        upload_words(&self.dev, &self.pool, words)
    }

    /// Runs `kernel` (`fixed` addresses after `cst`, grid x `grid_x` blocks
    /// of `block` threads) over `items`: one launch per distinct launch plan.
    fn batched(&self, kernel: Kernel, (grid_x, block): (u32, u32), fixed: &[u64], items: Vec<Item>) -> Result<()> {
        let mut groups: Vec<Item> = Vec::new();
        for (launch, operands) in items {
            match groups.iter_mut().find(|(l, _)| *l == launch) {
                Some((_, words)) => words.extend(operands),
                None => groups.push((launch, operands)),
            }
        }
        let mut all = vec![self.cst.ptr()];
        all.extend(fixed);
        for (launch, operands) in &groups {
            self.dev.launch(kernel, (grid_x, block), launch, self.shape(), &all, operands)?;
        }
        Ok(())
    }

    /// One thread per coefficient of each item's limbs.
    fn coefficients(&self, kernel: Kernel, items: Vec<Item>) -> Result<()> {
        self.batched(kernel, ((self.n() as u32).div_ceil(COEFF_WG), COEFF_WG), &[], items)
    }

    /// Forward or inverse NTT of the given limbs of every item, in the
    /// phases of [`ntt_phases`] (see `ntt.cu`), each one launch per distinct
    /// limb range.
    fn ntt(&self, items: &[NttItem], forward: bool) -> Result<()> {
        let kernel = if forward { Kernel::NttForward } else { Kernel::NttInverse };
        self.ntt_phases(items, kernel, LastPhase::Plain, None)
    }

    /// Inverse NTT of every item's limbs followed by the first step of a
    /// basis conversion (`conv_prep` of basis_ext.cu with the conversion
    /// table at `tables[i]` for item i), fused into the last phase. With
    /// `sources`, item i's words are read from `sources[i]` (the same limb
    /// layout) and the transform written to its buffer: out of place.
    fn intt_prep(&self, items: &[NttItem], tables: &[u64], sources: Option<&[u64]>) -> Result<()> {
        self.ntt_phases(items, Kernel::NttInverse, LastPhase::Prep(tables), sources)
    }

    /// Forward NTT of every item's limbs, then x = (x − transform)·w with
    /// `subs[i]` = (x, per-limb (w, Shoup(w)) words) for item i, fused into
    /// the last phase: the last step of ModDown and rescale.
    fn ntt_sub_mul(&self, items: &[NttItem], subs: &[[u64; 2]]) -> Result<()> {
        self.ntt_phases(items, Kernel::NttForward, LastPhase::SubMul(subs), None)
    }

    /// The phases of an NTT in the direction of `kernel`, the last one fused
    /// as `last` says; an inverse one reads its first phase's words from
    /// `sources` if given (each item's buffer otherwise).
    fn ntt_phases(&self, items: &[NttItem], kernel: Kernel, last: LastPhase, sources: Option<&[u64]>) -> Result<()> {
        let phases = ntt_phases(self.ring.log_n, self.dev.ntt_tile, kernel == Kernel::NttForward);
        let count = phases.len();
        for (i, phase) in phases.into_iter().enumerate() {
            let is_last = i + 1 == count;
            let args = [phase.log_stride, phase.stages, phase.log_cols, u32::from(is_last)];
            let (kernel, extra): (Kernel, &dyn Fn(usize) -> Vec<u64>) = match last {
                LastPhase::Prep(tables) if is_last => (Kernel::NttInversePrep, &|k| vec![tables[k]]),
                LastPhase::SubMul(subs) if is_last => (Kernel::NttForwardSubMul, &|k| subs[k].to_vec()),
                _ => (kernel, &|_| Vec::new()),
            };
            let launches = items.iter().enumerate().map(|(k, (ptr, limbs, map))| {
                let mut operands = vec![*ptr];
                operands.extend(extra(k));
                if matches!(kernel, Kernel::NttInverse | Kernel::NttInversePrep) {
                    // The inverse kernels' last operand: the words they read.
                    operands.push(sources.filter(|_| i == 0).map_or(*ptr, |s| s[k]));
                }
                (Launch::new(limbs.clone(), *map).args(args), operands)
            });
            let grid = (phase.groups(self.ring.log_n), NTT_WG);
            self.batched(kernel, grid, &[self.tw.ptr()], launches.collect())?;
        }
        Ok(())
    }

    /// Copies limbs between buffers (see [`CopyItem`]), one launch per
    /// distinct shape.
    fn copy_limbs(&self, items: impl IntoIterator<Item = CopyItem>) -> Result<()> {
        let items = items
            .into_iter()
            .map(|(src, src_limb, dst, dst_limb, limbs)| {
                let launch = Launch::new(0..limbs, LimbMap::q_from(0)).args([src_limb as u32, dst_limb as u32, 0, 0]);
                (launch, vec![dst, src])
            })
            .collect();
        self.coefficients(Kernel::CopyLimbs, items)
    }

    /// `outs[i]` = `lhs[i]` op `rhs[i]` (an output may be its left operand),
    /// one `binary` launch per distinct basis.
    fn binary(&self, op: Elementwise, outs: &[u64], lhs: &[&DevicePoly], rhs: &[&DevicePoly]) -> Result<()> {
        let items = outs
            .iter()
            .zip(lhs)
            .zip(rhs)
            .map(|((&out, l), r)| {
                let launch = Launch::new(0..l.basis.limbs(), LimbMap::basis(l.basis)).op(binary_op(op));
                Ok((launch, vec![out, self.buffer("elementwise", l)?.ptr(), self.buffer("elementwise", r)?.ptr()]))
            })
            .collect::<Result<Vec<_>>>()?;
        self.coefficients(Kernel::Binary, items)
    }

    /// `outs[i]` = `src[i].0` under X → X^`src[i].1`, or with `op` =
    /// [`AUT_ADD`] `outs[i]` += it: one `automorphism` launch per distinct
    /// basis (the Galois element is an operand, so mixed rotations share it).
    fn permute(&self, op: u32, outs: &[u64], src: &[(&DevicePoly, u64)]) -> Result<()> {
        let items = outs
            .iter()
            .zip(src)
            .map(|(&out, &(p, galois))| {
                let launch = Launch::new(0..p.basis.limbs(), LimbMap::basis(p.basis)).op(op);
                Ok((launch, vec![out, self.buffer("automorphism", p)?.ptr(), galois]))
            })
            .collect::<Result<Vec<_>>>()?;
        self.coefficients(Kernel::Automorphism, items)
    }

    /// `outs[i]` = `src[i]` op the per-limb constants (an output may be its
    /// source), one `unary` launch per distinct basis.
    fn unary_scalar(&self, op: ScalarOp, outs: &[u64], src: &[&DevicePoly], per_limb: &[u32]) -> Result<()> {
        let code = if op == ScalarOp::Mul { UNARY_MUL } else { UNARY_ADD };
        let mut words_of: Vec<(Basis, CudaBuffer)> = Vec::new();
        let mut items = Vec::with_capacity(src.len());
        for (&out, s) in outs.iter().zip(src) {
            let basis = s.basis;
            let data = self.per_basis_words(&mut words_of, basis, per_limb, op == ScalarOp::Mul)?;
            let launch = Launch::new(0..basis.limbs(), LimbMap::basis(basis)).op(code);
            items.push((launch, vec![out, self.buffer("scalar", s)?.ptr(), data]));
        }
        self.coefficients(Kernel::Unary, items)
    }

    /// Fills all of `buffer` (every allocated word) with zeros.
    fn clear(&self, buffer: &CudaBuffer) -> Result<()> {
        // SAFETY: the whole allocation, ordered on the stream.
        unsafe { self.dev.clear(buffer.ptr(), buffer.words() * 4) }
    }

    /// The device address of the [`scalar_words`] of `per_limb` for
    /// `basis`, uploaded once per basis of a call (kept in `uploaded`).
    fn per_basis_words(
        &self,
        uploaded: &mut Vec<(Basis, CudaBuffer)>,
        basis: Basis,
        per_limb: &[u32],
        mul: bool,
    ) -> Result<u64> {
        if let Some((_, w)) = uploaded.iter().find(|(b, _)| *b == basis) {
            return Ok(w.ptr());
        }
        let words = self.upload_data(&scalar_words(&self.ring, basis, per_limb, mul))?;
        let ptr = words.ptr();
        uploaded.push((basis, words));
        Ok(ptr)
    }

    /// The constant table `key`, uploaded on first use.
    fn table(&self, key: Table) -> Result<Arc<CudaBuffer>> {
        let mut cache = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = cache.get(&key) {
            return Ok(Arc::clone(t));
        }
        let words = match &key {
            Table::Conversion(sources) => conversion_words_with_rows(&self.ring, sources),
            Table::DownInverse { q, drop, p } => down_inverse_pairs(&self.ring, *q, *drop, *p),
            Table::QLastInverse(last) => q_last_inverse_pairs(&self.ring, *last),
        };
        let table = Arc::new(self.upload_data(&words)?);
        cache.insert(key, Arc::clone(&table));
        Ok(table)
    }

    /// The device address of limb `limb` of the limb-major words at `base`.
    fn limb_address(&self, base: u64, limb: usize) -> u64 {
        base + (limb * self.n() * 4) as u64
    }

    /// conv_apply's arguments from a conversion's (`[s, 0, 0, 0]`): the
    /// word where its table's factor rows start goes in `args[1]`.
    fn conv_args(&self, [s, ..]: [u32; 4]) -> [u32; 4] {
        [s, factor_rows_at(&self.ring, s as usize) as u32, 0, 0]
    }

    /// Key-switching inner products (see `keyswitch.cu`), with `addends`
    /// ([`Backend::key_switch_inner_add`]) added in the first launch.
    fn inner_products(&self, jobs: &[KeySwitchJob], addends: Option<Addends>) -> Result<Vec<[DevicePoly; 2]>> {
        let op = "key_switch_inner";
        let bases = jobs.iter().map(validate::key_switch_inner).collect::<Result<Vec<_>>>()?;
        if let Some((pairs, per_q_prime)) = addends {
            validate::key_switch_addends(&bases, pairs, per_q_prime)?;
        }
        self.dev.bind(op)?;
        let outs =
            bases.iter().map(|b| Ok([self.alloc(b.limbs())?, self.alloc(b.limbs())?])).collect::<Result<Vec<_>>>()?;
        // Per job: the addend pair's addresses and its constants' words.
        let mut words_of: Vec<(Basis, CudaBuffer)> = Vec::new();
        let mut adds = Vec::with_capacity(jobs.len());
        for (i, basis) in bases.iter().enumerate() {
            adds.push(match addends {
                None => None,
                Some((pairs, per_q_prime)) => {
                    let q = Basis::q(basis.q);
                    let mut words = self.ptrs(op, &pairs[i])?;
                    words.push(self.per_basis_words(&mut words_of, q, &per_q_prime[..q.q], true)?);
                    Some(words)
                }
            });
        }
        let chunks: Vec<Vec<Range<usize>>> = jobs.iter().map(digit_chunks).collect();
        // Round r runs chunk r of every job in one launch; round 0 writes
        // the outputs (from the addend, or 0), later rounds add to them.
        let rounds = chunks.iter().map(Vec::len).max().unwrap_or(0);
        for round in 0..rounds {
            let mut items = Vec::new();
            for ((((job, basis), out), chunks), add) in jobs.iter().zip(&bases).zip(&outs).zip(&chunks).zip(&adds) {
                let Some(these) = chunks.get(round) else { continue };
                let mut operands = vec![0; Kernel::KeySwitchInner.per_item()];
                operands[0] = out[0].ptr();
                operands[1] = out[1].ptr();
                for (slot, j) in these.clone().enumerate() {
                    let [kb, ka] = job.key[j];
                    operands[2 + 3 * slot..5 + 3 * slot].copy_from_slice(&self.ptrs(op, &[job.digits[j], kb, ka])?);
                }
                let mut launch = Launch::new(0..basis.limbs(), LimbMap::basis(*basis));
                if let (0, Some(add)) = (round, add) {
                    operands[2 + 3 * KS_DIGITS as usize..].copy_from_slice(add);
                    launch = launch.op(KS_ADD);
                }
                let [kb, ka] = job.key[these.start];
                let args = [kb.basis.q as u32, u32::from(round == 0), ka.basis.q as u32, these.len() as u32];
                items.push((launch.args(args), operands));
            }
            self.coefficients(Kernel::KeySwitchInner, items)?;
        }
        Ok(bases.iter().zip(outs).map(|(basis, out)| out.map(|o| self.poly(*basis, o))).collect())
    }

    /// The basis and the operand addresses (a0, a1, b0, b1) of every pair
    /// of a tensor product, checked, with the device bound for `op`.
    fn tensor_inputs(&self, op: &'static str, pairs: &[TensorPair]) -> Result<(Vec<Basis>, Vec<Vec<u64>>)> {
        let bases = pairs.iter().map(validate::tensor).collect::<Result<Vec<_>>>()?;
        let inputs =
            pairs.iter().map(|[[a0, a1], [b0, b1]]| self.ptrs(op, &[a0, a1, b0, b1])).collect::<Result<Vec<_>>>()?;
        self.dev.bind(op)?;
        Ok((bases, inputs))
    }

    /// The conversion table and fresh buffers of every digit.
    fn digit_buffers(&self, digits: &[ModUpDigit]) -> Result<Vec<DigitBuffers>> {
        digits
            .iter()
            .map(|d| {
                Ok(DigitBuffers {
                    table: self.table(Table::Conversion(d.limbs.clone().collect()))?,
                    coef: self.alloc(d.limbs.len())?,
                    out: self.alloc(d.out_basis.limbs())?,
                })
            })
            .collect()
    }

    /// The rest of ModUp once each digit's limbs are in its output (`out`,
    /// at the source's indices, NTT domain): the inverse NTT reads them
    /// from there into `coef` (out of place: no copy of them first), and
    /// the conversion takes them to every other limb of the output. Returns
    /// the extended digits of each of the `sources` sources, in limb order.
    fn extend_digits(
        &self,
        digits: &[ModUpDigit],
        bufs: Vec<DigitBuffers>,
        sources: usize,
    ) -> Result<Vec<Vec<DevicePoly>>> {
        let coefs: Vec<NttItem> = digits
            .iter()
            .zip(&bufs)
            .map(|(d, b)| (b.coef.ptr(), 0..d.limbs.len(), LimbMap::q_from(d.limbs.start)))
            .collect();
        let own: Vec<u64> =
            digits.iter().zip(&bufs).map(|(d, b)| self.limb_address(b.out.ptr(), d.limbs.start)).collect();
        self.intt_prep(&coefs, &bufs.iter().map(|b| b.table.ptr()).collect::<Vec<_>>(), Some(&own))?;
        let targets = mod_up_targets(digits);
        let apply = targets.iter().map(|(i, t)| {
            let (d, b) = (&digits[*i], &bufs[*i]);
            let launch = Launch::new(t.clone(), LimbMap::basis(d.out_basis)).args(self.conv_args(d.args()));
            (launch, vec![b.table.ptr(), b.coef.ptr(), b.out.ptr()])
        });
        self.coefficients(Kernel::ConvApply, apply.collect())?;
        let outs: Vec<NttItem> = targets
            .iter()
            .map(|(i, t)| (bufs[*i].out.ptr(), t.clone(), LimbMap::basis(digits[*i].out_basis)))
            .collect();
        self.ntt(&outs, true)?;
        let mut extended: Vec<Vec<DevicePoly>> = (0..sources).map(|_| Vec::new()).collect();
        for (d, b) in digits.iter().zip(bufs) {
            extended[d.source].push(self.poly(d.out_basis, b.out));
        }
        Ok(extended)
    }

    /// Forward or inverse NTT of every limb of every polynomial.
    fn ntt_all(&self, op: &'static str, polys: &[&mut DevicePoly], forward: bool) -> Result<()> {
        let items = polys
            .iter()
            .map(|p| Ok((self.buffer(op, p)?.ptr(), 0..p.basis.limbs(), LimbMap::basis(p.basis))))
            .collect::<Result<Vec<_>>>()?;
        self.dev.bind(op)?;
        self.ntt(&items, forward)
    }
}

/// Device memory of one ModUp digit: conversion table, the digit's
/// coefficients and the extended output.
struct DigitBuffers {
    table: Arc<CudaBuffer>,
    coef: CudaBuffer,
    out: CudaBuffer,
}

/// The digits of `job` in launch-sized runs: at most `KS_DIGITS` digits
/// whose key polynomials share their bases (the kernel takes one key basis).
fn digit_chunks(job: &KeySwitchJob) -> Vec<Range<usize>> {
    let key_q = |j: usize| (job.key[j][0].basis.q, job.key[j][1].basis.q);
    let mut chunks: Vec<Range<usize>> = Vec::new();
    for j in 0..job.digits.len() {
        match chunks.last_mut() {
            Some(run) if run.len() < KS_DIGITS as usize && key_q(run.start) == key_q(j) => run.end = j + 1,
            _ => chunks.push(j..j + 1),
        }
    }
    chunks
}

/// The ring degree must be one the NTT's two phases cover with 16-byte
/// accesses (ntt.cu): at least 4, and rows of at least 4 columns in the
/// strided phase.
fn check_ring(ring: &RnsRing) -> Result<()> {
    let max_log_n = 2 * NTT_TILE.trailing_zeros() - 2;
    if (2..=max_log_n).contains(&ring.log_n) {
        Ok(())
    } else {
        Err(BackendError::InvalidArgument {
            op: "cuda backend",
            reason: format!("N = 2^{} is outside [2^2, 2^{max_log_n}]", ring.log_n),
        })
    }
}

/// A new pooled allocation holding `words`.
fn upload_words(dev: &Device, pool: &Arc<Pool>, words: &[u32]) -> Result<CudaBuffer> {
    dev.bind("upload")?;
    let buffer = pool.acquire(words.len())?;
    if !words.is_empty() {
        // SAFETY: the allocation holds at least `words.len()` words.
        unsafe { dev.upload(buffer.ptr(), words) }?;
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
        self.dev.bind("upload")?;
        let (buffer, released) = self.pool.acquire_for_upload(data.len())?;
        if !data.is_empty() {
            // SAFETY: the allocation holds at least `data.len()` words and is
            // free once `released` is reached.
            unsafe { self.dev.upload_overlapped(buffer.ptr(), data, released.as_ref()) }?;
        }
        Ok(self.poly(basis, buffer))
    }

    fn reduces_signed(&self) -> bool {
        true
    }

    fn upload_signed(&self, basis: Basis, coeffs: &[i64]) -> Result<DevicePoly> {
        validate::upload_signed(basis, coeffs.len(), &self.ring)?;
        self.dev.bind("upload_signed")?;
        let words: &[u32] = bytemuck::cast_slice(coeffs);
        let (staged, released) = self.pool.acquire_for_upload(words.len())?;
        // SAFETY: the allocation holds at least `words.len()` words and is
        // free once `released` is reached.
        unsafe { self.dev.upload_overlapped(staged.ptr(), words, released.as_ref()) }?;
        let out = self.alloc(basis.limbs())?;
        if basis.limbs() > 0 {
            let launch = Launch::new(0..basis.limbs(), LimbMap::basis(basis));
            self.coefficients(Kernel::ReduceSigned, vec![(launch, vec![out.ptr(), staged.ptr()])])?;
        }
        // `staged` goes back to the pool after the launch that reads it.
        Ok(self.poly(basis, out))
    }

    fn download(&self, poly: &DevicePoly) -> Result<Vec<u32>> {
        let buffer = self.buffer("download", poly)?;
        let mut out = vec![0u32; poly.basis.limbs() * self.n()];
        if out.is_empty() {
            return Ok(out);
        }
        self.dev.bind("download")?;
        // SAFETY: the allocation holds at least the basis' words.
        unsafe { self.dev.download(buffer.ptr(), &mut out) }?;
        Ok(out)
    }

    fn zeros(&self, basis: Basis) -> Result<DevicePoly> {
        self.dev.bind("zeros")?;
        let out = self.alloc(basis.limbs())?;
        self.clear(&out)?;
        Ok(self.poly(basis, out))
    }

    fn copy(&self, polys: &[&DevicePoly]) -> Result<Vec<DevicePoly>> {
        let inputs = self.ptrs("copy", polys)?;
        self.dev.bind("copy")?;
        self.new_polys(polys.iter().map(|p| p.basis).collect(), |outs| {
            self.copy_limbs(
                polys.iter().zip(&inputs).zip(outs).map(|((p, &src), &out)| (src, 0, out, 0, p.basis.limbs())),
            )
        })
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
        validate::elementwise(dst.iter().map(|d| d.basis), src)?;
        let lhs: Vec<&DevicePoly> = dst.iter().map(|d| &**d).collect();
        let outs = self.ptrs("elementwise", &lhs)?;
        self.dev.bind("elementwise")?;
        self.binary(op, &outs, &lhs, src)
    }

    fn elementwise_new(&self, op: Elementwise, lhs: &[&DevicePoly], rhs: &[&DevicePoly]) -> Result<Vec<DevicePoly>> {
        validate::elementwise(lhs.iter().map(|l| l.basis), rhs)?;
        self.dev.bind("elementwise")?;
        self.new_polys(lhs.iter().map(|l| l.basis).collect(), |outs| self.binary(op, outs, lhs, rhs))
    }

    fn negate(&self, dst: &mut [&mut DevicePoly]) -> Result<()> {
        let items = dst
            .iter()
            .map(|d| {
                let launch = Launch::new(0..d.basis.limbs(), LimbMap::basis(d.basis)).op(UNARY_NEGATE);
                // In place; the data operand is unused by the negation.
                let x = self.buffer("negate", d)?.ptr();
                Ok((launch, vec![x, x, 0]))
            })
            .collect::<Result<Vec<_>>>()?;
        self.dev.bind("negate")?;
        self.coefficients(Kernel::Unary, items)
    }

    fn scalar(&self, op: ScalarOp, dst: &mut [&mut DevicePoly], per_limb: &[u32]) -> Result<()> {
        validate::scalar(dst.iter().map(|d| d.basis), per_limb)?;
        let src: Vec<&DevicePoly> = dst.iter().map(|d| &**d).collect();
        let outs = self.ptrs("scalar", &src)?;
        self.dev.bind("scalar")?;
        self.unary_scalar(op, &outs, &src, per_limb)
    }

    fn scalar_new(&self, op: ScalarOp, src: &[&DevicePoly], per_limb: &[u32]) -> Result<Vec<DevicePoly>> {
        validate::scalar(src.iter().map(|s| s.basis), per_limb)?;
        self.dev.bind("scalar")?;
        self.new_polys(src.iter().map(|s| s.basis).collect(), |outs| self.unary_scalar(op, outs, src, per_limb))
    }

    fn add_scaled(&self, dst: &mut [&mut DevicePoly], src: &[&DevicePoly], per_q_prime: &[u32]) -> Result<()> {
        validate::add_scaled(dst, src, per_q_prime)?;
        self.dev.bind("add_scaled")?;
        let mut words_of: Vec<(Basis, CudaBuffer)> = Vec::new();
        let mut items = Vec::with_capacity(dst.len());
        for (d, s) in dst.iter().zip(src) {
            let basis = s.basis;
            let data = self.per_basis_words(&mut words_of, basis, &per_q_prime[..basis.q], true)?;
            let launch = Launch::new(0..basis.limbs(), LimbMap::basis(basis));
            items.push((launch, vec![self.buffer("add_scaled", d)?.ptr(), self.buffer("add_scaled", s)?.ptr(), data]));
        }
        self.coefficients(Kernel::Scaled, items)
    }

    fn tensor(&self, pairs: &[TensorPair]) -> Result<Vec<[DevicePoly; 3]>> {
        let (bases, inputs) = self.tensor_inputs("tensor", pairs)?;
        let outs = bases
            .iter()
            .map(|b| Ok([self.alloc(b.limbs())?, self.alloc(b.limbs())?, self.alloc(b.limbs())?]))
            .collect::<Result<Vec<_>>>()?;
        let items = bases
            .iter()
            .zip(inputs)
            .zip(&outs)
            .map(|((basis, mut ptrs), out)| {
                // d2 from limb 0, no second destination.
                ptrs.extend(out.iter().map(CudaBuffer::ptr).chain([0]));
                (Launch::new(0..basis.limbs(), LimbMap::basis(*basis)), ptrs)
            })
            .collect();
        self.coefficients(Kernel::Tensor, items)?;
        Ok(bases.iter().zip(outs).map(|(basis, out)| out.map(|o| self.poly(*basis, o))).collect())
    }

    fn automorphism(&self, src: &[(&DevicePoly, u64)]) -> Result<Vec<DevicePoly>> {
        src.iter().try_for_each(|&(_, g)| validate::galois(g, self.n()))?;
        self.dev.bind("automorphism")?;
        self.new_polys(src.iter().map(|(p, _)| p.basis).collect(), |outs| self.permute(0, outs, src))
    }

    fn automorphism_add(&self, dst: &mut [&mut DevicePoly], src: &[(&DevicePoly, u64)]) -> Result<()> {
        src.iter().try_for_each(|&(_, g)| validate::galois(g, self.n()))?;
        let inputs: Vec<&DevicePoly> = src.iter().map(|&(p, _)| p).collect();
        validate::elementwise(dst.iter().map(|d| d.basis), &inputs)?;
        let outs = self.ptrs("automorphism", &dst.iter().map(|d| &**d).collect::<Vec<_>>())?;
        self.dev.bind("automorphism")?;
        self.permute(AUT_ADD, &outs, src)
    }

    fn mod_up(&self, src: &[&DevicePoly], alpha: usize, p: usize) -> Result<Vec<Vec<DevicePoly>>> {
        src.iter().try_for_each(|s| validate::mod_up(s.basis, alpha, p, &self.ring))?;
        let inputs = self.ptrs("mod_up", src)?;
        self.dev.bind("mod_up")?;
        let digits = mod_up_digits(src.iter().map(|s| s.basis.q), alpha, p);
        let bufs = self.digit_buffers(&digits)?;
        // The digit's own limbs pass through; the rest is converted.
        self.copy_limbs(digits.iter().zip(&bufs).map(|(d, b)| {
            let (input, start, len) = (inputs[d.source], d.limbs.start, d.limbs.len());
            (input, start, b.out.ptr(), start, len)
        }))?;
        self.extend_digits(&digits, bufs, src.len())
    }

    fn tensor_mod_up(
        &self,
        pairs: &[TensorPair],
        alpha: usize,
        p: usize,
    ) -> Result<Vec<([DevicePoly; 2], Vec<DevicePoly>)>> {
        let (bases, inputs) = self.tensor_inputs("tensor_mod_up", pairs)?;
        bases.iter().try_for_each(|b| validate::mod_up(*b, alpha, p, &self.ring))?;
        let products = bases.iter().map(|b| Ok([self.alloc(b.q)?, self.alloc(b.q)?])).collect::<Result<Vec<_>>>()?;
        let digits = mod_up_digits(bases.iter().map(|b| b.q), alpha, p);
        let bufs = self.digit_buffers(&digits)?;
        // One launch per digit: d0, d1 of its limbs, and d2 into its output
        // (no d2 buffer: operand 6 is null).
        let items = digits.iter().zip(&bufs).map(|(d, b)| {
            let launch = Launch::new(d.limbs.clone(), LimbMap::q_from(0)).op(TENSOR_MOD_UP);
            let mut operands = inputs[d.source].clone();
            operands.extend(products[d.source].iter().map(CudaBuffer::ptr));
            operands.extend([0, b.out.ptr()]);
            (launch, operands)
        });
        self.coefficients(Kernel::Tensor, items.collect())?;
        let extended = self.extend_digits(&digits, bufs, pairs.len())?;
        Ok(bases
            .iter()
            .zip(products)
            .zip(extended)
            .map(|((basis, d), digits)| (d.map(|o| self.poly(*basis, o)), digits))
            .collect())
    }

    fn key_switch_inner(&self, jobs: &[KeySwitchJob]) -> Result<Vec<[DevicePoly; 2]>> {
        self.inner_products(jobs, None)
    }

    fn key_switch_inner_add(
        &self,
        jobs: &[KeySwitchJob],
        addends: &[[&DevicePoly; 2]],
        per_q_prime: &[u32],
    ) -> Result<Vec<[DevicePoly; 2]>> {
        self.inner_products(jobs, Some((addends, per_q_prime)))
    }

    fn mod_down(&self, polys: &mut [&mut DevicePoly], drop: usize) -> Result<()> {
        for poly in polys.iter() {
            self.buffer("mod_down", poly)?;
            validate::mod_down(poly.basis, drop)?;
        }
        self.dev.bind("mod_down")?;
        let plans: Vec<DownPlan> = polys.iter().map(|p| DownPlan::new(p.basis, drop)).collect();
        let ptrs = polys.iter().map(|p| self.buffer("mod_down", p).map(CudaBuffer::ptr)).collect::<Result<Vec<_>>>()?;
        let mut scratch = Vec::with_capacity(polys.len());
        for d in &plans {
            let Basis { q, p } = d.basis;
            let table = self.table(Table::Conversion(self.ring.down_sources(q, drop, p)))?;
            let factors = self.table(Table::DownInverse { q, drop, p })?;
            scratch.push((table, factors, self.alloc(d.sources + 1)?, self.alloc(d.kept)?));
        }
        let each = || plans.iter().zip(&ptrs).zip(&scratch).map(|((d, &x), (t, w, ys, conv))| (d, x, t, w, ys, conv));
        // Coefficients of the divisor's limbs, transformed out of place from
        // x (where they follow the kept limbs) into ys, then their exact
        // centered value mod each remaining Q prime.
        let sources = each().map(|(d, _, _, _, ys, _)| (ys.ptr(), 0..d.sources, d.source_map));
        let tables: Vec<u64> = each().map(|(_, _, t, _, _, _)| t.ptr()).collect();
        let divisors: Vec<u64> = each().map(|(d, x, ..)| self.limb_address(x, d.kept)).collect();
        self.intt_prep(&sources.collect::<Vec<_>>(), &tables, Some(&divisors))?;
        let overflow =
            each().map(|(d, _, _, _, ys, _)| (Launch::new(0..1, d.source_map).args(d.args()), vec![ys.ptr()]));
        self.coefficients(Kernel::ConvOverflow, overflow.collect())?;
        let apply = each().map(|(d, _, t, _, ys, conv)| {
            let launch = Launch::new(0..d.kept, LimbMap::q_from(0)).op(CONV_CENTERED).args(self.conv_args(d.args()));
            (launch, vec![t.ptr(), ys.ptr(), conv.ptr()])
        });
        self.coefficients(Kernel::ConvApply, apply.collect())?;
        // x = (x − conv)·divisor^-1 on the kept Q limbs, in conv's NTT.
        let convs: Vec<NttItem> =
            each().map(|(d, _, _, _, _, conv)| (conv.ptr(), 0..d.kept, LimbMap::q_from(0))).collect();
        let subs: Vec<[u64; 2]> = each().map(|(_, x, _, w, _, _)| [x, w.ptr()]).collect();
        self.ntt_sub_mul(&convs, &subs)?;
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
        self.dev.bind("rescale")?;
        let ptrs = polys.iter().map(|p| self.buffer("rescale", p).map(CudaBuffer::ptr)).collect::<Result<Vec<_>>>()?;
        let qs: Vec<usize> = polys.iter().map(|p| p.basis.q).collect();
        let lifted = qs.iter().map(|q| self.alloc(q - 1)).collect::<Result<Vec<_>>>()?;
        for k in 0..drop {
            // The k-th dropped limb of every polynomial, the top one first.
            let lasts: Vec<usize> = qs.iter().map(|q| q - 1 - k).collect();
            let inverses = lasts.iter().map(|&l| self.table(Table::QLastInverse(l))).collect::<Result<Vec<_>>>()?;
            let each =
                || ptrs.iter().zip(&lasts).zip(&lifted).zip(&inverses).map(|(((&x, &l), lf), inv)| (x, l, lf, inv));
            // Coefficients of the dropped limb, centered into each remaining prime.
            self.ntt(&each().map(|(x, l, _, _)| (x, l..l + 1, LimbMap::q_from(0))).collect::<Vec<_>>(), false)?;
            let lift = each().map(|(x, l, lf, _)| {
                (Launch::new(0..l, LimbMap::q_from(0)).args([l as u32, 0, 0, 0]), vec![lf.ptr(), x])
            });
            self.coefficients(Kernel::RescaleLift, lift.collect())?;
            // x = (x − lifted)·q_last^-1, in the lifted limbs' NTT.
            let lifts: Vec<NttItem> = each().map(|(_, l, lf, _)| (lf.ptr(), 0..l, LimbMap::q_from(0))).collect();
            self.ntt_sub_mul(&lifts, &each().map(|(x, _, _, inv)| [x, inv.ptr()]).collect::<Vec<_>>())?;
        }
        for poly in polys.iter_mut() {
            poly.basis = Basis::q(poly.basis.q - drop);
        }
        Ok(())
    }

    fn synchronize(&self) -> Result<()> {
        self.dev.bind("synchronize")?;
        self.dev.synchronize()
    }

    fn set_device_timing(&self, on: bool) {
        self.dev.set_timing(on);
    }

    fn launches(&self) -> Option<u64> {
        Some(self.dev.launches())
    }

    fn traffic_bytes(&self) -> Option<u64> {
        Some(self.dev.traffic_bytes())
    }

    fn batch_budget_bytes(&self) -> usize {
        super::GPU_BATCH_BUDGET_BYTES
    }

    fn memory_bytes(&self) -> Option<usize> {
        self.dev.memory_bytes().ok()
    }

    fn take_device_time(&self) -> Result<Option<std::time::Duration>> {
        self.dev.bind("timing")?;
        self.dev.take_time()
    }

    fn take_kernel_times(&self) -> Result<Vec<crate::backend::KernelTime>> {
        self.dev.bind("timing")?;
        self.dev.take_kernel_times()
    }
}
