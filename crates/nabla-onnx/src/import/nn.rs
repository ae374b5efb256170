//! Convolution, pooling, normalization and dropout nodes.

use super::ctx::Ctx;
use crate::value::Value;
use crate::Result;
use nabla::{Conv2dConfig, ConvTranspose2dConfig, Pool2dConfig, RunningStats, Tensor};

fn one(t: Tensor) -> Result<Vec<Value>> {
    Ok(vec![Value::Float(t)])
}

/// The spatial geometry of a conv or pool node on a 2-D input: square stride and dilation,
/// and padding that is either the same on all sides or applied beforehand.
struct Geometry {
    stride: usize,
    dilation: usize,
    /// `(top, left, bottom, right)`.
    pads: [usize; 4],
}

impl Geometry {
    /// The one padding of all sides, when they agree.
    fn uniform_pad(&self) -> Option<usize> {
        let p = self.pads;
        p.iter().all(|&v| v == p[0]).then_some(p[0])
    }
}

fn pair(c: &Ctx, name: &str, v: Option<Vec<i64>>, default: usize) -> Result<(usize, usize)> {
    match v.as_deref() {
        None => Ok((default, default)),
        Some([a, b]) if *a > 0 && *b > 0 => Ok((*a as usize, *b as usize)),
        Some(other) => Err(c.err(format!("{name} {other:?}: expected two positive values"))),
    }
}

/// Reads kernel_shape (or `kernel`), strides, dilations, pads and auto_pad for a 2-D input
/// of spatial size `(h, w)`.
///
/// With `one_d`, the node is 1-D on an input seen as `[n, c, 1, l]`: its one stride and
/// dilation serve both axes (the height of 1 with a kernel height of 1 is unchanged by
/// them) and its pads `[begin, end]` apply to the length only.
fn geometry(
    c: &Ctx,
    kernel: Option<(usize, usize)>,
    hw: (usize, usize),
    one_d: bool,
) -> Result<Geometry> {
    let kernel = match kernel {
        Some(k) => k,
        None => pair(c, "kernel_shape", c.attr_ints("kernel_shape")?, 0)?,
    };
    let both = |v: Option<Vec<i64>>| match v.as_deref() {
        Some(&[s]) if one_d => Some(vec![s, s]),
        _ => v,
    };
    let strides = pair(c, "strides", both(c.attr_ints("strides")?), 1)?;
    let dilations = pair(c, "dilations", both(c.attr_ints("dilations")?), 1)?;
    if strides.0 != strides.1 || dilations.0 != dilations.1 {
        return Err(c.err(format!(
            "strides {strides:?} and dilations {dilations:?} must be the same on both axes"
        )));
    }
    let auto_pad = c.attr_s("auto_pad", "NOTSET")?;
    let pads = match auto_pad.as_str() {
        "NOTSET" => match c.attr_ints("pads")?.as_deref() {
            None => [0; 4],
            Some(&[b, e]) if one_d && (0..1 << 20).contains(&b) && (0..1 << 20).contains(&e) => {
                [0, b as usize, 0, e as usize]
            }
            Some(&[t, l, b, r]) if [t, l, b, r].iter().all(|&v| (0..1 << 20).contains(&v)) => {
                [t as usize, l as usize, b as usize, r as usize]
            }
            Some(p) => return Err(c.err(format!("pads {p:?}: expected 4 values >= 0"))),
        },
        "VALID" => [0; 4],
        "SAME_UPPER" | "SAME_LOWER" => {
            let same = |size: usize, k: usize| {
                let out = size.div_ceil(strides.0);
                let need = (out.saturating_sub(1)) * strides.0 + (k - 1) * dilations.0 + 1;
                let total = need.saturating_sub(size);
                let small = total / 2;
                if auto_pad == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                }
            };
            let (t, b) = if one_d { (0, 0) } else { same(hw.0, kernel.0) };
            let (l, r) = same(hw.1, kernel.1);
            [t, l, b, r]
        }
        other => return Err(c.err(format!("auto_pad {other} is not known"))),
    };
    Ok(Geometry {
        stride: strides.0,
        dilation: dilations.0,
        pads,
    })
}

/// A 1-D input `[n, c, l]` as `[n, c, 1, l]`; `None` when it is already 2-D.
fn as_2d(c: &Ctx, x: &Tensor) -> Result<(Tensor, bool)> {
    match x.rank() {
        4 => Ok((x.clone(), false)),
        3 => Ok((x.unsqueeze(2)?, true)),
        _ => Err(c.err(format!(
            "expected a 1-D or 2-D spatial input ([n, c, l] or [n, c, h, w]), got {:?}",
            x.dims()
        ))),
    }
}

