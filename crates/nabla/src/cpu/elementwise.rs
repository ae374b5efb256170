//! Element-wise maps over contiguous slices and broadcast binary maps over strided layouts.
//!
//! Work is split across the rayon pool only above [`PAR_MIN_LEN`] elements: below that the
//! cost of waking threads exceeds the work.

use super::simd::vectorized;
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
    let run = |o: &mut [U], x: &[T]| {
        vectorized(
            #[inline(always)]
            || {
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = f(x);
                }
            },
        )
    };
    if x.len() >= PAR_MIN_LEN {
        out.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(|(o, x)| run(o, x));
    } else {
        run(&mut out, x);
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
    let run = |o: &mut [U], a: &[T], b: &[T]| {
        vectorized(
            #[inline(always)]
            || {
                for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                    *o = f(a, b);
                }
            },
        )
    };
    if a.len() >= PAR_MIN_LEN {
        out.par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
            .for_each(|(o, (a, b))| run(o, a, b));
    } else {
        run(&mut out, a, b);
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
    // One dispatch per chunk of rows, not per row: rows can be a few values long.
    let do_rows = |first_row: usize, chunk: &mut [U]| {
        vectorized(
            #[inline(always)]
            || {
                for (r, o) in chunk.chunks_mut(inner).enumerate() {
                    let row = first_row + r;
                    let oa = row_offset(&dims, sa, ba.offset(), row);
                    let ob = row_offset(&dims, sb, bb.offset(), row);
                    zip_row(o, &a[oa..], isa, &b[ob..], isb, &f);
                }
            },
        )
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

/// One output row of [`broadcast_zip`]: `o[j] = f(a[j·isa], b[j·isb])`, with the
/// contiguous and broadcast cases as separate loops so that they vectorize. Always inlined,
/// so that [`vectorized`] compiles it for the caller's level.
#[inline(always)]
fn zip_row<T: Element, U: Element>(
    o: &mut [U],
    a: &[T],
    isa: usize,
    b: &[T],
    isb: usize,
    f: &impl Fn(T, T) -> U,
) {
    let n = o.len();
    match (isa, isb) {
        (1, 1) => {
            for ((o, &x), &y) in o.iter_mut().zip(&a[..n]).zip(&b[..n]) {
                *o = f(x, y);
            }
        }
        (1, 0) => {
            let y = b[0];
            for (o, &x) in o.iter_mut().zip(&a[..n]) {
                *o = f(x, y);
            }
        }
        (0, 1) => {
            let x = a[0];
            for (o, &y) in o.iter_mut().zip(&b[..n]) {
                *o = f(x, y);
            }
        }
        _ => {
            for (j, o) in o.iter_mut().enumerate() {
                *o = f(a[j * isa], b[j * isb]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The maps run their loops through `vectorized`: every level gives the same values
    /// (a transcendental function, and each broadcast case of `broadcast_zip`).
    #[test]
    fn maps_agree_at_every_simd_level() {
        use crate::cpu::simd::{with_level, Level};
        use crate::dtype::Float;
        let x: Vec<f32> = (0..999).map(|i| (i as f32 - 500.0) * 0.021).collect();
        let row: Vec<f32> = x[..37].to_vec();
        let (lx, lr) = (
            Layout::contiguous(Shape(vec![27, 37])),
            Layout::contiguous(Shape(vec![1, 37])),
        );
        let col = Layout::contiguous(Shape(vec![27, 1]));
        let out = Shape(vec![27, 37]);
        let run = |level| {
            with_level(level, || {
                let mut all = map(&x, |v: f32| v.sigmoid_fast());
                all.extend(zip_map(&x, &x, |a: f32, b: f32| a.tanh_fast() * b));
                for (b, lb) in [(&x[..], &lx), (&row[..], &lr), (&x[..27], &col)] {
                    all.extend(broadcast_zip(&x, &lx, b, lb, &out, |a: f32, b: f32| a - b));
                    all.extend(broadcast_zip(b, lb, &x, &lx, &out, |a: f32, b: f32| a * b));
                }
                all
            })
        };
        let base = run(Level::Baseline);
        for level in [Level::Avx2, Level::Avx512] {
            for (i, (a, b)) in run(level).iter().zip(&base).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
                    "{level:?} value {i}: {a} vs {b}"
                );
            }
        }
    }

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
