//! The convolution ops: hand-computed cases, shape errors, gradients against finite
//! differences, the fused affine map against the chain of ops, and the weight cache. Run
//! under [`ConvTuning::EAGER`], so that small shapes take the fast kernels too; the
//! algorithms are compared with each other in `cpu/conv/tests.rs`.

use super::*;
use crate::cpu::conv::{choose, ConvAlgo, Pass};
use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};

#[test]
fn conv2d_matches_a_hand_computed_case() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        // x = 1..16 as a 4x4 image, 2x2 kernel [[1,0],[0,-1]]: y[i,j] = x[i,j] - x[i+1,j+1] = -5
        let x = tensor(
            &(1..=16).map(|v| v as f64).collect::<Vec<_>>(),
            &[1, 1, 4, 4],
        )?;
        let w = tensor(&[1.0, 0.0, 0.0, -1.0], &[1, 1, 2, 2])?;
        let b = tensor(&[0.5], &[1])?;
        assert_close(&x.conv2d(&w, Some(&b), cfg(1, 0, 1, 1))?, &[-4.5; 9], 0.0)?;
        // stride 2, padding 1: windows at rows/cols -1, 1, 3; y = x[r,c] - x[r+1,c+1]
        let y = x.conv2d(&w, None, cfg(2, 1, 1, 1))?;
        assert_eq!(y.dims(), &[1, 1, 3, 3]);
        assert_close(
            &y,
            &[-1.0, -3.0, 0.0, -9.0, -5.0, 8.0, 0.0, 14.0, 16.0],
            0.0,
        )
    })
}

#[test]
fn conv2d_kernel_wider_than_a_1x1_image_sees_only_its_centre_tap() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        // A 5×5 kernel with padding 2 on a 1×1 image (GoogLeNet's 5×5 branch on its last
        // 1×1 maps): only the centre tap meets the pixel, y = 2·w[2][2] = 2·12 = 24.
        let x = tensor(&[2.0], &[1, 1, 1, 1])?;
        let w = tensor(
            &(0..25).map(|v| v as f64).collect::<Vec<_>>(),
            &[1, 1, 5, 5],
        )?;
        assert_close(&x.conv2d(&w, None, cfg(1, 2, 1, 1))?, &[24.0], 0.0)?;
        gradcheck(&[&[1, 2, 1, 1], &[3, 2, 5, 5]], |xs| {
            xs[0].conv2d(&xs[1], None, cfg(1, 2, 1, 1))
        })
    })
}

#[test]
fn conv2d_rejects_bad_shapes() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        let x = tensor(&[0.0; 16], &[1, 1, 4, 4])?;
        assert!(x
            .conv2d(&tensor(&[0.0; 8], &[1, 2, 2, 2])?, None, cfg(1, 0, 1, 1))
            .is_err());
        assert!(x
            .conv2d(&tensor(&[0.0; 25], &[1, 1, 5, 5])?, None, cfg(1, 0, 1, 1))
            .is_err());
        assert!(x
            .conv2d(&tensor(&[0.0; 4], &[1, 1, 2, 2])?, None, cfg(0, 0, 1, 1))
            .is_err());
        assert!(x
            .reshape(&[4, 4])?
            .conv2d(&tensor(&[0.0; 4], &[1, 1, 2, 2])?, None, cfg(1, 0, 1, 1))
            .is_err());
        Ok(())
    })
}

#[test]
fn conv_transpose2d_is_the_adjoint_of_conv2d() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        // <conv(x), y> = <x, conv_transpose(y)> for every x, y.
        crate::manual_seed(3);
        let x = Tensor::randn(&[2, 4, 7, 7], crate::DType::F64, &crate::Device::Cpu)?;
        let w = Tensor::randn(&[6, 2, 3, 3], crate::DType::F64, &crate::Device::Cpu)?;
        let c = x.conv2d(&w, None, cfg(2, 1, 1, 2))?;
        let y = Tensor::randn(c.dims(), crate::DType::F64, &crate::Device::Cpu)?;
        let t = y.conv_transpose2d(
            &w,
            None,
            ConvTranspose2dConfig {
                stride: 2,
                padding: 1,
                groups: 2,
                ..Default::default()
            },
        )?;
        assert_eq!(t.dims(), x.dims());
        let lhs = c.mul(&y)?.sum_all()?.to_scalar::<f64>()?;
        let rhs = x.mul(&t)?.sum_all()?.to_scalar::<f64>()?;
        assert!(
            (lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
        Ok(())
    })
}

