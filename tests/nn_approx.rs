//! Polynomial approximations on ciphertexts: for each function, the
//! encrypted max error over random inputs from its domain is at most twice
//! the plaintext polynomial error plus a stated CKKS noise floor, and the
//! output sits exactly `depth()` levels below the input.

mod common;

use common::Setup;
use hetl::ckks::{Params, ParamsLiteral, preset};
use hetl::nn::NnError;
use hetl::nn::approx::{Approximation, CkksArith, Domain, PlainArith, SignStage, Softmax};
use num_complex::Complex64;

/// The stated CKKS noise floor of an evaluation, in units of N/Δ: the
/// largest slot error one rescale's rounding adds (≈ 0.7·N/Δ for a ternary
/// secret, N/Δ ≈ 2^-16 at n14). The change of variable onto [-1, 1] adds one
/// such error to u, which the polynomial amplifies by the Lipschitz constant
/// L = max|f'|·(hi − lo)/2 of f in u; the other rescales add a few more.
/// 4·(1 + L) covers both with a margin of 3× or more over what is measured.
fn noise_floor(params: &Params, f: impl Fn(f64) -> f64, domain: Domain) -> f64 {
    let h = (domain.hi() - domain.lo()) / 4096.0;
    let slope = domain.grid(4096).map(|x| ((f(x + h) - f(x - h)) / (2.0 * h)).abs()).fold(0.0, f64::max);
    let lipschitz = slope * (domain.hi() - domain.lo()) / 2.0;
    4.0 * (1.0 + lipschitz) * params.n() as f64 / params.scale(params.max_level())
}

/// Uniform random values in `domain`, both ends included.
fn inputs(s: &mut Setup, domain: Domain, slots: usize) -> Vec<f64> {
    let mut xs: Vec<f64> = (0..slots - 2)
        .map(|_| domain.lo() + (domain.hi() - domain.lo()) * f64::from(s.rng.next_u32()) / f64::from(u32::MAX))
        .collect();
    xs.extend([domain.lo(), domain.hi()]);
    xs
}

/// Encrypts random inputs at the top level, evaluates `f` on the ciphertext
/// and on the mirror, and checks levels and errors. Returns the encrypted max error.
fn check(s: &mut Setup, f: &Approximation) -> f64 {
    let slots = s.ctx.params().max_slots();
    let xs = inputs(s, f.domain(), slots);
    f.check_input(&xs).expect("inputs are in the domain");
    let top = s.ctx.params().max_level();
    let ct = s.encrypt(&xs.iter().map(|&x| Complex64::new(x, 0.0)).collect::<Vec<_>>(), top);
    let out = f.evaluate(&CkksArith::new(&s.ctx, &s.evk), &ct).unwrap();
    assert_eq!(out.level(), top - f.depth(), "{}: output level", f.name());
    let nominal = s.ctx.params().scale(out.level());
    assert!((out.scale() / nominal - 1.0).abs() < 1e-12, "{}: scale {} vs nominal {nominal}", f.name(), out.scale());
    let mirror = PlainArith::new(s.ctx.params().clone());
    let twin = f.evaluate(&mirror, &mirror.encode(&xs, top).unwrap()).unwrap();
    assert_eq!(mirror.multiplications(), f.multiplications(), "{}", f.name());
    let got = s.decrypt(&out);
    let floor = noise_floor(s.ctx.params(), |x| f.reference(x), f.domain());
    let (mut enc, mut noise) = (0.0f64, 0.0f64);
    for ((&x, g), t) in xs.iter().zip(&got).zip(twin.values()) {
        enc = enc.max((g.re - f.reference(x)).abs());
        noise = noise.max((g.re - t).abs());
    }
    let plain = f.plain_error();
    eprintln!(
        "{:<9} {:<10} degree {:<14} depth {:>2} mults {:>2}: encrypted {enc:.2e}, plaintext {plain:.2e}, noise {noise:.2e} (floor {floor:.1e})",
        f.name(),
        f.domain().to_string(),
        f.degree_label(),
        f.depth(),
        f.multiplications()
    );
    assert!(noise <= floor, "{}: encrypted vs mirror {noise:e} above the floor {floor:e}", f.name());
    assert!(enc <= 2.0 * plain + floor, "{}: encrypted {enc:e} vs plaintext {plain:e}", f.name());
    enc
}

