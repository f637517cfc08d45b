//! A patient's measurements as a short clinical-style English note, the
//! input of the MiniLM ("LLM-based") path.

use super::{Dataset, FEATURES, Result};
use crate::model::DatasetError;

impl Dataset {
    /// The note for `row`, built from the patient's real measurements: the
    /// ten mean features, then the ten worst features, with the values as
    /// stored (shortest round-trip decimal). The standard-error features are
    /// left out so that every note fits MiniLM's 256-token window (at most
    /// 177 tokens on the bundled data; all 30 features would need up to 263).
    /// The diagnosis is never part of the note. For row 0 of the bundled data:
    /// "Fine needle aspirate of a breast mass. Mean radius 17.99, mean texture
    /// 10.38, … mean fractal dimension 0.07871. Worst radius 25.38, … worst
    /// fractal dimension 0.1189."
    pub fn clinical_note(&self, row: usize) -> Result<String> {
        if row >= self.len() {
            return Err(DatasetError::RowOutOfRange { row, len: self.len() });
        }
        let values = self.features.row(row);
        let sentence = |prefix: &str| {
            let parts: Vec<String> = FEATURES
                .iter()
                .zip(values)
                .filter(|(name, _)| name.starts_with(prefix))
                .map(|(name, value)| format!("{name} {value}"))
                .collect();
            capitalize(&parts.join(", ")) + "."
        };
        Ok(format!("Fine needle aspirate of a breast mass. {} {}", sentence("mean "), sentence("worst ")))
    }
}

/// `text` with its first character in upper case.
fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::tests::bundled;

    #[test]
    fn note_renders_real_measurements_without_the_diagnosis() {
        let data = bundled();
        let note = data.clinical_note(0).unwrap();
        assert!(note.starts_with("Fine needle aspirate of a breast mass. Mean radius 17.99, mean texture 10.38,"));
        assert!(note.contains(" mean area 1001, "));
        assert!(note.contains("mean fractal dimension 0.07871. Worst radius 25.38,"));
        assert!(note.ends_with(", worst concavity 0.7119, worst concave points 0.2654, worst symmetry 0.4601, worst fractal dimension 0.1189."));
        assert!(!note.contains("error") && !note.contains("malignant") && !note.contains("benign"));
        let err = data.clinical_note(569).unwrap_err().to_string();
        assert_eq!(err, "row 569 is out of range: the data set has 569 rows");
    }
}
