//! Evaluation of a Chebyshev series on ciphertexts in the minimal depth
//! ⌈log2(d + 1)⌉, by baby-step giant-step splitting (Paterson–Stockmeyer in
//! the Chebyshev basis, as Lattigo's polynomial evaluator and OpenFHE's
//! `EvalChebyshevSeries` do).
//!
//! Plan (built once per series, independent of the parameters):
//! - Power basis: baby steps T_1..T_(2^b) and giant steps T_(2^j), each from
//!   T_(a+b) = 2·T_a·T_b − T_(a−b) with a the largest power of two below k, so
//!   T_k sits exactly ⌈log2 k⌉ levels below T_1. Only the powers the tree uses
//!   (and their ingredients) are computed.
//! - Tree: p = q·T_(2^j) + r (Chebyshev division, 2^j ≤ deg p < 2^(j+1))
//!   until a part can be summed directly from baby steps at the level it is
//!   needed at (a leaf). b is chosen to minimise multiplications.
//!
//! Scales (the exact-target trick Lattigo uses): every node is asked for a
//! result at a given level and *exact* scale, before rescaling. A leaf
//! multiplies each T_k by c_k encoded at scale target / scale(T_k), so terms
//! with different histories add without an extra level; a split asks its
//! quotient for target / scale(T_(2^j)) after the quotient's own rescale. The
//! constant term is added after the final rescale. The result therefore lands
//! at level `input − depth()` with exactly the requested scale (by default the
//! nominal scale of that level), whatever the input's scale.
//!
//! Change of variable u = α·x + β onto [-1, 1]: free when α is an integer
//! (the domains [-1, 1], [0, 1], [0, 2], ...: an integer multiplication and a
//! constant addition), otherwise one level (a constant multiplication landing
//! exactly on the next level's nominal scale). It cannot be folded into the
//! first product for free in general: on a wide domain (|x| ≫ 1) the first
//! product holds x²·Δ², far more than T_2·Δ², and only a rescale divides a
//! ciphertext down. A caller whose previous layer is linear can fold the map
//! into its weights and approximate on [-1, 1] directly.

use std::collections::BTreeMap;

use super::arith::{Arith, at_level, finish, scaled_term};
use super::chebyshev::{ChebyshevSeries, divide_by_t};
use crate::nn::{NnError, Result};

/// ⌈log2 k⌉ for k ≥ 1: the levels T_k sits below T_1.
fn ceil_log2(k: usize) -> usize {
    (usize::BITS - (k - 1).leading_zeros()) as usize
}

/// Number of bits of d = ⌈log2(d + 1)⌉: the depth of a degree-d series.
fn bit_length(d: usize) -> usize {
    (usize::BITS - d.leading_zeros()) as usize
}

/// The change of variable onto [-1, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
enum Map {
    /// The domain is [-1, 1].
    Identity,
    /// Integer α: exact, no level.
    Free { alpha: f64, beta: f64 },
    /// Real α: one constant multiplication and a rescale.
    Rescaled { alpha: f64, beta: f64 },
}

impl Map {
    fn new(alpha: f64, beta: f64) -> Self {
        match (alpha, beta) {
            (1.0, 0.0) => Self::Identity,
            // Small integers only: the message grows by α at an unchanged scale.
            (a, b) if a.fract() == 0.0 && (1.0..=1024.0).contains(&a) => Self::Free { alpha: a, beta: b },
            (alpha, beta) => Self::Rescaled { alpha, beta },
        }
    }

    fn levels(self) -> usize {
        usize::from(matches!(self, Self::Rescaled { .. }))
    }

    fn apply<A: Arith>(self, a: &A, x: &A::Value) -> Result<A::Value> {
        let (mapped, beta) = match self {
            Self::Identity => return a.drop_to_level(x, a.level(x)),
            Self::Free { alpha, beta } => (a.mul_const_scaled(x, alpha, 1.0)?, beta),
            Self::Rescaled { alpha, beta } => {
                let level = a.level(x);
                let target = a.params().scale(level - 1) * a.params().level_modulus(level);
                let scaled = a.mul_const_scaled(x, alpha, target / a.scale(x))?;
                (a.rescale(&scaled)?, beta)
            }
        };
        if beta == 0.0 { Ok(mapped) } else { a.add_const(&mapped, beta) }
    }
}

