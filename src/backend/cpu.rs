//! The CPU backend: the bit-exact reference for every other backend.
//!
//! Single-threaded by default; with `threads > 1` it spreads limbs (of all
//! polynomials in a batch) over a rayon pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::{Backend, BackendError, Basis, DeviceMem, DevicePoly, Elementwise, Result, ScalarOp, digit_ranges};
use crate::math::ntt::bit_reverse;
use crate::math::rns::BasisConverter;
use crate::math::{Modulus, NttTable, RnsRing, limb_ops};

const NAME: &str = "cpu";

/// Digits summed in a `u64` before a reduction (products are < 2^60).
const PRODUCTS_PER_REDUCTION: usize = 15;

type ConverterKey = (Vec<usize>, Vec<usize>);

/// CPU implementation of [`Backend`].
pub struct CpuBackend {
    ring: RnsRing,
    tables: Vec<NttTable>,
    pool: Option<rayon::ThreadPool>,
    permutations: Mutex<HashMap<u64, Arc<Vec<u32>>>>,
    converters: Mutex<HashMap<ConverterKey, Arc<BasisConverter>>>,
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
        Ok(Self { ring, tables, pool, permutations: Mutex::default(), converters: Mutex::default() })
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

    fn limbs_mut<'a>(&self, polys: &'a mut [&mut DevicePoly]) -> Vec<(usize, &'a mut [u32])> {
        let n = self.n();
        let ring = &self.ring;
        polys
            .iter_mut()
            .flat_map(|p| {
                let basis = p.basis;
                host_mut(p).chunks_exact_mut(n).enumerate().map(move |(k, l)| (basis.global(k, ring), l))
            })
            .collect()
    }

    fn new_poly(&self, basis: Basis, data: Vec<u32>) -> DevicePoly {
        debug_assert_eq!(data.len(), basis.limbs() * self.n());
        DevicePoly { mem: DeviceMem::Host(data), basis }
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

    fn check_basis(op: &'static str, lhs: Basis, rhs: Basis) -> Result<()> {
        if lhs == rhs { Ok(()) } else { Err(BackendError::BasisMismatch { op, lhs, rhs }) }
    }

    fn check_galois(&self, galois: u64) -> Result<()> {
        let two_n = 2 * self.n() as u64;
        if galois % 2 == 1 && galois < two_n {
            Ok(())
        } else {
            Err(BackendError::InvalidArgument {
                op: "automorphism",
                reason: format!("Galois element {galois} must be odd and below 2N = {two_n}"),
            })
        }
    }

    /// Converts the coefficient-domain limbs `coef` (global primes `sources`)
    /// to `targets` and returns them in the NTT domain; `centered` selects
    /// the exact conversion of the centered value (ModDown) over the fast
    /// approximate one (ModUp).
    fn extend_ntt(&self, coef: &[u32], sources: Vec<usize>, targets: Vec<usize>, centered: bool) -> Vec<u32> {
        let n = self.n();
        let mut out = vec![0u32; targets.len() * n];
        let converter = self.converter(sources, targets.clone());
        if centered {
            converter.convert_centered(coef, &mut out, &mut Vec::new());
        } else {
            converter.convert(coef, &mut out, &mut Vec::new());
        }
        let items = targets.iter().copied().zip(out.chunks_exact_mut(n)).collect();
        self.for_each_limb(items, |g, limb| self.tables[g].forward(limb));
        out
    }
}

/// Source index for each output position of X → X^g in the NTT domain:
/// out[i] = in[perm[i]], because slot i holds a(ψ^(2·bitrev(i)+1)).
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

fn host(poly: &DevicePoly) -> &[u32] {
    let DeviceMem::Host(v) = &poly.mem;
    v
}

/// Limb `k` of a polynomial of degree `n`.
fn limb(poly: &DevicePoly, k: usize, n: usize) -> &[u32] {
    &host(poly)[k * n..(k + 1) * n]
}

