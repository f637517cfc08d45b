//! ReLU and max through a composite sign approximation: odd polynomials on
//! [-1, 1], each pushing its input towards ±1, composed in stages
//! (Cheon–Kim–Kim 2020, "Efficient homomorphic comparison methods with
//! optimal complexity"; Lee et al. compose minimax stages the same way).
//!
//! ReLU(x) = x·step(x) with step = (1 + sign)/2 folded into the last stage's
//! coefficients, and max(u, v) = v + ReLU(u − v). The error near 0 is
//! harmless for ReLU: where the sign is poor, |x| is small.
//!
//! Out of domain: the stages map [-1, 1] into itself but grow like x^d
//! outside, so |x| beyond the bound (after the map x/bound) blows up.

use super::arith::{Arith, AtLevel, at_level, finish};
use super::{ChebyshevEvaluator, ChebyshevSeries, Domain};
use crate::nn::{NnError, Result};

/// One stage of a composite sign approximation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignStage {
    /// f_n(x) = Σ_(i=0..n) C(2i, i)/4^i · x·(1 − x²)^i, n in 1..=4: f_n(±1) = ±1
    /// and f_n is flat to order n there, so it polishes values already near ±1
    /// (f_n'(0) only 1.5 to 2.5).
    F(u8),
    /// g_n, n in 1..=4 (Cheon–Kim–Kim's polynomials, coefficients over 2^10):
    /// steeper at 0 (g_n'(0) ≈ 2.08, 3.26, 4.48, 5.71) while mapping [-1, 1]
    /// into itself, so they move small values away from 0 fast; f_n finish.
    G(u8),
}

impl SignStage {
    /// Degree 2n + 1.
    #[must_use]
    pub fn degree(self) -> usize {
        let (Self::F(n) | Self::G(n)) = self;
        2 * usize::from(n) + 1
    }

    /// Coefficients of x^0, x^1, ... (odd powers only are non-zero).
    fn monomial(self) -> Result<Vec<f64>> {
        const G: [&[f64]; 4] = [
            &[2126.0, -1359.0],
            &[3334.0, -6108.0, 3796.0],
            &[4589.0, -16577.0, 25614.0, -12860.0],
            &[5850.0, -34974.0, 97015.0, -113492.0, 46623.0],
        ];
        let odd: Vec<f64> = match self {
            Self::F(n @ 1..=4) => {
                // Σ_i C(2i, i)/4^i · x(1 − x²)^i, expanded: coefficient of x^(2j+1).
                let n = usize::from(n);
                let binom = |a: usize, b: usize| (0..b).fold(1.0, |acc, k| acc * (a - k) as f64 / (k + 1) as f64);
                (0..=n)
                    .map(|j| {
                        let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
                        (j..=n).map(|i| binom(2 * i, i) / 4f64.powi(i as i32) * binom(i, j)).sum::<f64>() * sign
                    })
                    .collect()
            }
            Self::G(n @ 1..=4) => G[usize::from(n) - 1].iter().map(|c| c / 1024.0).collect(),
            _ => {
                return Err(NnError::InvalidApprox {
                    what: "sign stage".into(),
                    reason: format!("{self:?}: n must be in 1..=4"),
                });
            }
        };
        let mut monomial = vec![0.0; 2 * odd.len()];
        for (j, c) in odd.into_iter().enumerate() {
            monomial[2 * j + 1] = c;
        }
        Ok(monomial)
    }
}

/// ReLU on [-bound, bound] as x·step(x), step from composite sign stages.
#[derive(Clone, Debug)]
pub struct Relu {
    domain: Domain,
    stages: Vec<ChebyshevEvaluator>,
}

impl Relu {
    /// ReLU on [-bound, bound]: the first stage also maps x to x/bound (free
    /// when 1/bound is an integer), the last one is folded into (1 + s)/2.
    pub fn new(bound: f64, stages: &[SignStage]) -> Result<Self> {
        let domain = Domain::new(-bound, bound)?;
        if stages.is_empty() {
            return Err(NnError::InvalidApprox { what: "relu".into(), reason: "no sign stages".into() });
        }
        let last = stages.len() - 1;
        let stages = stages
            .iter()
            .enumerate()
            .map(|(i, stage)| {
                let mut series = ChebyshevSeries::from_monomial(&stage.monomial()?)?;
                if i == 0 {
                    series = ChebyshevSeries::new(series.coeffs().to_vec(), domain)?;
                }
                if i == last {
                    series = series.affine_output(0.5, 0.5);
                }
                Ok(ChebyshevEvaluator::new(series))
            })
            .collect::<Result<_>>()?;
        Ok(Self { domain, stages })
    }

    /// [-bound, bound].
    #[must_use]
    pub fn domain(&self) -> Domain {
        self.domain
    }

