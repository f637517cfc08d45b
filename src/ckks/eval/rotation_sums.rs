//! Sums of rotations Σ_k rot(c_k, s_k) with one ModDown per sum.
//!
//! Key switching ends with a ModDown (divide by P, 2·(#Q + #P) transforms
//! per ciphertext), and it is linear before it: the inner products of every
//! rotated term of a sum, each with its own Galois key, add up over the
//! extended basis Q ∪ P, and one ModDown divides the total ("hoisting" the
//! ModDown out of the sum, as in the giant steps of a baby-step giant-step
//! product). The words differ from rotating and then adding by the
//! key-switching rounding, made once instead of once per term.

use super::keyswitch::galois_key;
use super::{check_additive, check_linear, check_same_key};
use crate::backend::KeySwitchJob;
use crate::ckks::keys::{EvaluationKeys, SwitchingKey, galois_for_step};
use crate::ckks::{Ciphertext, CkksError, Context, Result};
use crate::sched::OpKind;

/// One term of a sum: the ciphertext, the Galois element of its step and
/// that element's key (`None` for step 0, added as it is).
type Term<'a> = (&'a Ciphertext, u64, Option<&'a SwitchingKey>);

impl Context {
    /// Σ_k rot(c_k, s_k) for each group of (ciphertext, step) terms, the
    /// terms of a group at one level and scale (steps may repeat, and 0
    /// adds the ciphertext as it is): one ModDown per group, however many
    /// terms it rotates. Each primitive is one submission for a batch of
    /// groups.
    pub fn sum_rotations(&self, groups: &[&[(&Ciphertext, i64)]], keys: &EvaluationKeys) -> Result<Vec<Ciphertext>> {
        const OP: &str = "sum_rotations";
        let n = self.params().n();
        let terms = groups
            .iter()
            .map(|group| {
                let Some(((first, _), rest)) = group.split_first() else {
                    return Err(CkksError::InvalidInput { op: OP, reason: "an empty group has no sum".into() });
                };
                self.check_keys(OP, first, keys)?;
                for (ct, _) in rest {
                    check_additive(OP, *first, *ct)?;
                    check_same_key(OP, first, ct)?;
                }
                group
                    .iter()
                    .map(|&(ct, step)| {
                        check_linear(OP, ct)?;
                        let g = galois_for_step(step, n);
                        Ok((ct, g, galois_key(keys, g, OP, "rotation", Some(step))?))
                    })
                    .collect::<Result<Vec<Term>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        // Batches of whole groups whose rotated terms fit the scheduler's
        // key-switching batch (a group's terms share one inner product).
        let rotated = |group: &[Term]| group.iter().filter(|t| t.2.is_some()).count();
        let mut out = Vec::with_capacity(groups.len());
        let mut rest = terms.as_slice();
        while !rest.is_empty() {
            let limit = self.key_switch_batch(rest[0][0].0.polys[0].basis().q);
            let (mut len, mut count) = (1, rotated(&rest[0]));
            while len < rest.len() && count + rotated(&rest[len]) <= limit {
                count += rotated(&rest[len]);
                len += 1;
            }
            let (batch, later) = rest.split_at(len);
            out.extend(self.sum_rotations_batch(batch)?);
            rest = later;
        }
        Ok(out)
    }

    /// [`Context::sum_rotations`] of checked groups, in one submission per primitive.
    fn sum_rotations_batch(&self, groups: &[Vec<Term>]) -> Result<Vec<Ciphertext>> {
        let keyed: Vec<Vec<(&Ciphertext, u64, &SwitchingKey)>> = groups
            .iter()
            .map(|group| group.iter().filter_map(|&(ct, g, key)| key.map(|key| (ct, g, key))).collect())
            .collect();
        // ModUp of each rotated term's σ(c1) (rotated first, so that the
        // automorphism moves its limbs rather than every extended digit).
        let c1_in: Vec<_> = keyed.iter().flatten().map(|&(ct, g, _)| (&ct.polys[1], g)).collect();
        let digits = if c1_in.is_empty() {
            Vec::new()
        } else {
            let c1 = self.run(OpKind::Automorphism, |b| b.automorphism(&c1_in))?;
            self.decompose(&c1.iter().collect::<Vec<_>>())?
        };
        // One inner product per group over all its terms' digits and keys,
        // then one ModDown per group.
        let mut digits_left = digits.iter();
        let (digit_refs, key_refs): (Vec<Vec<_>>, Vec<Vec<_>>) = keyed
            .iter()
            .filter(|k| !k.is_empty())
            .map(|k| {
                let mut d = Vec::new();
                let mut key = Vec::new();
                for (&(_, _, switching), mine) in k.iter().zip(digits_left.by_ref()) {
                    d.extend(mine.iter());
                    key.extend(switching.digits[..mine.len()].iter().map(|[b, a]| [b, a]));
                }
                (d, key)
            })
            .unzip();
        let jobs: Vec<KeySwitchJob> =
            digit_refs.iter().zip(&key_refs).map(|(digits, key)| KeySwitchJob { digits, key }).collect();
        let mut switched =
            if jobs.is_empty() { Vec::new() } else { self.run(OpKind::KeySwitchInner, |b| b.key_switch_inner(&jobs))? };
        drop(jobs);
        drop(digits);
        self.mod_down_pairs(&mut switched, 0)?;
        // k0 += σ(c0) of every rotated term, one round per term position.
        let mut switched = switched.into_iter();
        let mut sums: Vec<Option<[crate::backend::DevicePoly; 2]>> =
            keyed.iter().map(|k| if k.is_empty() { None } else { switched.next() }).collect();
        for round in 0.. {
            let (mut k0, c0): (Vec<_>, Vec<_>) = sums
                .iter_mut()
                .zip(&keyed)
                .filter_map(|(sum, k)| Some((&mut sum.as_mut()?[0], k.get(round)?)))
                .map(|(k0, &(ct, g, _))| (k0, (&ct.polys[0], g)))
                .unzip();
            if k0.is_empty() {
                break;
            }
            self.run(OpKind::Automorphism, |b| b.automorphism_add(&mut k0, &c0))?;
        }
        // Then the step-0 terms, as they are.
        let mut results = Vec::with_capacity(groups.len());
        let mut unrotated: Vec<Vec<&Ciphertext>> = Vec::with_capacity(groups.len());
        for (group, sum) in groups.iter().zip(sums) {
            let mut plain: Vec<&Ciphertext> = group.iter().filter(|t| t.2.is_none()).map(|t| t.0).collect();
            results.push(match sum {
                Some(polys) => Ciphertext { polys: polys.into(), ..*group[0].0 },
                None => self.copy_ciphertext(plain.remove(0))?,
            });
            unrotated.push(plain);
        }
        for round in 0.. {
            let (mut lhs, rhs): (Vec<&mut Ciphertext>, Vec<&Ciphertext>) =
                results.iter_mut().zip(&unrotated).filter_map(|(r, p)| Some((r, *p.get(round)?))).unzip();
            if lhs.is_empty() {
                break;
            }
            self.add_assign_many(&mut lhs, &rhs)?;
        }
        Ok(results)
    }
}