fn host_mut(poly: &mut DevicePoly) -> &mut [u32] {
    let DeviceMem::Host(v) = &mut poly.mem;
    v
}

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn ring(&self) -> &RnsRing {
        &self.ring
    }

    fn upload(&self, basis: Basis, data: &[u32]) -> Result<DevicePoly> {
        if data.len() != basis.limbs() * self.n() || basis.q > self.ring.q.len() || basis.p > self.ring.p.len() {
            return Err(BackendError::InvalidArgument {
                op: "upload",
                reason: format!("{} words do not form basis {basis:?} at N = {}", data.len(), self.n()),
            });
        }
        Ok(self.new_poly(basis, data.to_vec()))
    }

    fn download(&self, poly: &DevicePoly) -> Result<Vec<u32>> {
        Ok(host(poly).to_vec())
    }

    fn zeros(&self, basis: Basis) -> Result<DevicePoly> {
        Ok(self.new_poly(basis, vec![0; basis.limbs() * self.n()]))
    }

    fn copy(&self, poly: &DevicePoly) -> Result<DevicePoly> {
        Ok(self.new_poly(poly.basis, host(poly).to_vec()))
    }

    fn zeroize(&self, poly: &mut DevicePoly) -> Result<()> {
        zeroize::Zeroize::zeroize(host_mut(poly));
        Ok(())
    }

    fn truncate(&self, poly: &mut DevicePoly, q: usize) -> Result<()> {
        if poly.basis.p != 0 || q > poly.basis.q || q == 0 {
            return Err(BackendError::InvalidArgument {
                op: "truncate",
                reason: format!("cannot keep {q} Q limbs of basis {:?}", poly.basis),
            });
        }
        let n = self.n();
        let DeviceMem::Host(v) = &mut poly.mem;
        v.truncate(q * n);
        poly.basis = Basis::q(q);
        Ok(())
    }

    fn ntt_forward(&self, polys: &mut [&mut DevicePoly]) -> Result<()> {
        let items = self.limbs_mut(polys);
        self.for_each_limb(items, |g, limb| self.tables[g].forward(limb));
        Ok(())
    }

    fn ntt_inverse(&self, polys: &mut [&mut DevicePoly]) -> Result<()> {
        let items = self.limbs_mut(polys);
        self.for_each_limb(items, |g, limb| self.tables[g].inverse(limb));
        Ok(())
    }

    fn elementwise(&self, op: Elementwise, dst: &mut [&mut DevicePoly], src: &[&DevicePoly]) -> Result<()> {
        if dst.len() != src.len() {
            return Err(BackendError::InvalidArgument {
                op: "elementwise",
                reason: format!("{} destinations for {} sources", dst.len(), src.len()),
            });
        }
        for (d, s) in dst.iter().zip(src) {
            Self::check_basis("elementwise", d.basis, s.basis)?;
        }
        let n = self.n();
        let items = self.limbs_mut(dst);
        let sources: Vec<&[u32]> = src.iter().flat_map(|s| host(s).chunks_exact(n)).collect();
        self.run_each(items.into_iter().zip(sources).collect(), |((g, limb), s)| {
            let m = self.modulus(g);
            match op {
                Elementwise::Add => kernels::add_assign(m, limb, s),
                Elementwise::Sub => kernels::sub_assign(m, limb, s),
                Elementwise::Mul => kernels::mul_assign(m, limb, s),
            }
        });
        Ok(())
    }

    fn negate(&self, dst: &mut [&mut DevicePoly]) -> Result<()> {
        let items = self.limbs_mut(dst);
        self.for_each_limb(items, |g, limb| limb_ops::neg_inplace(self.modulus(g), limb));
        Ok(())
    }

    fn scalar(&self, op: ScalarOp, dst: &mut [&mut DevicePoly], per_limb: &[u32]) -> Result<()> {
        for d in dst.iter() {
            if per_limb.len() != d.basis.limbs() {
                return Err(BackendError::InvalidArgument {
                    op: "scalar",
                    reason: format!("{} constants for {} limbs", per_limb.len(), d.basis.limbs()),
                });
            }
        }
        let items: Vec<((usize, &mut [u32]), &u32)> =
            self.limbs_mut(dst).into_iter().zip(per_limb.iter().cycle()).collect();
        self.run_each(items, |((g, limb), &c)| {
            let m = self.modulus(g);
            let c = m.reduce_u64(c.into());
            match op {
                ScalarOp::Add => limb_ops::add_scalar_inplace(m, limb, c),
                ScalarOp::Mul => limb_ops::mul_scalar_inplace(m, limb, c),
            }
        });
        Ok(())
    }

    fn tensor(&self, a: [&DevicePoly; 2], b: [&DevicePoly; 2]) -> Result<[DevicePoly; 3]> {
        let basis = a[0].basis;
        for p in [a[1], b[0], b[1]] {
            Self::check_basis("tensor", basis, p.basis)?;
        }
        let n = self.n();
        let [mut d0, mut d1, mut d2] = [(); 3].map(|()| vec![0u32; basis.limbs() * n]);
        let items: Vec<_> =
            d0.chunks_exact_mut(n).zip(d1.chunks_exact_mut(n).zip(d2.chunks_exact_mut(n))).enumerate().collect();
        self.run_each(items, |(k, (o0, (o1, o2)))| {
            let m = self.modulus(basis.global(k, &self.ring));
            let (a0, a1, b0, b1) = (limb(a[0], k, n), limb(a[1], k, n), limb(b[0], k, n), limb(b[1], k, n));
            kernels::tensor(m, [a0, a1], [b0, b1], [o0, o1, o2]);
        });
        Ok([d0, d1, d2].map(|d| self.new_poly(basis, d)))
    }

    fn automorphism(&self, src: &[&DevicePoly], galois: u64) -> Result<Vec<DevicePoly>> {
        self.check_galois(galois)?;
        let perm = self.permutation(galois);
        let n = self.n();
        Ok(src
            .iter()
            .map(|p| {
                let mut out = vec![0u32; p.basis.limbs() * n];
                for (o, i) in out.chunks_exact_mut(n).zip(host(p).chunks_exact(n)) {
                    for (o, &j) in o.iter_mut().zip(perm.iter()) {
                        *o = i[j as usize];
                    }
                }
                self.new_poly(p.basis, out)
            })
            .collect())
    }

    fn mod_up(&self, src: &DevicePoly, alpha: usize, p: usize) -> Result<Vec<DevicePoly>> {
        let q = src.basis.q;
        if src.basis.p != 0 || alpha == 0 || p > self.ring.p.len() {
            return Err(BackendError::InvalidArgument {
                op: "mod_up",
                reason: format!("basis {:?}, alpha {alpha}, p {p}", src.basis),
            });
        }
        let n = self.n();
        let out_basis = Basis { q, p };
        let input = host(src);
        digit_ranges(q, alpha)
            .into_iter()
            .map(|digit| {
                let mut coef = input[digit.start * n..digit.end * n].to_vec();
                let items = digit.clone().zip(coef.chunks_exact_mut(n)).collect();
                self.for_each_limb(items, |g, limb| self.tables[g].inverse(limb));
                let targets: Vec<usize> =
                    (0..q).filter(|k| !digit.contains(k)).chain((0..p).map(|j| self.ring.q.len() + j)).collect();
                let extended = self.extend_ntt(&coef, digit.clone().collect(), targets, false);
                let mut out = Vec::with_capacity(out_basis.limbs() * n);
                out.extend_from_slice(&extended[..digit.start * n]);
                out.extend_from_slice(&input[digit.start * n..digit.end * n]);
                out.extend_from_slice(&extended[digit.start * n..]);
                Ok(self.new_poly(out_basis, out))
            })
            .collect()
    }

    fn key_switch_inner(&self, digits: &[DevicePoly], key: &[[&DevicePoly; 2]]) -> Result<[DevicePoly; 2]> {
        let Some(first) = digits.first() else {
            return Err(BackendError::InvalidArgument { op: "key_switch_inner", reason: "no digits".into() });
        };
        let basis = first.basis;
        if key.len() < digits.len() || digits.iter().any(|d| d.basis != basis) {
            return Err(BackendError::InvalidArgument {
                op: "key_switch_inner",
                reason: format!("{} digits of basis {basis:?} for {} key digits", digits.len(), key.len()),
            });
        }
        for k in key.iter().flatten() {
            if k.basis.q < basis.q || k.basis.p != basis.p {
                return Err(BackendError::BasisMismatch { op: "key_switch_inner", lhs: basis, rhs: k.basis });
            }
        }
        let n = self.n();
        let mut out_b = vec![0u32; basis.limbs() * n];
        let mut out_a = vec![0u32; basis.limbs() * n];
        let items: Vec<_> = out_b.chunks_exact_mut(n).zip(out_a.chunks_exact_mut(n)).enumerate().collect();
        self.run_each(items, |(k, (ob, oa))| {
            let m = self.modulus(basis.global(k, &self.ring));
            let mut acc_b = vec![0u64; n];
            let mut acc_a = vec![0u64; n];
            for (j, (d, kj)) in digits.iter().zip(key).enumerate() {
                let key_limb = if k < basis.q { k } else { kj[0].basis.q + k - basis.q };
                let dl = limb(d, k, n);
                limb_ops::mul_acc_u64(&mut acc_b, dl, limb(kj[0], key_limb, n));
                limb_ops::mul_acc_u64(&mut acc_a, dl, limb(kj[1], key_limb, n));
                if (j + 1) % PRODUCTS_PER_REDUCTION == 0 {
                    for acc in [&mut acc_b, &mut acc_a] {
                        acc.iter_mut().for_each(|x| *x = u64::from(m.reduce_u64(*x)));
                    }
                }
            }
            limb_ops::reduce_u64(m, &acc_b, ob);
            limb_ops::reduce_u64(m, &acc_a, oa);
        });
        Ok([self.new_poly(basis, out_b), self.new_poly(basis, out_a)])
    }

    fn mod_down(&self, polys: &mut [&mut DevicePoly]) -> Result<()> {
        let n = self.n();
        for poly in polys.iter_mut() {
            let Basis { q, p } = poly.basis;
            if p == 0 {
                return Err(BackendError::InvalidArgument { op: "mod_down", reason: "no P limbs".into() });
            }
            let data = host_mut(poly);
            let p_globals: Vec<usize> = (0..p).map(|j| self.ring.q.len() + j).collect();
            let mut coef = data[q * n..].to_vec();
            let items = p_globals.iter().copied().zip(coef.chunks_exact_mut(n)).collect();
            self.for_each_limb(items, |g, limb| self.tables[g].inverse(limb));
            let conv = self.extend_ntt(&coef, p_globals.clone(), (0..q).collect(), true);
            let items = data[..q * n].chunks_exact_mut(n).enumerate().collect();
            self.for_each_limb(items, |i, limb| {
                let m = self.modulus(i);
                let p_mod = p_globals.iter().fold(1, |acc, &g| m.mul(acc, self.modulus(g).value() % m.value()));
                let conv_i = &conv[i * n..(i + 1) * n];
                kernels::sub_mul_scalar_assign(m, limb, conv_i, m.inv(p_mod));
            });
            let DeviceMem::Host(v) = &mut poly.mem;
            v.truncate(q * n);
            poly.basis = Basis::q(q);
        }
        Ok(())
    }

    fn rescale(&self, polys: &mut [&mut DevicePoly], drop: usize) -> Result<()> {
        let n = self.n();
        for poly in polys.iter_mut() {
            if poly.basis.p != 0 || drop >= poly.basis.q {
                return Err(BackendError::InvalidArgument {
                    op: "rescale",
                    reason: format!("cannot drop {drop} limbs of basis {:?}", poly.basis),
                });
            }
            for _ in 0..drop {
                let last = poly.basis.q - 1;
                let data = host_mut(poly);
                let mut top = data[last * n..].to_vec();
                self.tables[last].inverse(&mut top);
                let q_last = *self.modulus(last);
                let half = q_last.value() / 2;
                let items = data[..last * n].chunks_exact_mut(n).enumerate().collect();
                self.for_each_limb(items, |i, limb| {
                    let m = self.modulus(i);
                    let q_last_mod = m.reduce_u64(q_last.value().into());
                    // Centered representative of the dropped limb, reduced mod q_i.
                    let mut r: Vec<u32> = top
                        .iter()
                        .map(|&x| {
                            let x_mod = m.reduce_u64(x.into());
                            if x > half { m.sub(x_mod, q_last_mod) } else { x_mod }
                        })
                        .collect();
                    self.tables[i].forward(&mut r);
                    kernels::sub_mul_scalar_assign(m, limb, &r, m.inv(q_last_mod));
                });
                let DeviceMem::Host(v) = &mut poly.mem;
                v.truncate(last * n);
                poly.basis = Basis::q(last);
            }
        }
        Ok(())
    }
}

