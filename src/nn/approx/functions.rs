//! Named approximations, each with a declared input domain, a default
//! degree, its depth (levels consumed) and its multiplication count:
//!
//! | name     | domain    | default                        | plaintext error | depth | mults |
//! |----------|-----------|--------------------------------|-----------------|-------|-------|
//! | sigmoid  | [-8, 8]   | Chebyshev degree 31            | ≈ 3e-6          | 6     | 12    |
//! | tanh     | [-4, 4]   | Chebyshev degree 31            | ≈ 6e-6          | 6     | 12    |
//! | gelu     | [-8, 8]   | Chebyshev degree 30 (x/2 + even) | ≈ 8e-5        | 6     | 9     |
//! | exp      | [-16, 0]  | Chebyshev degree 15            | ≈ 5e-7          | 5     | 8     |
//! | inverse  | [1, 16]   | degree 15 + 1 Newton step      | ≈ 3e-7          | 7     | 10    |
//! | inv_sqrt | [0.25, 4] | degree 15 + 1 Newton step      | ≈ 7e-8          | 7     | 11    |
//! | relu     | [-1, 1]   | x·step, sign stages g3∘g3∘f3∘f3 | ≈ 1.4e-3       | 13    | 21    |
//!
//! GELU is the erf form of BERT-style encoders; exp is meant for softmax
//! (inputs shifted to be ≤ 0), 1/x for its denominator, 1/√x for layer norm.
//! Remez minimax fits ([`Approximation::with_fit`]) lower these errors by
//! about a third (not 1/x's: Newton squares the *relative* error).
//!
//! Depth includes the change of variable onto [-1, 1] (one level unless the
//! domain's 2/(hi − lo) is an integer); a caller whose previous layer is
//! linear can fold that map into its weights and build the approximation on
//! the mapped domain instead. Out-of-domain behaviour: see [`Domain`].

use super::arith::Arith;
use super::composite::{Relu, SignStage};
use super::newton::{Newton, NewtonTarget};
use super::{ChebyshevEvaluator, ChebyshevSeries, Domain, Fit, grid_points, reference};
use crate::nn::{NnError, Result};

/// Names accepted by [`Approximation::by_name`], in table order.
pub const FUNCTION_NAMES: [&str; 7] = ["sigmoid", "tanh", "gelu", "exp", "inverse", "inv_sqrt", "relu"];

/// Stages of the default ReLU: two steep g_3 stages, then two f_3 to polish.
pub const DEFAULT_RELU_STAGES: [SignStage; 4] = [SignStage::G(3), SignStage::G(3), SignStage::F(3), SignStage::F(3)];

/// How an approximation is computed.
#[derive(Clone, Debug)]
enum Method {
    Chebyshev(ChebyshevEvaluator),
    Newton(Newton),
    Relu(Relu),
}

/// A named function approximation that runs on ciphertexts (or the mirror).
#[derive(Clone, Debug)]
pub struct Approximation {
    name: String,
    domain: Domain,
    reference: fn(f64) -> f64,
    method: Method,
}

impl Approximation {
    /// `name` approximated by the Chebyshev interpolant of `f` of `degree` on `domain`.
    pub fn chebyshev(name: &str, f: fn(f64) -> f64, domain: Domain, degree: usize) -> Result<Self> {
        let series = ChebyshevSeries::interpolate(f, domain, degree)?;
        Ok(Self { name: name.into(), domain, reference: f, method: Method::Chebyshev(ChebyshevEvaluator::new(series)) })
    }

    /// Logistic sigmoid.
    pub fn sigmoid(domain: Domain, degree: usize) -> Result<Self> {
        Self::chebyshev("sigmoid", reference::sigmoid, domain, degree)
    }

    /// Hyperbolic tangent.
    pub fn tanh(domain: Domain, degree: usize) -> Result<Self> {
        Self::chebyshev("tanh", f64::tanh, domain, degree)
    }

    /// GELU (erf form).
    pub fn gelu(domain: Domain, degree: usize) -> Result<Self> {
        Self::chebyshev("gelu", reference::gelu, domain, degree)
    }

    /// e^x; for softmax use a domain [-r, 0] (inputs shifted by their bound).
    pub fn exp(domain: Domain, degree: usize) -> Result<Self> {
        Self::chebyshev("exp", f64::exp, domain, degree)
    }

