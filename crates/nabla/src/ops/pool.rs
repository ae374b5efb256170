//! Pooling over 2-D windows: max_pool2d (indices kept for the gradient when it will be
//! asked for, values only otherwise), avg_pool2d and adaptive_avg_pool2d.
//!
//! Each output pixel pools a rectangle of its input plane; the rectangles are computed once
//! per axis ([`Windows`]) and shared by the forward and backward kernels (`cpu::pool`).

use super::kernels::pool as kernels;
use super::rule;
use crate::{Error, Result, Shape, Tensor};

/// Options of [`Tensor::max_pool2d`] and [`Tensor::avg_pool2d`] (square windows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dConfig {
    /// Window size.
    pub kernel: usize,
    /// Step between windows (PyTorch's default is the window size).
    pub stride: usize,
    /// Implicit padding on each side (-inf for max, 0 for average).
    pub padding: usize,
    /// Round the output size up instead of down, so that a last partial window is kept.
    pub ceil_mode: bool,
    /// Average pooling: count padded positions in the divisor (PyTorch's default `true`).
    pub count_include_pad: bool,
}

impl Pool2dConfig {
    /// Windows of `kernel × kernel` with stride `kernel`, no padding.
    pub fn new(kernel: usize) -> Self {
        Pool2dConfig {
            kernel,
            stride: kernel,
            padding: 0,
            ceil_mode: false,
            count_include_pad: true,
        }
    }
    /// The same with another stride.
    pub fn stride(self, stride: usize) -> Self {
        Pool2dConfig { stride, ..self }
    }
    /// The same with padding.
    pub fn padding(self, padding: usize) -> Self {
        Pool2dConfig { padding, ..self }
    }
    /// The same with ceil mode on.
    pub fn ceil_mode(self, ceil_mode: bool) -> Self {
        Pool2dConfig { ceil_mode, ..self }
    }
}

/// The windows along one axis: for output `i`, input positions `start[i]..end[i]` (inside
/// the input) and the window's length counting padding (`padded[i]`).
#[derive(Clone, Debug)]
pub(crate) struct Windows {
    pub(crate) start: Vec<usize>,
    pub(crate) end: Vec<usize>,
    pub(crate) padded: Vec<usize>,
}

impl Windows {
    fn sliding(input: usize, cfg: &Pool2dConfig) -> Option<Windows> {
        let (k, s, p) = (cfg.kernel, cfg.stride, cfg.padding);
        let span = (input + 2 * p).checked_sub(k)?;
        let mut n = if cfg.ceil_mode {
            span.div_ceil(s) + 1
        } else {
            span / s + 1
        };
        // In ceil mode the last window must start inside the input or the left padding.
        if cfg.ceil_mode && (n - 1) * s >= input + p {
            n -= 1;
        }
        let mut w = Windows {
            start: vec![],
            end: vec![],
            padded: vec![],
        };
        for i in 0..n {
            let lo = (i * s) as isize - p as isize;
            let hi_padded = (lo + k as isize).min((input + p) as isize);
            w.padded.push((hi_padded - lo) as usize);
            w.start.push(lo.max(0) as usize);
            w.end
                .push((lo + k as isize).min(input as isize).max(0) as usize);
        }
        Some(w)
    }

    fn adaptive(input: usize, output: usize) -> Windows {
        let start: Vec<usize> = (0..output).map(|i| i * input / output).collect();
        let end: Vec<usize> = (0..output)
            .map(|i| ((i + 1) * input).div_ceil(output))
            .collect();
        let padded = start.iter().zip(&end).map(|(s, e)| e - s).collect();
        Windows { start, end, padded }
    }

    pub(crate) fn len(&self) -> usize {
        self.start.len()
    }
}

/// Pooling geometry of one call.
#[derive(Clone, Debug)]
pub(crate) struct PoolGeometry {
    pub(crate) planes: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) rows: Windows,
    pub(crate) cols: Windows,
}

impl PoolGeometry {
    /// Whether every window is a full `k × k` block of the zero-padded image (ResNet's 3×3
    /// stride-2 pooling with padding 1): no window reaches past the padding.
    pub(crate) fn padded_uniform(&self, k: usize) -> bool {
        self.rows
            .padded
            .iter()
            .chain(&self.cols.padded)
            .all(|&p| p == k)
    }

    pub(crate) fn out_plane(&self) -> usize {
        self.rows.len() * self.cols.len()
    }

    /// Whether every window is a full `k × k` block inside the image.
    pub(crate) fn uniform(&self, k: usize) -> bool {
        let full = |w: &Windows| {
            w.start
                .iter()
                .zip(&w.end)
                .zip(&w.padded)
                .all(|((s, e), p)| e - s == k && *p == k)
        };
        full(&self.rows) && full(&self.cols)
    }

