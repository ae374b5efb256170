//! The CPU convolution algorithms against each other and against im2col, on the small
//! shapes that [`ConvTuning::EAGER`] sends down every path; the op-level tests are in
//! `ops/conv/tests.rs`.

use super::winograd::{self, conv3x3, transform_weights_f4, Weights};
use super::{
    backward_data, backward_weight, choose, direct, forward, im2col, ConvAlgo, ConvTuning,
    Epilogue, Pass,
};
use crate::cpu::skinny;
use crate::dtype::Float;
use crate::ops::conv::{cfg, forward_geometry, square_geometry, Geometry};
use crate::testing::{assert_close, gradcheck};
use crate::{DType, Result, Tensor};

/// The algorithm of a recorded forward pass that takes no weight gradient.
fn forward_algo(g: &Geometry, dtype: DType) -> ConvAlgo {
    choose(g, Pass::Forward { weight_grad: false }, dtype)
}

/// The Winograd plan of a recorded forward pass, when it takes one.
fn forward_winograd(g: &Geometry) -> Option<winograd::Plan> {
    match forward_algo(g, DType::F32) {
        ConvAlgo::Winograd(p) => Some(p),
        _ => None,
    }
}

/// The Winograd plan of inference in f32, when it takes one.
fn inference_winograd(g: &Geometry) -> Option<winograd::Plan> {
    match choose(g, Pass::Inference, DType::F32) {
        ConvAlgo::Winograd(p) => Some(p),
        _ => None,
    }
}

/// The forward pass by the algorithm [`choose`] picks.
fn conv_forward<T: Float>(x: &[T], w: &[T], b: Option<&[T]>, g: &Geometry) -> Vec<T> {
    forward(forward_algo(g, T::DTYPE), x, w, b, g).0
}

/// The input gradient by the algorithm [`choose`] picks.
fn conv_backward_data<T: Float>(dy: &[T], w: &[T], g: &Geometry) -> Vec<T> {
    backward_data(choose(g, Pass::BackwardData, T::DTYPE), dy, w, g)
}

/// The weight gradient by the algorithm [`choose`] picks.
fn conv_backward_weight<T: Float>(
    x: &[T],
    dy: &[T],
    g: &Geometry,
    kept: Option<(&[T], usize)>,
) -> Vec<T> {
    backward_weight(choose(g, Pass::BackwardWeight, T::DTYPE), x, dy, g, kept)
}

/// Asserts `|a[i] − b[i]| < tol·(1 + |b[i]|)` for every element, naming `case` and `i`
/// when one is not.
fn assert_slices_close<T: Float + std::fmt::Display>(
    a: &[T],
    b: &[T],
    tol: f64,
    case: &dyn std::fmt::Debug,
) {
    assert_eq!(a.len(), b.len());
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        let (pf, qf) = (p.to_f64(), q.to_f64());
        assert!(
            (pf - qf).abs() < tol * (1.0 + qf.abs()),
            "{case:?} [{i}] {p} vs {q}"
        );
    }
}

