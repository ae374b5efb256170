//! Element-wise binary math with NumPy broadcasting: add, sub, mul, div, pow, maximum,
//! minimum. Gradient rules are written as if shapes matched; the engine sums each gradient
//! back to its input's shape.

use super::kernels::{binary_map, unary_map, Binary, Unary};
use super::rule;
use crate::shape::broadcast_shape;
use crate::{Error, Result, Shape, Tensor};

/// Checks that two tensors can be combined element-wise and returns the broadcast shape.
pub(crate) fn check_binary(a: &Tensor, b: &Tensor, op: &'static str) -> Result<Shape> {
    a.check_same_device(b, op)?;
    if a.dtype() != b.dtype() {
        return Err(Error::DType {
            op,
            expected: a.dtype(),
            got: b.dtype(),
        });
    }
    broadcast_shape(a.shape(), b.shape(), op)
}

impl Tensor {
    /// `a + b` with broadcasting.
    ///
    /// # Errors
    /// [`Error::Broadcast`] when the shapes do not broadcast; [`Error::DType`] when dtypes differ.
    pub fn add(&self, rhs: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("add", self, (self, rhs), |(a, b)| a.add(&b));
        let y = binary_map(self, rhs, Binary::Add, "add")?;
        Ok(y.record(
            rule("AddBackward", |_, _, g| {
                Ok(vec![Some(g.clone()), Some(g.clone())])
            }),
            &[self, rhs],
        ))
    }

    /// `a - b` with broadcasting.
    pub fn sub(&self, rhs: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("sub", self, (self, rhs), |(a, b)| a.sub(&b));
        let y = binary_map(self, rhs, Binary::Sub, "sub")?;
        Ok(y.record(
            rule("SubBackward", |_, _, g| {
                Ok(vec![Some(g.clone()), Some(g.neg()?)])
            }),
            &[self, rhs],
        ))
    }

    /// `a · b` element-wise with broadcasting.
    pub fn mul(&self, rhs: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("mul", self, (self, rhs), |(a, b)| a.mul(&b));
        let y = binary_map(self, rhs, Binary::Mul, "mul")?;
        // ∂(ab)/∂a = b, ∂(ab)/∂b = a
        Ok(y.record(
            rule("MulBackward", |x, _, g| {
                let da = if x[0].tracks_grad() {
                    Some(g.mul(&x[1])?)
                } else {
                    None
                };
                let db = if x[1].tracks_grad() {
                    Some(g.mul(&x[0])?)
                } else {
                    None
                };
                Ok(vec![da, db])
            }),
            &[self, rhs],
        ))
    }

    /// `a / b` element-wise with broadcasting.
    pub fn div(&self, rhs: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("div", self, (self, rhs), |(a, b)| a.div(&b));
        let y = binary_map(self, rhs, Binary::Div, "div")?;
        // ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = -a/b² = -y/b
        Ok(y.record(
            rule("DivBackward", |x, y, g| {
                let da = if x[0].tracks_grad() {
                    Some(g.div(&x[1])?)
                } else {
                    None
                };
                let db = if x[1].tracks_grad() {
                    Some(g.mul(y)?.div(&x[1])?.neg()?)
                } else {
                    None
                };
                Ok(vec![da, db])
            }),
            &[self, rhs],
        ))
    }

    /// `a^b` element-wise with broadcasting.
    pub fn pow(&self, rhs: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("pow", self, (self, rhs), |(a, b)| a.pow(&b));
        let y = binary_map(self, rhs, Binary::Pow, "pow")?;
        // ∂(a^b)/∂a = b·a^(b-1), ∂(a^b)/∂b = a^b·ln a
        Ok(y.record(
            rule("PowBackward", |x, y, g| {
                let da = if x[0].tracks_grad() {
                    Some(g.mul(&x[1])?.mul(&binary_map(
                        &x[0],
                        &x[1],
                        Binary::PowBaseGrad,
                        "pow",
                    )?)?)
                } else {
                    None
                };
                let db = if x[1].tracks_grad() {
                    Some(g.mul(y)?.mul(&x[0].log()?)?)
                } else {
                    None
                };
                Ok(vec![da, db])
            }),
            &[self, rhs],
        ))
    }

    /// The element-wise maximum of two tensors, with broadcasting. Where they are equal the
    /// gradient is split evenly, as in PyTorch.
    pub fn maximum(&self, rhs: &Tensor) -> Result<Tensor> {
        self.extremum(rhs, true)
    }

    /// The element-wise minimum of two tensors, with broadcasting.
    pub fn minimum(&self, rhs: &Tensor) -> Result<Tensor> {
        self.extremum(rhs, false)
    }

