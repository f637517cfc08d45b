//! 1/x and 1/√x on a positive interval: a Chebyshev initial guess refined by
//! Newton's iteration, 2 levels per step.
//!
//! - 1/x: y' = 2y − x·y² (relative error e → e²): x·y then (x·y)·y, with 2y
//!   added before the shared rescale. 2 multiplications.
//! - 1/√x: y' = 1.5y − ½x·y³ (e → 1.5·e²): (−x/2)·y and y² in parallel,
//!   then their product, with 1.5y added before the rescale; −x/2 costs
//!   nothing (an exact division by 2 through the scale). 3 multiplications.
//!
//! Scales: step k's output scale is a fixed function of step k−1's (e.g.
//! S' = S_x·S² / (q_l·q_(l−1)) for 1/x), so the required scales are solved
//! backwards from the requested output scale and the initial polynomial is
//! evaluated exactly at the first one: the result lands on the requested
//! scale with no extra level.
//!
//! Out of domain: 1/x converges only while |1 − x·y_0| < 1, 1/√x while
//! 0 < x·y_0² < 3; beyond that the iteration diverges.

use super::arith::{Arith, AtLevel, at_level, finish, scaled_term};
use super::{ChebyshevEvaluator, ChebyshevSeries, Domain, Fit};
use crate::nn::{NnError, Result};

/// Which function Newton's iteration refines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewtonTarget {
    /// 1/x.
    Inverse,
    /// 1/√x.
    InverseSqrt,
}

impl NewtonTarget {
    /// The exact function.
    #[must_use]
    pub fn reference(self, x: f64) -> f64 {
        match self {
            Self::Inverse => 1.0 / x,
            Self::InverseSqrt => 1.0 / x.sqrt(),
        }
    }

    /// One Newton step in f64.
    fn step_f64(self, x: f64, y: f64) -> f64 {
        match self {
            Self::Inverse => 2.0 * y - x * y * y,
            Self::InverseSqrt => 1.5 * y - 0.5 * x * y * y * y,
        }
    }

    fn multiplications_per_step(self) -> usize {
        match self {
            Self::Inverse => 2,
            Self::InverseSqrt => 3,
        }
    }
}

/// A Newton-refined approximation of 1/x or 1/√x on a positive interval.
#[derive(Clone, Debug)]
pub struct Newton {
    target: NewtonTarget,
    initial: ChebyshevEvaluator,
    iterations: usize,
}

impl Newton {
    /// Initial guess: a Chebyshev series of degree `degree` fitted by `fit` on
    /// `domain` (which must be positive); then `iterations` Newton steps.
    pub fn new(target: NewtonTarget, domain: Domain, degree: usize, fit: Fit, iterations: usize) -> Result<Self> {
        if domain.lo() <= 0.0 {
            return Err(NnError::InvalidApprox {
                what: format!("{target:?}"),
                reason: format!("domain {domain} must be positive"),
            });
        }
        let series = ChebyshevSeries::fit(|x| target.reference(x), domain, degree, fit)?;
        Ok(Self { target, initial: ChebyshevEvaluator::new(series), iterations })
    }

    /// The function refined.
    #[must_use]
    pub fn target(&self) -> NewtonTarget {
        self.target
    }

    /// The initial guess.
    #[must_use]
    pub fn initial(&self) -> &ChebyshevEvaluator {
        &self.initial
    }

