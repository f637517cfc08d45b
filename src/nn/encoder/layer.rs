//! [`EncryptedLayer`]: one MiniLM encoder layer on ciphertexts, step by step.

use super::attention::{Heads, SoftmaxPlan};
use super::calibration::LayerRanges;
use super::choice::{POLYNOMIAL, cheapest};
use super::counting::Counting;
use super::layout::TokenLayout;
use super::norm::NormPlan;
use super::ops::at_nominal_level;
use super::projection::Projection;
use super::session::{Session, Shape};
use crate::ckks::Params;
use crate::model::minilm::EncoderLayer;
use crate::nn::approx::{Approximation, Arith, Domain};
use crate::nn::{NnError, Result};

/// One encoder layer prepared for ciphertexts in blocks of `block` of `slots` slots.
pub struct EncryptedLayer {
    index: usize,
    heads: usize,
    query: Projection,
    key: Projection,
    value: Projection,
    output: Projection,
    softmax: SoftmaxPlan,
    norm1: NormPlan,
    intermediate: Projection,
    gelu: Approximation,
    down: Projection,
    norm2: NormPlan,
}

impl EncryptedLayer {
    /// Layer `index` of a model with the calibrated `ranges`, for sequences
    /// of at most `max_tokens` tokens.
    pub fn new(
        params: &Params,
        layer: &EncoderLayer,
        index: usize,
        ranges: &LayerRanges,
        block: usize,
        slots: usize,
        max_tokens: usize,
    ) -> Result<Self> {
        let at = layer.attention();
        let ff = layer.feed_forward();
        let scores = ranges.scores.widened(0.1);
        let softmax = SoftmaxPlan::new(scores.lo, scores.hi, max_tokens)?;
        let head_size = at.query().bias().len() / at.heads();
        let query_factor = softmax.score_factor() / (head_size as f64).sqrt();
        let gelu_range = ranges.gelu_input.widened(0.1);
        let gelu_domain = Domain::new(gelu_range.lo, gelu_range.hi)?;
        let gelu = cheapest(&POLYNOMIAL, |degree, _| Approximation::gelu(gelu_domain, degree))?;
        let projection = |linear, factor| Projection::new(params, linear, factor, block, slots);
        Ok(Self {
            index,
            heads: at.heads(),
            query: projection(at.query(), query_factor)?,
            key: projection(at.key(), 1.0)?,
            value: projection(at.value(), 1.0)?,
            output: projection(at.output(), 1.0)?,
            softmax,
            norm1: NormPlan::new(at.norm(), ranges.norm1_variance.lo, ranges.norm1_variance.hi)?,
            intermediate: projection(ff.intermediate(), 1.0)?,
            gelu,
            down: projection(ff.output(), 1.0)?,
            norm2: NormPlan::new(ff.norm(), ranges.norm2_variance.lo, ranges.norm2_variance.hi)?,
        })
    }

    /// The model's index of this layer.
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// The approximations this layer uses (name, domain, degree, depth).
    #[must_use]
    pub fn approximations(&self) -> Vec<(&'static str, &Approximation)> {
        let [exp, first, inverse] = self.softmax.approximations();
        vec![
            ("softmax exp", exp),
            ("softmax 1/x (first)", first),
            ("softmax 1/x (rounds)", inverse),
            ("layernorm 1/sqrt (attention)", self.norm1.inv_sqrt()),
            ("gelu", &self.gelu),
            ("layernorm 1/sqrt (feed-forward)", self.norm2.inv_sqrt()),
        ]
    }

    /// Attention heads.
    #[must_use]
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// Softmax squaring rounds.
    #[must_use]
    pub fn softmax_rounds(&self) -> usize {
        self.softmax.rounds()
    }

