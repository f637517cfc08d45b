//! Remez exchange: the minimax polynomial of a given degree (the one whose
//! error equioscillates at degree + 2 points), in the Chebyshev basis.
//!
//! Each step solves Σ c_k·T_k(u_i) + (−1)^i·E = f(u_i) on the reference
//! points u_i, then moves the reference to the alternating extrema of the
//! new error on a dense grid (one per sign run; surplus ones dropped from
//! the end with the smaller error). It starts from the Chebyshev extrema and
//! keeps the best polynomial seen, so it never does worse than interpolation.

use std::f64::consts::PI;

use super::Domain;
use super::chebyshev::{ChebyshevSeries, clenshaw, grid_points};
use crate::nn::{NnError, Result};

/// Largest degree for minimax fits: each step solves a dense (d + 2)² system.
pub const MAX_MINIMAX_DEGREE: usize = 255;
/// Exchange steps at most (convergence usually takes 5 to 15).
const MAX_STEPS: usize = 40;
/// Converged when the reference errors agree with the grid maximum this closely (relative).
const LEVELLED: f64 = 1e-4;

impl ChebyshevSeries {
    /// The degree-`degree` polynomial minimising max |p − f| on `domain`.
    pub fn minimax(f: impl Fn(f64) -> f64, domain: Domain, degree: usize) -> Result<Self> {
        let start = Self::interpolate(&f, domain, degree)?;
        if degree > MAX_MINIMAX_DEGREE {
            return Err(NnError::InvalidApprox {
                what: "minimax fit".into(),
                reason: format!("degree {degree} exceeds {MAX_MINIMAX_DEGREE}"),
            });
        }
        let (alpha, beta) = domain.to_unit();
        let at = |u: f64| f((u - beta) / alpha);
        // Chebyshev-spaced grid in u (denser at the ends, where errors peak),
        // ascending; an even count keeps 0 out of it.
        let m = 4 * grid_points(degree);
        let grid: Vec<f64> = (0..m).rev().map(|j| (PI * j as f64 / (m - 1) as f64).cos()).collect();
        let target: Vec<f64> = grid.iter().map(|&u| at(u)).collect();
        let grid_error =
            |coeffs: &[f64]| grid.iter().zip(&target).map(|(&u, t)| clenshaw(coeffs, u) - t).collect::<Vec<f64>>();
        let max_abs = |e: &[f64]| e.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let mut best = (max_abs(&grid_error(start.coeffs())), start.coeffs().to_vec());
        // With a parity, the best degree-d approximation lies in the odd (even)
        // subspace and equioscillates at more points than d + 2: exchange one
        // degree above the largest degree of that parity, as in the generic case.
        let parity = parity(&grid, &target);
        let exchange_degree = match parity {
            Some(Parity::Odd) if degree.is_multiple_of(2) => degree,
            Some(Parity::Even) if !degree.is_multiple_of(2) => degree,
            Some(_) => degree + 1,
            None => degree,
        };
        let n = exchange_degree + 2;
        let mut reference: Vec<f64> = (0..n).rev().map(|i| (PI * i as f64 / (n - 1) as f64).cos()).collect();
        for _ in 0..MAX_STEPS {
            let Some(mut coeffs) = solve_reference(&reference, at, exchange_degree) else { break };
            keep_parity(&mut coeffs, parity);
            coeffs.truncate(degree + 1);
            let errors = grid_error(&coeffs);
            let max = max_abs(&errors);
            if max < best.0 {
                best = (max, coeffs);
            }
            let Some(extrema) = alternating_extrema(&errors, n) else { break };
            let levelled = extrema.iter().fold(f64::INFINITY, |m, &j| m.min(errors[j].abs()));
            reference = extrema.iter().map(|&j| grid[j]).collect();
            if max - levelled <= LEVELLED * max {
                break;
            }
        }
        Self::new(best.1, domain)
    }
}

/// Solves the reference system for c_0..=c_degree (and the levelled error E);
/// None if it is singular.
fn solve_reference(reference: &[f64], f: impl Fn(f64) -> f64, degree: usize) -> Option<Vec<f64>> {
    let n = degree + 2;
    let mut rows: Vec<Vec<f64>> = reference
        .iter()
        .enumerate()
        .map(|(i, &u)| {
            let mut row = Vec::with_capacity(n + 1);
            let (mut prev, mut cur) = (1.0, u);
            row.push(1.0);
            for _ in 1..=degree {
                row.push(cur);
                (prev, cur) = (cur, 2.0 * u * cur - prev);
            }
            row.push(if i % 2 == 0 { 1.0 } else { -1.0 });
            row.push(f(u));
            row
        })
        .collect();
    // Gaussian elimination with partial pivoting on the augmented matrix.
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| rows[a][col].abs().total_cmp(&rows[b][col].abs()))?;
        if rows[pivot][col].abs() < 1e-300 {
            return None;
        }
        rows.swap(col, pivot);
        let (done, rest) = rows.split_at_mut(col + 1);
        let p = &done[col];
        for row in rest {
            let factor = row[col] / p[col];
            for (x, y) in row[col..].iter_mut().zip(&p[col..]) {
                *x -= factor * y;
            }
        }
    }
    let mut solution = vec![0.0; n];
    for i in (0..n).rev() {
        let tail: f64 = (i + 1..n).map(|k| rows[i][k] * solution[k]).sum();
        solution[i] = (rows[i][n] - tail) / rows[i][i];
    }
    solution.truncate(degree + 1);
    solution.iter().all(|c| c.is_finite()).then_some(solution)
}

