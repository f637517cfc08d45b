//! Layer normalisation over the hidden dimension, as BERT applies it after
//! the embeddings and after each residual connection.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::check_width;
use super::weights::{Loaded, Weights};
use crate::model::Result;

/// y = (x − mean(x)) / sqrt(var(x) + eps) · γ + β per row (biased variance,
/// as PyTorch's `LayerNorm`).
#[derive(Clone, Debug)]
pub struct LayerNorm {
    gamma: Array1<f32>,
    beta: Array1<f32>,
    eps: f32,
}

impl LayerNorm {
    /// Reads `{prefix}.weight` (γ) and `{prefix}.bias` (β), both `[width]`.
    pub(super) fn load(weights: &Weights, prefix: &str, width: usize, eps: f64) -> Loaded<Self> {
        Ok(Self {
            gamma: weights.vector(&format!("{prefix}.weight"), width)?,
            beta: weights.vector(&format!("{prefix}.bias"), width)?,
            eps: eps as f32,
        })
    }

    /// The scale γ.
    #[must_use]
    pub fn gamma(&self) -> ArrayView1<'_, f32> {
        self.gamma.view()
    }

    /// The shift β.
    #[must_use]
    pub fn beta(&self) -> ArrayView1<'_, f32> {
        self.beta.view()
    }

    /// The epsilon added to the variance.
    #[must_use]
    pub fn eps(&self) -> f32 {
        self.eps
    }

    /// Normalises every row of `x` (`[rows, width]`).
    pub fn forward(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_width("layer norm", x, self.gamma.len())?;
        let mut y = x.to_owned();
        for mut row in y.axis_iter_mut(Axis(0)) {
            let mean = row.mean().unwrap_or(0.0);
            row.mapv_inplace(|v| v - mean);
            let inv_std = 1.0 / (row.mapv(|v| v * v).mean().unwrap_or(0.0) + self.eps).sqrt();
            row.zip_mut_with(&self.gamma, |v, g| *v *= inv_std * g);
            row += &self.beta;
        }
        Ok(y)
    }
}
