//! Constant tables on the device: per-prime constants and NTT twiddles
//! (uploaded once at backend creation) and basis-conversion tables (built on
//! first use per source set, then cached).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use wgpu::util::DeviceExt;

use super::context::{CST_STRIDE, Context};
use crate::backend::{BackendError, Result};
use crate::math::{Modulus, NttTable, RnsRing};

/// Device-resident constants of one ring.
pub(super) struct Tables {
    /// `CST_STRIDE` words per global prime, see `modarith.wgsl`.
    pub(super) cst: wgpu::Buffer,
    /// 4N twiddle words per global prime, see `ntt.wgsl`.
    pub(super) tw: wgpu::Buffer,
    conversions: Mutex<HashMap<Vec<usize>, Arc<wgpu::Buffer>>>,
}

/// The per-prime record of `cst` (layout in `modarith.wgsl`).
fn prime_record(m: &Modulus, table: &NttTable) -> [u32; CST_STRIDE] {
    let q = m.value();
    let k = u32::BITS - q.leading_zeros();
    let mu = ((1u64 << (2 * k)) / u64::from(q)) as u32;
    let (n_inv, n_inv_shoup) = table.n_inv();
    // Exactly the CPU's 1.0 / f64(q) (BasisConverter::convert_centered): a
    // normal number, mantissa with its hidden bit times 2^(exponent − 1075).
    let bits = (1.0 / f64::from(q)).to_bits();
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let exponent = ((bits >> 52) & 0x7FF) as i32 - 1075;
    [q, k, mu, n_inv, n_inv_shoup, mantissa as u32, (mantissa >> 32) as u32, exponent as u32]
}

impl Tables {
    /// Builds and uploads the per-prime constants and twiddles of `ring`.
    pub(super) fn new(ctx: &Context, ring: &RnsRing) -> Result<Self> {
        let n = ring.n();
        let primes = ring.q.len() + ring.p.len();
        let tw_bytes = (primes * 4 * n * 4) as u64;
        let max = ctx.max_buffer_bytes();
        if tw_bytes > max {
            return Err(BackendError::DriverUnavailable {
                backend: "wgpu",
                reason: format!("the ring's twiddles need {tw_bytes} bytes in one buffer, the adapter allows {max}"),
            });
        }
        let mut cst = Vec::with_capacity(primes * CST_STRIDE);
        let mut tw = Vec::with_capacity(primes * 4 * n);
        for m in ring.all() {
            let table = NttTable::new(*m, ring.log_n);
            cst.extend(prime_record(m, &table));
            let [fwd, fwd_shoup, inv, inv_shoup] = table.twiddles();
            for (w, s) in fwd.iter().zip(fwd_shoup) {
                tw.extend([*w, *s]);
            }
            for (w, s) in inv.iter().zip(inv_shoup) {
                tw.extend([*w, *s]);
            }
        }
        Ok(Self {
            cst: upload(ctx, "hetl prime constants", &cst),
            tw: upload(ctx, "hetl twiddles", &tw),
            conversions: Mutex::default(),
        })
    }

    /// The conversion table from the global primes `sources` to every
    /// global prime (layout in `basis_ext.wgsl`); built on first use.
    pub(super) fn conversion(&self, ctx: &Context, ring: &RnsRing, sources: &[usize]) -> Arc<wgpu::Buffer> {
        let mut cache = self.conversions.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = cache.get(sources) {
            return Arc::clone(t);
        }
        let src: Vec<Modulus> = sources.iter().map(|&g| *ring.modulus(g)).collect();
        // Π_{k ≠ skip} p_k mod m (the product of all sources when skip is None).
        let product = |m: &Modulus, skip: Option<usize>| {
            src.iter()
                .enumerate()
                .filter(|&(k, _)| Some(k) != skip)
                .fold(1, |acc, (_, p)| m.mul(acc, p.value() % m.value()))
        };
        let mut words = Vec::with_capacity(2 * src.len() + ring.all().count() * 2 * (src.len() + 1));
        for (i, p) in src.iter().enumerate() {
            let w = p.inv(product(p, Some(i)));
            words.extend([w, p.shoup(w)]);
        }
        for m in ring.all() {
            for i in (0..src.len()).map(Some).chain([None]) {
                let w = product(m, i);
                words.extend([w, m.shoup(w)]);
            }
        }
        let table = Arc::new(upload(ctx, "hetl basis conversion", &words));
        cache.insert(sources.to_vec(), Arc::clone(&table));
        table
    }
}

fn upload(ctx: &Context, label: &str, words: &[u32]) -> wgpu::Buffer {
    ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(words),
        usage: wgpu::BufferUsages::STORAGE,
    })
}
