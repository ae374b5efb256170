//! Element-wise arithmetic (with ONNX's NumPy-style broadcasting), activations, products,
//! softmax and reductions.

use super::ctx::Ctx;
use crate::value::{checked_numel, IntTensor, Value};
use crate::Result;
use nabla::Tensor;

fn one(t: Tensor) -> Result<Vec<Value>> {
    Ok(vec![Value::Float(t)])
}

/// Add, Sub, Mul, Div: on integers (shape arithmetic) when both inputs are integers, on
/// float tensors otherwise.
pub fn binary(c: &Ctx) -> Result<Vec<Value>> {
    let op = c.node.op_type.as_str();
    if let (Value::Int(a), Value::Int(b)) = (c.input(0)?, c.input(1)?) {
        let f: fn(i64, i64) -> Option<i64> = match op {
            "Add" => i64::checked_add,
            "Sub" => i64::checked_sub,
            "Mul" => i64::checked_mul,
            // ONNX's integer division truncates toward zero, as Rust's does.
            _ => i64::checked_div,
        };
        return Ok(vec![Value::Int(int_broadcast(c, a, b, f)?)]);
    }
    let (a, b) = (c.float(0)?, c.float(1)?);
    one(match op {
        "Add" => a.add(&b)?,
        "Sub" => a.sub(&b)?,
        "Mul" => a.mul(&b)?,
        _ => a.div(&b)?,
    })
}

