//! The differential test suite every GPU backend runs against the CPU
//! reference, bit for bit: every `Backend` primitive and whole CKKS
//! operations, at the presets toy-n1024, toy-n4096 and n14. A test file
//! names its backend with a [`Target`] and expands [`backend_diff_tests!`].
//!
//! Without the backend's driver the tests print why and pass, unless the
//! target's `require_env` variable is set (CI sets it where the driver exists).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use hetl::backend::cpu::CpuBackend;
use hetl::backend::{Backend, BackendError, Basis, DevicePoly, Elementwise, KeySwitchJob, ScalarOp};
use hetl::ckks::keys::galois_conjugate;
use hetl::ckks::{Context, preset};
use hetl::math::primes::ntt_primes_below;
use hetl::math::sampling::Csprng;
use hetl::math::{Modulus, RnsRing};
use num_complex::Complex64;

/// The backend under test.
pub struct Target {
    /// Its [`Backend::name`].
    pub name: &'static str,
    /// Environment variable that turns a missing driver into a failure.
    pub require_env: &'static str,
    /// What a skip says is missing ("no CUDA driver").
    pub missing: &'static str,
    /// What to install when it is missing.
    pub hint: &'static str,
    /// Builds the backend for a ring.
    pub open: fn(RnsRing) -> Result<Arc<dyn Backend>, BackendError>,
}

const PRESETS: [&str; 3] = ["toy-n1024", "toy-n4096", "n14"];

/// Backends built so far, by (target's address, preset): a test binary
/// may hold several targets of one backend.
type Backends = Mutex<HashMap<(usize, String), Arc<dyn Backend>>>;

/// One backend per target and preset, shared by the tests (building the
/// kernels costs more than most tests); `None` when no driver exists.
fn gpu(target: &Target, name: &str) -> Option<Arc<dyn Backend>> {
    static BACKENDS: OnceLock<Backends> = OnceLock::new();
    let mut cache = BACKENDS.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
    let key = (std::ptr::from_ref(target) as usize, name.to_string());
    if let Some(b) = cache.get(&key) {
        return Some(Arc::clone(b));
    }
    let ring = preset(name).expect("preset").ring().clone();
    let b = open(target, ring)?;
    cache.insert(key, Arc::clone(&b));
    Some(b)
}

/// The target's backend for `ring`, or a skip when its driver is missing.
fn open(target: &Target, ring: RnsRing) -> Option<Arc<dyn Backend>> {
    match (target.open)(ring) {
        Ok(b) => Some(b),
        Err(BackendError::DriverUnavailable { reason, .. }) => skip(target, &reason),
        Err(e) => panic!("{} backend: {e}", target.name),
    }
}

/// Reports a missing driver: a skip, or a failure when the target's
/// `require_env` is set (so that CI cannot pass by skipping).
fn skip<T>(target: &Target, reason: &str) -> Option<T> {
    let Target { name, require_env, missing, hint, .. } = target;
    assert!(std::env::var_os(require_env).is_none(), "{require_env} is set but {name} is unavailable: {reason}");
    eprintln!("skipped: {missing} ({hint})\n  cause: {reason}");
    None
}

/// xorshift64: reproducible test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The CPU reference and the backend under test on one ring.
pub struct Pair {
    target: &'static Target,
    cpu: CpuBackend,
    gpu: Arc<dyn Backend>,
    ring: RnsRing,
    rng: Rng,
}

impl Pair {
    /// Both backends for a preset's ring.
    pub fn new(target: &'static Target, name: &str) -> Option<Self> {
        Some(Self::with(target, gpu(target, name)?))
    }

    /// Both backends for a ring that is no preset's: `q` and `p` primes of
    /// up to 30 bits at N = 2^`log_n`.
    pub fn custom(target: &'static Target, log_n: u32, q: usize, p: usize) -> Option<Self> {
        let mut primes = ntt_primes_below(30, 2 << log_n).map(|v| Modulus::new(v).expect("prime"));
        let ring = RnsRing { log_n, q: primes.by_ref().take(q).collect(), p: primes.take(p).collect() };
        Some(Self::with(target, open(target, ring)?))
    }

    fn with(target: &'static Target, gpu: Arc<dyn Backend>) -> Self {
        let ring = gpu.ring().clone();
        Self { target, cpu: CpuBackend::new(ring.clone(), 1).expect("cpu"), gpu, ring, rng: Rng(0x2545_F491_4F6C_DD1D) }
    }

    fn n(&self) -> usize {
        self.ring.n()
    }

    /// Random reduced words of `basis`, with 0 and q − 1 at the ends of each limb.
    fn words(&mut self, basis: Basis) -> Vec<u32> {
        let n = self.n();
        let mut out = Vec::with_capacity(basis.limbs() * n);
        for k in 0..basis.limbs() {
            let q = self.ring.modulus(basis.global(k, &self.ring)).value();
            out.extend((0..n).map(|i| match i {
                0 => 0,
                1 => q - 1,
                _ => (self.rng.next() % u64::from(q)) as u32,
            }));
        }
        out
    }

    /// The same words uploaded to both backends.
    fn upload(&self, basis: Basis, words: &[u32]) -> (DevicePoly, DevicePoly) {
        (self.cpu.upload(basis, words).expect("cpu upload"), self.gpu.upload(basis, words).expect("gpu upload"))
    }

