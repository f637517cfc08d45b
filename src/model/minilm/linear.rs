//! A dense (fully connected) layer, the building block of attention and the
//! feed-forward block.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use super::check_width;
use super::weights::{Loaded, Weights};
use crate::model::Result;

/// y = x Wᵀ + b, with W in PyTorch's `[outputs, inputs]` layout.
#[derive(Clone, Debug)]
pub struct Linear {
    weight: Array2<f32>,
    bias: Array1<f32>,
}

impl Linear {
    /// Reads `{prefix}.weight` (`[outputs, inputs]`) and `{prefix}.bias` (`[outputs]`).
    pub(super) fn load(weights: &Weights, prefix: &str, inputs: usize, outputs: usize) -> Loaded<Self> {
        Ok(Self {
            weight: weights.matrix(&format!("{prefix}.weight"), outputs, inputs)?,
            bias: weights.vector(&format!("{prefix}.bias"), outputs)?,
        })
    }

    /// The weight matrix, `[outputs, inputs]`.
    #[must_use]
    pub fn weight(&self) -> ArrayView2<'_, f32> {
        self.weight.view()
    }

    /// The bias, `[outputs]`.
    #[must_use]
    pub fn bias(&self) -> ArrayView1<'_, f32> {
        self.bias.view()
    }

    /// Applies the layer to every row of `x` (`[rows, inputs]` -> `[rows, outputs]`).
    pub fn forward(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_width("linear", x, self.weight.ncols())?;
        Ok(x.dot(&self.weight.t()) + &self.bias)
    }
}
