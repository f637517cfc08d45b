//! The `Backend` trait: batched RNS-polynomial primitives on one device.
//!
//! A backend owns device memory for polynomials ([`DevicePoly`]) and offers
//! the primitives the CKKS layer is written in: NTTs, element-wise modular
//! arithmetic, automorphisms, basis extension (ModUp/ModDown), the
//! key-switching inner product and rescaling. Every method takes a batch, so
//! one call can be one device launch. The CPU backend is the reference: every
//! other backend must match it bit for bit.
//!
//! Layout: a polynomial with basis {q, p} holds `q + p` limbs of N words,
//! limb-major: Q[0..q] then P[0..p]. Values are fully reduced at every call
//! boundary. "NTT domain" means the order documented in [`crate::math::ntt`].

pub mod cpu;
pub mod cuda;
mod device_tables;
mod error;
mod launch_plan;
mod validate;
pub mod wgpu;

use std::ops::Range;

pub use error::BackendError;

use crate::math::RnsRing;

/// Result type of the backend layer.
pub type Result<T> = std::result::Result<T, BackendError>;

/// Intermediate bytes of one batched call on a GPU
/// ([`Backend::batch_budget_bytes`] of the CUDA and wgpu backends). On an
/// H200, N = 2^16 key switching through CUDA ran at 1 978 ops/s in batches
/// of 8 (≈ 590 MB of extended digits) and at 1 496 in batches of 64
/// (4.7 GB), n15 likewise (6 983 vs 6 493), while n14's batch of 64
/// (250 MB) was the fastest; through wgpu (Vulkan, `h200-run11`) unsplit
/// batches of 64 fell further, n16 rotate from 561 to 316 ops/s, n14 from
/// 1 744 to 849. Past a few hundred MB a larger launch only adds memory to
/// touch, so the scheduler splits larger batches into calls of this size,
/// queued back to back.
const GPU_BATCH_BUDGET_BYTES: usize = 512 << 20;

/// Which primes a polynomial's limbs use: the first `q` of Q, then the first `p` of P.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Basis {
    /// Number of Q limbs.
    pub q: usize,
    /// Number of P limbs.
    pub p: usize,
}

impl Basis {
    /// A basis of `q` Q-limbs and no special primes.
    #[must_use]
    pub fn q(q: usize) -> Self {
        Self { q, p: 0 }
    }

    /// Total number of limbs.
    #[must_use]
    pub fn limbs(&self) -> usize {
        self.q + self.p
    }

    /// Global limb index (into [`RnsRing::modulus`]) of local limb `k`.
    #[must_use]
    pub fn global(&self, k: usize, ring: &RnsRing) -> usize {
        if k < self.q { k } else { ring.q.len() + k - self.q }
    }
}

/// The residues of signed coefficients over `basis`, limb-major
/// (coefficient domain): what [`Backend::upload_signed`] stores.
pub(crate) fn signed_residues(ring: &RnsRing, basis: Basis, coeffs: &[i64]) -> Vec<u32> {
    let mut words = vec![0; basis.limbs() * coeffs.len()];
    for (k, limb) in words.chunks_exact_mut(coeffs.len().max(1)).enumerate() {
        crate::math::limb_ops::reduce_signed(ring.modulus(basis.global(k, ring)), coeffs, limb);
    }
    words
}

/// Device memory of one polynomial; each backend accepts only its own kind.
#[derive(Debug)]
pub(crate) enum DeviceMem {
    /// Host memory (CPU backend).
    Host(self::cpu::HostBuffer),
    /// A device buffer of a wgpu backend.
    Wgpu(self::wgpu::WgpuBuffer),
    /// A device allocation of a CUDA backend.
    Cuda(self::cuda::CudaBuffer),
}

/// An RNS polynomial resident on a backend's device.
#[derive(Debug)]
pub struct DevicePoly {
    pub(crate) mem: DeviceMem,
    basis: Basis,
}

impl DevicePoly {
    /// The limbs this polynomial holds.
    #[must_use]
    pub fn basis(&self) -> Basis {
        self.basis
    }
}

/// The timed launches of one kernel ([`Backend::take_kernel_times`]).
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// The kernel, e.g. `conv_apply`, or `ntt_forward (S = 2^8)` for the
    /// phase of an NTT kernel whose butterflies are 2^8 words apart at least.
    pub kernel: String,
    /// Launches.
    pub launches: u64,
    /// Device time, from GPU timestamps around each launch.
    pub device: std::time::Duration,
    /// Modeled device-memory bytes of those launches.
    pub bytes: u64,
}

