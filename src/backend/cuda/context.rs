//! The CUDA device: driver checks, context and streams, the kernels (built
//! by `compile.rs`, loaded once per backend) and launches. Per-call code in
//! `mod.rs` only chooses kernels, buffers and header words.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cudarc::driver::sys::CUevent_flags;
use cudarc::driver::{
    CudaContext, CudaEvent, CudaFunction, CudaSlice, CudaStream, DevicePtr, DeviceRepr, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::Ptx;

use super::compile::{FAMILIES, cached_cubin, kernel_switches, nvrtc_available};
use super::emulator::Emulator;
use super::pool::driver_error;
use super::streams::{EmulatedStreams, Event, Stream, StreamOrder, Work, copy_stream_requested};
pub(super) use crate::backend::launch_plan::Launch;
use crate::backend::launch_plan::{AUT_ADD, CONV_CENTERED, KS_ADD};
use crate::backend::{BackendError, KernelTime, Result};

const NAME: &str = "cuda";

/// Threads per block of the NTT (`NTT_WG` in ntt.cu).
pub(super) const NTT_WG: u32 = 256;
/// Words of shared memory per NTT block (`NTT_TILE` in ntt.cu).
pub(super) const NTT_TILE: u32 = 2048;
/// [`NTT_TILE`] of the kernels built with `NTT_WIDE=1`.
const NTT_WIDE_TILE: u32 = 4096;
/// Threads per block of every one-thread-per-coefficient kernel (`EW_WG`,
/// `TS_WG`, `AUT_WG`, `KS_WG`, `RS_WG`, `BX_WG` in their files).
pub(super) const COEFF_WG: u32 = 256;
/// Target limbs per thread of `conv_apply` (`CONV_TARGETS` in basis_ext.cu).
const CONV_TARGETS: u32 = 8;
/// Digits per launch of `key_switch_inner` (`KS_DIGITS` in keyswitch.cu).
pub(super) const KS_DIGITS: u32 = 4;

/// Every kernel: its function name and the family (file) that defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kernel {
    NttForward,
    NttInverse,
    NttInversePrep,
    NttForwardSubMul,
    Binary,
    Unary,
    Scaled,
    Tensor,
    Automorphism,
    KeySwitchInner,
    RescaleLift,
    ConvApply,
    ConvOverflow,
    CopyLimbs,
    ReduceSigned,
}

impl Kernel {
    /// Every kernel (`kernel as usize` indexes it).
    pub(super) const ALL: [Self; 15] = [
        Self::NttForward,
        Self::NttInverse,
        Self::NttInversePrep,
        Self::NttForwardSubMul,
        Self::Binary,
        Self::Unary,
        Self::Scaled,
        Self::Tensor,
        Self::Automorphism,
        Self::KeySwitchInner,
        Self::RescaleLift,
        Self::ConvApply,
        Self::ConvOverflow,
        Self::CopyLimbs,
        Self::ReduceSigned,
    ];