#[test]
fn conv2d_gradients_match_finite_differences() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        gradcheck(&[&[2, 2, 5, 5], &[3, 2, 3, 3], &[3]], |x| {
            x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 0, 1, 1))
        })?;
        gradcheck(&[&[1, 2, 6, 5], &[2, 2, 3, 2]], |x| {
            x[0].conv2d(&x[1], None, cfg(2, 1, 1, 1))
        })?;
        gradcheck(&[&[1, 1, 7, 7], &[2, 1, 3, 3]], |x| {
            x[0].conv2d(&x[1], None, cfg(1, 2, 2, 1))
        })?;
        // A DCGAN layer's 4 × 4 stride-2 kernel: wider than its stride, so the patches are
        // built through the rows' stride phases (odd width: a short phase).
        gradcheck(&[&[2, 3, 6, 7], &[2, 3, 4, 4]], |x| {
            x[0].conv2d(&x[1], None, cfg(2, 1, 1, 1))
        })?;
        gradcheck(&[&[2, 4, 4, 4], &[6, 2, 3, 3], &[6]], |x| {
            x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 1, 1, 2))
        })?;
        gradcheck(&[&[2, 3, 3, 3], &[4, 3, 1, 1]], |x| {
            x[0].conv2d(&x[1], None, cfg(1, 0, 1, 1))
        })?;
        let nc = GradcheckOpts {
            non_contiguous: true,
            ..Default::default()
        };
        gradcheck_with(&[&[1, 2, 4, 4], &[2, 2, 2, 2]], nc, |x| {
            x[0].conv2d(&x[1], None, cfg(1, 1, 1, 1))
        })
    })
}

#[test]
fn batched_chunks_agree_with_one_image_at_a_time() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        // A batch larger than the thread count is processed in chunks of several images per
        // GEMM; each image's result must equal convolving it alone.
        crate::manual_seed(9);
        let dev = crate::Device::Cpu;
        let x = Tensor::randn(&[7, 4, 6, 5], crate::DType::F64, &dev)?;
        let w = Tensor::randn(&[6, 2, 3, 3], crate::DType::F64, &dev)?;
        let b = Tensor::randn(&[6], crate::DType::F64, &dev)?;
        let c = cfg(2, 1, 1, 2);
        let all = x.conv2d(&w, Some(&b), c)?;
        for i in 0..7 {
            let one = x.narrow(0, i, 1)?.conv2d(&w, Some(&b), c)?;
            assert_close(&all.narrow(0, i, 1)?, &one.to_vec::<f64>()?, 1e-12)?;
        }
        gradcheck(&[&[5, 2, 4, 4], &[3, 2, 3, 3], &[3]], |x| {
            x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 1, 1, 1))
        })?;
        gradcheck(&[&[5, 4, 3, 3], &[2, 4, 1, 1]], |x| {
            x[0].conv2d(&x[1], None, cfg(1, 0, 1, 1))
        })?;
        // Grouped convolution with several images per chunk (AlexNet's two towers).
        gradcheck(&[&[5, 4, 5, 5], &[6, 2, 3, 3], &[6]], |x| {
            x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 1, 1, 2))
        })?;
        // A large kernel with a large stride and padding (AlexNet's first layer, scaled down).
        gradcheck(&[&[3, 2, 13, 13], &[2, 2, 5, 5]], |x| {
            x[0].conv2d(&x[1], None, cfg(4, 2, 1, 1))
        })
    })
}

