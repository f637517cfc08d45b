//! Encrypted LayerNorm on the token layout: mean and mean square of each
//! token block by rotate-and-sum (sum to the block's first slot, mask,
//! broadcast back), variance = E[y²] − μ², 1/√(var + ε) by a polynomial
//! and Newton steps on the calibrated variance range, then γ and β.

use super::choice::{NEWTON, cheapest};
use super::layout::TokenLayout;
use super::ops::{at_nominal_level, plain_product, rotate_sum, rotate_sum_steps, sum_of_products};
use crate::model::minilm::LayerNorm;
use crate::nn::Result;
use crate::nn::approx::{Approximation, Arith, Domain};

/// A model LayerNorm prepared for ciphertexts.
#[derive(Clone, Debug)]
pub struct NormPlan {
    gamma: Vec<f64>,
    beta: Vec<f64>,
    eps: f64,
    inv_sqrt: Approximation,
}

impl NormPlan {
    /// `norm` for token variances in [`var_lo`, `var_hi`] (calibrated; a
    /// margin of 1.5× is added on both sides).
    pub fn new(norm: &LayerNorm, var_lo: f64, var_hi: f64) -> Result<Self> {
        let eps = f64::from(norm.eps());
        let domain = Domain::new((var_lo + eps) / 1.5, (var_hi + eps) * 1.5)?;
        Ok(Self {
            gamma: norm.gamma().iter().map(|&g| f64::from(g)).collect(),
            beta: norm.beta().iter().map(|&b| f64::from(b)).collect(),
            eps,
            inv_sqrt: cheapest(&NEWTON, |degree, steps| Approximation::inv_sqrt(domain, degree, steps))?,
        })
    }

    /// The 1/√x approximation.
    #[must_use]
    pub fn inv_sqrt(&self) -> &Approximation {
        &self.inv_sqrt
    }

    /// Levels consumed.
    #[must_use]
    pub fn depth(&self) -> usize {
        3 + self.inv_sqrt.depth()
    }

    /// Rotation steps: ±1, ±2, …, ±block/2.
    #[must_use]
    pub fn rotations(layout: &TokenLayout) -> Vec<i64> {
        let block = layout.block();
        let mut steps = rotate_sum_steps(1, block);
        steps.extend(rotate_sum_steps(-1, block));
        steps
    }

    /// The block mean of every token, in every slot of its block (1 level).
    fn block_mean<A: Arith>(a: &A, y: A::Value, layout: &TokenLayout) -> Result<A::Value> {
        let block = layout.block();
        let total = rotate_sum(a, y, 1, block)?;
        let first = plain_product(a, &total, &layout.mask(1.0 / layout.width() as f64, |o| o == 0))?;
        rotate_sum(a, first, -1, block)
    }

    /// LayerNorm of every token of `ys`.
    pub fn apply<A: Arith>(&self, a: &A, ys: &[A::Value], layout: &TokenLayout) -> Result<Vec<A::Value>> {
        let gamma = layout.replicate(&self.gamma);
        let beta = layout.replicate(&self.beta);
        ys.iter()
            .map(|y| {
                let level = a.level(y);
                let mean = Self::block_mean(a, a.drop_to_level(y, level)?, layout)?;
                let square = sum_of_products(a, &[(y, y)])?;
                let mean_square = Self::block_mean(a, square, layout)?;
                let mean_sq = sum_of_products(a, &[(&mean, &mean)])?;
                let var = a.add_const(&a.sub(&mean_square, &mean_sq)?, self.eps)?;
                let inv = self.inv_sqrt.evaluate(a, &var)?;
                let centered = a.sub(&*at_nominal_level(a, y, level - 1)?, &mean)?;
                let scaled = plain_product(a, &centered, &gamma)?;
                let out = sum_of_products(a, &[(&*at_nominal_level(a, &scaled, a.level(&inv))?, &inv)])?;
                a.add_plain(&out, &beta)
            })
            .collect()
    }
}
