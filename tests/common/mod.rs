//! Shared set-up for the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use hetl::ckks::{Ciphertext, Context, EvaluationKeys, Params, PublicKey, SecretKey, preset};
use hetl::math::sampling::Csprng;
use hetl::model::ModelError;
use hetl::model::minilm::MiniLm;
use num_complex::Complex64;

/// all-MiniLM-L6-v2 from models/ (`bash tools/fetch_model.sh`), loaded once.
/// Without it the calling test fails and says so, unless
/// `HETL_SKIP_MODEL_TESTS=1`, which makes this `None` after a printed skip.
pub fn model(test: &str) -> Option<&'static MiniLm> {
    static MODEL: OnceLock<Result<MiniLm, String>> = OnceLock::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    let loaded = MODEL.get_or_init(|| match MiniLm::load(&dir) {
        Ok(model) => Ok(model),
        Err(e @ ModelError::MissingModel { .. }) if std::env::var("HETL_SKIP_MODEL_TESTS").is_ok_and(|v| v == "1") => {
            Err(e.to_string())
        }
        Err(e) => panic!("{e}"),
    });
    match loaded {
        Ok(model) => Some(model),
        Err(reason) => {
            println!("skipped {test}: HETL_SKIP_MODEL_TESTS=1 and {reason}");
            None
        }
    }
}

/// A context with all keys for one parameter set (seeded: reproducible).
pub struct Setup {
    pub ctx: Context,
    pub sk: SecretKey,
    pub pk: PublicKey,
    pub evk: EvaluationKeys,
    pub rng: Csprng,
}

impl Setup {
    pub fn new(params: Params, steps: &[i64]) -> Self {
        let ctx = Context::cpu(Arc::new(params), 1).expect("context");
        let mut rng = Csprng::from_seed([42; 32]);
        let keys = ctx.gen_keys(steps, true, &mut rng).expect("keys");
        Self { ctx, sk: keys.secret, pk: keys.public, evk: keys.eval, rng }
    }

    pub fn preset(name: &str, steps: &[i64]) -> Self {
        Self::new(preset(name).expect("preset"), steps)
    }

    /// Replaces the evaluation keys by a relinearization key and Galois keys
    /// for `steps` (for rotations known only once plans exist on this context).
    pub fn set_rotations(&mut self, steps: &[i64]) {
        self.evk = self.ctx.gen_evaluation_keys(&self.sk, true, steps, false, &mut self.rng).expect("keys");
    }

    /// Random complex values with |re|, |im| ≤ 1.
    pub fn random_values(&mut self, slots: usize) -> Vec<Complex64> {
        (0..slots)
            .map(|_| {
                let mut u = || (self.rng.next_u32() as f64 / u32::MAX as f64) * 2.0 - 1.0;
                Complex64::new(u(), u())
            })
            .collect()
    }

    /// Secret-key encryption at `level` (the data party's path: lowest noise).
    pub fn encrypt(&mut self, values: &[Complex64], level: usize) -> Ciphertext {
        let scale = self.ctx.params().scale(level);
        let pt = self.ctx.encode(values, level, scale).expect("encode");
        self.ctx.encrypt_symmetric(&pt, &self.sk, &mut self.rng).expect("encrypt")
    }

    /// Secret-key encryption of real values at `level`.
    pub fn encrypt_real(&mut self, values: &[f64], level: usize) -> Ciphertext {
        let complex: Vec<Complex64> = values.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        self.encrypt(&complex, level)
    }

    /// Public-key encryption at `level`.
    pub fn encrypt_public(&mut self, values: &[Complex64], level: usize) -> Ciphertext {
        let scale = self.ctx.params().scale(level);
        let pt = self.ctx.encode(values, level, scale).expect("encode");
        self.ctx.encrypt(&pt, &self.pk, &mut self.rng).expect("encrypt")
    }

    /// Error bounds for this parameter set, from the standard noise
    /// estimates (σ = 3.19, ternary secret with h ≈ 2N/3, max over slots
    /// ≈ 4.5 standard deviations), with margin:
    /// - `linear`: up to two fresh secret-key encryption errors, 12·σ·√N/Δ;
    /// - `keyswitch`: plus a rescale or ModDown rounding, each ≈ N/Δ: linear + 2·N/Δ;
    /// - `mul`: products of values |x| ≤ √2 scale fresh errors: 4·linear + 2·N/Δ;
    /// - `public`: public-key encryption adds v·e + e1·s ≈ σ·N: 12·σ·N/Δ.
    pub fn bounds(&self) -> Bounds {
        let p = self.ctx.params();
        let (n, delta, sigma) = (p.n() as f64, p.scale(p.max_level()), hetl::math::sampling::ERROR_STD_DEV);
        let linear = 12.0 * sigma * n.sqrt() / delta;
        Bounds {
            linear,
            keyswitch: linear + 2.0 * n / delta,
            mul: 4.0 * linear + 2.0 * n / delta,
            public: 12.0 * sigma * n / delta,
        }
    }
}

/// See [`Setup::bounds`].
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub linear: f64,
    pub keyswitch: f64,
    pub mul: f64,
    pub public: f64,
}

impl Setup {
    pub fn decrypt(&self, ct: &Ciphertext) -> Vec<Complex64> {
        let pt = self.ctx.decrypt(ct, &self.sk).expect("decrypt");
        self.ctx.decode(&pt).expect("decode")
    }
}

/// Largest |a_i - b_i|.
pub fn max_error(a: &[Complex64], b: &[Complex64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).norm()).fold(0.0, f64::max)
}

/// Slots rotated left by `step`.
pub fn rotated(v: &[Complex64], step: i64) -> Vec<Complex64> {
    let n = v.len() as i64;
    (0..n).map(|i| v[(i + step).rem_euclid(n) as usize]).collect()
}
