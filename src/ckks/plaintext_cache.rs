//! [`PlaintextCache`]: encoded plaintexts kept within a byte budget, so
//! that fixed values encoded again and again (a weight matrix's diagonals,
//! at every forward pass of an encrypted layer) are encoded once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::budgeted::Budgeted;
use super::{Plaintext, Result};

/// What a set of cached plaintexts encodes: an owner's (see
/// [`PlaintextCache::owner_id`]) set `item`, at `level` and the scale whose
/// bits are `scale_bits`. The owner must encode the same values for the
/// same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlaintextKey {
    /// The encoder of the values, e.g. one matrix plan.
    pub owner: u64,
    /// Which of its sets (e.g. a bucket of diagonals).
    pub item: usize,
    /// Level of the encodings.
    pub level: usize,
    /// `f64::to_bits` of their scale.
    pub scale_bits: u64,
}

/// Sets of plaintexts by key, at most `budget` bytes of them (device
/// memory on a GPU backend). Entries stay until the cache is dropped (with
/// its context); a set that does not fit is returned uncached.
pub struct PlaintextCache {
    /// Ring degree (words per limb).
    n: usize,
    entries: Budgeted<PlaintextKey, Arc<Vec<Plaintext>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl PlaintextCache {
    /// An empty cache of at most `budget` bytes (0: caches nothing) of
    /// plaintexts of ring degree `n`.
    #[must_use]
    pub fn new(budget: usize, n: usize) -> Self {
        Self { n, entries: Budgeted::new(budget), hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    /// A fresh owner id for [`PlaintextKey::owner`], unique in the process.
    #[must_use]
    pub fn owner_id() -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    /// The plaintexts of `key`: cached ones, or `encode`'s, kept if they fit
    /// the budget.
    pub fn get_or_encode(
        &self,
        key: PlaintextKey,
        encode: impl FnOnce() -> Result<Vec<Plaintext>>,
    ) -> Result<Arc<Vec<Plaintext>>> {
        if let Some(hit) = self.entries.get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let encoded = Arc::new(encode()?);
        let bytes: usize = encoded.iter().map(|pt| pt.poly.basis().limbs() * self.n * 4).sum();
        self.entries.keep(key, Arc::clone(&encoded), bytes);
        Ok(encoded)
    }

    /// Bytes of the plaintexts held.
    #[must_use]
    pub fn used_bytes(&self) -> usize {
        self.entries.used()
    }

    /// Lookups so far that found their set, and those that encoded it.
    #[must_use]
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }

    /// The byte budget.
    #[must_use]
    pub fn budget(&self) -> usize {
        self.entries.budget()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::Arc;

    use num_complex::Complex64;

    use super::*;
    use crate::ckks::{CkksError, Context, preset};

    fn context() -> Context {
        Context::cpu(Arc::new(preset("toy-n1024").expect("preset")), 1).expect("context")
    }

    /// `count` encodings at the top level, counting the calls in `calls`.
    fn encoder<'a>(ctx: &'a Context, count: usize, calls: &'a Cell<usize>) -> impl FnOnce() -> Result<Vec<Plaintext>> {
        move || {
            calls.set(calls.get() + 1);
            let values = vec![Complex64::new(0.5, 0.0); 4];
            let level = ctx.params().max_level();
            (0..count).map(|_| ctx.encode(&values, level, 1024.0)).collect()
        }
    }

    fn key(item: usize) -> PlaintextKey {
        PlaintextKey { owner: 7, item, level: 2, scale_bits: 1024f64.to_bits() }
    }

    #[test]
    fn a_hit_returns_the_cached_set_without_encoding() {
        let ctx = context();
        let cache = PlaintextCache::new(1 << 20, ctx.params().n());
        let calls = Cell::new(0);
        let first = cache.get_or_encode(key(0), encoder(&ctx, 3, &calls)).unwrap();
        let second = cache.get_or_encode(key(0), encoder(&ctx, 3, &calls)).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(calls.get(), 1);
        assert_eq!(cache.hits_and_misses(), (1, 1));
        let limbs = ctx.params().q_limbs(ctx.params().max_level());
        assert_eq!(cache.used_bytes(), 3 * limbs * ctx.params().n() * 4);
        // Another key is another set.
        let other = cache.get_or_encode(key(1), encoder(&ctx, 1, &calls)).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn sets_beyond_the_budget_are_not_kept() {
        let ctx = context();
        let limbs = ctx.params().q_limbs(ctx.params().max_level());
        let one = limbs * ctx.params().n() * 4;
        // Room for two plaintexts: a set of three is returned uncached.
        let cache = PlaintextCache::new(2 * one, ctx.params().n());
        let calls = Cell::new(0);
        for _ in 0..2 {
            assert_eq!(cache.get_or_encode(key(0), encoder(&ctx, 3, &calls)).unwrap().len(), 3);
        }
        assert_eq!((calls.get(), cache.used_bytes()), (2, 0));
        cache.get_or_encode(key(1), encoder(&ctx, 2, &calls)).unwrap();
        assert_eq!(cache.used_bytes(), 2 * one);
        // Budget 0 keeps nothing.
        let none = PlaintextCache::new(0, ctx.params().n());
        none.get_or_encode(key(0), encoder(&ctx, 1, &calls)).unwrap();
        assert_eq!(none.used_bytes(), 0);
    }

    #[test]
    fn encoding_errors_pass_through_and_cache_nothing() {
        let ctx = context();
        let cache = PlaintextCache::new(1 << 20, ctx.params().n());
        let failing = || Err(CkksError::InvalidInput { op: "test", reason: "no".into() });
        assert!(cache.get_or_encode(key(0), failing).is_err());
        assert_eq!(cache.used_bytes(), 0);
    }
}