fn back_to_1d(y: Tensor, was_1d: bool) -> Result<Tensor> {
    Ok(if was_1d { y.squeeze(2)? } else { y })
}

/// Conv (1-D and 2-D, grouped, dilated, any padding).
pub fn conv(c: &Ctx) -> Result<Vec<Value>> {
    let (x, was_1d) = as_2d(c, &c.float(0)?)?;
    let mut w = c.float(1)?;
    if was_1d {
        w = w.unsqueeze(2)?;
    }
    if w.rank() != 4 {
        return Err(c.err(format!(
            "weight of shape {:?} does not fit the input",
            w.dims()
        )));
    }
    let b = c.opt_float(2)?;
    let (h, wd) = (x.dims()[2], x.dims()[3]);
    let g = geometry(c, Some((w.dims()[2], w.dims()[3])), (h, wd), was_1d)?;
    let group = usize::try_from(c.attr_i("group", 1)?)
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| c.err("group must be positive"))?;
    let (x, padding) = explicit_pad(&x, &g, 0.0, was_1d)?;
    let cfg = Conv2dConfig {
        stride: g.stride,
        padding,
        dilation: g.dilation,
        groups: group,
    };
    let y = x.conv2d(&w, b.as_ref(), cfg)?;
    one(back_to_1d(y, was_1d)?)
}

/// `x` padded beforehand with `value` unless all pads agree; returns the padding left for
/// the op itself. A 1-D input (`[n, c, 1, l]`) is padded along its length only.
fn explicit_pad(x: &Tensor, g: &Geometry, value: f64, was_1d: bool) -> Result<(Tensor, usize)> {
    if was_1d && g.pads[1] == g.pads[3] && g.pads[0] == 0 && g.pads[1] == 0 {
        return Ok((x.clone(), 0));
    }
    if !was_1d {
        if let Some(p) = g.uniform_pad() {
            return Ok((x.clone(), p));
        }
    }
    let [t, l, b, r] = g.pads;
    Ok((x.pad(&[(t, b), (l, r)], value)?, 0))
}

/// ConvTranspose (2-D), with symmetric pads.
pub fn conv_transpose(c: &Ctx) -> Result<Vec<Value>> {
    let x = c.float(0)?;
    let w = c.float(1)?;
    if x.rank() != 4 || w.rank() != 4 {
        return Err(c.err(format!(
            "only 2-D transposed convolutions are supported (input {:?}, weight {:?})",
            x.dims(),
            w.dims()
        )));
    }
    if c.attr_ints("output_shape")?.is_some() {
        return Err(c.err("the output_shape attribute is not supported; give pads instead"));
    }
    let g = geometry(
        c,
        Some((w.dims()[2], w.dims()[3])),
        (x.dims()[2], x.dims()[3]),
        false,
    )?;
    let padding = g
        .uniform_pad()
        .ok_or_else(|| c.err(format!("pads {:?} must all be equal", g.pads)))?;
    let out_pad = match c.attr_ints("output_padding")?.as_deref() {
        None => (0, 0),
        Some(&[a, b]) if (0..1 << 20).contains(&a) && (0..1 << 20).contains(&b) => {
            (a as usize, b as usize)
        }
        Some(p) => return Err(c.err(format!("output_padding {p:?}: expected two values >= 0"))),
    };
    if out_pad.0 != out_pad.1 {
        return Err(c.err("output_padding must be the same on both axes"));
    }
    let cfg = ConvTranspose2dConfig {
        stride: g.stride,
        padding,
        output_padding: out_pad.0,
        dilation: g.dilation,
        groups: c.attr_i("group", 1)?.max(1) as usize,
    };
    one(x.conv_transpose2d(&w, c.opt_float(2)?.as_ref(), cfg)?)
}