/// Grid indices of the largest |error| in each run of constant sign, trimmed
/// to `n` from the ends; None when the error alternates fewer than `n` times.
fn alternating_extrema(errors: &[f64], n: usize) -> Option<Vec<usize>> {
    let mut extrema: Vec<usize> = Vec::new();
    for (j, &e) in errors.iter().enumerate() {
        if e == 0.0 {
            continue;
        }
        match extrema.last_mut() {
            Some(k) if errors[*k].signum() == e.signum() => {
                if e.abs() > errors[*k].abs() {
                    *k = j;
                }
            }
            _ => extrema.push(j),
        }
    }
    while extrema.len() > n {
        let (first, last) = (errors[extrema[0]].abs(), errors[extrema[extrema.len() - 1]].abs());
        if first < last {
            extrema.remove(0);
        } else {
            extrema.pop();
        }
    }
    (extrema.len() == n).then_some(extrema)
}

/// Symmetry of the target about the domain's centre, up to the lowest term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parity {
    /// f(u) + f(−u) constant: odd up to a constant (tanh, sigmoid).
    Odd,
    /// (f(u) − f(−u))/u constant: even up to a linear term (GELU = x/2 + even).
    Even,
}

/// The parity of `target`, sampled on `grid` (symmetric about 0, without
/// 0 itself), if any; to 1e-10 of its largest value.
fn parity(grid: &[f64], target: &[f64]) -> Option<Parity> {
    let tolerance = 1e-10 * target.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let constant = |values: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        hi - lo <= tolerance
    };
    let mirrored = || target.iter().zip(target.iter().rev()).zip(grid).take(grid.len() / 2);
    if constant(&mut mirrored().map(|((a, b), _)| a + b)) {
        Some(Parity::Odd)
    } else if constant(&mut mirrored().map(|((a, b), u)| (a - b) / (2.0 * u))) {
        Some(Parity::Even)
    } else {
        None
    }
}

/// Zeroes the coefficients the parity rules out (the exchange leaves them
/// merely small): even ones from T_2 on for odd targets, odd ones from T_3
/// on for even ones.
fn keep_parity(coeffs: &mut [f64], parity: Option<Parity>) {
    let first = match parity {
        Some(Parity::Odd) => 2,
        Some(Parity::Even) => 3,
        None => return,
    };
    coeffs.iter_mut().skip(first).step_by(2).for_each(|c| *c = 0.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimax_beats_interpolation_and_equioscillates() {
        for (f, lo, hi, degree) in [
            (f64::exp as fn(f64) -> f64, -1.0, 1.0, 5),
            (crate::nn::approx::reference::sigmoid, -8.0, 8.0, 15),
            (crate::nn::approx::reference::gelu, -8.0, 8.0, 30),
            (f64::recip, 1.0, 16.0, 7),
        ] {
            let domain = Domain::new(lo, hi).unwrap();
            let interp = ChebyshevSeries::interpolate(f, domain, degree).unwrap().max_error(f);
            let best = ChebyshevSeries::minimax(f, domain, degree).unwrap();
            let e = best.max_error(f);
            assert!(e < 0.9 * interp, "degree {degree} on {domain}: minimax {e:e} vs interpolation {interp:e}");
            // Equioscillation: the error reaches ±e (within 1%) at degree + 2 alternating points.
            let errors: Vec<f64> = domain.grid(64 * grid_points(degree)).map(|x| best.eval(x) - f(x)).collect();
            let peaks = alternating_extrema(&errors, degree + 2).expect("alternation");
            assert!(peaks.iter().all(|&j| errors[j].abs() > 0.99 * e), "{domain}: not levelled");
        }
    }

    #[test]
    fn odd_functions_keep_exactly_odd_minimax_polynomials() {
        let s = ChebyshevSeries::minimax(f64::tanh, Domain::new(-4.0, 4.0).unwrap(), 15).unwrap();
        assert!(s.coeffs().iter().step_by(2).all(|&c| c == 0.0), "{:?}", s.coeffs());
        assert!(ChebyshevSeries::minimax(f64::tanh, Domain::UNIT, MAX_MINIMAX_DEGREE + 1).is_err());
    }
}
