//! Convolutions: conv1d, conv2d (stride, padding, dilation, groups), conv2d with a fused
//! per-channel affine map (evaluation-mode batch norm, a residual, ReLU) and
//! conv_transpose2d, with their gradient rules. The geometry is validated once
//! ([`geometry`]); every product goes through the typed kernel family ([`kernels`]), which
//! picks the backend's algorithm (`cpu::conv::choose`).
//!
//! Backward rules, in terms of the three passes of a convolution `y = conv(x, W)`:
//! `dx = backward_data(dy, W)`, `dW = backward_weight(x, dy)`, `db = Σ dy`.
//! `conv_transpose2d` is `backward_data` run forward, so its gradients are the forward and
//! weight-gradient passes.

mod geometry;
mod kernels;
#[cfg(test)]
mod tests;
mod weight_cache;

pub(crate) use geometry::{forward_geometry, square_geometry, Geometry};

use super::rule;
use crate::cpu::conv::ConvTuning;
use crate::{Error, Result, Tensor};
use geometry::{check_dtypes, out_size};

/// A per-output-channel affine map, an optional residual and an optional ReLU after a
/// convolution ([`Tensor::conv2d_affine`]): evaluation-mode batch norm folded in.
#[derive(Clone, Copy, Debug)]
pub struct ChannelAffine<'a> {
    /// `[c_out]`, multiplies each output channel.
    pub scale: &'a Tensor,
    /// `[c_out]`, added after the scale.
    pub shift: &'a Tensor,
    /// A tensor of the output's shape added after the shift, before the ReLU: the shortcut
    /// of a residual block (`relu(bn(conv(x)) + shortcut)`).
    pub residual: Option<&'a Tensor>,
    /// Whether a ReLU follows.
    pub relu: bool,
}

/// Options of [`Tensor::conv2d`] and [`Tensor::conv1d`] (the same value along each spatial
/// axis).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Step between neighbouring windows.
    pub stride: usize,
    /// Zeros added on each side of each spatial axis.
    pub padding: usize,
    /// Spacing between kernel taps (1 = dense kernel).
    pub dilation: usize,
    /// Channel groups: input and output channels are split into this many independent
    /// convolutions (`groups = cin` is a depthwise convolution).
    pub groups: usize,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig {
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

/// A [`Conv2dConfig`] from its four options in field order, for the tests of the ops and
/// of the CPU algorithms that sweep them.
#[cfg(test)]
pub(crate) fn cfg(stride: usize, padding: usize, dilation: usize, groups: usize) -> Conv2dConfig {
    Conv2dConfig {
        stride,
        padding,
        dilation,
        groups,
    }
}

/// Options of [`Tensor::conv_transpose2d`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2dConfig {
    /// Stride of the convolution this op transposes.
    pub stride: usize,
    /// Padding of the convolution this op transposes (removed from the output).
    pub padding: usize,
    /// Extra rows/columns added to one side of the output to pick among the output sizes
    /// that a strided convolution maps to the same input size.
    pub output_padding: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Channel groups.
    pub groups: usize,
}

impl Default for ConvTranspose2dConfig {
    fn default() -> Self {
        ConvTranspose2dConfig {
            stride: 1,
            padding: 0,
            output_padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}
impl Tensor {
    /// 2-D convolution (cross-correlation, as in PyTorch).
    ///
    /// `self` is `[n, c_in, h, w]`; `weight` is `[c_out, c_in / groups, kh, kw]`; `bias` is
    /// `[c_out]`; the output is `[n, c_out, (h + 2p - d(kh - 1) - 1) / s + 1, ...]`.
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] when ranks or channel counts do not fit;
    /// [`Error::InvalidArgument`] for zero strides; [`Error::UnexpectedShape`] for a kernel
    /// larger than the padded input.
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        cfg: Conv2dConfig,
    ) -> Result<Tensor> {
        super::check_devices("conv2d", self, &[Some(weight), bias])?;
        crate::ops::half::half_via_f32!("conv2d", self, (self, weight, bias), |(x, w, b)| x
            .conv2d(&w, b.as_ref(), cfg));
        let g = square_geometry("conv2d", self, weight, bias, cfg)?;
        self.conv_with_geometry(weight, bias, g)
    }

