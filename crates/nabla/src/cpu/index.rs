//! The host side of the gather/scatter/index family. A tensor is seen as `[outer, size,
//! inner]` around the indexed dim, or addressed by flat positions.

use crate::dtype::Float;
use crate::storage::{alloc, alloc_zeroed};

/// Rows `idx` of each `[size, inner]` block of `x` (`outer` blocks): `[outer, idx.len(), inner]`.
pub(crate) fn index_select<T: Float>(
    x: &[T],
    idx: &[usize],
    outer: usize,
    size: usize,
    inner: usize,
) -> Vec<T> {
    let mut out = alloc::<T>(outer * idx.len() * inner);
    for o in 0..outer {
        for (j, &i) in idx.iter().enumerate() {
            let src = &x[(o * size + i) * inner..(o * size + i + 1) * inner];
            out[(o * idx.len() + j) * inner..(o * idx.len() + j + 1) * inner].copy_from_slice(src);
        }
    }
    out
}

/// The adjoint of [`index_select`]: `g` (`[outer, idx.len(), inner]`) added into the rows
/// `idx` of a zero `[outer, size, inner]` (rows picked twice receive both).
pub(crate) fn index_add<T: Float>(
    g: &[T],
    idx: &[usize],
    outer: usize,
    size: usize,
    inner: usize,
) -> Vec<T> {
    let mut gx = alloc_zeroed::<T>(outer * size * inner);
    for o in 0..outer {
        for (j, &i) in idx.iter().enumerate() {
            let src = &g[(o * idx.len() + j) * inner..(o * idx.len() + j + 1) * inner];
            for (a, &b) in gx[(o * size + i) * inner..(o * size + i + 1) * inner]
                .iter_mut()
                .zip(src)
            {
                *a += b;
            }
        }
    }
    gx
}

/// `x[p]` for each flat position `p`.
pub(crate) fn gather<T: Float>(x: &[T], positions: &[usize]) -> Vec<T> {
    positions.iter().map(|&p| x[p]).collect()
}

/// `out[p] += v` for each flat position `p` and value `v` of `src`.
pub(crate) fn scatter_add<T: Float>(out: &mut [T], positions: &[usize], src: &[T]) {
    for (&p, &v) in positions.iter().zip(src) {
        out[p] += v;
    }
}
