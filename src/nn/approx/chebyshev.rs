//! Chebyshev series on an interval: fitting by interpolation at Chebyshev
//! nodes (minimax fitting is in `remez.rs`), exact conversion from the monomial basis, evaluation (Clenshaw),
//! the plaintext max error on a dense grid, and division by T_n (the step
//! behind baby-step giant-step evaluation).

use std::f64::consts::PI;

use super::Domain;
use crate::nn::{NnError, Result};

/// Coefficients smaller than this fraction of the largest one are set to
/// zero: they are below f64 evaluation noise, and zeros (the even terms of an
/// odd function) are skipped on ciphertexts.
const NEGLIGIBLE: f64 = 1e-15;

/// Largest supported degree: far beyond any depth a preset offers.
pub const MAX_DEGREE: usize = 1 << 10;

/// How a series is fitted to a function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fit {
    /// Interpolation at Chebyshev nodes: fast, near-minimax.
    #[default]
    Interpolation,
    /// Remez exchange: the minimax polynomial (smallest max error).
    Minimax,
}

/// p(x) = Σ c_k·T_k(u) with u = α·x + β mapping the domain onto [-1, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct ChebyshevSeries {
    coeffs: Vec<f64>,
    domain: Domain,
}

impl ChebyshevSeries {
    /// A series from its coefficients (c_0 first). Negligible coefficients are
    /// zeroed and trailing zeros dropped; the degree must then be at least 1.
    pub fn new(mut coeffs: Vec<f64>, domain: Domain) -> Result<Self> {
        let invalid = |reason: String| NnError::InvalidApprox { what: "chebyshev series".into(), reason };
        if coeffs.iter().any(|c| !c.is_finite()) {
            return Err(invalid("coefficients must be finite".into()));
        }
        let largest = coeffs.iter().fold(0.0f64, |m, c| m.max(c.abs()));
        for c in &mut coeffs {
            if c.abs() <= NEGLIGIBLE * largest {
                *c = 0.0;
            }
        }
        while coeffs.last() == Some(&0.0) {
            coeffs.pop();
        }
        match coeffs.len() {
            0 | 1 => Err(invalid("the polynomial is constant; nothing to evaluate".into())),
            n if n > MAX_DEGREE + 1 => Err(invalid(format!("degree {} exceeds {MAX_DEGREE}", n - 1))),
            _ => Ok(Self { coeffs, domain }),
        }
    }

    /// Interpolates `f` at the `degree` + 1 Chebyshev nodes of the first kind
    /// of `domain`: within a factor 2 + (2/π)·ln(degree + 1) of the best
    /// (minimax) approximation of that degree, and far easier to compute.
    pub fn interpolate(f: impl Fn(f64) -> f64, domain: Domain, degree: usize) -> Result<Self> {
        if degree == 0 || degree > MAX_DEGREE {
            return Err(NnError::InvalidApprox {
                what: "chebyshev fit".into(),
                reason: format!("degree {degree} is outside [1, {MAX_DEGREE}]"),
            });
        }
        let n = degree + 1;
        let angles: Vec<f64> = (0..n).map(|j| PI * (j as f64 + 0.5) / n as f64).collect();
        let (alpha, beta) = domain.to_unit();
        let values: Vec<f64> = angles.iter().map(|t| f((t.cos() - beta) / alpha)).collect();
        let mut coeffs: Vec<f64> = (0..n)
            .map(|k| 2.0 / n as f64 * values.iter().zip(&angles).map(|(v, t)| v * (k as f64 * t).cos()).sum::<f64>())
            .collect();
        coeffs[0] /= 2.0;
        Self::new(coeffs, domain)
    }

    /// `f` fitted on `domain` with a polynomial of degree `degree`, by `fit`.
    pub fn fit(f: impl Fn(f64) -> f64, domain: Domain, degree: usize, fit: Fit) -> Result<Self> {
        match fit {
            Fit::Interpolation => Self::interpolate(f, domain, degree),
            Fit::Minimax => Self::minimax(f, domain, degree),
        }
    }

    /// The polynomial Σ a_i·x^i on [-1, 1], converted exactly (up to rounding)
    /// to the Chebyshev basis with x·T_k = (T_(k+1) + T_|k-1|)/2.
    pub fn from_monomial(monomial: &[f64]) -> Result<Self> {
        let mut coeffs = vec![0.0; monomial.len()];
        // x^i in the Chebyshev basis, starting from x^0 = T_0.
        let mut power = vec![1.0];
        for (i, &a) in monomial.iter().enumerate() {
            for (c, p) in coeffs.iter_mut().zip(&power) {
                *c += a * p;
            }
            if i + 1 < monomial.len() {
                let mut next = vec![0.0; power.len() + 1];
                for (k, &p) in power.iter().enumerate() {
                    next[k + 1] += if k == 0 { p } else { p / 2.0 };
                    if k > 0 {
                        next[k - 1] += p / 2.0;
                    }
                }
                power = next;
            }
        }
        Self::new(coeffs, Domain::UNIT)
    }

    /// Coefficients c_0..=c_degree.
    #[must_use]
    pub fn coeffs(&self) -> &[f64] {
        &self.coeffs
    }

    /// Degree (the last coefficient is non-zero).
    #[must_use]
    pub fn degree(&self) -> usize {
        self.coeffs.len() - 1
    }

    /// The interval the series approximates on.
    #[must_use]
    pub fn domain(&self) -> Domain {
        self.domain
    }

