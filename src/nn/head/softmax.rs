//! Multinomial (softmax) regression trained by mini-batch gradient descent
//! on encrypted samples, one-hot labels and weights; C ≥ 2 classes.
//!
//! Packing (L slots; C' = C rounded up to a power of two; F = features + 2
//! rounded up to a power of two; B = L/(F·C') samples per ciphertext): slot
//! (b, k, c) = b·F·C' + k·C' + c is sample b, row k, class c — classes run
//! fastest. x_(b,k) fills (b, k, c) for every real class c < C, with the bias
//! 1 at row k = `features`; the one-hot label y_(b,c) fills (b, k, c) for
//! every row; the weights W_(c,k) fill (b, k, c) for every sample. Padded
//! classes (c ≥ C) and rows k > `features` stay zero; the last row F − 1 is
//! always one of them (see step 4). One step on a mini-batch (X' =
//! (lr/count)·X from the data party):
//!
//! 1. z = X ⊙ w, rotate-and-sum over the rows: the logit u_(b,c) = W_c·x_b
//!    at (b, 0, c) (1 level);
//! 2. mask (b, 0, c), c < C, with 1/R and replicate it over the rows (right
//!    rotate-and-sum): t = u/R in every row of (b, ·, c), 0 in padded
//!    classes (1 level);
//! 3. E = κ·e^(R·t − R) = κ·e^(u − R) by a Chebyshev polynomial on [-1, 1]
//!    (⌈log2(d_exp + 1)⌉ levels; the change of variable rode on step 2);
//! 4. s = Σ_c E_c by rotate-and-sum over the C' classes (no level), minus
//!    (C' − C)·E(0) for the padded classes. Past the last class of row k the
//!    rotations read row k + 1, which holds the same sample's values, so s
//!    is the sample's sum everywhere except in row F − 1 (which reads the
//!    next sample), where X' is zero;
//! 5. 1/s by Newton's method from a Chebyshev guess on [l, l + 2]: the
//!    domain is 2 wide, so its change of variable costs no level
//!    (⌈log2(d_inv + 1)⌉ + 2·steps levels);
//! 6. p = E · 1/s (1 level);
//! 7. e = p − y; g = Σ_b e_b ⊙ X'_b by rotate-and-sum over samples, which
//!    leaves g laid out like w (1 level); w ← w − g, as in logistic
//!    regression.
//!
//! A step costs 4 + ⌈log2(d_exp + 1)⌉ + ⌈log2(d_inv + 1)⌉ + 2·steps levels:
//! 17 for the defaults (degrees 15 and 31, 2 Newton steps), so it needs n15
//! (19 levels) and the data party refreshes the weights before every step.
//! Even the coarsest choice (degrees 3 and 3, no Newton step) needs 8
//! levels, one more than n14 has. Steps 6 and 7 cannot share a level by
//! computing (E ⊙ X')·(1/s): E ⊙ X' ≈ κ·e^(−R)·(lr/count)·x is so small that
//! its rescale rounding, multiplied by 1/s (up to e^R/1.8), swamps the
//! gradient (at R = 8 the logits left their domain after one step). For
//! C = 2, softmax is σ(u_1 − u_0) and [`super::logreg`] trains the same
//! model (weights W_1 − W_0 at twice the learning rate) in 3 + ⌈log2(d + 1)⌉
//! levels, which fits n14.
//!
//! Domain assumptions. A plaintext softmax subtracts max_c u_c, a deep
//! approximation on ciphertexts; here every logit must lie in [−R, R] and the
//! exponent is shifted by the public R instead. Softmax gradients sum to zero
//! over classes (Σ_c p_c − y_c = 0), so from zero weights Σ_c W_c stays 0
//! (up to the inverse's error) and each sample's logits have mean 0; by
//! Jensen s ≥ C·κ·e^(−R), and s ≤ C·κ. κ = 1.9/C puts s in
//! [1.9·e^(−R), 1.9] ⊂ [l, l + 2] with l = 0.95·1.9·e^(−R) (5% margin for the
//! polynomials' errors). A sum below l (the wrong row of step 4, or logits
//! that drifted off centre) does not derail Newton's method: for an
//! interpolant p of 1/x, 1 − x·p(x) = ω(x)/ω(0) ∈ (0, 1) below the smallest
//! node, so the iteration converges from below. Outside |u| ≤ R the exp
//! polynomial is meaningless: [`Trainer::check_domain`] lets the data party
//! check the logits whenever it refreshes the weights.
//!
//! R sets the cost. The inverse's domain ratio is ≈ 1.2·e^R, so a larger R
//! needs a higher degree or more Newton steps; and E's CKKS noise is
//! absolute (≈ κ·2^(−17), from the polynomial's powers) while s can be as
//! small as C·κ·e^(−R), so p carries an absolute noise up to ≈ 2^(−17)·e^R:
//! ≈ 3e-3 at R = 6, 2e-2 at R = 8. Keep R as small as the logits allow.

