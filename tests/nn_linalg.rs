//! Encrypted linear algebra against ndarray on random data.

mod common;

use common::Setup;
use hetl::ckks::Ciphertext;
use hetl::nn::linalg::{
    MatMulABt, MatMulAtB, MatMulPlain, MatVec, RowBlocks, pack_replicated, rotate_and_sum, rotate_and_sum_steps,
};
use ndarray::{Array1, Array2};

fn random_matrix(s: &mut Setup, rows: usize, cols: usize) -> Array2<f64> {
    let values: Vec<f64> = s.random_values(rows * cols).iter().map(|z| z.re).collect();
    Array2::from_shape_vec((rows, cols), values).unwrap()
}

fn real_slots(s: &Setup, ct: &Ciphertext) -> Vec<f64> {
    s.decrypt(ct).iter().map(|z| z.re).collect()
}

/// Max |encrypted − ndarray| of W·x over the output, for one shape.
fn matvec_error(s: &mut Setup, rows: usize, cols: usize) -> f64 {
    let level = s.ctx.params().max_level();
    let w = random_matrix(s, rows, cols);
    let x: Vec<f64> = s.random_values(cols).iter().map(|z| z.re).collect();
    let plan = MatVec::new(&s.ctx, w.view(), level).unwrap();
    let packed = pack_replicated(&x, plan.input_period(), plan.slots()).unwrap();
    let ct = s.encrypt_real(&packed, level);
    let y = plan.apply(&s.ctx, &ct, &s.evk).unwrap();
    assert_eq!(y.level(), level - plan.depth(), "{rows}×{cols}: levels consumed");
    assert!((y.scale() / ct.scale() - 1.0).abs() < 1e-12, "{rows}×{cols}: scale restored");
    let want = w.dot(&Array1::from(x));
    let got = real_slots(s, &y);
    let m = plan.output_period();
    // Every copy of the output period holds y.
    (0..plan.slots()).filter(|j| j % m < rows).map(|j| (got[j] - want[j % m]).abs()).fold(0.0, f64::max)
}

/// Rotation keys for every shape the tests use at one slot count.
fn steps_for(s: &Setup, shapes: &[(usize, usize)]) -> Vec<i64> {
    let level = s.ctx.params().max_level();
    let mut steps: Vec<i64> = shapes
        .iter()
        .flat_map(|&(r, c)| {
            let w = Array2::<f64>::ones((r, c));
            MatVec::new(&s.ctx, w.view(), level).unwrap().rotations()
        })
        .collect();
    steps.extend(rotate_and_sum_steps(4, 8));
    steps.sort_unstable();
    steps.dedup();
    steps
}

#[test]
fn matvec_matches_ndarray_for_square_tall_wide_and_padded_shapes_toy() {
    let shapes = [(8, 8), (16, 4), (4, 16), (5, 12), (1, 32), (32, 1)];
    let probe = Setup::preset("toy-n1024", &[]);
    let steps = steps_for(&probe, &shapes);
    let mut s = Setup::preset("toy-n1024", &steps);
    for (rows, cols) in shapes {
        let err = matvec_error(&mut s, rows, cols);
        // |x|, |w| ≤ 1: errors of ≤ 32 products plus ~10 key switches.
        assert!(err < 1e-3, "{rows}×{cols}: error {err:e}");
    }
}

#[test]
fn matvec_384_square_at_n14() {
    let probe = Setup::preset("n14", &[]);
    let steps = steps_for(&probe, &[(384, 384)]);
    let mut s = Setup::preset("n14", &steps);
    let err = matvec_error(&mut s, 384, 384);
    assert!(err < 1e-2, "384×384: error {err:e}");
}

#[test]
fn bsgs_uses_the_fewest_rotations() {
    let s = Setup::preset("toy-n1024", &[]);
    let level = s.ctx.params().max_level();
    for (rows, cols, rotations) in [(16, 16, 6), (8, 32, 4 + 2), (64, 64, 14), (512, 512, 46)] {
        let w = Array2::<f64>::ones((rows, cols));
        let c = MatVec::new(&s.ctx, w.view(), level).unwrap().counts();
        assert_eq!(c.rotations, rotations, "{rows}×{cols}: {c:?}");
        assert_eq!(c.rotations, c.bsgs_minimum, "{rows}×{cols}: {c:?}");
        assert_eq!(c.diagonals, rows.min(cols));
    }
}