    /// Newton steps.
    #[must_use]
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Levels consumed: the initial guess's, plus 2 per step.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.initial.depth() + 2 * self.iterations
    }

    /// Ciphertext multiplications: the initial guess's, plus 2 (1/x) or 3 (1/√x) per step.
    #[must_use]
    pub fn multiplications(&self) -> usize {
        self.initial.multiplications() + self.iterations * self.target.multiplications_per_step()
    }

    /// The approximation in f64 (same polynomial, same steps).
    #[must_use]
    pub fn eval_f64(&self, x: f64) -> f64 {
        (0..self.iterations).fold(self.initial.series().eval(x), |y, _| self.target.step_f64(x, y))
    }

    /// The approximation at level `level(x) − depth()` with scale exactly `scale`.
    pub fn evaluate_at<A: Arith>(&self, a: &A, x: &A::Value, scale: f64) -> Result<A::Value> {
        let Some(guess_level) = a.level(x).checked_sub(self.depth()).map(|out| out + 2 * self.iterations) else {
            return Err(NnError::NotEnoughLevels {
                what: format!("{:?} with {} Newton steps", self.target, self.iterations),
                needed: self.depth(),
                level: a.level(x),
            });
        };
        // 1/√x multiplies by −x/2: an exact division by 2 through the scale.
        let factor = match self.target {
            NewtonTarget::Inverse => AtLevel::Same(x),
            NewtonTarget::InverseSqrt => AtLevel::Owned(a.mul_const_scaled(x, -0.5, 2.0)?),
        };
        let scales = self.step_scales(a, a.scale(&factor), guess_level, scale);
        let mut y = self.initial.evaluate_at(a, x, scales[0])?;
        for _ in 0..self.iterations {
            y = self.step(a, &factor, &y)?;
        }
        Ok(y)
    }

    /// Scales of y_0..=y_K such that y_K has scale `last`, y_0 being at `level`.
    fn step_scales<A: Arith>(&self, a: &A, factor_scale: f64, level: usize, last: f64) -> Vec<f64> {
        let q = |l: usize| a.params().level_modulus(l);
        let mut scales = vec![last; self.iterations + 1];
        for k in (0..self.iterations).rev() {
            let l = level - 2 * k;
            scales[k] = match self.target {
                // S' = S_x·S² / (q_l·q_(l−1))
                NewtonTarget::Inverse => (scales[k + 1] * q(l) * q(l - 1) / factor_scale).sqrt(),
                // S' = S_(−x/2)·S³ / (q_l²·q_(l−1))
                NewtonTarget::InverseSqrt => (scales[k + 1] * q(l) * q(l) * q(l - 1) / factor_scale).cbrt(),
            };
        }
        scales
    }

    /// One Newton step: y at level l → level l − 2. `factor` is x (1/x) or
    /// −x/2 (1/√x). Products are ordered so that each rescale's rounding
    /// noise is multiplied by values of size ≈ 1, never by x itself.
    fn step<A: Arith>(&self, a: &A, factor: &A::Value, y: &A::Value) -> Result<A::Value> {
        let l = a.level(y);
        let xy = finish(a, a.mul(&*at_level(a, factor, l)?, y)?)?;
        match self.target {
            NewtonTarget::Inverse => {
                let xy2 = a.mul(&xy, &*at_level(a, y, l - 1)?)?;
                let linear = scaled_term(a, y, 2.0, l - 1, a.scale(&xy2))?;
                finish(a, a.sub(&linear, &xy2)?)
            }
            NewtonTarget::InverseSqrt => {
                let xy3 = a.mul(&xy, &finish(a, a.mul(y, y)?)?)?;
                let linear = scaled_term(a, y, 1.5, l - 1, a.scale(&xy3))?;
                finish(a, a.add(&linear, &xy3)?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ckks::preset;
    use crate::nn::approx::PlainArith;

    #[test]
    fn each_step_squares_the_relative_error_and_lands_on_the_nominal_scale() {
        let a = PlainArith::new(Arc::new(preset("toy-n4096").unwrap()));
        let top = a.params().max_level();
        for (target, lo, hi) in [(NewtonTarget::Inverse, 1.0, 16.0), (NewtonTarget::InverseSqrt, 0.25, 4.0)] {
            let domain = Domain::new(lo, hi).unwrap();
            let xs: Vec<f64> = domain.grid(200).collect();
            let mut errors = Vec::new();
            for iterations in 0..=2 {
                let n = Newton::new(target, domain, 7, Fit::Interpolation, iterations).unwrap();
                let before = a.multiplications();
                let y = n.evaluate_at(&a, &a.encode(&xs, top).unwrap(), a.params().scale(top - n.depth())).unwrap();
                assert_eq!(y.level(), top - n.depth());
                assert_eq!(a.multiplications() - before, n.multiplications());
                assert!((y.scale() / a.params().scale(y.level()) - 1.0).abs() < 1e-12);
                let rel = xs.iter().zip(y.values()).map(|(&x, v)| (v * target.reference(x).recip() - 1.0).abs());
                errors.push(rel.fold(0.0, f64::max));
                for (&x, v) in xs.iter().zip(y.values()) {
                    assert!((v - n.eval_f64(x)).abs() < 1e-7, "{target:?} mirror vs f64 at {x}");
                }
            }
            assert!(errors[0] < 0.05 && errors[1] < 2.0 * errors[0] * errors[0] && errors[2] < 1e-5, "{errors:?}");
        }
    }

    #[test]
    fn non_positive_domains_are_rejected() {
        assert!(Newton::new(NewtonTarget::Inverse, Domain::new(0.0, 1.0).unwrap(), 7, Fit::Interpolation, 1).is_err());
    }
}
