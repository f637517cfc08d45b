//! Hybrid key switching and what is built on it: rotations (plain and
//! hoisted) and conjugation.
//!
//! A rotation decomposes c1 once (ModUp of each digit to Q_l ∪ P), applies
//! the automorphism to the extended digits, takes the inner product with
//! the Galois key and divides by P (ModDown). Hoisting reuses the one
//! decomposition for every step; a single rotation is a hoisted rotation of
//! one step, so both paths are the same code.

use super::check_linear;
use crate::backend::{DevicePoly, Elementwise};
use crate::ckks::keys::{EvaluationKeys, SwitchingKey, galois_conjugate, galois_for_step};
use crate::ckks::{Ciphertext, CkksError, Context, Result};
use crate::sched::OpKind;

impl Context {
    pub(crate) fn check_keys(&self, op: &'static str, ct: &Ciphertext, keys: &EvaluationKeys) -> Result<()> {
        if keys.params_id != self.params().fingerprint() || ct.params_id != keys.params_id {
            return Err(CkksError::ParamsMismatch { op });
        }
        if ct.key_id != keys.key_id {
            return Err(CkksError::KeyMismatch { op });
        }
        Ok(())
    }

    /// ModUp of every digit of `c` (NTT, basis {q, 0}) to {q, #P}.
    fn decompose(&self, c: &DevicePoly) -> Result<Vec<DevicePoly>> {
        let params = self.params();
        self.run(OpKind::ModUp, |b| b.mod_up(c, params.alpha(), params.ring().p.len()))
    }

    /// Inner product with `key` and ModDown: the switched (k0, k1) over {q, 0}.
    fn switch_digits(&self, digits: &[DevicePoly], key: &SwitchingKey) -> Result<[DevicePoly; 2]> {
        let key_refs: Vec<[&DevicePoly; 2]> = key.digits.iter().map(|[b, a]| [b, a]).collect();
        let [mut k0, mut k1] = self.run(OpKind::KeySwitchInner, |b| b.key_switch_inner(digits, &key_refs))?;
        self.run(OpKind::ModDown, |b| b.mod_down(&mut [&mut k0, &mut k1]))?;
        Ok([k0, k1])
    }

    /// Key switching of one polynomial: returns (k0, k1) with
    /// k0 + k1·s ≈ c·s' for the key from s' to s.
    pub(crate) fn key_switch_poly(&self, c: &DevicePoly, key: &SwitchingKey) -> Result<[DevicePoly; 2]> {
        let digits = self.decompose(c)?;
        self.switch_digits(&digits, key)
    }

    /// Switches (c0, c1) under s' to a ciphertext under s with `key` (s' → s).
    pub fn key_switch(&self, ct: &Ciphertext, key: &SwitchingKey) -> Result<Ciphertext> {
        check_linear("key_switch", ct)?;
        let [mut k0, k1] = self.key_switch_poly(&ct.polys[1], key)?;
        self.run(OpKind::Elementwise, |b| b.elementwise(Elementwise::Add, &mut [&mut k0], &[&ct.polys[0]]))?;
        Ok(Ciphertext { polys: vec![k0, k1], ..*ct })
    }

    /// Applies X → X^g for each Galois element in `elements` to `ct`, sharing
    /// one decomposition of c1 (hoisting).
    fn automorphisms_hoisted(
        &self,
        op: &'static str,
        ct: &Ciphertext,
        elements: &[(u64, Option<i64>)],
        keys: &EvaluationKeys,
    ) -> Result<Vec<Ciphertext>> {
        check_linear(op, ct)?;
        self.check_keys(op, ct, keys)?;
        let kind = if op == "conjugate" { "conjugation" } else { "rotation" };
        let switching_keys = elements
            .iter()
            .map(|&(g, step)| match g {
                1 => Ok(None),
                _ => keys.galois.get(&g).map(Some).ok_or(CkksError::MissingKey { op, kind, step }),
            })
            .collect::<Result<Vec<_>>>()?;
        let needs_switch = switching_keys.iter().any(Option::is_some);
        let digits = if needs_switch { self.decompose(&ct.polys[1])? } else { Vec::new() };
        let digit_refs: Vec<&DevicePoly> = digits.iter().collect();
        elements
            .iter()
            .zip(switching_keys)
            .map(|(&(g, _), key)| {
                let Some(key) = key else {
                    return self.copy_ciphertext(ct);
                };
                let rotated = self.run(OpKind::Automorphism, |b| b.automorphism(&digit_refs, g))?;
                let [mut k0, k1] = self.switch_digits(&rotated, key)?;
                let c0 = self.run(OpKind::Automorphism, |b| b.automorphism(&[&ct.polys[0]], g))?;
                self.run(OpKind::Elementwise, |b| b.elementwise(Elementwise::Add, &mut [&mut k0], &[&c0[0]]))?;
                Ok(Ciphertext { polys: vec![k0, k1], ..*ct })
            })
            .collect()
    }

    /// Rotates the slots left by `step` (right for negative steps).
    pub fn rotate(&self, ct: &Ciphertext, step: i64, keys: &EvaluationKeys) -> Result<Ciphertext> {
        let mut out = self.rotate_hoisted(ct, &[step], keys)?;
        Ok(out.remove(0))
    }

    /// Rotations of one ciphertext by each step, with a shared (hoisted)
    /// decomposition: much cheaper than separate rotations.
    pub fn rotate_hoisted(&self, ct: &Ciphertext, steps: &[i64], keys: &EvaluationKeys) -> Result<Vec<Ciphertext>> {
        let n = self.params().n();
        let elements: Vec<(u64, Option<i64>)> = steps.iter().map(|&s| (galois_for_step(s, n), Some(s))).collect();
        self.automorphisms_hoisted("rotate", ct, &elements, keys)
    }

    /// Complex conjugation of every slot.
    pub fn conjugate(&self, ct: &Ciphertext, keys: &EvaluationKeys) -> Result<Ciphertext> {
        let g = galois_conjugate(self.params().n());
        let mut out = self.automorphisms_hoisted("conjugate", ct, &[(g, None)], keys)?;
        Ok(out.remove(0))
    }
}
