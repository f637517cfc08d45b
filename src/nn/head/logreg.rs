//! Logistic regression trained by mini-batch gradient descent on encrypted
//! samples, labels and weights.
//!
//! Packing (L slots, F = features + 1 rounded up to a power of two, B = L/F
//! samples per ciphertext): sample b fills block b (slots bF .. bF+F) with
//! its features and a constant 1 (the bias) at index `features`; labels are
//! replicated over their block; the weights are replicated with period F.
//! One step on a mini-batch ciphertext X (labels y, and X' = (lr/count)·X
//! for the gradient, both from the data party):
//!
//! 1. z = X ⊙ w, then rotate-and-sum over the block: u_b at slot bF
//!    (1 level);
//! 2. mask slot bF with 1/R and replicate it over the block (right
//!    rotate-and-sum): ũ_b = u_b / R everywhere in block b (1 level);
//! 3. σ(R·ũ) by a Chebyshev polynomial on [-1, 1], i.e. σ on [-R, R]
//!    (⌈log2(d+1)⌉ levels; the change of variable rode on step 2);
//! 4. e = σ − y; g = Σ_b e_b · X'_b by rotate-and-sum over blocks, which
//!    leaves g replicated with period F (1 level);
//! 5. w ← w − g (w brought to g's level and exact scale with one constant
//!    multiplication folded into a rescale it had to make anyway).
//!
//! So a step costs 3 + ⌈log2(d+1)⌉ levels of w; when w has fewer left, the
//! data party refreshes it (decrypts and re-encrypts at the top level).
//! Outside |u| ≤ R the polynomial is meaningless: [`Trainer::check_domain`]
//! lets the data party check the logits whenever it refreshes the weights.

use super::batch::check_samples;
pub use super::batch::{Batch, BatchValues};
use super::driver::{GradientStep, check_levels, check_positive, check_within};
use super::packing::{descend, in_layer, masked_logits, sum_steps};
use crate::nn::approx::{Arith, ChebyshevEvaluator, ChebyshevSeries, Domain, reference};
use crate::nn::{NnError, Result};

/// Hyperparameters of a training run.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct LogRegConfig {
    /// Learning rate.
    pub lr: f64,
    /// Passes over the training set.
    pub epochs: usize,
    /// Degree of the Chebyshev sigmoid (2^k − 1 uses its depth fully).
    pub sigmoid_degree: usize,
    /// Half-width R of the sigmoid's input domain [-R, R].
    pub sigmoid_range: f64,
}

impl Default for LogRegConfig {
    fn default() -> Self {
        Self { lr: 0.2, epochs: 10, sigmoid_degree: 15, sigmoid_range: 16.0 }
    }
}

/// Packing and the training step for one feature count and slot count.
#[derive(Clone, Debug)]
pub struct Trainer {
    features: usize,
    block: usize,
    slots: usize,
    config: LogRegConfig,
    /// σ(R·t) on t ∈ [-1, 1]: the change of variable rides on the mask.
    sigmoid: ChebyshevEvaluator,
}

impl Trainer {
    /// A trainer for `features` inputs in ciphertexts of `slots` slots.
    pub fn new(features: usize, slots: usize, config: LogRegConfig) -> Result<Self> {
        let block = (features + 1).next_power_of_two();
        if features == 0 || !slots.is_power_of_two() || block > slots {
            return Err(NnError::InvalidApprox {
                what: "logistic regression".into(),
                reason: format!("{features} features (+ bias) do not fit {slots} slots"),
            });
        }
        check_positive("logistic regression", "learning rate", config.lr)?;
        let range = config.sigmoid_range;
        check_positive("logistic regression", "sigmoid range", range)?;
        let series = ChebyshevSeries::interpolate(
            |t| reference::sigmoid(range * t),
            Domain::new(-1.0, 1.0)?,
            config.sigmoid_degree,
        )?;
        let sigmoid = ChebyshevEvaluator::new(series);
        Ok(Self { features, block, slots, config, sigmoid })
    }

