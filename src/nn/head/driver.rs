//! The training loop every head shares: epochs over the mini-batches, one
//! gradient step each, and a refresh by the data party whenever the weights
//! have fewer levels left than a step consumes.

use super::batch::Batch;
use crate::nn::approx::Arith;
use crate::nn::{NnError, Result};

/// A head trained by gradient steps written once against [`Arith`].
pub trait GradientStep {
    /// Passes over the training set.
    fn epochs(&self) -> usize;

    /// Levels one step consumes from the weights.
    fn depth_per_step(&self) -> usize;

    /// One gradient step of the weights `w` on `batch`: the new weights,
    /// [`Self::depth_per_step`] levels below `w`.
    fn step<A: Arith>(&self, a: &A, w: &A::Value, batch: &Batch<A::Value>) -> Result<A::Value>;

    /// Runs [`Self::epochs`] passes over `batches` from `w`; before a step
    /// that would run out of levels, `refresh` (the data party) returns the
    /// weights at the top level; `progress` hears each finished epoch.
    /// Returns the weights and the refresh count.
    fn train<A: Arith>(
        &self,
        a: &A,
        w: A::Value,
        batches: &[Batch<A::Value>],
        mut refresh: impl FnMut(&A::Value) -> Result<A::Value>,
        mut progress: impl FnMut(usize),
    ) -> Result<(A::Value, usize)> {
        let mut w = w;
        let mut refreshes = 0;
        for epoch in 0..self.epochs() {
            for batch in batches {
                if a.level(&w) < self.depth_per_step() {
                    w = refresh(&w)?;
                    refreshes += 1;
                }
                w = self.step(a, &w, batch)?;
            }
            progress(epoch + 1);
        }
        Ok((w, refreshes))
    }
}

/// The error a step gives when `w` sits at `level`, below `needed`.
pub(super) fn check_levels(level: usize, needed: usize) -> Result<()> {
    if level < needed {
        return Err(NnError::NotEnoughLevels { what: "training step".into(), needed, level });
    }
    Ok(())
}

/// Checks that hyperparameter `name` of `what` is finite and positive.
pub(super) fn check_positive(what: &str, name: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(NnError::InvalidApprox { what: what.into(), reason: format!("{name} {value} must be positive") })
    }
}

/// The data party's domain check: `Ok` when every `(index, value)` lies in
/// [lo, hi], else [`NnError::OutOfDomain`] naming `what`, the first value
/// outside and how many are.
pub(super) fn check_within(what: &str, lo: f64, hi: f64, values: impl Iterator<Item = (usize, f64)>) -> Result<()> {
    let outside: Vec<(usize, f64)> = values.filter(|(_, v)| !(lo..=hi).contains(v)).collect();
    match outside.first() {
        Some(&(index, value)) => {
            Err(NnError::OutOfDomain { what: what.into(), lo, hi, index, value, count: outside.len() })
        }
        None => Ok(()),
    }
}
