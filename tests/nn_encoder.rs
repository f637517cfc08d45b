//! Setup 1: encrypted MiniLM encoder layers against the plaintext model.
//!
//! Needs the model weights (`bash tools/fetch_model.sh`), like
//! tests/model_minilm.rs.

mod common;

use std::sync::Arc;

use common::model;
use hetl::ckks::{Context, Params, preset};
use hetl::model::minilm::MiniLm;
use hetl::nn::NnError;
use hetl::nn::approx::PlainArith;
use hetl::nn::encoder::{Calibration, Counting, EncryptedEncoder, MirrorRefresh, Session, TokenLayout};
use hetl::nn::party::{ComputeParty, DataParty};
use ndarray::Array2;

/// The sentence the encrypted block runs on (12 tokens: 6 ciphertexts of
/// two token blocks at toy-deep).
const SENTENCE: &str = "Fine needle aspirate of a breast mass.";

/// Largest |encrypted − plaintext| accepted on the block's output (values
/// of order 1–10 after LayerNorm): measured 6.4e-5 from the approximations
/// alone (mirror) and 2.3e-4 with CKKS noise at toy-deep (Δ ≈ 2^30, ~80
/// levels, refreshes), so about 10× headroom.
const BLOCK_BOUND: f64 = 2e-3;

fn calibration(model: &MiniLm) -> Calibration {
    let texts: Vec<String> = [
        SENTENCE,
        "Mean radius 17.99, mean texture 10.38, mean perimeter 122.8.",
        "The patient is a 54 year old woman with a palpable lump.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Calibration::measure(model, &texts).unwrap()
}

fn cosine(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a * b).sum() / ((a * a).sum().sqrt() * (b * b).sum().sqrt())
}

fn max_abs(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b).iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// The last layer in plaintext (f32 model) on the prefix `x`.
fn plaintext_layer(model: &MiniLm, index: usize, x: &Array2<f64>) -> Array2<f64> {
    let x = x.mapv(|v| v as f32);
    model.layers()[index].forward(x.view(), &vec![1; x.nrows()]).unwrap().mapv(f64::from)
}

/// The mirror (exact arithmetic, same approximations and level plan).
fn mirror(params: &Arc<Params>, encoder: &EncryptedEncoder, layout: &TokenLayout, x: &Array2<f64>) -> Array2<f64> {
    let a = Counting::new(PlainArith::new(params.clone()));
    let top = params.max_level();
    let xs = layout.pack(x.view()).unwrap().iter().map(|v| a.inner().encode(v, top).unwrap()).collect();
    let mut refresh = MirrorRefresh;
    let mut session = Session::new(&mut refresh);
    let out = encoder.forward(&a, &mut session, xs, layout).unwrap();
    layout.unpack(&out.iter().map(|v| v.values().to_vec()).collect::<Vec<_>>()).unwrap()
}