/// One part of the polynomial (constant term excluded), evaluated before
/// rescaling at a level fixed by its place in the tree.
#[derive(Clone, Debug)]
enum Node {
    /// Σ c_k·T_k over baby steps.
    Leaf(Vec<(usize, f64)>),
    /// (q + q_const)·T_power + r.
    Split { power: usize, q: Option<Box<Node>>, q_const: f64, r: Option<Box<Node>> },
}

impl Node {
    /// The tree for Σ_(k≥1) c_k·T_k (c_0 is ignored) at `below` levels under
    /// T_1, with baby steps up to T_babies. None for the zero polynomial.
    ///
    /// Always feasible when below ≥ ⌈log2(deg + 1)⌉ − 1: a split at
    /// 2^j ≤ deg < 2^(j+1) uses T_(2^j) (j levels under T_1, at most `below`),
    /// asks the quotient (deg < 2^j) one level higher and the remainder
    /// (deg < 2^j) at the same level; degree 1 is always a leaf.
    fn plan(coeffs: &[f64], below: usize, babies: usize) -> Option<Self> {
        let terms: Vec<(usize, f64)> = coeffs.iter().copied().enumerate().skip(1).filter(|(_, c)| *c != 0.0).collect();
        let &(deg, _) = terms.last()?;
        if deg <= babies && terms.iter().all(|&(k, _)| ceil_log2(k) <= below) {
            return Some(Self::Leaf(terms));
        }
        let power = 1 << (bit_length(deg) - 1);
        let mut own = coeffs[..=deg].to_vec();
        own[0] = 0.0;
        let (q, r) = divide_by_t(&own, power);
        let above = below.checked_sub(1).expect("split only below T_1 (see the feasibility argument)");
        Some(Self::Split {
            power,
            q: Self::plan(&q, above, babies).map(Box::new),
            q_const: q[0],
            r: Self::plan(&r, below, babies).map(Box::new),
        })
    }

    /// Powers T_k (k ≥ 2) this node reads, and its number of products.
    fn visit(&self, powers: &mut Vec<usize>) -> usize {
        match self {
            Self::Leaf(terms) => {
                powers.extend(terms.iter().map(|&(k, _)| k).filter(|&k| k >= 2));
                0
            }
            Self::Split { power, q, r, .. } => {
                powers.push(*power);
                let own = usize::from(q.is_some());
                own + q.as_ref().map_or(0, |n| n.visit(powers)) + r.as_ref().map_or(0, |n| n.visit(powers))
            }
        }
    }

    /// This node at `level` with exact scale `scale` (before rescaling).
    fn eval<A: Arith>(&self, a: &A, basis: &Basis<A>, level: usize, scale: f64) -> Result<A::Value> {
        match self {
            Self::Leaf(terms) => {
                let ((k, c), rest) = terms.split_first().expect("leaves hold at least one term");
                let mut sum = scaled_term(a, &basis[k], *c, level, scale)?;
                for &(k, c) in rest {
                    a.add_assign(&mut sum, &scaled_term(a, &basis[&k], c, level, scale)?)?;
                }
                Ok(sum)
            }
            Self::Split { power, q, q_const, r } => {
                let giant = at_level(a, &basis[power], level)?;
                let quotient_scale = scale / a.scale(&giant);
                let mut product = match q {
                    Some(q) => {
                        let pre = quotient_scale * a.params().level_modulus(level + 1);
                        let mut quotient = finish(a, q.eval(a, basis, level + 1, pre)?)?;
                        if *q_const != 0.0 {
                            quotient = a.add_const(&quotient, *q_const)?;
                        }
                        a.mul(&quotient, &giant)?
                    }
                    None => a.mul_const_scaled(&giant, *q_const, quotient_scale)?,
                };
                if let Some(r) = r {
                    a.add_assign(&mut product, &r.eval(a, basis, level, scale)?)?;
                }
                Ok(product)
            }
        }
    }
}

