//! [`Budgeted`]: a map whose entries have a size, holding at most a byte
//! budget of them; what both plaintext caches keep their entries in.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

/// Entries by key, at most `budget` bytes of them (their sizes as given to
/// [`Budgeted::keep`]); entries stay until the map is dropped.
pub(super) struct Budgeted<K, V> {
    budget: usize,
    held: Mutex<Held<K, V>>,
}

struct Held<K, V> {
    used: usize,
    entries: HashMap<K, V>,
}

impl<K: Hash + Eq, V: Clone> Budgeted<K, V> {
    /// An empty map of at most `budget` bytes (0: keeps nothing).
    pub(super) fn new(budget: usize) -> Self {
        Self { budget, held: Mutex::new(Held { used: 0, entries: HashMap::new() }) }
    }

    /// A copy of the entry of `key`, if held.
    pub(super) fn get(&self, key: &K) -> Option<V> {
        self.lock().entries.get(key).cloned()
    }

    /// Holds `value` of `bytes` bytes under `key` if no entry has the key
    /// and it fits what is left of the budget.
    pub(super) fn keep(&self, key: K, value: V, bytes: usize) {
        let mut held = self.lock();
        if held.used + bytes <= self.budget && !held.entries.contains_key(&key) {
            held.used += bytes;
            held.entries.insert(key, value);
        }
    }

    /// Bytes held.
    pub(super) fn used(&self) -> usize {
        self.lock().used
    }

    /// Entries held.
    pub(super) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// The byte budget.
    pub(super) fn budget(&self) -> usize {
        self.budget
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held<K, V>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
