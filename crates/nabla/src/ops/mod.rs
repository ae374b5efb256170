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
pub(crate) mod kernels;
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