#[test]
fn matvec_refuses_bad_shapes_levels_and_inputs() {
    let mut s = Setup::preset("toy-n1024", &[1, 2, 3]);
    let top = s.ctx.params().max_level();
    let too_big = Array2::<f64>::ones((2048, 4));
    assert!(MatVec::new(&s.ctx, too_big.view(), top).is_err(), "needs more slots");
    assert!(MatVec::new(&s.ctx, Array2::<f64>::ones((4, 4)).view(), 0).is_err(), "level 0");
    let mut nan = Array2::<f64>::ones((4, 4));
    nan[[1, 2]] = f64::NAN;
    assert!(MatVec::new(&s.ctx, nan.view(), top).is_err(), "NaN entry");
    let plan = MatVec::new(&s.ctx, Array2::<f64>::ones((4, 4)).view(), top).unwrap();
    let wrong_slots = s.encrypt_real(&[1.0; 8], top);
    assert!(plan.apply(&s.ctx, &wrong_slots, &s.evk).is_err(), "slot count mismatch");
    let wrong_level = s.encrypt_real(&[1.0; 4], top - 1);
    assert!(plan.apply(&s.ctx, &wrong_level, &s.evk).is_err(), "level mismatch");
    assert!(pack_replicated(&[1.0; 5], 4, 8).is_err());
    assert!(pack_replicated(&[1.0; 3], 4, 6).is_err());
}

#[test]
fn rotate_and_sum_adds_the_blocks() {
    let mut s = Setup::preset("toy-n1024", &rotate_and_sum_steps(4, 8));
    let top = s.ctx.params().max_level();
    let x: Vec<f64> = s.random_values(32).iter().map(|z| z.re).collect();
    let ct = s.encrypt_real(&x, top);
    let sum = real_slots(&s, &rotate_and_sum(&s.ctx, &ct, 4, 8, &s.evk).unwrap());
    for j in 0..32 {
        let want: f64 = (0..8).map(|t| x[(j + 4 * t) % 32]).sum();
        assert!((sum[j] - want).abs() < 1e-4, "slot {j}");
    }
    assert!(rotate_and_sum(&s.ctx, &ct, 4, 6, &s.evk).is_err());
}

/// Encryptions of `m` packed as `layout` at `level`.
fn encrypt_matrix(s: &mut Setup, layout: &RowBlocks, m: &Array2<f64>, level: usize) -> Vec<Ciphertext> {
    layout.pack(m.view()).unwrap().iter().map(|slots| s.encrypt_real(slots, level)).collect()
}

