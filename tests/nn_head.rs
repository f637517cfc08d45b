//! Encrypted head training end to end at toy presets: the decrypted weights
//! equal the plaintext mirror's (same approximations) within CKKS noise, and
//! follow exact training (sigmoid, softmax); bad inputs are errors.

mod common;

use common::Setup;
use hetl::ckks::{Params, ParamsLiteral, preset};
use hetl::nn::approx::{CkksArith, PlainArith};
use hetl::nn::head::driver::GradientStep;
use hetl::nn::head::logreg::{self, Batch, BatchValues, LogRegConfig};
use hetl::nn::head::softmax::{self, SoftmaxConfig};

/// Samples of 3 features labelled by the largest of `classes` linear scores
/// (the first two scores differ by a linear rule for 2 classes).
fn toy_data(classes: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    let x: Vec<Vec<f64>> = (0..40)
        .map(|i| {
            let t = f64::from(i);
            vec![(t * 0.37).sin(), (t * 0.91).cos(), (t * 1.3).sin() * 0.5]
        })
        .collect();
    let y = x
        .iter()
        .map(|r| {
            let scores = [0.5 * r[1] - 0.2, r[0], 2.0 * r[2] - 0.5 * r[1] + 0.1];
            (0..classes).fold(0, |best, c| if scores[c] > scores[best] { c } else { best }) as f64
        })
        .collect();
    (x, y)
}

/// Mini-batches of `per` samples, in order.
fn batches(x: &[Vec<f64>], y: &[f64], per: usize) -> Vec<(Vec<Vec<f64>>, Vec<f64>)> {
    x.chunks(per).zip(y.chunks(per)).map(|(x, y)| (x.to_vec(), y.to_vec())).collect()
}

/// Largest |a_i − b_i| over two weight lists.
fn max_diff<'a>(a: impl IntoIterator<Item = &'a f64>, b: impl IntoIterator<Item = &'a f64>) -> f64 {
    a.into_iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

/// Trains `head` from zero weights on `values`, encrypted (the data party
/// refreshing the weights by decryption and re-encryption) and on the
/// mirror. Returns the decrypted weight slots and the mirror's.
fn train_encrypted_and_mirror<H: GradientStep>(head: &H, s: &mut Setup, values: &[BatchValues]) -> [Vec<f64>; 2] {
    let top = s.ctx.params().max_level();
    let slots = values[0].x.len();
    let encrypted: Vec<_> = values
        .iter()
        .map(|v| Batch {
            x: s.encrypt_real(&v.x, top),
            x_grad: s.encrypt_real(&v.x_grad, top),
            y: s.encrypt_real(&v.y, top),
        })
        .collect();
    let w0 = s.encrypt_real(&vec![0.0; slots], top);
    let Setup { ctx, sk, evk, rng, .. } = &mut *s;
    let arith = CkksArith::new(ctx, evk);
    let mut refreshes = 0;
    let (w, counted) = head
        .train(
            &arith,
            w0,
            &encrypted,
            |w| {
                refreshes += 1;
                let pt = ctx.decrypt(w, sk)?;
                let fresh = ctx.encode(&ctx.decode(&pt)?, top, ctx.params().scale(top))?;
                Ok(ctx.encrypt_symmetric(&fresh, sk, rng)?)
            },
            |_| {},
        )
        .unwrap();
    assert_eq!(refreshes, counted);
    let w_enc = s.decrypt(&w).iter().map(|z| z.re).collect();

    let mirror = PlainArith::new(s.ctx.params().clone());
    let plain: Vec<_> = values
        .iter()
        .map(|v| Batch {
            x: mirror.encode(&v.x, top).unwrap(),
            x_grad: mirror.encode(&v.x_grad, top).unwrap(),
            y: mirror.encode(&v.y, top).unwrap(),
        })
        .collect();
    let w0 = mirror.encode(&vec![0.0; slots], top).unwrap();
    let (w_mirror, _) = head.train(&mirror, w0, &plain, |w| mirror.encode(w.values(), top), |_| {}).unwrap();
    [w_enc, w_mirror.values().to_vec()]
}

#[test]
fn encrypted_logistic_regression_matches_plaintext_training() {
    let config = LogRegConfig { lr: 1.0, epochs: 3, sigmoid_degree: 7, sigmoid_range: 8.0 };
    let trainer = logreg::Trainer::new(3, 64, config).unwrap();
    let mut s = Setup::preset("toy-n4096", &trainer.rotations());
    let (x, y) = toy_data(2);
    let batches = batches(&x, &y, trainer.samples_per_batch());
    let values: Vec<_> = batches.iter().map(|(x, y)| trainer.batch_values(x, y).unwrap()).collect();
    let [w_enc, w_mirror] = train_encrypted_and_mirror(&trainer, &mut s, &values);
    let (w_enc, w_mirror) = (trainer.weights_from_slots(&w_enc), trainer.weights_from_slots(&w_mirror));
    let w_exact = logreg::train_exact(&batches, 3, &config);

    // toy-n4096: each step adds a few rescale roundings (≈ N/Δ ≈ 4e-6) amplified by the
    // sigmoid's slope and the sums over samples; 6 steps stay far below 1e-3 (9e-7 observed).
    let noise = max_diff(&w_enc, &w_mirror);
    assert!(noise < 1e-3, "encrypted {w_enc:?} vs mirror {w_mirror:?}");
    let approx = max_diff(&w_mirror, &w_exact);
    assert!(approx < 0.05, "mirror {w_mirror:?} vs exact {w_exact:?}");
}

