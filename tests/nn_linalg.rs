//! Encrypted linear algebra against ndarray on random data.

mod common;

use common::Setup;
use hetl::ckks::Ciphertext;
use hetl::nn::linalg::{MatVec, pack_replicated, rotate_and_sum, rotate_and_sum_steps};
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
