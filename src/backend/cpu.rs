//! The CPU backend: the bit-exact reference for every other backend.
//!
//! Single-threaded by default; with `threads > 1` it spreads limbs (of all
//! polynomials in a batch) over a rayon pool.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::{
    Backend, BackendError, Basis, DeviceMem, DevicePoly, Elementwise, KeySwitchJob, Result, ScalarOp, TensorPair,
    digit_ranges, validate,
};
use crate::math::ntt::bit_reverse;
use crate::math::rns::BasisConverter;
use crate::math::{Modulus, NttTable, RnsRing, limb_ops};

const NAME: &str = "cpu";

/// Scratch buffers kept for reuse (fresh large allocations cost page faults).
const SCRATCH_BUFFERS: usize = 8;

/// Bytes of freed polynomial memory kept for reuse: fresh allocations of
/// that size come from the OS as new pages, and their page faults cost more
/// than the arithmetic of a batched call.
const HOST_POOL_BYTES: usize = 256 << 20;

/// Most freed vectors kept (each reuse scans them).
const HOST_POOL_ENTRIES: usize = 64;

/// Working-set bytes per worker thread that a batched call should stay within.
const CACHE_BUDGET_PER_THREAD: usize = 4 << 20;

/// Coefficients per tile of the key-switching inner product: a tile of
/// every input of a call's jobs (up to 32 × 32 terms in the token
/// broadcast) stays in L2 while every job reads it. 2048 measured 4.6×
/// faster than whole limbs per job on the broadcast's products (n15, one
/// thread), and as fast as 1024; 4096 and 8192 were slower.
const INNER_PRODUCT_TILE: usize = 2048;

type ConverterKey = (Vec<usize>, Vec<usize>);

/// ModDown of one limb: (limb, its conversion from the divisor's primes,
/// which becomes the result, the divisor's inverse mod q_i).
type DivideItem<'a> = (&'a [u32], &'a mut [u32], u32);

/// Rescaling of one limb: (limb, the dropped limb in the coefficient
/// domain, the dropped limb's global index).
type RescaleItem<'a> = (&'a mut [u32], &'a [u32], usize);

/// CPU implementation of [`Backend`].
pub struct CpuBackend {
    ring: RnsRing,
    tables: Vec<NttTable>,
    pool: Option<rayon::ThreadPool>,
    permutations: Mutex<HashMap<u64, Arc<Vec<u32>>>>,
    converters: Mutex<HashMap<ConverterKey, Arc<BasisConverter>>>,
    /// `q_last_inv[l][i]`: q_l^-1 mod q_i for i < l, the rescale factor.
    q_last_inv: Vec<Vec<u32>>,
    scratch: Mutex<Vec<Vec<u32>>>,
    outputs: Arc<HostPool>,
}

/// Freed polynomial vectors awaiting reuse: at most [`HOST_POOL_ENTRIES`]
/// vectors and [`HOST_POOL_BYTES`].
#[derive(Debug, Default)]
pub(crate) struct HostPool(Mutex<Vec<Vec<u32>>>);

impl HostPool {
    /// A vector of `len` words with arbitrary contents (a freed
    /// polynomial's, where the pool has one large enough; zeros else), for
    /// an output every word of which is written: reused words are not
    /// zeroed first, a pass over memory that made an addition 10-15 %
    /// slower at n14 and n16.
    fn take(&self, len: usize) -> Vec<u32> {
        let mut pool = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fit = pool.iter().enumerate().filter(|(_, v)| v.capacity() >= len).min_by_key(|(_, v)| v.capacity());
        match fit.map(|(k, _)| k) {
            Some(k) => {
                let mut v = pool.swap_remove(k);
                drop(pool);
                v.truncate(len);
                v.resize(len, 0);
                v
            }
            None => vec![0; len],
        }
    }

    /// Keeps `v` for reuse while the pool is under its byte budget.
    fn give(&self, v: Vec<u32>) {
        let mut pool = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let held: usize = pool.iter().map(|v| v.capacity() * 4).sum();
        if pool.len() < HOST_POOL_ENTRIES && held + v.capacity() * 4 <= HOST_POOL_BYTES {
            pool.push(v);
        }
    }
}

/// The words of a CPU polynomial; returned to its backend's pool on drop.
#[derive(Debug)]
pub(crate) struct HostBuffer {
    words: Vec<u32>,
    pool: Arc<HostPool>,
}

impl std::ops::Deref for HostBuffer {
    type Target = Vec<u32>;

