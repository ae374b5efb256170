//! Mixed precision (`nabla::autocast`): inside a BF16 scope the products of matmul, linear,
//! the convolutions and the recurrent scan take bf16 operands and f32 sums. Each op's
//! output and input gradients are checked against the same op in f64 (the reference): they
//! must agree within bf16's precision, and must differ from plain f32 (so that a scope that
//! did nothing would fail the test).

use nabla::{
    autocast, autocast_dtype, Conv2dConfig, ConvTranspose2dConfig, DType, Result, ScanCell, Tensor,
};

use nabla::testing::randn as input;

/// The output of `f` and the gradients of `Σ f(x)·r` with respect to each input, in f64.
fn run(
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    xs: &[Tensor],
    dtype: DType,
) -> Result<Vec<Vec<f64>>> {
    let leaves: Vec<Tensor> = xs
        .iter()
        .map(|x| Ok(x.to_dtype(dtype)?.requires_grad()))
        .collect::<Result<_>>()?;
    let y = f(&leaves)?;
    let r = input(y.dims(), 99)?.to_dtype(dtype)?;
    let grads = y.mul(&r)?.sum_all()?.backward()?;
    let mut out = vec![y.to_dtype(DType::F64)?.to_vec::<f64>()?];
    for leaf in &leaves {
        out.push(
            grads
                .get(leaf)
                .expect("every input has a gradient")
                .to_dtype(DType::F64)?
                .to_vec::<f64>()?,
        );
    }
    Ok(out)
}

/// Largest difference relative to the largest reference value.
fn relative(got: &[f64], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
    got.iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()))
        / scale
}

/// Checks `f` on inputs of `shapes`: under autocast BF16 within `2^-8`-level error of f64
/// (a few roundings: `tol`), and measurably different from f32 in at least the output.
fn check(name: &str, shapes: &[&[usize]], f: impl Fn(&[Tensor]) -> Result<Tensor>) -> Result<()> {
    let xs: Vec<Tensor> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| input(s, i as u64 + 1))
        .collect::<Result<_>>()?;
    let reference = run(&f, &xs, DType::F64)?;
    let full = run(&f, &xs, DType::F32)?;
    let mixed = autocast(DType::BF16, || run(&f, &xs, DType::F32))??;
    let tol = 2e-2;
    for (i, ((m, r), f32_part)) in mixed.iter().zip(&reference).zip(&full).enumerate() {
        let what = if i == 0 {
            "output".to_string()
        } else {
            format!("gradient {}", i - 1)
        };
        let err = relative(m, r);
        assert!(
            err < tol,
            "{name}: {what} off by {err:.2e} relative under bf16 (tolerance {tol})"
        );
        assert!(
            relative(f32_part, r) < 1e-4,
            "{name}: the f32 {what} is off"
        );
    }
    let diff = relative(&mixed[0], &full[0]);
    assert!(
        diff > 1e-5,
        "{name}: the bf16 output equals the f32 one ({diff:.1e}): autocast had no effect"
    );
    Ok(())
}

#[test]
fn matmul_and_linear_in_bf16_agree_with_f64() -> Result<()> {
    check("matmul", &[&[7, 33], &[33, 20]], |x| x[0].matmul(&x[1]))?;
    check("batched matmul", &[&[3, 5, 40], &[40, 6]], |x| {
        x[0].matmul(&x[1])
    })?;
    check("linear", &[&[10, 50], &[30, 50], &[30]], |x| {
        x[0].linear(&x[1], Some(&x[2]))
    })?;
    check("linear, many rows", &[&[70, 64], &[20, 64]], |x| {
        x[0].linear(&x[1], None)
    })
}

#[test]
fn convolutions_in_bf16_agree_with_f64_on_every_kernel_family() -> Result<()> {
    let cfg = |stride, padding, groups| Conv2dConfig {
        stride,
        padding,
        dilation: 1,
        groups,
    };
    // 3×3 stride 1 with 16 channels: the Winograd geometry in f32.
    check("conv 3x3", &[&[2, 16, 8, 8], &[16, 16, 3, 3], &[16]], |x| {
        x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 1, 1))
    })?;
    // 5×5 with 16 outputs: the direct kernels' geometry in f32.
    check("conv 5x5", &[&[3, 6, 14, 14], &[16, 6, 5, 5]], |x| {
        x[0].conv2d(&x[1], None, cfg(1, 0, 1))
    })?;
    check(
        "conv strided grouped",
        &[&[2, 4, 9, 9], &[6, 2, 3, 3]],
        |x| x[0].conv2d(&x[1], None, cfg(2, 1, 2)),
    )?;
    check("conv 1x1", &[&[2, 8, 5, 5], &[12, 8, 1, 1]], |x| {
        x[0].conv2d(&x[1], None, cfg(1, 0, 1))
    })?;
    let tcfg = ConvTranspose2dConfig {
        stride: 2,
        padding: 1,
        output_padding: 1,
        dilation: 1,
        groups: 1,
    };
    check("conv transpose", &[&[2, 8, 5, 5], &[8, 4, 3, 3]], |x| {
        x[0].conv_transpose2d(&x[1], None, tcfg)
    })
}

#[test]
fn the_recurrent_scan_in_bf16_agrees_with_f64() -> Result<()> {
    let (steps, batch, hidden) = (6, 3, 16);
    check(
        "lstm scan",
        &[
            &[steps, batch, 4 * hidden],
            &[4 * hidden, hidden],
            &[batch, hidden],
            &[batch, hidden],
        ],
        |x| {
            let xg = x[0].mul_scalar(0.3)?;
            let w = x[1].mul_scalar(0.2)?;
            Tensor::recurrent_scan(
                ScanCell::Lstm,
                &xg,
                &w,
                None,
                &x[2],
                Some(&x[3]),
                None,
                false,
            )
        },
    )
}

#[test]
fn a_backward_pass_keeps_its_forward_pass_precision() -> Result<()> {
    let a = input(&[9, 40], 1)?.to_dtype(DType::F32)?.requires_grad();
    let b = input(&[40, 11], 2)?.to_dtype(DType::F32)?;
    let grad_of = |inside: bool| -> Result<Vec<f32>> {
        let y = autocast(DType::BF16, || a.matmul(&b))??;
        let grads = if inside {
            autocast(DType::BF16, || y.sum_all()?.backward())??
        } else {
            y.sum_all()?.backward()?
        };
        grads.get(&a).expect("a gradient").to_vec::<f32>()
    };
    assert_eq!(grad_of(false)?, grad_of(true)?);
    Ok(())
}

#[test]
fn scopes_nest_restore_and_refuse_other_dtypes() -> Result<()> {
    assert_eq!(autocast_dtype(), None);
    autocast(DType::BF16, || {
        assert_eq!(autocast_dtype(), Some(DType::BF16));
        autocast(DType::F32, || assert_eq!(autocast_dtype(), None)).unwrap();
        assert_eq!(autocast_dtype(), Some(DType::BF16));
    })?;
    assert_eq!(autocast_dtype(), None);
    let err = autocast(DType::F16, || ()).unwrap_err().to_string();
    assert!(err.contains("f16") && err.contains("bf16"), "{err}");
    // f64 products are never narrowed.
    let x = input(&[4, 30], 3)?;
    let exact = x.matmul(&x.t()?)?.to_vec::<f64>()?;
    assert_eq!(
        autocast(DType::BF16, || x.matmul(&x.t()?))??.to_vec::<f64>()?,
        exact
    );
    Ok(())
}