    /// (family file, function name).
    pub(super) fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::NttForward => ("ntt.cu", "ntt_forward"),
            Self::NttInverse => ("ntt.cu", "ntt_inverse"),
            Self::NttInversePrep => ("ntt.cu", "ntt_inverse_prep"),
            Self::NttForwardSubMul => ("ntt.cu", "ntt_forward_sub_mul"),
            Self::Binary => ("elementwise.cu", "binary"),
            Self::Unary => ("elementwise.cu", "unary"),
            Self::Scaled => ("elementwise.cu", "scaled"),
            Self::Tensor => ("tensor.cu", "tensor"),
            Self::Automorphism => ("automorphism.cu", "automorphism"),
            Self::KeySwitchInner => ("keyswitch.cu", "key_switch_inner"),
            Self::RescaleLift => ("rescale.cu", "rescale_lift"),
            Self::ConvApply => ("basis_ext.cu", "conv_apply"),
            Self::ConvOverflow => ("basis_ext.cu", "conv_overflow"),
            Self::CopyLimbs => ("elementwise.cu", "copy_limbs"),
            Self::ReduceSigned => ("elementwise.cu", "reduce_signed"),
        }
    }

    /// Whether it is an NTT phase (it takes the twiddle table after `cst`).
    pub(super) fn is_ntt(self) -> bool {
        matches!(self, Self::NttForward | Self::NttInverse | Self::NttInversePrep | Self::NttForwardSubMul)
    }

    /// Its name in kernel timings: the function's, and for an NTT phase the
    /// set stride S of its launch (`ntt_forward (S = 2^8)`; the contiguous
    /// tiles are S = 2^0).
    fn timing_label(self, launch: &Launch) -> String {
        let name = self.names().1;
        if self.is_ntt() { format!("{name} (S = 2^{})", launch.args[0]) } else { name.to_string() }
    }

    /// Whether its items read the same per-limb tables from device memory
    /// (the NTT's twiddles, the key-switching keys): such a launch puts the
    /// items before the limb rows in the grid (`block_item` in
    /// modarith.cuh), so that all items of one limb run together.
    fn items_inner(self) -> bool {
        self.is_ntt() || self == Self::KeySwitchInner
    }

    /// Limbs per block row of one launch.
    fn limbs_per_block(self) -> u32 {
        if self == Self::ConvApply { CONV_TARGETS } else { 1 }
    }

    /// Device-memory words the items of one launch (`operands`,
    /// [`Self::per_item`] words each) read and write per coefficient index,
    /// summed over their limbs, when every operand word of an item moves
    /// once per use by a block: the traffic model behind
    /// [`Device::traffic_bytes`], read from each kernel's loads and stores.
    /// Tables shared by the items ([`Self::items_inner`]) count once per
    /// launch: each distinct key polynomial of the key-switching inner
    /// product (the items' blocks of a limb run together and meet in L2);
    /// the constant tables and twiddles, small or shared by the whole
    /// batch, are left out.
    pub(super) fn words_moved(self, launch: &Launch, operands: &[u64]) -> u64 {
        let items = (operands.len() / self.per_item()) as u64;
        let limbs = launch.limbs.len() as u64;
        let [sources, first_round, _, digits] = launch.args.map(u64::from);
        let per_item = match self {
            Self::NttForward
            | Self::NttInverse
            | Self::NttInversePrep
            | Self::Unary
            | Self::RescaleLift
            | Self::CopyLimbs => 2 * limbs,
            // With AUT_ADD the output is read too.
            Self::Automorphism => (2 + u64::from(launch.op == AUT_ADD)) * limbs,
            // Each limb reads the coefficient's two words and writes one.
            Self::Binary | Self::Scaled | Self::ReduceSigned => 3 * limbs,
            // The transform's read and x's read and write (the last phase
            // stores x, not the transform; two phases at N > NTT_TILE are
            // counted as two launches, the first a plain NTT).
            Self::NttForwardSubMul => 3 * limbs,
            // a0, a1, b0, b1 read; d0, d1 and d2 (or, with TENSOR_MOD_UP,
            // its place in the digit's output) written.
            Self::Tensor => 7 * limbs,
            // Its digit limbs and the outputs, read back after the first
            // round; an addend pair on the Q limbs. The keys: below.
            Self::KeySwitchInner => {
                let read_back = if first_round == 0 { 2 } else { 0 };
                let q_limbs = launch.limbs.end.min(launch.map.q_count as usize).saturating_sub(launch.limbs.start);
                let addend = if launch.op & KS_ADD != 0 { 2 * q_limbs as u64 } else { 0 };
                limbs * (digits + 2 + read_back) + addend
            }
            // Each thread reads the sources (and the overflow limb) once per
            // CONV_TARGETS targets.
            Self::ConvApply => {
                let centered = u64::from(launch.op == CONV_CENTERED);
                limbs.div_ceil(u64::from(CONV_TARGETS)) * (sources + centered) + limbs
            }
            Self::ConvOverflow => sources + 1,
        };
        let shared = if self == Self::KeySwitchInner { limbs * key_polys(operands, digits as usize) } else { 0 };
        items * per_item + shared
    }

    /// Operands per batch item (the `per_item` its source passes to `operand`).
    pub(super) fn per_item(self) -> usize {
        match self {
            Self::NttForward | Self::ConvOverflow => 1,
            Self::NttInverse | Self::RescaleLift | Self::CopyLimbs | Self::ReduceSigned => 2,
            Self::Binary
            | Self::Unary
            | Self::Scaled
            | Self::Automorphism
            | Self::ConvApply
            | Self::NttForwardSubMul
            | Self::NttInversePrep => 3,
            Self::KeySwitchInner => 5 + 3 * KS_DIGITS as usize,
            Self::Tensor => 8,
        }
    }
}

/// The NTT tile of kernels built with the `-D` options `switches`:
/// [`NTT_WIDE_TILE`] with `-DNTT_WIDE=` anything but 0, else [`NTT_TILE`].
fn ntt_tile(switches: &[String]) -> u32 {
    let wide = switches.iter().filter_map(|s| s.strip_prefix("-DNTT_WIDE=")).any(|v| v != "0");
    if wide { NTT_WIDE_TILE } else { NTT_TILE }
}

/// The target `arch`, the kernel switches and whether uploads have a copy
/// stream, as [`Device::arch`] shows them.
fn target(arch: &str, switches: &[String], copy_stream: bool) -> String {
    let copy = copy_stream.then_some("copy-stream");
    std::iter::once(arch).chain(switches.iter().map(String::as_str)).chain(copy).collect::<Vec<_>>().join(" ")
}

/// Distinct key polynomials (kb_j, ka_j of the digits in use) among the
/// items of a `key_switch_inner` launch (its operand layout in keyswitch.cu).
fn key_polys(operands: &[u64], digits: usize) -> u64 {
    let mut keys: Vec<u64> = operands
        .chunks(Kernel::KeySwitchInner.per_item())
        .flat_map(|item| item[2..2 + 3 * digits].chunks(3).flat_map(|digit| [digit[1], digit[2]]))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.len() as u64
}

/// The launch header every kernel takes by value (`Header` in modarith.cuh).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Header {
    n: u32,
    log_n: u32,
    limb_start: u32,
    limb_count: u32,
    gshift: u32,
    qcount: u32,
    qtotal: u32,
    op: u32,
    arg: [u32; 4],
    items_inner: u32,
}

// SAFETY: a #[repr(C)] struct of u32 only, laid out as `Header` in modarith.cuh.
unsafe impl DeviceRepr for Header {}

/// The word every emulated allocation starts with (see [`Device::alloc`]).
const ALLOCATION_POISON: u32 = 0xA5A5_A5A5;

/// Operand words per launch (`MAX_OPERANDS` in modarith.cuh).
pub(super) const MAX_OPERANDS: usize = 256;

/// The operands of a batch of items (`Operands` in modarith.cuh), passed
/// by value: item z's operands are words z·per_item .. of `p`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct Operands {
    p: [u64; MAX_OPERANDS],
}

// SAFETY: a #[repr(C)] array of u64, laid out as `Operands` in modarith.cuh.
unsafe impl DeviceRepr for Operands {}

/// Why the CUDA driver cannot be used, checked without any call that
/// could panic (cudarc panics when a library it needs is missing).
pub(super) fn driver_available() -> Result<()> {
    // SAFETY: only tries to load libcuda; no driver call is made.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(BackendError::DriverUnavailable {
            backend: NAME,
            reason: "libcuda.so cannot be loaded (no NVIDIA driver installed)".into(),
        });
    }
    cudarc::driver::result::init()
        .map_err(|e| BackendError::DriverUnavailable { backend: NAME, reason: format!("cuInit failed: {e}") })?;
    Ok(())
}

