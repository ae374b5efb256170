//! Matrix products through the `gemm` crate (packed AVX-512/AVX2 micro-kernels).
//!
//! Threads split the output here rather than in the crate (measured on the MLP's products):
//! in the crate's own parallel mode every thread packs the whole left panel set
//! (the crate's lhs, our rhs: the weight `Wᵀ` of `linear`, gathered one scalar per row at
//! about 1 ns per element) and the pool is forked twice per depth block. Here each thread
//! gets a band of output columns (or of rows when there are few columns), so that it packs
//! only its part, and runs the crate single-threaded: one fork per product.
//!
//! (Copying transposed operands into row-major buffers first, by tiled SSE transposes, was
//! tried and measured: no faster than the crate's gathers, whose cost is the cache misses
//! of reading a weight larger than L2 across its rows, which a copy pays too.)

use super::SharedOut;
use crate::autocast::Precision;
use crate::dtype::{DType, Float};
use crate::storage::{alloc, recycle};
use rayon::prelude::*;

/// One strided matrix operand: a pointer to element (0, 0) and the row and column strides,
/// in elements.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

// SAFETY: a MatRef is a read-only view; the callers of `gemm` guarantee that it stays valid
// while the product runs, including on the rayon threads that `gemm` forks and joins.
unsafe impl<T: Sync> Send for MatRef<T> {}
unsafe impl<T: Sync> Sync for MatRef<T> {}

/// Products below this many multiply-adds run on one thread: a fork and join of the rayon
/// pool costs several microseconds, about the time of a 2^20 multiply-add product.
pub(crate) const PAR_MIN_FLOPS: usize = 1 << 20;

/// Output columns per thread below which threads split the rows instead.
const MIN_COLS_PER_THREAD: usize = 64;

/// `dst[m, n] = (accumulate ? dst : 0) + lhs[m, k] · rhs[k, n]`, with `dst` row-major of
/// row stride `dst_rs`. `parallel` lets gemm use the rayon pool (callers that already run
/// one product per thread pass `false`). With [`Precision::Bf16`], f32 operands are rounded
/// to bf16 and multiplied by the bf16 kernels ([`super::bf16`]); other dtypes ignore it.
///
/// # Safety
/// The pointers must be valid for the given shapes and strides; `dst` must not alias the
/// operands.
pub(crate) unsafe fn gemm<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: isize,
    accumulate: bool,
    lhs: MatRef<T>,
    rhs: MatRef<T>,
    parallel: bool,
    prec: Precision,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                // SAFETY: dst covers m rows of n elements at stride dst_rs (caller contract).
                unsafe { std::slice::from_raw_parts_mut(dst.offset(i as isize * dst_rs), n) }
                    .fill(T::ZERO);
            }
        }
        return;
    }
    let threads = if parallel && m * n * k >= PAR_MIN_FLOPS {
        rayon::current_num_threads()
    } else {
        1
    };
    if threads <= 1 {
        // SAFETY: forwarded from the caller's contract.
        unsafe { block_in(prec, m, n, k, dst, dst_rs, accumulate, lhs, rhs) };
        return;
    }
    // Bands of columns, a multiple of 32 wide (two AVX-512 vectors of f32, one block of the
    // bf16 kernels), or of rows.
    let by_cols = n >= threads * MIN_COLS_PER_THREAD;
    let (len, band) = if by_cols {
        (n, n.div_ceil(threads).next_multiple_of(32))
    } else {
        (m, m.div_ceil(threads))
    };
    let dst = SharedOut(dst);
    (0..len.div_ceil(band)).into_par_iter().for_each(|t| {
        // Whole-value captures: the raw pointer fields alone are not Sync.
        let (mut lhs, mut rhs, dst) = (lhs, rhs, &dst);
        let (b0, b1) = (t * band, ((t + 1) * band).min(len));
        let (bm, bn, d) = if by_cols {
            rhs.ptr = rhs.ptr.wrapping_offset(b0 as isize * rhs.cs);
            (m, b1 - b0, dst.0.wrapping_add(b0))
        } else {
            lhs.ptr = lhs.ptr.wrapping_offset(b0 as isize * lhs.rs);
            (b1 - b0, n, dst.0.wrapping_offset(b0 as isize * dst_rs))
        };
        // SAFETY: the band is a sub-matrix of the caller's operands and output, and bands
        // of different threads write disjoint parts of dst.
        unsafe { block_in(prec, bm, bn, k, d, dst_rs, accumulate, lhs, rhs) };
    });
}

/// One thread's product in `prec`: the bf16 kernels for f32 operands under
/// [`Precision::Bf16`], otherwise [`gemm_block`].
///
/// # Safety
/// As [`gemm`]; `k > 0`.
unsafe fn block_in<T: Float>(
    prec: Precision,
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: isize,
    accumulate: bool,
    lhs: MatRef<T>,
    rhs: MatRef<T>,
) {
    if prec == Precision::Bf16 && T::DTYPE == DType::F32 {
        let f32_ref = |x: MatRef<T>| MatRef {
            ptr: x.ptr.cast::<f32>(),
            rs: x.rs,
            cs: x.cs,
        };
        // SAFETY: T is f32 (checked above), so the casts change no element; the rest is
        // the caller's contract.
        unsafe {
            super::bf16::gemm_block(
                m,
                n,
                k,
                dst.cast(),
                dst_rs,
                accumulate,
                f32_ref(lhs),
                f32_ref(rhs),
            )
        };
    } else {
        // SAFETY: forwarded.
        unsafe { gemm_block(m, n, k, dst, dst_rs, accumulate, lhs, rhs) };
    }
}

