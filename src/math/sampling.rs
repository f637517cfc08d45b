//! Randomness: a ChaCha20 CSPRNG and the samplers CKKS needs (uniform mod q,
//! ternary, fixed-Hamming-weight ternary, rounded Gaussian).

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use super::{MathError, Modulus};

/// Standard deviation of the error distribution (HE standard).
pub const ERROR_STD_DEV: f64 = 3.19;
/// Gaussian samples are bounded by this many standard deviations.
pub const ERROR_TAIL_CUT: f64 = 6.0;

/// A cryptographically secure generator (ChaCha20).
pub struct Csprng(ChaCha20Rng);

impl Csprng {
    /// Seeded from the operating system's entropy source.
    pub fn from_os() -> Result<Self, MathError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| MathError::Entropy(e.to_string()))?;
        let rng = ChaCha20Rng::from_seed(seed);
        zeroize::Zeroize::zeroize(&mut seed);
        Ok(Self(rng))
    }

    /// Deterministic stream for reproducible tests and benchmarks only.
    #[must_use]
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(ChaCha20Rng::from_seed(seed))
    }

    /// A uniform 32-bit word.
    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// A uniform 64-bit word.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, q) by rejection sampling (no modulo bias).
    pub fn uniform_mod(&mut self, q: &Modulus) -> u32 {
        let mask = u32::MAX >> q.value().leading_zeros();
        loop {
            let x = self.next_u32() & mask;
            if x < q.value() {
                return x;
            }
        }
    }

    /// Uniform in [0, bound) by rejection sampling.
    pub fn uniform_below(&mut self, bound: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % bound;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % bound;
            }
        }
    }

    /// A uniform f64 in (0, 1].
    fn unit_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// n coefficients uniform in {-1, 0, 1}.
    pub fn ternary(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.uniform_below(3) as i8 - 1).collect()
    }

    /// n coefficients in {-1, 0, 1} with exactly `h` non-zero (Fisher–Yates).
    pub fn ternary_hw(&mut self, n: usize, h: usize) -> Vec<i8> {
        let mut out = vec![0i8; n];
        for c in out.iter_mut().take(h) {
            *c = if self.next_u32() & 1 == 0 { 1 } else { -1 };
        }
        for i in (1..n).rev() {
            let j = self.uniform_below(i as u64 + 1) as usize;
            out.swap(i, j);
        }
        out
    }

    /// n rounded Gaussian samples of standard deviation `sigma`, |e| ≤ 6σ.
    pub fn gaussian(&mut self, n: usize, sigma: f64) -> Vec<i64> {
        let bound = (ERROR_TAIL_CUT * sigma).round();
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            // Box–Muller gives two independent normals per draw.
            let (u1, u2) = (self.unit_open(), self.unit_open());
            let r = sigma * (-2.0 * u1.ln()).sqrt();
            let theta = std::f64::consts::TAU * u2;
            for z in [r * theta.cos(), r * theta.sin()] {
                let z = z.round();
                if z.abs() <= bound && out.len() < n {
                    out.push(z as i64);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samplers_have_the_right_support_and_moments() {
        let mut rng = Csprng::from_seed([5; 32]);
        let t = rng.ternary(30_000);
        assert!(t.iter().all(|&x| (-1..=1).contains(&x)));
        let zeros = t.iter().filter(|&&x| x == 0).count();
        assert!((9_000..11_000).contains(&zeros));
        let h = rng.ternary_hw(4096, 192);
        assert_eq!(h.iter().filter(|&&x| x != 0).count(), 192);
        let g = rng.gaussian(100_000, ERROR_STD_DEV);
        let var = g.iter().map(|&x| (x * x) as f64).sum::<f64>() / g.len() as f64;
        assert!((var.sqrt() - ERROR_STD_DEV).abs() < 0.1, "std {}", var.sqrt());
        assert!(g.iter().all(|&x| x.abs() <= 19));
        let q = Modulus::new(97).unwrap();
        assert!((0..1000).all(|_| rng.uniform_mod(&q) < 97));
    }

    #[test]
    fn seeded_streams_are_reproducible() {
        let (mut a, mut b) = (Csprng::from_seed([1; 32]), Csprng::from_seed([1; 32]));
        assert_eq!(a.ternary(64), b.ternary(64));
        assert!(Csprng::from_os().is_ok());
    }
}