/// The direct f32 kernels against im2col: LeNet-5's conv2, padding, 32 and 64 channels,
/// pixel and tap counts that are no multiple of the register block, batch 1 (one task
/// per channel block), strides 2 and 3 (ResNet's stem, scaled down), unequal strides.
#[test]
fn direct_kernels_agree_with_im2col() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        if !crate::testing::runs_here(
            direct::Plan::supported(),
            "direct_kernels_agree_with_im2col",
            "AVX-512",
        ) {
            return Ok(());
        }
        crate::manual_seed(13);
        let dev = crate::Device::Cpu;
        // (input dims, cout, kernel, padding, stride)
        let cases = [
            ([5, 6, 14, 14], 16, 5, 1, (1, 1)),
            ([2, 3, 9, 7], 32, 3, 1, (1, 1)),
            ([1, 2, 6, 5], 16, 2, 0, (1, 1)),
            ([3, 7, 5, 6], 16, 3, 0, (1, 1)),
            ([3, 3, 23, 21], 64, 7, 3, (2, 2)),
            ([1, 3, 16, 17], 48, 7, 3, (2, 2)),
            ([2, 4, 13, 11], 16, 4, 1, (3, 2)),
        ];
        for (xs, cout, k, pad, stride) in cases {
            let x = Tensor::randn(&xs, crate::DType::F32, &dev)?;
            let w = Tensor::randn(&[cout, xs[1], k, k], crate::DType::F32, &dev)?;
            let b = Tensor::randn(&[cout], crate::DType::F32, &dev)?;
            let g = forward_geometry("conv2d", &x, &w, Some(&b), stride, (pad, pad), (1, 1), 1)?;
            assert!(
                matches!(forward_algo(&g, DType::F32), ConvAlgo::Direct(_)),
                "{xs:?}"
            );
            let (xv, wv, bv) = (x.to_vec::<f32>()?, w.to_vec::<f32>()?, b.to_vec::<f32>()?);
            let close = |a: &[f32], b: &[f32]| assert_slices_close(a, b, 1e-4, &xs);
            close(
                &conv_forward(&xv, &wv, Some(&bv), &g),
                &im2col::forward(&xv, &wv, Some(&bv), &g, None, None),
            );
            let dy: Vec<f32> =
                Tensor::randn(&[xs[0], cout, g.oh, g.ow], crate::DType::F32, &dev)?.to_vec()?;
            close(
                &conv_backward_weight(&xv, &dy, &g, None),
                &im2col::backward_weight(&xv, &dy, &g, None),
            );
        }
        Ok(())
    })
}

/// The Winograd forward, input-gradient and weight-gradient kernels against the im2col ones, on shapes
/// with cut-off tiles (odd outputs), paddings 0 to 2, channel counts that are no
/// multiple of a vector, and batch 1.
#[test]
fn winograd_agrees_with_im2col() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        crate::manual_seed(5);
        let dev = crate::Device::Cpu;
        let cases = [
            ([1, 17, 7, 7], 16, 1),
            ([3, 16, 6, 9], 19, 0),
            ([2, 16, 5, 5], 16, 2),
            ([1, 20, 2, 3], 18, 1),
            ([2, 33, 12, 11], 17, 1),
            ([4, 16, 10, 10], 16, 1),
        ];
        // Single images of up to 64 tiles (the first and fourth cases) run as one block whose
        // products are split by output channel; the others as one block per task.
        for (xs, cout, pad) in cases {
            let x = Tensor::randn(&xs, crate::DType::F64, &dev)?;
            let w = Tensor::randn(&[cout, xs[1], 3, 3], crate::DType::F64, &dev)?;
            let b = Tensor::randn(&[cout], crate::DType::F64, &dev)?;
            let g = forward_geometry("conv2d", &x, &w, Some(&b), (1, 1), (pad, pad), (1, 1), 1)?;
            assert!(forward_winograd(&g).is_some(), "{xs:?} {cout} {pad}");
            let (xv, wv, bv) = (x.to_vec::<f64>()?, w.to_vec::<f64>()?, b.to_vec::<f64>()?);
            let y = conv_forward(&xv, &wv, Some(&bv), &g);
            let y_ref = im2col::forward(&xv, &wv, Some(&bv), &g, None, None);
            let close = |a: &[f64], b: &[f64]| assert_slices_close(a, b, 1e-12, &xs);
            close(&y, &y_ref);
            let dy: Vec<f64> =
                Tensor::randn(&[xs[0], cout, g.oh, g.ow], crate::DType::F64, &dev)?.to_vec()?;
            close(
                &conv_backward_data(&dy, &wv, &g),
                &im2col::backward_data(&dy, &wv, &g),
            );
            close(
                &conv_backward_weight(&xv, &dy, &g, None),
                &im2col::backward_weight(&xv, &dy, &g, None),
            );
        }
        // The gradients of a convolution on the Winograd path.
        gradcheck(&[&[2, 16, 4, 5], &[16, 16, 3, 3], &[16]], |x| {
            x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 1, 1, 1))
        })
    })
}