use super::batch::check_samples;
pub use super::batch::{Batch, BatchValues};
use super::driver::{GradientStep, check_levels, check_positive, check_within};
use super::logreg::logit;
use super::packing::{descend, in_layer, masked_logits, rotate_and_sum, sum_steps};
use crate::nn::approx::{
    Arith, ChebyshevEvaluator, ChebyshevSeries, Domain, Fit, Newton, NewtonTarget, Softmax, finish,
};
use crate::nn::{NnError, Result};

/// Where the class sums lie: s ∈ [C·κ·e^(−R), C·κ] = [SUM_TOP·e^(−R), SUM_TOP].
const SUM_TOP: f64 = 1.9;
/// Fraction of the smallest class sum the inverse's domain starts at.
const SUM_MARGIN: f64 = 0.95;
/// Significant bits of the inverse's lower end l, so that l + 2 − l is exactly 2.
const LOWER_END_BITS: f64 = 10.0;

/// Hyperparameters of a training run.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SoftmaxConfig {
    /// Learning rate.
    pub lr: f64,
    /// Passes over the training set.
    pub epochs: usize,
    /// Bound R on every logit W_c·x + b_c: the exp runs on [−2R, 0].
    pub logit_range: f64,
    /// Degree of the Chebyshev exp (2^k − 1 uses its depth fully).
    pub exp_degree: usize,
    /// Degree of the Chebyshev initial guess of 1/s.
    pub inverse_degree: usize,
    /// Newton steps refining 1/s (2 levels each).
    pub newton_steps: usize,
}

impl Default for SoftmaxConfig {
    fn default() -> Self {
        Self { lr: 0.05, epochs: 10, logit_range: 6.0, exp_degree: 15, inverse_degree: 31, newton_steps: 2 }
    }
}

/// Packing and the training step for one feature count, class count and slot count.
#[derive(Clone, Debug)]
pub struct Trainer {
    features: usize,
    classes: usize,
    /// C': classes rounded up to a power of two (the stride of a row).
    columns: usize,
    /// F: rows per sample, features + bias + the free last row.
    rows: usize,
    slots: usize,
    config: SoftmaxConfig,
    /// κ·e^(R·t − R) on t ∈ [-1, 1]: the change of variable rides on the mask.
    exp: ChebyshevEvaluator,
    /// 1/s on [l, l + 2].
    inverse: Newton,
    /// κ = SUM_TOP / C.
    kappa: f64,
}

impl Trainer {
    /// A trainer for `features` inputs and `classes` classes in ciphertexts of `slots` slots.
    pub fn new(features: usize, classes: usize, slots: usize, config: SoftmaxConfig) -> Result<Self> {
        let invalid = |reason: String| NnError::InvalidApprox { what: "softmax regression".into(), reason };
        if features == 0 || classes < 2 {
            return Err(invalid(format!("{features} features and {classes} classes (at least 1 and 2)")));
        }
        let padded =
            features.checked_add(2).and_then(usize::checked_next_power_of_two).zip(classes.checked_next_power_of_two());
        let Some((rows, columns)) =
            padded.filter(|(r, c)| slots.is_power_of_two() && r.checked_mul(*c).is_some_and(|n| n <= slots))
        else {
            return Err(invalid(format!(
                "{features} features (+ bias + 1 free row) × {classes} classes, each padded to a power of two, \
                 do not fit {slots} slots"
            )));
        };
        check_positive("softmax regression", "learning rate", config.lr)?;
        let range = config.logit_range;
        check_positive("softmax regression", "logit range", range)?;
        let kappa = SUM_TOP / classes as f64;
        let series =
            ChebyshevSeries::interpolate(|t| kappa * (range * (t - 1.0)).exp(), Domain::UNIT, config.exp_degree)?;
        let lower = round_down(SUM_MARGIN * SUM_TOP * (-range).exp());
        let inverse = Newton::new(
            NewtonTarget::Inverse,
            Domain::new(lower, lower + 2.0)?,
            config.inverse_degree,
            Fit::Interpolation,
            config.newton_steps,
        )?;
        Ok(Self {
            features,
            classes,
            columns,
            rows,
            slots,
            config,
            exp: ChebyshevEvaluator::new(series),
            inverse,
            kappa,
        })
    }

