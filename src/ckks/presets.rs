//! Named parameter sets. Secure presets take the largest depth whose log QP
//! fits the HE-standard 128-bit bound; `toy-*` presets are small and
//! insecure, for tests.

use super::error::ParamsError;
use super::params::{Params, ParamsLiteral};
use super::security::max_log_qp_128;

/// Default log2 scale: the largest that leaves NTT primes on both sides of
/// the target below 2^30 (scale ≈ 0.87·2^30).
pub const DEFAULT_LOG_SCALE: f64 = 29.8;
/// Base-level primes: 2 × 30 bits gives ≈ 2^30 of headroom over Δ at level 0.
pub const DEFAULT_BASE_PRIMES: usize = 2;
/// Default number of key-switching digits (as OpenFHE's default for HYBRID).
pub const DEFAULT_DNUM: usize = 3;

/// Names of all presets.
pub const PRESET_NAMES: [&str; 6] = ["toy-n1024", "toy-n4096", "toy-deep", "n14", "n15", "n16"];

fn literal(name: &str, log_n: u32, depth: usize, dnum: usize) -> ParamsLiteral {
    ParamsLiteral {
        name: name.into(),
        log_n,
        depth,
        log_scale: DEFAULT_LOG_SCALE,
        base_primes: DEFAULT_BASE_PRIMES,
        primes_per_level: 1,
        dnum,
        secret_hw: None,
    }
}

/// The deepest 128-bit-secure set at ring degree 2^`log_n` with `dnum` digits.
pub fn max_depth_secure(name: &str, log_n: u32, dnum: usize) -> Result<Params, ParamsError> {
    let bound = max_log_qp_128(log_n).ok_or_else(|| ParamsError::Invalid {
        field: "log_n",
        reason: format!("no HE-standard bound for N = 2^{log_n}"),
    })?;
    // Each level costs about 30 bits of Q plus 30/dnum bits of P; start just above.
    let mut depth = (f64::from(bound) / (30.0 * (1.0 + 1.0 / dnum as f64))) as usize + 2;
    loop {
        match Params::try_from_literal(literal(name, log_n, depth, dnum.min(DEFAULT_BASE_PRIMES + depth))) {
            Ok(p) => return Ok(p),
            Err(ParamsError::Insecure { .. }) if depth > 1 => depth -= 1,
            Err(e) => return Err(e),
        }
    }
}

/// Builds the preset called `name`.
pub fn preset(name: &str) -> Result<Params, ParamsError> {
    match name {
        "toy-n1024" => Params::try_from_literal(literal(name, 10, 4, 2)),
        "toy-n4096" => Params::try_from_literal(literal(name, 12, 8, DEFAULT_DNUM)),
        // Deep enough for one encoder step between refreshes (the encrypted
        // encoder's tests); 1024 slots hold two 512-slot token blocks.
        "toy-deep" => Params::try_from_literal(literal(name, 11, 20, DEFAULT_DNUM)),
        "n14" => max_depth_secure(name, 14, DEFAULT_DNUM),
        "n15" => max_depth_secure(name, 15, DEFAULT_DNUM),
        "n16" => max_depth_secure(name, 16, DEFAULT_DNUM),
        _ => Err(ParamsError::UnknownPreset { name: name.into(), known: PRESET_NAMES.join(", ") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ckks::security::Security;

    #[test]
    fn secure_presets_are_maximal_and_within_bound() {
        for (name, log_n) in [("n14", 14), ("n15", 15), ("n16", 16)] {
            let p = preset(name).unwrap();
            let bound = f64::from(max_log_qp_128(log_n).unwrap());
            assert_eq!(p.security(), Security::Bits128);
            assert!(p.log_qp() <= bound, "{p:?}");
            let deeper = ParamsLiteral { depth: p.max_level() + 1, ..p.literal().clone() };
            assert!(
                matches!(Params::try_from_literal(deeper), Err(ParamsError::Insecure { .. })),
                "{name} is not maximal"
            );
            // Nominal scales stay within 0.05 bit of Δ.
            for level in 0..=p.max_level() {
                assert!(
                    (p.scale(level).log2() - DEFAULT_LOG_SCALE).abs() < 0.05,
                    "{name} level {level}: {:?}",
                    (0..=p.max_level()).map(|l| p.scale(l).log2()).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn toy_presets_are_marked_insecure_and_unknown_names_rejected() {
        assert_eq!(preset("toy-n1024").unwrap().security(), Security::Insecure);
        let err = preset("n17").unwrap_err();
        assert!(err.to_string().contains("unknown preset \"n17\""), "{err}");
        let insecure = ParamsLiteral { name: "mine".into(), ..preset("toy-n1024").unwrap().literal().clone() };
        assert!(matches!(Params::try_from_literal(insecure), Err(ParamsError::Insecure { .. })));
    }

    #[test]
    fn invalid_literals_are_rejected() {
        let base = preset("toy-n1024").unwrap().literal().clone();
        for bad in [
            ParamsLiteral { log_n: 3, ..base.clone() },
            ParamsLiteral { depth: 0, ..base.clone() },
            ParamsLiteral { dnum: 0, ..base.clone() },
            ParamsLiteral { dnum: 99, ..base.clone() },
            ParamsLiteral { log_scale: 31.0, ..base.clone() },
            ParamsLiteral { log_scale: f64::NAN, ..base.clone() },
            ParamsLiteral { primes_per_level: 3, ..base.clone() },
        ] {
            assert!(matches!(Params::try_from_literal(bad), Err(ParamsError::Invalid { .. })));
        }
    }
}