    fn random(&mut self, basis: Basis) -> (DevicePoly, DevicePoly) {
        let words = self.words(basis);
        self.upload(basis, &words)
    }

    fn assert_same(&self, what: &str, cpu: &DevicePoly, gpu: &DevicePoly) {
        assert_eq!(cpu.basis(), gpu.basis(), "{what}: basis");
        let (want, got) =
            (self.cpu.download(cpu).expect("cpu download"), self.gpu.download(gpu).expect("gpu download"));
        assert_eq!(want.len(), got.len(), "{what}: length");
        if let Some(i) = want.iter().zip(&got).position(|(a, b)| a != b) {
            let n = self.n();
            panic!("{what}: limb {} coefficient {}: cpu {} {} {}", i / n, i % n, want[i], self.target.name, got[i]);
        }
    }
}

fn bases(ring: &RnsRing) -> Vec<Basis> {
    let (q, p) = (ring.q.len(), ring.p.len());
    vec![Basis::q(q), Basis { q, p }, Basis::q(1), Basis { q: 2, p: 1 }]
}

/// Every primitive on random data, CPU against the target.
pub fn check_primitives(t: Option<Pair>) {
    let Some(mut t) = t else { return };
    let (q, p) = (t.ring.q.len(), t.ring.p.len());
    let n = t.n();

    // Memory: upload/download, zeros, copy, zeroize, truncate.
    for basis in bases(&t.ring) {
        let (c, g) = t.random(basis);
        t.assert_same("upload/download", &c, &g);
        let (c2, g2) = (t.cpu.copy(&[&c, &c]).unwrap(), t.gpu.copy(&[&g, &g]).unwrap());
        t.assert_same("copy", &c2[0], &g2[0]);
        t.assert_same("copy", &c2[1], &g2[1]);
        t.assert_same("zeros", &t.cpu.zeros(basis).unwrap(), &t.gpu.zeros(basis).unwrap());
        let (mut c2, mut g2) = (t.cpu.copy(&[&c]).unwrap().remove(0), t.gpu.copy(&[&g]).unwrap().remove(0));
        t.cpu.zeroize(&mut c2).unwrap();
        t.gpu.zeroize(&mut g2).unwrap();
        t.assert_same("zeroize", &c2, &g2);
        assert!(t.gpu.download(&g2).unwrap().iter().all(|&w| w == 0));
    }
    // Signed coefficients: their residues, wherever the backend reduces
    // them; small, near-prime, large and extreme values of both signs.
    let coeffs: Vec<i64> = (0..n)
        .map(|i| {
            let r = t.rng.next() as i64;
            match i % 8 {
                0 => [0, 1, -1, i64::MAX, i64::MIN, i64::MIN + 1][(i / 8) % 6],
                1 => r % 1000,
                2 => i64::from(t.ring.q[0].value()) * (r % 5),
                3 => i64::from(t.ring.q[0].value()) * (r % 5) - 1,
                _ => r >> (i % 8),
            }
        })
        .collect();
    for basis in bases(&t.ring) {
        let c = t.cpu.upload_signed(basis, &coeffs).unwrap();
        let g = t.gpu.upload_signed(basis, &coeffs).unwrap();
        t.assert_same("upload_signed", &c, &g);
    }
    for bad in [&coeffs[1..], &[][..]] {
        assert!(t.gpu.upload_signed(Basis::q(q), bad).is_err(), "{} coefficients at N = {n}", bad.len());
    }
    assert!(t.gpu.upload_signed(Basis::q(q + 1), &coeffs).is_err(), "more Q limbs than the ring");

    let (mut c, mut g) = t.random(Basis::q(q));
    t.cpu.truncate(&mut c, q - 1).unwrap();
    t.gpu.truncate(&mut g, q - 1).unwrap();
    t.assert_same("truncate", &c, &g);
    assert!(t.gpu.truncate(&mut g, q).is_err());

    // NTTs over a batch of polynomials of different bases.
    let mut cs = Vec::new();
    let mut gs = Vec::new();
    for basis in bases(&t.ring) {
        let (c, g) = t.random(basis);
        cs.push(c);
        gs.push(g);
    }
    t.cpu.ntt_forward(&mut cs.iter_mut().collect::<Vec<_>>()).unwrap();
    t.gpu.ntt_forward(&mut gs.iter_mut().collect::<Vec<_>>()).unwrap();
    for (c, g) in cs.iter().zip(&gs) {
        t.assert_same("ntt_forward", c, g);
    }
    t.cpu.ntt_inverse(&mut cs.iter_mut().collect::<Vec<_>>()).unwrap();
    t.gpu.ntt_inverse(&mut gs.iter_mut().collect::<Vec<_>>()).unwrap();
    for (c, g) in cs.iter().zip(&gs) {
        t.assert_same("ntt_inverse", c, g);
    }

    // Element-wise, negate, per-limb constants.
    let full = Basis { q, p };
    for op in [Elementwise::Add, Elementwise::Sub, Elementwise::Mul] {
        let ((mut c0, mut g0), (mut c1, mut g1)) = (t.random(full), t.random(full));
        let ((s0c, s0g), (s1c, s1g)) = (t.random(full), t.random(full));
        t.cpu.elementwise(op, &mut [&mut c0, &mut c1], &[&s0c, &s1c]).unwrap();
        t.gpu.elementwise(op, &mut [&mut g0, &mut g1], &[&s0g, &s1g]).unwrap();
        t.assert_same(&format!("{op:?}"), &c0, &g0);
        t.assert_same(&format!("{op:?}"), &c1, &g1);
        // Into new polynomials, the operands unchanged.
        let new_c = t.cpu.elementwise_new(op, &[&c0, &c1], &[&s0c, &s1c]).unwrap();
        let new_g = t.gpu.elementwise_new(op, &[&g0, &g1], &[&s0g, &s1g]).unwrap();
        for (k, (c, g)) in [(&c0, &g0), (&c1, &g1)].into_iter().enumerate() {
            t.assert_same(&format!("{op:?} into new"), &new_c[k], &new_g[k]);
            t.assert_same(&format!("{op:?} into new: left operand kept"), c, g);
        }
    }
    let (mut c, mut g) = t.random(full);
    t.cpu.negate(&mut [&mut c]).unwrap();
    t.gpu.negate(&mut [&mut g]).unwrap();
    t.assert_same("negate", &c, &g);
    for op in [ScalarOp::Add, ScalarOp::Mul] {
        // Unreduced constants: the backend reduces them per limb.
        let constants: Vec<u32> = (0..full.limbs()).map(|_| t.rng.next() as u32).collect();
        let ((mut c0, mut g0), (mut c1, mut g1)) = (t.random(full), t.random(full));
        t.cpu.scalar(op, &mut [&mut c0, &mut c1], &constants).unwrap();
        t.gpu.scalar(op, &mut [&mut g0, &mut g1], &constants).unwrap();
        t.assert_same(&format!("scalar {op:?}"), &c0, &g0);
        t.assert_same(&format!("scalar {op:?}"), &c1, &g1);
        // Into new polynomials, the sources unchanged.
        let new_c = t.cpu.scalar_new(op, &[&c0, &c1], &constants).unwrap();
        let new_g = t.gpu.scalar_new(op, &[&g0, &g1], &constants).unwrap();
        for (k, (c, g)) in [(&c0, &g0), (&c1, &g1)].into_iter().enumerate() {
            t.assert_same(&format!("scalar {op:?} into new"), &new_c[k], &new_g[k]);
            t.assert_same(&format!("scalar {op:?} into new: source kept"), c, g);
        }
        assert!(t.gpu.scalar_new(op, &[&g0], &constants[1..]).is_err(), "a constant short");
    }

    // Tensor products of a batch of pairs at two bases, and automorphisms.
    let basis = Basis::q(q);
    let [(a0c, a0g), (a1c, a1g), (b0c, b0g), (b1c, b1g)] = [(); 4].map(|()| t.random(basis));
    let [(x0c, x0g), (x1c, x1g), (y0c, y0g), (y1c, y1g)] = [(); 4].map(|()| t.random(Basis::q(1)));
    let tc = t.cpu.tensor(&[[[&a0c, &a1c], [&b0c, &b1c]], [[&x0c, &x1c], [&y0c, &y1c]]]).unwrap();
    let tg = t.gpu.tensor(&[[[&a0g, &a1g], [&b0g, &b1g]], [[&x0g, &x1g], [&y0g, &y1g]]]).unwrap();
    assert_eq!(tc.len(), 2);
    for (c, g) in tc.iter().flatten().zip(tg.iter().flatten()) {
        t.assert_same("tensor", c, g);
    }
    assert!(t.gpu.tensor(&[[[&a0g, &a1g], [&b0g, &y1g]]]).is_err());
    let elements = [1, 3, 5, 25, 2 * n as u64 - 1, 5u64.pow(7) % (2 * n as u64)];
    let batch_c: Vec<(&DevicePoly, u64)> = elements.iter().flat_map(|&g| [(&a0c, g), (&x1c, g)]).collect();
    let batch_g: Vec<(&DevicePoly, u64)> = elements.iter().flat_map(|&g| [(&a0g, g), (&x1g, g)]).collect();
    let c = t.cpu.automorphism(&batch_c).unwrap();
    let g = t.gpu.automorphism(&batch_g).unwrap();
    for ((c, g), (_, galois)) in c.iter().zip(&g).zip(&batch_c) {
        t.assert_same(&format!("automorphism {galois}"), c, g);
    }
    assert!(t.gpu.automorphism(&[(&a0g, 2)]).is_err());
    // Added to other polynomials as they are permuted (one of them twice).
    let (mut sc, mut sg) = (t.cpu.copy(&[&b0c, &b1c, &y0c]).unwrap(), t.gpu.copy(&[&b0g, &b1g, &y0g]).unwrap());
    let added_c = [(&a0c, elements[1]), (&a1c, elements[5]), (&x1c, elements[4])];
    let added_g = [(&a0g, elements[1]), (&a1g, elements[5]), (&x1g, elements[4])];
    t.cpu.automorphism_add(&mut sc.iter_mut().collect::<Vec<_>>(), &added_c).unwrap();
    t.gpu.automorphism_add(&mut sg.iter_mut().collect::<Vec<_>>(), &added_g).unwrap();
    for (c, g) in sc.iter().zip(&sg) {
        t.assert_same("automorphism_add", c, g);
    }
    assert!(t.gpu.automorphism_add(&mut [&mut sg[0]], &[(&x1g, 3)]).is_err(), "bases differ");

    // Key switching: ModUp of every digit, inner product, ModDown; at the
    // top level and one with a truncated last digit.
    // Each batch holds a top-level source and one a level lower.
    for alpha in [p.max(1), 2.min(q - 1), 1] {
        let ((c, g), (c_low, g_low)) = (t.random(Basis::q(q)), t.random(Basis::q(q - 1)));
        let up_c = t.cpu.mod_up(&[&c, &c_low], alpha, p).unwrap();
        let up_g = t.gpu.mod_up(&[&g, &g_low], alpha, p).unwrap();
        assert_eq!(up_c.len(), 2);
        for (c, g) in up_c.iter().flatten().zip(up_g.iter().flatten()) {
            t.assert_same(&format!("mod_up alpha={alpha}"), c, g);
        }
        // The tensor product fused with the ModUp of d2, on the same batch shape.
        let [(a0c, a0g), (a1c, a1g), (b0c, b0g), (b1c, b1g)] = [(); 4].map(|()| t.random(Basis::q(q)));
        let [(x0c, x0g), (x1c, x1g), (y0c, y0g), (y1c, y1g)] = [(); 4].map(|()| t.random(Basis::q(q - 1)));
        let fused_c =
            t.cpu.tensor_mod_up(&[[[&a0c, &a1c], [&b0c, &b1c]], [[&x0c, &x1c], [&y0c, &y1c]]], alpha, p).unwrap();
        let fused_g =
            t.gpu.tensor_mod_up(&[[[&a0g, &a1g], [&b0g, &b1g]], [[&x0g, &x1g], [&y0g, &y1g]]], alpha, p).unwrap();
        assert_eq!(fused_c.len(), 2);
        for ((pc, dc), (pg, dg)) in fused_c.iter().zip(&fused_g) {
            assert_eq!(dc.len(), dg.len());
            for (c, g) in pc.iter().chain(dc).zip(pg.iter().chain(dg)) {
                t.assert_same(&format!("tensor_mod_up alpha={alpha}"), c, g);
            }
        }
        assert!(t.gpu.tensor_mod_up(&[[[&a0g, &a1g], [&b0g, &y1g]]], alpha, p).is_err());
        // Keys with all Q limbs (more than the digits have).
        let keys: Vec<[(DevicePoly, DevicePoly); 2]> =
            up_c[0].iter().map(|_| [(); 2].map(|()| t.random(full))).collect();
        let key_c: Vec<[&DevicePoly; 2]> = keys.iter().map(|[b, a]| [&b.0, &a.0]).collect();
        let key_g: Vec<[&DevicePoly; 2]> = keys.iter().map(|[b, a]| [&b.1, &a.1]).collect();
        let digits_c: Vec<Vec<&DevicePoly>> = up_c.iter().map(|d| d.iter().collect()).collect();
        let digits_g: Vec<Vec<&DevicePoly>> = up_g.iter().map(|d| d.iter().collect()).collect();
        let jobs_c: Vec<KeySwitchJob> = digits_c.iter().map(|d| KeySwitchJob { digits: d, key: &key_c }).collect();
        let jobs_g: Vec<KeySwitchJob> = digits_g.iter().map(|d| KeySwitchJob { digits: d, key: &key_g }).collect();
        let mut kc = t.cpu.key_switch_inner(&jobs_c).unwrap();
        let mut kg = t.gpu.key_switch_inner(&jobs_g).unwrap();
        for (c, g) in kc.iter().flatten().zip(kg.iter().flatten()) {
            t.assert_same("key_switch_inner", c, g);
        }
        // The inner product with scaled addends added in its first pass.
        let adds: Vec<[(DevicePoly, DevicePoly); 2]> =
            kc.iter().map(|[k, _]| Basis::q(k.basis().q)).map(|b| [(); 2].map(|()| t.random(b))).collect();
        let constants: Vec<u32> = (0..q).map(|_| t.rng.next() as u32).collect();
        let adds_c: Vec<[&DevicePoly; 2]> = adds.iter().map(|[x, y]| [&x.0, &y.0]).collect();
        let adds_g: Vec<[&DevicePoly; 2]> = adds.iter().map(|[x, y]| [&x.1, &y.1]).collect();
        let sc = t.cpu.key_switch_inner_add(&jobs_c, &adds_c, &constants).unwrap();
        let sg = t.gpu.key_switch_inner_add(&jobs_g, &adds_g, &constants).unwrap();
        for (c, g) in sc.iter().flatten().zip(sg.iter().flatten()) {
            t.assert_same(&format!("key_switch_inner_add alpha={alpha}"), c, g);
        }
        assert!(t.gpu.key_switch_inner_add(&jobs_g, &adds_g[..1], &constants).is_err());
        // Three jobs of one basis sharing the key: one launch, whose threads
        // run the three items one after another (with and without addends).
        let sources: Vec<(DevicePoly, DevicePoly)> = (0..3).map(|_| t.random(Basis::q(q))).collect();
        let up3_c = t.cpu.mod_up(&sources.iter().map(|s| &s.0).collect::<Vec<_>>(), alpha, p).unwrap();
        let up3_g = t.gpu.mod_up(&sources.iter().map(|s| &s.1).collect::<Vec<_>>(), alpha, p).unwrap();
        let d3_c: Vec<Vec<&DevicePoly>> = up3_c.iter().map(|d| d.iter().collect()).collect();
        let d3_g: Vec<Vec<&DevicePoly>> = up3_g.iter().map(|d| d.iter().collect()).collect();
        let jobs3_c: Vec<KeySwitchJob> = d3_c.iter().map(|d| KeySwitchJob { digits: d, key: &key_c }).collect();
        let jobs3_g: Vec<KeySwitchJob> = d3_g.iter().map(|d| KeySwitchJob { digits: d, key: &key_g }).collect();
        let adds3: Vec<[(DevicePoly, DevicePoly); 2]> =
            (0..3).map(|_| [(); 2].map(|()| t.random(Basis::q(q)))).collect();
        let adds3_c: Vec<[&DevicePoly; 2]> = adds3.iter().map(|[x, y]| [&x.0, &y.0]).collect();
        let adds3_g: Vec<[&DevicePoly; 2]> = adds3.iter().map(|[x, y]| [&x.1, &y.1]).collect();
        let (ic, ig) = (t.cpu.key_switch_inner(&jobs3_c).unwrap(), t.gpu.key_switch_inner(&jobs3_g).unwrap());
        let sc = t.cpu.key_switch_inner_add(&jobs3_c, &adds3_c, &constants).unwrap();
        let sg = t.gpu.key_switch_inner_add(&jobs3_g, &adds3_g, &constants).unwrap();
        for (c, g) in ic.iter().chain(&sc).flatten().zip(ig.iter().chain(&sg).flatten()) {
            t.assert_same(&format!("key_switch_inner, shared key, alpha={alpha}"), c, g);
        }
        assert!(t.gpu.key_switch_inner_add(&jobs_g, &[adds_g[1], adds_g[0]], &constants).is_err());
        // ModDown fused with a rescale by one or two primes, after adding
        // multiples of Q-only polynomials (the relinearized pair's c0, c1).
        for drop in [1, 2] {
            let (mut fc, mut fg) = (copy_pairs(&t.cpu, &kc), copy_pairs(&*t.gpu, &kg));
            let addends: Vec<(DevicePoly, DevicePoly)> = fc
                .iter()
                .flatten()
                .map(|k| Basis::q(k.basis().q))
                .collect::<Vec<_>>()
                .into_iter()
                .map(|b| t.random(b))
                .collect();
            // Unreduced constants: the backend reduces them per prime.
            let constants: Vec<u32> = (0..q).map(|_| t.rng.next() as u32).collect();
            let (ac, ag): (Vec<&DevicePoly>, Vec<&DevicePoly>) = addends.iter().map(|(c, g)| (c, g)).unzip();
            t.cpu.add_scaled(&mut fc.iter_mut().flatten().collect::<Vec<_>>(), &ac, &constants).unwrap();
            t.gpu.add_scaled(&mut fg.iter_mut().flatten().collect::<Vec<_>>(), &ag, &constants).unwrap();
            for (c, g) in fc.iter().flatten().zip(fg.iter().flatten()) {
                t.assert_same("add_scaled", c, g);
            }
            // The batch's lower source has q − 1 Q limbs: too few to drop 2 from at q = 3.
            if q - 1 <= drop {
                assert!(t.gpu.mod_down(&mut fg.iter_mut().flatten().collect::<Vec<_>>(), drop).is_err());
                continue;
            }
            t.cpu.mod_down(&mut fc.iter_mut().flatten().collect::<Vec<_>>(), drop).unwrap();
            t.gpu.mod_down(&mut fg.iter_mut().flatten().collect::<Vec<_>>(), drop).unwrap();
            for (c, g) in fc.iter().flatten().zip(fg.iter().flatten()) {
                t.assert_same(&format!("mod_down dropping {drop}"), c, g);
            }
        }
        t.cpu.mod_down(&mut kc.iter_mut().flatten().collect::<Vec<_>>(), 0).unwrap();
        t.gpu.mod_down(&mut kg.iter_mut().flatten().collect::<Vec<_>>(), 0).unwrap();
        for (c, g) in kc.iter().flatten().zip(kg.iter().flatten()) {
            t.assert_same("mod_down", c, g);
        }
    }

    // Rescale by one and by two primes, on a batch.
    for drop in [1, 2] {
        let ((mut c0, mut g0), (mut c1, mut g1)) = (t.random(basis), t.random(basis));
        t.cpu.rescale(&mut [&mut c0, &mut c1], drop).unwrap();
        t.gpu.rescale(&mut [&mut g0, &mut g1], drop).unwrap();
        t.assert_same(&format!("rescale {drop}"), &c0, &g0);
        t.assert_same(&format!("rescale {drop}"), &c1, &g1);
    }
}