    fn extremum(&self, rhs: &Tensor, max: bool) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("maximum", self, (self, rhs), |(a, b)| a.extremum(&b, max));
        let y = if max {
            binary_map(self, rhs, Binary::Maximum, "maximum")?
        } else {
            binary_map(self, rhs, Binary::Minimum, "minimum")?
        };
        Ok(y.record(
            rule(
                if max {
                    "MaximumBackward"
                } else {
                    "MinimumBackward"
                },
                move |x, _, g| {
                    // share_a = 1 where a wins, 0.5 on ties, 0 where b wins.
                    let share_a =
                        binary_map(&x[0], &x[1], Binary::ExtremumShare { max }, "maximum")?;
                    let share_b = unary_map(&share_a, Unary::OneMinus, "maximum")?;
                    Ok(vec![Some(g.mul(&share_a)?), Some(g.mul(&share_b)?)])
                },
            ),
            &[self, rhs],
        ))
    }
}

macro_rules! impl_operator {
    ($trait:ident, $fn:ident, $method:ident) => {
        impl std::ops::$trait<&Tensor> for &Tensor {
            type Output = Result<Tensor>;
            fn $fn(self, rhs: &Tensor) -> Result<Tensor> {
                self.$method(rhs)
            }
        }
    };
}
impl_operator!(Add, add, add);
impl_operator!(Sub, sub, sub);
impl_operator!(Mul, mul, mul);
impl_operator!(Div, div, div);

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};
    use crate::{Device, Error, Result, Tensor};

    #[test]
    fn add_broadcasts_rows_and_columns() -> Result<()> {
        let a = tensor(&[1.0, 2.0, 3.0], &[3, 1])?;
        let b = tensor(&[10.0, 20.0], &[2])?;
        assert_close(&a.add(&b)?, &[11.0, 21.0, 12.0, 22.0, 13.0, 23.0], 0.0)?;
        assert_close(&(&a * &b)?, &[10.0, 20.0, 20.0, 40.0, 30.0, 60.0], 0.0)
    }

    #[test]
    fn binary_ops_on_transposed_views() -> Result<()> {
        let a = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
        let s = a.t()?.sub(&a.t()?.mul_scalar(2.0)?)?;
        assert_close(&s, &[-1.0, -4.0, -2.0, -5.0, -3.0, -6.0], 0.0)?;
        assert_close(
            &a.div(&tensor(&[2.0], &[1])?)?,
            &[0.5, 1.0, 1.5, 2.0, 2.5, 3.0],
            0.0,
        )
    }

    #[test]
    fn binary_ops_reject_bad_shapes_and_dtypes() {
        let a = Tensor::zeros(&[2, 3], crate::DType::F32, &Device::Cpu);
        let b = Tensor::zeros(&[4], crate::DType::F32, &Device::Cpu);
        assert!(matches!(a.add(&b), Err(Error::Broadcast { .. })));
        let c = Tensor::zeros(&[2, 3], crate::DType::F64, &Device::Cpu);
        assert!(matches!(a.mul(&c), Err(Error::DType { .. })));
    }

    #[test]
    fn maximum_splits_gradient_on_ties() -> Result<()> {
        let a = tensor(&[1.0, 2.0, 3.0], &[3])?.requires_grad();
        let b = tensor(&[2.0, 2.0, 1.0], &[3])?.requires_grad();
        let g = a.maximum(&b)?.sum_all()?.backward()?;
        assert_close(g.get(&a).unwrap(), &[0.0, 0.5, 1.0], 0.0)?;
        assert_close(g.get(&b).unwrap(), &[1.0, 0.5, 0.0], 0.0)
    }

    #[test]
    fn binary_gradients_match_finite_differences_with_broadcasting() -> Result<()> {
        gradcheck(&[&[2, 3, 4], &[3, 1]], |x| x[0].add(&x[1]))?;
        gradcheck(&[&[2, 3, 4], &[4]], |x| x[0].sub(&x[1]))?;
        gradcheck(&[&[3, 1], &[1, 4]], |x| x[0].mul(&x[1]))?;
        let pos = GradcheckOpts {
            low: 0.5,
            high: 2.0,
            ..Default::default()
        };
        gradcheck_with(&[&[3, 4], &[4]], pos.clone(), |x| x[0].div(&x[1]))?;
        gradcheck_with(&[&[3, 4], &[3, 4]], pos, |x| x[0].pow(&x[1]))?;
        gradcheck(&[&[3, 4], &[3, 4]], |x| x[0].maximum(&x[1]))?;
        gradcheck(&[&[3, 4], &[1, 4]], |x| x[0].minimum(&x[1]))
    }

    #[test]
    fn gradients_flow_through_non_contiguous_inputs() -> Result<()> {
        let opts = GradcheckOpts {
            non_contiguous: true,
            ..Default::default()
        };
        gradcheck_with(&[&[3, 4], &[3, 4]], opts, |x| x[0].mul(&x[1])?.add(&x[0]))
    }
}
