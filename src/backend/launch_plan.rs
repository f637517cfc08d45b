//! Launch geometry shared by the GPU backends: how a buffer's limbs map to
//! global primes ([`LimbMap`], `prime_of` in the kernels) and how an NTT is
//! split into shared-memory phases ([`ntt_phases`]). Pure host arithmetic.

use std::ops::Range;

use super::{Basis, Elementwise, digit_ranges};

/// Maps a buffer's limb index to a global prime index (`prime_of` in
/// `shaders/modarith.wgsl` and `kernels/modarith.cuh`): limb k is Q prime
/// k + shift while that is below `q_count`, else a P prime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LimbMap {
    /// Added to the limb index before the Q/P decision.
    pub(crate) shift: u32,
    /// Shifted indices below this are Q primes.
    pub(crate) q_count: u32,
}

impl LimbMap {
    /// The limbs of a polynomial of `basis`: Q[0..q] then P[0..].
    pub(crate) fn basis(basis: Basis) -> Self {
        Self { shift: 0, q_count: basis.q as u32 }
    }

    /// Limbs that are consecutive Q primes starting at Q[start].
    pub(crate) fn q_from(start: usize) -> Self {
        Self { shift: start as u32, q_count: u32::MAX }
    }
}

/// Geometry of a ModDown of a polynomial of `basis` that also drops `drop`
/// Q limbs ([`super::Backend::mod_down`]): its divisor's limbs Q[q−drop..q]
/// then P (contiguous, from limb `kept`) and the Q limbs it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DownPlan {
    /// The input's basis.
    pub(crate) basis: Basis,
    /// Q limbs kept (q − drop): the divisor's limbs start there.
    pub(crate) kept: usize,
    /// Number of the divisor's limbs (drop + p).
    pub(crate) sources: usize,
    /// Their primes, counted from the first of them.
    pub(crate) source_map: LimbMap,
}

impl DownPlan {
    /// The plan for `basis` and `drop` (validated by the caller).
    pub(crate) fn new(basis: Basis, drop: usize) -> Self {
        let kept = basis.q - drop;
        let source_map = LimbMap { shift: kept as u32, q_count: basis.q as u32 };
        Self { basis, kept, sources: drop + basis.p, source_map }
    }

    /// Argument words of its conversion launches (`s`, the divisor's limbs).
    pub(crate) fn args(&self) -> [u32; 4] {
        [self.sources as u32, 0, 0, 0]
    }
}

/// One phase of a shared-memory NTT (see `shaders/ntt.wgsl`): `stages`
/// butterfly levels at set stride 2^`log_stride`, 2^`log_cols` sets per
/// workgroup (block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NttPhase {
    /// log2 of the set stride S.
    pub(crate) log_stride: u32,
    /// Butterfly levels m.
    pub(crate) stages: u32,
    /// log2 of the sets per workgroup C.
    pub(crate) log_cols: u32,
}

impl NttPhase {
    /// Workgroups (blocks) per limb at ring degree 2^`log_n`.
    pub(crate) fn groups(&self, log_n: u32) -> u32 {
        1 << (log_n - self.stages - self.log_cols)
    }
}

/// The at most two phases of a transform at N = 2^`log_n` with tiles of
/// `tile` words: contiguous tiles (S = 1) and, for larger N, a strided phase
/// before (forward) or after (inverse) them. Requires N ≤ tile².
pub(crate) fn ntt_phases(log_n: u32, tile: u32, forward: bool) -> Vec<NttPhase> {
    let log_tile = tile.trailing_zeros();
    let contiguous = log_n.min(log_tile);
    let strided = log_n - contiguous;
    let tiles = NttPhase { log_stride: 0, stages: contiguous, log_cols: 0 };
    let columns = NttPhase { log_stride: contiguous, stages: strided, log_cols: log_tile - strided };
    match (strided, forward) {
        (0, _) => vec![tiles],
        (_, true) => vec![columns, tiles],
        (_, false) => vec![tiles, columns],
    }
}

