//! The reduction kernel family at the tensor level: sums, maxima and minima of rows or
//! columns, the index of each row's extremum, and the finiteness test, over `cpu::reduce`.

use crate::cpu::reduce as cpu;
use crate::dtype::with_float;
use crate::{Result, Shape, Tensor};

/// How a reduction combines the values it reduces.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Reduce {
    /// Their sum.
    Sum,
    /// Their maximum.
    Max,
    /// Their minimum.
    Min,
}

/// The sums down the columns of `x` seen as a row-major `[r, m]` matrix (a reduction of
/// the leading dims of a contiguous tensor), as a tensor of `shape` (`m` elements).
pub(crate) fn sum_leading(
    x: &Tensor,
    r: usize,
    m: usize,
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    with_float!(x.dtype(), op, T => {
        let out = x.with_contiguous::<T, _>(op, |x| cpu::sum_cols(x, r, m))?;
        Ok(Tensor::from_data(out, shape))
    })
}

/// `reduce` of each row of length `r` of `x` (row-major, `m` rows), as a tensor of
/// `shape` (`m` elements).
pub(crate) fn reduce_rows(
    x: &Tensor,
    reduce: Reduce,
    r: usize,
    m: usize,
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    with_float!(x.dtype(), op, T => {
        let out = x.with_contiguous::<T, _>(op, |x| match reduce {
            Reduce::Sum => cpu::sum_rows(x, r, m),
            Reduce::Max => cpu::extremum_rows(x, r, true).0,
            Reduce::Min => cpu::extremum_rows(x, r, false).0,
        })?;
        Ok(Tensor::from_data(out, shape))
    })
}

/// The index of the largest (`want_max`) or smallest element of each row of length `r` of
/// `x`, the first on ties, as an I64 tensor of `shape`.
pub(crate) fn arg_extremum_rows(
    x: &Tensor,
    r: usize,
    want_max: bool,
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    let idx = with_float!(x.dtype(), op, T => x.with_contiguous::<T, _>(op, |x| cpu::extremum_rows(x, r, want_max).1)?);
    Ok(Tensor::from_data(idx, shape))
}

/// Whether every element of a float tensor is finite.
pub(crate) fn all_finite(x: &Tensor, op: &'static str) -> Result<bool> {
    with_float!(x.dtype(), op, T => x.with_contiguous::<T, _>(op, cpu::all_finite))
}