#[test]
fn encrypted_block_matches_the_plaintext_block() {
    let Some(model) = model("encrypted_block_matches_the_plaintext_block") else { return };
    let params = Arc::new(preset("toy-deep").unwrap());
    let ctx = Context::cpu(params.clone(), 0).unwrap();
    let encoder = EncryptedEncoder::new(&params, model, &calibration(model), 1).unwrap();
    let tokens = model.tokenize(SENTENCE).unwrap();
    let x = encoder.plaintext_prefix(model, &tokens).unwrap();
    let layout = encoder.layout(x.nrows()).unwrap();
    assert_eq!((layout.tokens(), layout.ciphertexts()), (12, 6));

    let (mut data, material) = DataParty::generate(&ctx, &encoder.rotations(layout.tokens()).unwrap()).unwrap();
    let compute = ComputeParty::from_bytes(&ctx, &material.public, &material.eval).unwrap();
    let xs = layout.pack(x.view()).unwrap().iter().map(|v| data.encrypt(v).unwrap()).collect();
    let a = Counting::new(compute.arith());
    let (out, records) = {
        let mut session = Session::new(&mut data);
        let out = encoder.forward(&a, &mut session, xs, &layout).unwrap();
        (out, session.records().to_vec())
    };
    let got = layout.unpack(&out.iter().map(|ct| data.decrypt(ct).unwrap()).collect::<Vec<_>>()).unwrap();

    let want = plaintext_layer(model, 5, &x);
    let twin = mirror(&params, &encoder, &layout, &x);
    let (err, mirror_err) = (max_abs(&got, &want), max_abs(&twin, &want));
    println!(
        "encrypted vs plaintext: max {err:.3e}, cosine {:.9}; mirror vs plaintext: max {mirror_err:.3e}",
        cosine(&got, &want)
    );
    assert!(err < BLOCK_BOUND, "encrypted block off by {err:e}");
    assert!(mirror_err < BLOCK_BOUND / 10.0, "approximations off by {mirror_err:e}");
    assert!(cosine(&got, &want) > 0.9999);

    // Every step is recorded once, with its operations; refreshes happened and were counted.
    let steps: Vec<&str> = records.iter().map(|r| r.step).collect();
    assert_eq!(steps.len(), 11, "{steps:?}");
    assert!(records.iter().all(|r| r.block == 5 && r.seconds > 0.0));
    assert!(records.iter().map(|r| r.refreshes).sum::<usize>() > 0);
    let refreshed: usize = records.iter().map(|r| r.refreshed_ciphertexts).sum();
    assert_eq!(refreshed, data.refresh_stats().0, "every ciphertext the data party refreshed is recorded");
}

#[test]
fn mirror_runs_two_key_groups_and_padded_blocks() {
    let Some(model) = model("mirror_runs_two_key_groups_and_padded_blocks") else { return };
    // 41 tokens: two key groups (32 + 9) and an odd count (a padded block).
    let text = "Fine needle aspirate of a breast mass. Mean radius 17.99, mean texture 10.38, \
                mean perimeter 122.8, mean area 1001, mean smoothness 0.1184.";
    let params = Arc::new(preset("toy-deep").unwrap());
    let texts = vec![text.to_string()];
    let encoder = EncryptedEncoder::new(&params, model, &Calibration::measure(model, &texts).unwrap(), 2).unwrap();
    let tokens = model.tokenize(text).unwrap();
    let x = encoder.plaintext_prefix(model, &tokens).unwrap();
    let layout = encoder.layout(x.nrows()).unwrap();
    assert!(layout.tokens() > 32 && layout.tokens() % 2 == 1, "{} tokens", layout.tokens());
    let got = mirror(&params, &encoder, &layout, &x);
    let want = plaintext_layer(model, 5, &plaintext_layer(model, 4, &x));
    // Two layers over 41 tokens: the approximation errors compound (measured 5.1e-4).
    let err = max_abs(&got, &want);
    assert!(err < BLOCK_BOUND && cosine(&got, &want) > 0.99999, "mirror off by {err:e}");
}

#[test]
fn bad_inputs_give_clear_errors() {
    let Some(model) = model("bad_inputs_give_clear_errors") else { return };
    let params = preset("toy-deep").unwrap();
    let cal = calibration(model);
    let encoder = EncryptedEncoder::new(&params, model, &cal, 1).unwrap();
    let err = encoder.layout(300).unwrap_err();
    assert!(matches!(err, NnError::TooManyTokens { tokens: 300, max: 256 }), "{err}");
    assert_eq!(err.to_string(), "sequence of 300 tokens is longer than the 256 the encrypted encoder supports");
    for layers in [0, 7] {
        let err = EncryptedEncoder::new(&params, model, &cal, layers).err().unwrap().to_string();
        assert!(err.contains("encrypted layers; the model has 1..=6"), "{err}");
    }
    let missing = MiniLm::load(std::path::Path::new("/nonexistent/model")).err().unwrap().to_string();
    assert!(missing.contains("fetch_model.sh"), "{missing}");
}
