//! Keys and their generation: secret, public, relinearization, rotation
//! (Galois) and conjugation keys, with hybrid key switching (dnum digits and
//! the special modulus P, Han–Ki 2020).
//!
//! The secret key lives only with the data party: it is zeroized on drop,
//! never printed, and not part of [`EvaluationKeys`], which is all the
//! compute party receives.

use std::collections::BTreeMap;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{CkksError, Context, Result};
use crate::backend::{Basis, DevicePoly, Elementwise, ScalarOp, digit_ranges};
use crate::math::sampling::{Csprng, ERROR_STD_DEV};
use crate::sched::OpKind;

/// The secret s: ternary coefficients. Zeroized on drop; `Debug` shows nothing.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    pub(crate) coeffs: Vec<i8>,
    #[zeroize(skip)]
    pub(crate) params_id: [u8; 16],
    /// Random identifier shared by all keys of this key pair (not secret).
    #[zeroize(skip)]
    pub(crate) key_id: [u8; 16],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Public encryption key (b, a) = (-a·s + e, a) over the full Q (NTT domain).
#[derive(Debug)]
pub struct PublicKey {
    pub(crate) polys: [DevicePoly; 2],
    pub(crate) params_id: [u8; 16],
    pub(crate) key_id: [u8; 16],
}

/// A hybrid key-switching key from some s' to s: per digit j,
/// (b_j, a_j) = (-a_j·s + e_j + P·[digit j]·s', a_j) over Q ∪ P.
#[derive(Debug)]
pub struct SwitchingKey {
    pub(crate) digits: Vec<[DevicePoly; 2]>,
}

/// Everything the compute party needs to evaluate: relinearization and
/// Galois keys. Contains no secret.
#[derive(Debug, Default)]
pub struct EvaluationKeys {
    pub(crate) relin: Option<SwitchingKey>,
    /// Galois element → key for X → X^g.
    pub(crate) galois: BTreeMap<u64, SwitchingKey>,
    pub(crate) params_id: [u8; 16],
    pub(crate) key_id: [u8; 16],
}

impl EvaluationKeys {
    /// Whether a relinearization key is present.
    #[must_use]
    pub fn has_relin(&self) -> bool {
        self.relin.is_some()
    }

    /// The relinearization key, if generated (a key from s² to s).
    #[must_use]
    pub fn relin_key(&self) -> Option<&SwitchingKey> {
        self.relin.as_ref()
    }

    /// Galois elements with a key.
    #[must_use]
    pub fn galois_elements(&self) -> Vec<u64> {
        self.galois.keys().copied().collect()
    }
}

/// All keys of one key pair, as the data party generates them. Only
/// `public` and `eval` may leave the data party.
#[derive(Debug)]
pub struct KeyBundle {
    /// The secret key (stays with the data party).
    pub secret: SecretKey,
    /// The public encryption key.
    pub public: PublicKey,
    /// Relinearization and Galois keys for the compute party.
    pub eval: EvaluationKeys,
}

/// Galois element of a rotation by `step` slots (left for positive steps).
#[must_use]
pub fn galois_for_step(step: i64, n: usize) -> u64 {
    let two_n = 2 * n as u64;
    let (mut g, mut base) = (1u64, 5u64);
    let mut e = step.rem_euclid((n / 2) as i64) as u64;
    while e > 0 {
        if e & 1 == 1 {
            g = g * base % two_n;
        }
        base = base * base % two_n;
        e >>= 1;
    }
    g
}

/// Galois element of complex conjugation.
#[must_use]
pub fn galois_conjugate(n: usize) -> u64 {
    2 * n as u64 - 1
}

/// A secret polynomial on the device that is wiped when dropped.
pub(crate) struct SecretPoly<'a> {
    pub(crate) poly: DevicePoly,
    ctx: &'a Context,
}

impl<'a> SecretPoly<'a> {
    /// Takes charge of wiping `poly` when dropped.
    pub(crate) fn new(poly: DevicePoly, ctx: &'a Context) -> Self {
        Self { poly, ctx }
    }
}

impl Drop for SecretPoly<'_> {
    fn drop(&mut self) {
        // Best effort: a failing device cannot be wiped any further.
        let _ = self.ctx.run(OpKind::Memory, |b| b.zeroize(&mut self.poly));
    }
}

impl Context {
    fn check_secret(&self, sk: &SecretKey) -> Result<()> {
        if sk.params_id == self.params().fingerprint() {
            Ok(())
        } else {
            Err(CkksError::ParamsMismatch { op: "secret key" })
        }
    }