    /// The same polynomial composed with y ↦ a·y + b on its output.
    #[must_use]
    pub fn affine_output(&self, a: f64, b: f64) -> Self {
        let mut coeffs: Vec<f64> = self.coeffs.iter().map(|c| a * c).collect();
        coeffs[0] += b;
        Self { coeffs, domain: self.domain }
    }

    /// p(x) by Clenshaw's recurrence (defined outside the domain too, where it
    /// quickly stops approximating anything).
    #[must_use]
    pub fn eval(&self, x: f64) -> f64 {
        let (alpha, beta) = self.domain.to_unit();
        clenshaw(&self.coeffs, alpha * x + beta)
    }

    /// max |p(x) − f(x)| over a dense grid of the domain (see [`grid_points`]).
    #[must_use]
    pub fn max_error(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.domain.grid(grid_points(self.degree())).map(|x| (self.eval(x) - f(x)).abs()).fold(0.0, f64::max)
    }
}

/// Σ c_k·T_k(u) by Clenshaw's recurrence (c non-empty).
pub(super) fn clenshaw(coeffs: &[f64], u: f64) -> f64 {
    let (mut b1, mut b2) = (0.0, 0.0);
    for &c in coeffs[1..].iter().rev() {
        (b1, b2) = (2.0 * u * b1 - b2 + c, b1);
    }
    u * b1 - b2 + coeffs[0]
}

/// Points of the dense grid on which the plaintext error of a degree-d
/// approximation is measured: 64 per degree (so every oscillation of the
/// error is sampled finely), at least 4097.
#[must_use]
pub fn grid_points(degree: usize) -> usize {
    (64 * (degree + 1)).max(4097)
}

/// Splits p = Σ_(k ≤ deg) c_k·T_k, with n ≤ deg < 2n, as p = q·T_n + r with
/// deg q = deg − n and deg r < n, using 2·T_n·T_(k−n) = T_k + T_(2n−k).
/// Returns (q, r).
pub(super) fn divide_by_t(coeffs: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let deg = coeffs.len() - 1;
    debug_assert!(n >= 1 && n <= deg && deg < 2 * n, "divide_by_t needs n ≤ deg < 2n");
    let mut r = coeffs[..n].to_vec();
    let mut q = vec![0.0; deg - n + 1];
    q[0] = coeffs[n];
    for k in n + 1..=deg {
        q[k - n] = 2.0 * coeffs[k];
        r[2 * n - k] -= coeffs[k];
    }
    (q, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheb_t(k: usize, u: f64) -> f64 {
        (k as f64 * u.clamp(-1.0, 1.0).acos()).cos()
    }

    #[test]
    fn interpolation_is_exact_for_polynomials_and_converges_for_smooth_functions() {
        let d = Domain::new(-2.0, 3.0).unwrap();
        let cubic = |x: f64| 1.0 - 2.0 * x + 0.5 * x * x * x;
        let s = ChebyshevSeries::interpolate(cubic, d, 5).unwrap();
        assert_eq!(s.degree(), 3, "higher coefficients vanish: {:?}", s.coeffs());
        assert!(s.max_error(cubic) < 1e-12);
        let e7 = ChebyshevSeries::interpolate(f64::exp, d, 7).unwrap().max_error(f64::exp);
        let e15 = ChebyshevSeries::interpolate(f64::exp, d, 15).unwrap().max_error(f64::exp);
        assert!(e15 < 1e-9 && e15 < e7 / 1e4, "{e7:e} {e15:e}");
    }

    #[test]
    fn odd_functions_get_exact_zero_even_coefficients() {
        let s = ChebyshevSeries::interpolate(f64::tanh, Domain::new(-4.0, 4.0).unwrap(), 15).unwrap();
        assert!(s.coeffs().iter().step_by(2).all(|&c| c == 0.0), "{:?}", s.coeffs());
    }

    #[test]
    fn monomial_conversion_matches_direct_evaluation() {
        let mono = [0.25, 1.875, 0.0, -1.25, 0.0, 0.375];
        let s = ChebyshevSeries::from_monomial(&mono).unwrap();
        for x in Domain::UNIT.grid(101) {
            let direct: f64 = mono.iter().enumerate().map(|(i, a)| a * x.powi(i as i32)).sum();
            assert!((s.eval(x) - direct).abs() < 1e-14);
        }
    }

    #[test]
    fn division_by_t_n_reconstructs_the_polynomial() {
        let coeffs = [0.3, -1.0, 0.7, 0.2, -0.4, 0.9, 0.05];
        let (q, r) = divide_by_t(&coeffs, 4);
        assert_eq!((q.len(), r.len()), (3, 4));
        for u in Domain::UNIT.grid(57) {
            let eval = |c: &[f64]| c.iter().enumerate().map(|(k, a)| a * cheb_t(k, u)).sum::<f64>();
            assert!((eval(&q) * cheb_t(4, u) + eval(&r) - eval(&coeffs)).abs() < 1e-13);
        }
    }

    #[test]
    fn bad_series_are_rejected() {
        assert!(ChebyshevSeries::interpolate(f64::exp, Domain::UNIT, 0).is_err());
        assert!(ChebyshevSeries::new(vec![1.0, 0.0], Domain::UNIT).is_err());
        assert!(ChebyshevSeries::new(vec![1.0, f64::NAN], Domain::UNIT).is_err());
        let shifted = ChebyshevSeries::new(vec![0.0, 1.0], Domain::UNIT).unwrap().affine_output(0.5, 0.5);
        assert_eq!(shifted.eval(1.0), 1.0);
    }
}
