//! Errors of the plaintext model layer. Every message is one self-contained
//! sentence naming the file, tensor, line or column at fault, and the cause.

use std::path::PathBuf;

use thiserror::Error;

/// Result type of the model layer.
pub type Result<T> = std::result::Result<T, ModelError>;

/// Errors loading or running the sentence encoder.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The model folder is absent or incomplete.
    #[error("model folder {} lacks {file}; run `bash tools/fetch_model.sh` to download all-MiniLM-L6-v2", dir.display())]
    MissingModel {
        /// The folder that was searched.
        dir: PathBuf,
        /// The first required file that is missing.
        file: &'static str,
    },
    /// A model file exists but cannot be read.
    #[error("cannot read {}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        cause: std::io::Error,
    },
    /// A configuration file is malformed or describes an unsupported model.
    #[error("invalid model config {}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The weights file is malformed or does not fit the configuration.
    #[error("invalid weights in {}: {cause}", path.display())]
    Weights {
        /// The safetensors file.
        path: PathBuf,
        /// What is wrong.
        cause: TensorError,
    },
    /// tokenizer.json cannot be loaded.
    #[error("cannot load tokenizer {}: {reason}", path.display())]
    Tokenizer {
        /// The file.
        path: PathBuf,
        /// The tokenizers crate's message.
        reason: String,
    },
    /// The tokenizer rejected an input text.
    #[error("cannot tokenize {text:?}: {reason}")]
    Tokenize {
        /// The text, shortened to its first characters.
        text: String,
        /// The tokenizers crate's message.
        reason: String,
    },
    /// An input to a model block has the wrong shape or values.
    #[error("{op}: {reason}")]
    InvalidInput {
        /// The block that rejected the input.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A data set problem.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
}

/// A tensor in a safetensors file that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TensorError {
    /// The file is not in safetensors format.
    #[error("not a safetensors file: {cause}")]
    Format {
        /// The safetensors crate's error.
        cause: safetensors::SafeTensorError,
    },
    /// A tensor the model needs is absent.
    #[error("tensor {name} is missing")]
    Missing {
        /// Tensor name.
        name: String,
    },
    /// A tensor has another element type than F32 or F16.
    #[error("tensor {name} has dtype {found}, expected F32 or F16")]
    Dtype {
        /// Tensor name.
        name: String,
        /// The dtype in the file.
        found: String,
    },
    /// A tensor has another shape than the configuration implies.
    #[error("tensor {name} has shape {found:?}, expected {expected:?}")]
    Shape {
        /// Tensor name.
        name: String,
        /// Shape from the configuration.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
}

/// Errors loading or splitting a data set.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// The file cannot be read.
    #[error("cannot read {file}: {cause}")]
    Io {
        /// The file.
        file: String,
        /// The operating system's error.
        cause: std::io::Error,
    },
    /// The file has no header line.
    #[error("{file} is empty; expected a header line with the column names")]
    Empty {
        /// The file.
        file: String,
    },
    /// The header lacks a required column.
    #[error("{file}:1: missing column {column:?}")]
    MissingColumn {
        /// The file.
        file: String,
        /// The column name.
        column: &'static str,
    },
    /// The header has a column that is not part of the schema, or one twice.
    #[error("{file}:1: unexpected column {column:?} (unknown or repeated)")]
    UnexpectedColumn {
        /// The file.
        file: String,
        /// The column name.
        column: String,
    },
    /// A data line has another number of fields than the header.
    #[error("{file}:{line}: {found} fields, expected {expected}")]
    FieldCount {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },
    /// A feature value is not a finite number.
    #[error("{file}:{line}: column {column:?}: {value:?} is not a finite number")]
    InvalidNumber {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The column name.
        column: &'static str,
        /// The offending text.
        value: String,
    },
    /// A label is neither of the two classes.
    #[error("{file}:{line}: column \"diagnosis\": {value:?} is neither \"malignant\" nor \"benign\"")]
    InvalidLabel {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The offending text.
        value: String,
    },
    /// The file has a header but no data rows.
    #[error("{file} has a header but no data rows")]
    NoRows {
        /// The file.
        file: String,
    },
    /// The test fraction is outside (0, 1).
    #[error("test fraction {fraction} is outside (0, 1)")]
    InvalidFraction {
        /// The requested fraction.
        fraction: f64,
    },
    /// A class has too few rows to appear in both splits.
    #[error("class {class} has {count} rows, too few for both a train and a test part at fraction {fraction}")]
    ClassTooSmall {
        /// Class name.
        class: &'static str,
        /// Rows of that class.
        count: usize,
        /// The requested test fraction.
        fraction: f64,
    },
    /// A row index past the end of the data set.
    #[error("row {row} is out of range: the data set has {len} rows")]
    RowOutOfRange {
        /// The requested row.
        row: usize,
        /// Number of rows.
        len: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_strings() {
        let missing = ModelError::MissingModel { dir: "models/x".into(), file: "model.safetensors" };
        assert_eq!(
            missing.to_string(),
            "model folder models/x lacks model.safetensors; run `bash tools/fetch_model.sh` to download all-MiniLM-L6-v2"
        );
        let shape = ModelError::Weights {
            path: "m.safetensors".into(),
            cause: TensorError::Shape { name: "a.weight".into(), expected: vec![2, 3], found: vec![3, 2] },
        };
        assert_eq!(
            shape.to_string(),
            "invalid weights in m.safetensors: tensor a.weight has shape [3, 2], expected [2, 3]"
        );
        let number =
            DatasetError::InvalidNumber { file: "d.csv".into(), line: 7, column: "mean radius", value: "NaN".into() };
        assert_eq!(number.to_string(), "d.csv:7: column \"mean radius\": \"NaN\" is not a finite number");
        let label = DatasetError::InvalidLabel { file: "d.csv".into(), line: 3, value: "M".into() };
        assert_eq!(label.to_string(), "d.csv:3: column \"diagnosis\": \"M\" is neither \"malignant\" nor \"benign\"");
    }
}