    /// Samples per ciphertext.
    #[must_use]
    pub fn samples_per_batch(&self) -> usize {
        self.slots / (self.rows * self.columns)
    }

    /// Slots of every ciphertext.
    #[must_use]
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Number of classes.
    #[must_use]
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The hyperparameters.
    #[must_use]
    pub fn config(&self) -> &SoftmaxConfig {
        &self.config
    }

    /// Levels one step consumes from the weights: 4 + the exp's + the inverse's.
    #[must_use]
    pub fn depth_per_step(&self) -> usize {
        4 + self.exp.depth() + self.inverse.depth()
    }

    /// Max |Ẽ − e^(u − R)| of the exp polynomial over u ∈ [−R, R].
    #[must_use]
    pub fn exp_error(&self) -> f64 {
        let range = self.config.logit_range;
        self.exp.series().max_error(|t| self.kappa * (range * (t - 1.0)).exp()) / self.kappa
    }

    /// Max relative error |s·ĩnv(s) − 1| of the inverse over its domain.
    #[must_use]
    pub fn inverse_error(&self) -> f64 {
        let domain = self.inverse.initial().series().domain();
        domain.grid(4096).map(|s| (s * self.inverse.eval_f64(s) - 1.0).abs()).fold(0.0, f64::max)
    }

    /// Checks (data party, on plaintext) that the logits W_c·x + b_c of
    /// `rows` stay where the approximations hold: each in [−R, R], and
    /// Σ_c e^(u_c − R) within the inverse's domain (it leaves only if the
    /// logits drift far off centre). `w_slots` are the decrypted weight slots.
    pub fn check_domain(&self, w_slots: &[f64], rows: &[Vec<f64>]) -> Result<()> {
        let w = self.weights_from_slots(w_slots);
        let range = self.config.logit_range;
        let logits: Vec<Vec<f64>> = rows.iter().map(|r| logits(&w, r)).collect();
        check_within(
            "softmax logit W_c·x + b_c (lower the learning rate or widen the logit range)",
            -range,
            range,
            // Per sample, its logit farthest from 0.
            logits
                .iter()
                .map(|u| u.iter().copied().max_by(|a, b| a.abs().total_cmp(&b.abs())).unwrap_or(0.0))
                .enumerate(),
        )?;
        let inverse = self.inverse.initial().series().domain();
        let (lo, hi) = (inverse.lo() / self.kappa, inverse.hi() / self.kappa);
        let sums = logits.iter().map(|u| u.iter().map(|u| (u - range).exp()).sum::<f64>());
        check_within("softmax denominator Σ_c e^(u_c − R) (the logits drifted off centre)", lo, hi, sums.enumerate())
    }