/// MaxPool and AveragePool (1-D and 2-D, square windows).
pub fn pool(c: &Ctx) -> Result<Vec<Value>> {
    let (x, was_1d) = as_2d(c, &c.float(0)?)?;
    let max = c.node.op_type == "MaxPool";
    if max && c.node.outputs.len() > 1 && !c.node.outputs[1].is_empty() {
        return Err(c.err("the Indices output of MaxPool is not supported"));
    }
    let mut kernel = c
        .attr_ints("kernel_shape")?
        .ok_or_else(|| c.err("kernel_shape is required"))?;
    if was_1d {
        kernel.insert(0, 1);
    }
    let (kh, kw) = pair(c, "kernel_shape", Some(kernel), 0)?;
    let g = geometry(c, Some((kh, kw)), (x.dims()[2], x.dims()[3]), was_1d)?;
    if g.dilation != 1 {
        return Err(c.err("dilated pooling is not supported"));
    }
    let ceil = c.attr_i("ceil_mode", 0)? != 0;
    let include_pad = c.attr_i("count_include_pad", 0)? != 0;
    let square = kh == kw && !was_1d;
    let y = if square {
        let (x, padding) = match g.uniform_pad() {
            Some(p) => (x, p),
            None if max || include_pad => {
                let value = if max { f64::NEG_INFINITY } else { 0.0 };
                explicit_pad(&x, &g, value, false)?
            }
            None => {
                return Err(c.err(format!(
                    "uneven pads {:?} with count_include_pad = 0 are not supported",
                    g.pads
                )))
            }
        };
        let mut cfg = Pool2dConfig::new(kh)
            .stride(g.stride)
            .padding(padding)
            .ceil_mode(ceil);
        cfg.count_include_pad = include_pad;
        if max {
            x.max_pool2d(cfg)?
        } else {
            x.avg_pool2d(cfg)?
        }
    } else {
        return Err(c.err(format!(
            "only square windows on 2-D inputs are supported, got kernel {kh}x{kw}"
        )));
    };
    one(back_to_1d(y, was_1d)?)
}

/// GlobalAveragePool and GlobalMaxPool: over all spatial dims, kept as size 1.
pub fn global_pool(c: &Ctx) -> Result<Vec<Value>> {
    let x = c.float(0)?;
    if x.rank() < 3 {
        return Err(c.err(format!("expected [n, c, ...], got {:?}", x.dims())));
    }
    let dims: Vec<usize> = (2..x.rank()).collect();
    if c.node.op_type == "GlobalMaxPool" {
        return one(x.max_keepdim(&dims)?);
    }
    if x.rank() == 4 {
        return one(x.adaptive_avg_pool2d((1, 1))?);
    }
    one(x.mean_keepdim(&dims)?)
}

/// BatchNormalization: running statistics in evaluation; batch statistics (and updates of
/// the running ones, `momentum` weighting the old value as ONNX defines it) in training.
pub fn batch_norm(c: &Ctx) -> Result<Vec<Value>> {
    let x = c.float(0)?;
    let (scale, bias) = (c.float(1)?, c.float(2)?);
    let (mean, var) = (c.float(3)?, c.float(4)?);
    let eps = f64::from(c.attr_f("epsilon", 1e-5)?);
    let momentum = f64::from(c.attr_f("momentum", 0.9)?);
    let stats = RunningStats {
        mean: &mean,
        var: &var,
        momentum: 1.0 - momentum,
    };
    one(x.batch_norm(Some(stats), Some(&scale), Some(&bias), c.train, eps)?)
}

/// LRN across channels: `x / (bias + alpha / size · Σ x²)^beta`.
pub fn lrn(c: &Ctx) -> Result<Vec<Value>> {
    let x = c.float(0)?;
    let size = c.attr_i("size", 0)?;
    if size <= 0 {
        return Err(c.err("size must be a positive integer"));
    }
    one(x.local_response_norm(
        size as usize,
        f64::from(c.attr_f("alpha", 1e-4)?),
        f64::from(c.attr_f("beta", 0.75)?),
        f64::from(c.attr_f("bias", 1.0)?),
    )?)
}

/// Dropout: the ratio is an attribute before opset 12 and an input from it on. Active only
/// in training; the optional mask output is not produced.
pub fn dropout(c: &Ctx) -> Result<Vec<Value>> {
    let x = c.float(0)?;
    if c.node.outputs.len() > 1 && !c.node.outputs[1].is_empty() {
        return Err(c.err("the mask output of Dropout is not supported"));
    }
    let ratio = if c.opset >= 12 {
        c.opt_scalar(1)?.unwrap_or(0.5)
    } else {
        f64::from(c.attr_f("ratio", 0.5)?)
    };
    if !(0.0..1.0).contains(&ratio) {
        return Err(c.err(format!("ratio {ratio} must be in [0, 1)")));
    }
    one(x.dropout(ratio, c.train)?)
}