    /// `conv2d(self, weight, bias)` followed by a per-output-channel affine map, an optional
    /// residual and an optional ReLU: `y[:, c] = relu?(conv[:, c]·scale[c] + shift[c]
    /// (+ residual[:, c]))`. This is how evaluation-mode batch norm folds into the
    /// convolution before it (`scale = γ/√(σ² + eps)`, `shift = β − μ·scale`), and a ResNet
    /// block's shortcut with it.
    ///
    /// Without gradient recording the map runs in the convolution's own output pass where
    /// the kernel allows it (Winograd) and in one pass over the fresh output otherwise,
    /// instead of one pass (and one tensor) per op. With recording it is the same chain of
    /// differentiable ops (`mul`, `add`, `relu`), so gradients flow as usual.
    ///
    /// # Errors
    /// As [`Tensor::conv2d`]; [`Error::UnexpectedShape`] when `scale` or `shift` is not
    /// `[c_out]` or the residual is not of the output's shape, and [`Error::DType`] when
    /// their type differs from `self`'s.
    pub fn conv2d_affine(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        cfg: Conv2dConfig,
        affine: ChannelAffine,
    ) -> Result<Tensor> {
        super::check_devices(
            "conv2d_affine",
            self,
            &[
                Some(weight),
                bias,
                Some(affine.scale),
                Some(affine.shift),
                affine.residual,
            ],
        )?;
        crate::ops::half::half_via_f32!(
            "conv2d_affine",
            self,
            (
                self,
                weight,
                bias,
                affine.scale,
                affine.shift,
                affine.residual
            ),
            |(x, w, b, scale, shift, residual)| {
                let affine = ChannelAffine {
                    scale: &scale,
                    shift: &shift,
                    residual: residual.as_ref(),
                    relu: affine.relu,
                };
                x.conv2d_affine(&w, b.as_ref(), cfg, affine)
            }
        );
        let op = "conv2d_affine";
        let g = square_geometry(op, self, weight, bias, cfg)?;
        check_dtypes(
            op,
            self,
            &[Some(affine.scale), Some(affine.shift), affine.residual],
        )?;
        for t in [affine.scale, affine.shift] {
            if t.dims() != [g.cout] {
                return Err(Error::UnexpectedShape {
                    op,
                    expected: format!("scale and shift of [{}] (one per output channel)", g.cout),
                    got: t.shape().clone(),
                });
            }
        }
        let out_dims = [g.n, g.cout, g.oh, g.ow];
        if let Some(r) = affine.residual {
            if r.dims() != out_dims {
                return Err(Error::UnexpectedShape {
                    op,
                    expected: format!("a residual of the output's shape {out_dims:?}"),
                    got: r.shape().clone(),
                });
            }
        }
        let mut inputs = vec![self, weight, affine.scale, affine.shift];
        inputs.extend(bias);
        inputs.extend(affine.residual);
        if crate::autograd::records(&inputs) {
            let per_channel = [1, g.cout, 1, 1];
            let mut y = self
                .conv_with_geometry(weight, bias, g)?
                .mul(&affine.scale.reshape(&per_channel)?)?
                .add(&affine.shift.reshape(&per_channel)?)?;
            if let Some(r) = affine.residual {
                y = y.add(r)?;
            }
            return if affine.relu { y.relu() } else { Ok(y) };
        }
        crate::macs::add_macs(g.macs());
        kernels::infer(&g, self, weight, bias, Some(affine), op)
    }

    fn conv_with_geometry(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        g: Geometry,
    ) -> Result<Tensor> {
        crate::macs::add_macs(g.macs());
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        if !crate::autograd::records(&inputs) {
            return kernels::infer(&g, self, weight, bias, None, "conv2d");
        }
        // Transforms cached for an evaluation pass are of no use to the training that
        // follows it.
        weight_cache::drop_stale();
        let op = "conv2d";
        let (y, kept) = kernels::forward(&g, self, weight, bias, weight.tracks_grad(), op)?;
        Ok(y.record(
            rule("ConvolutionBackward", move |x, _, dy| {
                let dx = if x[0].tracks_grad() {
                    Some(kernels::backward_data(&g, dy, &x[1], op)?)
                } else {
                    None
                };
                let dw = if x[1].tracks_grad() {
                    Some(kernels::backward_weight(&g, &x[0], dy, kept.as_ref(), op)?)
                } else {
                    None
                };
                let mut grads = vec![dx, dw];
                if x.len() == 3 {
                    grads.push(if x[2].tracks_grad() {
                        Some(kernels::bias_grad(&g, dy, op)?)
                    } else {
                        None
                    });
                }
                Ok(grads)
            }),
            &inputs,
        ))
    }