/// Copies of switched pairs on `backend`.
fn copy_pairs(backend: &dyn Backend, pairs: &[[DevicePoly; 2]]) -> Vec<[DevicePoly; 2]> {
    pairs.iter().map(|[a, b]| <[DevicePoly; 2]>::try_from(backend.copy(&[a, b]).expect("copy")).expect("two")).collect()
}

/// ModDown where the exact Σ y_i/p_i sits at or near a half-integer: the
/// overflow count then depends on the last bits of the CPU's f64 sum, which
/// the shader must reproduce exactly.
pub fn check_mod_down_near_half(target: &'static Target) {
    for name in PRESETS {
        let Some(mut t) = Pair::new(target, name) else { return };
        let (q, p) = (t.ring.q.len(), t.ring.p.len());
        let basis = Basis { q, p };
        let n = t.n();
        let log_p: u64 = t.ring.p.iter().map(|m| u64::from(32 - m.value().leading_zeros())).sum();
        let mut words = t.words(basis);
        for k in 0..p {
            let m = t.ring.p[k];
            // (P − 1)/2 mod p_k, then ± 2^e for e below log P.
            let p_mod = t.ring.p.iter().fold(1, |acc, pj| m.mul(acc, pj.value() % m.value()));
            let half = m.mul(m.sub(p_mod, 1), m.inv(2));
            for i in 0..n {
                let e = (i as u64 / 4) % (log_p + 4);
                let offset = if i % 4 < 2 { 0 } else { m.pow(2, e) };
                let value = if i % 2 == 0 { m.add(half, offset) } else { m.sub(half, offset) };
                words[(q + k) * n + i] = m.add(value, u32::from(i % 4 == 1));
            }
        }
        let (mut c, mut g) = t.upload(basis, &words);
        t.cpu.ntt_forward(&mut [&mut c]).unwrap();
        t.gpu.ntt_forward(&mut [&mut g]).unwrap();
        t.cpu.mod_down(&mut [&mut c], 0).unwrap();
        t.gpu.mod_down(&mut [&mut g], 0).unwrap();
        t.assert_same(&format!("{name}: mod_down near half"), &c, &g);
    }
}