/// One CUDA device with its streams and loaded kernels, or the emulated
/// device ([`Emulator`]).
pub(super) struct Device {
    driver: Driver,
    /// The NVRTC target, e.g. `sm_90` (`host` when emulated), then the
    /// kernel switches in effect (`sm_90 -DNTT_WIDE=1`; see
    /// [`super::compile::kernel_switches`]) and `copy-stream` if uploads
    /// have a stream of their own (`streams.rs`).
    pub(super) arch: String,
    /// Words of the NTT kernels' tile: [`NTT_TILE`], or more with the
    /// `NTT_WIDE` switch (see [`ntt_tile`]).
    pub(super) ntt_tile: u32,
    /// Work queued on the kernel stream so far (launches, clears, internal
    /// uploads, allocations), counted after it is queued.
    queued: AtomicU64,
    /// The last event [`Self::kernel_mark`] recorded and the count of
    /// [`Self::queued`] work it follows.
    kernel_mark: Mutex<Option<(u64, Event)>>,
    /// Device timing (on in the scheduler's blocking mode).
    timing: Mutex<Timing>,
    /// Kernel launches so far.
    launches: AtomicU64,
    /// Modeled device-memory traffic of those launches, bytes.
    traffic: AtomicU64,
}

/// Device timing while on: the mark of the first launch since the last
/// [`Device::take_time`], and each launch's time by kernel.
#[derive(Default)]
struct Timing {
    on: bool,
    mark: Option<Mark>,
    /// The end of the timed stretch, marked when the device was last
    /// synchronized after its launches (else when it is read).
    end: Option<Mark>,
    /// Launches on a GPU whose events have not been read yet: the kernel's
    /// label, the events before and after it, its modeled bytes.
    pending: Vec<(String, CudaEvent, CudaEvent, u64)>,
    /// The kernel times read so far, by label.
    kernels: BTreeMap<String, KernelTime>,
}

impl Timing {
    /// Adds one timed launch of the kernel `label`.
    fn add(&mut self, label: String, device: Duration, bytes: u64) {
        let entry = self.kernels.entry(label.clone()).or_insert(KernelTime {
            kernel: label,
            launches: 0,
            device: Duration::ZERO,
            bytes: 0,
        });
        entry.launches += 1;
        entry.device += device;
        entry.bytes += bytes;
    }

    /// Reads the events of the pending launches (waits for them).
    fn read_pending(&mut self) -> Result<()> {
        for (label, start, end, bytes) in std::mem::take(&mut self.pending) {
            self.add(label, elapsed(&start, &end)?, bytes);
        }
        Ok(())
    }
}

/// The device time from event `start` to event `end` (waits for `end`).
fn elapsed(start: &CudaEvent, end: &CudaEvent) -> Result<Duration> {
    let ms = start.elapsed_ms(end).map_err(driver_error("timing", 0))?;
    Ok(Duration::from_secs_f64(f64::from(ms.max(0.0)) / 1e3))
}

/// The start or end of a timed stretch of launches.
enum Mark {
    /// An event recorded on the stream (before the first launch, after the last).
    Event(CudaEvent),
    /// The host clock, on the emulated device.
    Host(Instant),
}

impl Mark {
    /// The time from `self` to the later mark `end`.
    fn until(&self, end: &Mark) -> Result<Duration> {
        match (self, end) {
            (Mark::Event(start), Mark::Event(end)) => elapsed(start, end),
            (Mark::Host(start), Mark::Host(end)) => Ok(end.duration_since(*start)),
            _ => Err(BackendError::Device { op: "timing", reason: "marks of a GPU and of the emulated device".into() }),
        }
    }
}

/// Who runs the launches and holds the memory.
enum Driver {
    /// A GPU through the CUDA driver: `stream` runs the kernels, `copy` (if
    /// on) the uploads of polynomials.
    Cuda { ctx: Arc<CudaContext>, stream: Arc<CudaStream>, copy: Option<Arc<CudaStream>>, functions: Vec<CudaFunction> },
    /// The host CPU (see [`Emulator`]), running each call's work at once,
    /// or queued on two [`EmulatedStreams`] with a copy stream.
    Emulated { emulator: Emulator, streams: Option<EmulatedStreams> },
}

/// A device allocation: driver memory, or host memory on the emulated device.
/// Only owned (kernels reach it through its address); dropping it frees it.
#[expect(dead_code, reason = "the memory is held, never read through the enum")]
pub(super) enum Allocation {
    /// Memory of a GPU.
    Device(CudaSlice<u32>),
    /// Host memory standing in for it.
    Host(HostMemory),
}

/// Host memory standing in for device memory, aligned as `cuMemAlloc`'s
/// (256 bytes: the kernels' 16-byte accesses rely on it); its bytes count
/// against the emulated device's memory until it is dropped.
pub(super) struct HostMemory {
    /// The memory (kernels reach it through its address).
    _granules: Box<[Granule]>,
    bytes: usize,
    used: Arc<AtomicUsize>,
}

/// 256 bytes of emulated device memory.
#[repr(C, align(256))]
#[derive(Clone, Copy)]
struct Granule([u32; 64]);