/// Strided kernels wider than the stride take im2col's phase-split path: against a
/// naive sum (ResNet's 7×7 stride-2 stem, scaled down; stride 3 with dilation 2; groups).
#[test]
fn strided_wide_kernels_match_a_naive_sum() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        crate::manual_seed(3);
        let dev = crate::Device::Cpu;
        // (input dims, cout, k, stride, padding, dilation, groups)
        let cases = [
            ([2, 3, 17, 19], 4, 7, 2, 3, 1, 1),
            ([1, 2, 16, 15], 3, 5, 3, 1, 2, 1),
            ([1, 4, 11, 12], 4, 3, 2, 0, 1, 2),
        ];
        for (xs, cout, k, st, pad, dil, groups) in cases {
            let x = Tensor::randn(&xs, crate::DType::F64, &dev)?;
            let cin_g = xs[1] / groups;
            let w = Tensor::randn(&[cout, cin_g, k, k], crate::DType::F64, &dev)?;
            let y = x.conv2d(&w, None, cfg(st, pad, dil, groups))?;
            let (xv, wv) = (x.to_vec::<f64>()?, w.to_vec::<f64>()?);
            let (oh, ow) = (y.dims()[2], y.dims()[3]);
            let mut want = vec![0.0; xs[0] * cout * oh * ow];
            for (i, v) in want.iter_mut().enumerate() {
                let (n, co, oy, ox) = (
                    i / (cout * oh * ow),
                    i / (oh * ow) % cout,
                    i / ow % oh,
                    i % ow,
                );
                let grp = co / (cout / groups);
                for c in 0..cin_g {
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (oy * st + ky * dil) as isize - pad as isize;
                            let ix = (ox * st + kx * dil) as isize - pad as isize;
                            if iy < 0 || ix < 0 || iy >= xs[2] as isize || ix >= xs[3] as isize {
                                continue;
                            }
                            let xi = ((n * xs[1] + grp * cin_g + c) * xs[2] + iy as usize) * xs[3]
                                + ix as usize;
                            *v += xv[xi] * wv[((co * cin_g + c) * k + ky) * k + kx];
                        }
                    }
                }
            }
            assert_close(&y, &want, 1e-12)?;
        }
        Ok(())
    })
}

/// Inference takes cached weight transforms: the result equals the recorded (uncached)
/// path's, and stays right after the weight is written in place (a stale transform would
/// give the old result) and for a second model of the same shape.
#[test]
fn cached_winograd_weights_follow_writes_to_the_weight() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        crate::manual_seed(9);
        let dev = crate::Device::Cpu;
        let x = Tensor::randn(&[1, 16, 12, 12], crate::DType::F32, &dev)?;
        let w = Tensor::randn(&[16, 16, 3, 3], crate::DType::F32, &dev)?.requires_grad();
        let c = cfg(1, 1, 1, 1);
        let g = forward_geometry("conv2d", &x, &w, None, (1, 1), (1, 1), (1, 1), 1)?;
        assert!(matches!(
            choose(&g, Pass::Inference, crate::DType::F32),
            ConvAlgo::Winograd(_)
        ));
        let recorded = |w: &Tensor| x.conv2d(w, None, c)?.detach().to_vec::<f64>();
        let inferred = |w: &Tensor| crate::no_grad(|| x.conv2d(w, None, c))?.to_vec::<f64>();
        for _ in 0..2 {
            assert_close(
                &Tensor::from_vec(inferred(&w)?, &[2304], &dev)?,
                &recorded(&w)?,
                1e-5,
            )?;
        }
        w.update_data::<f32>(|v| v.iter_mut().for_each(|e| *e = -*e * 0.5))?;
        assert_close(
            &Tensor::from_vec(inferred(&w)?, &[2304], &dev)?,
            &recorded(&w)?,
            1e-5,
        )?;
        let w2 = Tensor::randn(&[16, 16, 3, 3], crate::DType::F32, &dev)?;
        assert_close(
            &Tensor::from_vec(inferred(&w2)?, &[2304], &dev)?,
            &recorded(&w2.requires_grad())?,
            1e-5,
        )?;
        Ok(())
    })
}