    fn deref(&self) -> &Vec<u32> {
        &self.words
    }
}

impl std::ops::DerefMut for HostBuffer {
    fn deref_mut(&mut self) -> &mut Vec<u32> {
        &mut self.words
    }
}

impl Drop for HostBuffer {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.words));
    }
}

impl CpuBackend {
    /// Builds NTT tables for every prime of `ring`; `threads` ≤ 1 means
    /// single-threaded.
    pub fn new(ring: RnsRing, threads: usize) -> Result<Self> {
        let tables = ring.all().map(|m| NttTable::new(*m, ring.log_n)).collect();
        let pool =
            if threads > 1 {
                Some(rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| {
                    BackendError::DriverUnavailable { backend: NAME, reason: format!("thread pool: {e}") }
                })?)
            } else {
                None
            };
        let q_last_inv = (0..ring.q.len())
            .map(|l| ring.q[..l].iter().map(|m| m.inv(ring.q[l].value() % m.value())).collect())
            .collect();
        Ok(Self {
            ring,
            tables,
            pool,
            permutations: Mutex::default(),
            converters: Mutex::default(),
            q_last_inv,
            scratch: Mutex::default(),
            outputs: Arc::default(),
        })
    }

    fn n(&self) -> usize {
        self.ring.n()
    }

    /// Runs `f` on every item, in parallel when a pool exists.
    fn run_each<T: Send, F: Fn(T) + Sync + Send>(&self, items: Vec<T>, f: F) {
        match &self.pool {
            Some(pool) => pool.install(|| items.into_par_iter().for_each(f)),
            None => items.into_iter().for_each(f),
        }
    }

    /// Runs `f(global_limb_index, limb)` on every limb.
    fn for_each_limb<F: Fn(usize, &mut [u32]) + Sync + Send>(&self, items: Vec<(usize, &mut [u32])>, f: F) {
        self.run_each(items, |(g, limb)| f(g, limb));
    }

    fn limbs_mut<'a>(&self, op: &'static str, polys: &'a mut [&mut DevicePoly]) -> Result<Vec<(usize, &'a mut [u32])>> {
        let n = self.n();
        let mut items = Vec::new();
        for p in polys.iter_mut() {
            let basis = p.basis;
            let limbs = host_mut(op, p)?.chunks_exact_mut(n).enumerate();
            items.extend(limbs.map(|(k, l)| (basis.global(k, &self.ring), l)));
        }
        Ok(items)
    }

    /// `len` words of arbitrary contents for a new polynomial that the
    /// caller writes in full, reusing freed ones (see [`HostPool::take`]).
    fn output(&self, len: usize) -> Vec<u32> {
        self.outputs.take(len)
    }

    /// New polynomials of `src`'s bases, written one limb at a time on the
    /// worker threads by `write(i, k, global limb, output limb, source limb)`
    /// for limb k of `src[i]`: the one-pass `*_new` primitives, which read
    /// each source limb once and write its output while it is in cache.
    fn limbwise_new<F>(&self, op: &'static str, src: &[&DevicePoly], write: F) -> Result<Vec<DevicePoly>>
    where
        F: Fn(usize, usize, usize, &mut [u32], &[u32]) + Sync + Send,
    {
        let n = self.n();
        let mut out: Vec<DevicePoly> =
            src.iter().map(|s| self.new_poly(s.basis, self.output(s.basis.limbs() * n))).collect();
        let mut items = Vec::new();
        for (i, (o, s)) in out.iter_mut().zip(src).enumerate() {
            let basis = s.basis;
            let limbs = host_mut(op, o)?.chunks_exact_mut(n).zip(host(op, s)?.chunks_exact(n));
            items.extend(limbs.enumerate().map(|(k, (o, a))| (i, k, basis.global(k, &self.ring), o, a)));
        }
        self.run_each(items, |(i, k, g, o, a)| write(i, k, g, o, a));
        Ok(out)
    }

    /// A new polynomial holding a copy of `words`.
    fn poly_from(&self, basis: Basis, words: &[u32]) -> DevicePoly {
        let mut data = self.output(words.len());
        data.copy_from_slice(words);
        self.new_poly(basis, data)
    }

    fn new_poly(&self, basis: Basis, data: Vec<u32>) -> DevicePoly {
        debug_assert_eq!(data.len(), basis.limbs() * self.n());
        DevicePoly { mem: DeviceMem::Host(HostBuffer { words: data, pool: Arc::clone(&self.outputs) }), basis }
    }

    fn modulus(&self, global: usize) -> &Modulus {
        self.ring.modulus(global)
    }

    fn converter(&self, sources: Vec<usize>, targets: Vec<usize>) -> Arc<BasisConverter> {
        let mut cache = self.converters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .entry((sources, targets))
            .or_insert_with_key(|(s, t)| {
                let m = |v: &Vec<usize>| v.iter().map(|&g| *self.modulus(g)).collect::<Vec<_>>();
                Arc::new(BasisConverter::new(&m(s), &m(t)))
            })
            .clone()
    }

    fn permutation(&self, galois: u64) -> Arc<Vec<u32>> {
        let mut cache = self.permutations.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.entry(galois).or_insert_with(|| Arc::new(ntt_automorphism_permutation(self.ring.log_n, galois))).clone()
    }

    /// A buffer of `len` words with arbitrary contents; hand it back with
    /// [`Self::give_scratch`] to reuse it. Takes the smallest kept buffer
    /// that is long enough (else the longest, lengthened), so that no words
    /// are zeroed once the pool has warmed up.
    fn take_scratch(&self, len: usize) -> Scratch {
        let mut pool = self.scratch.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fit = pool.iter().enumerate().filter(|(_, b)| b.len() >= len).min_by_key(|(_, b)| b.len());
        let longest = || pool.iter().enumerate().max_by_key(|(_, b)| b.len());
        let mut buf = match fit.or_else(longest).map(|(k, _)| k) {
            Some(k) => pool.swap_remove(k),
            None => Vec::new(),
        };
        drop(pool);
        if buf.len() < len {
            buf.resize(len, 0);
        }
        Scratch { buf, len }
    }

    fn give_scratch(&self, scratch: Scratch) {
        let mut pool = self.scratch.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() < SCRATCH_BUFFERS {
            pool.push(scratch.buf);
        }
    }

    /// `self.tables[g].inverse` of the limbs `coef` of global primes `globals`.
    fn inverse_limbs(&self, coef: &mut [u32], globals: impl Iterator<Item = usize>) {
        let items = globals.zip(coef.chunks_exact_mut(self.n())).collect();
        self.for_each_limb(items, |g, limb| self.tables[g].inverse(limb));
    }

    /// Basis conversion of the coefficient limbs `input` (primes `sources`)
    /// into `output` (primes `targets`), split over coefficient ranges when a
    /// pool exists; `centered` selects the exact conversion of the centered
    /// value (ModDown) over the fast approximate one (ModUp).
    fn convert(&self, input: &[&[u32]], output: Vec<&mut [u32]>, (sources, targets): ConverterKey, centered: bool) {
        let converter = self.converter(sources, targets);
        let n = self.n();
        let parts = self.pool.as_ref().map_or(1, rayon::ThreadPool::current_num_threads);
        if parts <= 1 || output.is_empty() {
            let mut output = output;
            converter.convert_limbs(input, &mut output, centered, &mut Vec::new());
            return;
        }
        let part_len = n.div_ceil(parts).next_multiple_of(16);
        let mut pieces: Vec<Vec<&mut [u32]>> = (0..n.div_ceil(part_len)).map(|_| Vec::new()).collect();
        for limb in output {
            for (piece, part) in limb.chunks_mut(part_len).zip(pieces.iter_mut()) {
                part.push(piece);
            }
        }
        self.run_each(pieces.into_iter().enumerate().collect(), |(k, mut out)| {
            let range = k * part_len..k * part_len + out[0].len();
            let input: Vec<&[u32]> = input.iter().map(|x| &x[range.clone()]).collect();
            converter.convert_limbs(&input, &mut out, centered, &mut Vec::new());
        });
    }

    /// ModUp of one source (see [`Backend::mod_up`]), arguments validated.
    fn mod_up_one(&self, src: &DevicePoly, alpha: usize, p: usize) -> Result<Vec<DevicePoly>> {
        let q = src.basis.q;
        let n = self.n();
        let out_basis = Basis { q, p };
        let input = host("mod_up", src)?;
        let digits = digit_ranges(q, alpha);
        // Each digit's own limbs as they are; the others converted from the
        // digit in the coefficient domain.
        let mut outs: Vec<Vec<u32>> = digits
            .iter()
            .map(|digit| {
                let words = digit.start * n..digit.end * n;
                let mut coef = self.take_scratch(words.len());
                coef.copy_from_slice(&input[words.clone()]);
                self.inverse_limbs(&mut coef, digit.clone());
                let mut out = self.output(out_basis.limbs() * n);
                out[words.clone()].copy_from_slice(&input[words]);
                let targets = (0..out_basis.limbs()).filter(|k| !digit.contains(k));
                let key = (digit.clone().collect(), targets.map(|k| out_basis.global(k, &self.ring)).collect());
                let coef_limbs: Vec<&[u32]> = coef.chunks_exact(n).collect();
                self.convert(&coef_limbs, limbs_outside(&mut out, n, digit), key, false);
                self.give_scratch(coef);
                out
            })
            .collect();
        // NTT of the converted limbs, prime by prime across the digits (each
        // prime's twiddles are read once).
        let mut items: Vec<(usize, &mut [u32])> = outs
            .iter_mut()
            .zip(&digits)
            .flat_map(|(out, digit)| out.chunks_exact_mut(n).enumerate().filter(|(k, _)| !digit.contains(k)))
            .collect();
        items.sort_by_key(|&(k, _)| k);
        let items = items.into_iter().map(|(k, limb)| (out_basis.global(k, &self.ring), limb)).collect();
        self.for_each_limb(items, |g, limb| self.tables[g].forward(limb));
        Ok(outs.into_iter().map(|out| self.new_poly(out_basis, out)).collect())
    }
}

