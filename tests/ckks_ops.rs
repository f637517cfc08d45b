//! decrypt(op(encrypt(x))) ≈ op(x) for every homomorphic operation, at every
//! level of a toy preset and at n14, with stated error bounds.

mod common;

use common::{Setup, max_error, rotated};
use hetl::ckks::Ciphertext;
use num_complex::Complex64;

const STEPS: [i64; 7] = [1, 2, 5, -1, -7, 100, 511];

fn check_all_ops_at_every_level(s: &mut Setup, slots: usize, levels: impl Iterator<Item = usize>) {
    let b = s.bounds();
    for level in levels {
        let x = s.random_values(slots);
        let y = s.random_values(slots);
        let (cx, cy) = (s.encrypt(&x, level), s.encrypt(&y, level));
        let ctx = &s.ctx;
        let zip =
            |f: fn(Complex64, Complex64) -> Complex64| x.iter().zip(&y).map(|(&u, &v)| f(u, v)).collect::<Vec<_>>();
        let fail = |op: &str, e: f64| format!("{op} at level {level}: error {e:e}");

        let e = max_error(&s.decrypt(&cx), &x);
        assert!(e < b.linear, "{}", fail("encrypt", e));
        let e = max_error(&s.decrypt(&ctx.add(&cx, &cy).unwrap()), &zip(|a, b| a + b));
        assert!(e < b.linear, "{}", fail("add", e));
        let e = max_error(&s.decrypt(&ctx.sub(&cx, &cy).unwrap()), &zip(|a, b| a - b));
        assert!(e < b.linear, "{}", fail("sub", e));
        let e = max_error(&s.decrypt(&ctx.negate(&cx).unwrap()), &x.iter().map(|a| -a).collect::<Vec<_>>());
        assert!(e < b.linear, "{}", fail("negate", e));
        // Exactly: cx + (−cx) is the zero ciphertext, which decrypts to 0.
        let zeros = vec![Complex64::new(0.0, 0.0); x.len()];
        let e = max_error(&s.decrypt(&ctx.add(&cx, &ctx.negate(&cx).unwrap()).unwrap()), &zeros);
        assert!(e == 0.0, "{}", fail("cx + negate(cx)", e));
        let py = ctx.encode(&y, level, cx.scale()).unwrap();
        let e = max_error(&s.decrypt(&ctx.add_plain(&cx, &py).unwrap()), &zip(|a, b| a + b));
        assert!(e < b.linear, "{}", fail("add_plain", e));
        let e = max_error(&s.decrypt(&ctx.sub_plain(&cx, &py).unwrap()), &zip(|a, b| a - b));
        assert!(e < b.linear, "{}", fail("sub_plain", e));
        let e =
            max_error(&s.decrypt(&ctx.add_const(&cx, -0.75).unwrap()), &x.iter().map(|a| a - 0.75).collect::<Vec<_>>());
        assert!(e < b.linear, "{}", fail("add_const", e));

        for &step in &STEPS {
            let r = ctx.rotate(&cx, step, &s.evk).unwrap();
            let e = max_error(&s.decrypt(&r), &rotated(&x, step));
            assert!(e < b.keyswitch, "{}", fail(&format!("rotate {step}"), e));
        }
        // Sums of rotations: a repeated step, step 0, a lone term, no rotation.
        let groups: [&[(&Ciphertext, i64)]; 3] =
            [&[(&cx, 1), (&cy, -7), (&cx, 0), (&cx, 1)], &[(&cy, 5)], &[(&cx, 0), (&cy, 0)]];
        let sums = ctx.sum_rotations(&groups, &s.evk).unwrap();
        for (group, sum) in groups.iter().zip(&sums) {
            let mut want = vec![Complex64::new(0.0, 0.0); slots];
            for &(ct, step) in group.iter() {
                let values = if std::ptr::eq(ct, &cx) { &x } else { &y };
                want.iter_mut().zip(rotated(values, step)).for_each(|(w, v)| *w += v);
            }
            let e = max_error(&s.decrypt(sum), &want);
            assert!(e < group.len() as f64 * b.keyswitch, "{}", fail("sum_rotations", e));
        }
        assert!(ctx.sum_rotations(&[&[]], &s.evk).is_err(), "empty group");
        assert!(ctx.sum_rotations(&[&[(&cx, 1000)]], &s.evk).is_err(), "missing key");
        let doubled = ctx.mul_const_scaled(&cx, 1.0, 2.0);
        if let Ok(doubled) = &doubled {
            assert!(ctx.sum_rotations(&[&[(&cx, 1), (doubled, 2)]], &s.evk).is_err(), "scales differ");
        }
        let e = max_error(
            &s.decrypt(&ctx.conjugate(&cx, &s.evk).unwrap()),
            &x.iter().map(|a| a.conj()).collect::<Vec<_>>(),
        );
        assert!(e < b.keyswitch, "{}", fail("conjugate", e));

        if level == 0 {
            assert!(ctx.rescale(&cx).is_err());
            assert!(ctx.rescale_owned(vec![ctx.copy_ciphertext(&cx).unwrap()]).is_err());
            assert!(ctx.mul_const(&cx, 2.0).is_err());
            assert!(ctx.mul_relin_rescale(&cx, &cy, &s.evk).is_err());
            continue;
        }
        let prod = ctx.mul_relin(&cx, &cy, &s.evk).unwrap();
        assert_eq!(prod.level(), level);
        let prod = ctx.rescale(&prod).unwrap();
        assert_eq!(prod.level(), level - 1);
        assert!((prod.scale() / ctx.params().scale(level - 1) - 1.0).abs() < 1e-9, "nominal scale after rescale");
        let e = max_error(&s.decrypt(&prod), &zip(|a, b| a * b));
        assert!(e < b.mul, "{}", fail("mul_relin+rescale", e));
        // Relinearization and rescale fused into one ModDown: same level and
        // scale, within the same bound, and close to the unfused result.
        let fused = ctx.mul_relin_rescale(&cx, &cy, &s.evk).unwrap();
        assert_eq!((fused.level(), fused.scale()), (prod.level(), prod.scale()));
        let e = max_error(&s.decrypt(&fused), &zip(|a, b| a * b));
        assert!(e < b.mul, "{}", fail("mul_relin_rescale", e));
        let e = max_error(&s.decrypt(&fused), &s.decrypt(&prod));
        assert!(e < b.mul, "{}", fail("mul_relin_rescale vs mul_relin+rescale", e));
        // Lazy relinearization: add degree-2 products, relinearize once.
        let lazy = ctx.add(&ctx.mul(&cx, &cy).unwrap(), &ctx.mul(&cx, &cx).unwrap()).unwrap();
        assert_eq!(lazy.degree_plus_one(), 3);
        let want: Vec<Complex64> = x.iter().zip(&y).map(|(a, c)| a * c + a * a).collect();
        let e = max_error(&s.decrypt(&ctx.relinearize_rescale(&lazy, &s.evk).unwrap()), &want);
        assert!(e < 2.0 * b.mul, "{}", fail("mul+mul (degree 2), relinearize_rescale", e));
        let lazy = ctx.rescale(&ctx.relinearize(&lazy, &s.evk).unwrap()).unwrap();
        let e = max_error(&s.decrypt(&lazy), &want);
        assert!(e < 2.0 * b.mul, "{}", fail("mul+mul (degree 2), relinearize, rescale", e));
        assert!(ctx.relinearize_rescale(&lazy, &s.evk).is_err(), "degree 1");
        // Operands of different degrees: the shorter one is padded with the
        // longer one's extra polynomial (negated in a difference).
        let (long, short) = (ctx.mul(&cx, &cy).unwrap(), ctx.mul_plain(&cx, &py).unwrap());
        let zero = vec![Complex64::new(0.0, 0.0); x.len()];
        for (what, ct, want) in [
            ("long + short", ctx.add(&long, &short), zip(|a, b| 2.0 * a * b)),
            ("short + long", ctx.add(&short, &long), zip(|a, b| 2.0 * a * b)),
            ("long - short", ctx.sub(&long, &short), zero.clone()),
            ("short - long", ctx.sub(&short, &long), zero.clone()),
        ] {
            let ct = ct.unwrap();
            assert_eq!(ct.degree_plus_one(), 3, "{what}");
            let e = max_error(&s.decrypt(&ctx.relinearize_rescale(&ct, &s.evk).unwrap()), &want);
            assert!(e < 2.0 * b.mul, "{}", fail(what, e));
        }
        let e = max_error(&s.decrypt(&ctx.rescale(&ctx.mul_plain(&cx, &py).unwrap()).unwrap()), &zip(|a, b| a * b));
        assert!(e < b.mul, "{}", fail("mul_plain+rescale", e));
        let scaled = ctx.rescale(&ctx.mul_const(&cx, -3.5).unwrap()).unwrap();
        assert!((scaled.scale() / cx.scale() - 1.0).abs() < 1e-12, "mul_const keeps the scale");
        let e = max_error(&s.decrypt(&scaled), &x.iter().map(|a| a * -3.5).collect::<Vec<_>>());
        assert!(e < b.mul, "{}", fail("mul_const+rescale", e));
        let dropped = ctx.drop_to_level(&cx, level - 1).unwrap();
        let e = max_error(&s.decrypt(&dropped), &x);
        assert!(e < b.linear, "{}", fail("drop_to_level", e));
    }
}

