//! The unary-map and binary-map kernel families at the tensor level: the element-wise
//! functions as typed names ([`Unary`], [`Binary`]), and one function per family that hands
//! the tensors' elements to the backend's kernel (`cpu::pointwise`).
//!
//! The gradient rules of the activations use the fused `*Grad` names, one pass over the
//! saved tensors where the same rule in tensor ops would take three or four.

use super::super::binary::check_binary;
use crate::cpu::pointwise as cpu;
use crate::dtype::with_float;
use crate::{Result, Shape, Tensor};

/// An element-wise function of one float value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Unary {
    /// `-x`.
    Neg,
    /// `e^x`.
    Exp,
    /// `ln x`.
    Log,
    /// `√x`.
    Sqrt,
    /// `|x|`.
    Abs,
    /// -1, 0 or 1.
    Sign,
    /// `1 / x`.
    Recip,
    /// `x²`.
    Sqr,
    /// `x^e`.
    Powf(f64),
    /// `x` clamped into `[min, max]`.
    Clamp { min: f64, max: f64 },
    /// 1 where `min ≤ x ≤ max`, else 0 (where a clamp passes its gradient).
    InRange { min: f64, max: f64 },
    /// The error function.
    Erf,
    /// `d erf(x)/dx = 2/√π · e^(−x²)`.
    ErfGrad,
    /// `x + s`.
    AddScalar(f64),
    /// `x · s`.
    MulScalar(f64),
    /// `1 - x`.
    OneMinus,
    /// `x` where finite, else 0.
    FiniteOrZero,
    /// 1 where `x > 0`, else 0.
    Step,
    /// The logistic function.
    Sigmoid,
    /// `tanh x`.
    Tanh,
    /// `max(0, x)`.
    Relu,
    /// `x` for `x > 0`, `slope · x` otherwise.
    LeakyRelu(f64),
    /// `x` for `x > 0`, `alpha (e^x - 1)` otherwise.
    Elu(f64),
    /// `x · Φ(x)`.
    Gelu,
    /// `d gelu(x)/dx = Φ(x) + x·φ(x)`.
    GeluGrad,
    /// `ln(1 + e^x)`, linear above 20.
    Softplus,
    /// `exp(-x² · inv)` with `inv = 1/σ²`.
    Gaussian { inv: f64 },
}

/// An element-wise function of two float values `(a, b)`, broadcast against each other.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Binary {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a · b`.
    Mul,
    /// `a / b`.
    Div,
    /// `a^b`.
    Pow,
    /// `a^(b - 1)`, a factor of `∂(a^b)/∂a`.
    PowBaseGrad,
    /// `max(a, b)`.
    Maximum,
    /// `min(a, b)`.
    Minimum,
    /// `a`'s share of the gradient of `maximum(a, b)` (`max`) or `minimum(a, b)`: 1 where
    /// `a` wins, 0.5 on ties, 0 where `b` wins.
    ExtremumShare { max: bool },
    /// 1 where `a == b`, else 0.
    Eq,
    /// 1 where `a != b`, else 0.
    Ne,
    /// 1 where `a < b`, else 0.
    Lt,
    /// 1 where `a <= b`, else 0.
    Le,
    /// 1 where `a > b`, else 0.
    Gt,
    /// 1 where `a >= b`, else 0.
    Ge,
    /// `a` where the mask `b` is non-zero, else 0.
    WhereMask,
    /// `a` where the mask `b` is zero, else 0.
    WhereNotMask,
    /// Binary cross-entropy of logits `a` against targets `b`, in its stable form
    /// `max(a, 0) - a·b + ln(1 + e^(-|a|))`.
    BceWithLogits,
    /// Its derivative in the logits, from `(a, b)`: `σ(a) - b`.
    BceWithLogitsGrad,
    /// The sigmoid's gradient from `(grad, y)`: `g · y(1 - y)`.
    SigmoidGrad,
    /// The tanh's gradient from `(grad, y)`: `g · (1 - y²)`.
    TanhGrad,
    /// The relu's gradient from `(grad, y)`: `g` where `y > 0`, else 0.
    ReluGrad,
    /// The leaky relu's gradient from `(grad, x)`: `g` where `x > 0`, `g · slope` otherwise.
    LeakyReluGrad(f64),
    /// The elu's derivative from `(x, y)`: 1 where `x > 0`, `y + alpha` otherwise.
    EluGrad(f64),
    /// The gaussian's derivative from `(x, y)`: `-2 · inv · x · y`.
    GaussianGrad { inv: f64 },
}

/// `f(x)` for every element of a float tensor (any layout), as a new contiguous tensor of
/// the same shape.
pub(crate) fn unary_map(x: &Tensor, f: Unary, op: &'static str) -> Result<Tensor> {
    with_float!(x.dtype(), op, T => {
        x.with_contiguous::<T, _>(op, |src| Tensor::from_data(cpu::unary(f, src), x.shape().clone()))
    })
}

/// `f(a, b)` element-wise with NumPy broadcasting, for two float tensors of one dtype.
///
/// # Errors
/// As [`check_binary`]: devices, dtypes and shapes that do not fit together.
pub(crate) fn binary_map(a: &Tensor, b: &Tensor, f: Binary, op: &'static str) -> Result<Tensor> {
    let out_shape = check_binary(a, b, op)?;
    with_float!(a.dtype(), op, T => {
        let out = a.with_strided::<T, _>(op, |da, la| {
            b.with_strided::<T, _>(op, |db, lb| cpu::binary(f, da, la, db, lb, &out_shape))
        })??;
        Ok(Tensor::from_data(out, out_shape))
    })
}

/// `if mask != 0 { on_true } else { on_false }` element-wise, for three tensors of one float
/// dtype already broadcast to `shape`.
pub(crate) fn select(
    mask: &Tensor,
    on_true: &Tensor,
    on_false: &Tensor,
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    with_float!(on_true.dtype(), op, T => {
        let v = mask.with_contiguous::<T, _>(op, |m| {
            on_true.with_contiguous::<T, _>(op, |a| {
                on_false.with_contiguous::<T, _>(op, |b| cpu::select(m, a, b))
            })
        })???;
        Ok(Tensor::from_data(v, shape))
    })
}