fn domain(lo: f64, hi: f64) -> Domain {
    Domain::new(lo, hi).unwrap()
}

#[test]
fn every_function_at_toy_n1024_depth_4() {
    let mut s = Setup::preset("toy-n1024", &[]);
    for f in [
        Approximation::sigmoid(domain(-8.0, 8.0), 7),
        Approximation::tanh(domain(-4.0, 4.0), 7),
        Approximation::gelu(domain(-4.0, 4.0), 7),
        Approximation::exp(domain(-4.0, 0.0), 7),
        Approximation::inverse(domain(1.0, 4.0), 3, 0),
        Approximation::inv_sqrt(domain(1.0, 4.0), 3, 0),
        Approximation::relu(1.0, &[SignStage::G(1)]),
    ] {
        check(&mut s, &f.unwrap());
    }
}

#[test]
fn every_default_at_toy_n4096_depth_8() {
    let mut s = Setup::preset("toy-n4096", &[]);
    for name in ["sigmoid", "tanh", "gelu", "exp", "inverse", "inv_sqrt"] {
        check(&mut s, &Approximation::by_name(name).unwrap());
    }
    check(&mut s, &Approximation::relu(1.0, &[SignStage::G(2), SignStage::F(2)]).unwrap());
    check(&mut s, &Approximation::inverse(domain(1.0, 16.0), 7, 2).unwrap());
}

#[test]
fn defaults_at_n14() {
    let mut s = Setup::preset("n14", &[]);
    for name in ["sigmoid", "gelu", "inverse"] {
        check(&mut s, &Approximation::by_name(name).unwrap());
    }
}

#[test]
fn softmax_and_max_at_a_deep_toy_preset() {
    let literal =
        ParamsLiteral { name: "toy-deep".into(), depth: 16, ..preset("toy-n1024").unwrap().literal().clone() };
    let softmax = Softmax::with_defaults(16).unwrap();
    let mut s = Setup::new(Params::try_from_literal(literal).unwrap(), &softmax.rotation_steps());
    let top = s.ctx.params().max_level();
    let xs = inputs(&mut s, softmax.domain(), 16);
    let ct = s.encrypt(&xs.iter().map(|&x| Complex64::new(x, 0.0)).collect::<Vec<_>>(), top);
    let out = softmax.evaluate(&CkksArith::new(&s.ctx, &s.evk), &ct).unwrap();
    assert_eq!(out.level(), top - softmax.depth());
    let got = s.decrypt(&out);
    let (want, plain) = (Softmax::reference(&xs), softmax.eval_f64(&xs));
    let plain_error = plain.iter().zip(&want).map(|(p, w)| (p - w).abs()).fold(0.0, f64::max);
    let enc_error = got.iter().zip(&want).map(|(g, w)| (g.re - w).abs()).fold(0.0, f64::max);
    eprintln!("softmax: encrypted {enc_error:.2e}, plaintext {plain_error:.2e}");
    // Softmax is 1-Lipschitz per input; its floor is that of a function on [-B, B] with slope 1.
    let floor = noise_floor(s.ctx.params(), |x| x, softmax.domain());
    assert!(enc_error <= 2.0 * plain_error + floor, "softmax {enc_error:e} vs {plain_error:e}");
    assert!((got.iter().map(|g| g.re).sum::<f64>() - 1.0).abs() < 16.0 * floor);

    // |x − y| ≤ 3 for x in [-2, 2], y in [-1, 1].
    let relu = hetl::nn::approx::Relu::new(3.0, &[SignStage::G(2), SignStage::F(2)]).unwrap();
    let ys = inputs(&mut s, domain(-1.0, 1.0), 16);
    let cy = s.encrypt(&ys.iter().map(|&y| Complex64::new(y, 0.0)).collect::<Vec<_>>(), top);
    let m = relu.max(&CkksArith::new(&s.ctx, &s.evk), &ct, &cy).unwrap();
    assert_eq!(m.level(), top - relu.depth());
    let relu_error = relu.domain().grid(4097).map(|d| (relu.eval_f64(d) - d.max(0.0)).abs()).fold(0.0, f64::max);
    let floor = noise_floor(s.ctx.params(), |x| x.max(0.0), relu.domain());
    for ((x, y), g) in xs.iter().zip(&ys).zip(s.decrypt(&m)) {
        assert!((g.re - x.max(*y)).abs() <= 2.0 * relu_error + floor, "max({x}, {y}) = {}", g.re);
    }
}