    /// 1/x on a positive domain: initial interpolant plus Newton steps.
    pub fn inverse(domain: Domain, degree: usize, iterations: usize) -> Result<Self> {
        Self::newton("inverse", NewtonTarget::Inverse, domain, degree, iterations)
    }

    /// 1/√x on a positive domain: initial interpolant plus Newton steps.
    pub fn inv_sqrt(domain: Domain, degree: usize, iterations: usize) -> Result<Self> {
        Self::newton("inv_sqrt", NewtonTarget::InverseSqrt, domain, degree, iterations)
    }

    fn newton(name: &str, target: NewtonTarget, domain: Domain, degree: usize, iterations: usize) -> Result<Self> {
        let reference = match target {
            NewtonTarget::Inverse => f64::recip,
            NewtonTarget::InverseSqrt => |x: f64| x.sqrt().recip(),
        };
        let newton = Newton::new(target, domain, degree, Fit::Interpolation, iterations)?;
        Ok(Self { name: name.into(), domain, reference, method: Method::Newton(newton) })
    }

    /// ReLU on [-bound, bound] from composite sign `stages`.
    pub fn relu(bound: f64, stages: &[SignStage]) -> Result<Self> {
        let relu = Relu::new(bound, stages)?;
        Ok(Self { name: "relu".into(), domain: relu.domain(), reference: |x| x.max(0.0), method: Method::Relu(relu) })
    }

    /// The named function with its default domain and degree (see the module table).
    pub fn by_name(name: &str) -> Result<Self> {
        let domain = |lo, hi| Domain::new(lo, hi);
        match name {
            "sigmoid" => Self::sigmoid(domain(-8.0, 8.0)?, 31),
            "tanh" => Self::tanh(domain(-4.0, 4.0)?, 31),
            "gelu" => Self::gelu(domain(-8.0, 8.0)?, 30),
            "exp" => Self::exp(domain(-16.0, 0.0)?, 15),
            "inverse" => Self::inverse(domain(1.0, 16.0)?, 15, 1),
            "inv_sqrt" => Self::inv_sqrt(domain(0.25, 4.0)?, 15, 1),
            "relu" => Self::relu(1.0, &DEFAULT_RELU_STAGES),
            _ => Err(NnError::InvalidApprox {
                what: format!("function {name:?}"),
                reason: format!("unknown; known: {}", FUNCTION_NAMES.join(", ")),
            }),
        }
    }

    /// The same approximation with its polynomial refitted by `fit` at the
    /// series' degree (after negligible top coefficients were dropped); ReLU's
    /// sign stages are fixed polynomials and stay as they are.
    pub fn with_fit(&self, fit: Fit) -> Result<Self> {
        let method = match &self.method {
            Method::Chebyshev(e) => Method::Chebyshev(ChebyshevEvaluator::new(ChebyshevSeries::fit(
                self.reference,
                self.domain,
                e.series().degree(),
                fit,
            )?)),
            Method::Newton(n) => Method::Newton(Newton::new(
                n.target(),
                self.domain,
                n.initial().series().degree(),
                fit,
                n.iterations(),
            )?),
            Method::Relu(r) => Method::Relu(r.clone()),
        };
        Ok(Self { method, ..self.clone() })
    }

    /// Name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Input domain.
    #[must_use]
    pub fn domain(&self) -> Domain {
        self.domain
    }

    /// Degree, as a table shows it: "31", "15+1 Newton", "7∘7∘7∘7".
    #[must_use]
    pub fn degree_label(&self) -> String {
        match &self.method {
            Method::Chebyshev(e) => e.series().degree().to_string(),
            Method::Newton(n) => format!("{}+{} Newton", n.initial().series().degree(), n.iterations()),
            Method::Relu(r) => r.degrees().iter().map(usize::to_string).collect::<Vec<_>>().join("∘"),
        }
    }

    /// Levels consumed: the output is at input level − depth.
    #[must_use]
    pub fn depth(&self) -> usize {
        match &self.method {
            Method::Chebyshev(e) => e.depth(),
            Method::Newton(n) => n.depth(),
            Method::Relu(r) => r.depth(),
        }
    }

    /// Ciphertext-ciphertext multiplications per evaluation.
    #[must_use]
    pub fn multiplications(&self) -> usize {
        match &self.method {
            Method::Chebyshev(e) => e.multiplications(),
            Method::Newton(n) => n.multiplications(),
            Method::Relu(r) => r.multiplications(),
        }
    }