/// `f` applied element-wise to integer tensors under NumPy broadcasting.
fn int_broadcast(
    c: &Ctx,
    a: &IntTensor,
    b: &IntTensor,
    f: fn(i64, i64) -> Option<i64>,
) -> Result<IntTensor> {
    let rank = a.dims.len().max(b.dims.len());
    let pad = |d: &[usize]| {
        let mut v = vec![1; rank - d.len()];
        v.extend_from_slice(d);
        v
    };
    let (da, db) = (pad(&a.dims), pad(&b.dims));
    let mut dims = Vec::with_capacity(rank);
    for (&x, &y) in da.iter().zip(&db) {
        if x != y && x != 1 && y != 1 {
            return Err(c.err(format!("cannot broadcast {:?} with {:?}", a.dims, b.dims)));
        }
        dims.push(if x == 1 { y } else { x });
    }
    let n = checked_numel(&dims).ok_or_else(|| {
        c.err(format!(
            "broadcasting {:?} with {:?} gives {dims:?}, too large",
            a.dims, b.dims
        ))
    })?;
    let mut data = Vec::with_capacity(n);
    let mut idx = vec![0usize; rank];
    for _ in 0..n {
        let (mut ia, mut ib) = (0, 0);
        for k in 0..rank {
            ia = ia * da[k] + if da[k] == 1 { 0 } else { idx[k] };
            ib = ib * db[k] + if db[k] == 1 { 0 } else { idx[k] };
        }
        let v = f(a.data[ia], b.data[ib])
            .ok_or_else(|| c.err("integer overflow or division by zero"))?;
        data.push(v);
        for k in (0..rank).rev() {
            idx[k] += 1;
            if idx[k] < dims[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    Ok(IntTensor { dims, data })
}

/// Sum of any number of inputs, broadcast.
pub fn sum(c: &Ctx) -> Result<Vec<Value>> {
    let mut acc = c.float(0)?;
    for i in 1..c.inputs.len() {
        acc = acc.add(&c.float(i)?)?;
    }
    one(acc)
}

/// Relu, LeakyRelu, Sigmoid, Tanh and the other one-input maps.
pub fn unary(c: &Ctx) -> Result<Vec<Value>> {
    let x = c.float(0)?;
    one(match c.node.op_type.as_str() {
        "Relu" => x.relu()?,
        "LeakyRelu" => x.leaky_relu(f64::from(c.attr_f("alpha", 0.01)?))?,
        "Sigmoid" => x.sigmoid()?,
        "Tanh" => x.tanh()?,
        "Exp" => x.exp()?,
        "Log" => x.log()?,
        "Sqrt" => x.sqrt()?,
        "Neg" => x.neg()?,
        "Abs" => x.abs()?,
        "Reciprocal" => x.recip()?,
        "Erf" => x.erf()?,
        "Elu" => x.elu(f64::from(c.attr_f("alpha", 1.0)?))?,
        "Softplus" => x.softplus()?,
        "HardSigmoid" => {
            let (alpha, beta) = (c.attr_f("alpha", 0.2)?, c.attr_f("beta", 0.5)?);
            x.mul_scalar(f64::from(alpha))?
                .add_scalar(f64::from(beta))?
                .clamp(0.0, 1.0)?
        }
        // x · HardSigmoid(x) with alpha 1/6, beta 1/2 (opset 14; MobileNetV3's activation).
        "HardSwish" => x.mul(&x.mul_scalar(1.0 / 6.0)?.add_scalar(0.5)?.clamp(0.0, 1.0)?)?,
        other => return Err(c.err(format!("{other} is not an element-wise map"))),
    })
}

/// Clip: bounds are attributes before opset 11 and optional inputs from it on.
pub fn clip(c: &Ctx) -> Result<Vec<Value>> {
    let x = c.float(0)?;
    let (lo, hi) = if c.opset < 11 {
        (
            f64::from(c.attr_f("min", f32::NEG_INFINITY)?),
            f64::from(c.attr_f("max", f32::INFINITY)?),
        )
    } else {
        (
            c.opt_scalar(1)?.unwrap_or(f64::NEG_INFINITY),
            c.opt_scalar(2)?.unwrap_or(f64::INFINITY),
        )
    };
    one(x.clamp(lo, hi)?)
}

/// Gemm: `alpha · A' B' + beta · C`, with `A'`, `B'` optionally transposed.
pub fn gemm(c: &Ctx) -> Result<Vec<Value>> {
    let (mut a, mut b) = (c.float(0)?, c.float(1)?);
    if a.rank() != 2 || b.rank() != 2 {
        return Err(c.err(format!(
            "A and B must be 2-D, got {:?} and {:?}",
            a.dims(),
            b.dims()
        )));
    }
    let (alpha, beta) = (c.attr_f("alpha", 1.0)?, c.attr_f("beta", 1.0)?);
    let (trans_a, trans_b) = (c.attr_i("transA", 0)? != 0, c.attr_i("transB", 0)? != 0);
    let bias = c.opt_float(2)?;
    // The common form (a linear layer) runs as one `linear`, the fastest path.
    if !trans_a && trans_b && alpha == 1.0 && beta == 1.0 {
        if let Some(bias) = bias.as_ref().filter(|t| t.rank() == 1) {
            return one(a.linear(&b, Some(bias))?);
        }
    }
    if trans_a {
        a = a.t()?;
    }
    if trans_b {
        b = b.t()?;
    }
    let mut y = a.matmul(&b)?;
    if alpha != 1.0 {
        y = y.mul_scalar(f64::from(alpha))?;
    }
    if let Some(bias) = bias {
        let bias = if beta != 1.0 {
            bias.mul_scalar(f64::from(beta))?
        } else {
            bias
        };
        y = y.add(&bias)?;
    }
    one(y)
}

/// MatMul with NumPy semantics.
pub fn matmul(c: &Ctx) -> Result<Vec<Value>> {
    one(c.float(0)?.matmul(&c.float(1)?)?)
}

/// Softmax and LogSoftmax. From opset 13 they act along `axis` (default -1); before, the
/// input is seen as 2-D, `[prod(dims[..axis]), prod(dims[axis..])]` (default axis 1).
pub fn softmax(c: &Ctx) -> Result<Vec<Value>> {
    let x = c.float(0)?;
    let log = c.node.op_type == "LogSoftmax";
    let apply = |t: &Tensor, axis: usize| {
        if log {
            t.log_softmax(axis)
        } else {
            t.softmax(axis)
        }
    };
    if c.opset >= 13 {
        let axis = c.axis(c.attr_i("axis", -1)?, x.rank())?;
        return one(apply(&x, axis)?);
    }
    let axis = c.axis(c.attr_i("axis", 1)?, x.rank())?;
    let outer: usize = x.dims()[..axis].iter().product();
    let inner: usize = x.dims()[axis..].iter().product();
    let y = apply(&x.reshape(&[outer, inner])?, 1)?;
    one(y.reshape(x.dims())?)
}

/// ReduceMean (and ReduceSum): axes are an attribute before opset 18 (13 for ReduceSum)
/// and an optional input from it on; no axes reduces all dims unless
/// `noop_with_empty_axes`.
pub fn reduce(c: &Ctx) -> Result<Vec<Value>> {
    let x = c.float(0)?;
    let input_from = if c.node.op_type == "ReduceSum" {
        13
    } else {
        18
    };
    let axes = if c.opset >= input_from {
        c.opt_ints(1)?
    } else {
        c.attr_ints("axes")?
    };
    let keep = c.attr_i("keepdims", 1)? != 0;
    let axes: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|&d| c.axis(d, x.rank()))
            .collect::<Result<_>>()?,
        _ if c.attr_i("noop_with_empty_axes", 0)? != 0 => return one(x),
        _ => (0..x.rank()).collect(),
    };
    let mean = c.node.op_type == "ReduceMean";
    one(match (mean, keep) {
        (true, true) => x.mean_keepdim(&axes)?,
        (true, false) => x.mean(&axes)?,
        (false, true) => x.sum_keepdim(&axes)?,
        (false, false) => x.sum(&axes)?,
    })
}