#[test]
fn every_op_at_every_level_toy() {
    let mut s = Setup::preset("toy-n1024", &STEPS);
    let max = s.ctx.params().max_level();
    check_all_ops_at_every_level(&mut s, 512, 0..=max);
    // Sparse packing: fewer slots than N/2.
    check_all_ops_at_every_level(&mut s, 64, [max].into_iter());
}

#[test]
fn every_op_at_every_level_n14() {
    let mut s = Setup::preset("n14", &STEPS);
    let max = s.ctx.params().max_level();
    check_all_ops_at_every_level(&mut s, 8192, 0..=max);
}

/// Hoisted rotations (one decomposition, permuted digits) and plain ones
/// (σ(c1) decomposed) agree within the key-switching noise; they are not
/// the same words (src/ckks/eval/keyswitch.rs).
#[test]
fn hoisted_rotations_match_plain_rotations() {
    let mut s = Setup::preset("toy-n4096", &STEPS);
    let x = s.random_values(2048);
    let ct = s.encrypt(&x, s.ctx.params().max_level());
    let bound = s.bounds().keyswitch;
    let hoisted = s.ctx.rotate_hoisted(&ct, &STEPS, &s.evk).unwrap();
    for (&step, h) in STEPS.iter().zip(&hoisted) {
        let plain = s.ctx.rotate(&ct, step, &s.evk).unwrap();
        let expected = rotated(&x, step);
        assert!(max_error(&s.decrypt(h), &expected) < bound, "hoisted, step {step}");
        assert!(max_error(&s.decrypt(&plain), &expected) < bound, "plain, step {step}");
    }
}