    /// Samples per ciphertext.
    #[must_use]
    pub fn samples_per_batch(&self) -> usize {
        self.slots / self.block
    }

    /// Slots of every ciphertext.
    #[must_use]
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The hyperparameters.
    #[must_use]
    pub fn config(&self) -> &LogRegConfig {
        &self.config
    }

    /// Levels one step consumes from the weights.
    #[must_use]
    pub fn depth_per_step(&self) -> usize {
        3 + self.sigmoid.depth()
    }

    /// Max |σ̃ − σ| of the sigmoid polynomial over [-R, R].
    #[must_use]
    pub fn sigmoid_error(&self) -> f64 {
        let range = self.config.sigmoid_range;
        self.sigmoid.series().max_error(|t| reference::sigmoid(range * t))
    }

    /// Checks (data party, on plaintext) that every logit w·x + b of `rows`
    /// lies in the sigmoid's domain [-R, R]: outside it the polynomial is
    /// meaningless and training would silently go wrong. `w_slots` are the
    /// decrypted weight slots.
    pub fn check_domain(&self, w_slots: &[f64], rows: &[Vec<f64>]) -> Result<()> {
        let w = self.weights_from_slots(w_slots);
        let range = self.config.sigmoid_range;
        check_within(
            "sigmoid input w·x + b (lower the learning rate or widen the sigmoid range)",
            -range,
            range,
            rows.iter().map(|r| logit(&w, r)).enumerate(),
        )
    }

    /// Rotation steps the evaluation keys need.
    #[must_use]
    pub fn rotations(&self) -> Vec<i64> {
        let within = sum_steps(1, self.block, false).chain(sum_steps(1, self.block, true));
        within.chain(sum_steps(self.block, self.samples_per_batch(), false)).collect()
    }

    /// Packs up to [`Self::samples_per_batch`] samples (rows of `x`, labels
    /// 0/1 in `y`) into the slot vectors of one batch.
    pub fn batch_values(&self, x: &[Vec<f64>], y: &[f64]) -> Result<BatchValues> {
        check_samples("logistic regression", x, y, self.features, self.samples_per_batch())?;
        let rate = self.config.lr / x.len() as f64;
        let mut values = BatchValues::zeros(self.slots);
        for (b, (row, &label)) in x.iter().zip(y).enumerate() {
            let block = b * self.block..(b + 1) * self.block;
            for (k, &v) in row.iter().chain(std::iter::once(&1.0)).enumerate() {
                values.x[block.start + k] = v;
                values.x_grad[block.start + k] = rate * v;
            }
            values.y[block].fill(label);
        }
        Ok(values)
    }

    /// Weights and bias (`features + 1` values) from decrypted weight slots.
    #[must_use]
    pub fn weights_from_slots(&self, slots: &[f64]) -> Vec<f64> {
        slots.iter().take(self.features + 1).copied().collect()
    }

    /// Initial weights (zeros), as slot values.
    #[must_use]
    pub fn initial_weights(&self) -> Vec<f64> {
        vec![0.0; self.slots]
    }

    /// The block masks of step 2: 1/R at each block's first slot.
    fn mask(&self) -> Vec<f64> {
        (0..self.slots).map(|j| if j % self.block == 0 { 1.0 / self.config.sigmoid_range } else { 0.0 }).collect()
    }
}

impl GradientStep for Trainer {
    fn epochs(&self) -> usize {
        self.config.epochs
    }

    fn depth_per_step(&self) -> usize {
        Trainer::depth_per_step(self)
    }

    fn step<A: Arith>(&self, a: &A, w: &A::Value, batch: &Batch<A::Value>) -> Result<A::Value> {
        check_levels(a.level(w), self.depth_per_step())?;
        let u = in_layer(a, "logits", || masked_logits(a, w, &batch.x, &self.mask(), 1, self.block))?;
        let p = in_layer(a, "sigmoid", || self.sigmoid.evaluate(a, &u))?;
        in_layer(a, "gradient+update", || descend(a, w, &p, batch, self.block, self.samples_per_batch()))
    }
}

