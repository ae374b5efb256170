use super::*;

/// Test values: a fixed pattern of small multiples of 1/16.
fn value(i: usize) -> f32 {
    ((i * 7919 % 97) as f32 - 48.0) / 16.0
}

/// Asserts that `c` (`m × n`, row stride `ldc`) holds `a · b` for `a(i, p)` and `b`
/// (`k × n`, row stride `ldb`), and that the column after each row was left alone.
fn assert_naive_product(
    (m, n, k): (usize, usize, usize),
    a: impl Fn(usize, usize) -> f32,
    (b, ldb): (&[f32], usize),
    (c, ldc): (&[f32], usize),
) {
    for i in 0..m {
        for j in 0..n {
            let want: f32 = (0..k).map(|p| a(i, p) * b[p * ldb + j]).sum();
            let got = c[i * ldc + j];
            assert!(
                (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                "{m}×{n}×{k} ({i}, {j}): {got} vs {want}"
            );
        }
        assert!(c[i * ldc + n].is_nan(), "{m}×{n}×{k}: wrote past the row");
    }
}

/// The transposed-operand product against a naive one: row counts that need 1 to 4
/// vectors and more than one block of 64, column counts around the 6-column blocks
/// (every rest from 1 to 5 columns), strides wider than the rows, and k = 0.
#[test]
fn skinny_gemm_tn_matches_a_naive_product() {
    if !crate::testing::runs_here(
        supported(),
        "skinny_gemm_tn_matches_a_naive_product",
        "AVX-512",
    ) {
        return;
    }
    for &(m, n, k) in &[
        (1, 1, 1),
        (16, 7, 5),
        (20, 49, 33),
        (64, 8, 8),
        (130, 13, 64),
        (47, 6, 3),
        (33, 16, 12),
        (17, 9, 4),
        (3, 5, 0),
    ] {
        let (lda, ldb, ldc) = (m + 3, n + 2, n + 1);
        let at: Vec<f32> = (0..k.max(1) * lda).map(value).collect();
        let b: Vec<f32> = (0..k.max(1) * ldb).map(|i| value(i + 11)).collect();
        let mut c = vec![f32::NAN; m * ldc];
        let rows = |data, ld| Rows { data, ld };
        skinny_gemm_tn(m, n, k, rows(&at, lda), rows(&b, ldb), &mut c, ldc, &b);
        let a = |i: usize, p: usize| at[p * lda + i];
        assert_naive_product((m, n, k), a, (&b, ldb), (&c, ldc));
    }
}

/// Against a naive product, for every column count's vector count and masks, row counts
/// that are no multiple of the row blocks, strides wider than the rows, and k = 0.
#[test]
fn skinny_gemm_matches_a_naive_product() {
    if !crate::testing::runs_here(
        supported(),
        "skinny_gemm_matches_a_naive_product",
        "AVX-512",
    ) {
        return;
    }
    for &(m, n, k) in &[
        (1, 1, 1),
        (9, 16, 5),
        (13, 17, 33),
        (25, 33, 8),
        (7, 49, 64),
        (14, 64, 3),
        (3, 5, 0),
    ] {
        let (lda, ldb, ldc) = (k + 3, n + 2, n + 1);
        let a: Vec<f32> = (0..m * lda).map(value).collect();
        let b: Vec<f32> = (0..k.max(1) * ldb).map(|i| value(i + 11)).collect();
        let mut c = vec![f32::NAN; m * ldc];
        let rows = |data, ld| Rows { data, ld };
        skinny_gemm(m, n, k, rows(&a, lda), rows(&b, ldb), &mut c, ldc);
        let a = |i: usize, p: usize| a[i * lda + p];
        assert_naive_product((m, n, k), a, (&b, ldb), (&c, ldc));
    }
}