/// T_k by k.
type Basis<A> = BTreeMap<usize, <A as Arith>::Value>;

/// A Chebyshev series with its evaluation plan: depth ⌈log2(d + 1)⌉ plus the
/// change of variable (0 or 1 level), a known number of multiplications.
#[derive(Clone, Debug)]
pub struct ChebyshevEvaluator {
    series: ChebyshevSeries,
    map: Map,
    /// Powers T_k (k ≥ 2) to compute, ascending.
    powers: Vec<usize>,
    tree: Node,
    multiplications: usize,
}

impl ChebyshevEvaluator {
    /// Plans the evaluation of `series`, choosing the number of baby steps
    /// that needs the fewest ciphertext multiplications.
    #[must_use]
    pub fn new(series: ChebyshevSeries) -> Self {
        let (alpha, beta) = series.domain().to_unit();
        let map = Map::new(alpha, beta);
        let depth = bit_length(series.degree());
        (1..=depth)
            .map(|b| {
                let tree = Node::plan(series.coeffs(), depth - 1, 1 << b)
                    .expect("a series has a non-zero coefficient of degree ≥ 1");
                let mut reads = Vec::new();
                let splits = tree.visit(&mut reads);
                let powers = power_closure(reads);
                let multiplications = powers.len() + splits;
                Self { series: series.clone(), map, powers, tree, multiplications }
            })
            .min_by_key(|e| (e.multiplications, e.powers.len()))
            .expect("degree ≥ 1 gives at least one plan")
    }

    /// The series evaluated.
    #[must_use]
    pub fn series(&self) -> &ChebyshevSeries {
        &self.series
    }

    /// Levels consumed: ⌈log2(degree + 1)⌉, plus 1 when the change of
    /// variable needs a rescale (see the module docs).
    #[must_use]
    pub fn depth(&self) -> usize {
        bit_length(self.series.degree()) + self.map.levels()
    }

    /// Ciphertext-ciphertext multiplications per evaluation (each followed
    /// by a relinearization, possibly shared by a sum of products).
    #[must_use]
    pub fn multiplications(&self) -> usize {
        self.multiplications
    }

    /// p(x) in the input's slots, at level `level(x) − depth()` with the
    /// nominal scale of that level.
    pub fn evaluate<A: Arith>(&self, a: &A, x: &A::Value) -> Result<A::Value> {
        let level = a.level(x).checked_sub(self.depth()).ok_or_else(|| self.not_enough_levels(a.level(x)))?;
        self.evaluate_at(a, x, a.params().scale(level))
    }

    /// p(x) at level `level(x) − depth()` with scale exactly `scale` (≈ Δ),
    /// for callers that multiply or add the result next.
    pub fn evaluate_at<A: Arith>(&self, a: &A, x: &A::Value, scale: f64) -> Result<A::Value> {
        if a.level(x) < self.depth() {
            return Err(self.not_enough_levels(a.level(x)));
        }
        let t1 = self.map.apply(a, x)?;
        let top = a.level(&t1) + 1 - bit_length(self.series.degree());
        let basis = self.power_basis(a, t1)?;
        let pre = scale * a.params().level_modulus(top);
        let result = finish(a, self.tree.eval(a, &basis, top, pre)?)?;
        match self.series.coeffs()[0] {
            0.0 => Ok(result),
            c0 => a.add_const(&result, c0),
        }
    }

    fn not_enough_levels(&self, level: usize) -> NnError {
        NnError::NotEnoughLevels {
            what: format!("chebyshev series of degree {}", self.series.degree()),
            needed: self.depth(),
            level,
        }
    }

    /// T_1 (the mapped input) and the planned powers.
    fn power_basis<A: Arith>(&self, a: &A, t1: A::Value) -> Result<Basis<A>> {
        let mut basis = Basis::<A>::new();
        basis.insert(1, t1);
        for &k in &self.powers {
            let (hi, lo) = power_factors(k);
            let level = a.level(&basis[&hi]);
            let product = a.mul(&basis[&hi], &*at_level(a, &basis[&lo], level)?)?;
            let doubled = a.add(&product, &product)?;
            let tk = if hi == lo {
                a.add_const(&finish(a, doubled)?, -1.0)?
            } else {
                let diff = scaled_term(a, &basis[&(hi - lo)], 1.0, level, a.scale(&doubled))?;
                finish(a, a.sub(&doubled, &diff)?)?
            };
            basis.insert(k, tk);
        }
        Ok(basis)
    }
}