/// A buffer from [`CpuBackend::take_scratch`]: its first `len` words.
struct Scratch {
    buf: Vec<u32>,
    len: usize,
}

impl std::ops::Deref for Scratch {
    type Target = [u32];

    fn deref(&self) -> &[u32] {
        &self.buf[..self.len]
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [u32] {
        &mut self.buf[..self.len]
    }
}

/// Source index for each output position of X → X^g in the NTT domain:
/// `out[i] = in[perm[i]]`, because slot i holds a(ψ^(2·bitrev(i)+1)).
#[must_use]
pub fn ntt_automorphism_permutation(log_n: u32, galois: u64) -> Vec<u32> {
    let n = 1usize << log_n;
    let mask = 2 * n as u64 - 1;
    (0..n)
        .map(|i| {
            let e = ((2 * bit_reverse(i, log_n) as u64 + 1) * galois) & mask;
            bit_reverse(((e - 1) / 2) as usize, log_n) as u32
        })
        .collect()
}

/// `limb op= c` (c reduced first) on one limb.
fn scalar_assign(op: ScalarOp, m: &Modulus, limb: &mut [u32], c: u32) {
    let c = m.reduce_u64(c.into());
    match op {
        ScalarOp::Add => limb_ops::add_scalar_inplace(m, limb, c),
        ScalarOp::Mul => limb_ops::mul_scalar_inplace(m, limb, c),
    }
}

/// `dst op= src` on one limb.
fn combine_assign(op: Elementwise, m: &Modulus, dst: &mut [u32], src: &[u32]) {
    match op {
        Elementwise::Add => limb_ops::add_assign(m, dst, src),
        Elementwise::Sub => limb_ops::sub_assign(m, dst, src),
        Elementwise::Mul => limb_ops::mul_assign(m, dst, src),
    }
}

/// The words of a CPU polynomial; another backend's memory is refused.
fn host<'a>(op: &'static str, poly: &'a DevicePoly) -> Result<&'a [u32]> {
    match &poly.mem {
        DeviceMem::Host(v) => Ok(v),
        _ => Err(BackendError::ForeignMemory { op, backend: NAME }),
    }
}

/// Limb `k` of limb-major words of degree `n`.
fn limb(words: &[u32], k: usize, n: usize) -> &[u32] {
    &words[k * n..(k + 1) * n]
}

/// The limbs of `data` (limbs of `n` words) outside `skip`.
fn limbs_outside<'a>(data: &'a mut [u32], n: usize, skip: &Range<usize>) -> Vec<&'a mut [u32]> {
    data.chunks_exact_mut(n).enumerate().filter(|(k, _)| !skip.contains(k)).map(|(_, limb)| limb).collect()
}

