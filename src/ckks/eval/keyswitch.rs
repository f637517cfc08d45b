//! Hybrid key switching and what is built on it: rotations (plain and
//! hoisted) and conjugation.
//!
//! A rotation applies the automorphism to c1, decomposes it (ModUp of each
//! digit to Q_l ∪ P), takes the inner product with the Galois key and
//! divides by P (ModDown). Hoisting decomposes c1 once for several steps
//! and applies each step's automorphism to the extended digits instead.
//! The two agree up to key-switching noise, not word for word: the fast
//! basis conversion of σ(c1) and σ of c1's conversion differ by multiples
//! of the digit moduli, which the key's errors carry into the result.

use super::check_linear;
use crate::backend::{DevicePoly, Elementwise, KeySwitchJob};
use crate::ckks::keys::{EvaluationKeys, SwitchingKey, galois_conjugate, galois_for_step};
use crate::ckks::{Ciphertext, CkksError, Context, Result};
use crate::sched::OpKind;

/// The key of Galois element `g`, or `None` for the identity (g = 1, no
/// switch); a missing key is an error naming `op`, the key's `kind` and
/// its rotation `step`.
pub(super) fn galois_key<'k>(
    keys: &'k EvaluationKeys,
    g: u64,
    op: &'static str,
    kind: &'static str,
    step: Option<i64>,
) -> Result<Option<&'k SwitchingKey>> {
    match g {
        1 => Ok(None),
        _ => keys.galois.get(&g).map(Some).ok_or(CkksError::MissingKey { op, kind, step }),
    }
}

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

    /// ModUp of every digit of each polynomial (NTT, basis {q, 0}) to {q, #P}.
    pub(super) fn decompose(&self, cs: &[&DevicePoly]) -> Result<Vec<Vec<DevicePoly>>> {
        let params = self.params();
        self.run(OpKind::ModUp, |b| b.mod_up(cs, params.alpha(), params.ring().p.len()))
    }

    /// Inner products of each digit set with its key, then ModDown: the
    /// switched (k0, k1) over {q, 0} per job.
    fn switch_digits(&self, jobs: &[(&[DevicePoly], &SwitchingKey)]) -> Result<Vec<[DevicePoly; 2]>> {
        let mut switched = self.inner_products(jobs, None)?;
        self.mod_down_pairs(&mut switched, 0)?;
        Ok(switched)
    }

    /// Inner products of each digit set with its key: (k0, k1) over {q, #P};
    /// with `times_p`, plus P·(d0, d1) on the Q limbs for pair i of it (P ≡ 0
    /// on the P limbs), in the same backend step.
    fn inner_products(
        &self,
        jobs: &[(&[DevicePoly], &SwitchingKey)],
        times_p: Option<&[[&DevicePoly; 2]]>,
    ) -> Result<Vec<[DevicePoly; 2]>> {
        let key_refs: Vec<Vec<[&DevicePoly; 2]>> =
            jobs.iter().map(|(_, key)| key.digits.iter().map(|[b, a]| [b, a]).collect()).collect();
        let digit_refs: Vec<Vec<&DevicePoly>> = jobs.iter().map(|(digits, _)| digits.iter().collect()).collect();
        let inner: Vec<KeySwitchJob> =
            digit_refs.iter().zip(&key_refs).map(|(digits, key)| KeySwitchJob { digits, key }).collect();
        match times_p {
            None => self.run(OpKind::KeySwitchInner, |b| b.key_switch_inner(&inner)),
            Some(addends) => {
                let p_mod = self.params().ring().p_mod_q();
                self.run(OpKind::KeySwitchInner, |b| b.key_switch_inner_add(&inner, addends, &p_mod))
            }
        }
    }

    /// ModDown of switched pairs, dividing by the last `drop` Q primes too.
    pub(super) fn mod_down_pairs(&self, pairs: &mut [[DevicePoly; 2]], drop: usize) -> Result<()> {
        let mut polys: Vec<&mut DevicePoly> = pairs.iter_mut().flatten().collect();
        self.run(OpKind::ModDown, |b| b.mod_down(&mut polys, drop))
    }

    /// Key switching of polynomials: (k0, k1) per `c` with k0 + k1·s ≈ c·s'
    /// for the key from s' to s, in batches the scheduler sizes.
    ///
    /// With `plus` (one pair (d0, d1) per `c`, Q limbs of c's level) it
    /// returns (d0, d1) + (k0, k1) = ((k0, k1) + P·(d0, d1)) / P, the
    /// addition made in the inner product (the division by P is exact on
    /// P·(d0, d1), so the words are those of adding after the ModDown); with
    /// `rescale` too (level ≥ 1), divided by P·q_level and rounded in one
    /// ModDown (whose exact conversion from Q_level ∪ P replaces the
    /// rescale's transforms).
    pub(crate) fn key_switch_polys(
        &self,
        cs: &[&DevicePoly],
        key: &SwitchingKey,
        plus: Option<&[[&DevicePoly; 2]]>,
        rescale: bool,
    ) -> Result<Vec<[DevicePoly; 2]>> {
        let chunk = cs.first().map_or(1, |c| self.key_switch_batch(c.basis().q));
        let mut out = Vec::with_capacity(cs.len());
        for (i, cs) in cs.chunks(chunk).enumerate() {
            let digits = self.decompose(cs)?;
            let addends = plus.map(|a| &a[i * chunk..i * chunk + cs.len()]);
            out.extend(self.switch_decomposed(&digits, key, addends, rescale)?);
        }
        Ok(out)
    }

    /// Key switching of decomposed polynomials (their ModUp digits, one set
    /// per polynomial): inner products with `key`, then ModDown; `plus` and
    /// `rescale` as in [`Context::key_switch_polys`].
    pub(crate) fn switch_decomposed(
        &self,
        digits: &[Vec<DevicePoly>],
        key: &SwitchingKey,
        plus: Option<&[[&DevicePoly; 2]]>,
        rescale: bool,
    ) -> Result<Vec<[DevicePoly; 2]>> {
        let jobs: Vec<_> = digits.iter().map(|d| (d.as_slice(), key)).collect();
        let mut switched = self.inner_products(&jobs, plus)?;
        let drop = if rescale { self.params().primes_per_level() } else { 0 };
        self.mod_down_pairs(&mut switched, drop)?;
        Ok(switched)
    }

    /// Ciphertexts per batched key switch at `q` Q limbs: the extended
    /// digits and the switched pair of one polynomial are its working set.
    pub(crate) fn key_switch_batch(&self, q: usize) -> usize {
        let params = self.params();
        let limbs = q + params.ring().p.len();
        let digits = q.div_ceil(params.alpha());
        self.sched().batch_limit((digits + 2) * limbs * params.n() * 4)
    }

    /// Switches (c0, c1) under s' to a ciphertext under s with `key` (s' → s).
    pub fn key_switch(&self, ct: &Ciphertext, key: &SwitchingKey) -> Result<Ciphertext> {
        Ok(self.key_switch_many(&[ct], key)?.remove(0))
    }

    /// [`Context::key_switch`] of every ciphertext, one submission per primitive.
    pub fn key_switch_many(&self, cts: &[&Ciphertext], key: &SwitchingKey) -> Result<Vec<Ciphertext>> {
        cts.iter().try_for_each(|ct| check_linear("key_switch", ct))?;
        let c1: Vec<&DevicePoly> = cts.iter().map(|ct| &ct.polys[1]).collect();
        let mut switched = self.key_switch_polys(&c1, key, None, false)?;
        {
            let mut k0: Vec<&mut DevicePoly> = switched.iter_mut().map(|[k0, _]| k0).collect();
            let c0: Vec<&DevicePoly> = cts.iter().map(|ct| &ct.polys[0]).collect();
            self.run(OpKind::Elementwise, |b| b.elementwise(Elementwise::Add, &mut k0, &c0))?;
        }
        Ok(switched.into_iter().zip(cts).map(|(k, ct)| Ciphertext { polys: k.into(), ..**ct }).collect())
    }

    /// Applies X → X^g to ciphertexts: job `(i, g, step)` maps `cts[i]` by
    /// `g`. When every ciphertext has one job, each is rotated before its
    /// decomposition; otherwise each is decomposed once for all its jobs
    /// (hoisting). Each primitive is one submission for all jobs.
    fn automorphisms(
        &self,
        op: &'static str,
        cts: &[&Ciphertext],
        jobs: &[(usize, u64, Option<i64>)],
        keys: &EvaluationKeys,
    ) -> Result<Vec<Ciphertext>> {
        for ct in cts {
            check_linear(op, ct)?;
            self.check_keys(op, ct, keys)?;
        }
        let kind = if op == "conjugate" { "conjugation" } else { "rotation" };
        let switching_keys =
            jobs.iter().map(|&(_, g, step)| galois_key(keys, g, op, kind, step)).collect::<Result<Vec<_>>>()?;
        let switched: Vec<(usize, u64, &SwitchingKey)> =
            jobs.iter().zip(&switching_keys).filter_map(|(&(i, g, _), k)| k.map(|k| (i, g, k))).collect();
        let mut sources: Vec<usize> = switched.iter().map(|&(i, _, _)| i).collect();
        sources.sort_unstable();
        sources.dedup();
        let mut k = if switched.is_empty() {
            Vec::new()
        } else if sources.len() == switched.len() {
            // One switch per ciphertext: rotate c1 first, so that the
            // automorphism moves its limbs rather than every extended digit.
            let c1_in: Vec<(&DevicePoly, u64)> = switched.iter().map(|&(i, g, _)| (&cts[i].polys[1], g)).collect();
            let c1 = self.run(OpKind::Automorphism, |b| b.automorphism(&c1_in))?;
            let digits = self.decompose(&c1.iter().collect::<Vec<_>>())?;
            let inner: Vec<(&[DevicePoly], &SwitchingKey)> =
                digits.iter().zip(&switched).map(|(d, &(_, _, key))| (d.as_slice(), key)).collect();
            self.switch_digits(&inner)?
        } else {
            // Hoisting: one decomposition per ciphertext, permuted per job.
            let c1: Vec<&DevicePoly> = sources.iter().map(|&i| &cts[i].polys[1]).collect();
            let digits = self.decompose(&c1)?;
            let digits_of = |i: usize| &digits[sources.binary_search(&i).expect("decomposed above")];
            let permuted_in: Vec<(&DevicePoly, u64)> =
                switched.iter().flat_map(|&(i, g, _)| digits_of(i).iter().map(move |d| (d, g))).collect();
            let permuted = self.run(OpKind::Automorphism, |b| b.automorphism(&permuted_in))?;
            let mut permuted_digits = permuted.as_slice();
            let inner: Vec<(&[DevicePoly], &SwitchingKey)> = switched
                .iter()
                .map(|&(i, _, key)| {
                    let (mine, rest) = permuted_digits.split_at(digits_of(i).len());
                    permuted_digits = rest;
                    (mine, key)
                })
                .collect();
            self.switch_digits(&inner)?
        };
        if !switched.is_empty() {
            // k0 += σ(c0), permuted as it is added.
            let c0_in: Vec<(&DevicePoly, u64)> = switched.iter().map(|&(i, g, _)| (&cts[i].polys[0], g)).collect();
            let mut k0: Vec<&mut DevicePoly> = k.iter_mut().map(|[k0, _]| k0).collect();
            self.run(OpKind::Automorphism, |b| b.automorphism_add(&mut k0, &c0_in))?;
        }
        // Back in job order; identity jobs are copies.
        let mut k = k.into_iter();
        jobs.iter()
            .zip(&switching_keys)
            .map(|(&(i, _, _), key)| match key {
                None => self.copy_ciphertext(cts[i]),
                Some(_) => {
                    let polys = k.next().expect("one switch per keyed job");
                    Ok(Ciphertext { polys: polys.into(), ..*cts[i] })
                }
            })
            .collect()
    }

    /// Rotates the slots left by `step` (right for negative steps).
    pub fn rotate(&self, ct: &Ciphertext, step: i64, keys: &EvaluationKeys) -> Result<Ciphertext> {
        Ok(self.rotate_many(&[ct], step, keys)?.remove(0))
    }

    /// Rotates every ciphertext by `step`, one submission per primitive and batch.
    pub fn rotate_many(&self, cts: &[&Ciphertext], step: i64, keys: &EvaluationKeys) -> Result<Vec<Ciphertext>> {
        Ok(self.rotate_hoisted_many(cts, &[step], keys)?.into_iter().flatten().collect())
    }

    /// Rotations of one ciphertext by each step, with a shared (hoisted)
    /// decomposition: much cheaper than separate rotations.
    pub fn rotate_hoisted(&self, ct: &Ciphertext, steps: &[i64], keys: &EvaluationKeys) -> Result<Vec<Ciphertext>> {
        let n = self.params().n();
        let jobs: Vec<_> = steps.iter().map(|&s| (0, galois_for_step(s, n), Some(s))).collect();
        self.automorphisms("rotate", &[ct], &jobs, keys)
    }

    /// Hoisted rotations of every ciphertext by every step (one
    /// decomposition per ciphertext, one submission per primitive and batch;
    /// batches as large as the scheduler's budget allows):
    /// `out[i][k]` is `cts[i]` rotated by `steps[k]`.
    pub fn rotate_hoisted_many(
        &self,
        cts: &[&Ciphertext],
        steps: &[i64],
        keys: &EvaluationKeys,
    ) -> Result<Vec<Vec<Ciphertext>>> {
        let n = self.params().n();
        // Batches of ciphertexts whose rotations fit the scheduler's budget.
        let chunk = cts.first().map_or(1, |c| self.key_switch_batch(c.polys[0].basis().q) / steps.len().max(1));
        let mut out = Vec::with_capacity(cts.len());
        for cts in cts.chunks(chunk.max(1)) {
            let jobs: Vec<_> =
                (0..cts.len()).flat_map(|i| steps.iter().map(move |&s| (i, galois_for_step(s, n), Some(s)))).collect();
            let mut rotated = self.automorphisms("rotate", cts, &jobs, keys)?.into_iter();
            out.extend(cts.iter().map(|_| rotated.by_ref().take(steps.len()).collect::<Vec<_>>()));
        }
        Ok(out)
    }

    /// Complex conjugation of every slot.
    pub fn conjugate(&self, ct: &Ciphertext, keys: &EvaluationKeys) -> Result<Ciphertext> {
        let g = galois_conjugate(self.params().n());
        Ok(self.automorphisms("conjugate", &[ct], &[(0, g, None)], keys)?.remove(0))
    }
}