/// Element-wise binary operation between two polynomials of equal basis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elementwise {
    /// dst += src
    Add,
    /// dst -= src
    Sub,
    /// dst *= src (pointwise; a ring product in the NTT domain)
    Mul,
}

/// Operation of a polynomial with one constant per limb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarOp {
    /// `dst[k] += c[k]` on every coefficient of limb k
    Add,
    /// `dst[k] *= c[k]` on every coefficient of limb k
    Mul,
}

/// Operands of one ciphertext tensor product: `[[a0, a1], [b0, b1]]`.
pub type TensorPair<'a> = [[&'a DevicePoly; 2]; 2];

/// One key-switching inner product Σ_j digit_j · (b_j, a_j): the extended
/// digits of one polynomial and the switching key's `(b_j, a_j)` per digit
/// (or any polynomials of one basis and pairs: sums of ciphertext ×
/// plaintext products are the same arithmetic).
#[derive(Clone, Copy, Debug)]
pub struct KeySwitchJob<'a> {
    /// Digits from [`Backend::mod_up`] (possibly permuted), one basis.
    pub digits: &'a [&'a DevicePoly],
    /// Key digits; at least as many as `digits`.
    pub key: &'a [[&'a DevicePoly; 2]],
}

/// Digits of a hybrid key-switching decomposition: digit j covers Q limbs
/// `j·alpha .. min((j+1)·alpha, q)`.
#[must_use]
pub fn digit_ranges(q: usize, alpha: usize) -> Vec<Range<usize>> {
    (0..q.div_ceil(alpha)).map(|j| j * alpha..((j + 1) * alpha).min(q)).collect()
}

/// Batched polynomial primitives on one device. See the module docs for the
/// layout contract.
///
/// Every method that computes takes a batch (polynomials of many
/// ciphertexts, possibly at different levels) so that the scheduler can
/// turn the same operation on many ciphertexts into one device submission.
/// Calls may return before the device has finished; results are ordered
/// (a later call sees an earlier call's output) and
/// [`Backend::synchronize`] waits for all of them.
pub trait Backend: Send + Sync {
    /// Short name used in reports ("cpu", "wgpu", "cuda").
    fn name(&self) -> &'static str;
    /// The ring this backend was built for.
    fn ring(&self) -> &RnsRing;

    /// Copies host words (limb-major, reduced) to a new device polynomial.
    fn upload(&self, basis: Basis, data: &[u32]) -> Result<DevicePoly>;
    /// Whether [`Backend::upload_signed`] reduces the coefficients itself,
    /// straight into the new polynomial (on the GPU; the CPU backend on its
    /// worker threads). Then callers pass signed coefficients (N words of 8
    /// bytes instead of a 4-byte word per coefficient and limb, and no
    /// residue buffer to copy); else they compute the residues on their own
    /// host threads and [`Backend::upload`] them.
    fn reduces_signed(&self) -> bool {
        false
    }
    /// A new polynomial over `basis` (coefficient domain) holding the
    /// residues c mod q of the N signed coefficients `coeffs` under each
    /// limb's prime; by default computed here on the host and uploaded.
    fn upload_signed(&self, basis: Basis, coeffs: &[i64]) -> Result<DevicePoly> {
        validate::upload_signed(basis, coeffs.len(), self.ring())?;
        // The coefficients may be secret (keys, errors): wiped when dropped.
        let words = zeroize::Zeroizing::new(signed_residues(self.ring(), basis, coeffs));
        self.upload(basis, &words)
    }
    /// Copies a device polynomial to host words (limb-major).
    fn download(&self, poly: &DevicePoly) -> Result<Vec<u32>>;
    /// A zero polynomial.
    fn zeros(&self, basis: Basis) -> Result<DevicePoly>;
    /// Device-side copies.
    fn copy(&self, polys: &[&DevicePoly]) -> Result<Vec<DevicePoly>>;
    /// Overwrites the memory with zeros (for secrets, before release).
    fn zeroize(&self, poly: &mut DevicePoly) -> Result<()>;
    /// Keeps only the first `q` Q-limbs (level dropping); requires no P limbs.
    fn truncate(&self, poly: &mut DevicePoly, q: usize) -> Result<()>;