/// In blocking mode the scheduler records each kind's device time (GPU
/// timestamps or events, the emulated device's host clock) within its wall
/// time, and none outside it; a backend's device time ends with its last
/// launch. Skips where the backend has no device timing.
pub fn check_device_time(target: &'static Target) {
    use hetl::sched::{OpKind, Scheduler};

    let ring = preset("toy-n4096").expect("preset").ring().clone();
    // A backend of its own: timing covers every launch on it.
    let Some(backend) = open(target, ring.clone()) else { return };
    backend.set_device_timing(true);
    let timed = backend.take_device_time().expect("device time").is_some();
    backend.set_device_timing(false);
    if !timed {
        eprintln!("skipped: the {} backend has no device timing here", target.name);
        return;
    }
    let sched = Scheduler::new(Arc::clone(&backend));
    let words = vec![1u32; ring.q.len() * ring.n()];
    let mut polys: Vec<_> = (0..8).map(|_| backend.upload(Basis::q(ring.q.len()), &words).expect("upload")).collect();
    let mut ntt = |sched: &Scheduler| {
        let mut refs: Vec<_> = polys.iter_mut().collect();
        sched.submit(OpKind::Ntt, |b| b.ntt_forward(&mut refs)).expect("ntt");
        sched.synchronize().expect("synchronize");
    };
    ntt(&sched);
    assert!(sched.profile().by_kind()[&OpKind::Ntt].device.is_zero(), "device time outside blocking mode");
    sched.set_blocking(true);
    ntt(&sched);
    let stats = sched.profile().by_kind()[&OpKind::Ntt];
    assert!(!stats.device.is_zero(), "no device time in blocking mode");
    assert!(stats.device <= stats.total, "device time {:?} above wall time {:?}", stats.device, stats.total);

    // The time stops with the last launch, not when it is read.
    // (Compared with the work's own wall time, not with the pause: a
    // loaded machine may take longer than the pause for the work.)
    backend.set_device_timing(true);
    let start = std::time::Instant::now();
    backend.ntt_forward(&mut [&mut polys[0]]).expect("ntt");
    backend.synchronize().expect("synchronize");
    let work = start.elapsed();
    let pause = std::time::Duration::from_millis(300);
    std::thread::sleep(pause);
    let device = backend.take_device_time().expect("device time").expect("timing is on");
    backend.set_device_timing(false);
    assert!(device <= work, "device time {device:?} is above the work's {work:?}: it counts the {pause:?} after it");
}