/// The matrix `cts` hold, packed as `layout`.
fn decrypt_matrix(s: &Setup, layout: &RowBlocks, cts: &[Ciphertext]) -> Array2<f64> {
    layout.unpack(&cts.iter().map(|ct| real_slots(s, ct)).collect::<Vec<_>>()).unwrap()
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Max |encrypted − ndarray| of X·W with X (`rows` × d) random; checks the
/// levels consumed and that the scale is X's.
fn matmul_plain_error(s: &mut Setup, plan: &MatMulPlain, w: &Array2<f64>, rows: usize) -> f64 {
    let level = s.ctx.params().max_level();
    let x = random_matrix(s, rows, w.nrows());
    let cts = encrypt_matrix(s, &plan.input_layout(rows).unwrap(), &x, level);
    let y = plan.apply(&s.ctx, &cts.iter().collect::<Vec<_>>(), &s.evk).unwrap();
    for ct in &y {
        assert_eq!(ct.level(), level - plan.depth(), "levels consumed");
        assert!((ct.scale() / cts[0].scale() - 1.0).abs() < 1e-12, "scale restored");
    }
    max_abs_diff(&decrypt_matrix(s, &plan.output_layout(rows).unwrap(), &y), &x.dot(w))
}

/// Plans for X (n × d) · W (d × k), one per (n, d, k, packing), with random
/// W; the evaluation keys of `s` are replaced by keys for all of them.
fn matmul_plain_cases(s: &mut Setup, cases: &[(RowBlocks, usize)]) -> Vec<(MatMulPlain, Array2<f64>, usize)> {
    let plans: Vec<_> = cases
        .iter()
        .map(|&(layout, k)| {
            let w = random_matrix(s, layout.cols(), k);
            let plan = MatMulPlain::new(s.ctx.params(), w.view(), layout.block(), layout.slots()).unwrap();
            (plan, w, layout.rows())
        })
        .collect();
    let steps: Vec<i64> = plans.iter().flat_map(|(p, _, _)| p.rotations()).collect();
    s.set_rotations(&steps);
    plans
}

/// Error bound of X·W for unit-bounded entries: each output sums d
/// products whose input errors are at most one key switch (the baby
/// rotation), plus the rounding of the diagonals' encoding and of the
/// rescale and the giant rotations' key switches (a few more).
fn matmul_plain_bound(s: &Setup, d: usize) -> f64 {
    (d as f64 + 8.0) * s.bounds().keyswitch
}

#[test]
fn matmul_plain_matches_ndarray_for_packings_toy() {
    let mut s = Setup::preset("toy-n1024", &[]);
    let cases = [
        // Densest packing of 5 × 12: blocks of 16 in 128 slots.
        (RowBlocks::densest(5, 12, 512).unwrap(), 7),
        // Two row groups, three input and two output chunks.
        (RowBlocks::new(6, 20, 8, 32).unwrap(), 12),
        // Three row groups of full, square blocks.
        (RowBlocks::new(12, 8, 8, 32).unwrap(), 8),
        // One row per ciphertext (block = slots).
        (RowBlocks::new(3, 16, 16, 16).unwrap(), 16),
    ];
    for (plan, w, rows) in matmul_plain_cases(&mut s, &cases) {
        let err = matmul_plain_error(&mut s, &plan, &w, rows);
        let bound = matmul_plain_bound(&s, w.nrows());
        eprintln!("matmul_plain {rows}×{:?} toy-n1024: error {err:.3e} (bound {bound:.3e})", plan.shape());
        assert!(err < bound, "{rows}×{:?}: error {err:e} ≥ {bound:e}", plan.shape());
    }
}

#[test]
fn matmul_plain_reuses_cached_diagonals_toy() {
    let Setup { ctx, sk, pk, evk, rng } = Setup::preset("toy-n1024", &[]);
    let mut s = Setup { ctx: ctx.with_plaintext_cache(64 << 20), sk, pk, evk, rng };
    let (plan, w, rows) = matmul_plain_cases(&mut s, &[(RowBlocks::new(6, 20, 8, 32).unwrap(), 12)]).remove(0);
    let level = s.ctx.params().max_level();
    let x = random_matrix(&mut s, rows, w.nrows());
    let layout = plan.input_layout(rows).unwrap();
    let (top, low) = (encrypt_matrix(&mut s, &layout, &x, level), encrypt_matrix(&mut s, &layout, &x, level - 1));
    let apply = |cts: &[Ciphertext]| plan.apply(&s.ctx, &cts.iter().collect::<Vec<_>>(), &s.evk).unwrap();
    let bytes = |cts: &[Ciphertext]| cts.iter().map(|c| s.ctx.ciphertext_to_bytes(c).unwrap()).collect::<Vec<_>>();
    let first = apply(&top);
    let used = s.ctx.plaintext_cache().used_bytes();
    assert!(used > 0, "the diagonals are cached");
    let second = apply(&top);
    assert_eq!(s.ctx.plaintext_cache().used_bytes(), used, "the second pass encodes nothing new");
    assert!(bytes(&first) == bytes(&second), "cached diagonals give the same words");
    // Another level is another encoding, decrypting to the same product.
    let lower = apply(&low);
    assert!(s.ctx.plaintext_cache().used_bytes() > used);
    let out_layout = plan.output_layout(rows).unwrap();
    let err = max_abs_diff(&decrypt_matrix(&s, &out_layout, &lower), &x.dot(&w));
    assert!(err < matmul_plain_bound(&s, w.nrows()), "error {err:e}");
}

#[test]
fn matvec_of_an_all_zero_matrix_is_an_encryption_of_zero_toy() {
    let mut s = Setup::preset("toy-n1024", &[]);
    let level = s.ctx.params().max_level();
    let w = Array2::<f64>::zeros((8, 8));
    let plan = MatVec::new(&s.ctx, w.view(), level).unwrap();
    s.set_rotations(&plan.rotations());
    let x: Vec<f64> = s.random_values(8).iter().map(|z| z.re + 1.0).collect();
    let packed = pack_replicated(&x, plan.input_period(), plan.slots()).unwrap();
    let ct = s.encrypt_real(&packed, level);
    let y = plan.apply(&s.ctx, &ct, &s.evk).unwrap();
    assert_eq!(y.level(), level - plan.depth());
    let worst = real_slots(&s, &y).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(worst < 1e-3, "W·x = 0 decrypts to {worst:e}");
}

#[test]
fn matmul_plain_with_an_all_zero_column_chunk_toy() {
    let mut s = Setup::preset("toy-n1024", &[]);
    let mut w = random_matrix(&mut s, 8, 16);
    w.slice_mut(ndarray::s![.., 8..]).fill(0.0);
    let plan = MatMulPlain::new(s.ctx.params(), w.view(), 8, 64).unwrap();
    s.set_rotations(&plan.rotations());
    let err = matmul_plain_error(&mut s, &plan, &w, 4);
    assert!(err < matmul_plain_bound(&s, 8), "error {err:e}");
}

#[test]
fn matmul_plain_two_row_groups_toy_n4096() {
    let mut s = Setup::preset("toy-n4096", &[]);
    // 32 tokens of 96 in blocks of 128 (16 per ciphertext) · 96 × 160.
    let layout = RowBlocks::densest(16, 96, 2048).unwrap().reshaped(32, 96).unwrap();
    for (plan, w, rows) in matmul_plain_cases(&mut s, &[(layout, 160)]) {
        let err = matmul_plain_error(&mut s, &plan, &w, rows);
        let bound = matmul_plain_bound(&s, w.nrows());
        eprintln!("matmul_plain {rows}×{:?} toy-n4096: error {err:.3e} (bound {bound:.3e})", plan.shape());
        assert!(err < bound, "error {err:e} ≥ {bound:e}");
    }
}

/// Max |encrypted − ndarray| of A·Bᵀ (`abt`) or Aᵀ·B over `pairs` random
/// pairs packed as `a` and `b`, all applied in one batch; checks levels.
fn matmul_enc_error(s: &mut Setup, a: RowBlocks, b: RowBlocks, abt: bool, pairs: usize) -> f64 {
    let level = s.ctx.params().max_level();
    let mats: Vec<(Array2<f64>, Array2<f64>)> =
        (0..pairs).map(|_| (random_matrix(s, a.rows(), a.cols()), random_matrix(s, b.rows(), b.cols()))).collect();
    let cts: Vec<(Ciphertext, Ciphertext)> = mats
        .iter()
        .map(|(x, y)| (encrypt_matrix(s, &a, x, level).remove(0), encrypt_matrix(s, &b, y, level).remove(0)))
        .collect();
    let refs: Vec<(&Ciphertext, &Ciphertext)> = cts.iter().map(|(x, y)| (x, y)).collect();
    let (out, layout, depth) = if abt {
        let plan = MatMulABt::new(&s.ctx, a, b, level).unwrap();
        (plan.apply_many(&s.ctx, &refs, &s.evk).unwrap(), plan.output_layout().unwrap(), plan.depth())
    } else {
        let plan = MatMulAtB::new(&s.ctx, a, b, level).unwrap();
        (plan.apply_many(&s.ctx, &refs, &s.evk).unwrap(), plan.output_layout().unwrap(), plan.depth())
    };
    let mut err: f64 = 0.0;
    for ((x, y), ct) in mats.iter().zip(&out) {
        assert_eq!(ct.level(), level - depth, "levels consumed");
        let want = if abt { x.dot(&y.t()) } else { x.t().dot(y) };
        let got = decrypt_matrix(s, &layout, std::slice::from_ref(ct));
        err = err.max(max_abs_diff(&got, &want));
        // The padding is clean: every other slot decrypts to ~0.
        let packed = layout.pack(want.view()).unwrap().remove(0);
        let slots = real_slots(s, ct);
        let stray = slots.iter().zip(&packed).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max);
        err = err.max(stray);
    }
    err
}