/// The batched (`*_many`) operations give exactly the ciphertexts of the
/// one-at-a-time operations, on a batch mixing two levels; at toy-n4096 the
/// CPU backend's cache budget splits the key switches (chunks of 3) and the
/// rescales (chunks of 8) into several batches.
#[test]
fn batched_operations_equal_single_operations() {
    check_batched("toy-n1024", 3);
    check_batched("toy-n4096", 10);
}

fn check_batched(preset: &str, count: usize) {
    let mut s = Setup::preset(preset, &STEPS);
    let top = s.ctx.params().max_level();
    let slots = s.ctx.params().max_slots();
    let cts: Vec<_> = (0..count)
        .map(|i| if i + 1 == count { top - 1 } else { top })
        .map(|l| {
            let x = s.random_values(slots);
            s.encrypt(&x, l)
        })
        .collect();
    let others: Vec<_> = cts
        .iter()
        .map(|c| {
            let y = s.random_values(slots);
            s.encrypt(&y, c.level())
        })
        .collect();
    let values = s.random_values(slots);
    let bytes = |c: &Ciphertext| s.ctx.ciphertext_to_bytes(c).unwrap();
    let pairs: Vec<_> = cts.iter().zip(&others).collect();
    let refs: Vec<&Ciphertext> = cts.iter().collect();
    let check = |what: &str, many: Vec<Ciphertext>, single: &dyn Fn(usize) -> Ciphertext| {
        assert_eq!(many.len(), cts.len());
        for (i, m) in many.iter().enumerate() {
            assert!(bytes(m) == bytes(&single(i)), "{what} #{i}");
        }
    };
    let ctx = &s.ctx;
    check("add", ctx.add_many(&pairs).unwrap(), &|i| ctx.add(&cts[i], &others[i]).unwrap());
    check("mul", ctx.mul_many(&pairs).unwrap(), &|i| ctx.mul(&cts[i], &others[i]).unwrap());
    check("mul_relin", ctx.mul_relin_many(&pairs, &s.evk).unwrap(), &|i| {
        ctx.mul_relin(&cts[i], &others[i], &s.evk).unwrap()
    });
    let products = ctx.mul_relin_many(&pairs, &s.evk).unwrap();
    let product_refs: Vec<&Ciphertext> = products.iter().collect();
    check("rescale", ctx.rescale_many(&product_refs).unwrap(), &|i| ctx.rescale(&products[i]).unwrap());
    let owned = ctx.copy_many(&product_refs).unwrap();
    check("rescale_owned", ctx.rescale_owned(owned).unwrap(), &|i| ctx.rescale(&products[i]).unwrap());
    check("mul_relin_rescale", ctx.mul_relin_rescale_many(&pairs, &s.evk).unwrap(), &|i| {
        ctx.mul_relin_rescale(&cts[i], &others[i], &s.evk).unwrap()
    });
    // The fused product (tensor + ModUp in one step) is the composition's words.
    check("mul_relin = relinearize(mul)", ctx.mul_relin_many(&pairs, &s.evk).unwrap(), &|i| {
        ctx.relinearize(&ctx.mul(&cts[i], &others[i]).unwrap(), &s.evk).unwrap()
    });
    check("mul_relin_rescale = relinearize_rescale(mul)", ctx.mul_relin_rescale_many(&pairs, &s.evk).unwrap(), &|i| {
        ctx.relinearize_rescale(&ctx.mul(&cts[i], &others[i]).unwrap(), &s.evk).unwrap()
    });
    check("rotate", ctx.rotate_many(&refs, 5, &s.evk).unwrap(), &|i| ctx.rotate(&cts[i], 5, &s.evk).unwrap());
    let relin = s.evk.relin_key().unwrap();
    check("key_switch", ctx.key_switch_many(&refs, relin).unwrap(), &|i| ctx.key_switch(&cts[i], relin).unwrap());
    let pts: Vec<_> = cts.iter().map(|c| ctx.encode(&values, c.level(), 1024.0).unwrap()).collect();
    let plain_pairs: Vec<_> = cts.iter().zip(&pts).collect();
    check("mul_plain", ctx.mul_plain_many(&plain_pairs).unwrap(), &|i| ctx.mul_plain(&cts[i], &pts[i]).unwrap());
    // Sums of products: the top-level pairs in one group, the lower one
    // alone; the words of the products added up.
    let check_sums = |what: &str, sums: Vec<Ciphertext>, products: &[Ciphertext]| {
        let mut want = ctx.copy_ciphertext(&products[0]).unwrap();
        for p in &products[1..count - 1] {
            ctx.add_assign_many(&mut [&mut want], &[p]).unwrap();
        }
        assert!(bytes(&sums[0]) == bytes(&want), "{what} of {} pairs", count - 1);
        assert!(bytes(&sums[1]) == bytes(&products[count - 1]), "{what} of one pair");
    };
    let (top_pairs, low_pairs) = plain_pairs.split_at(count - 1);
    let products = ctx.mul_plain_many(&plain_pairs).unwrap();
    check_sums("mul_plain_sum", ctx.mul_plain_sum_many(&[top_pairs, low_pairs]).unwrap(), &products);
    assert!(ctx.mul_plain_sum_many(&[&[]]).is_err(), "empty group");
    assert!(ctx.mul_plain_sum_many(&[&[plain_pairs[0], plain_pairs[count - 1]]]).is_err(), "levels differ in a group");
    let other_scale = ctx.encode(&values, cts[0].level(), 2048.0).unwrap();
    assert!(ctx.mul_plain_sum_many(&[&[plain_pairs[0], (&cts[1], &other_scale)]]).is_err(), "scales differ");
    // Sums of ciphertext products (tensor products), the same grouping.
    let (top_pairs, low_pairs) = pairs.split_at(count - 1);
    let products = ctx.mul_many(&pairs).unwrap();
    check_sums("mul_sum", ctx.mul_sum_many(&[top_pairs, low_pairs]).unwrap(), &products);
    assert!(ctx.mul_sum_many(&[&[]]).is_err(), "empty group");
    assert!(ctx.mul_sum_many(&[&[pairs[0], pairs[count - 1]]]).is_err(), "levels differ in a group");
    assert!(ctx.mul_sum_many(&[&[pairs[0], (&products[1], &others[1])]]).is_err(), "a degree-2 factor");
    let doubled_scale = ctx.mul_const_scaled(&cts[1], 1.0, 2.0).unwrap();
    assert!(ctx.mul_sum_many(&[&[pairs[0], (&doubled_scale, &others[1])]]).is_err(), "scales differ");
    let mut sums = ctx.copy_many(&refs).unwrap();
    let other_refs: Vec<&Ciphertext> = others.iter().collect();
    ctx.add_assign_many(&mut sums.iter_mut().collect::<Vec<_>>(), &other_refs).unwrap();
    check("add_assign", sums, &|i| ctx.add(&cts[i], &others[i]).unwrap());
    assert!(ctx.rotate_many(&refs, 1000, &s.evk).is_err(), "missing key");
    assert!(ctx.add_many(&[(&cts[0], &cts[count - 1])]).is_err(), "level mismatch inside a batch");
    let mut lhs = ctx.copy_ciphertext(&cts[0]).unwrap();
    assert!(ctx.add_assign_many(&mut [&mut lhs], &[&cts[count - 1]]).is_err(), "level mismatch in place");
    assert!(ctx.add_assign_many(&mut [&mut lhs], &[]).is_err(), "operand counts differ");
    assert!(ctx.mul_plain_many(&[(&cts[0], &pts[count - 1])]).is_err(), "plaintext level mismatch");
}

