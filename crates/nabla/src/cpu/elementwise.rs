//! Element-wise maps over contiguous slices and broadcast binary maps over strided layouts.
//!
//! Work is split across the rayon pool only above [`PAR_MIN_LEN`] elements: below that the
//! cost of waking threads exceeds the work.

use crate::layout::Layout;
use crate::storage::alloc;
use crate::{Element, Shape};
use rayon::prelude::*;

/// Element count above which loops run in parallel.
pub(crate) const PAR_MIN_LEN: usize = 1 << 15;
/// Chunk size for parallel element-wise loops.
const CHUNK: usize = 1 << 13;

/// `out[i] = f(x[i])`.
pub(crate) fn map<T: Element, U: Element>(x: &[T], f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let mut out = alloc::<U>(x.len());
    if x.len() >= PAR_MIN_LEN {
        out.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(|(o, x)| {
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = f(x);
                }
            });
    } else {
        for (o, &x) in out.iter_mut().zip(x) {
            *o = f(x);
        }
    }
    out
}

/// `out[i] = f(a[i], b[i])` for slices of equal length.
pub(crate) fn zip_map<T: Element, U: Element>(
    a: &[T],
    b: &[T],
    f: impl Fn(T, T) -> U + Sync,
) -> Vec<U> {
    let mut out = alloc::<U>(a.len());
    if a.len() >= PAR_MIN_LEN {
        out.par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
            .for_each(|(o, (a, b))| {
                for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                    *o = f(a, b);
                }
            });
    } else {
        for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
            *o = f(a, b);
        }
    }
    out
}

/// Merges adjacent dimensions that are contiguous with each other in every layout, so that
/// loops run over fewer, longer rows. Size-1 dims are dropped. Returns (dims, strides per layout).
pub(crate) fn coalesce(dims: &[usize], strides: &[&[usize]]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut out_dims: Vec<usize> = Vec::new();
    let mut out_strides: Vec<Vec<usize>> = vec![Vec::new(); strides.len()];
    for (i, &d) in dims.iter().enumerate() {
        if d == 1 {
            continue;
        }
        if let Some(&last) = out_dims.last() {
            let mergeable = strides
                .iter()
                .zip(&out_strides)
                .all(|(s, os)| *os.last().expect("same length as dims") == s[i] * d);
            if mergeable {
                let n = out_dims.len();
                out_dims[n - 1] = last * d;
                for (s, os) in strides.iter().zip(out_strides.iter_mut()) {
                    *os.last_mut().expect("non-empty") = s[i];
                }
                continue;
            }
        }
        out_dims.push(d);
        for (s, os) in strides.iter().zip(out_strides.iter_mut()) {
            os.push(s[i]);
        }
    }
    if out_dims.is_empty() {
        out_dims.push(1);
        for os in out_strides.iter_mut() {
            os.push(0);
        }
    }
    (out_dims, out_strides)
}

/// Offset of row number `row` (row-major over all dims but the last).
fn row_offset(dims: &[usize], strides: &[usize], offset: usize, mut row: usize) -> usize {
    let mut off = offset;
    for d in (0..dims.len() - 1).rev() {
        off += (row % dims[d]) * strides[d];
        row /= dims[d];
    }
    off
}

/// `out = f(a, b)` with NumPy broadcasting of both layouts to `out_shape`.
pub(crate) fn broadcast_zip<T: Element, U: Element>(
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
    out_shape: &Shape,
    f: impl Fn(T, T) -> U + Sync,
) -> Vec<U> {
    let n = out_shape.numel();
    if la.is_contiguous()
        && lb.is_contiguous()
        && la.shape() == out_shape
        && lb.shape() == out_shape
    {
        return zip_map(
            &a[la.offset()..la.offset() + n],
            &b[lb.offset()..lb.offset() + n],
            f,
        );
    }
    let ba = la
        .broadcast_to(out_shape, "broadcast")
        .expect("shapes were checked by the caller");
    let bb = lb
        .broadcast_to(out_shape, "broadcast")
        .expect("shapes were checked by the caller");
    let (dims, strides) = coalesce(out_shape.dims(), &[ba.strides(), bb.strides()]);
    let (sa, sb) = (&strides[0], &strides[1]);
    let inner = *dims.last().expect("coalesce returns at least one dim");
    let (isa, isb) = (
        *sa.last().expect("non-empty"),
        *sb.last().expect("non-empty"),
    );
    let mut out = alloc::<U>(n);
    if n == 0 {
        return out;
    }
    let rows = n / inner;
    let do_rows = |first_row: usize, chunk: &mut [U]| {
        for (r, o) in chunk.chunks_mut(inner).enumerate() {
            let row = first_row + r;
            let oa = row_offset(&dims, sa, ba.offset(), row);
            let ob = row_offset(&dims, sb, bb.offset(), row);
            match (isa, isb) {
                (1, 1) => {
                    for ((o, &x), &y) in
                        o.iter_mut().zip(&a[oa..oa + inner]).zip(&b[ob..ob + inner])
                    {
                        *o = f(x, y);
                    }
                }
                (1, 0) => {
                    let y = b[ob];
                    for (o, &x) in o.iter_mut().zip(&a[oa..oa + inner]) {
                        *o = f(x, y);
                    }
                }
                (0, 1) => {
                    let x = a[oa];
                    for (o, &y) in o.iter_mut().zip(&b[ob..ob + inner]) {
                        *o = f(x, y);
                    }
                }
                _ => {
                    for (j, o) in o.iter_mut().enumerate() {
                        *o = f(a[oa + j * isa], b[ob + j * isb]);
                    }
                }
            }
        }
    };
    if n >= PAR_MIN_LEN && rows > 1 {
        let rows_per_chunk = (CHUNK / inner).max(1);
        out.par_chunks_mut(rows_per_chunk * inner)
            .enumerate()
            .for_each(|(c, chunk)| do_rows(c * rows_per_chunk, chunk));
    } else {
        do_rows(0, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesce_merges_contiguous_dims() {
        // [2, 3, 4] contiguous + [1, 3, 1] broadcast (strides [0, 1, 0]).
        let (d, s) = coalesce(&[2, 3, 4], &[&[12, 4, 1], &[0, 1, 0]]);
        assert_eq!(d, vec![2, 3, 4]);
        assert_eq!(s[1], vec![0, 1, 0]);
        let (d, s) = coalesce(&[2, 3, 4], &[&[12, 4, 1], &[12, 4, 1]]);
        assert_eq!(d, vec![24]);
        assert_eq!(s[0], vec![1]);
    }
}
