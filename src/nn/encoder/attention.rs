//! Encrypted multi-head self-attention on the token layout.
//!
//! **Scores.** For head h (segment h of 32 slots in every token block) and
//! a key group q of 32 tokens j = 32q + j′, the scores of every query i of
//! a ciphertext land at slot 32h + j′ of i's block:
//! S_q = Σ_d rot(Q, d) ⊙ E^lo_d + rot(Q, d − 32) ⊙ E^hi_d, where
//! E^lo_d[32h + j′] = K_j[32h + j′ + d] (j′ + d < 32) and
//! E^hi_d[32h + j′] = K_j[32h + j′ + d − 32] (j′ + d ≥ 32): the 63
//! rotations of Q are one hoisted batch and the products are summed before
//! one relinearization. The E are built once per key group from the keys
//! broadcast to every block (mask + rotate-and-sum over blocks), merged by
//! masks and rotated into place (62 rotations per key group).
//!
//! **Softmax** over the keys of each (query, head): a plaintext softmax
//! subtracts the row maximum, which on ciphertexts would be a deep composite
//! comparison. Instead the query projection carries 1/(√d·2^r) and a public
//! shift c so that z = (s − c)/2^r lies in [−2, 2] (r from the calibrated
//! score range), then w = T·softmax(z) (exp, a row mean by rotate-and-sum in
//! the segment, 1/x on [e^−2, e^2]), then r rounds of w ← T·w²/Σw²
//! (1/x on [1, T]): softmax(z)^(2^r) normalised is softmax(s). Every
//! inverse has a fixed, narrow domain whatever the score range.
//!
//! **Context.** O = Σ_q Σ_d rot(w_q, d) ⊙ G^lo_d + rot(w_q, d − 32) ⊙ G^hi_d
//! with G built from the broadcast values by masks alone (no rotation);
//! 1/T folds into those masks. O is in the token layout, ready for the
//! output projection.

use super::choice::{NEWTON, POLYNOMIAL, cheapest};
use super::counting::Counting;
use super::layout::{SEGMENT, TokenLayout};
use super::ops::{
    at_nominal_level, plain_combinations, plain_product, rotate_sum, rotate_sum_steps, sum, sum_of_products,
    sums_of_products, to_level,
};
use super::session::Session;
use crate::nn::approx::{Approximation, Arith, AtLevel, Domain};
use crate::nn::{NnError, Result};

/// Width of the exp's input range after scaling: z ∈ [−Z/2, Z/2].
const Z_WIDTH: f64 = 4.0;

/// The softmax pieces, chosen from the calibrated score range.
#[derive(Clone, Debug)]
pub struct SoftmaxPlan {
    shift: f64,
    rounds: usize,
    exp: Approximation,
    first_inverse: Approximation,
    inverse: Approximation,
}

impl SoftmaxPlan {
    /// For scores in [`lo`, `hi`] and at most `max_tokens` keys.
    pub fn new(lo: f64, hi: f64, max_tokens: usize) -> Result<Self> {
        let rounds = ((hi - lo) / Z_WIDTH).max(1.0).log2().ceil() as usize;
        let half = Z_WIDTH / 2.0;
        let exp_domain = Domain::new(-half, half)?;
        let first_domain = Domain::new((-half).exp() * 0.95, half.exp() * 1.05)?;
        let round_domain = Domain::new(0.95, max_tokens as f64 * 1.05)?;
        Ok(Self {
            shift: (lo + hi) / 2.0,
            rounds,
            exp: cheapest(&POLYNOMIAL, |degree, _| Approximation::exp(exp_domain, degree))?,
            first_inverse: cheapest(&NEWTON, |degree, steps| Approximation::inverse(first_domain, degree, steps))?,
            inverse: cheapest(&NEWTON, |degree, steps| Approximation::inverse(round_domain, degree, steps))?,
        })
    }

    /// Squaring rounds r.
    #[must_use]
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// The factor the query projection carries: 1 / 2^r.
    #[must_use]
    pub fn score_factor(&self) -> f64 {
        (self.rounds as f64).exp2().recip()
    }

    /// Levels of the first normalisation and of each round.
    fn depths(&self) -> (usize, usize) {
        (self.exp.depth() + 3 + self.first_inverse.depth(), 3 + self.inverse.depth())
    }