/// Single f32 images on the Winograd path: with AVX-512 and two threads or more, their
/// products run in `cpu::skinny` (16, 49 and 64 tiles; output channels that split
/// unevenly between the threads).
#[test]
fn single_image_winograd_in_f32_agrees_with_im2col() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        crate::manual_seed(17);
        let dev = crate::Device::Cpu;
        for (side, cin, cout) in [(7, 32, 40), (13, 16, 19), (16, 24, 16)] {
            let x = Tensor::randn(&[1, cin, side, side], crate::DType::F32, &dev)?;
            let w = Tensor::randn(&[cout, cin, 3, 3], crate::DType::F32, &dev)?;
            let g = forward_geometry("conv2d", &x, &w, None, (1, 1), (1, 1), (1, 1), 1)?;
            assert!(forward_winograd(&g).is_some());
            let (xv, wv) = (x.to_vec::<f32>()?, w.to_vec::<f32>()?);
            assert_slices_close(
                &conv_forward(&xv, &wv, None, &g),
                &im2col::forward(&xv, &wv, None, &g, None, None),
                1e-4,
                &(side, cin, cout),
            );
        }
        Ok(())
    })
}

/// A single image's patch matrix built by several threads, each taking a range of
/// channels (the last one shorter), equals the one built by one thread: stride 2 with
/// the column phases split per range, stride 1, and 5×5 taps with padding 2.
#[test]
fn patches_built_in_parallel_equal_serial_ones() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        crate::manual_seed(31);
        let dev = crate::Device::Cpu;
        let pool = crate::testing::pool(3);
        for (xs, k, stride, pad) in [
            ([1, 5, 80, 80], 3, 2, 1),
            ([1, 7, 41, 39], 3, 1, 1),
            ([1, 4, 64, 64], 5, 2, 2),
        ] {
            let x = Tensor::randn(&xs, crate::DType::F32, &dev)?;
            let w = Tensor::randn(&[8, xs[1], k, k], crate::DType::F32, &dev)?;
            let g = forward_geometry(
                "conv2d",
                &x,
                &w,
                None,
                (stride, stride),
                (pad, pad),
                (1, 1),
                1,
            )?;
            assert!(g.k() * g.l() >= im2col::PAR_IM2COL_MIN, "{xs:?}");
            let xv = x.to_vec::<f32>()?;
            let build = |par: bool| {
                let mut col = vec![f32::NAN; g.k() * g.l()];
                pool.install(|| im2col::chunk_patches(&xv, &g, 0, 0, 1, &mut col, par));
                col
            };
            let (serial, parallel) = (build(false), build(true));
            assert!(serial.iter().all(|v| !v.is_nan()), "{xs:?}");
            assert_eq!(serial, parallel, "{xs:?}");
        }
        Ok(())
    })
}

/// F(4×4, 3×3) against im2col, in f64 and f32: cut-off tiles (outputs no multiple of 4,
/// one tile row or column cut to 1 or 2), paddings 0 to 2, blocks of several images and
/// blocks of tile rows (the 30×29 and 56×56 images), and single images of at most 64
/// tiles whose f32 products split by output channel (`cpu::skinny`).
#[test]
fn winograd_f4_agrees_with_im2col() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        fn check<T: Float + std::fmt::Display>(dtype: crate::DType, tol: f64) -> Result<()> {
            let dev = crate::Device::Cpu;
            let cases = [
                ([1, 17, 7, 7], 16, 1),
                ([3, 16, 6, 9], 19, 0),
                ([2, 16, 5, 5], 16, 2),
                ([1, 20, 2, 3], 18, 1),
                ([2, 33, 30, 29], 17, 1),
                ([1, 16, 56, 56], 16, 1),
                ([1, 24, 28, 28], 40, 1),
                ([4, 16, 10, 10], 16, 1),
            ];
            for (xs, cout, pad) in cases {
                let x = Tensor::randn(&xs, dtype, &dev)?;
                let w = Tensor::randn(&[cout, xs[1], 3, 3], dtype, &dev)?;
                let b = Tensor::randn(&[cout], dtype, &dev)?;
                let g =
                    forward_geometry("conv2d", &x, &w, Some(&b), (1, 1), (pad, pad), (1, 1), 1)?;
                let plan = winograd::Plan {
                    tile: winograd::Tile::F4,
                    ..forward_winograd(&g).expect("a Winograd shape")
                };
                let (xv, wv, bv) = (x.to_vec::<T>()?, w.to_vec::<T>()?, b.to_vec::<T>()?);
                let u = transform_weights_f4(&wv, cout, xs[1]);
                let y = conv3x3(&xv, Weights::Forward(&u), Epilogue::bias(Some(&bv)), &plan);
                let want = im2col::forward(&xv, &wv, Some(&bv), &g, None, None);
                // Errors against the outputs' scale: a value near 0 carries the rounding of
                // its large terms.
                let scale = want.iter().fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
                assert_eq!(y.len(), want.len());
                for (i, (a, b)) in y.iter().zip(&want).enumerate() {
                    let err = (a.to_f64() - b.to_f64()).abs();
                    assert!(
                        err <= tol * scale,
                        "{:?} [{i}] {a} vs {b}",
                        (xs, cout, pad, dtype)
                    );
                }
            }
            Ok(())
        }
        crate::manual_seed(23);
        check::<f64>(crate::DType::F64, 1e-13)?;
        // Sums of 150–300 products of unit normals: F(4×4)'s f32 rounding reaches about 5e-6
        // of the largest output (2e-4 of 0.025 in a 33-channel layer whose outputs reach 50).
        check::<f32>(crate::DType::F32, 3e-5)
    })
}

