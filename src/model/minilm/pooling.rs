//! From token states to one sentence vector: mean over the real tokens, then
//! L2 normalisation (sentence-transformers' Pooling and Normalize modules).

use ndarray::{Array1, ArrayView2};

use super::check_mask;
use crate::model::Result;

/// Mean of the rows of `hidden` (`[tokens, width]`) whose `mask` entry is 1.
pub fn mean_pool(hidden: ArrayView2<f32>, mask: &[u32]) -> Result<Array1<f32>> {
    check_mask("mean pooling", hidden.nrows(), mask)?;
    let mut sum = Array1::zeros(hidden.ncols());
    for (row, _) in hidden.rows().into_iter().zip(mask).filter(|&(_, &m)| m == 1) {
        sum += &row;
    }
    let count = mask.iter().filter(|&&m| m == 1).count();
    Ok(sum / count as f32)
}

/// `v / max(‖v‖₂, 1e-12)`, as `torch.nn.functional.normalize`.
#[must_use]
pub fn l2_normalize(v: Array1<f32>) -> Array1<f32> {
    let norm = v.dot(&v).sqrt().max(1e-12);
    v / norm
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn pools_only_real_tokens_and_normalizes() {
        let hidden = array![[1.0f32, 2.0], [3.0, 6.0], [100.0, 100.0]];
        let pooled = mean_pool(hidden.view(), &[1, 1, 0]).unwrap();
        assert_eq!(pooled, array![2.0, 4.0]);
        let unit = l2_normalize(array![3.0, 4.0]);
        assert_eq!(unit, array![0.6, 0.8]);
        assert_eq!(l2_normalize(array![0.0, 0.0]), array![0.0, 0.0]);
        assert!(mean_pool(hidden.view(), &[0, 0, 0]).is_err());
        assert!(mean_pool(hidden.view(), &[1, 1]).is_err());
    }
}
