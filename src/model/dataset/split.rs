//! The train/test split: stratified (each class keeps its share in both
//! parts) and reproducible (a ChaCha20 shuffle from a fixed seed), so the
//! encrypted run and its plaintext twin see the same patients.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use super::{Dataset, NEGATIVE_CLASS, POSITIVE_CLASS, Result};
use crate::model::DatasetError;

/// Seed of the split that hetl's reports use.
pub const SPLIT_SEED: u64 = 42;
/// Share of each class held out for testing in hetl's reports (80/20).
pub const TEST_FRACTION: f64 = 0.2;

/// A data set cut into disjoint train and test parts (rows keep file order).
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Rows to fit models on (and the standardisation statistics).
    pub train: Dataset,
    /// Held-out rows.
    pub test: Dataset,
}

impl Dataset {
    /// Stratified split: within each class the rows are shuffled by ChaCha20
    /// seeded with `seed`, and round(`test_fraction` × class size) of them go
    /// to the test part. The same data, fraction and seed always give the
    /// same split. Errors if the fraction is not in (0, 1) or a class would
    /// leave one part empty.
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<Split> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(DatasetError::InvalidFraction { fraction: test_fraction });
        }
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (label, class) in [(0.0, NEGATIVE_CLASS), (1.0, POSITIVE_CLASS)] {
            let mut rows: Vec<usize> = (0..self.len()).filter(|&i| self.labels[i] == label).collect();
            let held_out = (rows.len() as f64 * test_fraction).round() as usize;
            if held_out == 0 || held_out == rows.len() {
                return Err(DatasetError::ClassTooSmall { class, count: rows.len(), fraction: test_fraction });
            }
            shuffle(&mut rows, &mut rng);
            test.extend_from_slice(&rows[..held_out]);
            train.extend_from_slice(&rows[held_out..]);
        }
        train.sort_unstable();
        test.sort_unstable();
        Ok(Split { train: self.select(&train), test: self.select(&test) })
    }
}

/// Fisher–Yates shuffle. An index below n is the high word of a 64×64-bit
/// product (bias below n / 2^64, negligible for data-set sizes).
fn shuffle(rows: &mut [usize], rng: &mut ChaCha20Rng) {
    for i in (1..rows.len()).rev() {
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        rows.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::bundled;
    use super::*;

    #[test]
    fn split_is_stratified_disjoint_and_complete() {
        let data = bundled();
        let split = data.split(TEST_FRACTION, SPLIT_SEED).unwrap();
        // Held out: round(0.2 × 212) = 42 malignant, round(0.2 × 357) = 71 benign.
        assert_eq!((split.train.len(), split.test.len()), (456, 113));
        assert_eq!((split.train.labels().sum(), split.test.labels().sum()), (170.0, 42.0));
        let mut parts = [rows(&split.train), rows(&split.test)].concat();
        let mut all = rows(&data);
        parts.sort();
        all.sort();
        assert_eq!(parts, all, "train and test together are exactly the data set");
    }

    #[test]
    fn split_is_deterministic_per_seed() {
        let data = bundled();
        let a = data.split(TEST_FRACTION, SPLIT_SEED).unwrap();
        assert_eq!(a, data.split(TEST_FRACTION, SPLIT_SEED).unwrap());
        assert_ne!(a.test, data.split(TEST_FRACTION, SPLIT_SEED + 1).unwrap().test);
        // Pinned: a change of RNG or algorithm would silently change every report.
        let first = a.test.features().column(0).iter().take(3).copied().collect::<Vec<_>>();
        assert_eq!(first, PINNED_FIRST_TEST_RADII);
    }

    #[test]
    fn bad_fractions_are_errors() {
        let data = bundled();
        for fraction in [0.0, 1.0, -0.1, f64::NAN] {
            let err = data.split(fraction, 1).unwrap_err().to_string();
            assert!(err.contains("is outside (0, 1)"), "{err}");
        }
        let err = data.split(0.001, 1).unwrap_err().to_string();
        assert!(err.starts_with("class benign has 357 rows, too few"), "{err}");
    }

    const PINNED_FIRST_TEST_RADII: [f64; 3] = [20.57, 19.69, 18.25];

    /// Every row with its label, as comparable bits.
    fn rows(data: &Dataset) -> Vec<Vec<u64>> {
        let labels = data.labels();
        let features = data.features();
        features
            .rows()
            .into_iter()
            .zip(labels)
            .map(|(r, l)| r.iter().chain([l]).map(|v| v.to_bits()).collect())
            .collect()
    }
}