    /// The divisor of output `(oy, ox)`'s average: its window's area counting padding
    /// (`count_pad`) or only the positions inside the input (at least 1).
    pub(crate) fn divisor(&self, oy: usize, ox: usize, count_pad: bool) -> f64 {
        if count_pad {
            (self.rows.padded[oy] * self.cols.padded[ox]) as f64
        } else {
            let (r, c) = (&self.rows, &self.cols);
            ((r.end[oy] - r.start[oy]) * (c.end[ox] - c.start[ox])).max(1) as f64
        }
    }
}

fn check_4d(op: &'static str, x: &Tensor) -> Result<()> {
    if x.rank() != 4 {
        return Err(Error::UnexpectedShape {
            op,
            expected: "an input of shape [batch, channels, height, width]".into(),
            got: x.shape().clone(),
        });
    }
    Ok(())
}

fn sliding_geometry(op: &'static str, x: &Tensor, cfg: &Pool2dConfig) -> Result<PoolGeometry> {
    check_4d(op, x)?;
    if cfg.kernel == 0 || cfg.stride == 0 {
        return Err(Error::invalid(op, "kernel and stride must be at least 1"));
    }
    if cfg.padding * 2 > cfg.kernel {
        return Err(Error::out_of_range(
            op,
            "padding",
            format!("at most half the kernel {}", cfg.kernel),
            cfg.padding,
        ));
    }
    let (h, w) = (x.dims()[2], x.dims()[3]);
    let (Some(rows), Some(cols)) = (Windows::sliding(h, cfg), Windows::sliding(w, cfg)) else {
        return Err(Error::UnexpectedShape {
            op,
            expected: format!(
                "an input in which the {0}x{0} window fits after padding",
                cfg.kernel
            ),
            got: x.shape().clone(),
        });
    };
    Ok(PoolGeometry {
        planes: x.dims()[0] * x.dims()[1],
        h,
        w,
        rows,
        cols,
    })
}

fn out_shape(x: &Tensor, g: &PoolGeometry) -> Shape {
    Shape(vec![x.dims()[0], x.dims()[1], g.rows.len(), g.cols.len()])
}