    /// Degrees of the stages, first to last.
    #[must_use]
    pub fn degrees(&self) -> Vec<usize> {
        self.stages.iter().map(|s| s.series().degree()).collect()
    }

    /// Levels consumed: the stages', plus 1 for the product with x.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.stages.iter().map(ChebyshevEvaluator::depth).sum::<usize>() + 1
    }

    /// Ciphertext multiplications: the stages', plus 1.
    #[must_use]
    pub fn multiplications(&self) -> usize {
        self.stages.iter().map(ChebyshevEvaluator::multiplications).sum::<usize>() + 1
    }

    /// The approximation in f64.
    #[must_use]
    pub fn eval_f64(&self, x: f64) -> f64 {
        x * self.stages.iter().fold(x, |y, s| s.series().eval(y))
    }

    /// ReLU(x) at level `level(x) − depth()` with scale exactly `scale`.
    pub fn evaluate_at<A: Arith>(&self, a: &A, x: &A::Value, scale: f64) -> Result<A::Value> {
        let Some(step_level) = a.level(x).checked_sub(self.depth()).map(|out| out + 1) else {
            return Err(NnError::NotEnoughLevels { what: "relu".into(), needed: self.depth(), level: a.level(x) });
        };
        let (last, first) = self.stages.split_last().expect("at least one stage");
        let mut y = AtLevel::Same(x);
        for stage in first {
            y = AtLevel::Owned(stage.evaluate(a, &y)?);
        }
        // x (dropped, its scale kept) · step must land on `scale` after the rescale.
        let step_scale = scale * a.params().level_modulus(step_level) / a.scale(x);
        let step = last.evaluate_at(a, &y, step_scale)?;
        finish(a, a.mul(&*at_level(a, x, step_level)?, &step)?)
    }

    /// max(u, v) = v + ReLU(u − v) slot-wise, for u − v in the domain; u and
    /// v at the same level and scale. The result keeps v's scale.
    pub fn max<A: Arith>(&self, a: &A, u: &A::Value, v: &A::Value) -> Result<A::Value> {
        let relu = self.evaluate_at(a, &a.sub(u, v)?, a.scale(v))?;
        a.add(&*at_level(a, v, a.level(&relu))?, &relu)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ckks::preset;
    use crate::nn::approx::PlainArith;

    #[test]
    fn stages_are_odd_map_the_unit_interval_into_itself_and_sharpen() {
        for stage in (1..=4).flat_map(|n| [SignStage::F(n), SignStage::G(n)]) {
            let s = ChebyshevSeries::from_monomial(&stage.monomial().unwrap()).unwrap();
            assert_eq!(s.degree(), stage.degree());
            for x in Domain::UNIT.grid(2001) {
                let y = s.eval(x);
                assert!(y.abs() <= 1.0 + 1e-12 && (y + s.eval(-x)).abs() < 1e-12, "{stage:?} at {x}: {y}");
                if x > 0.0 && x < 0.5 {
                    assert!(y > 1.2 * x, "{stage:?} does not push {x} away from 0: {y}");
                }
            }
            if let SignStage::F(_) = stage {
                assert!((s.eval(1.0) - 1.0).abs() < 1e-12);
            }
        }
        assert!(SignStage::F(5).monomial().is_err());
    }

    #[test]
    fn relu_and_max_on_the_mirror() {
        let a = PlainArith::new(Arc::new(preset("toy-n4096").unwrap()));
        let top = a.params().max_level();
        let relu = Relu::new(2.0, &[SignStage::G(1), SignStage::F(1)]).unwrap();
        assert_eq!((relu.depth(), relu.degrees()), (6, vec![3, 3]));
        let xs: Vec<f64> = relu.domain().grid(401).collect();
        let plain_error = xs.iter().map(|&x| (relu.eval_f64(x) - x.max(0.0)).abs()).fold(0.0, f64::max);
        assert!(plain_error < 0.1, "{plain_error}");
        let y = relu.evaluate_at(&a, &a.encode(&xs, top).unwrap(), a.params().scale(top - 6)).unwrap();
        assert_eq!((y.level(), a.multiplications()), (top - 6, relu.multiplications()));
        for (&x, v) in xs.iter().zip(y.values()) {
            assert!((v - relu.eval_f64(x)).abs() < 1e-7);
        }
        let (u, v) = (a.encode(&[0.5, -1.0, 0.25], top).unwrap(), a.encode(&[0.2, 0.5, 0.25], top).unwrap());
        let m = relu.max(&a, &u, &v).unwrap();
        for (got, want) in m.values().iter().zip([0.5, 0.5, 0.25]) {
            assert!((got - want).abs() < 2.0 * plain_error, "{got} vs {want}");
        }
    }
}