impl Drop for HostMemory {
    fn drop(&mut self) {
        self.used.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl Device {
    /// Opens device `ordinal`, compiles (or loads from the cache) and loads
    /// every kernel for its architecture.
    pub(super) fn open(ordinal: usize) -> Result<Self> {
        driver_available()?;
        nvrtc_available()?;
        let count = CudaContext::device_count()
            .map_err(|e| BackendError::DriverUnavailable { backend: NAME, reason: format!("cuDeviceGetCount: {e}") })?;
        if count <= ordinal as i32 {
            return Err(BackendError::DriverUnavailable {
                backend: NAME,
                reason: format!("no CUDA device {ordinal} ({count} devices found)"),
            });
        }
        let ctx = CudaContext::new(ordinal)
            .map_err(|e| BackendError::DriverUnavailable { backend: NAME, reason: format!("device {ordinal}: {e}") })?;
        // SAFETY: every launch of this backend runs on the kernel stream
        // below, in order, and uploads on the copy stream order themselves
        // by events (streams.rs), so cudarc's per-allocation events are not
        // needed (and raw device addresses are passed to kernels).
        unsafe { ctx.disable_event_tracking() };
        let (major, minor) = ctx.compute_capability().map_err(driver_error("compute capability", 0))?;
        let arch = format!("sm_{major}{minor}");
        let stream = ctx.default_stream();
        let copy = if copy_stream_requested()? {
            Some(ctx.new_stream().map_err(driver_error("copy stream", 0))?)
        } else {
            None
        };
        let switches = kernel_switches()?;
        let mut modules = Vec::new();
        for (family, source) in FAMILIES {
            let cubin = cached_cubin(family, source, &arch, &switches)?;
            let module = ctx
                .load_module(Ptx::from_binary(cubin))
                .map_err(|e| BackendError::Kernel { name: family, reason: format!("loading the CUBIN: {e}") })?;
            modules.push((family, module));
        }
        let functions = Kernel::ALL
            .iter()
            .map(|k| {
                let (family, name) = k.names();
                let module = modules.iter().find(|(f, _)| *f == family).map(|(_, m)| m).ok_or_else(|| {
                    BackendError::Kernel { name: family, reason: "family not in compile::FAMILIES".into() }
                })?;
                module
                    .load_function(name)
                    .map_err(|e| BackendError::Kernel { name: family, reason: format!("function {name}: {e}") })
            })
            .collect::<Result<Vec<_>>>()?;
        let arch = target(&arch, &switches, copy.is_some());
        Ok(Self::with(Driver::Cuda { ctx, stream, copy, functions }, arch, &switches))
    }

    /// The device of `driver` for the target `arch`, its kernels built with
    /// the `-D` options `switches`.
    fn with(driver: Driver, arch: String, switches: &[String]) -> Self {
        Self {
            driver,
            arch,
            ntt_tile: ntt_tile(switches),
            queued: AtomicU64::new(0),
            kernel_mark: Mutex::default(),
            timing: Mutex::default(),
            launches: AtomicU64::new(0),
            traffic: AtomicU64::new(0),
        }
    }

    /// The emulated device with `memory` bytes of nominal memory (tests of
    /// what happens when it runs out).
    #[cfg(test)]
    pub(super) fn emulated_with_memory(memory: usize) -> Result<Self> {
        let mut device = Self::emulated(&[], None)?;
        if let Driver::Emulated { emulator, .. } = &mut device.driver {
            emulator.memory = memory;
        }
        Ok(device)
    }

    /// The emulated device (see [`Emulator`]) with the kernels built with
    /// the `-D` options `switches`; with `streams`, a copy stream too,
    /// both streams queued and run in that order at the host's waits.
    pub(super) fn emulated(switches: &[String], streams: Option<StreamOrder>) -> Result<Self> {
        let driver =
            Driver::Emulated { emulator: Emulator::open(switches)?, streams: streams.map(EmulatedStreams::new) };
        Ok(Self::with(driver, target("host", switches, streams.is_some()), switches))
    }

    /// The device's name.
    pub(super) fn name(&self) -> Result<String> {
        match &self.driver {
            Driver::Cuda { ctx, .. } => ctx.name().map_err(driver_error("device name", 0)),
            Driver::Emulated { emulator, .. } => Ok(format!("host emulation ({})", emulator.compiler)),
        }
    }

    /// Memory the device has, bytes (for the emulated device, its nominal
    /// size in host memory).
    pub(super) fn memory_bytes(&self) -> Result<usize> {
        match &self.driver {
            Driver::Cuda { ctx, .. } => ctx.total_mem().map_err(driver_error("device memory", 0)),
            Driver::Emulated { emulator, .. } => Ok(emulator.memory),
        }
    }

    /// Makes this device's context current on the calling thread (raw
    /// driver calls need it; the backend may be used from any thread).
    pub(super) fn bind(&self, op: &'static str) -> Result<()> {
        match &self.driver {
            Driver::Cuda { ctx, .. } => ctx.bind_to_thread().map_err(driver_error(op, 0)),
            Driver::Emulated { .. } => Ok(()),
        }
    }

    /// Whether uploads of polynomials have a stream of their own
    /// ([`Self::upload_overlapped`]).
    pub(super) fn has_copy_stream(&self) -> bool {
        match &self.driver {
            Driver::Cuda { copy, .. } => copy.is_some(),
            Driver::Emulated { streams, .. } => streams.is_some(),
        }
    }

    /// Counts work just queued on the kernel stream (see [`Self::kernel_mark`]).
    fn queued_on_kernels(&self) {
        self.queued.fetch_add(1, Ordering::Release);
    }

    /// Runs `work` on the emulated device: at once, or queued on `stream`
    /// when it has streams (kernel-stream work counted as queued).
    ///
    /// # Safety
    /// As for [`Work::run`].
    unsafe fn emulate(&self, emulator: &Emulator, streams: &Option<EmulatedStreams>, stream: Stream, work: Work) {
        match streams {
            Some(streams) => streams.push(stream, work),
            // SAFETY: the caller's.
            None => unsafe { work.run(emulator) },
        }
        if stream == Stream::Kernels {
            self.queued_on_kernels();
        }
    }

    /// With a copy stream: an event after the work queued on the kernel
    /// stream so far, which an upload into memory released now must wait
    /// for (recorded once for any number of calls between two pieces of
    /// kernel-stream work). Without one, `None`: nothing needs it.
    pub(super) fn kernel_mark(&self) -> Result<Option<Event>> {
        if !self.has_copy_stream() {
            return Ok(None);
        }
        let mut mark = self.kernel_mark.lock().unwrap_or_else(PoisonError::into_inner);
        let queued = self.queued.load(Ordering::Acquire);
        if let Some((at, event)) = &*mark
            && *at == queued
        {
            return Ok(Some(event.clone()));
        }
        let event = match &self.driver {
            Driver::Cuda { stream, .. } => Event::Cuda(Arc::new(
                stream.record_event(Some(CUevent_flags::CU_EVENT_DISABLE_TIMING)).map_err(driver_error("event", 0))?,
            )),
            Driver::Emulated { streams: Some(streams), .. } => Event::Emulated(streams.record(Stream::Kernels)),
            Driver::Emulated { streams: None, .. } => return Ok(None),
        };
        *mark = Some((queued, event.clone()));
        Ok(Some(event))
    }

    /// A new allocation of `words` u32 (contents undefined) and its address.
    pub(super) fn alloc(&self, words: usize) -> Result<(Allocation, u64)> {
        match &self.driver {
            Driver::Cuda { stream, .. } => {
                // SAFETY: u32 has no invalid bit patterns; every user writes
                // before it reads (contents are documented as undefined).
                let slice = unsafe { stream.alloc::<u32>(words) }.map_err(driver_error("allocate", words * 4))?;
                // A stream-ordered allocation: kernel-stream work.
                self.queued_on_kernels();
                let (ptr, _) = slice.device_ptr(stream);
                Ok((Allocation::Device(slice), ptr))
            }
            Driver::Emulated { emulator, .. } => {
                let bytes = words * 4;
                if emulator.used.fetch_add(bytes, Ordering::Relaxed) + bytes > emulator.memory {
                    emulator.used.fetch_sub(bytes, Ordering::Relaxed);
                    return Err(BackendError::OutOfMemory { bytes: bytes as u64 });
                }
                // Poisoned, not zeroed: device memory from the driver or the
                // pool holds stale words, so a kernel that reads words nobody
                // wrote must fail the differential tests here too.
                let granules = vec![Granule([ALLOCATION_POISON; 64]); words.div_ceil(64)].into_boxed_slice();
                let ptr = granules.as_ptr() as u64;
                let used = Arc::clone(&emulator.used);
                Ok((Allocation::Host(HostMemory { _granules: granules, bytes, used }), ptr))
            }
        }
    }

    /// Frees `allocation` after the work queued on the kernel stream so far
    /// (the driver orders its frees so; the emulated streams queue it).
    pub(super) fn retire(&self, allocation: Allocation) {
        match (&self.driver, allocation) {
            (Driver::Emulated { streams: Some(streams), .. }, Allocation::Host(memory)) => {
                streams.push(Stream::Kernels, Work::Free(memory));
            }
            (_, allocation) => drop(allocation),
        }
    }

    /// Copies `words` to the allocation at `ptr`, in order on the kernel stream.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this device holding `words.len()` words.
    pub(super) unsafe fn upload(&self, ptr: u64, words: &[u32]) -> Result<()> {
        match &self.driver {
            // SAFETY: the caller's; the driver copies pageable host memory before returning.
            Driver::Cuda { stream, .. } => {
                unsafe { cudarc::driver::result::memcpy_htod_async(ptr, words, stream.cu_stream()) }
                    .map_err(driver_error("upload", words.len() * 4))?;
                self.queued_on_kernels();
                Ok(())
            }
            Driver::Emulated { emulator, streams } => {
                let work = Work::Upload { ptr, words: words.to_vec() };
                // SAFETY: the caller's (a host allocation of this device).
                unsafe { self.emulate(emulator, streams, Stream::Kernels, work) };
                Ok(())
            }
        }
    }

    /// Copies `words` to the allocation at `ptr` on the copy stream, after
    /// `released` (the kernel-stream event after which the allocation is
    /// free, see [`Self::kernel_mark`]), and makes the kernel stream wait
    /// for the copy. Without a copy stream, [`Self::upload`].
    ///
    /// # Safety
    /// As for [`Self::upload`]; and `released`, if any, must follow every
    /// kernel-stream use of the allocation by its earlier owners.
    pub(super) unsafe fn upload_overlapped(&self, ptr: u64, words: &[u32], released: Option<&Event>) -> Result<()> {
        match (&self.driver, released) {
            (Driver::Cuda { stream, copy: Some(copy), .. }, released) => {
                let error = driver_error("upload", words.len() * 4);
                if let Some(Event::Cuda(released)) = released {
                    copy.wait(released).map_err(&error)?;
                }
                // SAFETY: the caller's; the allocation is free once `released` is reached.
                unsafe { cudarc::driver::result::memcpy_htod_async(ptr, words, copy.cu_stream()) }.map_err(&error)?;
                let copied = copy.record_event(Some(CUevent_flags::CU_EVENT_DISABLE_TIMING)).map_err(&error)?;
                stream.wait(&copied).map_err(error)
            }
            (Driver::Emulated { streams: Some(streams), .. }, released) => {
                if let Some(Event::Emulated(released)) = released {
                    streams.push(Stream::Copies, Work::Wait(*released));
                }
                streams.push(Stream::Copies, Work::Upload { ptr, words: words.to_vec() });
                let copied = streams.record(Stream::Copies);
                streams.push(Stream::Kernels, Work::Wait(copied));
                Ok(())
            }
            // SAFETY: the caller's.
            _ => unsafe { self.upload(ptr, words) },
        }
    }

    /// Copies the allocation at `ptr` into `out`, after every earlier launch.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this device holding `out.len()` words.
    pub(super) unsafe fn download(&self, ptr: u64, out: &mut [u32]) -> Result<()> {
        match &self.driver {
            Driver::Cuda { stream, .. } => {
                // SAFETY: the caller's; the copy waits for every earlier launch
                // on the kernel stream, which waits for every upload.
                unsafe { cudarc::driver::result::memcpy_dtoh_async(out, ptr, stream.cu_stream()) }
                    .map_err(driver_error("download", out.len() * 4))?;
                stream.synchronize().map_err(driver_error("download", 0))
            }
            Driver::Emulated { emulator, streams } => {
                if let Some(streams) = streams {
                    // SAFETY: queued by this device's calls, whose callers vouched for the addresses.
                    unsafe { streams.drain(emulator) }?;
                }
                // SAFETY: the caller's (a host allocation of this device).
                unsafe { std::ptr::copy_nonoverlapping(ptr as *const u32, out.as_mut_ptr(), out.len()) };
                Ok(())
            }
        }
    }

    /// Fills `bytes` bytes at `ptr` with zeros.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this device of at least `bytes` bytes.
    pub(super) unsafe fn clear(&self, ptr: u64, bytes: usize) -> Result<()> {
        match &self.driver {
            // SAFETY: the caller's; ordered on the stream.
            Driver::Cuda { stream, .. } => {
                unsafe { cudarc::driver::result::memset_d8_async(ptr, 0, bytes, stream.cu_stream()) }
                    .map_err(driver_error("clear", bytes))?;
                self.queued_on_kernels();
                Ok(())
            }
            Driver::Emulated { emulator, streams } => {
                // SAFETY: the caller's (a host allocation of this device).
                unsafe { self.emulate(emulator, streams, Stream::Kernels, Work::Clear { ptr, bytes }) };
                Ok(())
            }
        }
    }

    /// Kernel launches so far.
    pub(super) fn launches(&self) -> u64 {
        self.launches.load(Ordering::Relaxed)
    }

    /// Device-memory bytes the launches so far move by the model of
    /// [`Kernel::words_moved`].
    pub(super) fn traffic_bytes(&self) -> u64 {
        self.traffic.load(Ordering::Relaxed)
    }

    /// Turns the timing of launches on or off.
    pub(super) fn set_timing(&self, on: bool) {
        *self.timing.lock().unwrap_or_else(PoisonError::into_inner) = Timing { on, ..Timing::default() };
    }

    /// With timing on: the time from the first launch since the last call
    /// to the end of the last one, marked by the synchronize after it, or
    /// now if none came (waits for them; an event pair on a GPU, the host
    /// clock on the emulated device), zero without launches.
    pub(super) fn take_time(&self) -> Result<Option<Duration>> {
        let mut timing = self.timing.lock().unwrap_or_else(PoisonError::into_inner);
        if !timing.on {
            return Ok(None);
        }
        timing.read_pending()?;
        let end = timing.end.take();
        let elapsed = match timing.mark.take() {
            None => Duration::ZERO,
            Some(start) => start.until(&match end {
                Some(end) => end,
                None => self.mark_now()?,
            })?,
        };
        Ok(Some(elapsed))
    }

    /// The kernel times since timing was turned on or the last call, most
    /// time first (waits for them; see [`crate::backend::Backend::take_kernel_times`]).
    pub(super) fn take_kernel_times(&self) -> Result<Vec<KernelTime>> {
        let mut timing = self.timing.lock().unwrap_or_else(PoisonError::into_inner);
        timing.read_pending()?;
        let mut times: Vec<KernelTime> = std::mem::take(&mut timing.kernels).into_values().collect();
        times.sort_by(|a, b| b.device.cmp(&a.device).then_with(|| a.kernel.cmp(&b.kernel)));
        Ok(times)
    }

    /// Marks the start of a timed stretch before a launch, if timing is on
    /// and none is open, and forgets an end marked before the launch;
    /// whether timing is on.
    fn mark_launch(&self) -> Result<bool> {
        let mut timing = self.timing.lock().unwrap_or_else(PoisonError::into_inner);
        if timing.on {
            if timing.mark.is_none() {
                timing.mark = Some(self.mark_now()?);
            }
            // A launch after the last synchronize moves the end past it.
            timing.end = None;
        }
        Ok(timing.on)
    }

    /// A mark of the device's clock now: an event on the stream (the time
    /// the device reaches it), or the host clock on the emulated device.
    fn mark_now(&self) -> Result<Mark> {
        Ok(match &self.driver {
            Driver::Cuda { stream, .. } => Mark::Event(Self::record(stream)?),
            Driver::Emulated { .. } => Mark::Host(Instant::now()),
        })
    }

    /// An event recorded on `stream` now.
    fn record(stream: &CudaStream) -> Result<CudaEvent> {
        stream.record_event(Some(CUevent_flags::CU_EVENT_DEFAULT)).map_err(driver_error("timing", 0))
    }

    /// Waits for every launch and copy so far; with timing on, marks the end
    /// of the timed stretch first, so that its time stops with the last
    /// launch rather than when it is read ([`Self::take_time`]: reading the
    /// kernels' events takes host time).
    pub(super) fn synchronize(&self) -> Result<()> {
        if let Driver::Emulated { emulator, streams: Some(streams) } = &self.driver {
            // The queued work runs now, within the timed stretch.
            // SAFETY: queued by this device's calls, whose callers vouched for the addresses.
            unsafe { streams.drain(emulator) }?;
        }
        {
            let mut timing = self.timing.lock().unwrap_or_else(PoisonError::into_inner);
            if timing.mark.is_some() {
                timing.end = Some(self.mark_now()?);
            }
        }
        match &self.driver {
            Driver::Cuda { stream, .. } => stream.synchronize().map_err(driver_error("synchronize", 0)),
            // Every emulated launch has run (above, or when it was called).
            Driver::Emulated { .. } => Ok(()),
        }
    }

    /// Launches `kernel` with the header of `launch` at degree 2^`log_n` on
    /// (`grid_x`, rows, items) blocks of `block` threads, rows = limbs / limbs
    /// per block, or (`grid_x`, items, rows) for [`Kernel::items_inner`]: `fixed` device
    /// addresses (`cst` first) and then `operands`, `kernel.per_item()` words
    /// per item. Batches beyond [`MAX_OPERANDS`] words take several launches.
    pub(super) fn launch(
        &self,
        kernel: Kernel,
        (grid_x, block): (u32, u32),
        launch: &Launch,
        (log_n, q_total): (u32, usize),
        fixed: &[u64],
        operands: &[u64],
    ) -> Result<()> {
        let per_item = kernel.per_item();
        if launch.limbs.is_empty() || operands.is_empty() {
            return Ok(());
        }
        debug_assert_eq!(operands.len() % per_item, 0, "{kernel:?}: operands not a whole number of items");
        let timed = self.mark_launch()?;
        let header = Header {
            n: 1 << log_n,
            log_n,
            limb_start: launch.limbs.start as u32,
            limb_count: launch.limbs.len() as u32,
            gshift: launch.map.shift,
            qcount: launch.map.q_count,
            qtotal: q_total as u32,
            op: launch.op,
            arg: launch.args,
            items_inner: u32::from(kernel.items_inner()),
        };
        let rows = (launch.limbs.len() as u32).div_ceil(kernel.limbs_per_block());
        for chunk in operands.chunks(MAX_OPERANDS / per_item * per_item) {
            let mut words = Operands { p: [0; MAX_OPERANDS] };
            words.p[..chunk.len()].copy_from_slice(chunk);
            let bytes = kernel.words_moved(launch, chunk) * (4u64 << log_n);
            self.launches.fetch_add(1, Ordering::Relaxed);
            self.traffic.fetch_add(bytes, Ordering::Relaxed);
            let items = (chunk.len() / per_item) as u32;
            let grid = if kernel.items_inner() { (grid_x, items, rows) } else { (grid_x, rows, items) };
            match &self.driver {
                Driver::Cuda { stream, functions, .. } => {
                    let cfg = LaunchConfig { grid_dim: grid, block_dim: (block, 1, 1), shared_mem_bytes: 0 };
                    let mut builder = stream.launch_builder(&functions[kernel as usize]);
                    builder.arg(&header);
                    for p in fixed {
                        builder.arg(p);
                    }
                    builder.arg(&words);
                    // SAFETY: the argument list matches the kernel's signature in
                    // kernels/*.cu (header, the fixed addresses, the operands), and
                    // every address is a live allocation of this backend's pool
                    // that covers the limbs the header names (checked by the callers).
                    let start = if timed { Some(Self::record(stream)?) } else { None };
                    unsafe { builder.launch(cfg) }.map(drop).map_err(driver_error(kernel.names().1, 0))?;
                    self.queued_on_kernels();
                    if let Some(start) = start {
                        let end = Self::record(stream)?;
                        let mut timing = self.timing.lock().unwrap_or_else(PoisonError::into_inner);
                        timing.pending.push((kernel.timing_label(launch), start, end, bytes));
                    }
                }
                Driver::Emulated { emulator, streams } => {
                    let start = Instant::now();
                    let work =
                        Work::Launch { kernel, grid, block, header, fixed: fixed.to_vec(), operands: Box::new(words) };
                    // SAFETY: as for the device launch above, in host memory.
                    unsafe { self.emulate(emulator, streams, Stream::Kernels, work) };
                    // Queued launches run later, untimed: their stretch of
                    // device time (synchronize) is all there is.
                    if timed && streams.is_none() {
                        let mut timing = self.timing.lock().unwrap_or_else(PoisonError::into_inner);
                        timing.add(kernel.timing_label(launch), start.elapsed(), bytes);
                    }
                }
            }
        }
        Ok(())
    }
}

/// What `hetl devices` shows about one CUDA device.
#[derive(Clone, Debug)]
pub struct CudaDeviceSummary {
    /// Device ordinal.
    pub ordinal: usize,
    /// Marketing name.
    pub name: String,
    /// Compute capability (major, minor).
    pub compute_capability: (i32, i32),
    /// Device memory, bytes.
    pub total_memory: usize,
    /// The CUDA version the installed driver supports (major, minor).
    pub driver: (i32, i32),
}

/// Every CUDA device, or why CUDA cannot be used here.
pub fn list_devices() -> Result<Vec<CudaDeviceSummary>> {
    driver_available()?;
    nvrtc_available()?;
    let count = CudaContext::device_count()
        .map_err(|e| BackendError::DriverUnavailable { backend: NAME, reason: format!("cuDeviceGetCount: {e}") })?;
    let mut version = 0;
    // SAFETY: writes one int; `driver_available` initialised the driver.
    unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) }
        .result()
        .map_err(driver_error("driver version", 0))?;
    let driver = (version / 1000, version % 1000 / 10);
    (0..count.max(0) as usize)
        .map(|ordinal| {
            let ctx = CudaContext::new(ordinal).map_err(driver_error("device", 0))?;
            Ok(CudaDeviceSummary {
                ordinal,
                name: ctx.name().map_err(driver_error("device name", 0))?,
                compute_capability: ctx.compute_capability().map_err(driver_error("compute capability", 0))?,
                total_memory: ctx.total_mem().map_err(driver_error("device memory", 0))?,
                driver,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::compile::FAMILIES;
    use super::*;
    use crate::backend::device_tables::CST_STRIDE;

    fn source(family: &str) -> &'static str {
        FAMILIES.iter().find(|(f, _)| *f == family).map(|(_, s)| *s).expect("family")
    }

    #[test]
    fn launch_constants_match_the_kernels() {
        let consts = [
            ("ntt.cu", "NTT_WG", NTT_WG),
            ("ntt.cu", "NTT_TILE", NTT_TILE),
            ("ntt.cu", "NTT_TILE", NTT_WIDE_TILE),
            ("elementwise.cu", "EW_WG", COEFF_WG),
            ("tensor.cu", "TS_WG", COEFF_WG),
            ("automorphism.cu", "AUT_WG", COEFF_WG),
            ("automorphism.cu", "AUT_ADD", AUT_ADD),
            ("keyswitch.cu", "KS_WG", COEFF_WG),
            ("rescale.cu", "RS_WG", COEFF_WG),
            ("basis_ext.cu", "BX_WG", COEFF_WG),
            ("basis_ext.cu", "CONV_TARGETS", CONV_TARGETS),
            ("keyswitch.cu", "KS_DIGITS", KS_DIGITS),
        ];
        for (family, name, value) in consts {
            let decl = format!("#define {name} {value}u");
            assert!(source(family).contains(&decl), "{family} lacks `{decl}`");
        }
        let modarith = include_str!("../../../kernels/modarith.cuh");
        assert!(modarith.contains(&format!("#define CST_STRIDE {CST_STRIDE}u")));
        assert!(modarith.contains(&format!("#define MAX_OPERANDS {MAX_OPERANDS}u")));
        assert_eq!(std::mem::size_of::<Operands>(), 8 * MAX_OPERANDS);
        assert_eq!(std::mem::size_of::<Header>(), 52);
    }

    #[test]
    fn traffic_model_counts_each_operand_word_once_per_use() {
        use crate::backend::Basis;
        use crate::backend::launch_plan::LimbMap;
        let launch = |limbs, op, args| Launch::new(0..limbs, LimbMap::basis(Basis { q: 9, p: 3 })).op(op).args(args);
        // 9 targets from 3 sources and the overflow limb: 2 thread rows read 4 limbs each.
        let conv = launch(9, CONV_CENTERED, [3, 0, 0, 0]);
        assert_eq!(Kernel::ConvApply.words_moved(&conv, &[0; 3]), 2 * 4 + 9);
        // 12 limbs (9 Q), 2 digits, a first round with addends: per item the
        // digits and outputs 12·(2 + 2), the addends 2·9; the keys 12 words
        // per distinct key polynomial: 4 when the 3 items share a key, 8
        // when the third item has its own.
        let ks = launch(12, KS_ADD, [9, 1, 9, 2]);
        let item = |key: u64| {
            let mut words = [0; 17];
            words[2..8].copy_from_slice(&[1, key, key + 1, 2, key + 2, key + 3]);
            words
        };
        let items = |keys: [u64; 3]| keys.iter().flat_map(|&k| item(k)).collect::<Vec<_>>();
        assert_eq!(Kernel::KeySwitchInner.words_moved(&ks, &items([10, 10, 10])), 3 * (48 + 18) + 4 * 12);
        assert_eq!(Kernel::KeySwitchInner.words_moved(&ks, &items([10, 10, 20])), 3 * (48 + 18) + 8 * 12);
        assert_eq!(Kernel::NttForward.words_moved(&launch(5, 0, [0; 4]), &[0; 2]), 2 * 2 * 5);
    }

    /// Where kernel `name`'s definition starts in `text`: its line
    /// `extern "C" __global__ void [launch bounds] name(`.
    fn definition(text: &str, name: &str) -> Option<usize> {
        let mut at = 0;
        for line in text.split_inclusive('\n') {
            if line.starts_with("extern \"C\" __global__ void ") && line.contains(&format!(" {name}(")) {
                return Some(at);
            }
            at += line.len();
        }
        None
    }

    #[test]
    fn every_kernel_is_defined_in_its_family() {
        assert!(Kernel::ALL.iter().enumerate().all(|(i, &k)| k as usize == i));
        for k in Kernel::ALL {
            let (family, name) = k.names();
            assert!(definition(source(family), name).is_some(), "{family} lacks {name}");
        }
    }

    #[test]
    fn operands_per_item_match_the_kernels() {
        for k in Kernel::ALL {
            let (family, name) = k.names();
            let text = source(family);
            let start = definition(text, name).expect("kernel");
            let body = &text[start..text[start + 1..].find("extern \"C\"").map_or(text.len(), |e| start + 1 + e)];
            let calls: Vec<&str> = body.split("operand(h, ops, ").skip(1).collect();
            if k.is_ntt() {
                // ntt_phase reads them, as many as its direction and FusedStep name.
                assert!(text.contains(NTT_OPERANDS), "ntt.cu's Fused::operands is not `{NTT_OPERANDS}`");
                let args = body.split("ntt_phase<").nth(1).and_then(|c| c.split('>').next()).expect("ntt_phase call");
                let count = match args {
                    "true, NONE" => 1,
                    "false, NONE" => 2,
                    "true, SUB_MUL" | "false, PREP" => 3,
                    other => panic!("{name}: unknown ntt_phase<{other}>"),
                };
                assert_eq!(count, k.per_item(), "{name}: ntt_phase<{args}> disagrees with per_item");
                continue;
            }
            assert!(!calls.is_empty(), "{name} reads no operand");
            let per_item = format!("{}u,", k.per_item());
            assert!(calls.iter().all(|c| c.starts_with(&per_item)), "{name}: operand() calls disagree with per_item");
        }
    }

    /// The operands per item of an NTT kernel by its FusedStep (ntt.cu).
    const NTT_OPERANDS: &str = "operands = FORWARD ? (STEP == SUB_MUL ? 3u : 1u) : (STEP == PREP ? 3u : 2u);";
}
