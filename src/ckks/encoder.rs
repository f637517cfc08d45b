//! Encoding of complex (or real) vectors into plaintexts and back, with the
//! canonical embedding (special FFT) and sparse slot packing.

use num_complex::Complex64;

use super::context::Prepared;
use super::{Ciphertext, CkksError, Context, Plaintext, Result};
use crate::backend::Basis;
use crate::math::crt::MixedRadix;
use crate::sched::OpKind;
use zeroize::Zeroizing;

/// Largest |integer| (in bits) that an encoding, a constant times its scale,
/// or a scale-matching factor may be: 2^62 keeps the f64 → integer
/// conversion exact to within rounding and leaves headroom in every limb sum.
pub const MAX_COEFF_BITS: f64 = 62.0;

/// Bits above the scale that decoding reconstructs: values up to 2^57 in
/// magnitude come back at any scale (three limbs at the nominal scale; more
/// for products not yet rescaled, up to all of the level's).
const DECODE_HEADROOM_BITS: f64 = 58.0;

impl Context {
    /// Encodes `values` (at most N/2; padded to the next power of two with
    /// zeros) at `level` with scale `scale`.
    pub fn encode(&self, values: &[Complex64], level: usize, scale: f64) -> Result<Plaintext> {
        Ok(self.encode_many(&[values], level, scale)?.remove(0))
    }

    /// Encodes every value vector at `level` with scale `scale` (see
    /// [`Context::encode`]): the host work (FFT, rounding, residues) runs on
    /// the context's host threads ([`Context::with_host_threads`]), then the
    /// uploads and one NTT submission for all of them.
    pub fn encode_many(&self, values: &[&[Complex64]], level: usize, scale: f64) -> Result<Vec<Plaintext>> {
        let params = self.params();
        if level > params.max_level() {
            return Err(CkksError::InvalidInput {
                op: "encode",
                reason: format!("level {level} is above the maximum {}", params.max_level()),
            });
        }
        let basis = Basis::q(params.q_limbs(level));
        // In chunks the backend's batch budget holds (a CPU's caches), yet
        // one item per host thread at least.
        let chunk = self.sched().batch_limit(basis.limbs() * params.n() * 8).max(self.host_threads());
        let mut out = Vec::with_capacity(values.len());
        for values in values.chunks(chunk) {
            let encoded = self.on_host_threads(values, |v| self.encode_words(v, level, scale, basis))?;
            let mut polys = Vec::with_capacity(encoded.len());
            let mut slots = Vec::with_capacity(encoded.len());
            for (prepared, s) in encoded {
                polys.push(self.upload_prepared(&prepared, basis)?);
                slots.push(s);
            }
            self.run(OpKind::Ntt, |b| b.ntt_forward(&mut polys.iter_mut().collect::<Vec<_>>()))?;
            let plaintext = |(poly, slots)| Plaintext { poly, level, scale, slots, params_id: params.fingerprint() };
            out.extend(polys.into_iter().zip(slots).map(plaintext));
        }
        Ok(out)
    }

    /// The host part of encoding: `values`' coefficients ready for upload
    /// over `basis` ([`Context::prepare_signed`]: residues or signed
    /// coefficients; the data party's values, so wiped when dropped) and
    /// the slot count.
    fn encode_words(&self, values: &[Complex64], level: usize, scale: f64, basis: Basis) -> Result<(Prepared, usize)> {
        let params = self.params();
        let invalid = |reason: String| CkksError::InvalidInput { op: "encode", reason };
        if values.is_empty() || values.len() > params.max_slots() {
            return Err(invalid(format!("{} values do not fit 1..={} slots", values.len(), params.max_slots())));
        }
        if !(scale.is_finite() && scale >= 1.0) {
            return Err(invalid(format!("scale {scale} must be finite and at least 1")));
        }
        let slots = values.len().next_power_of_two();
        let mut vals = values.to_vec();
        vals.resize(slots, Complex64::new(0.0, 0.0));
        if let Some(bad) = vals.iter().position(|v| !(v.re.is_finite() && v.im.is_finite())) {
            return Err(invalid(format!("value {bad} is not finite")));
        }
        self.fft.embed_inv(&mut vals);
        let n = params.n();
        let gap = n / (2 * slots);
        let limit = (params.log_q_at(level) - 1.0).min(MAX_COEFF_BITS).exp2();
        let mut coeffs = Zeroizing::new(vec![0i64; n]);
        for (i, v) in vals.iter().enumerate() {
            for (pos, x) in [(i * gap, v.re), (n / 2 + i * gap, v.im)] {
                let c = (x * scale).round();
                if c.abs() >= limit {
                    return Err(invalid(format!(
                        "values too large for scale 2^{:.1} at level {level} (|coefficient| 2^{:.1} ≥ 2^{:.1})",
                        scale.log2(),
                        c.abs().log2(),
                        limit.log2()
                    )));
                }
                coeffs[pos] = c as i64;
            }
        }
        Ok((self.prepare_signed(coeffs, basis), slots))
    }

