//! The softmax kernel family at the tensor level, over `cpu::softmax`.

use crate::cpu::softmax as cpu;
use crate::dtype::with_float;
use crate::{Result, Tensor};

/// `softmax` (or `log_softmax` with `log`) of each row of length `r` of `x`, as a tensor of
/// `x`'s shape.
pub(crate) fn rows(x: &Tensor, r: usize, log: bool, op: &'static str) -> Result<Tensor> {
    with_float!(x.dtype(), op, T => {
        x.with_contiguous::<T, _>(op, |v| Tensor::from_data(cpu::rows(v, r, log), x.shape().clone()))
    })
}