/// Single f32 images read `U` in panels of 64 output channels on the inference path
/// (with AVX-512): against the recorded path, with bands of output channels that cross
/// panels (200 channels on 2 and 3 threads) and a last panel narrower than 64, in
/// F(2×2) (7×7 outputs, 16 tiles: column blocks of 6, 6 and 4; 13×13, 49 tiles) and
/// F(4×4) (28×28, 49 tiles; 40×40, 100 tiles in a block per thread).
#[test]
fn inference_with_weight_panels_agrees_with_the_recorded_path() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        crate::manual_seed(37);
        let dev = crate::Device::Cpu;
        let c = cfg(1, 1, 1, 1);
        for threads in [2, 3] {
            let pool = crate::testing::pool(threads);
            for (side, cin, cout) in [(13, 24, 200), (28, 16, 72), (7, 32, 40), (40, 16, 72)] {
                let x = Tensor::randn(&[1, cin, side, side], crate::DType::F32, &dev)?;
                let w = Tensor::randn(&[cout, cin, 3, 3], crate::DType::F32, &dev)?;
                let want = x.conv2d(&w.clone().requires_grad(), None, c)?.detach();
                let y = pool.install(|| crate::no_grad(|| x.conv2d(&w, None, c)))?;
                // F(4×4)'s rounding grows with the outputs' scale (up to 40 here).
                let want = want.to_vec::<f64>()?;
                let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert_close(&y, &want, 1e-4f64.max(1e-5 * scale))?;
                let g = forward_geometry("conv2d", &x, &w, None, (1, 1), (1, 1), (1, 1), 1)?;
                let plan = inference_winograd(&g).expect("a Winograd shape");
                let panels = pool.install(|| winograd::wants_panel_weights::<f32>(&plan));
                assert_eq!(panels, crate::cpu::skinny::supported(), "{side}");
            }
        }
        Ok(())
    })
}

