//! [`Projection`]: a linear layer x·W + b on token-layout ciphertexts.

use ndarray::Array2;

use super::layout::{SEGMENT, TokenLayout};
use super::ops::to_level;
use crate::ckks::Params;
use crate::model::minilm::Linear;
use crate::nn::Result;
use crate::nn::approx::Arith;
use crate::nn::linalg::MatMulPlain;

/// x·(c·W) + c·b for a model's [`Linear`] (weights d × k after
/// transposition) and a constant factor c folded in for free; 1 level.
pub struct Projection {
    plan: MatMulPlain,
    bias: Vec<f64>,
    block: usize,
}

impl Projection {
    /// `linear` scaled by `factor`, for inputs in blocks of `block` of `slots` slots.
    pub fn new(params: &Params, linear: &Linear, factor: f64, block: usize, slots: usize) -> Result<Self> {
        let w: Array2<f64> = linear.weight().t().mapv(|v| f64::from(v) * factor);
        let bias = linear.bias().iter().map(|&v| f64::from(v) * factor).collect();
        // Baby step = a head's segment: the products share their rotation keys
        // with attention (steps 1..32 and multiples of 32).
        let plan = MatMulPlain::with_baby_step(params, w.view(), block, slots, Some(SEGMENT))?;
        Ok(Self { plan, bias, block })
    }

    /// Output width k.
    #[must_use]
    pub fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// Rotation steps the evaluation keys need.
    #[must_use]
    pub fn rotations(&self) -> Vec<i64> {
        self.plan.rotations()
    }

    /// x·W + b for `xs` (token layout, ⌈d / block⌉ chunks per token
    /// ciphertext), one level down on the nominal scale; the outputs come
    /// ⌈k / block⌉ chunks per token ciphertext.
    pub fn apply<A: Arith>(&self, a: &A, xs: &[A::Value], layout: &TokenLayout) -> Result<Vec<A::Value>> {
        Ok(Self::apply_shared(a, &[self], xs, layout)?.remove(0))
    }

    /// [`Self::apply`] of several projections of the same input, sharing
    /// its rotations (Q, K and V).
    pub fn apply_shared<A: Arith>(
        a: &A,
        projections: &[&Self],
        xs: &[A::Value],
        layout: &TokenLayout,
    ) -> Result<Vec<Vec<A::Value>>> {
        let level = xs.iter().map(|x| a.level(x)).min().unwrap_or(0);
        let aligned: Vec<A::Value> = xs.iter().map(|x| to_level(a, x, level)).collect::<Result<_>>()?;
        let refs: Vec<&A::Value> = aligned.iter().collect();
        let out_scale = a.params().scale(level.saturating_sub(1));
        let plans: Vec<&MatMulPlain> = projections.iter().map(|p| &p.plan).collect();
        let products = a.matmul_plain_shared(&plans, &refs, out_scale)?;
        projections.iter().zip(products).map(|(p, ys)| p.add_bias(a, &ys, layout)).collect()
    }

    /// ys + b (b cut into the output chunks).
    fn add_bias<A: Arith>(&self, a: &A, ys: &[A::Value], layout: &TokenLayout) -> Result<Vec<A::Value>> {
        let chunks = self.plan.chunks_out();
        ys.iter()
            .enumerate()
            .map(|(i, y)| {
                let u = i % chunks;
                let end = self.bias.len().min((u + 1) * self.block);
                a.add_plain(y, &layout.replicate(&self.bias[u * self.block..end]))
            })
            .collect()
    }
}