/// (a, b) with k = a + b, a the largest power of two below k (b ≤ a).
fn power_factors(k: usize) -> (usize, usize) {
    let hi = 1 << (ceil_log2(k) - 1);
    (hi, k - hi)
}

/// `reads` plus every power their recurrences need, ascending, without T_1.
fn power_closure(reads: Vec<usize>) -> Vec<usize> {
    let mut needed: std::collections::BTreeSet<usize> = reads.into_iter().collect();
    let mut stack: Vec<usize> = needed.iter().copied().collect();
    while let Some(k) = stack.pop() {
        let (hi, lo) = power_factors(k);
        for dep in [hi, lo, hi - lo] {
            if dep >= 2 && needed.insert(dep) {
                stack.push(dep);
            }
        }
    }
    needed.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ckks::preset;
    use crate::nn::approx::{Domain, PlainArith};

    fn mirror(name: &str) -> PlainArith {
        PlainArith::new(Arc::new(preset(name).unwrap()))
    }

    #[test]
    fn every_degree_lands_at_the_planned_level_and_nominal_scale() {
        let a = mirror("toy-n4096");
        let top = a.params().max_level();
        let xs: Vec<f64> = Domain::new(-3.0, 5.0).unwrap().grid(33).collect();
        for (lo, hi) in [(-1.0, 1.0), (0.0, 1.0), (-3.0, 5.0)] {
            let domain = Domain::new(lo, hi).unwrap();
            let inputs: Vec<f64> = xs.iter().map(|x| lo + (hi - lo) * (x + 3.0) / 8.0).collect();
            for degree in 1..=(1 << (top - 1)) - 1 {
                let series = ChebyshevSeries::interpolate(|x| (x * 0.7).sin() + 0.3, domain, degree).unwrap();
                let ev = ChebyshevEvaluator::new(series.clone());
                let x = a.encode(&inputs, top).unwrap();
                let before = a.multiplications();
                let y = ev.evaluate(&a, &x).unwrap();
                assert_eq!(y.level(), top - ev.depth(), "degree {degree} on {domain}");
                assert_eq!(y.scale(), a.params().scale(y.level()));
                assert_eq!(a.multiplications() - before, ev.multiplications(), "degree {degree}");
                // Only the constants' rounding at scales ≈ Δ (≈ 2^-30 each) separates the two.
                for (got, &x) in y.values().iter().zip(&inputs) {
                    assert!((got - series.eval(x)).abs() < 1e-7, "degree {degree}: {got} vs {}", series.eval(x));
                }
                let free = lo != -3.0;
                assert_eq!(ev.depth(), bit_length(series.degree()) + usize::from(!free));
            }
        }
    }

    #[test]
    fn multiplications_stay_near_the_paterson_stockmeyer_count() {
        for (degree, most) in [(3, 2), (7, 5), (15, 8), (31, 12), (63, 18)] {
            let series = ChebyshevSeries::new(vec![0.5; degree + 1], Domain::UNIT).unwrap();
            let m = ChebyshevEvaluator::new(series).multiplications();
            assert!(m <= most, "degree {degree}: {m} multiplications");
        }
    }

    #[test]
    fn too_few_levels_is_a_clear_error() {
        let a = mirror("toy-n1024");
        let series = ChebyshevSeries::interpolate(f64::exp, Domain::new(-4.0, 0.0).unwrap(), 15).unwrap();
        let ev = ChebyshevEvaluator::new(series);
        let x = a.encode(&[-1.0, -2.0], 4).unwrap();
        let err = ev.evaluate(&a, &x).unwrap_err();
        assert!(matches!(err, NnError::NotEnoughLevels { needed: 5, level: 4, .. }), "{err}");
    }
}