    /// Encodes real values at `level` with the level's nominal scale.
    pub fn encode_real(&self, values: &[f64], level: usize) -> Result<Plaintext> {
        let vals: Vec<Complex64> = values.iter().map(|&x| Complex64::new(x, 0.0)).collect();
        self.encode(&vals, level, self.params().scale(level))
    }

    /// How many of the lowest of `limbs` primes decoding at `scale` reads:
    /// enough to span the scale and DECODE_HEADROOM_BITS (a value below
    /// their product is recovered from them alone).
    fn decode_limbs(&self, limbs: usize, scale: f64) -> usize {
        let q = &self.params().ring().q[..limbs];
        let needed = scale.log2() + DECODE_HEADROOM_BITS;
        (1..=limbs)
            .find(|&k| q[..k].iter().map(|m| f64::from(m.value()).log2()).sum::<f64>() >= needed)
            .unwrap_or(limbs)
    }

    /// The lowest level `ct` can be dropped to (limbs removed, nothing
    /// divided) and still decrypt to exactly the same values: the level
    /// whose limbs hold every one that decoding reads. A compute party
    /// sends a ciphertext for decryption at this level: fewer bytes to
    /// move, fewer limbs to decrypt.
    #[must_use]
    pub fn decryption_level(&self, ct: &Ciphertext) -> usize {
        let params = self.params();
        let used = self.decode_limbs(params.q_limbs(ct.level), ct.scale);
        (0..ct.level).find(|&level| params.q_limbs(level) >= used).unwrap_or(ct.level)
    }

    /// Decodes a plaintext into its `slots` complex values.
    pub fn decode(&self, pt: &Plaintext) -> Result<Vec<Complex64>> {
        let params = self.params();
        if pt.params_id != params.fingerprint() {
            return Err(CkksError::ParamsMismatch { op: "decode" });
        }
        self.check_scale_room("decode", pt.level, pt.scale)?;
        let mut poly = self.copy_poly(&pt.poly)?;
        let q = &params.ring().q[..poly.basis().q];
        let used = self.decode_limbs(q.len(), pt.scale);
        self.run(OpKind::Memory, |b| b.truncate(&mut poly, used))?;
        self.run(OpKind::Intt, |b| b.ntt_inverse(&mut [&mut poly]))?;
        let words = self.run(OpKind::Download, |b| b.download(&poly))?;
        let n = params.n();
        let radix = MixedRadix::new(&q[..used]);
        let gap = n / (2 * pt.slots);
        let (mut residues, mut digits) = (Vec::with_capacity(used), Vec::with_capacity(used));
        let mut coeff = |pos: usize| {
            residues.clear();
            residues.extend((0..used).map(|k| words[k * n + pos]));
            radix.centered_f64(&residues, &mut digits) / pt.scale
        };
        let mut vals: Vec<Complex64> =
            (0..pt.slots).map(|i| Complex64::new(coeff(i * gap), coeff(n / 2 + i * gap))).collect();
        self.fft.embed(&mut vals);
        Ok(vals)
    }
}
