//! BERT's attention block: multi-head scaled dot-product self-attention over
//! the real (unmasked) tokens, the output projection, the residual connection
//! and LayerNorm.

use ndarray::{Array2, ArrayView2, ArrayViewMut1, Axis, s};

use super::config::BertConfig;
use super::layer_norm::LayerNorm;
use super::linear::Linear;
use super::weights::{Loaded, Weights};
use super::{check_mask, check_width};
use crate::model::Result;

/// One layer's attention block: `norm(x + output(context(x, mask)))`.
#[derive(Clone, Debug)]
pub struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    norm: LayerNorm,
    heads: usize,
}

impl Attention {
    /// Reads `{prefix}.self.{query,key,value}`, `{prefix}.output.dense` and
    /// `{prefix}.output.LayerNorm` (prefix: `encoder.layer.<i>.attention`).
    pub(super) fn load(weights: &Weights, prefix: &str, config: &BertConfig) -> Loaded<Self> {
        let hidden = config.hidden_size;
        let linear = |name: &str| Linear::load(weights, &format!("{prefix}.{name}"), hidden, hidden);
        Ok(Self {
            query: linear("self.query")?,
            key: linear("self.key")?,
            value: linear("self.value")?,
            output: linear("output.dense")?,
            norm: LayerNorm::load(weights, &format!("{prefix}.output.LayerNorm"), hidden, config.layer_norm_eps)?,
            heads: config.num_attention_heads,
        })
    }

    /// Query projection.
    #[must_use]
    pub fn query(&self) -> &Linear {
        &self.query
    }

    /// Key projection.
    #[must_use]
    pub fn key(&self) -> &Linear {
        &self.key
    }

    /// Value projection.
    #[must_use]
    pub fn value(&self) -> &Linear {
        &self.value
    }

    /// Output projection applied to the concatenated heads.
    #[must_use]
    pub fn output(&self) -> &Linear {
        &self.output
    }

    /// LayerNorm after the residual connection.
    #[must_use]
    pub fn norm(&self) -> &LayerNorm {
        &self.norm
    }

    /// Number of heads.
    #[must_use]
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// The heads' outputs side by side (`[tokens, hidden]`), before the output
    /// projection: for head h with slices Q_h, K_h, V_h of width d,
    /// `softmax(Q_h K_hᵀ / √d over real keys) V_h`.
    pub fn context(&self, x: ArrayView2<f32>, mask: &[u32]) -> Result<Array2<f32>> {
        check_width("attention", x, self.query.weight().nrows())?;
        check_mask("attention", x.nrows(), mask)?;
        let (q, k, v) = (self.query.forward(x)?, self.key.forward(x)?, self.value.forward(x)?);
        let d = x.ncols() / self.heads;
        let scale = 1.0 / (d as f32).sqrt();
        let mut context = Array2::zeros(x.raw_dim());
        for h in 0..self.heads {
            let cols = s![.., h * d..(h + 1) * d];
            let mut scores = q.slice(cols).dot(&k.slice(cols).t()) * scale;
            for row in scores.axis_iter_mut(Axis(0)) {
                masked_softmax(row, mask);
            }
            context.slice_mut(cols).assign(&scores.dot(&v.slice(cols)));
        }
        Ok(context)
    }

    /// The whole block: `norm(x + output(context(x, mask)))`.
    pub fn forward(&self, x: ArrayView2<f32>, mask: &[u32]) -> Result<Array2<f32>> {
        let projected = self.output.forward(self.context(x, mask)?.view())?;
        self.norm.forward((projected + x).view())
    }
}

/// Softmax of one row of attention scores over the keys whose `mask` entry
/// is 1; masked keys get weight 0 (as BERT's additive −∞ mask). `mask` must
/// have the row's length and at least one 1.
pub fn masked_softmax(mut scores: ArrayViewMut1<f32>, mask: &[u32]) {
    let max = scores.iter().zip(mask).filter(|&(_, &m)| m == 1).fold(f32::NEG_INFINITY, |a, (&s, _)| a.max(s));
    let mut sum = 0.0;
    for (s, &m) in scores.iter_mut().zip(mask) {
        *s = if m == 1 { (*s - max).exp() } else { 0.0 };
        sum += *s;
    }
    scores.mapv_inplace(|s| s / sum);
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn masked_softmax_ignores_masked_keys() {
        let mut row = array![1.0f32, 2.0, 100.0, 3.0];
        masked_softmax(row.view_mut(), &[1, 1, 0, 1]);
        let e = [1.0f32.exp(), 2.0f32.exp(), 3.0f32.exp()];
        let total: f32 = e.iter().sum();
        let expected = [e[0] / total, e[1] / total, 0.0, e[2] / total];
        for (got, want) in row.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{row}");
        }
    }
}