/// In-place element-wise kernels (scalar; the SIMD variants live in
/// `math::limb_ops` and are out-of-place). Inputs and outputs in [0, q).
mod kernels {
    use crate::math::Modulus;

    /// a[i] = (a[i] + b[i]) mod q.
    pub fn add_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
        for (x, &y) in a.iter_mut().zip(b) {
            *x = m.add(*x, y);
        }
    }

    /// a[i] = (a[i] - b[i]) mod q.
    pub fn sub_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
        for (x, &y) in a.iter_mut().zip(b) {
            *x = m.sub(*x, y);
        }
    }

    /// a[i] = a[i]·b[i] mod q.
    pub fn mul_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
        for (x, &y) in a.iter_mut().zip(b) {
            *x = m.mul(*x, y);
        }
    }

    /// a[i] = (a[i] - b[i])·w mod q for a constant w < q: the last step of
    /// rescale and ModDown.
    pub fn sub_mul_scalar_assign(m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
        let ws = m.shoup(w);
        for (x, &y) in a.iter_mut().zip(b) {
            *x = m.mul_shoup(*x + m.value() - y, w, ws);
        }
    }

    /// Tensor product of degree-1 ciphertext limbs:
    /// out = (a0·b0, a0·b1 + a1·b0, a1·b1) mod q.
    pub fn tensor(m: &Modulus, a: [&[u32]; 2], b: [&[u32]; 2], out: [&mut [u32]; 3]) {
        let [o0, o1, o2] = out;
        for i in 0..o0.len() {
            let (a0, a1, b0, b1) = (u64::from(a[0][i]), u64::from(a[1][i]), u64::from(b[0][i]), u64::from(b[1][i]));
            o0[i] = m.reduce_u64(a0 * b0);
            o1[i] = m.reduce_u64(a0 * b1 + a1 * b0);
            o2[i] = m.reduce_u64(a1 * b1);
        }
    }
}
