//! CKKS parameters: an unchecked, serializable [`ParamsLiteral`] and the
//! validated, immutable [`Params`] built from it.
//!
//! Q is laid out lowest level first: `base_primes` primes that hold the
//! decoded message at level 0, then `primes_per_level` primes per level up
//! to `depth`. Level primes are chosen from the top level down so that the
//! nominal scale of every level stays close to 2^`log_scale`: the prime
//! dropped at level l is the free NTT prime closest to s_l^2 / Δ, which makes
//! s_(l-1) = s_l^2 / q_l ≈ Δ. The base primes and the special primes P are
//! the largest NTT primes. P has one prime more than a key-switching digit
//! (`alpha` = ceil(#Q / dnum) primes): key-switching noise is about
//! alpha·(Q_digit/P)·σ·N, so the extra 2^30 makes it negligible next to the
//! encryption noise (with P ≈ Q_digit it would cost about 8 bits of precision).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ParamsError;
use super::security::{Security, max_log_qp_128};
use crate::math::modulus::MAX_MODULUS_BITS;
use crate::math::primes::ntt_primes_below;
use crate::math::{Modulus, RnsRing};

/// Smallest supported log2 N (NTT tables and the slot FFT need N ≥ 16).
pub const MIN_LOG_N: u32 = 4;
/// Largest supported log2 N (the last row of the HE-standard table).
pub const MAX_LOG_N: u32 = 16;
/// Special primes beyond one digit's worth (see the module docs).
pub const EXTRA_SPECIAL_PRIMES: usize = 1;
/// Prefix that marks a parameter set as insecure, allowed for tests only.
pub const TOY_PREFIX: &str = "toy-";

/// Serializable description of a parameter set; validated by [`Params::try_from_literal`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamsLiteral {
    /// Preset or user name; `toy-*` names may break the security bound.
    pub name: String,
    /// log2 of the ring degree N.
    pub log_n: u32,
    /// Multiplicative depth: number of rescales from a fresh ciphertext.
    pub depth: usize,
    /// log2 of the default scale Δ.
    pub log_scale: f64,
    /// Primes of the base level (decoding headroom above Δ).
    pub base_primes: usize,
    /// Primes dropped per rescale: 1, or 2 for double-prime scaling.
    pub primes_per_level: usize,
    /// Number of key-switching digits (hybrid key switching).
    pub dnum: usize,
    /// Fixed Hamming weight of the secret, or `None` for uniform ternary.
    pub secret_hw: Option<usize>,
}

/// A validated, immutable parameter set. Share it as `Arc<Params>`.
#[derive(Clone, PartialEq)]
pub struct Params {
    literal: ParamsLiteral,
    ring: RnsRing,
    /// Nominal scale of a ciphertext at each level 0..=depth.
    level_scales: Vec<f64>,
    alpha: usize,
    security: Security,
    fingerprint: [u8; 16],
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Params({}: N=2^{}, depth {}, {} Q + {} P limbs, log QP {:.1}, dnum {}, {})",
            self.literal.name,
            self.literal.log_n,
            self.literal.depth,
            self.ring.q.len(),
            self.ring.p.len(),
            self.log_qp(),
            self.literal.dnum,
            self.security
        )
    }
}

