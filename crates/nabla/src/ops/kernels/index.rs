//! The gather/scatter/index kernel family at the tensor level, over `cpu::index`. Indices
//! arrive checked and on the host (`Tensor::to_indices`, one copy per call).

use crate::cpu::index as cpu;
use crate::dtype::with_float;
use crate::{Result, Shape, Tensor};

/// A tensor seen as `[outer, size, inner]` around one dim.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AroundDim {
    /// The product of the dims before it.
    pub(crate) outer: usize,
    /// Its size.
    pub(crate) size: usize,
    /// The product of the dims after it.
    pub(crate) inner: usize,
}

/// The entries `idx` of `x` along the dim `around` describes, as a tensor of `shape`.
pub(crate) fn index_select(
    x: &Tensor,
    idx: &[usize],
    around: AroundDim,
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    let AroundDim { outer, size, inner } = around;
    with_float!(x.dtype(), op, T => {
        let out = x.with_contiguous::<T, _>(op, |x| cpu::index_select(x, idx, outer, size, inner))?;
        Ok(Tensor::from_data(out, shape))
    })
}

/// The adjoint of [`index_select`]: `g`'s entries added into the entries `idx` of zeros
/// of `shape`.
pub(crate) fn index_add(
    g: &Tensor,
    idx: &[usize],
    around: AroundDim,
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    let AroundDim { outer, size, inner } = around;
    with_float!(g.dtype(), op, T => {
        let out = g.with_contiguous::<T, _>(op, |g| cpu::index_add(g, idx, outer, size, inner))?;
        Ok(Tensor::from_data(out, shape))
    })
}

/// The elements of `x` (row-major) at flat `positions`, as a tensor of `shape`.
pub(crate) fn gather(
    x: &Tensor,
    positions: &[usize],
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    with_float!(x.dtype(), op, T => {
        let out = x.with_contiguous::<T, _>(op, |x| cpu::gather(x, positions))?;
        Ok(Tensor::from_data(out, shape))
    })
}

/// A copy of `x` with the elements of `src` added at flat `positions`.
pub(crate) fn scatter_add(
    x: &Tensor,
    positions: &[usize],
    src: &Tensor,
    op: &'static str,
) -> Result<Tensor> {
    with_float!(x.dtype(), op, T => {
        let mut out = x.contiguous_vec::<T>(op)?;
        src.with_contiguous::<T, _>(op, |s| cpu::scatter_add(&mut out, positions, s))?;
        Ok(Tensor::from_data(out, x.shape().clone()))
    })
}
