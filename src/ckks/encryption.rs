//! Encryption (public or secret key) and decryption.

use super::keys::{PublicKey, SecretKey, SecretPoly};
use super::{Ciphertext, CkksError, Context, Plaintext, Result};
use crate::backend::{Basis, DevicePoly, Elementwise};
use crate::math::sampling::Csprng;
use crate::sched::OpKind;

impl Context {
    fn check_plaintext(&self, op: &'static str, pt: &Plaintext) -> Result<()> {
        if pt.params_id == self.params().fingerprint() { Ok(()) } else { Err(CkksError::ParamsMismatch { op }) }
    }

    /// Encrypts `pt` under the public key: (v·b + e0 + m, v·a + e1).
    pub fn encrypt(&self, pt: &Plaintext, pk: &PublicKey, rng: &mut Csprng) -> Result<Ciphertext> {
        self.check_plaintext("encrypt", pt)?;
        if pk.params_id != self.params().fingerprint() {
            return Err(CkksError::ParamsMismatch { op: "encrypt" });
        }
        let basis = pt.poly.basis();
        let n = self.params().n();
        // The ephemeral v reveals the message to whoever knows it: wipe it.
        let mut v_coeffs: Vec<i64> = rng.ternary(n).into_iter().map(i64::from).collect();
        let v = self.upload_small(&v_coeffs, basis);
        zeroize::Zeroize::zeroize(&mut v_coeffs);
        let v = SecretPoly::new(v?, self);
        let [mut c0, mut c1] = [self.copy_poly(&pk.polys[0])?, self.copy_poly(&pk.polys[1])?];
        let (e0, e1) = (self.error_poly(basis, rng)?, self.error_poly(basis, rng)?);
        self.run(OpKind::Memory, |b| {
            b.truncate(&mut c0, basis.q)?;
            b.truncate(&mut c1, basis.q)
        })?;
        self.run(OpKind::Elementwise, |b| {
            b.elementwise(Elementwise::Mul, &mut [&mut c0, &mut c1], &[&v.poly, &v.poly])?;
            b.elementwise(Elementwise::Add, &mut [&mut c0, &mut c1], &[&e0, &e1])?;
            b.elementwise(Elementwise::Add, &mut [&mut c0], &[&pt.poly])
        })?;
        Ok(self.ciphertext_like(pt, vec![c0, c1], pk.key_id))
    }

    /// Encrypts `pt` under the secret key: (-a·s + e + m, a). Slightly less
    /// noise than public-key encryption; for the data party only.
    pub fn encrypt_symmetric(&self, pt: &Plaintext, sk: &SecretKey, rng: &mut Csprng) -> Result<Ciphertext> {
        self.check_plaintext("encrypt", pt)?;
        let basis = pt.poly.basis();
        let s = self.secret_ntt(sk, basis)?;
        let a = self.uniform_poly(basis, rng)?;
        let mut c0 = self.error_poly(basis, rng)?;
        let mut as_ = self.copy_poly(&a)?;
        self.run(OpKind::Elementwise, |b| {
            b.elementwise(Elementwise::Mul, &mut [&mut as_], &[&s.poly])?;
            b.elementwise(Elementwise::Sub, &mut [&mut c0], &[&as_])?;
            b.elementwise(Elementwise::Add, &mut [&mut c0], &[&pt.poly])
        })?;
        Ok(self.ciphertext_like(pt, vec![c0, a], sk.key_id))
    }

    fn ciphertext_like(&self, pt: &Plaintext, polys: Vec<DevicePoly>, key_id: [u8; 16]) -> Ciphertext {
        Ciphertext { polys, level: pt.level, scale: pt.scale, slots: pt.slots, params_id: pt.params_id, key_id }
    }

    /// Decrypts: c0 + c1·s (+ c2·s²), as a plaintext at the ciphertext's level and scale.
    pub fn decrypt(&self, ct: &Ciphertext, sk: &SecretKey) -> Result<Plaintext> {
        if ct.params_id != self.params().fingerprint() {
            return Err(CkksError::ParamsMismatch { op: "decrypt" });
        }
        if ct.key_id != sk.key_id {
            return Err(CkksError::KeyMismatch { op: "decrypt" });
        }
        let basis: Basis = ct.polys[0].basis();
        let s = self.secret_ntt(sk, basis)?;
        let mut acc = self.copy_poly(&ct.polys[ct.polys.len() - 1])?;
        // Horner: ((c_d·s + c_{d-1})·s + ...) + c0.
        for c in ct.polys.iter().rev().skip(1) {
            self.run(OpKind::Elementwise, |b| {
                b.elementwise(Elementwise::Mul, &mut [&mut acc], &[&s.poly])?;
                b.elementwise(Elementwise::Add, &mut [&mut acc], &[c])
            })?;
        }
        Ok(Plaintext { poly: acc, level: ct.level, scale: ct.scale, slots: ct.slots, params_id: ct.params_id })
    }
}