/// One image's inference through weight panels ([`super::panels::panel_inference`]) where the output
/// has fewer than `panels_max_pixels` ([`ConvTuning`]) pixels, against the recorded path: 3×3 stride 2
/// and 1×1 stride 2 with bands that cross panels (200 channels on 2 and 3 threads), and a
/// weight that is a transposed view (transformed afresh, not cached under the storage of
/// another layout). Larger outputs keep im2col and `gemm`.
#[test]
fn one_image_inference_takes_weight_panels_below_its_pixel_bound() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        crate::manual_seed(53);
        let dev = crate::Device::Cpu;
        let f32_ = crate::DType::F32;
        for threads in [2, 3] {
            let pool = crate::testing::pool(threads);
            for (side, cin, cout, k, pad) in [(15, 24, 200, 3, 1), (14, 32, 200, 1, 0)] {
                let c = cfg(2, pad, 1, 1);
                let x = Tensor::randn(&[1, cin, side, side], f32_, &dev)?;
                let w = Tensor::randn(&[cout, cin, k, k], f32_, &dev)?;
                let view = w.transpose(0, 1)?.contiguous()?.transpose(0, 1)?;
                assert!(!view.is_contiguous());
                let want = x.conv2d(&w.clone().requires_grad(), None, c)?.detach();
                for w in [&w, &view, &w] {
                    let y = pool.install(|| crate::no_grad(|| x.conv2d(w, None, c)))?;
                    assert_close(&y, &want.to_vec::<f64>()?, 1e-4)?;
                }
                let g = forward_geometry("conv2d", &x, &w, None, (2, 2), (pad, pad), (1, 1), 1)?;
                assert_eq!(
                    choose(&g, Pass::Inference, f32_) == ConvAlgo::Panels,
                    skinny::supported()
                );
                assert_ne!(
                    choose(&g, Pass::Inference, crate::DType::F64),
                    ConvAlgo::Panels
                );
            }
        }
        let x = Tensor::randn(&[1, 16, 56, 56], f32_, &dev)?;
        let w = Tensor::randn(&[32, 16, 3, 3], f32_, &dev)?;
        let g = forward_geometry("conv2d", &x, &w, None, (2, 2), (1, 1), (1, 1), 1)?;
        assert!(
            g.l() >= g.tuning.panels_max_pixels
                && choose(&g, Pass::Inference, f32_) != ConvAlgo::Panels
        );
        Ok(())
    })
}

/// One image at stride 2 with at least `panels_max_pixels` ([`ConvTuning`]) outputs runs
/// [`super::stride_phases`] in inference (with AVX-512): against the recorded path, for kernels
/// of 2 to 7 taps a side, paddings 0 to 3, odd and even sides, rows of 5 to 31 columns
/// (a vector of 16 pixels then meets up to 4 rows), 1 to 3 blocks of channels, on 2
/// and 3 threads. Smaller outputs, stride 1, 1×1 kernels and f64 do not take it.
#[test]
fn strided_inference_over_phases_agrees_with_the_recorded_path() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        crate::manual_seed(59);
        let dev = crate::Device::Cpu;
        let f32_ = crate::DType::F32;
        let supported = direct::Plan::supported();
        for threads in [2, 3] {
            let pool = crate::testing::pool(threads);
            for (xs, cout, k, pad) in [
                ([1, 3, 60, 61], 16, 7, 3),
                ([1, 16, 28, 28], 24, 3, 1),
                ([1, 5, 100, 8], 8, 3, 1),
                ([1, 4, 33, 31], 16, 2, 0),
                ([1, 2, 40, 29], 16, 5, 2),
                ([1, 3, 31, 32], 8, 4, 3),
            ] {
                let c = cfg(2, pad, 1, 1);
                let x = Tensor::randn(&xs, f32_, &dev)?;
                let w = Tensor::randn(&[cout, xs[1], k, k], f32_, &dev)?;
                let b = Tensor::randn(&[cout], f32_, &dev)?;
                let want = x.conv2d(&w.clone().requires_grad(), Some(&b), c)?.detach();
                let y = pool.install(|| crate::no_grad(|| x.conv2d(&w, Some(&b), c)))?;
                assert_close(&y, &want.to_vec::<f64>()?, 1e-4)?;
                let g = square_geometry("conv2d", &x, &w, None, c)?;
                assert!(g.l() >= g.tuning.panels_max_pixels);
                assert_eq!(
                    matches!(choose(&g, Pass::Inference, f32_), ConvAlgo::StridePhases(_)),
                    supported,
                    "{xs:?}"
                );
                assert!(!matches!(
                    choose(&g, Pass::Inference, crate::DType::F64),
                    ConvAlgo::StridePhases(_)
                ));
            }
        }
        let x = Tensor::randn(&[1, 16, 28, 28], f32_, &dev)?;
        let smaller = Tensor::randn(&[1, 16, 26, 26], f32_, &dev)?;
        for (x, k, stride) in [(&x, 3, 1), (&x, 1, 2), (&smaller, 3, 2)] {
            let w = Tensor::randn(&[16, 16, k, k], f32_, &dev)?;
            let pad = k / 2;
            let g = square_geometry("conv2d", x, &w, None, cfg(stride, pad, 1, 1))?;
            assert!(
                !matches!(choose(&g, Pass::Inference, f32_), ConvAlgo::StridePhases(_)),
                "{k} {stride}"
            );
        }
        Ok(())
    })
}