    /// 1-D convolution: `self` is `[n, c_in, l]`, `weight` `[c_out, c_in / groups, k]`,
    /// `bias` `[c_out]`; the output is `[n, c_out, (l + 2p - d(k - 1) - 1) / s + 1]`.
    pub fn conv1d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        cfg: Conv2dConfig,
    ) -> Result<Tensor> {
        super::check_devices("conv1d", self, &[Some(weight), bias])?;
        crate::ops::half::half_via_f32!("conv1d", self, (self, weight, bias), |(x, w, b)| x
            .conv1d(&w, b.as_ref(), cfg));
        let shape_err = |what: &str, t: &Tensor| Error::UnexpectedShape {
            op: "conv1d",
            expected: what.into(),
            got: t.shape().clone(),
        };
        if self.rank() != 3 {
            return Err(shape_err(
                "an input of shape [batch, channels, length]",
                self,
            ));
        }
        if weight.rank() != 3 {
            return Err(shape_err(
                "a weight of shape [out_channels, in_channels / groups, k]",
                weight,
            ));
        }
        let (x4, w4) = (self.unsqueeze(2)?, weight.unsqueeze(2)?);
        let (s, p, d) = (cfg.stride, cfg.padding, cfg.dilation);
        let g = forward_geometry("conv1d", &x4, &w4, bias, (1, s), (0, p), (1, d), cfg.groups)?;
        x4.conv_with_geometry(&w4, bias, g)?.squeeze(2)
    }

    /// 2-D transposed convolution (the gradient of `conv2d` with respect to its input, run
    /// forward; "deconvolution").
    ///
    /// `self` is `[n, c_in, h, w]`; `weight` is `[c_in, c_out / groups, kh, kw]` (PyTorch's
    /// layout); the output is `[n, c_out, (h - 1)s - 2p + d(kh - 1) + output_padding + 1, ...]`.
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        cfg: ConvTranspose2dConfig,
    ) -> Result<Tensor> {
        super::check_devices("conv_transpose2d", self, &[Some(weight), bias])?;
        crate::ops::half::half_via_f32!(
            "conv_transpose2d",
            self,
            (self, weight, bias),
            |(x, w, b)| x.conv_transpose2d(&w, b.as_ref(), cfg)
        );
        let op = "conv_transpose2d";
        let shape_err = |what: String, t: &Tensor| Error::UnexpectedShape {
            op,
            expected: what,
            got: t.shape().clone(),
        };
        let (s, p, d, groups) = (cfg.stride, cfg.padding, cfg.dilation, cfg.groups);
        if s == 0 || d == 0 || groups == 0 {
            return Err(Error::invalid(
                op,
                "stride, dilation and groups must be at least 1",
            ));
        }
        if cfg.output_padding >= s.max(d) {
            return Err(Error::out_of_range(
                op,
                "output_padding",
                "smaller than stride or dilation",
                cfg.output_padding,
            ));
        }
        if self.rank() != 4 || weight.rank() != 4 {
            return Err(shape_err(
                "an input [n, c_in, h, w] and a weight [c_in, c_out / groups, kh, kw]".into(),
                if self.rank() != 4 { self } else { weight },
            ));
        }
        let (n, cin_t, h, w) = (
            self.dims()[0],
            self.dims()[1],
            self.dims()[2],
            self.dims()[3],
        );
        let (wc0, cout_g, kh, kw) = (
            weight.dims()[0],
            weight.dims()[1],
            weight.dims()[2],
            weight.dims()[3],
        );
        if wc0 != cin_t || cin_t % groups != 0 {
            return Err(shape_err(
                format!("a weight with {cin_t} input channels divisible by groups {groups}"),
                weight,
            ));
        }
        let cout = cout_g * groups;
        if let Some(b) = bias {
            if b.dims() != [cout] {
                return Err(shape_err(format!("a bias of shape [{cout}]"), b));
            }
        }
        check_dtypes(op, self, &[Some(weight), bias])?;
        let size = |i: usize, k: usize| {
            ((i as isize - 1) * s as isize - 2 * p as isize
                + (d * (k - 1)) as isize
                + cfg.output_padding as isize
                + 1)
            .max(0) as usize
        };
        let (oh, ow) = (size(h, kh), size(w, kw));
        // The convolution this op transposes maps [n, cout, oh, ow] to [n, cin_t, h, w].
        let g = Geometry {
            n,
            cin: cout,
            h: oh,
            w: ow,
            cout: cin_t,
            kh,
            kw,
            oh: h,
            ow: w,
            stride: (s, s),
            pad: (p, p),
            dil: (d, d),
            groups,
            prec: crate::autocast::current(),
            tuning: ConvTuning::current(),
        };
        if out_size(oh, kh, s, p, d) != Some(h) || out_size(ow, kw, s, p, d) != Some(w) {
            return Err(Error::UnexpectedShape {
                op,
                expected: format!(
                    "an input that fits the kernel {kh}x{kw} with stride {s}, padding {p}"
                ),
                got: self.shape().clone(),
            });
        }
        crate::macs::add_macs(g.macs());
        let mut y = kernels::backward_data(&g, self, weight, op)?;
        if let Some(b) = bias {
            y = y.add(&b.detach().reshape(&[1, cout, 1, 1])?)?.detach();
        }
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(y.record(
            rule("ConvTransposeBackward", move |x, _, dy| {
                let dx = if x[0].tracks_grad() {
                    Some(kernels::forward(&g, dy, &x[1], None, false, op)?.0)
                } else {
                    None
                };
                let dw = if x[1].tracks_grad() {
                    Some(kernels::backward_weight(&g, dy, &x[0], None, op)?)
                } else {
                    None
                };
                let mut grads = vec![dx, dw];
                if x.len() == 3 {
                    grads.push(if x[2].tracks_grad() {
                        Some(dy.sum(&[0, 2, 3])?)
                    } else {
                        None
                    });
                }
                Ok(grads)
            }),
            &inputs,
        ))
    }
}
