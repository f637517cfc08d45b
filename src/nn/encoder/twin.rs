//! The plaintext twin of an encrypted layer: the same steps with exact
//! functions on the plaintext model, as matrices in the shapes the
//! encrypted steps' outputs decode to ([`decode`]), so that `hetl profile`
//! can report each step's error.

use std::collections::BTreeMap;

use ndarray::{Array2, s};

use super::layout::{SEGMENT, TokenLayout};
use super::session::Shape;
use crate::model::minilm::{EncoderLayer, gelu, masked_softmax};
use crate::nn::Result;

/// Step name → expected output, for one layer on input `x` (tokens × hidden).
/// Scores are s/2^r (the scale the encrypted scores carry), the softmax
/// output T·p; both flattened to tokens × (heads·tokens), column h·T + j.
pub fn layer_twin(layer: &EncoderLayer, x: &Array2<f64>, rounds: usize) -> Result<BTreeMap<&'static str, Array2<f64>>> {
    let xf = x.mapv(|v| v as f32);
    let tokens = x.nrows();
    let mask = vec![1u32; tokens];
    let at = layer.attention();
    let (q, k, v) = (at.query().forward(xf.view())?, at.key().forward(xf.view())?, at.value().forward(xf.view())?);
    let heads = at.heads();
    let d = x.ncols() / heads;
    let factor = 1.0 / ((d as f32).sqrt() * (rounds as f32).exp2());
    let mut scores = Array2::<f32>::zeros((tokens, heads * tokens));
    let mut weights = scores.clone();
    for h in 0..heads {
        let cols = s![.., h * d..(h + 1) * d];
        let sh = q.slice(cols).dot(&k.slice(cols).t()) * factor;
        scores.slice_mut(s![.., h * tokens..(h + 1) * tokens]).assign(&sh);
        let mut p = sh * (rounds as f32).exp2();
        for row in p.rows_mut() {
            masked_softmax(row, &mask);
        }
        weights.slice_mut(s![.., h * tokens..(h + 1) * tokens]).assign(&(p * tokens as f32));
    }
    let context = at.context(xf.view(), &mask)?;
    let y = at.output().forward(context.view())? + &xf;
    let h = at.norm().forward(y.view())?;
    let ff = layer.feed_forward();
    let inner = ff.intermediate().forward(h.view())?;
    let activated = inner.mapv(gelu);
    let z = ff.output().forward(activated.view())? + &h;
    let out = ff.norm().forward(z.view())?;
    let steps = [
        ("attention/qkv", v),
        ("attention/scores", scores),
        ("attention/softmax", weights),
        ("attention/context", context),
        ("attention/output", y),
        ("attention/layernorm", h),
        ("ffn/intermediate", inner),
        ("ffn/gelu", activated),
        ("ffn/output", z),
        ("ffn/layernorm", out),
    ];
    Ok(steps.into_iter().map(|(name, m)| (name, m.mapv(f64::from))).collect())
}

/// Decrypted slot values of a step's output as the matrix [`layer_twin`] gives.
pub fn decode(layout: &TokenLayout, shape: Shape, heads: usize, slots: &[Vec<f64>]) -> Result<Array2<f64>> {
    match shape {
        Shape::Tokens(width) => layout.unpack_rows(slots, layout.with_width(width)?),
        Shape::Pooled => {
            let first = slots.first().map(|s| &s[..layout.width()]).unwrap_or(&[]);
            Ok(Array2::from_shape_vec((1, first.len()), first.to_vec())
                .map_err(|e| crate::nn::NnError::InvalidShape(format!("pooled output: {e}")))?)
        }
        Shape::Scores => {
            let tokens = layout.tokens();
            let groups = tokens.div_ceil(SEGMENT);
            if slots.len() != layout.ciphertexts() * groups {
                return Err(crate::nn::NnError::InvalidShape(format!(
                    "{} score ciphertexts for {} query ciphertexts × {groups} key groups",
                    slots.len(),
                    layout.ciphertexts()
                )));
            }
            Ok(Array2::from_shape_fn((tokens, heads * tokens), |(i, col)| {
                let (h, j) = (col / tokens, col % tokens);
                let (g, b) = layout.position(i);
                slots[g * groups + j / SEGMENT][b * layout.block() + h * SEGMENT + j % SEGMENT]
            }))
        }
    }
}
