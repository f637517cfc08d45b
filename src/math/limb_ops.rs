//! Element-wise arithmetic on limbs (slices of residues mod one prime), the
//! pointwise hot loops of the CPU backend. Inputs and outputs in [0, q).

use super::Modulus;

/// out[i] = (a[i] + b[i]) mod q.
pub fn add(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.add(x, y);
    }
}

/// out[i] = (a[i] - b[i]) mod q.
pub fn sub(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.sub(x, y);
    }
}

/// a[i] = -a[i] mod q.
pub fn neg_inplace(m: &Modulus, a: &mut [u32]) {
    for x in a.iter_mut() {
        *x = m.neg(*x);
    }
}

/// out[i] = a[i]·b[i] mod q.
pub fn mul(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.mul(x, y);
    }
}

/// a[i] = a[i]·w mod q for a constant w < q (Shoup).
pub fn mul_scalar_inplace(m: &Modulus, a: &mut [u32], w: u32) {
    let ws = m.shoup(w);
    for x in a.iter_mut() {
        *x = m.mul_shoup(*x, w, ws);
    }
}

/// a[i] = (a[i] + w) mod q for a constant w < q.
pub fn add_scalar_inplace(m: &Modulus, a: &mut [u32], w: u32) {
    for x in a.iter_mut() {
        *x = m.add(*x, w);
    }
}

/// acc[i] += a[i]·b[i] (unreduced; the caller reduces at most every 16 terms).
pub fn mul_acc_u64(acc: &mut [u64], a: &[u32], b: &[u32]) {
    for ((s, &x), &y) in acc.iter_mut().zip(a).zip(b) {
        *s += u64::from(x) * u64::from(y);
    }
}

/// out[i] = acc[i] mod q.
pub fn reduce_u64(m: &Modulus, acc: &[u64], out: &mut [u32]) {
    for (o, &s) in out.iter_mut().zip(acc) {
        *o = m.reduce_u64(s);
    }
}

/// out[i] = (a[i] - b[i])·w mod q for a constant w < q: the last step of
/// rescale and ModDown.
pub fn sub_mul_scalar(m: &Modulus, a: &[u32], b: &[u32], w: u32, out: &mut [u32]) {
    let ws = m.shoup(w);
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.mul_shoup(x + m.value() - y, w, ws);
    }
}
