//! [`Counting`]: an [`Arith`] that counts the CKKS operations it forwards,
//! for the per-step operation counts of `hetl profile`.

use std::cell::Cell;

use crate::ckks::Params;
use crate::nn::Result;
use crate::nn::approx::Arith;
use crate::nn::linalg::MatMulPlain;

/// CKKS operations of a step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpCounts {
    /// Ciphertext × ciphertext multiplications.
    pub mul: usize,
    /// Plaintext × ciphertext multiplications (masks, weights, diagonals).
    pub mul_plain: usize,
    /// Rotations (each a key switch).
    pub rotate: usize,
    /// Rescales.
    pub rescale: usize,
    /// Key switches: rotations and relinearizations.
    pub keyswitch: usize,
}

impl std::ops::Sub for OpCounts {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self {
            mul: self.mul - o.mul,
            mul_plain: self.mul_plain - o.mul_plain,
            rotate: self.rotate - o.rotate,
            rescale: self.rescale - o.rescale,
            keyswitch: self.keyswitch - o.keyswitch,
        }
    }
}

/// Forwards every operation to `A` and counts it.
pub struct Counting<A> {
    inner: A,
    counts: Cell<OpCounts>,
}

impl<A: Arith> Counting<A> {
    /// Counts the operations done with `inner`.
    pub fn new(inner: A) -> Self {
        Self { inner, counts: Cell::new(OpCounts::default()) }
    }

    /// The wrapped arithmetic.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// Operations so far.
    pub fn counts(&self) -> OpCounts {
        self.counts.get()
    }

    /// Counts products by `plans` on `inputs` ciphertexts sharing their
    /// hoisted baby rotations (counted once).
    fn count_matmuls(&self, plans: &[&MatMulPlain], inputs: usize) {
        let hoisted = plans.iter().map(|p| p.counts().hoisted_rotations).max().unwrap_or(0);
        for plan in plans {
            let (groups, per) = (inputs / plan.chunks_in().max(1), plan.counts());
            self.add(|c| {
                c.mul_plain += groups * per.plaintext_mults;
                c.rotate += groups * (per.rotations - per.hoisted_rotations);
                c.keyswitch += groups * (per.key_switches - per.hoisted_rotations);
                c.rescale += groups * plan.rescales();
            });
        }
        let groups = inputs / plans.first().map_or(1, |p| p.chunks_in().max(1));
        self.add(|c| {
            c.rotate += groups * hoisted;
            c.keyswitch += groups * hoisted;
        });
    }

    fn add(&self, f: impl FnOnce(&mut OpCounts)) {
        let mut c = self.counts.get();
        f(&mut c);
        self.counts.set(c);
    }
}

impl<A: Arith> Arith for Counting<A> {
    type Value = A::Value;

    fn params(&self) -> &Params {
        self.inner.params()
    }
    fn level(&self, v: &A::Value) -> usize {
        self.inner.level(v)
    }
    fn scale(&self, v: &A::Value) -> f64 {
        self.inner.scale(v)
    }
    fn slots(&self, v: &A::Value) -> usize {
        self.inner.slots(v)
    }
    fn add(&self, a: &A::Value, b: &A::Value) -> Result<A::Value> {
        self.inner.add(a, b)
    }
    fn add_assign(&self, a: &mut A::Value, b: &A::Value) -> Result<()> {
        self.inner.add_assign(a, b)
    }
    fn sub(&self, a: &A::Value, b: &A::Value) -> Result<A::Value> {
        self.inner.sub(a, b)
    }
    fn add_const(&self, a: &A::Value, c: f64) -> Result<A::Value> {
        self.inner.add_const(a, c)
    }
    fn mul_const_scaled(&self, a: &A::Value, c: f64, const_scale: f64) -> Result<A::Value> {
        self.inner.mul_const_scaled(a, c, const_scale)
    }
    fn mul(&self, a: &A::Value, b: &A::Value) -> Result<A::Value> {
        self.add(|c| c.mul += 1);
        self.inner.mul(a, b)
    }
    fn degree(&self, v: &A::Value) -> usize {
        self.inner.degree(v)
    }
    fn relinearize(&self, v: A::Value) -> Result<A::Value> {
        if self.inner.degree(&v) > 1 {
            self.add(|c| c.keyswitch += 1);
        }
        self.inner.relinearize(v)
    }
    fn rescale(&self, v: &A::Value) -> Result<A::Value> {
        self.add(|c| c.rescale += 1);
        self.inner.rescale(v)
    }
    fn rescale_owned(&self, values: Vec<A::Value>) -> Result<Vec<A::Value>> {
        self.add(|c| c.rescale += values.len());
        self.inner.rescale_owned(values)
    }
    fn relinearize_rescale(&self, v: A::Value) -> Result<A::Value> {
        self.add(|c| {
            c.keyswitch += usize::from(self.inner.degree(&v) > 1);
            c.rescale += 1;
        });
        self.inner.relinearize_rescale(v)
    }
    fn drop_to_level(&self, v: &A::Value, level: usize) -> Result<A::Value> {
        self.inner.drop_to_level(v, level)
    }
    fn rotate(&self, v: &A::Value, step: i64) -> Result<A::Value> {
        self.add(|c| {
            c.rotate += 1;
            c.keyswitch += 1;
        });
        self.inner.rotate(v, step)
    }
    fn rotate_many(&self, values: &[&A::Value], step: i64) -> Result<Vec<A::Value>> {
        self.add(|c| {
            c.rotate += values.len();
            c.keyswitch += values.len();
        });
        self.inner.rotate_many(values, step)
    }
    fn rotate_hoisted(&self, v: &A::Value, steps: &[i64]) -> Result<Vec<A::Value>> {
        self.add(|c| {
            c.rotate += steps.len();
            c.keyswitch += steps.len();
        });
        self.inner.rotate_hoisted(v, steps)
    }
    fn mul_plain_scaled(&self, v: &A::Value, values: &[f64], pt_scale: f64) -> Result<A::Value> {
        self.add(|c| c.mul_plain += 1);
        self.inner.mul_plain_scaled(v, values, pt_scale)
    }
    fn mul_sums(&self, groups: &[&[(&A::Value, &A::Value)]]) -> Result<Vec<A::Value>> {
        self.add(|c| c.mul += groups.iter().map(|g| g.len()).sum::<usize>());
        self.inner.mul_sums(groups)
    }
    fn mul_plain_sums(&self, groups: &[&[(&A::Value, &[f64])]], pt_scale: f64) -> Result<Vec<A::Value>> {
        self.add(|c| c.mul_plain += groups.iter().map(|g| g.len()).sum::<usize>());
        self.inner.mul_plain_sums(groups, pt_scale)
    }
    fn add_plain(&self, v: &A::Value, values: &[f64]) -> Result<A::Value> {
        self.inner.add_plain(v, values)
    }
    fn matmul_plain(&self, plan: &MatMulPlain, xs: &[&A::Value], out_scale: f64) -> Result<Vec<A::Value>> {
        self.count_matmuls(&[plan], xs.len());
        self.inner.matmul_plain(plan, xs, out_scale)
    }
    fn matmul_plain_shared(
        &self,
        plans: &[&MatMulPlain],
        xs: &[&A::Value],
        out_scale: f64,
    ) -> Result<Vec<Vec<A::Value>>> {
        self.count_matmuls(plans, xs.len());
        self.inner.matmul_plain_shared(plans, xs, out_scale)
    }
    fn enter_layer(&self, layer: &'static str) -> &'static str {
        self.inner.enter_layer(layer)
    }
}