/// Rotation steps of both encrypted products for each (A, B) packing.
fn matmul_enc_steps(s: &Setup, cases: &[(RowBlocks, RowBlocks, bool)]) -> Vec<i64> {
    let level = s.ctx.params().max_level();
    cases
        .iter()
        .flat_map(|&(a, b, abt)| {
            if abt {
                MatMulABt::new(&s.ctx, a, b, level).unwrap().rotations()
            } else {
                MatMulAtB::new(&s.ctx, a, b, level).unwrap().rotations()
            }
        })
        .collect()
}

/// Error bound of a product of unit-bounded matrices with inner dimension
/// `inner`: each output sums `inner` products of two operands whose errors
/// are at most a key switch after the broadcast, plus the key switches of
/// the reductions and the final shift (log-many, a few more).
fn matmul_enc_bound(s: &Setup, inner: usize) -> f64 {
    let b = s.bounds();
    inner as f64 * (b.mul + 2.0 * b.keyswitch) + 16.0 * b.keyswitch
}

fn check_matmul_enc(s: &mut Setup, cases: &[(RowBlocks, RowBlocks, bool)], pairs: usize) {
    let steps = matmul_enc_steps(s, cases);
    s.set_rotations(&steps);
    for &(a, b, abt) in cases {
        let err = matmul_enc_error(s, a, b, abt, pairs);
        let inner = if abt { a.cols() } else { a.rows() };
        let bound = matmul_enc_bound(s, inner);
        let what = if abt { "A·Bᵀ" } else { "Aᵀ·B" };
        eprintln!(
            "{what} {}×{} {}×{} {}: error {err:.3e} (bound {bound:.3e})",
            a.rows(),
            a.cols(),
            b.rows(),
            b.cols(),
            s.ctx.params().name()
        );
        assert!(err < bound, "{what} {a:?} {b:?}: error {err:e} ≥ {bound:e}");
    }
}