    /// Forward NTT of every limb of every polynomial.
    fn ntt_forward(&self, polys: &mut [&mut DevicePoly]) -> Result<()>;
    /// Inverse NTT of every limb of every polynomial.
    fn ntt_inverse(&self, polys: &mut [&mut DevicePoly]) -> Result<()>;
    /// `dst[i] op= src[i]` for each pair.
    fn elementwise(&self, op: Elementwise, dst: &mut [&mut DevicePoly], src: &[&DevicePoly]) -> Result<()>;
    /// New polynomials `lhs[i] op rhs[i]`, the operands unchanged: the
    /// words of a copy of `lhs` then [`Backend::elementwise`] (the
    /// default); a device backend writes the results in one pass instead.
    fn elementwise_new(&self, op: Elementwise, lhs: &[&DevicePoly], rhs: &[&DevicePoly]) -> Result<Vec<DevicePoly>> {
        validate::elementwise(lhs.iter().map(|l| l.basis), rhs)?;
        let mut out = self.copy(lhs)?;
        self.elementwise(op, &mut out.iter_mut().collect::<Vec<_>>(), rhs)?;
        Ok(out)
    }
    /// `dst[i] = -dst[i]`.
    fn negate(&self, dst: &mut [&mut DevicePoly]) -> Result<()>;
    /// `dst[i] op= c` with one residue per limb of the polynomials' basis.
    fn scalar(&self, op: ScalarOp, dst: &mut [&mut DevicePoly], per_limb: &[u32]) -> Result<()>;
    /// New polynomials `src[i] op c` ([`Backend::scalar`]'s constants), the
    /// sources unchanged: the words of a copy then [`Backend::scalar`] (the
    /// default); a device backend writes the results in one pass instead.
    fn scalar_new(&self, op: ScalarOp, src: &[&DevicePoly], per_limb: &[u32]) -> Result<Vec<DevicePoly>> {
        let mut out = self.copy(src)?;
        self.scalar(op, &mut out.iter_mut().collect::<Vec<_>>(), per_limb)?;
        Ok(out)
    }
    /// Tensor products of pairs of degree-1 ciphertexts (NTT domain):
    /// `dst[k] += c[k]·src[k]` on every Q limb k: each source has basis
    /// {q, 0} for its destination's q (the destination's P limbs are left as
    /// they are); `per_q_prime[k]` is the constant of `Q[k]` (reduced per
    /// prime), at least as many as the largest q.
    fn add_scaled(&self, dst: &mut [&mut DevicePoly], src: &[&DevicePoly], per_q_prime: &[u32]) -> Result<()>;
    /// (a0·b0, a0·b1 + a1·b0, a1·b1) per pair.
    fn tensor(&self, pairs: &[TensorPair]) -> Result<Vec<[DevicePoly; 3]>>;
    /// X → X^g applied to each `(polynomial, g)` (NTT domain), into new polynomials.
    fn automorphism(&self, src: &[(&DevicePoly, u64)]) -> Result<Vec<DevicePoly>>;
    /// `dst[i] += src[i].0` under X → X^`src[i].1` (NTT domain, equal
    /// bases): a rotation's σ(c0) added to its switched k0. The words of
    /// [`Backend::automorphism`] then [`Backend::elementwise`] (the
    /// default); a device backend adds as it permutes, without writing
    /// σ(c0) out.
    fn automorphism_add(&self, dst: &mut [&mut DevicePoly], src: &[(&DevicePoly, u64)]) -> Result<()> {
        let permuted = self.automorphism(src)?;
        self.elementwise(Elementwise::Add, dst, &permuted.iter().collect::<Vec<_>>())
    }
    /// Hybrid key-switching decomposition of each source: splits it (NTT,
    /// basis {q, 0}) into digits of `alpha` limbs and extends each to basis
    /// {q, p} (NTT).
    fn mod_up(&self, src: &[&DevicePoly], alpha: usize, p: usize) -> Result<Vec<Vec<DevicePoly>>>;
    /// The tensor product of each pair with its d2 decomposed at once:
    /// (d0, d1) and the [`Backend::mod_up`] digits of d2, the first step of
    /// relinearizing a product. The same words as [`Backend::tensor`] then
    /// [`Backend::mod_up`] (the default); a device backend writes d2
    /// straight into the digits' buffers, saving its round trip through
    /// memory.
    fn tensor_mod_up(
        &self,
        pairs: &[TensorPair],
        alpha: usize,
        p: usize,
    ) -> Result<Vec<([DevicePoly; 2], Vec<DevicePoly>)>> {
        let products = self.tensor(pairs)?;
        let d2: Vec<&DevicePoly> = products.iter().map(|[_, _, d2]| d2).collect();
        let digits = self.mod_up(&d2, alpha, p)?;
        Ok(products.into_iter().zip(digits).map(|([d0, d1, _], digits)| ([d0, d1], digits)).collect())
    }
    /// Key-switching inner products Σ_j digit_j · (b_j, a_j), one per job,
    /// over the job's digit basis; key polynomials may hold more Q limbs
    /// (the extra ones are ignored).
    fn key_switch_inner(&self, jobs: &[KeySwitchJob]) -> Result<Vec<[DevicePoly; 2]>>;
    /// [`Backend::key_switch_inner`] plus `c`·(e0, e1) on the Q limbs per
    /// job, `addends[i]` = (e0, e1) of basis {q, 0} for job i's basis {q, p}
    /// and `c` from `per_q_prime` as in [`Backend::add_scaled`]: the
    /// relinearized pair's P·(c0, c1) of a fused relinearize-rescale. The
    /// same words as the inner product then [`Backend::add_scaled`] (the
    /// default); a device backend adds in the inner product's first pass.
    fn key_switch_inner_add(
        &self,
        jobs: &[KeySwitchJob],
        addends: &[[&DevicePoly; 2]],
        per_q_prime: &[u32],
    ) -> Result<Vec<[DevicePoly; 2]>> {
        let bases = jobs.iter().map(validate::key_switch_inner).collect::<Result<Vec<_>>>()?;
        validate::key_switch_addends(&bases, addends, per_q_prime)?;
        let mut out = self.key_switch_inner(jobs)?;
        let (mut dst, src): (Vec<&mut DevicePoly>, Vec<&DevicePoly>) =
            out.iter_mut().zip(addends).flat_map(|(k, e)| k.iter_mut().zip(e.iter().copied())).unzip();
        self.add_scaled(&mut dst, &src, per_q_prime)?;
        Ok(out)
    }
    /// Divides by P and by the last `drop` Q primes at once, with rounding:
    /// basis {q, p} → {q − drop, 0}, NTT domain, in place. `drop` = 0 is the
    /// ModDown of key switching; `drop` > 0 fuses it with rescaling (one
    /// exact basis conversion from Q[q−drop..q] ∪ P instead of a ModDown and
    /// a rescale, each of which transforms every limb).
    fn mod_down(&self, polys: &mut [&mut DevicePoly], drop: usize) -> Result<()>;
    /// Divides by the last `drop` Q primes with rounding, one prime at a time
    /// (NTT domain, in place).
    fn rescale(&self, polys: &mut [&mut DevicePoly], drop: usize) -> Result<()>;
    /// Waits until every submitted call has finished on the device (a no-op
    /// on the CPU); benchmarks stop their clocks after it.
    fn synchronize(&self) -> Result<()>;
    /// Turns per-submission device timing (GPU timestamps) on or off; the
    /// scheduler turns it on in blocking mode. Ignored by backends without.
    fn set_device_timing(&self, _on: bool) {}
    /// The device execution time of the timed submissions since the last
    /// call, from GPU timestamps (waits for them); `None` where the backend
    /// or device has no timestamps.
    fn take_device_time(&self) -> Result<Option<std::time::Duration>> {
        Ok(None)
    }
    /// The device time of each kernel (an NTT kernel's two phases apart)
    /// timed since device timing was last turned on or this was last
    /// called, with its launches and modeled traffic, most time first
    /// (waits for them); empty where the backend times no kernels. It says
    /// which kernel of a primitive takes the time that
    /// [`Backend::take_device_time`] gives the primitive.
    fn take_kernel_times(&self) -> Result<Vec<KernelTime>> {
        Ok(Vec::new())
    }
    /// Kernel launches (dispatches) so far, where the backend counts them: a
    /// GPU's fixed cost per launch bounds small batches.
    fn launches(&self) -> Option<u64> {
        None
    }
    /// Device-memory bytes its kernels have moved so far by a traffic model
    /// (each operand word read or written once per use, no cache reuse),
    /// where the backend models it: with device times, the bandwidth the
    /// kernels reach; without a GPU, what a fusion saves.
    fn traffic_bytes(&self) -> Option<u64> {
        None
    }
    /// Bytes of intermediate data one batched call should produce at most:
    /// past it a device gains nothing from larger batches (a CPU's caches
    /// spill; a GPU only touches more memory) and the scheduler splits them.
    /// Unbounded by default.
    fn batch_budget_bytes(&self) -> usize {
        usize::MAX
    }
    /// The device's memory, bytes, where the backend knows it (sizes the
    /// caches of a GPU node by default).
    fn memory_bytes(&self) -> Option<usize> {
        None
    }
}
