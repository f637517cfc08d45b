//! BERT's feed-forward block: a GELU MLP, the residual connection and
//! LayerNorm.

use ndarray::{Array2, ArrayView2};

use super::config::BertConfig;
use super::layer_norm::LayerNorm;
use super::linear::Linear;
use super::weights::{Loaded, Weights};
use crate::model::Result;

/// One layer's feed-forward block: `norm(x + output(gelu(intermediate(x))))`.
#[derive(Clone, Debug)]
pub struct FeedForward {
    intermediate: Linear,
    output: Linear,
    norm: LayerNorm,
}

impl FeedForward {
    /// Reads `{prefix}.intermediate.dense`, `{prefix}.output.dense` and
    /// `{prefix}.output.LayerNorm` (prefix: `encoder.layer.<i>`).
    pub(super) fn load(weights: &Weights, prefix: &str, config: &BertConfig) -> Loaded<Self> {
        let (hidden, inner) = (config.hidden_size, config.intermediate_size);
        Ok(Self {
            intermediate: Linear::load(weights, &format!("{prefix}.intermediate.dense"), hidden, inner)?,
            output: Linear::load(weights, &format!("{prefix}.output.dense"), inner, hidden)?,
            norm: LayerNorm::load(weights, &format!("{prefix}.output.LayerNorm"), hidden, config.layer_norm_eps)?,
        })
    }

    /// Expansion to the intermediate width.
    #[must_use]
    pub fn intermediate(&self) -> &Linear {
        &self.intermediate
    }

    /// Projection back to the hidden width.
    #[must_use]
    pub fn output(&self) -> &Linear {
        &self.output
    }

    /// LayerNorm after the residual connection.
    #[must_use]
    pub fn norm(&self) -> &LayerNorm {
        &self.norm
    }

    /// The whole block on `[tokens, hidden]`.
    pub fn forward(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        let inner = self.intermediate.forward(x)?.mapv_into(gelu);
        let projected = self.output.forward(inner.view())?;
        self.norm.forward((projected + x).view())
    }
}

/// The exact GELU, x · Φ(x) = x/2 · (1 + erf(x/√2)), as BERT's "gelu"
/// (not the tanh approximation).
#[must_use]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_known_values() {
        // x · Φ(x) with Φ the standard normal CDF.
        for (x, want) in [(0.0, 0.0), (1.0, 0.841_344_7), (-1.0, -0.158_655_26), (3.0, 2.995_950_2)] {
            assert!((gelu(x) - want).abs() < 1e-6, "gelu({x}) = {}", gelu(x));
        }
    }
}