#[test]
fn key_switching_works_for_dnum_1_2_and_max() {
    let base = hetl::ckks::preset("toy-n4096").unwrap().literal().clone();
    let q_count = base.base_primes + base.depth;
    for dnum in [1, 2, q_count] {
        let params = hetl::ckks::Params::try_from_literal(hetl::ckks::ParamsLiteral { dnum, ..base.clone() }).unwrap();
        assert_eq!(params.alpha(), q_count.div_ceil(dnum));
        check_mul_and_rotate(Setup::new(params, &[3]), &format!("dnum {dnum}"));
    }
}

/// Double-prime scaling (two primes per level, Δ ≈ 2^50): a rescale and the
/// fused relinearize-rescale drop both primes of a level.
#[test]
fn double_prime_scaling_multiplies_and_rotates() {
    let base = hetl::ckks::preset("toy-n4096").unwrap().literal().clone();
    let literal = hetl::ckks::ParamsLiteral { primes_per_level: 2, log_scale: 50.0, depth: 3, ..base };
    let params = hetl::ckks::Params::try_from_literal(literal).unwrap();
    assert_eq!(params.q_limbs(params.max_level()) - params.q_limbs(params.max_level() - 1), 2);
    check_mul_and_rotate(Setup::new(params, &[3]), "double-prime");
}

