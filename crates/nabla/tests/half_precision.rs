//! BF16 and F16 tensors against F32: every op family computed in a 16-bit dtype must agree
//! with the same op in F32 on the same (rounded) inputs within the format's precision, and
//! gradients must flow through `to_dtype` and through the half-precision ops.

use half::{bf16, f16};
use nabla::{Conv2dConfig, DType, Device, Pool2dConfig, Result, RunningStats, Tensor};

const HALVES: [DType; 2] = [DType::BF16, DType::F16];

/// Half the distance from 1 to the next value: the largest relative error of one rounding.
fn unit_roundoff(dtype: DType) -> f64 {
    match dtype {
        DType::BF16 => 2f64.powi(-8),
        DType::F16 => 2f64.powi(-11),
        _ => unreachable!("only 16-bit dtypes are compared here"),
    }
}

/// Seeded normal inputs of `shape`, already representable in `dtype`: the F32 reference and
/// the 16-bit op see the same numbers, so only the op's own rounding differs.
fn input(shape: &[usize], seed: u64, dtype: DType) -> Result<Tensor> {
    let mut rng = nabla::Rng::new(seed);
    Tensor::normal_with(&mut rng, 0.0, 1.0, shape, dtype, &Device::Cpu)
}

/// [`input`] in `[0.5, ∞)`, the domain of `log`, `sqrt` and a divisor.
fn positive(shape: &[usize], seed: u64, dtype: DType) -> Result<Tensor> {
    let mut rng = nabla::Rng::new(seed);
    Tensor::normal_with(&mut rng, 0.0, 1.0, shape, DType::F64, &Device::Cpu)?
        .abs()?
        .add_scalar(0.5)?
        .to_dtype(dtype)
}

/// Runs `f` on 16-bit inputs and on their F32 copies; asserts the result keeps the 16-bit
/// dtype (or I64) and agrees within `rounds` roundings, relative to the result's scale.
fn check(
    name: &str,
    shapes: &[&[usize]],
    rounds: f64,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
) -> Result<()> {
    check_on(input, name, shapes, rounds, f)
}

/// [`check`] with inputs drawn by `draw`.
fn check_on(
    draw: fn(&[usize], u64, DType) -> Result<Tensor>,
    name: &str,
    shapes: &[&[usize]],
    rounds: f64,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
) -> Result<()> {
    for dtype in HALVES {
        let xs: Vec<Tensor> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| draw(s, 7 + i as u64, dtype))
            .collect::<Result<_>>()?;
        let refs: Vec<Tensor> = xs
            .iter()
            .map(|x| x.to_dtype(DType::F32))
            .collect::<Result<_>>()?;
        let (got, want) = (f(&xs)?, f(&refs)?);
        if want.dtype() == DType::F32 {
            assert_eq!(got.dtype(), dtype, "{name}: result dtype");
        } else {
            assert_eq!(got.dtype(), want.dtype(), "{name}: result dtype");
        }
        assert_eq!(got.dims(), want.dims(), "{name}: result shape");
        let (got, want) = (got.to_vec::<f64>()?, want.to_vec::<f64>()?);
        let scale = want.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
        let tol = rounds * unit_roundoff(dtype);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= tol * w.abs().max(scale * 1e-2) || g == w,
                "{name} in {dtype}: element {i} is {g}, f32 gives {w} (tolerance {tol} relative)"
            );
        }
    }
    Ok(())
}

#[test]
fn elementwise_ops_agree_with_f32() -> Result<()> {
    let (a, b): (&[usize], &[usize]) = (&[4, 5], &[5]);
    check("add", &[a, b], 1.0, |x| x[0].add(&x[1]))?;
    check("sub", &[a, a], 1.0, |x| x[0].sub(&x[1]))?;
    check("mul", &[a, b], 1.0, |x| x[0].mul(&x[1]))?;
    check_on(positive, "div", &[a, a], 1.0, |x| x[0].div(&x[1]))?;
    check("exp", &[a], 1.0, |x| x[0].exp())?;
    check_on(positive, "log", &[a], 1.0, |x| x[0].log())?;
    check_on(positive, "sqrt", &[a], 1.0, |x| x[0].sqrt())?;
    check("tanh", &[a], 1.0, |x| x[0].tanh())?;
    check("sigmoid", &[a], 1.0, |x| x[0].sigmoid())?;
    check("relu", &[a], 1.0, |x| x[0].relu())?;
    check("gelu", &[a], 1.0, |x| x[0].gelu())?;
    check("maximum", &[a, a], 1.0, |x| x[0].maximum(&x[1]))?;
    check("clamp", &[a], 1.0, |x| x[0].clamp(-0.5, 0.5))?;
    check("mul_scalar", &[a], 1.0, |x| x[0].mul_scalar(3.0))?;
    check("gt", &[a, a], 0.0, |x| x[0].gt(&x[1]))?;
    check("where_cond", &[a, a], 0.0, |x| {
        Tensor::where_cond(&x[0].gt(&x[1])?, &x[0], &x[1])
    })
}

