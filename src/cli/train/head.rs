//! The heads `hetl train` can train, behind one interface: logistic
//! regression (`nn::head::logreg`) and softmax regression over the two
//! classes (`nn::head::softmax`).

use ndarray::Array2;

use crate::ckks::presets::preset;
use crate::nn::Result;
use crate::nn::approx::{Arith, reference};
use crate::nn::head::driver::GradientStep;
use crate::nn::head::logreg::{Batch, BatchValues};
use crate::nn::head::{logreg, softmax};

/// Heads selectable with `--head`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HeadKind {
    /// Logistic regression, Chebyshev sigmoid (7 levels a step: fits n14).
    Logreg,
    /// Softmax regression, Chebyshev exp + Newton inverse (17 levels a step: n15 and up).
    Softmax,
}

impl HeadKind {
    /// The preset a head runs at when none is given: the smallest that fits a step.
    pub fn default_preset(self) -> &'static str {
        match self {
            Self::Logreg => "n14",
            Self::Softmax => "n15",
        }
    }

    /// The learning rate used when none is given, at the default preset
    /// (the logits stay in the approximations' domains on the bundled data;
    /// see [`HeadOptions::scale_default_lr`] for other presets).
    pub fn default_lr(self) -> f64 {
        match self {
            Self::Logreg => 0.2,
            Self::Softmax => softmax::SoftmaxConfig::default().lr,
        }
    }
}

/// Hyperparameters from the command line.
pub struct HeadOptions {
    /// Learning rate.
    pub lr: f64,
    /// Passes over the training split.
    pub epochs: usize,
    /// Degree of the logistic head's sigmoid.
    pub sigmoid_degree: usize,
    /// Half-width of the logistic head's sigmoid domain.
    pub sigmoid_range: f64,
}

impl HeadOptions {
    /// Scales `lr`, a default tuned at `kind`'s default preset, to a preset
    /// of `slots` slots whose mini-batches hold fewer samples: by the ratio
    /// of the two mini-batches (the linear scaling rule). An epoch of more,
    /// smaller steps at the same rate moves the weights further, and on the
    /// toy presets drove the bundled data's logits out of the sigmoid's
    /// domain. Larger mini-batches keep the rate.
    pub fn scale_default_lr(&mut self, kind: HeadKind, features: usize, slots: usize) -> anyhow::Result<()> {
        let reference = preset(kind.default_preset())?.max_slots();
        let per_batch = |slots| Head::new(kind, features, slots, self).map(|h| h.samples_per_batch() as f64);
        self.lr *= (per_batch(slots)? / per_batch(reference)?).min(1.0);
        Ok(())
    }
}

/// A head prepared for one feature count and slot count.
pub enum Head {
    /// See [`logreg::Trainer`].
    Logreg(logreg::Trainer),
    /// See [`softmax::Trainer`] (two classes).
    Softmax(softmax::Trainer),
}

/// Calls the same method on whichever trainer `$head` holds.
macro_rules! dispatch {
    ($head:expr, $t:ident => $body:expr) => {
        match $head {
            Head::Logreg($t) => $body,
            Head::Softmax($t) => $body,
        }
    };
}

impl Head {
    /// A trainer of `kind` for `features` inputs in `slots` slots.
    pub fn new(kind: HeadKind, features: usize, slots: usize, o: &HeadOptions) -> Result<Self> {
        Ok(match kind {
            HeadKind::Logreg => Self::Logreg(logreg::Trainer::new(
                features,
                slots,
                logreg::LogRegConfig {
                    lr: o.lr,
                    epochs: o.epochs,
                    sigmoid_degree: o.sigmoid_degree,
                    sigmoid_range: o.sigmoid_range,
                },
            )?),
            HeadKind::Softmax => Self::Softmax(softmax::Trainer::new(
                features,
                2,
                slots,
                softmax::SoftmaxConfig { lr: o.lr, epochs: o.epochs, ..softmax::SoftmaxConfig::default() },
            )?),
        })
    }

    /// Samples per mini-batch ciphertext.
    pub fn samples_per_batch(&self) -> usize {
        dispatch!(self, t => t.samples_per_batch())
    }

    /// Slots of every ciphertext.
    pub fn slots(&self) -> usize {
        dispatch!(self, t => t.slots())
    }

    /// Levels one step consumes.
    pub fn depth_per_step(&self) -> usize {
        dispatch!(self, t => t.depth_per_step())
    }

    /// Rotation steps the evaluation keys need.
    pub fn rotations(&self) -> Vec<i64> {
        dispatch!(self, t => t.rotations())
    }

    /// One mini-batch's slot vectors (data party).
    pub fn batch_values(&self, x: &[Vec<f64>], y: &[f64]) -> Result<BatchValues> {
        dispatch!(self, t => t.batch_values(x, y))
    }

    /// Initial weight slots (zeros).
    pub fn initial_weights(&self) -> Vec<f64> {
        dispatch!(self, t => t.initial_weights())
    }

    /// The data party's domain check of decrypted weight slots on its rows.
    pub fn check_domain(&self, w_slots: &[f64], rows: &[Vec<f64>]) -> Result<()> {
        dispatch!(self, t => t.check_domain(w_slots, rows))
    }

    /// Trains from `w` (see [`GradientStep::train`]).
    pub fn train<A: Arith>(
        &self,
        a: &A,
        w: A::Value,
        batches: &[Batch<A::Value>],
        refresh: impl FnMut(&A::Value) -> Result<A::Value>,
        progress: impl FnMut(usize),
    ) -> Result<(A::Value, usize)> {
        dispatch!(self, t => t.train(a, w, batches, refresh, progress))
    }

    /// Probabilities of the positive class for the rows of `x`, from
    /// decrypted weight slots.
    pub fn scores(&self, w_slots: &[f64], x: &Array2<f64>) -> Vec<f64> {
        match self {
            Self::Logreg(t) => linear_scores(&t.weights_from_slots(w_slots), x),
            Self::Softmax(t) => softmax_scores(&t.weights_from_slots(w_slots), x),
        }
    }

    /// Test-row probabilities of plaintext training with the exact
    /// activation on the same mini-batches.
    pub fn exact_scores(&self, batches: &[(Vec<Vec<f64>>, Vec<f64>)], x: &Array2<f64>) -> Result<Vec<f64>> {
        let features = x.ncols();
        Ok(match self {
            Self::Logreg(t) => linear_scores(&logreg::train_exact(batches, features, t.config()), x),
            Self::Softmax(t) => softmax_scores(&softmax::train_exact(batches, features, 2, t.config())?, x),
        })
    }

    /// The approximations' own errors, for the report.
    pub fn approximation_errors(&self) -> Vec<(&'static str, f64)> {
        match self {
            Self::Logreg(t) => vec![("sigmoid", t.sigmoid_error())],
            Self::Softmax(t) => vec![("exp", t.exp_error()), ("inverse", t.inverse_error())],
        }
    }
}

fn rows(x: &Array2<f64>) -> impl Iterator<Item = Vec<f64>> + '_ {
    x.rows().into_iter().map(|r| r.to_vec())
}

/// σ(w·x + b) per row.
fn linear_scores(w: &[f64], x: &Array2<f64>) -> Vec<f64> {
    rows(x).map(|r| reference::sigmoid(logreg::logit(w, &r))).collect()
}

/// softmax(W·x + b)[1] per row.
fn softmax_scores(w: &[Vec<f64>], x: &Array2<f64>) -> Vec<f64> {
    rows(x).map(|r| softmax::probabilities(w, &r)[1]).collect()
}