/// Operation selector (`H_OP` / `op`) of the `binary` kernel, the same in
/// `shaders/elementwise.wgsl` and `kernels/elementwise.cu`.
pub(crate) fn binary_op(op: Elementwise) -> u32 {
    match op {
        Elementwise::Add => 0,
        Elementwise::Sub => 1,
        Elementwise::Mul => 2,
    }
}

/// Operation selectors of the `unary` kernel.
pub(crate) const UNARY_NEGATE: u32 = 0;
/// See [`UNARY_NEGATE`].
pub(crate) const UNARY_ADD: u32 = 1;
/// See [`UNARY_NEGATE`].
pub(crate) const UNARY_MUL: u32 = 2;
/// Operation selector of the `scaled` kernel: x = (x − y)·w.
pub(crate) const SCALED_SUB_MUL: u32 = 0;
/// See [`SCALED_SUB_MUL`]: x = x + y·w.
pub(crate) const SCALED_ADD_MUL: u32 = 1;
/// Selector of the `tensor` kernel that writes d2 into a ModUp digit's
/// buffers (`Backend::tensor_mod_up`).
pub(crate) const TENSOR_MOD_UP: u32 = 1;
/// Selector of the `automorphism` kernel that adds the permuted words to
/// the output's (`Backend::automorphism_add`).
pub(crate) const AUT_ADD: u32 = 1;
/// Selector of `conv_apply` that subtracts the overflow (centered conversion).
pub(crate) const CONV_CENTERED: u32 = 1;
/// Selector bit of the first `key_switch_inner` launch of a product that
/// starts from a scaled addend (`Backend::key_switch_inner_add`).
pub(crate) const KS_ADD: u32 = 1;

/// What a kernel launch covers: limbs of the bound buffers (one workgroup
/// or block row each), their primes, and the kernel-specific operation
/// selector and argument words (`H_OP`, `H_ARG ..` in WGSL; `op`, `arg` in CUDA).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Launch {
    /// Limbs of the bound buffers.
    pub(crate) limbs: Range<usize>,
    /// Their primes.
    pub(crate) map: LimbMap,
    /// Operation selector.
    pub(crate) op: u32,
    /// Kernel arguments.
    pub(crate) args: [u32; 4],
}

impl Launch {
    /// `limbs` under `map`, with no op or arguments.
    pub(crate) fn new(limbs: Range<usize>, map: LimbMap) -> Self {
        Self { limbs, map, op: 0, args: [0; 4] }
    }

    /// With the operation selector set.
    pub(crate) fn op(self, op: u32) -> Self {
        Self { op, ..self }
    }

    /// With the argument words set.
    pub(crate) fn args(self, args: [u32; 4]) -> Self {
        Self { args, ..self }
    }
}

/// One digit of one ModUp source: the source's index, the digit's Q limbs
/// and the extended basis of its output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ModUpDigit {
    /// Index of the source polynomial.
    pub(crate) source: usize,
    /// The digit's Q limbs (they pass through; the others are converted).
    pub(crate) limbs: Range<usize>,
    /// Basis of the extended output.
    pub(crate) out_basis: Basis,
}

impl ModUpDigit {
    /// Argument words of its conversion launches (`s`, the source limbs).
    pub(crate) fn args(&self) -> [u32; 4] {
        [self.limbs.len() as u32, 0, 0, 0]
    }
}

/// Every digit of sources of `q_limbs` Q limbs each, extended by `p` P
/// limbs, digit-major: the same digit of every source adjacent, so that
/// equal steps batch. Each source's digits stay in limb order.
pub(crate) fn mod_up_digits(q_limbs: impl Iterator<Item = usize>, alpha: usize, p: usize) -> Vec<ModUpDigit> {
    let mut digits: Vec<ModUpDigit> = q_limbs
        .enumerate()
        .flat_map(|(source, q)| {
            digit_ranges(q, alpha).into_iter().map(move |limbs| ModUpDigit { source, limbs, out_basis: Basis { q, p } })
        })
        .collect();
    digits.sort_by_key(|d| (d.limbs.start, d.limbs.end, d.out_basis.limbs()));
    digits
}