#[test]
fn reductions_agree_with_f32_and_accumulate_in_f32() -> Result<()> {
    let s: &[usize] = &[6, 7, 5];
    check("sum", &[s], 1.0, |x| x[0].sum(&[1]))?;
    check("mean_all", &[s], 2.0, |x| x[0].mean_all())?;
    check("max", &[s], 0.0, |x| x[0].max(&[0, 2]))?;
    check("var", &[s], 4.0, |x| x[0].var(&[2], true))?;
    check("logsumexp", &[s], 2.0, |x| x[0].logsumexp(&[1]))?;
    check("argmax", &[s], 0.0, |x| x[0].argmax(1))?;
    for dtype in HALVES {
        // 4096 ones: summed in 16 bits the total would stall at 256 (bf16) or 2048 (f16).
        let ones = Tensor::ones(&[4096], dtype, &Device::Cpu);
        assert_eq!(ones.sum_all()?.to_scalar::<f64>()?, 4096.0);
    }
    Ok(())
}

#[test]
fn matmul_and_conv2d_agree_with_f32() -> Result<()> {
    check("matmul", &[&[17, 33], &[33, 9]], 1.0, |x| {
        x[0].matmul(&x[1])
    })?;
    check("batched matmul", &[&[2, 5, 8], &[8, 3]], 1.0, |x| {
        x[0].matmul(&x[1])
    })?;
    check("linear", &[&[6, 10], &[4, 10], &[4]], 1.0, |x| {
        x[0].linear(&x[1], Some(&x[2]))
    })?;
    let cfg = Conv2dConfig {
        padding: 1,
        ..Default::default()
    };
    check("conv2d", &[&[2, 3, 9, 9], &[4, 3, 3, 3], &[4]], 1.0, |x| {
        x[0].conv2d(&x[1], Some(&x[2]), cfg)
    })?;
    check("max_pool2d", &[&[2, 3, 8, 8]], 0.0, |x| {
        x[0].max_pool2d(Pool2dConfig::new(2))
    })?;
    check("avg_pool2d", &[&[2, 3, 8, 8]], 1.0, |x| {
        x[0].avg_pool2d(Pool2dConfig::new(2))
    })
}

#[test]
fn softmax_and_cross_entropy_agree_with_f32() -> Result<()> {
    check("softmax", &[&[5, 11]], 1.0, |x| x[0].softmax(1))?;
    check("log_softmax", &[&[5, 11]], 1.0, |x| x[0].log_softmax(1))?;
    let targets = Tensor::from_slice(&[0i64, 3, 10, 2, 7], &[5], &Device::Cpu)?;
    check("cross_entropy", &[&[5, 11]], 1.0, |x| {
        x[0].cross_entropy(&targets, 0.0)
    })?;
    check("cross_entropy smoothed", &[&[5, 11]], 1.0, |x| {
        x[0].cross_entropy(&targets, 0.1)
    })
}

#[test]
fn batch_norm_updates_half_precision_running_statistics() -> Result<()> {
    for dtype in HALVES {
        let x = input(&[4, 3, 5, 5], 3, dtype)?;
        let (mean, var) = (
            Tensor::zeros(&[3], dtype, &Device::Cpu),
            Tensor::ones(&[3], dtype, &Device::Cpu),
        );
        let (mean32, var32) = (
            Tensor::zeros(&[3], DType::F32, &Device::Cpu),
            Tensor::ones(&[3], DType::F32, &Device::Cpu),
        );
        let stats = |mean, var| RunningStats {
            mean,
            var,
            momentum: 0.1,
        };
        let y = x.batch_norm(Some(stats(&mean, &var)), None, None, true, 1e-5)?;
        let y32 = x.to_dtype(DType::F32)?.batch_norm(
            Some(stats(&mean32, &var32)),
            None,
            None,
            true,
            1e-5,
        )?;
        assert_eq!(y.dtype(), dtype);
        assert_eq!(mean.dtype(), dtype);
        let tol = 2.0 * unit_roundoff(dtype);
        for (a, b) in [(&y, &y32), (&mean, &mean32), (&var, &var32)] {
            for (g, w) in a.to_vec::<f64>()?.iter().zip(b.to_vec::<f64>()?) {
                assert!((g - w).abs() <= tol * w.abs().max(0.1), "{g} vs {w}");
            }
        }
        assert!(mean.to_vec::<f64>()?.iter().any(|&m| m != 0.0));
    }
    Ok(())
}

