//! The Wisconsin diagnostic breast-cancer data set (WDBC: 569 fine-needle
//! aspirates of breast masses, 30 features of the imaged cell nuclei,
//! diagnosis benign or malignant) as bundled in `data/breast_cancer.csv`:
//! strict CSV loading, a seeded stratified train/test split, standardisation
//! with the train split's statistics, and the clinical note that the MiniLM
//! ("LLM-based") path embeds.

mod csv;
mod note;
mod split;
mod standardize;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

pub use split::{SPLIT_SEED, Split, TEST_FRACTION};
pub use standardize::Standardizer;

use crate::model::DatasetError;

type Result<T> = std::result::Result<T, DatasetError>;

/// The 30 feature columns, in scikit-learn's order and spelling: mean,
/// standard error and worst (mean of the three largest) of ten nuclear
/// measurements.
pub const FEATURES: [&str; 30] = [
    "mean radius",
    "mean texture",
    "mean perimeter",
    "mean area",
    "mean smoothness",
    "mean compactness",
    "mean concavity",
    "mean concave points",
    "mean symmetry",
    "mean fractal dimension",
    "radius error",
    "texture error",
    "perimeter error",
    "area error",
    "smoothness error",
    "compactness error",
    "concavity error",
    "concave points error",
    "symmetry error",
    "fractal dimension error",
    "worst radius",
    "worst texture",
    "worst perimeter",
    "worst area",
    "worst smoothness",
    "worst compactness",
    "worst concavity",
    "worst concave points",
    "worst symmetry",
    "worst fractal dimension",
];

/// The label column.
pub const LABEL_COLUMN: &str = "diagnosis";
/// Label text of the positive class (label 1.0).
pub const POSITIVE_CLASS: &str = "malignant";
/// Label text of the negative class (label 0.0).
pub const NEGATIVE_CLASS: &str = "benign";

/// Patients' raw (unstandardised) measurements and diagnoses.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    features: Array2<f64>,
    labels: Array1<f64>,
}

impl Dataset {
    /// Number of patients (rows).
    #[must_use]
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows (a loaded data set always has some).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Raw measurements, `[rows, 30]`, columns in [`FEATURES`] order.
    #[must_use]
    pub fn features(&self) -> ArrayView2<'_, f64> {
        self.features.view()
    }

    /// Diagnoses: 1.0 = malignant (the positive class), 0.0 = benign.
    #[must_use]
    pub fn labels(&self) -> ArrayView1<'_, f64> {
        self.labels.view()
    }

    /// The given rows, in that order.
    fn select(&self, rows: &[usize]) -> Self {
        Self { features: self.features.select(Axis(0), rows), labels: self.labels.select(Axis(0), rows) }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The bundled CSV.
    pub(super) fn bundled() -> Dataset {
        Dataset::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/breast_cancer.csv")).unwrap()
    }

    #[test]
    fn bundled_data_is_wdbc() {
        let data = bundled();
        assert_eq!(data.features().dim(), (569, 30));
        assert_eq!(data.labels().sum(), 212.0, "212 malignant rows");
        assert_eq!(data.features()[[0, 0]], 17.99);
        assert_eq!(data.features()[[0, 29]], 0.1189);
        assert_eq!(data.labels()[0], 1.0);
        assert_eq!(data.labels()[19], 0.0);
    }
}
