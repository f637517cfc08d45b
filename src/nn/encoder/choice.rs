//! The cheapest approximation that is accurate enough: candidates are
//! tried in order of depth and the first whose plaintext error, relative to
//! the function's largest magnitude on the domain, is within tolerance wins.

use crate::nn::Result;
use crate::nn::approx::Approximation;

/// Relative plaintext error every encoder approximation must meet.
pub const TOLERANCE: f64 = 1e-4;

/// The first of `candidates` (degree, Newton steps), built by `build`,
/// within [`TOLERANCE`]; the last one if none is.
pub fn cheapest(
    candidates: &[(usize, usize)],
    build: impl Fn(usize, usize) -> Result<Approximation>,
) -> Result<Approximation> {
    let mut last = None;
    for &(degree, steps) in candidates {
        let approx = build(degree, steps)?;
        let d = approx.domain();
        let magnitude = approx.reference(d.lo()).abs().max(approx.reference(d.hi()).abs()).max(1e-12);
        if approx.plain_error() <= TOLERANCE * magnitude {
            return Ok(approx);
        }
        last = Some(approx);
    }
    last.ok_or_else(|| crate::nn::NnError::InvalidApprox { what: "encoder".into(), reason: "no candidates".into() })
}

/// Chebyshev degrees for a plain polynomial (no Newton steps).
pub const POLYNOMIAL: [(usize, usize); 5] = [(7, 0), (15, 0), (31, 0), (63, 0), (127, 0)];

/// Degree and Newton steps for 1/x and 1/√x.
pub const NEWTON: [(usize, usize); 6] = [(7, 1), (15, 1), (7, 2), (15, 2), (15, 3), (31, 3)];