#[test]
fn out_of_domain_inputs_are_caught_in_plaintext_and_diverge_when_encrypted() {
    let f = Approximation::by_name("sigmoid").unwrap();
    match f.check_input(&[0.0, 8.5, -20.0]) {
        Err(NnError::OutOfDomain { index: 1, count: 2, .. }) => {}
        other => panic!("expected an out-of-domain error, got {other:?}"),
    }
    // What evaluating anyway does (nothing can check a ciphertext): the
    // polynomial leaves the function quickly outside [-8, 8].
    let mirror = PlainArith::new(std::sync::Arc::new(preset("toy-n4096").unwrap()));
    let y = f.evaluate(&mirror, &mirror.encode(&[4.0, 12.0], 8).unwrap()).unwrap();
    assert!((y.values()[0] - f.reference(4.0)).abs() < 1e-5);
    assert!((y.values()[1] - f.reference(12.0)).abs() > 1.0, "degree-31 growth at 1.5× the domain");
}

#[test]
fn a_sum_of_plaintext_products_equals_the_products_added_up() {
    use hetl::nn::approx::Arith;
    let mut s = Setup::preset("toy-n1024", &[]);
    let (top, slots) = (s.ctx.params().max_level(), s.ctx.params().max_slots());
    let values: Vec<Vec<f64>> =
        (0..3).map(|i| (0..slots).map(|j| ((i * slots + j) % 7) as f64 - 3.0).collect()).collect();
    let cts: Vec<_> = values.iter().map(|v| s.encrypt_real(v, top)).collect();
    let masks: Vec<Vec<f64>> = (0..3).map(|i| (0..slots).map(|j| f64::from(u8::from(j % 3 == i))).collect()).collect();
    let terms: Vec<_> = cts.iter().zip(&masks).map(|(ct, m)| (ct, m.as_slice())).collect();
    let a = CkksArith::new(&s.ctx, &s.evk);
    let scale = s.ctx.params().level_modulus(top);
    let fused = a.mul_plain_sums(&[&terms, &terms[1..]], scale).unwrap();
    let mut added = a.mul_plain_scaled(terms[0].0, terms[0].1, scale).unwrap();
    for (ct, m) in &terms[1..] {
        a.add_assign(&mut added, &a.mul_plain_scaled(ct, m, scale).unwrap()).unwrap();
    }
    let bytes = |c| s.ctx.ciphertext_to_bytes(c).unwrap();
    assert_eq!(bytes(&fused[0]), bytes(&added), "the fused sum must give the same words");
    let mut tail = a.mul_plain_scaled(terms[1].0, terms[1].1, scale).unwrap();
    a.add_assign(&mut tail, &a.mul_plain_scaled(terms[2].0, terms[2].1, scale).unwrap()).unwrap();
    assert_eq!(bytes(&fused[1]), bytes(&tail), "each group is its own sum");
    let got = s.decrypt(&a.rescale(&fused[0]).unwrap());
    let want: Vec<f64> = (0..slots).map(|j| values[j % 3][j]).collect();
    let err = got.iter().zip(&want).map(|(g, w)| (g.re - w).abs()).fold(0.0, f64::max);
    assert!(err < 1e-3, "max error {err}");
    assert!(a.mul_plain_sums(&[], scale).is_err());
    assert!(a.mul_plain_sums(&[&terms, &[]], scale).is_err(), "an empty group has no sum");
    assert!(a.mul_plain_sums(&[&[(&cts[0], &masks[0][..2])]], scale).is_err());
}
