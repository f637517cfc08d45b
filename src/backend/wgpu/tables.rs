//! Constant tables on the device: per-prime constants and NTT twiddles
//! (uploaded once at backend creation) and basis-conversion tables (built on
//! first use per source set, then cached).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use wgpu::util::DeviceExt;

use super::context::Context;
use crate::backend::device_tables::{constants_and_twiddles, conversion_words};
use crate::backend::{BackendError, Result};
use crate::math::RnsRing;

/// Device-resident constants of one ring.
pub(super) struct Tables {
    /// `CST_STRIDE` words per global prime, see `modarith.wgsl`.
    pub(super) cst: wgpu::Buffer,
    /// 4N twiddle words per global prime, see `ntt.wgsl`.
    pub(super) tw: wgpu::Buffer,
    conversions: Mutex<HashMap<Vec<usize>, Arc<wgpu::Buffer>>>,
}

impl Tables {
    /// Builds and uploads the per-prime constants and twiddles of `ring`.
    pub(super) fn new(ctx: &Context, ring: &RnsRing) -> Result<Self> {
        let n = ring.n();
        let tw_bytes = (ring.all().count() * 4 * n * 4) as u64;
        let max = ctx.max_buffer_bytes();
        if tw_bytes > max {
            return Err(BackendError::DriverUnavailable {
                backend: "wgpu",
                reason: format!("the ring's twiddles need {tw_bytes} bytes in one buffer, the adapter allows {max}"),
            });
        }
        let (cst, tw) = constants_and_twiddles(ring);
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
        let words = conversion_words(ring, sources);
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