/// One thread's product: the crate without threads.
///
/// A column-major rhs (a transposed view: `Wᵀ` in `linear`) is packed by the crate with a
/// gather that reads a panel of its columns one element each. When the column stride is a
/// multiple of 1 KiB (a weight with 256, 512, 1024... inputs), those columns all fall in
/// the same few L1 sets and every read misses: measured on the MLP's 256×512 weight, the
/// product ran at 58 GFLOP/s instead of 106. The columns are then first copied (each one a
/// contiguous run) into a buffer of a padded stride.
///
/// # Safety
/// As [`gemm`].
pub(super) unsafe fn gemm_block<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: isize,
    accumulate: bool,
    lhs: MatRef<T>,
    mut rhs: MatRef<T>,
) {
    let aliased =
        |stride: isize| (stride.unsigned_abs() * std::mem::size_of::<T>()).is_multiple_of(1024);
    let padded = (rhs.rs == 1 && aliased(rhs.cs) && m >= 16).then(|| {
        let mut ld = k.next_multiple_of(16);
        if aliased(ld as isize) {
            ld += 16;
        }
        let mut buf = alloc::<T>(n * ld);
        for (j, col) in buf.chunks_mut(ld).enumerate() {
            // SAFETY: column j of rhs is k contiguous elements (rs == 1; caller contract).
            let src = unsafe { std::slice::from_raw_parts(rhs.ptr.offset(j as isize * rhs.cs), k) };
            col[..k].copy_from_slice(src);
        }
        rhs = MatRef {
            ptr: buf.as_ptr(),
            rs: 1,
            cs: ld as isize,
        };
        buf
    });
    // gemm computes dst := alpha·dst + beta·lhs·rhs (alpha is ignored when read_dst is false).
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs,
            accumulate,
            lhs.ptr,
            lhs.cs,
            lhs.rs,
            rhs.ptr,
            rhs.cs,
            rhs.rs,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
    if let Some(buf) = padded {
        recycle(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain triple loop, as the reference.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        m: usize,
        n: usize,
        k: usize,
        a: &[f64],
        ars: usize,
        acs: usize,
        b: &[f64],
        brs: usize,
        bcs: usize,
    ) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| a[i * ars + p * acs] * b[p * brs + j * bcs])
                    .sum();
            }
        }
        c
    }

    /// Small integers, so that f32 sums are exact too.
    fn check_every_layout_split_and_size<T: Float>() {
        // Sizes around the split thresholds, one product per split direction.
        for &(m, n, k) in &[
            (3, 5, 7),
            (20, 17, 9),
            (130, 150, 70),
            (40, 300, 90),
            (200, 20, 300),
            (16, 300, 250),
        ] {
            let a: Vec<f64> = (0..m * k).map(|v| ((v * 7 % 13) as f64) - 6.0).collect();
            let b: Vec<f64> = (0..k * n).map(|v| ((v * 5 % 11) as f64) - 5.0).collect();
            let (at, bt): (Vec<T>, Vec<T>) = (
                a.iter().map(|&v| T::from_f64(v)).collect(),
                b.iter().map(|&v| T::from_f64(v)).collect(),
            );
            for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
                let (ars, acs) = if a_t { (1, m) } else { (k, 1) };
                let (brs, bcs) = if b_t { (1, k) } else { (n, 1) };
                let want = naive(m, n, k, &a, ars, acs, &b, brs, bcs);
                for parallel in [false, true] {
                    for accumulate in [false, true] {
                        let mut c = vec![T::ONE; m * n];
                        // SAFETY: the buffers hold m×k, k×n and m×n elements at these strides.
                        unsafe {
                            gemm(
                                m,
                                n,
                                k,
                                c.as_mut_ptr(),
                                n as isize,
                                accumulate,
                                MatRef {
                                    ptr: at.as_ptr(),
                                    rs: ars as isize,
                                    cs: acs as isize,
                                },
                                MatRef {
                                    ptr: bt.as_ptr(),
                                    rs: brs as isize,
                                    cs: bcs as isize,
                                },
                                parallel,
                                Precision::Full,
                            )
                        };
                        let offset = if accumulate { 1.0 } else { 0.0 };
                        for (got, want) in c.iter().zip(&want) {
                            assert_eq!(
                                got.to_f64(),
                                want + offset,
                                "{m}x{n}x{k} {a_t} {b_t} {parallel} {accumulate}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn gemm_matches_the_triple_loop_for_every_layout_split_and_size() {
        check_every_layout_split_and_size::<f64>();
        check_every_layout_split_and_size::<f32>();
    }
}
