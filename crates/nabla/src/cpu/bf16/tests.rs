use super::*;

/// The paths this CPU can run: the fallback always, the others when detected.
fn paths() -> Vec<Path> {
    let mut out = vec![Path::Fallback];
    #[cfg(target_arch = "x86_64")]
    {
        let test = "every_path_computes_the_product_of_the_rounded_operands";
        if crate::testing::runs_here(
            std::arch::is_x86_feature_detected!("avx512bf16")
                && std::arch::is_x86_feature_detected!("avx512bw"),
            &format!("{test} (the AVX-512 BF16 path)"),
            "AVX-512 BF16",
        ) {
            out.push(Path::Avx512Bf16);
        }
        if crate::testing::runs_here(
            detect() == Path::Amx,
            &format!("{test} (the AMX path)"),
            "AMX-BF16",
        ) {
            out.push(Path::Amx);
        }
    }
    out
}

fn run(
    path: Path,
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    acc: bool,
    a: MatRef<f32>,
    b: MatRef<f32>,
) {
    // SAFETY: the test's buffers hold the operands at these strides.
    unsafe {
        match path {
            Path::Fallback => fallback(m, n, k, c.as_mut_ptr(), n as isize, acc, a, b),
            #[cfg(target_arch = "x86_64")]
            p => packed(
                p,
                m,
                n,
                k,
                c.as_mut_ptr(),
                n as isize,
                acc,
                Left::Strided(a),
                b,
            ),
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!(),
        }
    }
}

/// Every path, layout, edge size and depth (across the 512-deep blocks) against the f64
/// product of the bf16-rounded operands: they must agree to f32 summation error.
#[test]
fn every_path_computes_the_product_of_the_rounded_operands() {
    let mut state = 0x9e37_79b9_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state as f32 / u32::MAX as f32) * 2.0 - 1.0
    };
    let paths = paths();
    for &(m, n, k) in &[
        (1, 1, 1),
        (5, 7, 3),
        (32, 32, 32),
        (33, 65, 100),
        (64, 40, 600),
        (17, 96, 1100),
    ] {
        let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
        let b: Vec<f32> = (0..k * n).map(|_| next()).collect();
        for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
            let am = if a_t {
                MatRef {
                    ptr: a.as_ptr(),
                    rs: 1,
                    cs: m as isize,
                }
            } else {
                MatRef {
                    ptr: a.as_ptr(),
                    rs: k as isize,
                    cs: 1,
                }
            };
            let bm = if b_t {
                MatRef {
                    ptr: b.as_ptr(),
                    rs: 1,
                    cs: k as isize,
                }
            } else {
                MatRef {
                    ptr: b.as_ptr(),
                    rs: n as isize,
                    cs: 1,
                }
            };
            let at = |i: usize, p: usize| {
                f64::from(round_to_bf16(a[if a_t { p * m + i } else { i * k + p }]))
            };
            let bt = |p: usize, j: usize| {
                f64::from(round_to_bf16(b[if b_t { j * k + p } else { p * n + j }]))
            };
            let packed = PackedLeft::new(am, m, k);
            for &path in &paths {
                for acc in [false, true] {
                    let mut c = vec![0.5f32; m * n];
                    run(path, m, n, k, &mut c, acc, am, bm);
                    if let (Some(p), true) = (&packed, path == super::path()) {
                        // The same product from the operand packed once, on the pool.
                        let mut again = vec![0.5f32; m * n];
                        // SAFETY: as run's.
                        unsafe { gemm_packed(p, n, again.as_mut_ptr(), n as isize, acc, bm, true) };
                        assert_eq!(again, c, "packed left operand, {path:?} {m}x{n}x{k}");
                    }
                    for i in 0..m {
                        for j in 0..n {
                            let want: f64 = (0..k).map(|p| at(i, p) * bt(p, j)).sum::<f64>()
                                + if acc { 0.5 } else { 0.0 };
                            let got = f64::from(c[i * n + j]);
                            assert!(
                                (got - want).abs() <= 1e-5 * (k as f64).sqrt() + 1e-6 * want.abs(),
                                "{path:?} {m}x{n}x{k} a_t={a_t} b_t={b_t} acc={acc} at ({i}, {j}): {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}