#[test]
fn gradient_flows_through_to_dtype_in_the_source_dtype() -> Result<()> {
    for dtype in HALVES {
        // y = Σ 3·x, computed in 16 bits from an F32 leaf: dy/dx = 3 exactly, in F32.
        let x = Tensor::from_slice(&[0.5f32, -1.25, 2.0], &[3], &Device::Cpu)?.requires_grad();
        let grads = x.to_dtype(dtype)?.mul_scalar(3.0)?.sum_all()?.backward()?;
        let gx = grads.get(&x).expect("x has a gradient");
        assert_eq!(gx.dtype(), DType::F32);
        assert_eq!(gx.to_vec::<f32>()?, vec![3.0, 3.0, 3.0]);
        // And back: a 16-bit leaf through F32 gets a 16-bit gradient.
        let h = Tensor::from_slice(&[1.5f32, -2.0], &[2], &Device::Cpu)?
            .to_dtype(dtype)?
            .requires_grad();
        let grads = h.to_dtype(DType::F32)?.sqr()?.sum_all()?.backward()?;
        let gh = grads.get(&h).expect("h has a gradient");
        assert_eq!(gh.dtype(), dtype);
        assert_eq!(gh.to_vec::<f32>()?, vec![3.0, -4.0]);
    }
    Ok(())
}

#[test]
fn gradients_of_half_precision_ops_match_f32() -> Result<()> {
    for dtype in HALVES {
        let (x, w) = (
            input(&[2, 3, 6, 6], 1, dtype)?,
            input(&[4, 3, 3, 3], 2, dtype)?,
        );
        let loss = |x: &Tensor, w: &Tensor| -> Result<Vec<Tensor>> {
            let (x, w) = (x.clone().requires_grad(), w.clone().requires_grad());
            let y = x.conv2d(&w, None, Conv2dConfig::default())?.relu()?;
            let logits = y.flatten(1, -1)?.matmul(&y.flatten(1, -1)?.t()?)?;
            let targets = Tensor::from_slice(&[1i64, 0], &[2], &Device::Cpu)?;
            let g = logits
                .mul_scalar(0.01)?
                .cross_entropy(&targets, 0.0)?
                .backward()?;
            Ok(vec![g.get(&x).unwrap().clone(), g.get(&w).unwrap().clone()])
        };
        let got = loss(&x, &w)?;
        let want = loss(&x.to_dtype(DType::F32)?, &w.to_dtype(DType::F32)?)?;
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.dtype(), dtype);
            let (g, w) = (g.to_vec::<f64>()?, w.to_vec::<f64>()?);
            let scale = w.iter().fold(0f64, |m, v| m.max(v.abs()));
            // Several roundings of intermediate results (conv, relu, matmul) in 16 bits.
            let tol = 16.0 * unit_roundoff(dtype) * scale;
            for (a, b) in g.iter().zip(&w) {
                assert!((a - b).abs() <= tol, "{dtype}: gradient {a} vs f32 {b}");
            }
        }
    }
    Ok(())
}

#[test]
fn construction_in_16_bit_dtypes() -> Result<()> {
    let dev = Device::Cpu;
    let b = Tensor::from_vec(vec![bf16::from_f32(1.5), bf16::from_f32(-3.0)], &[2], &dev)?;
    assert_eq!(b.dtype(), DType::BF16);
    assert_eq!(b.to_vec::<f32>()?, vec![1.5, -3.0]);
    let h = Tensor::from_slice(&[f16::from_f32(0.25)], &[1], &dev)?;
    assert_eq!(h.dtype(), DType::F16);
    assert_eq!(h.to_scalar::<f64>()?, 0.25);
    for dtype in HALVES {
        assert_eq!(
            Tensor::zeros(&[3], dtype, &dev).to_vec::<f32>()?,
            vec![0.0; 3]
        );
        assert_eq!(
            Tensor::ones(&[2], dtype, &dev).to_vec::<f32>()?,
            vec![1.0; 2]
        );
        nabla::manual_seed(5);
        let r = Tensor::randn(&[64], dtype, &dev)?;
        nabla::manual_seed(5);
        let r32 = Tensor::randn(&[64], DType::F32, &dev)?.to_dtype(dtype)?;
        assert_eq!(r.dtype(), dtype);
        assert_eq!(r.to_vec::<f32>()?, r32.to_vec::<f32>()?);
        // Round trips through every other float dtype keep representable values.
        let v = Tensor::from_slice(&[0.5f32, -2.0, 1024.0], &[3], &dev)?.to_dtype(dtype)?;
        for other in [DType::F32, DType::F64, DType::BF16, DType::F16] {
            assert_eq!(
                v.to_dtype(other)?.to_dtype(dtype)?.to_vec::<f32>()?,
                vec![0.5, -2.0, 1024.0]
            );
        }
    }
    Ok(())
}

#[test]
fn mixing_16_bit_and_other_dtypes_is_an_error() -> Result<()> {
    let dev = Device::Cpu;
    let b = Tensor::ones(&[2], DType::BF16, &dev);
    let f = Tensor::ones(&[2], DType::F32, &dev);
    let h = Tensor::ones(&[2], DType::F16, &dev);
    for (x, y) in [(&b, &f), (&f, &b), (&b, &h)] {
        let err = x.add(y).unwrap_err().to_string();
        assert!(err.contains("dtype mismatch"), "{err}");
    }
    assert!(b.matmul(&f.reshape(&[2, 1])?).is_err());
    Ok(())
}
