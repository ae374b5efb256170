//! The recurrent scan's loops on host memory: the forward steps ([`forward`]) and
//! backpropagation through time ([`backward`]), each range of batch rows on its own thread,
//! with the per-step products in `cpu::gemm` (in bf16 under autocast).

mod backward;
mod forward;
#[cfg(test)]
mod tests;

pub(crate) use backward::{scan_backward, ScanSaved};
pub(crate) use forward::scan_forward;

use crate::cpu::gemm::{gemm, MatRef};
use crate::dtype::Float;
use crate::ops::recurrent_scan::Dims;

/// `dst[rows, gh] (+)= h[rows, hidden] (row stride h_rs) · W_hhᵀ`.
///
/// # Safety
/// Pointers valid for the shapes.
pub(crate) unsafe fn times_w_t<T: Float>(
    d: &Dims,
    rows: usize,
    dst: &mut [T],
    accumulate: bool,
    h: *const T,
    h_rs: usize,
    wt: &[T],
) {
    let gh = d.gates_hidden();
    // SAFETY: caller's contract; `wt` is W_hhᵀ, row-major [hidden, gh].
    unsafe {
        gemm(
            rows,
            gh,
            d.hidden,
            dst.as_mut_ptr(),
            gh as isize,
            accumulate,
            MatRef {
                ptr: h,
                rs: h_rs as isize,
                cs: 1,
            },
            MatRef {
                ptr: wt.as_ptr(),
                rs: gh as isize,
                cs: 1,
            },
            false,
            d.prec,
        )
    }
}

/// Ranges of batch rows that run their recurrences on separate threads: the rows of a
/// batch are independent until the weight gradient, so splitting them avoids a thread
/// hand-off at every step (measured: the per-step products are too small to split).
/// At least 8 rows per range.
pub(crate) fn batch_ranges(batch: usize) -> Vec<(usize, usize)> {
    let k = rayon::current_num_threads().min(batch / 8).max(1);
    (0..k)
        .map(|c| (c * batch / k, (c + 1) * batch / k))
        .collect()
}

/// Runs `part` for every range, on separate threads when there are several.
pub(crate) fn for_each_range(ranges: &[(usize, usize)], part: impl Fn((usize, usize)) + Sync) {
    use rayon::prelude::*;
    if let [r] = ranges {
        part(*r);
    } else {
        ranges.par_iter().for_each(|&r| part(r));
    }
}

/// Gate block `k` (of width `n`) of a row of gates.
#[inline(always)]
pub(crate) fn gate_block<T>(row: &[T], n: usize, k: usize) -> &[T] {
    &row[k * n..(k + 1) * n]
}

/// `out = f(a + x)` element by element.
#[inline(always)]
pub(crate) fn sum_act<T: Float>(out: &mut [T], a: &[T], x: &[T], f: impl Fn(T) -> T) {
    for ((o, &a), &x) in out.iter_mut().zip(a).zip(x) {
        *o = f(a + x);
    }
}
