//! Input domains of approximations, the affine map onto [-1, 1] that
//! Chebyshev series use, and the plaintext-side domain check.

use serde::Serialize;

use crate::nn::{NnError, Result};

/// A closed interval [lo, hi] on which an approximation is accurate.
///
/// Outside it a polynomial approximation is not merely less accurate: a
/// Chebyshev series of degree d grows like (|u| + √(u² − 1))^d for |u| > 1,
/// Newton iterations may diverge and composite sign polynomials blow up, so
/// the result can be arbitrarily wrong (and, past the ciphertext modulus,
/// decrypt to garbage). Encrypted values cannot be checked: the compute party
/// cannot see them, and a comparison on ciphertexts is itself such an
/// approximation. Whoever still holds the plaintext (the data party before
/// encryption) calls [`Domain::check`]; everyone else must rely on bounds
/// known from the model (e.g. a layer norm before the activation).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Domain {
    lo: f64,
    hi: f64,
}

impl Domain {
    /// The interval [-1, 1], where Chebyshev series need no change of variable.
    pub const UNIT: Self = Self { lo: -1.0, hi: 1.0 };

    /// [lo, hi]; both finite with lo < hi.
    pub fn new(lo: f64, hi: f64) -> Result<Self> {
        if lo.is_finite() && hi.is_finite() && lo < hi {
            Ok(Self { lo, hi })
        } else {
            Err(NnError::InvalidApprox { what: "domain".into(), reason: format!("[{lo}, {hi}] is not an interval") })
        }
    }

    /// Lower end.
    #[must_use]
    pub fn lo(&self) -> f64 {
        self.lo
    }

    /// Upper end.
    #[must_use]
    pub fn hi(&self) -> f64 {
        self.hi
    }

    /// Whether `x` lies in the interval (false for NaN).
    #[must_use]
    pub fn contains(&self, x: f64) -> bool {
        (self.lo..=self.hi).contains(&x)
    }

    /// (α, β) of the affine map u = α·x + β that sends [lo, hi] onto [-1, 1].
    #[must_use]
    pub fn to_unit(&self) -> (f64, f64) {
        let alpha = 2.0 / (self.hi - self.lo);
        (alpha, -(self.hi + self.lo) / (self.hi - self.lo))
    }

    /// `points` ≥ 2 equally spaced points from lo to hi (both included): the
    /// dense grid on which plaintext errors are measured.
    pub fn grid(&self, points: usize) -> impl Iterator<Item = f64> + '_ {
        let steps = points.max(2) - 1;
        (0..=steps).map(move |i| self.lo + (self.hi - self.lo) * i as f64 / steps as f64)
    }

    /// Checks known plaintext values (e.g. the data party's, before
    /// encryption): an error naming the first value outside [lo, hi] (or NaN).
    pub fn check(&self, values: &[f64]) -> Result<()> {
        let mut outside = values.iter().enumerate().filter(|(_, v)| !self.contains(**v));
        let Some((index, &value)) = outside.next() else {
            return Ok(());
        };
        Err(NnError::OutOfDomain {
            what: "input".into(),
            lo: self.lo,
            hi: self.hi,
            index,
            value,
            count: 1 + outside.count(),
        })
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {}]", self.lo, self.hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_sends_the_ends_to_minus_one_and_one() {
        let d = Domain::new(-8.0, 0.5).unwrap();
        let (a, b) = d.to_unit();
        assert!((a * d.lo() + b + 1.0).abs() < 1e-15 && (a * d.hi() + b - 1.0).abs() < 1e-15);
        assert_eq!(Domain::UNIT.to_unit(), (1.0, 0.0));
        let grid: Vec<f64> = d.grid(3).collect();
        assert_eq!(grid, vec![-8.0, -3.75, 0.5]);
    }

    #[test]
    fn check_reports_the_first_offender_and_the_count() {
        let d = Domain::new(-1.0, 2.0).unwrap();
        assert!(d.check(&[-1.0, 0.0, 2.0]).is_ok());
        match d.check(&[0.0, 2.5, f64::NAN, -3.0]) {
            Err(NnError::OutOfDomain { index: 1, value, count: 3, .. }) => assert_eq!(value, 2.5),
            other => panic!("unexpected {other:?}"),
        }
        assert!(Domain::new(1.0, 1.0).is_err() && Domain::new(0.0, f64::INFINITY).is_err());
    }
}
