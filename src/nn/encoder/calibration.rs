//! [`Calibration`]: the value ranges each encrypted step must cover,
//! measured on plaintext runs of the model. The approximations' domains
//! are built from them (with margins), as a public, per-model setting of
//! the encrypted encoder — like a quantisation scale. Values outside a
//! domain make an approximation meaningless, so the data party calibrates
//! on text like its own (the bundled clinical notes by default).

use ndarray::{Array2, ArrayView2, Axis, s};

use crate::model::minilm::{EncoderLayer, MiniLm, gelu};
use crate::nn::Result;

/// A closed range [lo, hi] that grows to cover what it sees.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Range {
    /// Least value seen.
    pub lo: f64,
    /// Greatest value seen.
    pub hi: f64,
}

impl Range {
    const EMPTY: Self = Self { lo: f64::INFINITY, hi: f64::NEG_INFINITY };

    fn cover(&mut self, v: f64) {
        self.lo = self.lo.min(v);
        self.hi = self.hi.max(v);
    }

    /// The range widened by `fraction` of its width on both sides.
    #[must_use]
    pub fn widened(&self, fraction: f64) -> Self {
        let pad = (self.hi - self.lo) * fraction;
        Self { lo: self.lo - pad, hi: self.hi + pad }
    }
}

/// Ranges of one encoder layer's nonlinear inputs.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerRanges {
    /// Attention scores q·k/√d (all heads, real keys).
    pub scores: Range,
    /// Token variances entering the attention LayerNorm.
    pub norm1_variance: Range,
    /// Inputs of the feed-forward GELU.
    pub gelu_input: Range,
    /// Token variances entering the feed-forward LayerNorm.
    pub norm2_variance: Range,
}

/// Ranges for every layer of a model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    /// One entry per encoder layer.
    pub layers: Vec<LayerRanges>,
    /// Number of texts measured.
    pub texts: usize,
}

/// Variance of every row.
fn row_variances(x: ArrayView2<f32>) -> Vec<f64> {
    x.axis_iter(Axis(0))
        .map(|r| {
            let mean = r.mean().unwrap_or(0.0);
            f64::from(r.mapv(|v| (v - mean) * (v - mean)).mean().unwrap_or(0.0))
        })
        .collect()
}

/// Covers `ranges` with what `layer` sees on `x`; returns the layer's output.
fn observe(layer: &EncoderLayer, x: &Array2<f32>, mask: &[u32], ranges: &mut LayerRanges) -> Result<Array2<f32>> {
    let at = layer.attention();
    let (q, k) = (at.query().forward(x.view())?, at.key().forward(x.view())?);
    let d = x.ncols() / at.heads();
    let scale = 1.0 / (d as f32).sqrt();
    for h in 0..at.heads() {
        let cols = s![.., h * d..(h + 1) * d];
        q.slice(cols).dot(&k.slice(cols).t()).iter().for_each(|&v| ranges.scores.cover(f64::from(v * scale)));
    }
    let y = at.output().forward(at.context(x.view(), mask)?.view())? + x;
    row_variances(y.view()).into_iter().for_each(|v| ranges.norm1_variance.cover(v));
    let a1 = at.norm().forward(y.view())?;
    let ff = layer.feed_forward();
    let inner = ff.intermediate().forward(a1.view())?;
    inner.iter().for_each(|&v| ranges.gelu_input.cover(f64::from(v)));
    let z = ff.output().forward(inner.mapv(gelu).view())? + &a1;
    row_variances(z.view()).into_iter().for_each(|v| ranges.norm2_variance.cover(v));
    Ok(ff.norm().forward(z.view())?)
}

impl Calibration {
    /// Runs `model` on `texts` in plaintext and records every layer's ranges.
    pub fn measure(model: &MiniLm, texts: &[String]) -> Result<Self> {
        Ok(Self::measure_pooled(model, texts)?.0)
    }

    /// [`Self::measure`], and from the same plaintext pass the mean-pooled
    /// final hidden state of every text (one row each), e.g. for the head's
    /// standardization statistics.
    pub fn measure_pooled(model: &MiniLm, texts: &[String]) -> Result<(Self, Array2<f64>)> {
        let empty = LayerRanges {
            scores: Range::EMPTY,
            norm1_variance: Range::EMPTY,
            gelu_input: Range::EMPTY,
            norm2_variance: Range::EMPTY,
        };
        let mut layers = vec![empty; model.layers().len()];
        let mut pooled = Array2::zeros((texts.len(), model.config().hidden_size));
        for (text, mut row) in texts.iter().zip(pooled.rows_mut()) {
            let tokens = model.tokenize(text)?;
            let mut x = model.embeddings().forward(&tokens)?;
            for (layer, ranges) in model.layers().iter().zip(&mut layers) {
                x = observe(layer, &x, &tokens.mask, ranges)?;
            }
            if let Some(mean) = x.mean_axis(Axis(0)) {
                row.assign(&mean.mapv(f64::from));
            }
        }
        Ok((Self { layers, texts: texts.len() }, pooled))
    }
}
