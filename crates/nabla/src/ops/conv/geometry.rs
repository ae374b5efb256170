//! The geometry of a convolution (sizes, stride, padding, dilation, groups, the precision
//! of its products and the tuning of its algorithms), validated once from the op's tensors
//! and shared by the op, its backward rule and the kernels.

use super::Conv2dConfig;
use crate::autocast::Precision;
use crate::cpu::conv::ConvTuning;
use crate::{Error, Result, Tensor};

/// The geometry of one convolution, seen from the forward direction (`x` → `y`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub(crate) n: usize,
    pub(crate) cin: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) cout: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) oh: usize,
    pub(crate) ow: usize,
    pub(crate) stride: (usize, usize),
    pub(crate) pad: (usize, usize),
    pub(crate) dil: (usize, usize),
    pub(crate) groups: usize,
    /// The precision of the products ([`crate::autocast`]).
    pub(crate) prec: Precision,
    /// Where the CPU algorithms start to pay ([`ConvTuning::current`] when the op ran, kept
    /// for its backward pass).
    pub(crate) tuning: ConvTuning,
}

impl Geometry {
    /// Multiply-accumulates of the forward convolution: each of the `n·cout·oh·ow` outputs is
    /// a dot product of `cin/groups·kh·kw` terms.
    pub(crate) fn macs(&self) -> usize {
        self.n * self.cout * self.oh * self.ow * (self.cin / self.groups.max(1)) * self.kh * self.kw
    }

    pub(crate) fn cin_g(&self) -> usize {
        self.cin / self.groups
    }
    pub(crate) fn cout_g(&self) -> usize {
        self.cout / self.groups
    }
    /// Rows of the patch matrix: `cin/groups · kh · kw`.
    pub(crate) fn k(&self) -> usize {
        self.cin_g() * self.kh * self.kw
    }
    /// Columns of the patch matrix: output pixels.
    pub(crate) fn l(&self) -> usize {
        self.oh * self.ow
    }
    pub(crate) fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == (1, 1) && self.pad == (0, 0)
    }
}

/// Output size of a convolution along one axis, or `None` when the kernel does not fit.
pub(super) fn out_size(
    input: usize,
    k: usize,
    stride: usize,
    pad: usize,
    dil: usize,
) -> Option<usize> {
    let span = dil * (k - 1) + 1;
    let padded = input + 2 * pad;
    (padded >= span).then(|| (padded - span) / stride + 1)
}

/// Checks that every present tensor of `others` has `x`'s dtype.
pub(super) fn check_dtypes(op: &'static str, x: &Tensor, others: &[Option<&Tensor>]) -> Result<()> {
    for t in others.iter().flatten() {
        if t.dtype() != x.dtype() {
            return Err(Error::DType {
                op,
                expected: x.dtype(),
                got: t.dtype(),
            });
        }
    }
    Ok(())
}

/// Validates `x [n, cin, h, w]`, `weight [cout, cin/groups, kh, kw]` and `bias [cout]` for a
/// forward convolution and returns its geometry.
pub(crate) fn forward_geometry(
    op: &'static str,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: (usize, usize),
    pad: (usize, usize),
    dil: (usize, usize),
    groups: usize,
) -> Result<Geometry> {
    let shape_err = |expected: String, got: &Tensor| Error::UnexpectedShape {
        op,
        expected,
        got: got.shape().clone(),
    };
    if stride.0 == 0 || stride.1 == 0 || dil.0 == 0 || dil.1 == 0 || groups == 0 {
        return Err(Error::invalid(
            op,
            "stride, dilation and groups must be at least 1",
        ));
    }
    if x.rank() != 4 {
        return Err(shape_err(
            "an input of shape [batch, channels, height, width]".into(),
            x,
        ));
    }
    if weight.rank() != 4 {
        return Err(shape_err(
            "a weight of shape [out_channels, in_channels / groups, kh, kw]".into(),
            weight,
        ));
    }
    let (n, cin, h, w) = (x.dims()[0], x.dims()[1], x.dims()[2], x.dims()[3]);
    let (cout, cin_g, kh, kw) = (
        weight.dims()[0],
        weight.dims()[1],
        weight.dims()[2],
        weight.dims()[3],
    );
    if cin % groups != 0 || cout % groups != 0 {
        return Err(Error::invalid(
            op,
            format!("channels in ({cin}) and out ({cout}) must be divisible by groups ({groups})"),
        ));
    }
    if cin_g != cin / groups || kh == 0 || kw == 0 {
        return Err(shape_err(
            format!(
                "a weight of shape [{cout}, {}, kh, kw] for an input with {cin} channels",
                cin / groups
            ),
            weight,
        ));
    }
    if let Some(b) = bias {
        if b.dims() != [cout] {
            return Err(shape_err(format!("a bias of shape [{cout}]"), b));
        }
    }
    check_dtypes(op, x, &[Some(weight), bias])?;
    let (Some(oh), Some(ow)) = (
        out_size(h, kh, stride.0, pad.0, dil.0),
        out_size(w, kw, stride.1, pad.1, dil.1),
    ) else {
        return Err(Error::UnexpectedShape {
            op,
            expected: format!(
                "an input in which the kernel {kh}x{kw} (dilation {dil:?}) fits after padding"
            ),
            got: x.shape().clone(),
        });
    };
    Ok(Geometry {
        n,
        cin,
        h,
        w,
        cout,
        kh,
        kw,
        oh,
        ow,
        stride,
        pad,
        dil,
        groups,
        prec: crate::autocast::current(),
        tuning: ConvTuning::current(),
    })
}

/// [`forward_geometry`] of a 2-D convolution with `cfg`'s stride, padding and dilation on
/// both axes ([`Tensor::conv2d`], [`Tensor::conv2d_affine`]).
pub(crate) fn square_geometry(
    op: &'static str,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    cfg: Conv2dConfig,
) -> Result<Geometry> {
    let (s, p, d) = (cfg.stride, cfg.padding, cfg.dilation);
    forward_geometry(op, x, weight, bias, (s, s), (p, p), (d, d), cfg.groups)
}