/// Inference picks F(4×4, 3×3) for large images with few channels and F(2×2, 3×3)
/// otherwise; one weight used at both sizes keeps a cached transform for each.
#[test]
fn inference_takes_f4_where_it_pays_and_caches_each_transform() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        crate::manual_seed(29);
        let dev = crate::Device::Cpu;
        let w = Tensor::randn(&[32, 16, 3, 3], crate::DType::F32, &dev)?;
        let c = cfg(1, 1, 1, 1);
        for (side, tile) in [
            (28, winograd::Tile::F4),
            (8, winograd::Tile::F2),
            (30, winograd::Tile::F4),
        ] {
            let x = Tensor::randn(&[1, 16, side, side], crate::DType::F32, &dev)?;
            let g = forward_geometry("conv2d", &x, &w, None, (1, 1), (1, 1), (1, 1), 1)?;
            assert_eq!(inference_winograd(&g).map(|p| p.tile), Some(tile), "{side}");
            let want = x.conv2d(&w.clone().requires_grad(), None, c)?.detach();
            for _ in 0..2 {
                let y = crate::no_grad(|| x.conv2d(&w, None, c))?;
                assert_close(&y, &want.to_vec::<f64>()?, 1e-4)?;
            }
        }
        let wide = Tensor::randn(&[256, 128, 3, 3], crate::DType::F32, &dev)?;
        let x = Tensor::randn(&[1, 128, 28, 28], crate::DType::F32, &dev)?;
        let g = forward_geometry("conv2d", &x, &wide, None, (1, 1), (1, 1), (1, 1), 1)?;
        assert_eq!(
            inference_winograd(&g).map(|p| p.tile),
            Some(winograd::Tile::F2)
        );
        Ok(())
    })
}

#[test]
fn kept_patches_give_the_weight_gradient_of_rebuilt_ones() -> Result<()> {
    ConvTuning::EAGER.scoped(|| -> Result<()> {
        // A LeNet-like layer keeps its forward patch matrices for the weight gradient.
        crate::manual_seed(11);
        let dev = crate::Device::Cpu;
        let x = Tensor::randn(&[5, 3, 9, 8], crate::DType::F64, &dev)?;
        let w = Tensor::randn(&[4, 3, 5, 5], crate::DType::F64, &dev)?.requires_grad();
        let y = x.conv2d(&w, None, cfg(1, 1, 1, 1))?;
        let dy = Tensor::randn(y.dims(), crate::DType::F64, &dev)?;
        let grads = y.backward_with(&dy)?;
        let g = forward_geometry("conv2d", &x, &w, None, (1, 1), (1, 1), (1, 1), 1)?;
        assert!(
            choose(&g, Pass::Forward { weight_grad: true }, DType::F64)
                == ConvAlgo::Im2colKeepingPatches
        );
        let rebuilt = im2col::backward_weight(&x.to_vec()?, &dy.to_vec()?, &g, None);
        assert_close(grads.get(&w).expect("weight gradient"), &rebuilt, 1e-12)
    })
}

/// Every length up to past the inline cases, at offsets that are not aligned.
#[test]
fn copy_short_copies_every_length() {
    ConvTuning::EAGER.scoped(|| {
        let src: Vec<u32> = (0..50).collect();
        for n in 0..=40 {
            let mut dst = vec![u32::MAX; n + 2];
            im2col::copy_short(&mut dst[1..=n], &src[3..3 + n]);
            assert_eq!(dst[1..=n], src[3..3 + n], "length {n}");
            assert_eq!((dst[0], dst[n + 1]), (u32::MAX, u32::MAX), "length {n}");
        }
    })
}

#[test]
fn valid_range_covers_exactly_the_inside_positions() {
    ConvTuning::EAGER.scoped(|| {
        for off in -4..4isize {
            for stride in 1..4 {
                let (lo, hi) = im2col::valid_range(off, stride, 5, 6);
                for o in 0..6 {
                    let inside = (0..5).contains(&((o * stride) as isize + off));
                    assert_eq!(
                        inside,
                        (lo..hi).contains(&o),
                        "off {off} stride {stride} o {o}"
                    );
                }
            }
        }
    })
}