impl Params {
    /// Validates `literal`, generates its primes and checks security.
    pub fn try_from_literal(literal: ParamsLiteral) -> Result<Self, ParamsError> {
        validate_shape(&literal)?;
        let l = &literal;
        let two_n = 2u64 << l.log_n;
        let delta = l.log_scale.exp2();
        let q_count = l.base_primes + l.depth * l.primes_per_level;
        let alpha = q_count.div_ceil(l.dnum);
        let p_count = alpha + EXTRA_SPECIAL_PRIMES;
        let wanted = q_count + p_count;
        let mut pool: Vec<u32> = ntt_primes_below(MAX_MODULUS_BITS, two_n).collect();
        if pool.len() < wanted {
            return Err(ParamsError::NotEnoughPrimes { log_n: l.log_n, wanted, found: pool.len() });
        }
        // Largest primes: base, then P.
        let base: Vec<u32> = pool.drain(..l.base_primes).collect();
        let special: Vec<u32> = pool.drain(..p_count).collect();
        let mut level_primes = vec![0u32; l.depth * l.primes_per_level];
        let mut level_scales = vec![0.0; l.depth + 1];
        let mut scale = delta;
        for level in (1..=l.depth).rev() {
            level_scales[level] = scale;
            let mut target = scale * scale / delta;
            let mut dropped = 1.0;
            for k in 0..l.primes_per_level {
                let remaining = (l.primes_per_level - k) as f64;
                let q = take_closest(&mut pool, target.powf(1.0 / remaining));
                target /= f64::from(q);
                dropped *= f64::from(q);
                level_primes[(level - 1) * l.primes_per_level + k] = q;
            }
            scale = scale * scale / dropped;
            if (scale / delta).log2().abs() > 1.0 {
                return Err(ParamsError::ScaleDrift { log_scale: l.log_scale, level });
            }
        }
        level_scales[0] = scale;
        let to_moduli = |v: Vec<u32>| v.into_iter().map(Modulus::new).collect::<Result<Vec<_>, _>>();
        let ring = RnsRing {
            log_n: l.log_n,
            q: to_moduli(base.into_iter().chain(level_primes).collect())?,
            p: to_moduli(special)?,
        };
        let mut params =
            Self { literal, ring, level_scales, alpha, security: Security::Insecure, fingerprint: [0; 16] };
        params.security = params.check_security()?;
        params.fingerprint = params.compute_fingerprint();
        Ok(params)
    }

    fn check_security(&self) -> Result<Security, ParamsError> {
        let toy = self.is_toy();
        let bound = max_log_qp_128(self.literal.log_n);
        let within = bound.is_some_and(|b| self.log_qp() <= f64::from(b));
        match (within && self.literal.secret_hw.is_none(), toy) {
            (_, true) => Ok(Security::Insecure),
            (true, false) => Ok(Security::Bits128),
            (false, false) if self.literal.secret_hw.is_some() => Err(ParamsError::Insecure {
                name: self.literal.name.clone(),
                reason: "sparse secrets are not covered by the HE-standard table".into(),
            }),
            (false, false) => Err(ParamsError::Insecure {
                name: self.literal.name.clone(),
                reason: match bound {
                    Some(b) => format!(
                        "log QP = {:.1} exceeds the 128-bit bound {b} for N = 2^{}",
                        self.log_qp(),
                        self.literal.log_n
                    ),
                    None => format!("no HE-standard entry for N = 2^{}", self.literal.log_n),
                },
            }),
        }
    }

    fn compute_fingerprint(&self) -> [u8; 16] {
        let l = &self.literal;
        let mut h = Sha256::new();
        h.update(b"hetl-params-v1");
        for v in [u64::from(l.log_n), l.depth as u64, l.base_primes as u64, l.primes_per_level as u64, l.dnum as u64] {
            h.update(v.to_le_bytes());
        }
        h.update(l.log_scale.to_bits().to_le_bytes());
        h.update(l.secret_hw.map_or(u64::MAX, |w| w as u64).to_le_bytes());
        for m in self.ring.all() {
            h.update(m.value().to_le_bytes());
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize()[..16]);
        out
    }

    /// The literal this set was built from.
    #[must_use]
    pub fn literal(&self) -> &ParamsLiteral {
        &self.literal
    }

