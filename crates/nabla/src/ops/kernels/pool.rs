//! The pooling kernel family at the tensor level, over `cpu::pool`. The max-pooling indices
//! a recorded forward pass keeps for its gradient are the backend's (host `u32`s here).

use crate::cpu::pool as cpu;
use crate::dtype::with_float;
use crate::ops::pool::{Pool2dConfig, PoolGeometry};
use crate::{Result, Shape, Tensor};
use std::sync::Arc;

/// The positions of each window's maximum, kept by [`max_with_indices`] for [`max_backward`].
pub(crate) type MaxIndices = Arc<Vec<u32>>;

/// Each window's maximum, as a tensor of `shape`.
pub(crate) fn max_values(
    x: &Tensor,
    g: &PoolGeometry,
    cfg: &Pool2dConfig,
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    with_float!(x.dtype(), op, T => {
        let y = x.with_contiguous::<T, _>(op, |x| cpu::max_values(x, g, cfg))?;
        Ok(Tensor::from_data(y, shape))
    })
}

/// Each window's maximum, as a tensor of `shape`, with its position (the first on ties).
pub(crate) fn max_with_indices(
    x: &Tensor,
    g: &PoolGeometry,
    cfg: &Pool2dConfig,
    shape: Shape,
    op: &'static str,
) -> Result<(Tensor, MaxIndices)> {
    with_float!(x.dtype(), op, T => {
        let (y, idx) = x.with_contiguous::<T, _>(op, |x| cpu::max_with_indices(x, g, cfg))?;
        Ok((Tensor::from_data(y, shape), Arc::new(idx)))
    })
}

/// The input gradient of max pooling, of `shape`: each window's `dy` to its maximum.
pub(crate) fn max_backward(
    dy: &Tensor,
    idx: &MaxIndices,
    g: &PoolGeometry,
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    with_float!(dy.dtype(), op, T => {
        let gx = dy.with_contiguous::<T, _>(op, |dy| cpu::max_backward(dy, idx, g))?;
        Ok(Tensor::from_data(gx, shape))
    })
}

/// Each window's average, as a tensor of `shape`.
pub(crate) fn avg_forward(
    x: &Tensor,
    g: &PoolGeometry,
    count_pad: bool,
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    with_float!(x.dtype(), op, T => {
        let y = x.with_contiguous::<T, _>(op, |x| cpu::avg_forward(x, g, count_pad))?;
        Ok(Tensor::from_data(y, shape))
    })
}

/// The input gradient of average pooling, of `shape`.
pub(crate) fn avg_backward(
    dy: &Tensor,
    g: &PoolGeometry,
    count_pad: bool,
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    with_float!(dy.dtype(), op, T => {
        let gx = dy.with_contiguous::<T, _>(op, |dy| cpu::avg_backward(dy, g, count_pad))?;
        Ok(Tensor::from_data(gx, shape))
    })
}
