//! The two parties of encrypted training, as types.
//!
//! The data party ([`DataParty`]) owns the secret key: it encrypts samples
//! and labels, refreshes weights whose levels ran out, and decrypts the
//! trained head. The compute party ([`ComputeParty`]) is built only from
//! the *bytes* of the public key and the evaluation keys — what the data
//! party sends it — so it holds no secret key and has no way to decrypt:
//!
//! ```compile_fail
//! # fn f(ctx: &hetl::ckks::Context, secret: hetl::ckks::SecretKey, eval: &[u8]) {
//! // A secret key is not key material the compute party accepts.
//! let party = hetl::nn::party::ComputeParty::from_bytes(ctx, secret, eval);
//! # }
//! ```

use std::time::{Duration, Instant};

use num_complex::Complex64;

use crate::ckks::{Ciphertext, Context, EvaluationKeys, PublicKey, Result, SecretKey};
use crate::math::sampling::Csprng;
use crate::nn::approx::CkksArith;

/// What the compute party holds: the context, the public key and the
/// evaluation keys, deserialized from what the data party sent.
pub struct ComputeParty<'a> {
    ctx: &'a Context,
    public: PublicKey,
    eval: EvaluationKeys,
}

impl<'a> ComputeParty<'a> {
    /// Loads the public key and the evaluation keys from their serialized
    /// forms (files or messages from the data party).
    pub fn from_bytes(ctx: &'a Context, public: &[u8], eval: &[u8]) -> Result<Self> {
        Ok(Self { ctx, public: ctx.public_key_from_bytes(public)?, eval: ctx.evaluation_keys_from_bytes(eval)? })
    }

    /// The arithmetic that heads train with: ciphertexts and evaluation keys.
    #[must_use]
    pub fn arith(&self) -> CkksArith<'_> {
        CkksArith::new(self.ctx, &self.eval)
    }

    /// An encryption of `slots` zeros under the public key (initial weights).
    pub fn encrypt_zeros(&self, slots: usize, rng: &mut Csprng) -> Result<Ciphertext> {
        let top = self.ctx.params().max_level();
        let pt = self.ctx.encode(&vec![Complex64::new(0.0, 0.0); slots], top, self.ctx.params().scale(top))?;
        self.ctx.encrypt(&pt, &self.public, rng)
    }
}

/// What the data party holds: the secret key (and the randomness to
/// encrypt with it), plus counters of the refresh service it provides.
pub struct DataParty<'a> {
    ctx: &'a Context,
    secret: SecretKey,
    rng: Csprng,
    refresh_time: Duration,
    refresh_bytes: usize,
    refreshes: usize,
}

/// Serialized key material for the compute party.
pub struct PublicMaterial {
    /// The public key.
    pub public: Vec<u8>,
    /// Relinearization and rotation keys.
    pub eval: Vec<u8>,
}

impl<'a> DataParty<'a> {
    /// Generates a key pair with rotation keys for `rotations`; returns the
    /// data party and the serialized public material for the compute party.
    pub fn generate(ctx: &'a Context, rotations: &[i64]) -> Result<(Self, PublicMaterial)> {
        let mut rng = Csprng::from_os()?;
        let bundle = ctx.gen_keys(rotations, false, &mut rng)?;
        let material = PublicMaterial {
            public: ctx.public_key_to_bytes(&bundle.public)?,
            eval: ctx.evaluation_keys_to_bytes(&bundle.eval)?,
        };
        let party =
            Self { ctx, secret: bundle.secret, rng, refresh_time: Duration::ZERO, refresh_bytes: 0, refreshes: 0 };
        Ok((party, material))
    }

    /// The data party of an existing secret key (e.g. loaded from its key folder).
    pub fn from_secret(ctx: &'a Context, secret: SecretKey) -> Result<Self> {
        Ok(Self { ctx, secret, rng: Csprng::from_os()?, refresh_time: Duration::ZERO, refresh_bytes: 0, refreshes: 0 })
    }

    /// Secret-key encryption of real `values` at the top level.
    pub fn encrypt(&mut self, values: &[f64]) -> Result<Ciphertext> {
        let top = self.ctx.params().max_level();
        let complex: Vec<Complex64> = values.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        let pt = self.ctx.encode(&complex, top, self.ctx.params().scale(top))?;
        self.ctx.encrypt_symmetric(&pt, &self.secret, &mut self.rng)
    }

    /// Decrypts and decodes the real parts of every slot.
    pub fn decrypt(&self, ct: &Ciphertext) -> Result<Vec<f64>> {
        Ok(self.ctx.decode(&self.ctx.decrypt(ct, &self.secret)?)?.iter().map(|z| z.re).collect())
    }

    /// The refresh service: decrypts `ct` (received from the compute party),
    /// lets `check` inspect the plaintext (e.g. a domain check), and sends
    /// back a fresh top-level encryption. The compute party first drops `ct`
    /// to [`Context::decryption_level`], which decrypts to the same values
    /// from fewer limbs (at n15, 3 of up to 21). Time and bytes both ways
    /// are counted.
    pub fn refresh<E: From<crate::ckks::CkksError>>(
        &mut self,
        ct: &Ciphertext,
        check: impl FnOnce(&[f64]) -> std::result::Result<(), E>,
    ) -> std::result::Result<Ciphertext, E> {
        let start = Instant::now();
        let sent = self.ctx.drop_to_level(ct, self.ctx.decryption_level(ct))?;
        let received = self.ctx.ciphertext_to_bytes(&sent)?.len();
        let values = self.decrypt(&sent)?;
        check(&values)?;
        let fresh = self.encrypt(&values)?;
        self.refresh_bytes += received + self.ctx.ciphertext_to_bytes(&fresh)?.len();
        self.refresh_time += start.elapsed();
        self.refreshes += 1;
        Ok(fresh)
    }

    /// The serialized secret key, for the data party's own key folder
    /// (wiped when dropped).
    pub fn secret_key_bytes(&self) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        self.ctx.secret_key_to_bytes(&self.secret)
    }

    /// Refreshes done, their total time, and the bytes moved both ways.
    #[must_use]
    pub fn refresh_stats(&self) -> (usize, Duration, usize) {
        (self.refreshes, self.refresh_time, self.refresh_bytes)
    }
}