    /// The exact function.
    #[must_use]
    pub fn reference(&self, x: f64) -> f64 {
        (self.reference)(x)
    }

    /// The approximation in f64 arithmetic.
    #[must_use]
    pub fn eval_f64(&self, x: f64) -> f64 {
        match &self.method {
            Method::Chebyshev(e) => e.series().eval(x),
            Method::Newton(n) => n.eval_f64(x),
            Method::Relu(r) => r.eval_f64(x),
        }
    }

    /// Plaintext max error |approximation − function| over a dense grid of the domain.
    #[must_use]
    pub fn plain_error(&self) -> f64 {
        let degree = match &self.method {
            Method::Chebyshev(e) => e.series().degree(),
            Method::Newton(n) => n.initial().series().degree(),
            // x times a composition: degree 1 + the product of the stages'.
            Method::Relu(r) => 1 + r.degrees().iter().product::<usize>(),
        };
        let points = grid_points(degree);
        self.domain.grid(points).map(|x| (self.eval_f64(x) - self.reference(x)).abs()).fold(0.0, f64::max)
    }

    /// [`Domain::check`] with this function's name in the error: for the
    /// data party, on plaintext values before encryption.
    pub fn check_input(&self, values: &[f64]) -> Result<()> {
        self.domain.check(values).map_err(|e| match e {
            NnError::OutOfDomain { lo, hi, index, value, count, .. } => {
                NnError::OutOfDomain { what: self.name.clone(), lo, hi, index, value, count }
            }
            other => other,
        })
    }

    /// The approximation at level `level(x) − depth()`, nominal scale.
    pub fn evaluate<A: Arith>(&self, a: &A, x: &A::Value) -> Result<A::Value> {
        let level = a.level(x).checked_sub(self.depth()).ok_or_else(|| self.not_enough_levels(a.level(x)))?;
        self.evaluate_at(a, x, a.params().scale(level))
    }

    /// The approximation at level `level(x) − depth()` with scale exactly `scale`.
    pub fn evaluate_at<A: Arith>(&self, a: &A, x: &A::Value, scale: f64) -> Result<A::Value> {
        if a.level(x) < self.depth() {
            return Err(self.not_enough_levels(a.level(x)));
        }
        match &self.method {
            Method::Chebyshev(e) => e.evaluate_at(a, x, scale),
            Method::Newton(n) => n.evaluate_at(a, x, scale),
            Method::Relu(r) => r.evaluate_at(a, x, scale),
        }
    }

    fn not_enough_levels(&self, level: usize) -> NnError {
        NnError::NotEnoughLevels { what: self.name.clone(), needed: self.depth(), level }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_meet_the_documented_errors_and_depths() {
        let documented = [
            ("sigmoid", 3.5e-6, 6),
            ("tanh", 7e-6, 6),
            ("gelu", 1e-4, 6),
            ("exp", 6e-7, 5),
            ("inverse", 4e-7, 7),
            ("inv_sqrt", 2e-7, 7),
            ("relu", 1.5e-3, 13),
        ];
        for (name, error, depth) in documented {
            let f = Approximation::by_name(name).unwrap();
            assert_eq!(f.name(), name);
            let e = f.plain_error();
            assert!(e < error && e > error / 20.0, "{name}: plaintext error {e:e}");
            assert_eq!(f.depth(), depth, "{name}");
        }
        assert!(Approximation::by_name("softplus").unwrap_err().to_string().contains("known: sigmoid"));
    }

    #[test]
    fn minimax_refits_keep_degree_and_depth_and_lower_the_error() {
        for name in ["sigmoid", "gelu", "inv_sqrt", "relu"] {
            let f = Approximation::by_name(name).unwrap();
            let g = f.with_fit(Fit::Minimax).unwrap();
            assert_eq!((g.degree_label(), g.depth()), (f.degree_label(), f.depth()), "{name}");
            assert!(g.plain_error() <= f.plain_error(), "{name}: {} vs {}", g.plain_error(), f.plain_error());
        }
    }

    #[test]
    fn check_input_names_the_function() {
        let f = Approximation::by_name("sigmoid").unwrap();
        assert!(f.check_input(&[-8.0, 0.0, 8.0]).is_ok());
        let err = f.check_input(&[0.0, 9.0]).unwrap_err().to_string();
        assert!(err.starts_with("sigmoid: 1 value(s) outside the domain [-8, 8]"), "{err}");
    }
}