    /// Levels consumed in all.
    #[must_use]
    pub fn depth(&self) -> usize {
        let (first, round) = self.depths();
        first + self.rounds * round
    }

    /// The approximations used, for reports.
    #[must_use]
    pub fn approximations(&self) -> [&Approximation; 3] {
        [&self.exp, &self.first_inverse, &self.inverse]
    }
}

/// Diagonals of a segment product, by rotation d of the other operand:
/// `hi` ones are pre-rotated by +32 and their sum rotated back by −32.
struct Diagonals<V> {
    lo: Vec<(usize, V)>,
    hi: Vec<(usize, V)>,
}

/// One product of [`Heads::diagonal_products`]: x's rotations and the
/// diagonals they multiply.
type DiagonalJob<'r, 'd, V> = (&'r [V], &'d Diagonals<V>);

/// Attention over `tokens` tokens in `layout` with `heads` heads.
pub(super) struct Heads<'l> {
    pub layout: &'l TokenLayout,
    pub heads: usize,
}

impl Heads<'_> {
    fn tokens(&self) -> usize {
        self.layout.tokens()
    }

    /// Key groups of 32 tokens.
    fn key_groups(&self) -> usize {
        self.tokens().div_ceil(SEGMENT)
    }

    /// Is key j = 32q + j′ a real token?
    fn valid(&self, q: usize, jp: usize) -> bool {
        q * SEGMENT + jp < self.tokens()
    }

    /// `value` at slots 32h + `offset(…)` of every block for h < heads.
    fn segment_mask(&self, value: f64, keep: impl Fn(usize) -> bool) -> Vec<f64> {
        let heads = self.heads;
        self.layout.mask(value, |o| o / SEGMENT < heads && keep(o % SEGMENT))
    }

    /// Rotation steps all attention steps need (projections excluded).
    pub fn rotations(&self) -> Vec<i64> {
        let mut steps: Vec<i64> = (1..=SEGMENT as i64).collect();
        steps.push(-(SEGMENT as i64));
        steps.extend(self.block_shifts());
        steps.extend(rotate_sum_steps(1, SEGMENT));
        steps.extend(rotate_sum_steps(-1, SEGMENT));
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// Every token of `xs` (token layout) broadcast to all blocks: one level.
    /// Token t in block j of ciphertext c becomes Σ_k mask_{j−k} ⊙ rot(c,
    /// k·block) over the P blocks (rotating mask_j ⊙ c by k blocks is
    /// rotating each factor): the P − 1 block shifts of each ciphertext are
    /// hoisted, and each token is one sum of P masked products, so a
    /// layer's two broadcasts take 2·(P − 1) key switches per ciphertext
    /// instead of 5 per token. The P masks are the same for every token.
    /// One ciphertext at a time, so that only its shifts are held.
    pub fn broadcast<A: Arith>(&self, a: &A, xs: &[A::Value]) -> Result<Vec<A::Value>> {
        let per = self.layout.per_ciphertext();
        let shifts = self.block_shifts();
        let masks: Vec<Vec<f64>> = (0..per).map(|b| self.layout.block_mask(b, 1.0)).collect();
        let mut out = Vec::with_capacity(self.tokens());
        for (ct, x) in xs.iter().enumerate() {
            let shifted = a.rotate_hoisted(x, &shifts)?;
            let rotated = |k: usize| if k == 0 { x } else { &shifted[k - 1] };
            // Every token of this ciphertext, at block j: Σ_k mask_{j−k} ⊙ rot(x, k·block).
            let terms: Vec<Vec<(&A::Value, &[f64])>> = (0..self.tokens())
                .map(|t| self.layout.position(t))
                .filter(|&(c, _)| c == ct)
                .map(|(_, j)| (0..per).map(|k| (rotated(k), masks[(j + per - k) % per].as_slice())).collect())
                .collect();
            out.extend(plain_combinations(a, &terms.iter().map(Vec::as_slice).collect::<Vec<_>>())?);
        }
        Ok(out)
    }

    /// Rotations by 1 .. P − 1 blocks (the broadcast's hoisted shifts).
    fn block_shifts(&self) -> Vec<i64> {
        let block = self.layout.block() as i64;
        (1..self.layout.per_ciphertext() as i64).map(|k| k * block).collect()
    }

    /// Keys j′ of group q whose slot offset pairs with rotation d in the
    /// low (`hi` false: j′ + d < 32) or high part.
    fn partners(&self, q: usize, d: usize, hi: bool) -> impl Iterator<Item = usize> + '_ {
        (0..SEGMENT).filter(move |&jp| self.valid(q, jp) && ((jp + d >= SEGMENT) == hi))
    }

    /// For each (shift, keys) of `lists`: Σ over the keys j′ of the
    /// broadcast token 32q + j′ masked at in-block offsets 32h + (j′ + shift)
    /// mod 32 (carrying `value`), or None for no keys. One level; all in one
    /// fused pass, as they read the same tokens.
    fn merges<A: Arith>(
        &self,
        a: &A,
        tokens: &[A::Value],
        q: usize,
        lists: &[(usize, Vec<usize>)],
        value: f64,
    ) -> Result<Vec<Option<A::Value>>> {
        let masks: Vec<Vec<f64>> = (0..SEGMENT).map(|offset| self.segment_mask(value, |o| o == offset)).collect();
        let terms: Vec<Vec<(&A::Value, &[f64])>> = lists
            .iter()
            .map(|(shift, keys)| {
                keys.iter().map(|&jp| (&tokens[q * SEGMENT + jp], masks[(jp + shift) % SEGMENT].as_slice())).collect()
            })
            .collect();
        let groups: Vec<&[_]> = terms.iter().filter(|t| !t.is_empty()).map(Vec::as_slice).collect();
        let mut sums = if groups.is_empty() { Vec::new() } else { plain_combinations(a, &groups)? }.into_iter();
        Ok(terms.iter().map(|t| if t.is_empty() { None } else { sums.next() }).collect())
    }

    /// The score diagonals of key group q from broadcast keys (1 level):
    /// E^lo_d and E^hi_d rotated by +32 (so that only positive steps and
    /// −32 need keys, see [`Self::diagonal_products`]); both are the merged
    /// keys rotated by d.
    fn score_diagonals<A: Arith>(&self, a: &A, keys: &[A::Value], q: usize) -> Result<Diagonals<A::Value>> {
        let halves: Vec<(usize, bool)> = (0..SEGMENT).flat_map(|d| [(d, false), (d, true)]).collect();
        let lists: Vec<(usize, Vec<usize>)> =
            halves.iter().map(|&(d, hi)| (d, self.partners(q, d, hi).collect())).collect();
        let mut out = Diagonals { lo: Vec::new(), hi: Vec::new() };
        for ((d, hi), merged) in halves.into_iter().zip(self.merges(a, keys, q, &lists, 1.0)?) {
            if let Some(merged) = merged {
                let placed = if d == 0 { merged } else { a.rotate(&merged, d as i64)? };
                if hi { out.hi.push((d, placed)) } else { out.lo.push((d, placed)) }
            }
        }
        Ok(out)
    }

    /// The context diagonals of key group q from broadcast values (at
    /// level(w) + 1; 1 level, 1/T folded in): G^lo_d (key j′ ≥ d feeds
    /// column j′ − d) and G^hi_d (key j′ < d feeds column j′ + 32 − d)
    /// rotated by +32.
    fn context_diagonals<A: Arith>(&self, a: &A, values: &[A::Value], q: usize) -> Result<Diagonals<A::Value>> {
        let inv_t = 1.0 / self.tokens() as f64;
        let lists: Vec<(usize, Vec<usize>)> = (0..SEGMENT)
            .flat_map(|d| {
                let keys = |hi: bool| (0..SEGMENT).filter(|&jp| self.valid(q, jp) && (jp < d) == hi).collect();
                [(SEGMENT - d, keys(false)), (SEGMENT - d, keys(true))]
            })
            .collect();
        let mut out = Diagonals { lo: Vec::new(), hi: Vec::new() };
        for (i, merged) in self.merges(a, values, q, &lists, inv_t)?.into_iter().enumerate() {
            let d = i / 2;
            match merged {
                Some(lo) if i % 2 == 0 => out.lo.push((d, lo)),
                Some(hi) => out.hi.push((d, a.rotate(&hi, SEGMENT as i64)?)),
                None => {}
            }
        }
        Ok(out)
    }

    /// x at `level` and its rotations by 1..31 (one hoisted batch), to be
    /// shared by every [`Self::diagonal_products`] with x.
    fn rotations_of<A: Arith>(&self, a: &A, x: &A::Value, level: usize) -> Result<Vec<A::Value>> {
        let x = to_level(a, x, level)?;
        let steps: Vec<i64> = (1..SEGMENT as i64).collect();
        let rotations = a.rotate_hoisted(&x, &steps)?;
        let mut all = vec![x];
        all.extend(rotations);
        Ok(all)
    }

    /// Σ_d rot(x, d) ⊙ lo_d + rot(Σ_d rot(x, d) ⊙ hi_d, −32) for each job
    /// (x's rotations ([`Self::rotations_of`]), diagonals); each half is
    /// relinearized once, and every half of every job is summed in one
    /// fused pass.
    fn diagonal_products<'d, A: Arith>(&self, a: &A, jobs: &[DiagonalJob<'_, 'd, A::Value>]) -> Result<Vec<A::Value>> {
        // The diagonals at their x's level: themselves when they are there (no copy).
        let aligned = |part: &'d [(usize, A::Value)], level: usize| -> Result<Vec<(usize, AtLevel<'d, A::Value>)>> {
            part.iter().map(|(d, v)| Ok((*d, at_nominal_level(a, v, level)?))).collect()
        };
        // The [lo, hi] halves of each product.
        type Halves<T> = [Vec<T>; 2];
        let aligned: Vec<Halves<(usize, AtLevel<'_, A::Value>)>> = jobs
            .iter()
            .map(|(rotated, d)| {
                let level = a.level(&rotated[0]);
                Ok([aligned(&d.lo, level)?, aligned(&d.hi, level)?])
            })
            .collect::<Result<_>>()?;
        let pairs: Vec<Halves<(&A::Value, &A::Value)>> = aligned
            .iter()
            .zip(jobs)
            .map(|(halves, (rotated, _))| {
                halves.each_ref().map(|part| part.iter().map(|(d, v)| (&rotated[*d], &**v)).collect())
            })
            .collect();
        let groups: Vec<&[_]> = pairs.iter().flatten().filter(|g| !g.is_empty()).map(Vec::as_slice).collect();
        let mut sums = sums_of_products(a, &groups)?.into_iter();
        let halves: Vec<[Option<A::Value>; 2]> =
            pairs.iter().map(|p| p.each_ref().map(|g| if g.is_empty() { None } else { sums.next() })).collect();
        let high: Vec<&A::Value> = halves.iter().filter_map(|[_, hi]| hi.as_ref()).collect();
        let mut high = a.rotate_many(&high, -(SEGMENT as i64))?.into_iter();
        halves
            .into_iter()
            .map(|[lo, hi]| match (lo, hi.and_then(|_| high.next())) {
                (Some(lo), Some(hi)) => a.add(&lo, &hi),
                (Some(v), None) | (None, Some(v)) => Ok(v),
                (None, None) => Err(NnError::InvalidShape("attention with no keys".into())),
            })
            .collect()
    }

    /// The lowest level of `values` and of all `diagonals`.
    fn common_level<A: Arith>(a: &A, values: &[A::Value], diagonals: &[Diagonals<A::Value>]) -> usize {
        let d = diagonals.iter().flat_map(|d| d.lo.iter().chain(&d.hi)).map(|(_, v)| a.level(v));
        values.iter().map(|v| a.level(v)).chain(d).min().unwrap_or(0)
    }

    /// Scores S[g·Qc + q] of query ciphertext g and key group q. One key
    /// group's diagonals at a time (all queries' rotations are held
    /// instead: half as many ciphertexts); every group's diagonals are at
    /// the first one's level, as the keys share one.
    pub fn scores<A: Arith>(&self, a: &A, queries: &[A::Value], keys: &[A::Value]) -> Result<Vec<A::Value>> {
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let mut next = Some(self.score_diagonals(a, keys, 0)?);
        let level = Self::common_level(a, queries, next.as_slice());
        let rotated: Vec<Vec<A::Value>> =
            queries.iter().map(|x| self.rotations_of(a, x, level)).collect::<Result<_>>()?;
        // rows[g] gets the groups in order.
        let mut rows: Vec<Vec<A::Value>> = queries.iter().map(|_| Vec::with_capacity(self.key_groups())).collect();
        for q in 0..self.key_groups() {
            let diagonals = match next.take() {
                Some(d) => d,
                None => self.score_diagonals(a, keys, q)?,
            };
            let jobs: Vec<DiagonalJob<'_, '_, A::Value>> = rotated.iter().map(|r| (r.as_slice(), &diagonals)).collect();
            for (row, product) in rows.iter_mut().zip(self.diagonal_products(a, &jobs)?) {
                row.push(product);
            }
        }
        Ok(rows.into_iter().flatten().collect())
    }

    /// Row mean over the keys, in every slot of each head segment: Σ over
    /// key groups, a sum inside the segment, a mask (1 level, carrying
    /// `factor`) and a broadcast back.
    fn row_mean<A: Arith>(&self, a: &A, groups: &[A::Value], factor: f64) -> Result<A::Value> {
        let total = rotate_sum(a, sum(a, groups)?, 1, SEGMENT)?;
        let first = plain_product(a, &total, &self.segment_mask(factor, |o| o == 0))?;
        rotate_sum(a, first, -1, SEGMENT)
    }

    /// w = T·softmax over the keys for every query ciphertext (Qc score
    /// ciphertexts each), with refreshes when levels run out.
    pub fn softmax<A: Arith>(
        &self,
        a: &Counting<A>,
        session: &mut Session<'_, A>,
        plan: &SoftmaxPlan,
        scores: Vec<A::Value>,
    ) -> Result<Vec<A::Value>> {
        let (first_depth, round_depth) = plan.depths();
        let qc = self.key_groups();
        let inv_t = 1.0 / self.tokens() as f64;
        let valid: Vec<Vec<f64>> = (0..qc).map(|q| self.segment_mask(1.0, |jp| self.valid(q, jp))).collect();
        let scores = session.ensure(a, scores, first_depth)?;
        let mut w = Vec::with_capacity(scores.len());
        for row in scores.chunks(qc) {
            let e: Vec<A::Value> = row
                .iter()
                .zip(&valid)
                .map(|(s, mask)| {
                    let z = a.add_const(s, -plan.shift * plan.score_factor())?;
                    let e = plan.exp.evaluate(a, &z)?;
                    plain_product(a, &e, mask)
                })
                .collect::<Result<_>>()?;
            let inverse = plan.first_inverse.evaluate(a, &self.row_mean(a, &e, inv_t)?)?;
            for e in &e {
                w.push(sum_of_products(a, &[(&*at_nominal_level(a, e, a.level(&inverse))?, &inverse)])?);
            }
        }
        for _ in 0..plan.rounds {
            w = session.ensure(a, w, round_depth)?;
            let mut next = Vec::with_capacity(w.len());
            for row in w.chunks(qc) {
                let squares: Vec<A::Value> =
                    row.iter().map(|v| sum_of_products(a, &[(v, v)])).collect::<Result<_>>()?;
                let inverse = plan.inverse.evaluate(a, &self.row_mean(a, &squares, inv_t)?)?;
                for sq in &squares {
                    next.push(sum_of_products(a, &[(&*at_nominal_level(a, sq, a.level(&inverse))?, &inverse)])?);
                }
            }
            w = next;
        }
        Ok(w)
    }

    /// Context O[g] = Σ_j softmax_ij · V_j for each query ciphertext g, from
    /// w (Qc per query ciphertext) and the broadcast values.
    pub fn context<A: Arith>(&self, a: &A, w: &[A::Value], values: &[A::Value]) -> Result<Vec<A::Value>> {
        let qc = self.key_groups();
        let w_level = w.iter().map(|v| a.level(v)).min().unwrap_or(0);
        let v_level = values.iter().map(|v| a.level(v)).min().unwrap_or(0);
        if v_level == 0 {
            return Err(NnError::NotEnoughLevels { what: "attention context".into(), needed: 1, level: 0 });
        }
        let level = w_level.min(v_level - 1);
        let lowered: Vec<A::Value> = values.iter().map(|v| to_level(a, v, level + 1)).collect::<Result<_>>()?;
        let diagonals: Vec<Diagonals<A::Value>> =
            (0..qc).map(|q| self.context_diagonals(a, &lowered, q)).collect::<Result<_>>()?;
        w.chunks(qc)
            .map(|row| {
                let parts: Vec<A::Value> = row
                    .iter()
                    .zip(&diagonals)
                    .map(|(wq, d)| {
                        let rotated = self.rotations_of(a, wq, level)?;
                        Ok(self.diagonal_products(a, &[(rotated.as_slice(), d)])?.remove(0))
                    })
                    .collect::<Result<_>>()?;
                sum(a, &parts)
            })
            .collect()
    }
}
