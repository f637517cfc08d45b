//! Softmax over the slots of one ciphertext: exp, a rotate-and-sum, 1/x.
//!
//! softmax(x)_i = e^(x_i − B) / Σ_j e^(x_j − B) for inputs in [−B, B].
//!
//! Domain-shrinking step: a plaintext softmax subtracts max_j x_j, which on
//! ciphertexts would itself be a deep approximation (composite max over all
//! slots). Subtracting the public bound B instead (free: a constant) puts
//! every exponent in [−2B, 0], so each e^(x−B) lies in [e^(−2B), 1] and the
//! sum of n slots in [n·e^(−2B), n]: the domains of the exp and of the
//! inverse are known in advance. The price is the inverse's domain ratio
//! e^(2B): keep B small (e.g. scale the logits by a public temperature
//! first); B = 2 needs degree 15 and two Newton steps for ≈ 1e-6.
//!
//! The sum is the classic rotate-and-sum: log2(n) rotations by 1, 2, 4, ...,
//! each followed by an addition, after which every slot holds the total
//! (the ciphertext must be packed with exactly n slots, which repeat
//! cyclically). Rotations use no level.

use super::arith::{Arith, AtLevel, at_level, finish};
use super::{Approximation, Domain};
use crate::nn::{NnError, Result};

/// Softmax over the `slots` slots of a ciphertext with inputs in [−bound, bound].
#[derive(Clone, Debug)]
pub struct Softmax {
    domain: Domain,
    slots: usize,
    exp: Approximation,
    inverse: Approximation,
}

impl Softmax {
    /// Softmax over `slots` (a power of two ≥ 2) inputs in [−bound, bound]:
    /// e^x on [−2·bound, 0] of degree `exp_degree`, 1/x on
    /// [slots·e^(−2·bound), slots] of degree `inverse_degree` plus `newton` steps.
    pub fn new(bound: f64, slots: usize, exp_degree: usize, inverse_degree: usize, newton: usize) -> Result<Self> {
        if !(slots >= 2 && slots.is_power_of_two()) {
            return Err(NnError::InvalidApprox {
                what: "softmax".into(),
                reason: format!("{slots} slots is not a power of two ≥ 2"),
            });
        }
        let domain = Domain::new(-bound, bound)?;
        let exp = Approximation::exp(Domain::new(-2.0 * bound, 0.0)?, exp_degree)?;
        let n = slots as f64;
        let inverse = Approximation::inverse(Domain::new(n * (-2.0 * bound).exp(), n)?, inverse_degree, newton)?;
        Ok(Self { domain, slots, exp, inverse })
    }

    /// The default: inputs in [−2, 2], exp of degree 7, 1/x of degree 15 and 2 Newton steps.
    pub fn with_defaults(slots: usize) -> Result<Self> {
        Self::new(2.0, slots, 7, 15, 2)
    }

    /// Input domain [−bound, bound] (per slot).
    #[must_use]
    pub fn domain(&self) -> Domain {
        self.domain
    }

    /// Slots the softmax runs over.
    #[must_use]
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The exp piece.
    #[must_use]
    pub fn exp(&self) -> &Approximation {
        &self.exp
    }

    /// The inverse piece.
    #[must_use]
    pub fn inverse(&self) -> &Approximation {
        &self.inverse
    }

    /// Rotation steps the evaluation keys need: 1, 2, 4, ..., slots/2.
    #[must_use]
    pub fn rotation_steps(&self) -> Vec<i64> {
        (0..self.slots.trailing_zeros()).map(|i| 1i64 << i).collect()
    }

    /// Levels consumed: exp, inverse, and the final product.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.exp.depth() + self.inverse.depth() + 1
    }

    /// Ciphertext multiplications: exp's, inverse's, and the final product.
    #[must_use]
    pub fn multiplications(&self) -> usize {
        self.exp.multiplications() + self.inverse.multiplications() + 1
    }

    /// Rotations: log2(slots).
    #[must_use]
    pub fn rotations(&self) -> usize {
        self.slots.trailing_zeros() as usize
    }

    /// The exact softmax of `values`.
    #[must_use]
    pub fn reference(values: &[f64]) -> Vec<f64> {
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = values.iter().map(|v| (v - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        exps.iter().map(|e| e / sum).collect()
    }

    /// The approximation in f64, same pieces.
    #[must_use]
    pub fn eval_f64(&self, values: &[f64]) -> Vec<f64> {
        let exps: Vec<f64> = values.iter().map(|v| self.exp.eval_f64(v - self.domain.hi())).collect();
        let inv = self.inverse.eval_f64(exps.iter().sum());
        exps.iter().map(|e| e * inv).collect()
    }

    /// Softmax of the slots of `x`, at level `level(x) − depth()`, nominal scale.
    pub fn evaluate<A: Arith>(&self, a: &A, x: &A::Value) -> Result<A::Value> {
        if a.slots(x) != self.slots {
            return Err(NnError::InvalidApprox {
                what: "softmax".into(),
                reason: format!("the input has {} slots, this softmax runs over {}", a.slots(x), self.slots),
            });
        }
        let Some(out_level) = a.level(x).checked_sub(self.depth()) else {
            return Err(NnError::NotEnoughLevels { what: "softmax".into(), needed: self.depth(), level: a.level(x) });
        };
        let exps = self.exp.evaluate(a, &a.add_const(x, -self.domain.hi())?)?;
        let mut sum = AtLevel::Same(&exps);
        for step in self.rotation_steps() {
            sum = AtLevel::Owned(a.add(&sum, &a.rotate(&sum, step)?)?);
        }
        // exps (its scale kept) · 1/sum must land on the nominal scale after the rescale.
        let product_level = out_level + 1;
        let target = a.params().scale(out_level) * a.params().level_modulus(product_level) / a.scale(&exps);
        let inverse = self.inverse.evaluate_at(a, &sum, target)?;
        finish(a, a.mul(&*at_level(a, &exps, product_level)?, &inverse)?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ckks::{ParamsLiteral, preset};
    use crate::nn::approx::PlainArith;

    #[test]
    fn softmax_on_the_mirror_matches_f64_and_the_reference() {
        let literal =
            ParamsLiteral { name: "toy-deep".into(), depth: 16, ..preset("toy-n1024").unwrap().literal().clone() };
        let a = PlainArith::new(Arc::new(crate::ckks::Params::try_from_literal(literal).unwrap()));
        let sm = Softmax::with_defaults(16).unwrap();
        assert_eq!((sm.depth(), sm.rotation_steps()), (14, vec![1, 2, 4, 8]));
        let xs: Vec<f64> = sm.domain().grid(16).collect();
        let y = sm.evaluate(&a, &a.encode(&xs, 16).unwrap()).unwrap();
        assert_eq!((y.level(), a.multiplications(), a.rotations()), (2, sm.multiplications(), 4));
        let (want, approx) = (Softmax::reference(&xs), sm.eval_f64(&xs));
        for ((got, w), f) in y.values().iter().zip(&want).zip(&approx) {
            assert!((got - f).abs() < 1e-7 && (got - w).abs() < 1e-5, "{got} vs {w}");
        }
        assert!(sm.evaluate(&a, &a.encode(&xs[..8], 16).unwrap()).is_err());
    }
}