    /// Rotation steps the evaluation keys need.
    #[must_use]
    pub fn rotations(&self) -> Vec<i64> {
        let mut steps: Vec<i64> = sum_steps(self.columns, self.rows, false)
            .chain(sum_steps(self.columns, self.rows, true))
            .chain(sum_steps(1, self.columns, false))
            .chain(sum_steps(self.rows * self.columns, self.samples_per_batch(), false))
            .collect();
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// Packs up to [`Self::samples_per_batch`] samples (rows of `x`, class
    /// labels 0, 1, ..., C − 1 in `y`) into the slot vectors of one batch.
    pub fn batch_values(&self, x: &[Vec<f64>], y: &[f64]) -> Result<BatchValues> {
        check_samples("softmax regression", x, y, self.features, self.samples_per_batch())?;
        let labels = class_labels(y, self.classes)?;
        let rate = self.config.lr / x.len() as f64;
        let mut values = BatchValues::zeros(self.slots);
        for (b, (row, label)) in x.iter().zip(labels).enumerate() {
            let sample = b * self.rows * self.columns;
            for (k, &v) in row.iter().chain(std::iter::once(&1.0)).enumerate() {
                let start = sample + k * self.columns;
                values.x[start..start + self.classes].fill(v);
                values.x_grad[start..start + self.classes].fill(rate * v);
            }
            for k in 0..self.rows {
                values.y[sample + k * self.columns + label] = 1.0;
            }
        }
        Ok(values)
    }

    /// The weights W_c (features, then bias) of each class from decrypted
    /// weight slots (missing slots read as 0).
    #[must_use]
    pub fn weights_from_slots(&self, slots: &[f64]) -> Vec<Vec<f64>> {
        (0..self.classes)
            .map(|c| (0..=self.features).map(|k| slots.get(k * self.columns + c).copied().unwrap_or(0.0)).collect())
            .collect()
    }

    /// Initial weights (zeros), as slot values.
    #[must_use]
    pub fn initial_weights(&self) -> Vec<f64> {
        vec![0.0; self.slots]
    }

    /// The mask of step 2: 1/R at row 0 of each real class of each sample.
    fn mask(&self) -> Vec<f64> {
        let inv_range = 1.0 / self.config.logit_range;
        (0..self.slots).map(|j| if j % (self.rows * self.columns) < self.classes { inv_range } else { 0.0 }).collect()
    }

    /// Steps 3–6: softmax over the classes of each sample from the scaled
    /// logits `t`, at the nominal scale of its level.
    fn softmax<A: Arith>(&self, a: &A, t: &A::Value) -> Result<A::Value> {
        let exps = self.exp.evaluate(a, t)?;
        let sums = rotate_and_sum(a, a.drop_to_level(&exps, a.level(&exps))?, 1, self.columns)?;
        let sums = match self.columns - self.classes {
            0 => sums,
            padded => a.add_const(&sums, -(padded as f64) * self.exp.series().eval(0.0))?,
        };
        // E · 1/s lands on the nominal scale of the level below the inverse's.
        let out = a.level(&sums) - self.inverse.depth() - 1;
        let exps = a.drop_to_level(&exps, out + 1)?;
        let target = a.params().scale(out) * a.params().level_modulus(out + 1) / a.scale(&exps);
        let inverse = self.inverse.evaluate_at(a, &sums, target)?;
        finish(a, a.mul(&exps, &inverse)?)
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
        let t = in_layer(a, "logits", || masked_logits(a, w, &batch.x, &self.mask(), self.columns, self.rows))?;
        let p = in_layer(a, "softmax", || self.softmax(a, &t))?;
        let stride = self.rows * self.columns;
        in_layer(a, "gradient+update", || descend(a, w, &p, batch, stride, self.samples_per_batch()))
    }
}

/// `x` rounded down to [`LOWER_END_BITS`] significant bits.
fn round_down(x: f64) -> f64 {
    let unit = (x.log2().floor() - LOWER_END_BITS).exp2();
    (x / unit).floor() * unit
}

/// The class indices of labels 0.0, 1.0, ..., (classes − 1) as f64.
fn class_labels(y: &[f64], classes: usize) -> Result<Vec<usize>> {
    y.iter()
        .enumerate()
        .map(|(b, &label)| {
            if label >= 0.0 && label < classes as f64 && label.fract() == 0.0 {
                Ok(label as usize)
            } else {
                Err(NnError::InvalidApprox {
                    what: "softmax regression batch".into(),
                    reason: format!("sample {b}: label {label} is not a class 0..={}", classes - 1),
                })
            }
        })
        .collect()
}

/// The logits W_c·x + b_c of one sample, weights as
/// [`Trainer::weights_from_slots`] returns them.
#[must_use]
pub fn logits(w: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
    w.iter().map(|w| logit(w, x)).collect()
}

/// The exact class probabilities softmax(W·x + b) of one sample.
#[must_use]
pub fn probabilities(w: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
    Softmax::reference(&logits(w, x))
}

/// The most probable class of one sample (the first one on ties).
#[must_use]
pub fn predict(w: &[Vec<f64>], x: &[f64]) -> usize {
    let u = logits(w, x);
    (0..u.len()).fold(0, |best, c| if u[c] > u[best] { c } else { best })
}

/// Plaintext training with the exact softmax: the same mini-batches
/// (labels 0, ..., classes − 1), order, learning rate and initial weights as
/// [`GradientStep::train`]. Returns each class's weights and bias.
pub fn train_exact(
    batches: &[(Vec<Vec<f64>>, Vec<f64>)],
    features: usize,
    classes: usize,
    config: &SoftmaxConfig,
) -> Result<Vec<Vec<f64>>> {
    let labelled = batches
        .iter()
        .map(|(x, y)| {
            check_samples("softmax regression", x, y, features, x.len().max(1))?;
            Ok((x, class_labels(y, classes)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut w = vec![vec![0.0; features + 1]; classes];
    for _ in 0..config.epochs {
        for (x, labels) in &labelled {
            let rate = config.lr / x.len() as f64;
            let mut g = vec![vec![0.0; features + 1]; classes];
            for (row, &label) in x.iter().zip(labels) {
                for (c, p) in probabilities(&w, row).into_iter().enumerate() {
                    let e = p - f64::from(u8::from(c == label));
                    for (k, v) in row.iter().chain(std::iter::once(&1.0)).enumerate() {
                        g[c][k] += rate * e * v;
                    }
                }
            }
            w.iter_mut().flatten().zip(g.iter().flatten()).for_each(|(w, g)| *w -= g);
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ckks::{Params, ParamsLiteral, preset};
    use crate::nn::approx::PlainArith;
    use crate::nn::head::logreg::{self, LogRegConfig};

    /// Samples of 3 features labelled by the largest of three linear scores.
    fn toy_data(classes: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
        let x: Vec<Vec<f64>> = (0..24)
            .map(|i| {
                let t = f64::from(i);
                vec![(t * 0.37).sin(), (t * 0.91).cos(), (t * 1.3).sin() * 0.5]
            })
            .collect();
        let score = |r: &[f64]| [r[0] + 0.3, r[1] - r[0], 2.0 * r[2] - 0.5 * r[1]];
        let y = x.iter().map(|r| argmax(&score(r)[..classes]) as f64).collect();
        (x, y)
    }

    fn argmax(v: &[f64]) -> usize {
        (0..v.len()).fold(0, |best, c| if v[c] > v[best] { c } else { best })
    }

    fn batches(trainer: &Trainer, classes: usize) -> Vec<(Vec<Vec<f64>>, Vec<f64>)> {
        let (x, y) = toy_data(classes);
        let per = trainer.samples_per_batch();
        x.chunks(per).zip(y.chunks(per)).map(|(x, y)| (x.to_vec(), y.to_vec())).collect()
    }

    /// A mirror deep enough for one step (16 levels) per refresh.
    fn deep_mirror() -> PlainArith {
        let literal =
            ParamsLiteral { name: "toy-deep".into(), depth: 16, ..preset("toy-n1024").unwrap().literal().clone() };
        PlainArith::new(Arc::new(Params::try_from_literal(literal).unwrap()))
    }

    #[test]
    fn mirror_training_follows_exact_training() {
        let config =
            SoftmaxConfig { lr: 1.0, epochs: 3, logit_range: 4.0, exp_degree: 15, inverse_degree: 15, newton_steps: 2 };
        let trainer = Trainer::new(3, 3, 128, config).unwrap();
        assert_eq!((trainer.samples_per_batch(), trainer.depth_per_step()), (4, 4 + 4 + 4 + 4));
        let batches = batches(&trainer, 3);
        let mirror = deep_mirror();
        let top = mirror.params().max_level();
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
        let rows: Vec<Vec<f64>> = batches.iter().flat_map(|(x, _)| x.clone()).collect();
        let w0 = mirror.encode(&trainer.initial_weights(), top).unwrap();
        let (w, refreshes) = trainer
            .train(
                &mirror,
                w0,
                &plain,
                |w| {
                    trainer.check_domain(w.values(), &rows)?;
                    mirror.encode(w.values(), top)
                },
                |_| {},
            )
            .unwrap();
        assert_eq!(refreshes, config.epochs * batches.len() - 1);
        let got = trainer.weights_from_slots(w.values());
        // Every sample's copy of the weights agrees; padded classes and free rows stay zero.
        let sample = trainer.rows * trainer.columns;
        for (j, v) in w.values().iter().enumerate() {
            assert!((v - w.values()[j % sample]).abs() < 1e-9, "slot {j}");
            let (k, c) = (j % sample / trainer.columns, j % trainer.columns);
            assert!(k <= 3 && c < 3 || v.abs() < 1e-9, "slot {j}: {v}");
        }
        let exact = train_exact(&batches, 3, 3, &config).unwrap();
        let diff = got.iter().flatten().zip(exact.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        // The inverse's relative error (≈ 1e-6) and the exp's (≈ 2e-10), over 18 steps at lr 1.
        assert!(diff < 1e-4, "mirror {got:?} vs exact {exact:?}");
        // Σ_c W_c stays 0: the logits stay centred.
        for k in 0..=3 {
            assert!(got.iter().map(|w| w[k]).sum::<f64>().abs() < 1e-4);
        }
    }

    #[test]
    fn two_classes_train_logistic_regression_at_twice_the_rate() {
        let config = SoftmaxConfig { lr: 0.5, epochs: 4, ..SoftmaxConfig::default() };
        let trainer = Trainer::new(3, 2, 64, config).unwrap();
        let batches = batches(&trainer, 2);
        let w = train_exact(&batches, 3, 2, &config).unwrap();
        let logistic = LogRegConfig { lr: 2.0 * config.lr, epochs: config.epochs, ..LogRegConfig::default() };
        let d = logreg::train_exact(&batches, 3, &logistic);
        for k in 0..=3 {
            assert!((w[1][k] - w[0][k] - d[k]).abs() < 1e-12 && (w[1][k] + w[0][k]).abs() < 1e-12);
        }
        let x = &batches[0].0[0];
        let p = probabilities(&w, x);
        assert!((p[1] - crate::nn::approx::reference::sigmoid(logreg::logit(&d, x))).abs() < 1e-12);
        assert_eq!(predict(&w, x), usize::from(p[1] > 0.5));
    }

    #[test]
    fn packing_puts_classes_innermost_and_keeps_the_last_row_free() {
        let config = SoftmaxConfig { lr: 0.5, ..SoftmaxConfig::default() };
        let trainer = Trainer::new(2, 3, 64, config).unwrap();
        // F = 4 rows (2 features, bias, free), C' = 4 columns: 16 slots per sample.
        assert_eq!(trainer.samples_per_batch(), 4);
        let v = trainer.batch_values(&[vec![0.5, -1.0], vec![2.0, 3.0]], &[2.0, 0.0]).unwrap();
        assert_eq!(&v.x[..16], &[0.5, 0.5, 0.5, 0.0, -1.0, -1.0, -1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(v.x_grad[16 + 4], 0.25 * 3.0);
        assert_eq!(&v.y[..8], &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        assert_eq!(&v.y[16..20], &[1.0, 0.0, 0.0, 0.0]);
        assert!(v.x[32..].iter().all(|&x| x == 0.0));
        let w: Vec<f64> = (0..64).map(f64::from).collect();
        assert_eq!(
            trainer.weights_from_slots(&w),
            vec![vec![0.0, 4.0, 8.0], vec![1.0, 5.0, 9.0], vec![2.0, 6.0, 10.0]]
        );
        assert_eq!(trainer.rotations(), vec![-8, -4, 1, 2, 4, 8, 16, 32]);
    }

    #[test]
    fn check_domain_names_the_offending_sample() {
        let config = SoftmaxConfig { logit_range: 8.0, ..SoftmaxConfig::default() };
        let trainer = Trainer::new(2, 3, 64, config).unwrap();
        let mut w = vec![0.0; 64];
        // W_0 = (1, 0), W_1 = (−1, 0), W_2 = 0: centred logits ±x_0.
        (w[0], w[1]) = (1.0, -1.0);
        assert!(trainer.check_domain(&w, &[vec![3.0, 9.0], vec![-8.0, 0.0]]).is_ok());
        let err = trainer.check_domain(&w, &[vec![1.0, 0.0], vec![8.5, 0.0], vec![-9.0, 1.0]]).unwrap_err();
        assert!(matches!(err, NnError::OutOfDomain { index: 1, count: 2, .. }), "{err}");
        // Logits inside [−R, R] but all at −R: far off centre, the denominator leaves the inverse's domain.
        w[8..11].fill(-8.0);
        let err = trainer.check_domain(&w, &[vec![0.0, 0.0]]).unwrap_err().to_string();
        assert!(err.starts_with("softmax denominator"), "{err}");
    }

    #[test]
    fn approximations_are_accurate_and_the_inverse_map_is_free() {
        let trainer = Trainer::new(30, 2, 16384, SoftmaxConfig::default()).unwrap();
        assert_eq!(trainer.depth_per_step(), 4 + 4 + 5 + 2 * 2);
        assert!(trainer.exp_error() < 1e-7 && trainer.inverse_error() < 1e-4);
    }
}
