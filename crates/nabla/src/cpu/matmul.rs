//! The host side of the matmul family: batched products over broadcast strided layouts,
//! and the fused `x·Wᵀ + b` of `linear` in the orientation that packs less.

use crate::autocast::Precision;
use crate::cpu::gemm::{gemm, MatRef, PAR_MIN_FLOPS};
use crate::cpu::transpose::transpose_add_bias;
use crate::dtype::Float;
use crate::layout::Layout;
use crate::storage::alloc;
use crate::Shape;
use rayon::prelude::*;

/// Per-product size below which a batch of products is split across threads (one product
/// per task) instead of splitting each product.
const SMALL_PRODUCT_FLOPS: usize = 1 << 18;

struct SendPtr<T>(*const T);
// SAFETY: used only to share read-only operands and disjoint output blocks across the
// threads of one matmul call, which outlives them.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

/// Offset of batch element `b` in a layout whose batch dims are `dims[..nb]`.
fn batch_offset(l: &Layout, nb: usize, mut b: usize) -> usize {
    let mut off = l.offset();
    for d in (0..nb).rev() {
        off += (b % l.dims()[d]) * l.strides()[d];
        b /= l.dims()[d];
    }
    off
}

/// `out[b] = lhs[b] · rhs[b]` for broadcast layouts `[batch.., m, k]` and `[batch.., k, n]`.
pub(crate) fn batched_gemm<T: Float>(
    lhs: &[T],
    ll: &Layout,
    rhs: &[T],
    lr: &Layout,
    out_shape: &Shape,
    prec: Precision,
) -> Vec<T> {
    let rank = out_shape.rank();
    let nb = rank - 2;
    let (m, n) = (out_shape.dims()[rank - 2], out_shape.dims()[rank - 1]);
    let k = ll.dims()[rank - 1];
    let batch: usize = out_shape.dims()[..nb].iter().product();
    let mut out = alloc::<T>(out_shape.numel());
    let (lrs, lcs) = (
        ll.strides()[rank - 2] as isize,
        ll.strides()[rank - 1] as isize,
    );
    let (rrs, rcs) = (
        lr.strides()[rank - 2] as isize,
        lr.strides()[rank - 1] as isize,
    );
    let (lp, rp) = (SendPtr(lhs.as_ptr()), SendPtr(rhs.as_ptr()));
    let one = |b: usize, dst: &mut [T], parallel: bool| {
        let (lp, rp) = (&lp, &rp);
        // SAFETY: offsets and strides come from layouts validated against these storages;
        // dst is a distinct m×n block.
        unsafe {
            gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                n as isize,
                false,
                MatRef {
                    ptr: lp.0.add(batch_offset(ll, nb, b)),
                    rs: lrs,
                    cs: lcs,
                },
                MatRef {
                    ptr: rp.0.add(batch_offset(lr, nb, b)),
                    rs: rrs,
                    cs: rcs,
                },
                parallel,
                prec,
            )
        }
    };
    if m * n == 0 {
        return out;
    }
    if batch > 1 && m * n * k < SMALL_PRODUCT_FLOPS {
        out.par_chunks_mut(m * n)
            .enumerate()
            .for_each(|(b, dst)| one(b, dst, false));
    } else {
        for (b, dst) in out.chunks_mut(m * n).enumerate() {
            one(b, dst, true);
        }
    }
    out
}

/// Whether `linear` should compute `y = x·Wᵀ` as `yᵀ = W·xᵀ` and transpose the result.
///
/// The GEMM packs the operand that `y`'s columns come from by gathering it one element per
/// row: `W` (`out × in`) in the direct orientation, `x` (`rows × in`) in the transposed one,
/// which then also pays a `rows × out` transpose. Measured on the MLP 784-512-256-10 at batch
/// 128: the first layer gathers 100 K values of `x` instead of 401 K of `W`.
pub(crate) fn gather_input(rows: usize, in_f: usize, out_f: usize) -> bool {
    rows >= 16 && rows * (in_f + out_f) < in_f * out_f
}

