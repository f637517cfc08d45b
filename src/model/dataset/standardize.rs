//! Standardisation to zero mean and unit variance per feature, with
//! statistics from the train split only (so nothing about the test patients
//! leaks into training), applied to both splits.

use ndarray::{Array1, Array2, Axis};

use super::Dataset;

/// Per-feature mean and standard deviation of a fitted data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    mean: Array1<f64>,
    std: Array1<f64>,
}

impl Standardizer {
    /// Fits on `train` (population standard deviation, as scikit-learn's
    /// `StandardScaler`; a constant feature gets std 1 and maps to 0). Use
    /// `Standardizer::fit(&split.train)`, then `transform` both parts.
    #[must_use]
    pub fn fit(train: &Dataset) -> Self {
        let features = train.features();
        let mean = features.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(features.ncols()));
        let std = features.std_axis(Axis(0), 0.0).mapv(|s| if s > 0.0 { s } else { 1.0 });
        Self { mean, std }
    }

    /// The fitted per-feature means.
    #[must_use]
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }

    /// The fitted per-feature standard deviations.
    #[must_use]
    pub fn std(&self) -> &Array1<f64> {
        &self.std
    }

    /// (x − mean) / std for every row of `data`, `[rows, 30]`.
    #[must_use]
    pub fn transform(&self, data: &Dataset) -> Array2<f64> {
        (&data.features() - &self.mean) / &self.std
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::bundled;
    use super::super::{SPLIT_SEED, TEST_FRACTION};
    use super::*;

    #[test]
    fn train_statistics_standardize_both_splits() {
        let split = bundled().split(TEST_FRACTION, SPLIT_SEED).unwrap();
        let scaler = Standardizer::fit(&split.train);
        let train = scaler.transform(&split.train);
        for column in train.columns() {
            assert!(column.mean().unwrap().abs() < 1e-12);
            assert!((column.std(0.0) - 1.0).abs() < 1e-12);
        }
        let test = scaler.transform(&split.test);
        assert_eq!(test.dim(), (113, 30));
        let expected = (split.test.features()[[0, 3]] - scaler.mean()[3]) / scaler.std()[3];
        assert_eq!(test[[0, 3]], expected);
        // The test part's own mean is not exactly 0: its statistics were not used.
        assert!(test.column(3).mean().unwrap().abs() > 1e-6);
    }
}