/// The output limbs each digit converts (all but its own), as (digit
/// index, limbs), equal limb ranges adjacent.
pub(crate) fn mod_up_targets(digits: &[ModUpDigit]) -> Vec<(usize, Range<usize>)> {
    let mut targets: Vec<(usize, Range<usize>)> = digits
        .iter()
        .enumerate()
        .flat_map(|(i, d)| [0..d.limbs.start, d.limbs.end..d.out_basis.limbs()].map(|t| (i, t)))
        .filter(|(_, t)| !t.is_empty())
        .collect();
    targets.sort_by_key(|(i, t)| (t.start, t.end, digits[*i].out_basis.limbs()));
    targets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::{Modulus, RnsRing};

    #[test]
    fn phases_cover_every_level_once() {
        for log_n in 1..=22 {
            for forward in [true, false] {
                let phases = ntt_phases(log_n, 2048, forward);
                assert_eq!(phases.iter().map(|p| p.stages).sum::<u32>(), log_n);
                assert!(phases.iter().all(|p| p.stages + p.log_cols <= 11 && p.groups(log_n) >= 1));
            }
        }
    }

    /// The global prime of limb `limb` under `map` in a ring of `q_total`
    /// Q primes, as `prime_of` in the kernels computes it.
    fn prime_of(map: LimbMap, limb: usize, q_total: usize) -> usize {
        let k = limb + map.shift as usize;
        if k < map.q_count as usize { k } else { q_total + k - map.q_count as usize }
    }

    #[test]
    fn down_plan_maps_its_sources_to_the_divisor_primes() {
        let mut primes = crate::math::primes::ntt_primes_below(30, 2048).map(|q| Modulus::new(q).expect("prime"));
        let ring = RnsRing { log_n: 10, q: primes.by_ref().take(5).collect(), p: primes.take(2).collect() };
        let (q_total, p) = (ring.q.len(), ring.p.len());
        for drop in 0..3 {
            for q in drop + 1..=q_total {
                let plan = DownPlan::new(Basis { q, p }, drop);
                let globals: Vec<usize> = (0..plan.sources).map(|j| prime_of(plan.source_map, j, q_total)).collect();
                assert_eq!(globals, ring.down_sources(q, drop, p), "q {q} drop {drop}");
                // The divisor's limbs are the input's limbs from `kept` on.
                let basis = plan.basis;
                let input: Vec<usize> = (plan.kept..basis.limbs()).map(|k| basis.global(k, &ring)).collect();
                assert_eq!(globals, input, "q {q} drop {drop}");
                assert_eq!(plan.kept + plan.sources, basis.limbs());
            }
        }
    }

    #[test]
    fn mod_up_digits_are_digit_major_and_targets_cover_the_rest() {
        let digits = mod_up_digits([5, 3, 5].into_iter(), 2, 2);
        let starts: Vec<(usize, usize)> = digits.iter().map(|d| (d.limbs.start, d.source)).collect();
        // By (digit start, end, output limbs): the 3-limb source's shorter digits first.
        assert_eq!(starts, [(0, 1), (0, 0), (0, 2), (2, 1), (2, 0), (2, 2), (4, 0), (4, 2)]);
        for source in 0..3 {
            let own: Vec<_> = digits.iter().filter(|d| d.source == source).map(|d| d.limbs.clone()).collect();
            let q = if source == 1 { 3 } else { 5 };
            assert_eq!(own, digit_ranges(q, 2), "source {source}: digits in limb order");
        }
        let targets = mod_up_targets(&digits);
        for (i, d) in digits.iter().enumerate() {
            let mut covered: Vec<usize> =
                targets.iter().filter(|(j, _)| *j == i).flat_map(|(_, t)| t.clone()).collect();
            covered.extend(d.limbs.clone());
            covered.sort_unstable();
            assert_eq!(covered, (0..d.out_basis.limbs()).collect::<Vec<_>>(), "digit {i}");
        }
        assert!(targets.windows(2).all(|w| (w[0].1.start, w[0].1.end) <= (w[1].1.start, w[1].1.end)));
    }
}
