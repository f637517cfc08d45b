//! Element-wise arithmetic on limbs (slices of residues mod one prime), the
//! pointwise hot loops of the CPU backend. Inputs and outputs in [0, q).

use super::Modulus;

/// a[i] = (a[i] + b[i]) mod q.
pub fn add_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = m.add(*x, y);
    }
}

/// a[i] = (a[i] - b[i]) mod q.
pub fn sub_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = m.sub(*x, y);
    }
}

/// a[i] = -a[i] mod q.
pub fn neg_inplace(m: &Modulus, a: &mut [u32]) {
    for x in a.iter_mut() {
        *x = m.neg(*x);
    }
}

/// a[i] = a[i]·b[i] mod q.
pub fn mul_assign(m: &Modulus, a: &mut [u32], b: &[u32]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = m.mul(*x, y);
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

/// a[i] = (a[i] - b[i])·w mod q for a constant w < q: the last step of
/// rescale and ModDown.
pub fn sub_mul_scalar_assign(m: &Modulus, a: &mut [u32], b: &[u32], w: u32) {
    let ws = m.shoup(w);
    for (x, &y) in a.iter_mut().zip(b) {
        *x = m.mul_shoup(*x + m.value() - y, w, ws);
    }
}

/// Tensor product of degree-1 ciphertext limbs:
/// out = (a0·b0, a0·b1 + a1·b0, a1·b1) mod q.
pub fn tensor(m: &Modulus, a: [&[u32]; 2], b: [&[u32]; 2], out: [&mut [u32]; 3]) {
    let [o0, o1, o2] = out;
    for i in 0..o0.len() {
        let (a0, a1, b0, b1) = (u64::from(a[0][i]), u64::from(a[1][i]), u64::from(b[0][i]), u64::from(b[1][i]));
        o0[i] = m.reduce_u64(a0 * b0);
        o1[i] = m.reduce_u64(a0 * b1 + a1 * b0);
        o2[i] = m.reduce_u64(a1 * b1);
    }
}