#[test]
fn matmul_enc_matches_ndarray_toy() {
    let mut s = Setup::preset("toy-n1024", &[]);
    let cases = [
        // Q·Kᵀ with fewer rows than blocks, 2 pairs in one batch.
        (RowBlocks::new(5, 12, 16, 128).unwrap(), RowBlocks::new(7, 12, 16, 128).unwrap(), true),
        // Every block used (the block shifts wrap around).
        (RowBlocks::new(4, 3, 4, 16).unwrap(), RowBlocks::new(4, 3, 4, 16).unwrap(), true),
        // Eᵀ·X: 6 samples, 3 classes, 10 features.
        (RowBlocks::new(6, 3, 16, 128).unwrap(), RowBlocks::new(6, 10, 16, 128).unwrap(), false),
    ];
    check_matmul_enc(&mut s, &cases, 2);
}

#[test]
fn matmul_enc_attention_and_gradient_shapes_toy_n4096() {
    let mut s = Setup::preset("toy-n4096", &[]);
    let head = RowBlocks::densest(16, 64, 2048).unwrap();
    let cases = [
        (head, head, true),
        (RowBlocks::new(32, 2, 32, 1024).unwrap(), RowBlocks::new(32, 30, 32, 1024).unwrap(), false),
    ];
    check_matmul_enc(&mut s, &cases, 1);
}

#[test]
fn matmul_products_at_minilm_shapes_n14() {
    let mut s = Setup::preset("n14", &[]);
    // 16 tokens × 384 · 384 × 384: one ciphertext, blocks of 512.
    let layout = RowBlocks::densest(16, 384, s.ctx.params().max_slots()).unwrap();
    assert_eq!((layout.block(), layout.slots(), layout.ciphertexts()), (512, 8192, 1));
    let mut plans = matmul_plain_cases(&mut s, &[(layout, 384)]);
    let (plan, w, rows) = plans.remove(0);
    let c = plan.counts();
    assert_eq!((c.rotations, c.plaintext_mults), (54, 767), "{c:?}");
    // One attention head: Q·Kᵀ for 16 tokens × 64 (blocks of 64 in 1024 slots).
    let head = RowBlocks::densest(16, 64, s.ctx.params().max_slots()).unwrap();
    let scores = MatMulABt::new(&s.ctx, head, head, s.ctx.params().max_level()).unwrap();
    let c = scores.counts();
    assert_eq!((c.rotations, c.hoisted_rotations, c.key_switches), (126, 15, 142), "{c:?}");
    let mut steps = plan.rotations();
    steps.extend(scores.rotations());
    s.set_rotations(&steps);
    let err = matmul_plain_error(&mut s, &plan, &w, rows);
    let bound = matmul_plain_bound(&s, 384);
    eprintln!("matmul_plain 16×384·384×384 n14: error {err:.3e} (bound {bound:.3e})");
    assert!(err < bound, "error {err:e} ≥ {bound:e}");
    let err = matmul_enc_error(&mut s, head, head, true, 1);
    let bound = matmul_enc_bound(&s, 64);
    eprintln!("A·Bᵀ 16×64·64×16 n14: error {err:.3e} (bound {bound:.3e})");
    assert!(err < bound, "error {err:e} ≥ {bound:e}");
}

