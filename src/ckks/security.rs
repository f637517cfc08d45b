//! The HE-standard 128-bit security table for uniform ternary secrets
//! (Albrecht et al., "Homomorphic Encryption Standard", 2018, Table 1,
//! classical 128-bit column): the largest log2(QP) allowed per ring degree.

/// (log2 N, max log2 QP) for 128-bit classical security, ternary secret.
pub const HE_STANDARD_128: [(u32, u32); 7] =
    [(10, 27), (11, 54), (12, 109), (13, 218), (14, 438), (15, 881), (16, 1747)];

/// Largest log2(QP) with 128-bit security at ring degree 2^`log_n`, if tabulated.
#[must_use]
pub fn max_log_qp_128(log_n: u32) -> Option<u32> {
    HE_STANDARD_128.iter().find(|(l, _)| *l == log_n).map(|&(_, bits)| bits)
}

/// Security claim of a parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Within the HE-standard 128-bit bound.
    Bits128,
    /// A `toy-*` set outside the bound: for tests only.
    Insecure,
}

impl std::fmt::Display for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Bits128 => "128-bit (HE standard, ternary secret)",
            Self::Insecure => "INSECURE (toy parameters, for tests only)",
        })
    }
}
