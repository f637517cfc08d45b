//! [`ValueCache`]: encoded plaintexts found by the exact values they
//! encode, within a byte budget. Setup 1's attention multiplies by about ten
//! thousand masks per layer that are only about a hundred distinct slot
//! vectors; with this cache each is encoded once.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use num_complex::Complex64;

use super::budgeted::Budgeted;
use super::{Context, Plaintext, Result};

/// What a lookup hashes: the level, the scale's bits and a hash of the
/// values' bits, computed from the caller's slice (no copy per lookup).
/// Entries keep the values themselves and are compared bit for bit, so a
/// hash collision is a miss, never another value's plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ValueKey {
    level: usize,
    scale_bits: u64,
    hash: u64,
}

impl ValueKey {
    fn new(values: &[f64], level: usize, scale: f64) -> Self {
        let mut hasher = DefaultHasher::new();
        values.iter().for_each(|v| v.to_bits().hash(&mut hasher));
        Self { level, scale_bits: scale.to_bits(), hash: hasher.finish() }
    }
}

/// A kept encoding and the values it encodes.
struct Encoded {
    values: Box<[f64]>,
    plaintext: Arc<Plaintext>,
}

/// Whether two slot vectors are the same bits (equal bits encode equal words).
fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Plaintexts by the values they encode, at most `budget` bytes of them and
/// their keys (the plaintexts in device memory on a GPU backend). Entries
/// stay until the cache is dropped (with its context); once the budget is
/// spent, new values are encoded and not kept.
pub struct ValueCache {
    entries: Budgeted<ValueKey, Arc<Encoded>>,
    /// Values asked for.
    values: AtomicU64,
    /// Of those, encoded (the first of each distinct value not cached).
    encoded: AtomicU64,
}

impl ValueCache {
    /// An empty cache of at most `budget` bytes (0: caches nothing).
    #[must_use]
    pub fn new(budget: usize) -> Self {
        Self { entries: Budgeted::new(budget), values: AtomicU64::new(0), encoded: AtomicU64::new(0) }
    }

