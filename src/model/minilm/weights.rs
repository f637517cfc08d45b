//! Reading f32 tensors out of a safetensors file, each checked for dtype and
//! for the shape the configuration implies, so a wrong file is an error
//! naming the tensor, never a panic later in a matrix product. F16 tensors
//! are read too (widened exactly to f32): `tools/shrink_model.py` writes
//! them, half the size, where a copy of the model must be small.

use half::f16;
use ndarray::{Array1, Array2};
use safetensors::{Dtype, SafeTensors};

use crate::model::TensorError;

/// Result of reading tensors.
pub(super) type Loaded<T> = Result<T, TensorError>;

/// A parsed safetensors buffer.
pub(super) struct Weights<'a> {
    tensors: SafeTensors<'a>,
}

impl<'a> Weights<'a> {
    /// Parses the header of a safetensors buffer (the bytes of the file).
    pub(super) fn parse(bytes: &'a [u8]) -> Loaded<Self> {
        let tensors = SafeTensors::deserialize(bytes).map_err(|cause| TensorError::Format { cause })?;
        Ok(Self { tensors })
    }

    /// The F32 (or F16) tensor `name`, which must have shape `[len]`.
    pub(super) fn vector(&self, name: &str, len: usize) -> Loaded<Array1<f32>> {
        Ok(Array1::from(self.read(name, &[len])?))
    }

    /// The F32 (or F16) tensor `name`, which must have shape `[rows, cols]` (row-major).
    pub(super) fn matrix(&self, name: &str, rows: usize, cols: usize) -> Loaded<Array2<f32>> {
        let values = self.read(name, &[rows, cols])?;
        // The length was checked against the shape, so this cannot fail.
        Ok(Array2::from_shape_vec((rows, cols), values).expect("length checked against shape"))
    }

    fn read(&self, name: &str, shape: &[usize]) -> Loaded<Vec<f32>> {
        let view = self.tensors.tensor(name).map_err(|_| TensorError::Missing { name: name.to_owned() })?;
        if view.shape() != shape {
            return Err(TensorError::Shape {
                name: name.to_owned(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        // safetensors stores little-endian values; the buffer may be unaligned.
        let data = view.data();
        match view.dtype() {
            Dtype::F32 => Ok(data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()),
            Dtype::F16 => Ok(data.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()),
            other => Err(TensorError::Dtype { name: name.to_owned(), found: other.to_string() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use safetensors::tensor::TensorView;

    use super::*;

    fn file(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
        let views: Vec<_> =
            tensors.iter().map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap())).collect();
        safetensors::serialize(views, None).unwrap()
    }

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn reads_vectors_and_matrices() {
        let bytes = file(&[
            ("v", Dtype::F32, vec![3], f32_bytes(&[1.0, 2.0, 3.0])),
            ("m", Dtype::F32, vec![2, 3], f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
        ]);
        let weights = Weights::parse(&bytes).unwrap();
        assert_eq!(weights.vector("v", 3).unwrap().to_vec(), [1.0, 2.0, 3.0]);
        let m = weights.matrix("m", 2, 3).unwrap();
        assert_eq!((m[[0, 2]], m[[1, 0]]), (3.0, 4.0));
    }

    #[test]
    fn reads_f16_tensors_exactly() {
        let halves = [1.0f32, -0.5, 0.333_251_95, 65504.0];
        let bytes: Vec<u8> = halves.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes()).collect();
        let file_bytes = file(&[("h", Dtype::F16, vec![2, 2], bytes)]);
        let weights = Weights::parse(&file_bytes).unwrap();
        assert_eq!(weights.matrix("h", 2, 2).unwrap().into_raw_vec_and_offset().0, halves);
        let short = file(&[("h", Dtype::F16, vec![3], vec![0; 6])]);
        let err = Weights::parse(&short).unwrap().vector("h", 2).unwrap_err();
        assert_eq!(err.to_string(), "tensor h has shape [3], expected [2]");
    }

    #[test]
    fn wrong_tensors_are_errors() {
        let bytes =
            file(&[("m", Dtype::F32, vec![2, 3], f32_bytes(&[0.0; 6])), ("i", Dtype::I32, vec![2], vec![0; 8])]);
        let weights = Weights::parse(&bytes).unwrap();
        let cases = [
            (weights.matrix("m", 3, 2).unwrap_err(), "tensor m has shape [2, 3], expected [3, 2]"),
            (weights.vector("m", 6).unwrap_err(), "tensor m has shape [2, 3], expected [6]"),
            (weights.vector("i", 2).unwrap_err(), "tensor i has dtype I32, expected F32 or F16"),
            (weights.vector("absent", 2).unwrap_err(), "tensor absent is missing"),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
        let garbage = Weights::parse(b"not a safetensors file").err().unwrap();
        assert!(garbage.to_string().starts_with("not a safetensors file"), "{garbage}");
    }
}