/// Polynomials of another backend are refused, both ways.
pub fn check_foreign_refused(target: &'static Target) {
    let Some(t) = Pair::new(target, "toy-n1024") else { return };
    let basis = Basis::q(2);
    let words = vec![1u32; 2 * t.n()];
    let (c, g) = t.upload(basis, &words);
    assert!(matches!(t.gpu.download(&c), Err(BackendError::ForeignMemory { backend, .. }) if backend == target.name));
    assert!(matches!(t.cpu.download(&g), Err(BackendError::ForeignMemory { backend: "cpu", .. })));
    let mut g2 = t.gpu.copy(&[&g]).unwrap().remove(0);
    assert!(matches!(
        t.gpu.elementwise(Elementwise::Add, &mut [&mut g2], &[&c]),
        Err(BackendError::ForeignMemory { .. })
    ));
}

fn random_values(rng: &mut Rng, slots: usize) -> Vec<Complex64> {
    let mut u = || (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
    (0..slots).map(|_| Complex64::new(u(), u())).collect()
}

/// Whole CKKS operations through `Context` on both backends, same seeds:
/// every key, ciphertext and decrypted value must be identical.
pub fn check_ckks(target: &'static Target, name: &str, steps: &[i64]) {
    let Some(backend) = gpu(target, name) else { return };
    let params = Arc::new(preset(name).unwrap());
    let cpu = Context::cpu(Arc::clone(&params), 1).unwrap();
    let gpu = Context::new(Arc::clone(&params), backend).unwrap();
    let seed = [7u8; 32];
    let (mut rng_c, mut rng_g) = (Csprng::from_seed(seed), Csprng::from_seed(seed));
    let kc = cpu.gen_keys(steps, true, &mut rng_c).unwrap();
    let kg = gpu.gen_keys(steps, true, &mut rng_g).unwrap();
    assert_eq!(cpu.public_key_to_bytes(&kc.public).unwrap(), gpu.public_key_to_bytes(&kg.public).unwrap());
    assert_eq!(cpu.evaluation_keys_to_bytes(&kc.eval).unwrap(), gpu.evaluation_keys_to_bytes(&kg.eval).unwrap());

    let mut rng = Rng(99);
    let level = params.max_level();
    let slots = params.max_slots();
    let (x, y) = (random_values(&mut rng, slots), random_values(&mut rng, slots));
    let same = |what: &str, c: &hetl::ckks::Ciphertext, g: &hetl::ckks::Ciphertext| {
        assert!(cpu.ciphertext_to_bytes(c).unwrap() == gpu.ciphertext_to_bytes(g).unwrap(), "{name}: {what}");
        let dc = cpu.decode(&cpu.decrypt(c, &kc.secret).unwrap()).unwrap();
        let dg = gpu.decode(&gpu.decrypt(g, &kg.secret).unwrap()).unwrap();
        let bits = |v: &[Complex64]| v.iter().flat_map(|z| [z.re.to_bits(), z.im.to_bits()]).collect::<Vec<_>>();
        assert!(bits(&dc) == bits(&dg), "{name}: decrypt({what})");
    };
    let scale = params.scale(level);
    let encrypt = |ctx: &Context, pk, rng: &mut Csprng, v: &[Complex64]| {
        ctx.encrypt(&ctx.encode(v, level, scale).unwrap(), pk, rng).unwrap()
    };
    let (cx, gx) = (encrypt(&cpu, &kc.public, &mut rng_c, &x), encrypt(&gpu, &kg.public, &mut rng_g, &x));
    same("encrypt", &cx, &gx);
    let pt_c = cpu.encode(&y, level, scale).unwrap();
    let pt_g = gpu.encode(&y, level, scale).unwrap();
    let (cy, gy) = (
        cpu.encrypt_symmetric(&pt_c, &kc.secret, &mut rng_c).unwrap(),
        gpu.encrypt_symmetric(&pt_g, &kg.secret, &mut rng_g).unwrap(),
    );
    same("encrypt_symmetric", &cy, &gy);

    let mul =
        |ctx: &Context, a, b, k: &hetl::ckks::KeyBundle| ctx.rescale(&ctx.mul_relin(a, b, &k.eval).unwrap()).unwrap();
    same("mul_relin + rescale", &mul(&cpu, &cx, &cy, &kc), &mul(&gpu, &gx, &gy, &kg));
    let fused = |ctx: &Context, a, b, k: &hetl::ckks::KeyBundle| ctx.mul_relin_rescale(a, b, &k.eval).unwrap();
    same("mul_relin_rescale", &fused(&cpu, &cx, &cy, &kc), &fused(&gpu, &gx, &gy, &kg));
    // One level lower: fewer Q limbs than the digits cover.
    let (cx1, gx1) = (cpu.drop_to_level(&cx, 1).unwrap(), gpu.drop_to_level(&gx, 1).unwrap());
    let (cy1, gy1) = (cpu.drop_to_level(&cy, 1).unwrap(), gpu.drop_to_level(&gy, 1).unwrap());
    let (pt_c1, pt_g1) = (cpu.encode(&x, 1, 1024.0).unwrap(), gpu.encode(&x, 1, 1024.0).unwrap());
    same("mul_relin + rescale at level 1", &mul(&cpu, &cx1, &cy1, &kc), &mul(&gpu, &gx1, &gy1, &kg));

    same("rotate", &cpu.rotate(&cx, steps[0], &kc.eval).unwrap(), &gpu.rotate(&gx, steps[0], &kg.eval).unwrap());
    let hc = cpu.rotate_hoisted(&cx, steps, &kc.eval).unwrap();
    let hg = gpu.rotate_hoisted(&gx, steps, &kg.eval).unwrap();
    for (step, (c, g)) in steps.iter().zip(hc.iter().zip(&hg)) {
        same(&format!("hoisted rotation {step}"), c, g);
    }
    same("conjugate", &cpu.conjugate(&cx, &kc.eval).unwrap(), &gpu.conjugate(&gx, &kg.eval).unwrap());
    // Batched operations over ciphertexts of two levels, one submission each.
    let mc = cpu.mul_relin_many(&[(&cx, &cy), (&cx1, &cy1)], &kc.eval).unwrap();
    let mg = gpu.mul_relin_many(&[(&gx, &gy), (&gx1, &gy1)], &kg.eval).unwrap();
    let rc = cpu.rescale_many(&mc.iter().collect::<Vec<_>>()).unwrap();
    let rg = gpu.rescale_many(&mg.iter().collect::<Vec<_>>()).unwrap();
    // Sums of plaintext products (the inner-product primitive over Q only).
    let (ptc, ptg) = (cpu.encode(&y, level, 1024.0).unwrap(), gpu.encode(&y, level, 1024.0).unwrap());
    let sc = cpu.mul_plain_sum_many(&[&[(&cx, &ptc), (&cy, &ptc)], &[(&cx1, &pt_c1), (&cy1, &pt_c1)]]).unwrap();
    let sg = gpu.mul_plain_sum_many(&[&[(&gx, &ptg), (&gy, &ptg)], &[(&gx1, &pt_g1), (&gy1, &pt_g1)]]).unwrap();
    // Sums of ciphertext products (the inner-product primitive, twice a group).
    let pc = cpu.mul_sum_many(&[&[(&cx, &cy), (&cy, &cy)], &[(&cx1, &cy1), (&cy1, &cx1)]]).unwrap();
    let pg = gpu.mul_sum_many(&[&[(&gx, &gy), (&gy, &gy)], &[(&gx1, &gy1), (&gy1, &gx1)]]).unwrap();
    let fc = cpu.mul_relin_rescale_many(&[(&cx, &cy), (&cx1, &cy1)], &kc.eval).unwrap();
    let fg = gpu.mul_relin_rescale_many(&[(&gx, &gy), (&gx1, &gy1)], &kg.eval).unwrap();
    let oc = cpu.rotate_many(&[&cx, &cy1], steps[0], &kc.eval).unwrap();
    let og = gpu.rotate_many(&[&gx, &gy1], steps[0], &kg.eval).unwrap();
    // Sums of rotations (one inner product over every rotated term, one ModDown).
    let s = |a, b, a1, b1| [vec![(a, steps[0]), (b, 0), (a, *steps.last().unwrap())], vec![(a1, 0), (b1, 0)]];
    let [uc0, uc1] = s(&cx, &cy, &cx1, &cy1);
    let [ug0, ug1] = s(&gx, &gy, &gx1, &gy1);
    let uc = cpu.sum_rotations(&[&uc0, &uc1], &kc.eval).unwrap();
    let ug = gpu.sum_rotations(&[&ug0, &ug1], &kg.eval).unwrap();
    let batched = [
        ("mul_relin_many", &mc, &mg),
        ("rescale_many", &rc, &rg),
        ("mul_relin_rescale_many", &fc, &fg),
        ("mul_plain_sum_many", &sc, &sg),
        ("mul_sum_many", &pc, &pg),
        ("rotate_many", &oc, &og),
        ("sum_rotations", &uc, &ug),
    ];
    for (what, c, g) in batched {
        for (c, g) in c.iter().zip(g) {
            same(what, c, g);
        }
    }
    assert!(kg.eval.galois_elements().contains(&galois_conjugate(params.n())));
}

/// The whole suite as `#[test]` functions for the target `$target` (a
/// `static Target`).
#[macro_export]
macro_rules! backend_diff_tests {
    ($target:expr) => {
        #[test]
        fn primitives_toy_n1024() {
            backend_diff::check_primitives(backend_diff::Pair::new(&$target, "toy-n1024"));
        }

        #[test]
        fn primitives_toy_n4096() {
            backend_diff::check_primitives(backend_diff::Pair::new(&$target, "toy-n4096"));
        }

        #[test]
        fn primitives_n14() {
            backend_diff::check_primitives(backend_diff::Pair::new(&$target, "n14"));
        }

        /// N = 16 (fewer coefficients than a block) and N = 2^16 (the NTT's
        /// strided phase at its widest).
        #[test]
        fn primitives_smallest_and_largest_n() {
            backend_diff::check_primitives(backend_diff::Pair::custom(&$target, 4, 3, 2));
            backend_diff::check_primitives(backend_diff::Pair::custom(&$target, 16, 3, 2));
        }

        /// More limbs than one dispatch's parameter block holds constants for.
        #[test]
        fn primitives_many_limbs() {
            backend_diff::check_primitives(backend_diff::Pair::custom(&$target, 10, 64, 3));
        }

        /// Basis conversions from 48 sources: more than the CUDA kernels'
        /// lazy sums hold (LAZY_TERMS, kernels/modarith.cuh), with q − 1 in
        /// every source at coefficient 1, so a sum left unreduced overflows.
        #[test]
        fn primitives_many_sources() {
            backend_diff::check_primitives(backend_diff::Pair::custom(&$target, 10, 50, 48));
        }

        #[test]
        fn mod_down_matches_f64_rounding_near_half() {
            backend_diff::check_mod_down_near_half(&$target);
        }

        #[test]
        fn blocking_profiles_carry_device_time() {
            backend_diff::check_device_time(&$target);
        }

        #[test]
        fn foreign_polynomials_are_refused() {
            backend_diff::check_foreign_refused(&$target);
        }

        #[test]
        fn ckks_toy_n1024() {
            backend_diff::check_ckks(&$target, "toy-n1024", &[1, -1, 5, 100]);
        }

        #[test]
        fn ckks_toy_n4096() {
            backend_diff::check_ckks(&$target, "toy-n4096", &[1, -3, 7]);
        }

        #[test]
        fn ckks_n14() {
            backend_diff::check_ckks(&$target, "n14", &[1, -1, 8]);
        }
    };
}