    /// Real `values` encoded with `ctx` at `level` and `scale`, one
    /// plaintext per slice: the cached plaintext of values met before, the
    /// others encoded in one batch (each distinct one once) and kept while
    /// the budget lasts.
    pub fn encode_real_many(
        &self,
        ctx: &Context,
        values: &[&[f64]],
        level: usize,
        scale: f64,
    ) -> Result<Vec<Arc<Plaintext>>> {
        // Where each plaintext comes from: the cache, or the j-th distinct
        // value encoded below.
        enum Source {
            Cached(Arc<Plaintext>),
            Encoded(usize),
        }
        // Each distinct missing value: its key and its first index in `values`.
        let mut missing: Vec<(ValueKey, usize)> = Vec::new();
        let mut first_missing: HashMap<ValueKey, usize> = HashMap::new();
        // The first index of each slice: a slice passed again (a mask shared
        // by many terms) takes its source without being hashed again.
        let mut by_address: HashMap<(*const f64, usize), usize> = HashMap::new();
        let mut sources: Vec<Source> = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            if let Some(&first) = by_address.get(&(v.as_ptr(), v.len())) {
                let again = match &sources[first] {
                    Source::Cached(pt) => Source::Cached(Arc::clone(pt)),
                    &Source::Encoded(j) => Source::Encoded(j),
                };
                sources.push(again);
                continue;
            }
            by_address.insert((v.as_ptr(), v.len()), i);
            let key = ValueKey::new(v, level, scale);
            if let Some(kept) = self.entries.get(&key).filter(|e| same_bits(&e.values, v)) {
                sources.push(Source::Cached(Arc::clone(&kept.plaintext)));
                continue;
            }
            let source = match first_missing.get(&key) {
                Some(&j) if same_bits(values[missing[j].1], v) => Source::Encoded(j),
                _ => {
                    first_missing.entry(key).or_insert(missing.len());
                    missing.push((key, i));
                    Source::Encoded(missing.len() - 1)
                }
            };
            sources.push(source);
        }
        self.values.fetch_add(values.len() as u64, Ordering::Relaxed);
        self.encoded.fetch_add(missing.len() as u64, Ordering::Relaxed);
        let slots: Vec<Vec<Complex64>> =
            missing.iter().map(|&(_, i)| values[i].iter().map(|&v| Complex64::new(v, 0.0)).collect()).collect();
        let encoded: Vec<Arc<Plaintext>> = ctx
            .encode_many(&slots.iter().map(Vec::as_slice).collect::<Vec<_>>(), level, scale)?
            .into_iter()
            .map(Arc::new)
            .collect();
        for (&(key, i), pt) in missing.iter().zip(&encoded) {
            let bytes = values[i].len() * 8 + pt.poly.basis().limbs() * ctx.params().n() * 4;
            self.entries.keep(key, Arc::new(Encoded { values: values[i].into(), plaintext: Arc::clone(pt) }), bytes);
        }
        Ok(sources
            .into_iter()
            .map(|s| match s {
                Source::Cached(pt) => pt,
                Source::Encoded(j) => Arc::clone(&encoded[j]),
            })
            .collect())
    }

    /// Bytes held (plaintexts and keys).
    #[must_use]
    pub fn used_bytes(&self) -> usize {
        self.entries.used()
    }

    /// Distinct values held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values asked for so far, and how many of them were encoded (the
    /// others came from the cache or from an equal value of their batch).
    #[must_use]
    pub fn values_and_encodings(&self) -> (u64, u64) {
        (self.values.load(Ordering::Relaxed), self.encoded.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ckks::preset;

    fn context() -> Context {
        Context::cpu(Arc::new(preset("toy-n1024").expect("preset")), 1).expect("context")
    }

    fn words(ctx: &Context, pt: &Plaintext) -> Vec<u32> {
        ctx.run(crate::sched::OpKind::Download, |b| b.download(&pt.poly)).expect("download")
    }

    #[test]
    fn equal_values_share_one_encoding_with_the_words_of_a_fresh_one() {
        let ctx = context();
        let (level, scale) = (ctx.params().max_level(), 2f64.powi(20));
        let (a, b) = (vec![0.5, -1.0, 0.25], vec![0.5, -1.0, 0.5]);
        let cache = ValueCache::new(1 << 30);
        let first = cache.encode_real_many(&ctx, &[&a, &b, &a], level, scale).unwrap();
        assert!(Arc::ptr_eq(&first[0], &first[2]), "a repeat in the batch is encoded once");
        assert!(!Arc::ptr_eq(&first[0], &first[1]));
        assert_eq!(cache.values_and_encodings(), (3, 2));
        assert_eq!(cache.len(), 2);
        let again = cache.encode_real_many(&ctx, &[&b], level, scale).unwrap();
        assert!(Arc::ptr_eq(&again[0], &first[1]), "a later call finds it");
        assert_eq!(cache.values_and_encodings(), (4, 2));
        let fresh = ctx.encode(&[0.5, -1.0, 0.5].map(|v| Complex64::new(v, 0.0)), level, scale).unwrap();
        assert_eq!(words(&ctx, &again[0]), words(&ctx, &fresh));
        // Another level or scale is another plaintext.
        let lower = cache.encode_real_many(&ctx, &[&b], level - 1, scale).unwrap();
        let rescaled = cache.encode_real_many(&ctx, &[&b], level, scale * 2.0).unwrap();
        assert_eq!(lower[0].level, level - 1);
        assert_eq!(rescaled[0].scale, scale * 2.0);
        assert_eq!(cache.values_and_encodings(), (6, 4));
    }

    #[test]
    fn values_beyond_the_budget_are_encoded_and_not_kept() {
        let ctx = context();
        let level = ctx.params().max_level();
        let one = ctx.params().q_limbs(level) * ctx.params().n() * 4 + 8;
        let cache = ValueCache::new(one);
        let (a, b) = ([1.0], [2.0]);
        cache.encode_real_many(&ctx, &[&a, &b], level, 1024.0).unwrap();
        assert_eq!((cache.len(), cache.used_bytes()), (1, one));
        cache.encode_real_many(&ctx, &[&b], level, 1024.0).unwrap();
        assert_eq!(cache.values_and_encodings(), (3, 3), "b was not kept");
        let none = ValueCache::new(0);
        none.encode_real_many(&ctx, &[&a, &a], level, 1024.0).unwrap();
        assert_eq!((none.len(), none.values_and_encodings()), (0, (2, 1)));
    }

    #[test]
    fn an_entry_under_the_key_of_other_values_is_a_miss() {
        let ctx = context();
        let (level, scale) = (ctx.params().max_level(), 1024.0);
        let (a, b) = ([0.5, 0.25], [0.5, -0.25]);
        let cache = ValueCache::new(1 << 30);
        let of_a = cache.encode_real_many(&ctx, &[&a], level, scale).unwrap().remove(0);
        // A hash collision, staged: a's encoding kept under b's key.
        let collision = Encoded { values: a.into(), plaintext: Arc::clone(&of_a) };
        cache.entries.keep(ValueKey::new(&b, level, scale), Arc::new(collision), 0);
        let of_b = cache.encode_real_many(&ctx, &[&b, &b], level, scale).unwrap();
        assert!(!Arc::ptr_eq(&of_b[0], &of_a), "b must not get a's plaintext");
        assert!(Arc::ptr_eq(&of_b[0], &of_b[1]), "b's repeat still shares its encoding");
        assert_eq!(cache.values_and_encodings(), (3, 2));
        assert!(!same_bits(&[0.0], &[-0.0]) && same_bits(&[1.5], &[1.5]) && !same_bits(&[1.0], &[1.0, 2.0]));
    }

    #[test]
    fn encoding_errors_pass_through_and_keep_nothing() {
        let ctx = context();
        let cache = ValueCache::new(1 << 30);
        let too_high = ctx.params().max_level() + 1;
        assert!(cache.encode_real_many(&ctx, &[&[1.0]], too_high, 1024.0).is_err());
        assert_eq!((cache.len(), cache.used_bytes()), (0, 0));
    }
}