/// Plaintext training with the exact sigmoid: the same mini-batches, order,
/// learning rate and initial weights as [`GradientStep::train`]. Returns weights
/// and bias.
#[must_use]
pub fn train_exact(batches: &[(Vec<Vec<f64>>, Vec<f64>)], features: usize, config: &LogRegConfig) -> Vec<f64> {
    let mut w = vec![0.0; features + 1];
    for _ in 0..config.epochs {
        for (x, y) in batches {
            let rate = config.lr / x.len() as f64;
            let mut g = vec![0.0; features + 1];
            for (row, &label) in x.iter().zip(y) {
                let e = reference::sigmoid(logit(&w, row)) - label;
                for (k, v) in row.iter().chain(std::iter::once(&1.0)).enumerate() {
                    g[k] += rate * e * v;
                }
            }
            w.iter_mut().zip(&g).for_each(|(w, g)| *w -= g);
        }
    }
    w
}

/// w·x + bias for weights `w` (features then bias).
#[must_use]
pub fn logit(w: &[f64], x: &[f64]) -> f64 {
    x.iter().zip(w).map(|(x, w)| x * w).sum::<f64>() + w.last().copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ckks::preset;
    use crate::nn::approx::PlainArith;

    /// A few samples of 3 features whose labels follow a linear rule.
    fn toy_data() -> (Vec<Vec<f64>>, Vec<f64>) {
        let x: Vec<Vec<f64>> = (0..24)
            .map(|i| {
                let t = f64::from(i);
                vec![(t * 0.37).sin(), (t * 0.91).cos(), ((t * 1.3).sin() * 0.5)]
            })
            .collect();
        let y = x.iter().map(|r| f64::from(u8::from(r[0] - 0.5 * r[1] + 0.2 > 0.0))).collect();
        (x, y)
    }

    #[test]
    fn mirror_training_follows_exact_training() {
        let params = Arc::new(preset("toy-n4096").unwrap());
        let config = LogRegConfig { lr: 1.0, epochs: 4, sigmoid_degree: 7, sigmoid_range: 8.0 };
        let trainer = Trainer::new(3, 64, config).unwrap();
        let (x, y) = toy_data();
        let per = trainer.samples_per_batch();
        let batches: Vec<_> = x.chunks(per).zip(y.chunks(per)).map(|(x, y)| (x.to_vec(), y.to_vec())).collect();
        let mirror = PlainArith::new(params.clone());
        let top = params.max_level();
        let plain: Vec<Batch<_>> = batches
            .iter()
            .map(|(x, y)| {
                let v = trainer.batch_values(x, y).unwrap();
                Batch {
                    x: mirror.encode(&v.x, top).unwrap(),
                    x_grad: mirror.encode(&v.x_grad, top).unwrap(),
                    y: mirror.encode(&v.y, top).unwrap(),
                }
            })
            .collect();
        let w0 = mirror.encode(&trainer.initial_weights(), top).unwrap();
        let (w, refreshes) = trainer.train(&mirror, w0, &plain, |w| mirror.encode(w.values(), top), |_| {}).unwrap();
        let exact = train_exact(&batches, 3, &config);
        let got = trainer.weights_from_slots(w.values());
        // Every weight slot of the replicated vector agrees.
        for (j, v) in w.values().iter().enumerate() {
            assert!((v - got[j % 4]).abs() < 1e-9 || j % 4 == 3 && (v - got[3]).abs() < 1e-9, "slot {j}");
        }
        let diff = got.iter().zip(&exact).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(diff < 0.05, "mirror {got:?} vs exact {exact:?}");
        assert_eq!(refreshes, config.epochs * batches.len() - 1);
    }
}