#[test]
fn matmul_refuses_bad_shapes_levels_and_inputs() {
    let mut s = Setup::preset("toy-n1024", &[]);
    let ctx = &s.ctx;
    let top = ctx.params().max_level();
    let w = Array2::<f64>::ones((16, 8));
    assert!(MatMulPlain::new(ctx.params(), w.view(), 6, 32).is_err(), "block not a power of two");
    assert!(MatMulPlain::new(ctx.params(), w.view(), 8, 1024).is_err(), "more slots than the preset has");
    let mut nan = w.clone();
    nan[[3, 1]] = f64::NAN;
    assert!(MatMulPlain::new(ctx.params(), nan.view(), 8, 32).is_err(), "NaN entry");
    let plan = MatMulPlain::new(ctx.params(), w.view(), 8, 32).unwrap();
    let ok = s.encrypt_real(&[1.0; 32], top);
    let low = s.encrypt_real(&[1.0; 32], top - 1);
    let wide = s.encrypt_real(&[1.0; 64], top);
    let ctx = &s.ctx;
    assert!(plan.apply(ctx, &[&ok], &s.evk).is_err(), "half a row group (d = 16 is two chunks)");
    assert!(plan.apply(ctx, &[&ok, &low], &s.evk).is_err(), "level mismatch");
    assert!(plan.apply(ctx, &[&ok, &wide], &s.evk).is_err(), "slot count mismatch");
    let bottom = [ctx.drop_to_level(&ok, 0).unwrap(), ctx.drop_to_level(&ok, 0).unwrap()];
    assert!(plan.apply(ctx, &[&bottom[0], &bottom[1]], &s.evk).is_err(), "level 0");
    assert!(plan.input_layout(0).is_err(), "no rows");

    let a = RowBlocks::new(4, 8, 8, 32).unwrap();
    let bad_abt = [
        (a, RowBlocks::new(4, 6, 8, 32).unwrap(), top, "inner dimensions differ"),
        (a, a, 2, "level below the depth"),
        (a, RowBlocks::new(4, 8, 8, 64).unwrap(), top, "slot counts differ"),
        (RowBlocks::new(8, 8, 8, 32).unwrap(), a, top, "A spans two ciphertexts"),
        (RowBlocks::new(2, 4, 4, 64).unwrap(), RowBlocks::new(8, 4, 4, 64).unwrap(), top, "8 rows of B in blocks of 4"),
    ];
    for (a, b, level, why) in bad_abt {
        assert!(MatMulABt::new(ctx, a, b, level).is_err(), "{why}");
    }
    let bad_atb = [
        (RowBlocks::new(4, 2, 8, 32).unwrap(), RowBlocks::new(3, 8, 8, 32).unwrap(), "row counts differ"),
        (a, a, "Aᵀ has 8 rows, a ciphertext 4"),
    ];
    for (a, b, why) in bad_atb {
        assert!(MatMulAtB::new(ctx, a, b, top).is_err(), "{why}");
    }
    let abt = MatMulABt::new(ctx, a, a, top).unwrap();
    assert!(abt.apply(ctx, &ok, &low, &s.evk).is_err(), "operand level mismatch");
    assert!(abt.apply_many(ctx, &[], &s.evk).is_err(), "no operands");
    let atb = MatMulAtB::new(ctx, RowBlocks::new(4, 2, 8, 32).unwrap(), a, top).unwrap();
    assert!(atb.apply(ctx, &wide, &ok, &s.evk).is_err(), "operand slot mismatch");
}