impl Tensor {
    /// Max pooling over `kernel × kernel` windows of each channel. `self` is `[n, c, h, w]`.
    /// The gradient goes to the position of each window's maximum (the first on ties).
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] for a non-4-D input or a window that does not fit;
    /// [`Error::OutOfRange`] for too much padding; [`Error::InvalidArgument`] for a zero
    /// stride.
    pub fn max_pool2d(&self, cfg: Pool2dConfig) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("max_pool2d", self, self, |x| x.max_pool2d(cfg));
        let op = "max_pool2d";
        let g = sliding_geometry(op, self, &cfg)?;
        let shape = out_shape(self, &g);
        if !crate::autograd::records(&[self]) {
            return kernels::max_values(self, &g, &cfg, shape, op);
        }
        let (y, idx) = kernels::max_with_indices(self, &g, &cfg, shape, op)?;
        Ok(y.record(
            rule("MaxPool2DWithIndicesBackward", move |x, _, dy| {
                let gx = kernels::max_backward(dy, &idx, &g, x[0].shape().clone(), op)?;
                Ok(vec![Some(gx)])
            }),
            &[self],
        ))
    }

    /// Average pooling over `kernel × kernel` windows. With `count_include_pad` the divisor
    /// counts padded positions (PyTorch's default).
    pub fn avg_pool2d(&self, cfg: Pool2dConfig) -> Result<Tensor> {
        let g = sliding_geometry("avg_pool2d", self, &cfg)?;
        self.average_pool(g, cfg.count_include_pad, "avg_pool2d")
    }

    /// Average pooling to a fixed output size `(oh, ow)`: output pixel `i` averages input rows
    /// `⌊i·h/oh⌋ .. ⌈(i+1)·h/oh⌉` (and likewise for columns), as PyTorch.
    pub fn adaptive_avg_pool2d(&self, output: (usize, usize)) -> Result<Tensor> {
        check_4d("adaptive_avg_pool2d", self)?;
        let (h, w) = (self.dims()[2], self.dims()[3]);
        if output.0 == 0 || output.1 == 0 || (h == 0 || w == 0) {
            return Err(Error::UnexpectedShape {
                op: "adaptive_avg_pool2d",
                expected: format!("an input that pools to {output:?}"),
                got: self.shape().clone(),
            });
        }
        let g = PoolGeometry {
            planes: self.dims()[0] * self.dims()[1],
            h,
            w,
            rows: Windows::adaptive(h, output.0),
            cols: Windows::adaptive(w, output.1),
        };
        self.average_pool(g, false, "adaptive_avg_pool2d")
    }

    fn average_pool(&self, g: PoolGeometry, count_pad: bool, op: &'static str) -> Result<Tensor> {
        crate::ops::half::half_via_f32!(op, self, self, |x| x.average_pool(
            g.clone(),
            count_pad,
            op
        ));
        let y = kernels::avg_forward(self, &g, count_pad, out_shape(self, &g), op)?;
        Ok(y.record(
            rule("AvgPool2DBackward", move |x, _, dy| {
                let gx = kernels::avg_backward(dy, &g, count_pad, x[0].shape().clone(), op)?;
                Ok(vec![Some(gx)])
            }),
            &[self],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};

    fn img() -> Tensor {
        // 4x4 image with values 1..16
        tensor(
            &(1..=16).map(|v| v as f64).collect::<Vec<_>>(),
            &[1, 1, 4, 4],
        )
        .unwrap()
    }

    #[test]
    fn pooling_matches_hand_values() -> Result<()> {
        assert_close(
            &img().max_pool2d(Pool2dConfig::new(2))?,
            &[6.0, 8.0, 14.0, 16.0],
            0.0,
        )?;
        assert_close(
            &img().avg_pool2d(Pool2dConfig::new(2))?,
            &[3.5, 5.5, 11.5, 13.5],
            0.0,
        )?;
        // 3x3 windows, stride 2, padding 1: windows start at rows/cols -1 and 1; the top-left
        // one covers {1,2,5,6}, the next {2,3,4,6,7,8}; every window counts 9 with padding.
        let c = Pool2dConfig::new(3).stride(2).padding(1);
        assert_close(&img().max_pool2d(c)?, &[6.0, 8.0, 14.0, 16.0], 0.0)?;
        assert_close(
            &img().avg_pool2d(c)?,
            &[14.0 / 9.0, 30.0 / 9.0, 57.0 / 9.0, 99.0 / 9.0],
            1e-12,
        )?;
        let no_pad = Pool2dConfig {
            count_include_pad: false,
            ..c
        };
        assert_close(
            &img().avg_pool2d(no_pad)?,
            &[14.0 / 4.0, 30.0 / 6.0, 57.0 / 6.0, 99.0 / 9.0],
            1e-12,
        )?;
        // ceil mode keeps a partial last window: 3x3 stride 2 on 4x4 → 2x2 instead of 1x1
        assert_eq!(
            img().max_pool2d(Pool2dConfig::new(3).stride(2))?.dims(),
            &[1, 1, 1, 1]
        );
        assert_close(
            &img().max_pool2d(Pool2dConfig::new(3).stride(2).ceil_mode(true))?,
            &[11.0, 12.0, 15.0, 16.0],
            0.0,
        )?;
        assert_close(&img().adaptive_avg_pool2d((1, 1))?, &[8.5], 0.0)?;
        // 4 → 3 adaptive: windows 0..2, 1..3, 2..4
        let a = img().adaptive_avg_pool2d((3, 3))?;
        assert_close(&a.narrow(2, 0, 1)?, &[3.5, 4.5, 5.5], 1e-12)
    }

    /// The separable and padded fast paths against the general per-window rule: values and first argmax,
    /// with whole windows of −∞ and NaNs planted.
    #[test]
    fn padded_windows_agree_with_the_general_rule() -> Result<()> {
        let (h, w) = (7, 6);
        let mut x: Vec<f64> = (0..h * w).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
        x[..w + 2].iter_mut().for_each(|v| *v = f64::NEG_INFINITY);
        x[3 * w + 4] = f64::NAN;
        x[5 * w + 1] = 40.0;
        x[5 * w + 2] = 40.0;
        let t = tensor(&x, &[1, 1, h, w])?;
        let padded = [(3, 2, 1), (2, 2, 1), (3, 1, 1), (5, 2, 2), (4, 3, 2)];
        let unpadded = [(3, 2, 0), (3, 1, 0), (2, 1, 0), (4, 3, 0), (1, 1, 0)];
        for (k, s, p) in padded.into_iter().chain(unpadded) {
            let cfg = Pool2dConfig::new(k).stride(s).padding(p);
            let g = super::sliding_geometry("test", &t, &cfg)?;
            assert!(g.padded_uniform(k) && g.uniform(k) == (p == 0), "{cfg:?}");
            let n = g.out_plane();
            let (mut fast, mut slow) = (vec![(0.0, 0); n], vec![(0.0, 0); n]);
            if p == 0 {
                crate::cpu::pool::max_plane_uniform(&x, w, g.cols.len(), k, s, &mut fast);
            } else {
                crate::cpu::pool::max_plane_padded(&x, &g, &cfg, &mut fast);
            }
            crate::cpu::pool::max_plane_general(&x, &g, &mut slow);
            for (i, (f, s)) in fast.iter().zip(&slow).enumerate() {
                let same = f.1 == s.1 && (f.0 == s.0 || (f.0.is_nan() && s.0.is_nan()));
                assert!(same, "{cfg:?} output {i}: fast {f:?}, general {s:?}");
            }
        }
        Ok(())
    }

    /// The values-only forward (nothing recorded) against the indexed one, for strides 1–3
    /// (the three phase layouts), paddings 0–2, ceil mode, rows wider than one block of
    /// lanes, and planted NaNs and −∞ windows, in f32 and f64.
    #[test]
    fn values_only_pooling_agrees_with_the_indexed_forward() -> Result<()> {
        let (h, w) = (9, 37);
        let mut x: Vec<f64> = (0..2 * h * w)
            .map(|i| ((i * 7919) % 23) as f64 - 11.0)
            .collect();
        x[..w + 3].iter_mut().for_each(|v| *v = f64::NEG_INFINITY);
        x[4 * w + 17] = f64::NAN;
        x[h * w + 2 * w + 30] = f64::NAN;
        use crate::cpu::simd::{with_level, Level};
        for (dtype, level) in [
            (crate::DType::F64, Level::Avx512),
            (crate::DType::F32, Level::Avx512),
            (crate::DType::F32, Level::Baseline),
        ] {
            let t = tensor(&x, &[1, 2, h, w])?.to_dtype(dtype)?;
            for (k, s, p) in [
                (3, 2, 1),
                (2, 2, 0),
                (3, 1, 1),
                (1, 1, 0),
                (5, 3, 2),
                (4, 2, 2),
            ] {
                for ceil in [false, true] {
                    let cfg = Pool2dConfig::new(k).stride(s).padding(p).ceil_mode(ceil);
                    // Small enough to run on this thread, where the level applies.
                    let fast = with_level(level, || t.max_pool2d(cfg))?;
                    let indexed = t.clone().requires_grad().max_pool2d(cfg)?;
                    assert_eq!(fast.dims(), indexed.dims(), "{cfg:?}");
                    let (a, b) = (fast.to_vec::<f64>()?, indexed.to_vec::<f64>()?);
                    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
                        let same = a == b || (a.is_nan() && b.is_nan());
                        assert!(
                            same,
                            "{dtype:?} {level:?} {cfg:?} output {i}: {a} against {b}"
                        );
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn pooling_rejects_bad_configs() -> Result<()> {
        assert!(img().max_pool2d(Pool2dConfig::new(5)).is_err());
        assert!(img().max_pool2d(Pool2dConfig::new(2).stride(0)).is_err());
        assert!(img().max_pool2d(Pool2dConfig::new(2).padding(2)).is_err());
        assert!(img()
            .reshape(&[4, 4])?
            .avg_pool2d(Pool2dConfig::new(2))
            .is_err());
        assert!(img().adaptive_avg_pool2d((0, 1)).is_err());
        Ok(())
    }

    #[test]
    fn pooling_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[2, 2, 5, 5]], |x| x[0].max_pool2d(Pool2dConfig::new(2)))?;
        gradcheck(&[&[1, 2, 5, 5]], |x| {
            x[0].max_pool2d(Pool2dConfig::new(3).stride(2).padding(1))
        })?;
        gradcheck(&[&[1, 2, 6, 6]], |x| {
            x[0].max_pool2d(Pool2dConfig::new(3).stride(2).ceil_mode(true))
        })?;
        gradcheck(&[&[2, 2, 5, 5]], |x| {
            x[0].avg_pool2d(Pool2dConfig::new(3).stride(2).padding(1))
        })?;
        gradcheck(&[&[1, 2, 5, 5]], |x| {
            x[0].avg_pool2d(Pool2dConfig {
                count_include_pad: false,
                ..Pool2dConfig::new(3).stride(2).padding(1)
            })
        })?;
        gradcheck(&[&[1, 2, 7, 5]], |x| x[0].adaptive_avg_pool2d((3, 2)))?;
        let nc = GradcheckOpts {
            non_contiguous: true,
            ..Default::default()
        };
        gradcheck_with(&[&[2, 2, 4, 4]], nc, |x| {
            x[0].max_pool2d(Pool2dConfig::new(2))
        })
    }
}