/// mul_relin + rescale, its fused form and a rotation, at the top level
/// and at level 1, within the bounds of `s`.
fn check_mul_and_rotate(mut s: Setup, what: &str) {
    let b = s.bounds();
    let top = s.ctx.params().max_level();
    for level in [top, 1] {
        let (x, y) = (s.random_values(2048), s.random_values(2048));
        let (cx, cy) = (s.encrypt(&x, level), s.encrypt(&y, level));
        let want: Vec<Complex64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
        let prod = s.ctx.rescale(&s.ctx.mul_relin(&cx, &cy, &s.evk).unwrap()).unwrap();
        let e = max_error(&s.decrypt(&prod), &want);
        assert!(e < b.mul, "{what} level {level}: {e:e}");
        let fused = s.ctx.mul_relin_rescale(&cx, &cy, &s.evk).unwrap();
        assert_eq!((fused.level(), fused.scale()), (prod.level(), prod.scale()), "{what}");
        let e = max_error(&s.decrypt(&fused), &want);
        assert!(e < b.mul, "{what} level {level} fused: {e:e}");
        let e = max_error(&s.decrypt(&s.ctx.rotate(&cx, 3, &s.evk).unwrap()), &rotated(&x, 3));
        assert!(e < b.keyswitch, "{what} level {level} rotate: {e:e}");
    }
}