/// toy-n4096 with 16 levels: one softmax step (depth 16) per refresh.
fn deep_toy() -> Params {
    let literal =
        ParamsLiteral { name: "toy-n4096-l16".into(), depth: 16, ..preset("toy-n4096").unwrap().literal().clone() };
    Params::try_from_literal(literal).unwrap()
}

#[test]
fn encrypted_softmax_regression_matches_plaintext_training() {
    let config =
        SoftmaxConfig { lr: 1.0, epochs: 2, logit_range: 4.0, exp_degree: 15, inverse_degree: 15, newton_steps: 2 };
    let trainer = softmax::Trainer::new(3, 3, 256, config).unwrap();
    assert_eq!(trainer.depth_per_step(), 16);
    let mut s = Setup::new(deep_toy(), &trainer.rotations());
    let (x, y) = toy_data(3);
    let batches = batches(&x, &y, trainer.samples_per_batch());
    let values: Vec<_> = batches.iter().map(|(x, y)| trainer.batch_values(x, y).unwrap()).collect();
    let [slots_enc, slots_mirror] = train_encrypted_and_mirror(&trainer, &mut s, &values);
    trainer.check_domain(&slots_enc, &x).unwrap();
    // Slots outside the weights (padded class, bias + 1 .. rows, among them the row whose
    // class sums mix two samples) hold zeros on the mirror and CKKS noise once decrypted.
    let unused = slots_enc.iter().zip(&slots_mirror).enumerate().filter(|(j, _)| j % 4 == 3 || j % 32 >= 16);
    assert!(unused.clone().all(|(_, (e, m))| e.abs() < 1e-4 && *m == 0.0), "{:?}", unused.collect::<Vec<_>>());
    let (w_enc, w_mirror) = (trainer.weights_from_slots(&slots_enc), trainer.weights_from_slots(&slots_mirror));
    let w_exact = softmax::train_exact(&batches, 3, 3, &config).unwrap();

    // Each step adds the exp's noise (≈ 2^-17 absolute) to p, amplified by 1/s (≤ 1/l ≈ 30
    // at R = 4), times X' ≈ (lr/8)·x, summed over 8 samples; 10 steps stay below 1e-3
    // (1.4e-5 observed).
    let noise = max_diff(w_enc.iter().flatten(), w_mirror.iter().flatten());
    assert!(noise < 1e-3, "encrypted {w_enc:?} vs mirror {w_mirror:?}");
    // The inverse's relative error (≈ 1e-6) and the exp's (≈ 2e-10) over 10 steps at lr 1
    // (1.2e-6 observed).
    let approx = max_diff(w_mirror.iter().flatten(), w_exact.iter().flatten());
    assert!(approx < 1e-4, "mirror {w_mirror:?} vs exact {w_exact:?}");
    let correct = x.iter().zip(&y).filter(|&(r, &label)| softmax::predict(&w_enc, r) as f64 == label).count();
    assert!(correct * 10 >= x.len() * 7, "{correct} of {} training samples", x.len());
}

#[test]
fn softmax_rejects_bad_inputs() {
    let config = SoftmaxConfig::default();
    // 3 features + bias + free row → 8 rows, 3 classes → 4 columns: 32 slots per sample.
    let trainer = softmax::Trainer::new(3, 3, 64, config).unwrap();
    let x = vec![vec![0.1, 0.2, 0.3], vec![0.4, 0.5, 0.6]];
    assert!(trainer.batch_values(&x, &[0.0, 2.0]).is_ok());
    for labels in [[0.0, 3.0], [0.0, -1.0], [0.5, 1.0], [f64::NAN, 1.0]] {
        let err = trainer.batch_values(&x, &labels).unwrap_err().to_string();
        assert!(err.contains("is not a class 0..=2"), "{labels:?}: {err}");
        let batches = [(x.clone(), labels.to_vec())];
        assert!(softmax::train_exact(&batches, 3, 3, &config).is_err(), "{labels:?}");
    }
    let short = vec![vec![0.1, 0.2, 0.3], vec![0.4, 0.5]];
    let err = trainer.batch_values(&short, &[0.0, 1.0]).unwrap_err().to_string();
    assert!(err.contains("sample 1 has 2 features, expected 3"), "{err}");
    assert!(softmax::train_exact(&[(short, vec![0.0, 1.0])], 3, 3, &config).is_err());
    let three = vec![x[0].clone(); 3];
    assert!(trainer.batch_values(&three, &[0.0; 3]).unwrap_err().to_string().contains("1..=2 per batch"));
    assert!(trainer.batch_values(&x, &[0.0]).is_err());
    assert!(trainer.batch_values(&[vec![0.1, f64::INFINITY, 0.3]], &[0.0]).is_err());

    // 3 features × 9 classes → 8 × 16 = 128 slots; 7 features × 3 classes → 16 × 4 = 64.
    for (features, classes, slots) in [(3, 9, 64), (7, 3, 32), (3, 3, 48), (0, 3, 64), (3, 1, 64)] {
        let err = softmax::Trainer::new(features, classes, slots, config).unwrap_err().to_string();
        assert!(err.starts_with("softmax regression: "), "{err}");
    }
    assert!(softmax::Trainer::new(7, 3, 64, config).is_ok());
    for bad in [
        SoftmaxConfig { lr: 0.0, ..config },
        SoftmaxConfig { logit_range: f64::NAN, ..config },
        SoftmaxConfig { exp_degree: 0, ..config },
        SoftmaxConfig { inverse_degree: 0, ..config },
    ] {
        assert!(softmax::Trainer::new(3, 3, 64, bad).is_err(), "{bad:?}");
    }
}