/// [`host`], writable (the vector itself, so that limbs can be dropped).
fn host_mut<'a>(op: &'static str, poly: &'a mut DevicePoly) -> Result<&'a mut Vec<u32>> {
    match &mut poly.mem {
        DeviceMem::Host(v) => Ok(v),
        _ => Err(BackendError::ForeignMemory { op, backend: NAME }),
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn ring(&self) -> &RnsRing {
        &self.ring
    }

    fn upload(&self, basis: Basis, data: &[u32]) -> Result<DevicePoly> {
        validate::upload(basis, data.len(), &self.ring)?;
        Ok(self.poly_from(basis, data))
    }

    fn reduces_signed(&self) -> bool {
        // Into its own (pooled) memory, limb by limb on the worker threads:
        // no residue buffer on the host threads and no copy of it.
        true
    }

    fn upload_signed(&self, basis: Basis, coeffs: &[i64]) -> Result<DevicePoly> {
        validate::upload_signed(basis, coeffs.len(), &self.ring)?;
        let mut poly = self.new_poly(basis, self.output(basis.limbs() * self.n()));
        let mut polys = [&mut poly];
        let limbs = self.limbs_mut("upload_signed", &mut polys)?;
        self.for_each_limb(limbs, |g, limb| limb_ops::reduce_signed(self.ring.modulus(g), coeffs, limb));
        Ok(poly)
    }

    fn download(&self, poly: &DevicePoly) -> Result<Vec<u32>> {
        Ok(host("download", poly)?.to_vec())
    }

    fn zeros(&self, basis: Basis) -> Result<DevicePoly> {
        let mut words = self.output(basis.limbs() * self.n());
        words.fill(0);
        Ok(self.new_poly(basis, words))
    }

    fn copy(&self, polys: &[&DevicePoly]) -> Result<Vec<DevicePoly>> {
        polys.iter().map(|p| Ok(self.poly_from(p.basis, host("copy", p)?))).collect()
    }

    fn zeroize(&self, poly: &mut DevicePoly) -> Result<()> {
        zeroize::Zeroize::zeroize(host_mut("zeroize", poly)?.as_mut_slice());
        Ok(())
    }

    fn truncate(&self, poly: &mut DevicePoly, q: usize) -> Result<()> {
        validate::truncate(poly.basis, q)?;
        let n = self.n();
        host_mut("truncate", poly)?.truncate(q * n);
        poly.basis = Basis::q(q);
        Ok(())
    }

    fn ntt_forward(&self, polys: &mut [&mut DevicePoly]) -> Result<()> {
        let items = self.limbs_mut("ntt_forward", polys)?;
        self.for_each_limb(items, |g, limb| self.tables[g].forward(limb));
        Ok(())
    }

    fn ntt_inverse(&self, polys: &mut [&mut DevicePoly]) -> Result<()> {
        let items = self.limbs_mut("ntt_inverse", polys)?;
        self.for_each_limb(items, |g, limb| self.tables[g].inverse(limb));
        Ok(())
    }

    fn elementwise(&self, op: Elementwise, dst: &mut [&mut DevicePoly], src: &[&DevicePoly]) -> Result<()> {
        validate::elementwise(dst.iter().map(|d| d.basis), src)?;
        let n = self.n();
        let items = self.limbs_mut("elementwise", dst)?;
        let sources = src.iter().map(|s| host("elementwise", s)).collect::<Result<Vec<_>>>()?;
        let sources: Vec<&[u32]> = sources.iter().flat_map(|s| s.chunks_exact(n)).collect();
        self.run_each(items.into_iter().zip(sources).collect(), |((g, limb), s)| {
            combine_assign(op, self.modulus(g), limb, s);
        });
        Ok(())
    }

    /// One limb at a time on the worker threads: the left operand's limb is
    /// copied into the output and combined there while in cache, instead of
    /// a copy of the whole polynomial first (the trait's default).
    fn elementwise_new(&self, op: Elementwise, lhs: &[&DevicePoly], rhs: &[&DevicePoly]) -> Result<Vec<DevicePoly>> {
        validate::elementwise(lhs.iter().map(|l| l.basis), rhs)?;
        let rhs = rhs.iter().map(|r| host("elementwise", r)).collect::<Result<Vec<_>>>()?;
        let n = self.n();
        self.limbwise_new("elementwise", lhs, |i, k, g, out, a| {
            out.copy_from_slice(a);
            combine_assign(op, self.modulus(g), out, limb(rhs[i], k, n));
        })
    }

    fn negate(&self, dst: &mut [&mut DevicePoly]) -> Result<()> {
        let items = self.limbs_mut("negate", dst)?;
        self.for_each_limb(items, |g, limb| limb_ops::neg_inplace(self.modulus(g), limb));
        Ok(())
    }

    fn scalar(&self, op: ScalarOp, dst: &mut [&mut DevicePoly], per_limb: &[u32]) -> Result<()> {
        validate::scalar(dst.iter().map(|d| d.basis), per_limb)?;
        let items: Vec<((usize, &mut [u32]), &u32)> =
            self.limbs_mut("scalar", dst)?.into_iter().zip(per_limb.iter().cycle()).collect();
        self.run_each(items, |((g, limb), &c)| scalar_assign(op, self.modulus(g), limb, c));
        Ok(())
    }

    /// One limb at a time on the worker threads, as [`Self::elementwise_new`].
    fn scalar_new(&self, op: ScalarOp, src: &[&DevicePoly], per_limb: &[u32]) -> Result<Vec<DevicePoly>> {
        validate::scalar(src.iter().map(|s| s.basis), per_limb)?;
        self.limbwise_new("scalar", src, |_, k, g, out, a| {
            out.copy_from_slice(a);
            scalar_assign(op, self.modulus(g), out, per_limb[k]);
        })
    }

    fn add_scaled(&self, dst: &mut [&mut DevicePoly], src: &[&DevicePoly], per_q_prime: &[u32]) -> Result<()> {
        validate::add_scaled(dst, src, per_q_prime)?;
        let n = self.n();
        let mut items = Vec::new();
        for (d, s) in dst.iter_mut().zip(src) {
            let limbs = host_mut("add_scaled", d)?.chunks_exact_mut(n).zip(host("add_scaled", s)?.chunks_exact(n));
            items.extend(limbs.enumerate().map(|(k, (d, s))| (k, d, s, per_q_prime[k])));
        }
        self.run_each(items, |(k, d, s, c)| {
            let m = self.modulus(k);
            limb_ops::add_mul_scalar_assign(m, d, s, m.reduce_u64(c.into()));
        });
        Ok(())
    }

    fn tensor(&self, pairs: &[TensorPair]) -> Result<Vec<[DevicePoly; 3]>> {
        let n = self.n();
        let bases = pairs.iter().map(validate::tensor).collect::<Result<Vec<_>>>()?;
        let words = pairs
            .iter()
            .map(|[[a0, a1], [b0, b1]]| {
                Ok([host("tensor", a0)?, host("tensor", a1)?, host("tensor", b0)?, host("tensor", b1)?])
            })
            .collect::<Result<Vec<_>>>()?;
        let mut outs: Vec<[Vec<u32>; 3]> = bases.iter().map(|b| [(); 3].map(|()| self.output(b.limbs() * n))).collect();
        // Every limb of every pair is one work item.
        let items: Vec<_> = outs
            .iter_mut()
            .zip(bases.iter().zip(&words))
            .flat_map(|([d0, d1, d2], (basis, words))| {
                let limbs = d0.chunks_exact_mut(n).zip(d1.chunks_exact_mut(n).zip(d2.chunks_exact_mut(n)));
                limbs.enumerate().map(move |(k, (o0, (o1, o2)))| (k, basis, words, [o0, o1, o2]))
            })
            .collect();
        self.run_each(items, |(k, basis, words, out)| {
            let m = self.modulus(basis.global(k, &self.ring));
            let [a0, a1, b0, b1] = words.map(|w| limb(w, k, n));
            limb_ops::tensor(m, [a0, a1], [b0, b1], out);
        });
        Ok(outs.into_iter().zip(bases).map(|(d, basis)| d.map(|d| self.new_poly(basis, d))).collect())
    }

    fn automorphism(&self, src: &[(&DevicePoly, u64)]) -> Result<Vec<DevicePoly>> {
        src.iter().try_for_each(|&(_, g)| validate::galois(g, self.n()))?;
        let n = self.n();
        let mut out: Vec<Vec<u32>> = src.iter().map(|(p, _)| self.output(p.basis.limbs() * n)).collect();
        let inputs = src
            .iter()
            .map(|&(p, g)| Ok((host("automorphism", p)?, self.permutation(g))))
            .collect::<Result<Vec<_>>>()?;
        let items: Vec<_> = out
            .iter_mut()
            .zip(&inputs)
            .flat_map(|(o, (i, perm))| o.chunks_exact_mut(n).zip(i.chunks_exact(n)).map(move |(o, i)| (o, i, perm)))
            .collect();
        self.run_each(items, |(o, i, perm)| limb_ops::permute(i, perm, o));
        Ok(out.into_iter().zip(src).map(|(o, (p, _))| self.new_poly(p.basis, o)).collect())
    }

    fn mod_up(&self, src: &[&DevicePoly], alpha: usize, p: usize) -> Result<Vec<Vec<DevicePoly>>> {
        src.iter().try_for_each(|s| validate::mod_up(s.basis, alpha, p, &self.ring))?;
        // One source at a time: its digits already give every thread work.
        src.iter().map(|s| self.mod_up_one(s, alpha, p)).collect()
    }

    fn key_switch_inner(&self, jobs: &[KeySwitchJob]) -> Result<Vec<[DevicePoly; 2]>> {
        let bases = jobs.iter().map(validate::key_switch_inner).collect::<Result<Vec<_>>>()?;
        let n = self.n();
        let op = "key_switch_inner";
        let words_of = jobs
            .iter()
            .map(|job| {
                let digits = job.digits.iter().map(|d| host(op, d)).collect::<Result<Vec<_>>>()?;
                let keys = job.key[..job.digits.len()]
                    .iter()
                    .map(|[b, a]| Ok([(*b, host(op, b)?), (*a, host(op, a)?)]))
                    .collect::<Result<Vec<_>>>()?;
                Ok((digits, keys))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut outs: Vec<[Vec<u32>; 2]> = bases.iter().map(|b| [(); 2].map(|()| self.output(b.limbs() * n))).collect();
        // One work item per (limb, tile) holding that tile of every job:
        // jobs often share inputs (a hoisted rotation's digits, a key, the
        // broadcast's shifted ciphertexts), which are then read from memory
        // once per tile instead of once per job.
        let tiles = n.div_ceil(INNER_PRODUCT_TILE);
        let max_limbs = bases.iter().map(|b| b.limbs()).max().unwrap_or(0);
        let mut items: Vec<(usize, usize, Vec<_>)> =
            (0..max_limbs * tiles).map(|i| (i / tiles, i % tiles, Vec::new())).collect();
        for (job, [ob, oa]) in outs.iter_mut().enumerate() {
            for (k, (ob, oa)) in ob.chunks_exact_mut(n).zip(oa.chunks_exact_mut(n)).enumerate() {
                let parts = ob.chunks_mut(INNER_PRODUCT_TILE).zip(oa.chunks_mut(INNER_PRODUCT_TILE));
                for (t, (ob, oa)) in parts.enumerate() {
                    items[k * tiles + t].2.push((job, ob, oa));
                }
            }
        }
        self.run_each(items, |(k, t, parts)| {
            let words = t * INNER_PRODUCT_TILE..(t * INNER_PRODUCT_TILE + INNER_PRODUCT_TILE).min(n);
            for (job, ob, oa) in parts {
                let (basis, (digits, keys)) = (&bases[job], &words_of[job]);
                let m = self.modulus(basis.global(k, &self.ring));
                // Key limb of local limb k: the key may hold more Q limbs.
                let key_limb = |kj: &DevicePoly| if k < basis.q { k } else { kj.basis.q + k - basis.q };
                let d: Vec<&[u32]> = digits.iter().map(|d| &limb(d, k, n)[words.clone()]).collect();
                let [kb, ka] = [0, 1].map(|i| {
                    keys.iter().map(|kj| &limb(kj[i].1, key_limb(kj[i].0), n)[words.clone()]).collect::<Vec<_>>()
                });
                limb_ops::mul_sum(m, &d, &kb, ob);
                limb_ops::mul_sum(m, &d, &ka, oa);
            }
        });
        Ok(outs.into_iter().zip(bases).map(|(o, basis)| o.map(|o| self.new_poly(basis, o))).collect())
    }

    fn mod_down(&self, polys: &mut [&mut DevicePoly], drop: usize) -> Result<()> {
        polys.iter().try_for_each(|poly| validate::mod_down(poly.basis, drop))?;
        let n = self.n();
        // The divisor's limbs (Q[q−drop..q], then P) in the coefficient
        // domain (prime by prime across the polynomials, as every transform
        // below: each prime's twiddles are read once).
        let sources: Vec<Vec<usize>> =
            polys.iter().map(|poly| self.ring.down_sources(poly.basis.q, drop, poly.basis.p)).collect();
        let mut coefs: Vec<Scratch> = polys
            .iter()
            .map(|poly| {
                let mut coef = self.take_scratch((drop + poly.basis.p) * n);
                coef.copy_from_slice(&host("mod_down", poly)?[(poly.basis.q - drop) * n..]);
                Ok(coef)
            })
            .collect::<Result<_>>()?;
        let mut items: Vec<(usize, &mut [u32])> = coefs
            .iter_mut()
            .zip(&sources)
            .flat_map(|(coef, s)| s.iter().copied().zip(coef.chunks_exact_mut(n)))
            .collect();
        items.sort_by_key(|&(g, _)| g);
        self.for_each_limb(items, |g, limb| self.tables[g].inverse(limb));
        // ... converted exactly to the remaining Q primes, into the result's
        // own buffer (of the Q limbs only: the extended input, larger by
        // the P limbs, goes back to the pool for the next key switch
        // instead of staying held by a result that uses two thirds of it) ...
        let mut outs: Vec<Vec<u32>> = polys
            .iter()
            .zip(&coefs)
            .zip(&sources)
            .map(|((poly, coef), sources)| {
                let q = poly.basis.q - drop;
                let mut out = self.output(q * n);
                let key = (sources.clone(), (0..q).collect());
                self.convert(&coef.chunks_exact(n).collect::<Vec<_>>(), out.chunks_exact_mut(n).collect(), key, true);
                out
            })
            .collect();
        // ... then out = (limb - NTT(conv))·w = (NTT(conv) - limb)·(q_i - w)
        // mod q_i, w the divisor's inverse.
        let mut items: Vec<(usize, DivideItem)> = Vec::new();
        for (poly, out) in polys.iter().zip(outs.iter_mut()) {
            let Basis { q, p } = poly.basis;
            let factors = self.ring.down_factors(q, drop, p);
            let limbs = host("mod_down", poly)?[..(q - drop) * n].chunks_exact(n).zip(out.chunks_exact_mut(n));
            items.extend(limbs.zip(factors).enumerate().map(|(i, ((limb, conv), w))| (i, (limb, conv, w))));
        }
        items.sort_by_key(|&(i, _)| i);
        self.run_each(items, |(i, (limb, conv, w))| {
            let m = self.modulus(i);
            self.tables[i].forward(conv);
            limb_ops::sub_mul_scalar_assign(m, conv, limb, m.value() - w);
        });
        for buf in coefs {
            self.give_scratch(buf);
        }
        for (poly, out) in polys.iter_mut().zip(outs) {
            self.outputs.give(std::mem::replace(host_mut("mod_down", poly)?, out));
            poly.basis = Basis::q(poly.basis.q - drop);
        }
        Ok(())
    }

    fn rescale(&self, polys: &mut [&mut DevicePoly], drop: usize) -> Result<()> {
        polys.iter().try_for_each(|poly| validate::rescale(poly.basis, drop))?;
        let n = self.n();
        for _ in 0..drop {
            // The dropped limbs in the coefficient domain.
            let tops: Vec<(usize, Scratch)> = polys
                .iter()
                .map(|poly| {
                    let last = poly.basis.q - 1;
                    let mut top = self.take_scratch(n);
                    top.copy_from_slice(&host("rescale", poly)?[last * n..]);
                    self.tables[last].inverse(&mut top);
                    Ok((last, top))
                })
                .collect::<Result<_>>()?;
            // limb = (limb - NTT(centered top mod q_i))·q_last^-1 mod q_i,
            // prime by prime across the polynomials (twiddles read once).
            let mut items: Vec<(usize, RescaleItem)> = Vec::new();
            for (poly, (last, top)) in polys.iter_mut().zip(&tops) {
                let limbs = host_mut("rescale", poly)?[..last * n].chunks_exact_mut(n);
                items.extend(limbs.enumerate().map(|(i, limb)| (i, (limb, &top[..], *last))));
            }
            items.sort_by_key(|&(i, _)| i);
            self.run_each(items, |(i, (limb, top, last))| {
                let m = self.modulus(i);
                let mut r = self.take_scratch(n);
                limb_ops::center_lift(m, self.modulus(last).value(), top, &mut r);
                self.tables[i].forward(&mut r);
                limb_ops::sub_mul_scalar_assign(m, limb, &r, self.q_last_inv[last][i]);
                self.give_scratch(r);
            });
            for (_, top) in tops {
                self.give_scratch(top);
            }
            for poly in polys.iter_mut() {
                let last = poly.basis.q - 1;
                host_mut("rescale", poly)?.truncate(last * n);
                poly.basis = Basis::q(last);
            }
        }
        Ok(())
    }

    fn synchronize(&self) -> Result<()> {
        // Every call has finished when it returns.
        Ok(())
    }

    fn batch_budget_bytes(&self) -> usize {
        // About what the worker threads' caches hold: beyond it, batching
        // more ciphertexts into one call only spills them.
        CACHE_BUDGET_PER_THREAD * self.pool.as_ref().map_or(1, rayon::ThreadPool::current_num_threads)
    }
}