    /// The secret in the NTT domain over `basis`, wiped on drop.
    pub(crate) fn secret_ntt(&self, sk: &SecretKey, basis: Basis) -> Result<SecretPoly<'_>> {
        self.check_secret(sk)?;
        let mut coeffs: Vec<i64> = sk.coeffs.iter().map(|&c| i64::from(c)).collect();
        let poly = self.upload_small(&coeffs, basis);
        coeffs.zeroize();
        Ok(SecretPoly { poly: poly?, ctx: self })
    }

    /// A uniformly random polynomial over `basis` (uniform in the NTT domain too).
    pub(crate) fn uniform_poly(&self, basis: Basis, rng: &mut Csprng) -> Result<DevicePoly> {
        let ring = self.params().ring();
        let n = self.params().n();
        let mut words = Vec::with_capacity(basis.limbs() * n);
        for k in 0..basis.limbs() {
            let m = ring.modulus(basis.global(k, ring));
            words.extend((0..n).map(|_| rng.uniform_mod(m)));
        }
        self.run(OpKind::Upload, |b| b.upload(basis, &words))
    }

    /// A fresh Gaussian error polynomial over `basis`, NTT domain.
    pub(crate) fn error_poly(&self, basis: Basis, rng: &mut Csprng) -> Result<DevicePoly> {
        let mut e = rng.gaussian(self.params().n(), ERROR_STD_DEV);
        let poly = self.upload_small(&e, basis);
        e.zeroize();
        poly
    }

    /// Samples a new secret key.
    pub fn gen_secret_key(&self, rng: &mut Csprng) -> SecretKey {
        let n = self.params().n();
        let coeffs = match self.params().literal().secret_hw {
            Some(h) => rng.ternary_hw(n, h),
            None => rng.ternary(n),
        };
        let mut key_id = [0u8; 16];
        for chunk in key_id.chunks_exact_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        SecretKey { coeffs, params_id: self.params().fingerprint(), key_id }
    }

    /// (-a·s + e, a) over `basis`: an RLWE sample of zero.
    fn rlwe_zero(&self, s: &DevicePoly, basis: Basis, rng: &mut Csprng) -> Result<[DevicePoly; 2]> {
        let a = self.uniform_poly(basis, rng)?;
        let mut b = self.copy_poly(&a)?;
        let e = self.error_poly(basis, rng)?;
        self.run(OpKind::Elementwise, |bk| {
            bk.elementwise(Elementwise::Mul, &mut [&mut b], &[s])?;
            bk.negate(&mut [&mut b])?;
            bk.elementwise(Elementwise::Add, &mut [&mut b], &[&e])
        })?;
        Ok([b, a])
    }

    /// The public key for `sk`.
    pub fn gen_public_key(&self, sk: &SecretKey, rng: &mut Csprng) -> Result<PublicKey> {
        let basis = Basis::q(self.params().ring().q.len());
        let s = self.secret_ntt(sk, basis)?;
        let polys = self.rlwe_zero(&s.poly, basis, rng)?;
        Ok(PublicKey { polys, params_id: self.params().fingerprint(), key_id: sk.key_id })
    }

    /// A key switching from `s_prime` (NTT over Q ∪ P) to `sk`.
    fn gen_switching_key(&self, sk: &SecretKey, s_prime: &DevicePoly, rng: &mut Csprng) -> Result<SwitchingKey> {
        let params = self.params();
        let ring = params.ring();
        let basis = Basis { q: ring.q.len(), p: ring.p.len() };
        let s = self.secret_ntt(sk, basis)?;
        // P mod q_i for every Q limb (P ≡ 0 on the P limbs).
        let p_mod = ring.p_mod_q();
        let digits = digit_ranges(basis.q, params.alpha())
            .into_iter()
            .map(|digit| {
                let [mut b, a] = self.rlwe_zero(&s.poly, basis, rng)?;
                let mut gadget = SecretPoly { poly: self.copy_poly(s_prime)?, ctx: self };
                let factors: Vec<u32> =
                    (0..basis.limbs()).map(|k| if digit.contains(&k) { p_mod[k] } else { 0 }).collect();
                self.run(OpKind::Elementwise, |bk| {
                    bk.scalar(ScalarOp::Mul, &mut [&mut gadget.poly], &factors)?;
                    bk.elementwise(Elementwise::Add, &mut [&mut b], &[&gadget.poly])
                })?;
                Ok([b, a])
            })
            .collect::<Result<_>>()?;
        Ok(SwitchingKey { digits })
    }

    /// A fresh key pair with a relinearization key and Galois keys for
    /// `rotations` (and conjugation when `conjugate`).
    pub fn gen_keys(&self, rotations: &[i64], conjugate: bool, rng: &mut Csprng) -> Result<KeyBundle> {
        let secret = self.gen_secret_key(rng);
        let public = self.gen_public_key(&secret, rng)?;
        let eval = self.gen_evaluation_keys(&secret, true, rotations, conjugate, rng)?;
        Ok(KeyBundle { secret, public, eval })
    }

    /// Evaluation keys: relinearization (if `relin`), one Galois key per
    /// rotation step in `steps` (negative = right), and conjugation (if `conjugate`).
    pub fn gen_evaluation_keys(
        &self,
        sk: &SecretKey,
        relin: bool,
        steps: &[i64],
        conjugate: bool,
        rng: &mut Csprng,
    ) -> Result<EvaluationKeys> {
        let ring = self.params().ring();
        let n = self.params().n();
        let basis = Basis { q: ring.q.len(), p: ring.p.len() };
        let s = self.secret_ntt(sk, basis)?;
        let relin_key = if relin {
            let mut s2 = SecretPoly { poly: self.copy_poly(&s.poly)?, ctx: self };
            self.run(OpKind::Elementwise, |b| b.elementwise(Elementwise::Mul, &mut [&mut s2.poly], &[&s.poly]))?;
            Some(self.gen_switching_key(sk, &s2.poly, rng)?)
        } else {
            None
        };
        let mut elements: Vec<u64> = steps.iter().map(|&r| galois_for_step(r, n)).filter(|&g| g != 1).collect();
        if conjugate {
            elements.push(galois_conjugate(n));
        }
        let mut galois = BTreeMap::new();
        for g in elements {
            if galois.contains_key(&g) {
                continue;
            }
            let mut rotated = self.run(OpKind::Automorphism, |b| b.automorphism(&[(&s.poly, g)]))?;
            let s_rot = SecretPoly { poly: rotated.remove(0), ctx: self };
            galois.insert(g, self.gen_switching_key(sk, &s_rot.poly, rng)?);
        }
        Ok(EvaluationKeys { relin: relin_key, galois, params_id: self.params().fingerprint(), key_id: sk.key_id })
    }
}