/// `conv2d_affine` against `conv2d` followed by the same map as separate ops, without
/// recording: Winograd F(4×4), F(2×2) with panels and with a block per image, the stride
/// phases (7×7 and 3×3 at stride 2) and the weight panels (3×3 stride 2 with a partial
/// panel, 1×1 at strides 2 and 1), with and without bias, residual and ReLU. With recording, the chain's
/// gradients; and a scale or residual of the wrong shape is refused.
#[test]
fn conv2d_affine_agrees_with_the_chain_of_ops() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        crate::manual_seed(41);
        let dev = crate::Device::Cpu;
        let f32_ = crate::DType::F32;
        for (xs, cout, k, stride, pad) in [
            ([1, 16, 28, 28], 32, 3, 1, 1),
            ([1, 24, 13, 13], 40, 3, 1, 1),
            ([2, 16, 9, 9], 16, 3, 1, 1),
            ([1, 3, 40, 40], 64, 7, 2, 3),
            ([1, 16, 28, 28], 24, 3, 2, 1),
            ([1, 16, 20, 20], 32, 3, 2, 1),
            ([1, 24, 15, 15], 72, 3, 2, 1),
            ([1, 32, 14, 14], 64, 1, 2, 0),
            ([1, 32, 8, 8], 48, 1, 1, 0),
        ] {
            let x = Tensor::randn(&xs, f32_, &dev)?;
            let w = Tensor::randn(&[cout, xs[1], k, k], f32_, &dev)?;
            let b = Tensor::randn(&[cout], f32_, &dev)?;
            let (scale, shift) = (
                Tensor::randn(&[cout], f32_, &dev)?,
                Tensor::randn(&[cout], f32_, &dev)?,
            );
            let c = cfg(stride, pad, 1, 1);
            let r = Tensor::randn(x.conv2d(&w, None, c)?.dims(), f32_, &dev)?;
            for (bias, residual, relu) in [
                (None, None, true),
                (Some(&b), None, false),
                (Some(&b), Some(&r), true),
                (None, Some(&r), false),
            ] {
                let per_channel = [1, cout, 1, 1];
                let mut chain = x
                    .conv2d(&w, bias, c)?
                    .mul(&scale.reshape(&per_channel)?)?
                    .add(&shift.reshape(&per_channel)?)?;
                if let Some(r) = residual {
                    chain = chain.add(r)?;
                }
                let want = if relu { chain.relu()? } else { chain };
                let affine = ChannelAffine {
                    scale: &scale,
                    shift: &shift,
                    residual,
                    relu,
                };
                let got = crate::no_grad(|| x.conv2d_affine(&w, bias, c, affine))?;
                assert_eq!(got.dims(), want.dims());
                assert_close(&got, &want.to_vec::<f64>()?, 1e-4)?;
            }
        }
        let shapes: [&[usize]; 6] = [
            &[1, 2, 5, 5],
            &[3, 2, 3, 3],
            &[3],
            &[3],
            &[3],
            &[1, 3, 5, 5],
        ];
        gradcheck(&shapes, |t| {
            let affine = ChannelAffine {
                scale: &t[3],
                shift: &t[4],
                residual: Some(&t[5]),
                relu: false,
            };
            t[0].conv2d_affine(&t[1], Some(&t[2]), cfg(1, 1, 1, 1), affine)
        })?;
        let x = Tensor::randn(&[1, 2, 5, 5], f32_, &dev)?;
        let w = Tensor::randn(&[3, 2, 3, 3], f32_, &dev)?;
        let (short, three) = (
            Tensor::randn(&[2], f32_, &dev)?,
            Tensor::randn(&[3], f32_, &dev)?,
        );
        let bad_residual = Tensor::randn(&[1, 3, 4, 5], f32_, &dev)?;
        for (scale, residual) in [(&short, None), (&three, Some(&bad_residual))] {
            let affine = ChannelAffine {
                scale,
                shift: &three,
                residual,
                relu: true,
            };
            let err = x
                .conv2d_affine(&w, None, cfg(1, 1, 1, 1), affine)
                .unwrap_err();
            assert!(err.to_string().contains("conv2d_affine"), "{err}");
        }
        Ok(())
    })
}

#[test]
fn conv1d_and_transpose_gradients_match_finite_differences() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        gradcheck(&[&[2, 2, 7], &[4, 1, 3], &[4]], |x| {
            x[0].conv1d(&x[1], Some(&x[2]), cfg(2, 1, 1, 2))
        })?;
        let tcfg = ConvTranspose2dConfig {
            stride: 2,
            padding: 1,
            output_padding: 1,
            dilation: 1,
            groups: 1,
        };
        gradcheck(&[&[1, 2, 3, 3], &[2, 3, 3, 3], &[3]], |x| {
            x[0].conv_transpose2d(&x[1], Some(&x[2]), tcfg)
        })?;
        let gcfg = ConvTranspose2dConfig {
            groups: 2,
            ..Default::default()
        };
        gradcheck(&[&[1, 4, 3, 3], &[4, 1, 2, 2]], |x| {
            x[0].conv_transpose2d(&x[1], None, gcfg)
        })
    })
}