#[test]
fn deep_multiplication_chain_uses_every_level() {
    // x^(2^depth) by repeated squaring, values on the unit circle keep |x| = 1.
    let mut s = Setup::preset("toy-n1024", &[]);
    let depth = s.ctx.params().max_level();
    let x: Vec<Complex64> = (0..512).map(|k| Complex64::from_polar(1.0, k as f64 * 0.01)).collect();
    let mut ct = s.encrypt(&x, depth);
    let mut want = x.clone();
    for _ in 0..depth {
        ct = s.ctx.rescale(&s.ctx.mul_relin(&ct, &ct, &s.evk).unwrap()).unwrap();
        want.iter_mut().for_each(|w| *w = *w * *w);
    }
    assert_eq!(ct.level(), 0);
    let e = max_error(&s.decrypt(&ct), &want);
    // Each squaring doubles the incoming error and adds a rescale's.
    let bound = f64::from(1u32 << (depth + 1)) * s.bounds().mul;
    assert!(e < bound, "error after {depth} squarings: {e:e} (bound {bound:e})");
}

/// Products not yet rescaled (scale Δ², Δ⁴) decrypt right: decoding spans
/// the scale with enough limbs (with three it returned noise at Δ⁴). A
/// product whose scale reaches the level's modulus is refused, as its values
/// would wrap around; so is a plaintext product or constant past it, and a
/// rescale that would leave a scale below 1 (a fresh ciphertext's).
#[test]
fn unrescaled_products_decrypt_until_the_scale_reaches_the_modulus() {
    let mut s = Setup::preset("toy-n1024", &[]);
    let top = s.ctx.params().max_level();
    let x: Vec<Complex64> = [1.0, -2.0, 3.0, 0.5].iter().map(|&v| Complex64::new(v, 0.0)).collect();
    let mut ct = s.encrypt(&x, top);
    let err = s.ctx.rescale(&ct).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("below 1"), "{err}");
    assert!(s.ctx.mul_relin_rescale(&ct, &s.ctx.add_const(&ct, 0.0).unwrap(), &s.evk).is_ok());
    let mut want = x.clone();
    for _ in 0..2 {
        ct = s.ctx.mul_relin(&ct, &ct, &s.evk).unwrap();
        want.iter_mut().for_each(|w| *w = *w * *w);
        let e = max_error(&s.decrypt(&ct), &want);
        assert!(e < 1e-4, "scale 2^{:.1}: error {e:e}", ct.scale().log2());
    }
    let err = s.ctx.mul_relin(&ct, &ct, &s.evk).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("leaves no room below the modulus"), "{err}");
    assert!(s.ctx.mul(&ct, &ct).is_err());
    let pt = s.ctx.encode(&x, top, 2f64.powi(60)).unwrap();
    assert!(s.ctx.mul_plain(&ct, &pt).is_err());
    assert!(s.ctx.mul_const_scaled(&ct, 1.0, ct.scale()).is_err());
}

/// A ciphertext dropped to [`Context::decryption_level`] decrypts to exactly
/// the same values as in full: at the nominal scale from level 1 (three
/// limbs), a product at Δ² from a level holding a limb more per 30 bits.
#[test]
fn the_decryption_level_decrypts_to_the_same_values() {
    for name in ["toy-n4096", "n14"] {
        let mut s = Setup::preset(name, &[]);
        let top = s.ctx.params().max_level();
        let x = s.random_values(64);
        let ct = s.encrypt(&x, top);
        let product = s.ctx.mul_relin(&ct, &ct, &s.evk).unwrap();
        for (what, ct, level) in [("fresh", &ct, 1), ("product", &product, 2)] {
            assert_eq!(s.ctx.decryption_level(ct), level, "{name} {what}");
            let dropped = s.ctx.drop_to_level(ct, level).unwrap();
            assert_eq!(s.decrypt(&dropped), s.decrypt(ct), "{name} {what}");
        }
        let low = s.ctx.drop_to_level(&ct, 0).unwrap();
        assert_eq!(s.ctx.decryption_level(&low), 0, "{name}: never above the ciphertext's level");
    }
}

#[test]
fn public_key_encryption_decrypts_within_bound() {
    for name in ["toy-n1024", "n14"] {
        let mut s = Setup::preset(name, &[]);
        let b = s.bounds();
        let x = s.random_values(s.ctx.params().max_slots());
        let top = s.ctx.params().max_level();
        for level in [top, 0] {
            let ct = s.encrypt_public(&x, level);
            let e = max_error(&s.decrypt(&ct), &x);
            assert!(e < b.public, "{name} level {level}: {e:e} (bound {:e})", b.public);
        }
    }
}