    /// Name of the set.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.literal.name
    }

    /// Whether this is an insecure `toy-*` set.
    #[must_use]
    pub fn is_toy(&self) -> bool {
        self.literal.name.starts_with(TOY_PREFIX)
    }

    /// Security claim.
    #[must_use]
    pub fn security(&self) -> Security {
        self.security
    }

    /// The RNS ring (N and all primes).
    #[must_use]
    pub fn ring(&self) -> &RnsRing {
        &self.ring
    }

    /// Ring degree N.
    #[must_use]
    pub fn n(&self) -> usize {
        self.ring.n()
    }

    /// log2 N.
    #[must_use]
    pub fn log_n(&self) -> u32 {
        self.literal.log_n
    }

    /// Maximum number of complex slots (N/2).
    #[must_use]
    pub fn max_slots(&self) -> usize {
        self.n() / 2
    }

    /// Level of a fresh ciphertext (= depth).
    #[must_use]
    pub fn max_level(&self) -> usize {
        self.literal.depth
    }

    /// Number of Q limbs of a ciphertext at `level`.
    #[must_use]
    pub fn q_limbs(&self, level: usize) -> usize {
        self.literal.base_primes + level * self.literal.primes_per_level
    }

    /// Primes dropped by one rescale.
    #[must_use]
    pub fn primes_per_level(&self) -> usize {
        self.literal.primes_per_level
    }

    /// Nominal scale of a ciphertext at `level` (exactly what encode uses by default).
    #[must_use]
    pub fn scale(&self, level: usize) -> f64 {
        self.level_scales[level]
    }

    /// Product of the primes dropped when rescaling from `level` (as f64).
    #[must_use]
    pub fn level_modulus(&self, level: usize) -> f64 {
        let hi = self.q_limbs(level);
        self.ring.q[hi - self.literal.primes_per_level..hi].iter().map(|m| f64::from(m.value())).product()
    }

    /// Number of key-switching digits.
    #[must_use]
    pub fn dnum(&self) -> usize {
        self.literal.dnum
    }

    /// Q limbs per key-switching digit (P has one limb more).
    #[must_use]
    pub fn alpha(&self) -> usize {
        self.alpha
    }

    /// log2 of Q·P.
    #[must_use]
    pub fn log_qp(&self) -> f64 {
        self.ring.all().map(|m| f64::from(m.value()).log2()).sum()
    }

    /// log2 of the full Q.
    #[must_use]
    pub fn log_q(&self) -> f64 {
        self.log_q_at(self.max_level())
    }

    /// log2 of Q_level, the modulus of a ciphertext at `level`.
    #[must_use]
    pub fn log_q_at(&self, level: usize) -> f64 {
        self.ring.q[..self.q_limbs(level)].iter().map(|m| f64::from(m.value()).log2()).sum()
    }

    /// A 16-byte digest of everything that defines the set (its primes included).
    #[must_use]
    pub fn fingerprint(&self) -> [u8; 16] {
        self.fingerprint
    }

    /// The fingerprint as 32 hex digits.
    #[must_use]
    pub fn fingerprint_hex(&self) -> String {
        self.fingerprint.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn validate_shape(l: &ParamsLiteral) -> Result<(), ParamsError> {
    let invalid = |field: &'static str, reason: String| Err(ParamsError::Invalid { field, reason });
    if !(MIN_LOG_N..=MAX_LOG_N).contains(&l.log_n) {
        return invalid("log_n", format!("{} is outside [{MIN_LOG_N}, {MAX_LOG_N}]", l.log_n));
    }
    if l.depth == 0 {
        return invalid("depth", "must be at least 1".into());
    }
    if !(1..=2).contains(&l.primes_per_level) {
        return invalid("primes_per_level", format!("{} is not 1 or 2", l.primes_per_level));
    }
    let max_scale = f64::from(MAX_MODULUS_BITS) * l.primes_per_level as f64 - 0.1;
    if !(l.log_scale.is_finite() && l.log_scale >= 10.0 && l.log_scale <= max_scale) {
        return invalid(
            "log_scale",
            format!("{} is outside [10, {max_scale}] for {} prime(s) per level", l.log_scale, l.primes_per_level),
        );
    }
    if l.base_primes == 0 {
        return invalid("base_primes", "must be at least 1".into());
    }
    let q_count = l.base_primes + l.depth * l.primes_per_level;
    if l.dnum == 0 || l.dnum > q_count {
        return invalid("dnum", format!("{} is outside [1, {q_count}] (the number of Q primes)", l.dnum));
    }
    if l.secret_hw.is_some_and(|h| h == 0 || h > 1 << l.log_n) {
        return invalid("secret_hw", "must lie in [1, N]".into());
    }
    Ok(())
}

/// Removes and returns the pool entry closest to `target`.
fn take_closest(pool: &mut Vec<u32>, target: f64) -> u32 {
    let (idx, _) = pool
        .iter()
        .enumerate()
        .min_by(|(_, a), (_, b)| (f64::from(**a) - target).abs().total_cmp(&(f64::from(**b) - target).abs()))
        .expect("pool size was checked against the number of primes needed");
    pool.swap_remove(idx)
}
