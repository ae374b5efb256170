//! Softmax and log-softmax of contiguous rows on host memory, stably (the row's maximum
//! subtracted before the exponentials).

use crate::dtype::Float;
use crate::storage::alloc;

/// Softmax (or log-softmax, with `log`) of each row of `r` values of `x`.
pub(crate) fn rows<T: Float>(x: &[T], r: usize, log: bool) -> Vec<T> {
    let mut out = alloc::<T>(x.len());
    if r > 0 {
        for (row, o) in x.chunks(r).zip(out.chunks_mut(r)) {
            softmax_row(row, o, log);
        }
    }
    out
}

fn softmax_row<T: Float>(x: &[T], out: &mut [T], log: bool) {
    let mut m = T::NEG_INFINITY;
    for &v in x {
        m = m.max(v);
    }
    if !m.is_finite() {
        m = T::ZERO;
    }
    let mut sum = T::ZERO;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v - m).exp();
        sum += *o;
    }
    if log {
        let lse = sum.ln() + m;
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v - lse;
        }
    } else {
        let inv = T::ONE / sum;
        for o in out.iter_mut() {
            *o *= inv;
        }
    }
}
