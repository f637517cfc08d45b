//! Strict CSV reading: the header must name every column of the schema
//! exactly once (any order, nothing else); every value must be a finite
//! number and every label `malignant` or `benign`. Errors name the file, the
//! 1-based line and the column.

use std::path::Path;

use ndarray::{Array1, Array2};

use super::{Dataset, FEATURES, LABEL_COLUMN, NEGATIVE_CLASS, POSITIVE_CLASS, Result};
use crate::model::DatasetError;

impl Dataset {
    /// Reads a CSV file with the [`FEATURES`] columns and [`LABEL_COLUMN`],
    /// such as `data/breast_cancer.csv`.
    pub fn load(path: &Path) -> Result<Self> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| DatasetError::Io { file: file.clone(), cause })?;
        Self::parse(&text, &file)
    }

    /// Parses CSV text; `file` names the source in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines.next().ok_or_else(|| DatasetError::Empty { file: file.to_owned() })?;
        let columns = Columns::from_header(header.trim_start_matches('\u{feff}'), file)?;

        let (mut features, mut labels) = (Vec::new(), Vec::new());
        for (line, text) in lines {
            let fields: Vec<&str> = text.split(',').map(str::trim).collect();
            if fields.len() != columns.count {
                let (expected, found) = (columns.count, fields.len());
                return Err(DatasetError::FieldCount { file: file.to_owned(), line, expected, found });
            }
            for (&column, &at) in FEATURES.iter().zip(&columns.features) {
                let value = fields[at].parse::<f64>().ok().filter(|v| v.is_finite());
                features.push(value.ok_or_else(|| DatasetError::InvalidNumber {
                    file: file.to_owned(),
                    line,
                    column,
                    value: fields[at].to_owned(),
                })?);
            }
            labels.push(match fields[columns.label] {
                POSITIVE_CLASS => 1.0,
                NEGATIVE_CLASS => 0.0,
                other => {
                    return Err(DatasetError::InvalidLabel { file: file.to_owned(), line, value: other.to_owned() });
                }
            });
        }
        if labels.is_empty() {
            return Err(DatasetError::NoRows { file: file.to_owned() });
        }
        let features = Array2::from_shape_vec((labels.len(), FEATURES.len()), features)
            .expect("one row of FEATURES.len() values per label");
        Ok(Self { features, labels: Array1::from(labels) })
    }
}

/// Where each schema column sits in a line.
struct Columns {
    /// Field index of each of [`FEATURES`].
    features: Vec<usize>,
    /// Field index of [`LABEL_COLUMN`].
    label: usize,
    /// Fields per line.
    count: usize,
}

impl Columns {
    fn from_header(header: &str, file: &str) -> Result<Self> {
        let names: Vec<&str> = header.split(',').map(str::trim).collect();
        let schema: Vec<&'static str> = FEATURES.iter().copied().chain([LABEL_COLUMN]).collect();
        let mut at = vec![None; schema.len()];
        for (i, name) in names.iter().enumerate() {
            match schema.iter().position(|s| s == name) {
                Some(k) if at[k].is_none() => at[k] = Some(i),
                _ => return Err(DatasetError::UnexpectedColumn { file: file.to_owned(), column: (*name).to_owned() }),
            }
        }
        let at = at
            .iter()
            .zip(&schema)
            .map(|(i, &column)| i.ok_or_else(|| DatasetError::MissingColumn { file: file.to_owned(), column }))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { label: at[FEATURES.len()], features: at[..FEATURES.len()].to_vec(), count: names.len() })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn header() -> String {
        format!("{},{LABEL_COLUMN}", FEATURES.join(","))
    }

    fn row(first: &str, label: &str) -> String {
        let rest: Vec<String> = (1..FEATURES.len()).map(|i| format!("{}.5", i)).collect();
        format!("{first},{},{label}", rest.join(","))
    }

    /// Writes `text` to a temporary file and loads it; errors as text with
    /// the temporary path replaced by `FILE`.
    fn load(text: &str) -> std::result::Result<Dataset, String> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        let path = file.path().display().to_string();
        Dataset::load(file.path()).map_err(|e| e.to_string().replace(&path, "FILE"))
    }

    #[test]
    fn reads_a_valid_file() {
        let text = format!("{}\r\n{}\n\n{}\n", header(), row("1.25", "malignant"), row("3", "benign"));
        let data = load(&text).unwrap();
        assert_eq!(data.features().dim(), (2, 30));
        assert_eq!(data.labels().to_vec(), [1.0, 0.0]);
        assert_eq!((data.features()[[0, 0]], data.features()[[1, 0]], data.features()[[1, 29]]), (1.25, 3.0, 29.5));
    }

    #[test]
    fn columns_may_come_in_any_order() {
        let mut names: Vec<&str> = FEATURES.to_vec();
        names.insert(0, LABEL_COLUMN);
        names.swap(1, 2);
        let values: Vec<String> = (0..FEATURES.len()).map(|i| i.to_string()).collect();
        let mut fields: Vec<&str> = values.iter().map(String::as_str).collect();
        fields.swap(0, 1);
        let text = format!("{}\nbenign,{}\n", names.join(","), fields.join(","));
        let data = load(&text).unwrap();
        assert_eq!(data.features().row(0).to_vec(), (0..30).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn loader_errors_name_file_line_and_column() {
        let ok = row("1", "benign");
        let cases = [
            (String::new(), "FILE is empty; expected a header line with the column names".to_owned()),
            (header(), "FILE has a header but no data rows".to_owned()),
            (header().replace(",mean texture", ""), "FILE:1: missing column \"mean texture\"".to_owned()),
            (header().replace(",diagnosis", ""), "FILE:1: missing column \"diagnosis\"".to_owned()),
            (format!("{},age\n{ok}", header()), "FILE:1: unexpected column \"age\" (unknown or repeated)".to_owned()),
            (
                format!("{},mean area\n{ok}", header()),
                "FILE:1: unexpected column \"mean area\" (unknown or repeated)".to_owned(),
            ),
            (format!("{}\n{ok}\n1,2,benign\n", header()), "FILE:3: 3 fields, expected 31".to_owned()),
            (
                format!("{}\n{ok}\n{}", header(), row("abc", "benign")),
                "FILE:3: column \"mean radius\": \"abc\" is not a finite number".to_owned(),
            ),
            (
                format!("{}\n{}", header(), row("NaN", "benign")),
                "FILE:2: column \"mean radius\": \"NaN\" is not a finite number".to_owned(),
            ),
            (
                format!("{}\n{}", header(), row("inf", "benign")),
                "FILE:2: column \"mean radius\": \"inf\" is not a finite number".to_owned(),
            ),
            (
                format!("{}\n{}", header(), row("", "benign")),
                "FILE:2: column \"mean radius\": \"\" is not a finite number".to_owned(),
            ),
            (
                format!("{}\n{}", header(), row("1", "M")),
                "FILE:2: column \"diagnosis\": \"M\" is neither \"malignant\" nor \"benign\"".to_owned(),
            ),
            (
                format!("{}\n{}", header(), row("1", "1")),
                "FILE:2: column \"diagnosis\": \"1\" is neither \"malignant\" nor \"benign\"".to_owned(),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(load(&text).unwrap_err(), expected);
        }
    }

    #[test]
    fn unreadable_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.csv");
        let err = Dataset::load(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("cannot read {}", path.display())), "{err}");
    }
}
