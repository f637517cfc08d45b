//! Binary classification metrics on the data party's side (plaintext).

use serde::Serialize;

/// Accuracy, ROC AUC and F1 of scores against 0/1 labels.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BinaryMetrics {
    /// Fraction of correct predictions at threshold 0.5.
    pub accuracy: f64,
    /// Area under the ROC curve (rank statistic; ties count one half).
    pub auc: f64,
    /// F1 score of the positive class (label 1) at threshold 0.5.
    pub f1: f64,
}

impl BinaryMetrics {
    /// Metrics of probabilities `scores` (≥ 0.5 predicts 1) for `labels`.
    #[must_use]
    pub fn new(scores: &[f64], labels: &[f64]) -> Self {
        let n = scores.len().min(labels.len());
        let predicted = |i: usize| scores[i] >= 0.5;
        let positive = |i: usize| labels[i] >= 0.5;
        let correct = (0..n).filter(|&i| predicted(i) == positive(i)).count();
        let tp = (0..n).filter(|&i| predicted(i) && positive(i)).count() as f64;
        let fp = (0..n).filter(|&i| predicted(i) && !positive(i)).count() as f64;
        let fn_ = (0..n).filter(|&i| !predicted(i) && positive(i)).count() as f64;
        let f1 = if tp == 0.0 { 0.0 } else { 2.0 * tp / (2.0 * tp + fp + fn_) };
        let (pos, neg): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| positive(i));
        let pairs = (pos.len() * neg.len()) as f64;
        let wins: f64 = pos
            .iter()
            .flat_map(|&p| neg.iter().map(move |&q| (p, q)))
            .map(|(p, q)| match scores[p].total_cmp(&scores[q]) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            })
            .sum();
        Self {
            accuracy: if n == 0 { 0.0 } else { correct as f64 / n as f64 },
            auc: if pairs == 0.0 { 0.5 } else { wins / pairs },
            f1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_a_small_example() {
        let m = BinaryMetrics::new(&[0.9, 0.8, 0.3, 0.6, 0.1], &[1.0, 1.0, 1.0, 0.0, 0.0]);
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        // Positives 0.9, 0.8, 0.3 against negatives 0.6, 0.1: 5 of 6 pairs ordered.
        assert!((m.auc - 5.0 / 6.0).abs() < 1e-12);
        // tp 2, fp 1, fn 1.
        assert!((m.f1 - 4.0 / 6.0).abs() < 1e-12);
    }
}