    /// Rotation steps this layer needs in `layout`.
    #[must_use]
    pub fn rotations(&self, layout: &TokenLayout) -> Vec<i64> {
        let heads = Heads { layout, heads: self.heads };
        let mut steps = heads.rotations();
        for p in [&self.query, &self.key, &self.value, &self.output, &self.intermediate, &self.down] {
            steps.extend(p.rotations());
        }
        steps.extend(NormPlan::rotations(layout));
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// The layer on `x` (token layout), one recorded step at a time.
    pub fn forward<A: Arith>(
        &self,
        a: &Counting<A>,
        session: &mut Session<'_, A>,
        x: Vec<A::Value>,
        layout: &TokenLayout,
    ) -> Result<Vec<A::Value>> {
        if layout.width() != self.query.outputs() {
            return Err(NnError::InvalidShape(format!(
                "tokens of width {} for a layer of width {}",
                layout.width(),
                self.query.outputs()
            )));
        }
        let heads = Heads { layout, heads: self.heads };
        let hidden = Shape::Tokens(layout.width());
        session.set_block(self.index);
        let x = session.ensure(a, x, 4)?;
        let (q, k, v) = session.step(a, "attention/qkv", 1, |_| {
            let mut qkv = Projection::apply_shared(a, &[&self.query, &self.key, &self.value], &x, layout)?.into_iter();
            Ok((qkv.next().unwrap_or_default(), qkv.next().unwrap_or_default(), qkv.next().unwrap_or_default()))
        })?;
        session.observe(&v, hidden)?;
        let (kb, vb) =
            session.step(a, "attention/broadcast", 1, |_| Ok((heads.broadcast(a, &k)?, heads.broadcast(a, &v)?)))?;
        let scores = session.step(a, "attention/scores", 2, |_| heads.scores(a, &q, &kb))?;
        session.observe(&scores, Shape::Scores)?;
        let w = session
            .step(a, "attention/softmax", self.softmax.depth(), |s| heads.softmax(a, s, &self.softmax, scores))?;
        session.observe(&w, Shape::Scores)?;
        let context = session.step(a, "attention/context", 2, |s| {
            let vb = s.ensure(a, vb, 2)?;
            let w = s.ensure(a, w, 1)?;
            heads.context(a, &w, &vb)
        })?;
        session.observe(&context, hidden)?;
        let y = session.step(a, "attention/output", 1, |s| project_add(a, s, &self.output, context, &x, layout))?;
        session.observe(&y, hidden)?;
        let h =
            session.step(a, "attention/layernorm", self.norm1.depth(), |s| normalize(a, s, &self.norm1, y, layout))?;
        session.observe(&h, hidden)?;
        let inner_shape = Shape::Tokens(self.intermediate.outputs());
        let inner = session.step(a, "ffn/intermediate", 1, |s| {
            let h = s.ensure(a, h.iter().map(|v| a.drop_to_level(v, a.level(v))).collect::<Result<_>>()?, 1)?;
            self.intermediate.apply(a, &h, layout)
        })?;
        session.observe(&inner, inner_shape)?;
        let activated = session.step(a, "ffn/gelu", self.gelu.depth(), |s| {
            let inner = s.ensure(a, inner, self.gelu.depth())?;
            inner.iter().map(|v| self.gelu.evaluate(a, v)).collect::<Result<Vec<_>>>()
        })?;
        session.observe(&activated, inner_shape)?;
        let z = session.step(a, "ffn/output", 1, |s| project_add(a, s, &self.down, activated, &h, layout))?;
        session.observe(&z, hidden)?;
        let out = session.step(a, "ffn/layernorm", self.norm2.depth(), |s| normalize(a, s, &self.norm2, z, layout))?;
        session.observe(&out, hidden)?;
        Ok(out)
    }
}

/// projection(input) + residual (the input refreshed if it has no level left).
fn project_add<A: Arith>(
    a: &Counting<A>,
    s: &mut Session<'_, A>,
    projection: &Projection,
    input: Vec<A::Value>,
    skip: &[A::Value],
    layout: &TokenLayout,
) -> Result<Vec<A::Value>> {
    let input = s.ensure(a, input, 1)?;
    let out = projection.apply(a, &input, layout)?;
    residual(a, &out, skip)
}

/// LayerNorm of `y`, refreshed first if it lacks the levels.
fn normalize<A: Arith>(
    a: &Counting<A>,
    s: &mut Session<'_, A>,
    norm: &NormPlan,
    y: Vec<A::Value>,
    layout: &TokenLayout,
) -> Result<Vec<A::Value>> {
    let y = s.ensure(a, y, norm.depth())?;
    norm.apply(a, &y, layout)
}

/// out + x, both brought to the lower of their levels.
fn residual<A: Arith>(a: &A, out: &[A::Value], x: &[A::Value]) -> Result<Vec<A::Value>> {
    out.iter()
        .zip(x)
        .map(|(o, r)| {
            let level = a.level(o).min(a.level(r));
            a.add(&*at_nominal_level(a, o, level)?, &*at_nominal_level(a, r, level)?)
        })
        .collect()
}