/// `x·Wᵀ + b` computed as `yᵀ = W·xᵀ` (see [`gather_input`]), then transposed into a
/// `rows × out_f` row-major result with the bias added on the way.
///
/// With enough rows each thread takes a band of them (a multiple of 16) and transposes
/// its own product right away: one fork of the pool per call, and the band's `yᵀ` stays in
/// that thread's cache. With few (an LSTM's batch of 32), the product splits `W`'s rows
/// between the threads and the transpose, a few microseconds, runs on this thread.
///
/// # Safety
/// `x` (`rows × in_f`) and `w` (`out_f × in_f`) must be valid strided views.
unsafe fn linear_transposed<T: Float>(
    rows: usize,
    in_f: usize,
    out_f: usize,
    x: MatRef<T>,
    w: MatRef<T>,
    bias: Option<&[T]>,
    prec: Precision,
) -> Vec<T> {
    let mut out = alloc::<T>(rows * out_f);
    // Rows r0.. of x, seen as columns of xᵀ.
    let xt = |r0: usize| {
        // A whole-value capture: the raw pointer field alone is not Sync.
        let x = &x;
        MatRef {
            ptr: x.ptr.wrapping_offset(r0 as isize * x.rs),
            rs: x.cs,
            cs: x.rs,
        }
    };
    let threads = rayon::current_num_threads();
    let band_product = |r0: usize, dst: &mut [T], parallel: bool| {
        let n = dst.len() / out_f;
        let mut yt = alloc::<T>(out_f * n);
        // SAFETY: forwarded from the caller (rows r0..r0 + n of x); `yt` is out_f × n.
        unsafe {
            gemm(
                out_f,
                n,
                in_f,
                yt.as_mut_ptr(),
                n as isize,
                false,
                w,
                xt(r0),
                parallel,
                prec,
            )
        };
        transpose_add_bias(&yt, bias, dst, out_f);
        crate::storage::recycle(yt);
    };
    if threads > 1 && rows * in_f * out_f >= PAR_MIN_FLOPS && rows >= 16 * threads {
        let band = rows.div_ceil(threads).next_multiple_of(16);
        out.par_chunks_mut(band * out_f)
            .enumerate()
            .for_each(|(t, dst)| band_product(t * band, dst, false));
    } else {
        band_product(0, &mut out, true);
    }
    out
}

/// `x·Wᵀ + b`, `rows × out_f` row-major, for `x` (`rows × in_f`) and `w` (`out_f × in_f`):
/// through [`linear_transposed`] when [`gather_input`] says so, else one GEMM accumulating
/// onto the broadcast bias.
///
/// # Safety
/// `x` and `w` must be valid strided views of those sizes.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn linear<T: Float>(
    rows: usize,
    in_f: usize,
    out_f: usize,
    x: MatRef<T>,
    w: MatRef<T>,
    bias: Option<&[T]>,
    prec: Precision,
) -> Vec<T> {
    if gather_input(rows, in_f, out_f) {
        // SAFETY: forwarded from the caller.
        unsafe { linear_transposed(rows, in_f, out_f, x, w, bias, prec) }
    } else {
        let mut out = alloc::<T>(rows * out_f);
        match bias {
            Some(bv) => out
                .chunks_mut(out_f.max(1))
                .for_each(|row| row.copy_from_slice(bv)),
            None => out.fill(T::ZERO),
        }
        // SAFETY: forwarded from the caller; `out` is rows×out_f. Wᵀ's element (i, j) is W[j, i].
        unsafe {
            gemm(
                rows,
                out_f,
                in_f,
                out.as_mut_ptr(),
                out_f as isize,
                true,
                x,
                MatRef {
                    ptr: w.ptr,
                    rs: w.cs,
                    cs: w.rs,
                },
                true,
                prec,
            );
        }
        out
    }
}