#[test]
fn encoding_round_trip_error() {
    for name in ["toy-n1024", "n14"] {
        let mut s = Setup::preset(name, &[]);
        let p = s.ctx.params().clone();
        for slots in [1, 8, p.max_slots()] {
            let x = s.random_values(slots);
            let pt = s.ctx.encode(&x, p.max_level(), p.scale(p.max_level())).unwrap();
            let e = max_error(&s.ctx.decode(&pt).unwrap()[..slots], &x);
            // Rounding each coefficient to an integer: ≤ √N/2 per slot, over Δ.
            let bound = (p.n() as f64).sqrt() / p.scale(p.max_level());
            assert!(e < bound, "{name} slots {slots}: {e:e}");
        }
    }
}

/// encode_many on one or several host threads gives the plaintexts of
/// encode, one by one (also across its chunks: 9 vectors of n14 exceed the
/// CPU backend's budget); one bad vector fails the whole call.
#[test]
fn encode_many_equals_encode_on_any_host_threads() {
    let mut s = Setup::preset("n14", &[]);
    let p = s.ctx.params().clone();
    let (level, scale) = (p.max_level() - 1, p.scale(p.max_level() - 1));
    let values: Vec<Vec<Complex64>> =
        [1, 8, 4096, p.max_slots(), 3, 100, 8, 8192, 2].map(|k| s.random_values(k)).into();
    let refs: Vec<&[Complex64]> = values.iter().map(Vec::as_slice).collect();
    let seed = [3u8; 32];
    let sealed = |ctx: &hetl::ckks::Context, pt: &hetl::ckks::Plaintext| {
        let ct = ctx.encrypt_symmetric(pt, &s.sk, &mut hetl::math::sampling::Csprng::from_seed(seed)).unwrap();
        ctx.ciphertext_to_bytes(&ct).unwrap()
    };
    let single: Vec<_> = refs.iter().map(|v| sealed(&s.ctx, &s.ctx.encode(v, level, scale).unwrap())).collect();
    for threads in [1, 3] {
        let ctx = hetl::ckks::Context::cpu(p.clone(), 1).unwrap().with_host_threads(threads).unwrap();
        let many = ctx.encode_many(&refs, level, scale).unwrap();
        assert_eq!(many.len(), refs.len());
        for (i, pt) in many.iter().enumerate() {
            assert_eq!((pt.level(), pt.scale(), pt.slots()), (level, scale, refs[i].len().next_power_of_two()));
            assert!(sealed(&ctx, pt) == single[i], "{threads} threads: vector {i}");
        }
        let mut bad = refs.clone();
        let nan = [Complex64::new(f64::NAN, 0.0)];
        bad[5] = &nan;
        assert!(ctx.encode_many(&bad, level, scale).is_err(), "{threads} threads: NaN");
        assert!(ctx.encode_many(&refs, p.max_level() + 1, scale).is_err(), "{threads} threads: level");
    }
}

#[test]
fn mul_const_scaled_lands_on_the_requested_scale_without_a_level() {
    let mut s = Setup::preset("toy-n1024", &[]);
    let b = s.bounds();
    let top = s.ctx.params().max_level();
    let x = s.random_values(512);
    let cx = s.encrypt(&x, top);
    let scaled = |c: f64| x.iter().map(|a| a * c).collect::<Vec<_>>();
    // c encoded at ≈ Δ: rounding ≤ 2^-31 in c, then a rescale lands on scale·σ/q.
    let sigma = s.ctx.params().scale(top - 1) * 1.5;
    let y = s.ctx.mul_const_scaled(&cx, -0.3, sigma).unwrap();
    assert_eq!((y.level(), y.scale()), (top, cx.scale() * sigma));
    let e = max_error(&s.decrypt(&s.ctx.rescale(&y).unwrap()), &scaled(-0.3));
    assert!(e < b.mul, "mul_const_scaled at ≈ Δ: {e:e}");
    // c·σ = 1: an exact division by 2 through the scale, free.
    let half = s.ctx.mul_const_scaled(&cx, 0.5, 2.0).unwrap();
    assert_eq!(half.scale(), 2.0 * cx.scale());
    assert!(max_error(&s.decrypt(&half), &scaled(0.5)) < b.linear);
    for bad in [0.0, f64::NAN, -1.0] {
        assert!(s.ctx.mul_const_scaled(&cx, 1.0, bad).is_err());
    }
    assert!(s.ctx.mul_const_scaled(&cx, 4.0, 2f64.powi(61)).is_err(), "integer beyond 2^62");
}
