//! Every differentiable op, one file per family: the public method, its shape checks, its
//! gradient rule beside it, and its tests.

pub(crate) mod activation;
pub(crate) mod batch_norm;
pub(crate) mod binary;
pub(crate) mod compare;
pub(crate) mod conv;
pub(crate) mod dropout;
pub(crate) mod embedding;
pub(crate) mod half;
pub(crate) mod index;
pub(crate) mod join;
pub(crate) mod lrn;
pub(crate) mod matmul;
pub(crate) mod optimizer;
pub(crate) mod pool;
pub(crate) mod recurrent;
pub(crate) mod recurrent_scan;
pub(crate) mod reduce;
pub(crate) mod softmax;
pub(crate) mod unary;
pub(crate) mod view;

use crate::autograd::Backward;
use crate::{Result, Tensor};

/// Checks that every present input of an op lives on `lead`'s device.
///
/// # Errors
/// [`crate::Error::DeviceMismatch`] naming the op and the first pair of devices that differ.
#[inline]
pub(crate) fn check_devices(
    op: &'static str,
    lead: &Tensor,
    others: &[Option<&Tensor>],
) -> Result<()> {
    others
        .iter()
        .flatten()
        .try_for_each(|t| lead.check_same_device(t, op))
}

/// A gradient rule given as a closure, named for `grad_fn` display.
pub(crate) struct Rule<F> {
    name: &'static str,
    f: F,
}

/// Wraps a closure `|inputs, y, grad| -> per-input gradients` as a [`Backward`] rule.
pub(crate) fn rule<F>(name: &'static str, f: F) -> Rule<F>
where
    F: Fn(&[Tensor], &Tensor, &Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
{
    Rule { name, f }
}

impl<F> Backward for Rule<F>
where
    F: Fn(&[Tensor], &Tensor, &Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
{
    fn backward(
        &self,
        inputs: &[Tensor],
        y: &Tensor,
        grad: &Tensor,
    ) -> Result<Vec<Option<Tensor>>> {
        (self.f)(inputs, y, grad)
    }
    fn name(&self) -> &'static str {
        self.name
    }
}

/// Applies `|v| body` to every element of a float tensor (any layout), giving a new
/// contiguous tensor of the same shape. `T` is bound to the element type inside `body`.
macro_rules! map_float {
    ($x:expr, $op:expr, |$v:ident : T| $body:expr) => {{
        let x: &$crate::Tensor = $x;
        #[allow(unused_imports)]
        use $crate::{dtype::Float as _, Element as _};
        $crate::dtype::with_float!(x.dtype(), $op, T => {
            x.with_contiguous::<T, _>($op, |src| {
                let out = $crate::cpu::elementwise::map(src, |$v: T| -> T { $body });
                $crate::Tensor::from_data(out, x.shape().clone())
            })
        })
    }};
}

/// Applies `|a, b| body` element-wise with broadcasting to two float tensors of one dtype.
macro_rules! zip_float {
    ($a:expr, $b:expr, $op:expr, |$x:ident : T, $y:ident : T| $body:expr) => {{
        let a: &$crate::Tensor = $a;
        let b: &$crate::Tensor = $b;
        let out_shape = $crate::ops::binary::check_binary(a, b, $op)?;
        #[allow(unused_imports)]
        use $crate::{dtype::Float as _, Element as _};
        $crate::dtype::with_float!(a.dtype(), $op, T => {
            let sa = a.read_storage();
            let sb = b.read_storage();
            let da = sa.host_slice::<T>().expect("dtype checked");
            let db = sb.host_slice::<T>().expect("dtype checked");
            let out = $crate::cpu::elementwise::broadcast_zip(da, a.layout(), db, b.layout(), &out_shape,
                |$x: T, $y: T| -> T { $body });
            Ok::<_, $crate::Error>($crate::Tensor::from_data(out, out_shape))
        })
    }};
}
pub(crate) use map_float;
pub(crate) use zip_float;
