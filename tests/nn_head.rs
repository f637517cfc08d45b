//! Encrypted head training end to end at a toy preset: the decrypted
//! weights equal the plaintext mirror's (same approximations) within CKKS
//! noise, and follow exact-sigmoid training.

mod common;

use common::Setup;
use hetl::nn::approx::{CkksArith, PlainArith};
use hetl::nn::head::logreg::{Batch, LogRegConfig, Trainer, train_exact};

/// Samples of 3 features whose labels follow a linear rule.
fn toy_data() -> (Vec<Vec<f64>>, Vec<f64>) {
    let x: Vec<Vec<f64>> = (0..40)
        .map(|i| {
            let t = f64::from(i);
            vec![(t * 0.37).sin(), (t * 0.91).cos(), (t * 1.3).sin() * 0.5]
        })
        .collect();
    let y = x.iter().map(|r| f64::from(u8::from(r[0] - 0.5 * r[1] + 0.2 > 0.0))).collect();
    (x, y)
}

#[test]
fn encrypted_logistic_regression_matches_plaintext_training() {
    let config = LogRegConfig { lr: 1.0, epochs: 3, sigmoid_degree: 7, sigmoid_range: 8.0 };
    let trainer = Trainer::new(3, 64, config).unwrap();
    let mut s = Setup::preset("toy-n4096", &trainer.rotations());
    let top = s.ctx.params().max_level();
    let (x, y) = toy_data();
    let per = trainer.samples_per_batch();
    let batches: Vec<_> = x.chunks(per).zip(y.chunks(per)).map(|(x, y)| (x.to_vec(), y.to_vec())).collect();
    let values: Vec<_> = batches.iter().map(|(x, y)| trainer.batch_values(x, y).unwrap()).collect();

    let encrypted: Vec<_> = values
        .iter()
        .map(|v| Batch {
            x: s.encrypt_real(&v.x, top),
            x_grad: s.encrypt_real(&v.x_grad, top),
            y: s.encrypt_real(&v.y, top),
        })
        .collect();
    let w0 = s.encrypt_real(&trainer.initial_weights(), top);
    let Setup { ctx, sk, evk, rng, .. } = &mut s;
    let arith = CkksArith::new(ctx, evk);
    let mut refreshes = 0;
    let (w, counted) = trainer
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
    let w_enc = trainer.weights_from_slots(&s.decrypt(&w).iter().map(|z| z.re).collect::<Vec<_>>());

    let mirror = PlainArith::new(s.ctx.params().clone());
    let plain: Vec<_> = values
        .iter()
        .map(|v| Batch {
            x: mirror.encode(&v.x, top).unwrap(),
            x_grad: mirror.encode(&v.x_grad, top).unwrap(),
            y: mirror.encode(&v.y, top).unwrap(),
        })
        .collect();
    let w0 = mirror.encode(&trainer.initial_weights(), top).unwrap();
    let (w_mirror, _) = trainer.train(&mirror, w0, &plain, |w| mirror.encode(w.values(), top), |_| {}).unwrap();
    let w_mirror = trainer.weights_from_slots(w_mirror.values());
    let w_exact = train_exact(&batches, 3, &config);

    let noise = w_enc.iter().zip(&w_mirror).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    // toy-n4096: each step adds a few rescale roundings (≈ N/Δ ≈ 4e-6) amplified by the
    // sigmoid's slope and the sums over samples; 6 steps stay far below 1e-3.
    assert!(noise < 1e-3, "encrypted {w_enc:?} vs mirror {w_mirror:?}");
    let approx = w_mirror.iter().zip(&w_exact).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(approx < 0.05, "mirror {w_mirror:?} vs exact {w_exact:?}");
}
