//! Comparisons and selection: eq, ne, lt, le, gt, ge give 0/1 masks of the input's dtype
//! (no gradient); `where_cond` picks between two tensors and passes gradients to the one
//! picked.

use super::kernels::{binary_map, elementwise::select, Binary};
use super::rule;
use crate::{broadcast_shape, Error, Result, Tensor};

macro_rules! comparison {
    ($(#[$doc:meta])* $name:ident, $f:ident) => {
        $(#[$doc])*
        pub fn $name(&self, rhs: &Tensor) -> Result<Tensor> {
            crate::ops::half::half_via_f32!(stringify!($name), self, (self, rhs), |(a, b)| a.$name(&b));
            binary_map(self, rhs, Binary::$f, stringify!($name))
        }
    };
}

impl Tensor {
    comparison!(
        /// 1 where `self == rhs`, else 0 (broadcasting; no gradient).
        eq, Eq);
    comparison!(
        /// 1 where `self != rhs`, else 0.
        ne, Ne);
    comparison!(
        /// 1 where `self < rhs`, else 0.
        lt, Lt);
    comparison!(
        /// 1 where `self <= rhs`, else 0.
        le, Le);
    comparison!(
        /// 1 where `self > rhs`, else 0.
        gt, Gt);
    comparison!(
        /// 1 where `self >= rhs`, else 0.
        ge, Ge);

    /// Element-wise `if cond != 0 { on_true } else { on_false }`, with broadcasting of all
    /// three. Gradients flow to the branch that was picked; `cond` gets none.
    pub fn where_cond(cond: &Tensor, on_true: &Tensor, on_false: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("where_cond", on_true, (on_true, on_false), |(a, b)| {
            Tensor::where_cond(cond, &a, &b)
        });
        let dtype = on_true.dtype();
        if on_false.dtype() != dtype {
            return Err(Error::DType {
                op: "where_cond",
                expected: dtype,
                got: on_false.dtype(),
            });
        }
        let shape = broadcast_shape(
            &broadcast_shape(cond.shape(), on_true.shape(), "where_cond")?,
            on_false.shape(),
            "where_cond",
        )?;
        let mask = cond.to_dtype_untracked(dtype)?.broadcast_to(shape.dims())?;
        let a = on_true.detach().broadcast_to(shape.dims())?;
        let b = on_false.detach().broadcast_to(shape.dims())?;
        let y = select(&mask, &a, &b, shape, "where_cond")?;
        Ok(y.record(
            rule("WhereBackward", move |_, _, g| {
                let ga = binary_map(g, &mask, Binary::WhereMask, "where_cond")?;
                let gb = binary_map(g, &mask, Binary::WhereNotMask, "where_cond")?;
                Ok(vec![Some(ga), Some(gb)])
            }),
            &[on_true, on_false],
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, tensor};
    use crate::{Result, Tensor};

    #[test]
    fn comparisons_give_masks() -> Result<()> {
        let a = tensor(&[1.0, 2.0, 3.0], &[3])?;
        let b = tensor(&[2.0], &[1])?;
        assert_close(&a.lt(&b)?, &[1.0, 0.0, 0.0], 0.0)?;
        assert_close(&a.le(&b)?, &[1.0, 1.0, 0.0], 0.0)?;
        assert_close(&a.eq(&b)?, &[0.0, 1.0, 0.0], 0.0)?;
        assert_close(&a.ne(&b)?, &[1.0, 0.0, 1.0], 0.0)?;
        assert_close(&a.gt(&b)?, &[0.0, 0.0, 1.0], 0.0)?;
        assert_close(&a.ge(&b)?, &[0.0, 1.0, 1.0], 0.0)
    }

    #[test]
    fn where_cond_picks_and_routes_gradients() -> Result<()> {
        let cond = tensor(&[1.0, 0.0, 1.0], &[3])?;
        let a = tensor(&[1.0, f64::INFINITY, 3.0], &[3])?.requires_grad();
        let b = tensor(&[-1.0], &[1])?.requires_grad();
        let y = Tensor::where_cond(&cond, &a, &b)?;
        assert_close(&y, &[1.0, -1.0, 3.0], 0.0)?;
        let g = y.sum_all()?.backward()?;
        assert_close(g.get(&a).unwrap(), &[1.0, 0.0, 1.0], 0.0)?;
        assert_close(g.get(&b).unwrap(), &[1.0], 0.0)?;
        let c = tensor(&[1.0, 0.0, 0.0, 1.0], &[2, 2])?;
        gradcheck(&[&[2, 2], &[2, 1]], |x| {
            Tensor::where_cond(&c, &x[0], &x[1])
        })
    }
}
