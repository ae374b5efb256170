//! Matrix products through the `gemm` crate (packed AVX-512/AVX2 micro-kernels).
//!
//! Two things are done here rather than left to the crate, both measured on the MLP's
//! products (issue 9):
//! - **Operands are made row-major first.** The crate packs its operands into panels; from a
//!   transposed view (a weight `Wᵀ` in `linear`, `Gᵀ` in a weight gradient) its packing
//!   gathers one scalar per row and costs about 1 ns per element, as much as a third of the
//!   product itself at batch 128. A tiled transpose into a scratch buffer costs a fraction of
//!   that, and the crate then packs with contiguous copies (or reads the operand in place).
//! - **Threads split the output, not the crate.** The crate's own parallel mode makes every
//!   thread pack the whole left panel set and forks twice per depth block; here each thread
//!   gets a band of output columns (or rows when there are few columns), copies only its
//!   part of the operands and runs the crate single-threaded: one fork per product.

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

/// The output pointer, shared by the threads of one product, each writing its own block.
#[derive(Clone, Copy)]
struct DstPtr<T>(*mut T);
// SAFETY: the threads of one `gemm` call write disjoint blocks of dst, which outlives them.
unsafe impl<T: Send> Send for DstPtr<T> {}
unsafe impl<T: Send> Sync for DstPtr<T> {}

/// Products below this many multiply-adds run on one thread: a fork and join of the rayon
/// pool costs several microseconds, about the time of a 2^20 multiply-add product.
const PAR_MIN_FLOPS: usize = 1 << 20;

/// Output columns per thread below which threads split the rows instead.
const MIN_COLS_PER_THREAD: usize = 64;

/// `dst[m, n] = (accumulate ? dst : 0) + lhs[m, k] · rhs[k, n]`, with `dst` row-major of
/// row stride `dst_rs`. `parallel` lets gemm use the rayon pool (callers that already run
/// one product per thread pass `false`).
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
    let dst = DstPtr(dst);
    // SAFETY (all blocks below): each block is a sub-matrix of the caller's operands and
    // output, and blocks of different threads write disjoint parts of dst.
    if threads <= 1 {
        unsafe { gemm_block(m, n, k, dst.0, dst_rs, accumulate, lhs, rhs) };
    } else if n >= threads * MIN_COLS_PER_THREAD {
        // Bands of columns, a multiple of 16 wide (one AVX-512 vector of f32).
        let band = n.div_ceil(threads).next_multiple_of(16);
        (0..n.div_ceil(band)).into_par_iter().for_each(|t| {
            // Whole-value captures: the raw pointer fields alone are not Sync.
            let (lhs, rhs, dst) = (&lhs, &rhs, &dst);
            let (j0, j1) = (t * band, ((t + 1) * band).min(n));
            let rhs = MatRef {
                ptr: rhs.ptr.wrapping_offset(j0 as isize * rhs.cs),
                ..*rhs
            };
            let d = dst.0.wrapping_add(j0);
            unsafe { gemm_block(m, j1 - j0, k, d, dst_rs, accumulate, *lhs, rhs) };
        });
    } else {
        let band = m.div_ceil(threads);
        (0..m.div_ceil(band)).into_par_iter().for_each(|t| {
            let (lhs, rhs, dst) = (&lhs, &rhs, &dst);
            let (i0, i1) = (t * band, ((t + 1) * band).min(m));
            let lhs = MatRef {
                ptr: lhs.ptr.wrapping_offset(i0 as isize * lhs.rs),
                ..*lhs
            };
            let d = dst.0.wrapping_offset(i0 as isize * dst_rs);
            unsafe { gemm_block(i1 - i0, n, k, d, dst_rs, accumulate, lhs, *rhs) };
        });
    }
}

/// One thread's product: operands that are not row-major are first copied into row-major
/// scratch buffers (when the product is large enough for the copy to pay), then the crate
/// runs without threads.
///
/// # Safety
/// As [`gemm`].
unsafe fn gemm_block<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: isize,
    accumulate: bool,
    lhs: MatRef<T>,
    rhs: MatRef<T>,
) {
    if rhs.cs != 1 && rhs.rs == 1 && m >= 16 && k * n > m * (k + n) {
        // A column-major rhs larger than lhs and dst together (a weight `Wᵀ` against a
        // batch of 128 rows): rather than copying it, compute `(lhs·rhs)ᵀ = rhsᵀ·lhsᵀ`,
        // where `rhsᵀ` is row-major and read in place, and transpose the m×n result. (The
        // inner call cannot come back here: k·m > n·(k + m) and k·n > m·(k + n) exclude
        // each other.)
        let mut t = alloc::<T>(n * m);
        let flip = |a: MatRef<T>| MatRef {
            ptr: a.ptr,
            rs: a.cs,
            cs: a.rs,
        };
        // SAFETY: `t` holds n×m elements; the operands are the caller's, transposed.
        unsafe {
            gemm_block(
                n,
                m,
                k,
                t.as_mut_ptr(),
                m as isize,
                false,
                flip(rhs),
                flip(lhs),
            );
            let tt = MatRef {
                ptr: t.as_ptr(),
                rs: 1,
                cs: m as isize,
            };
            copy_tiled(tt, m, n, dst, dst_rs as usize, accumulate);
        }
        recycle(t);
        return;
    }
    // The crate reads a row-major lhs in place; a strided one it reads one scalar per row
    // and step of k (or packs by gathering), n times over.
    let lhs_copy = (lhs.cs != 1 && n >= 16 && m >= 4).then(|| unsafe { row_major(lhs, m, k) });
    // A row-major rhs is packed with contiguous copies; others by gathering, m times over.
    let rhs_copy = (rhs.cs != 1 && m >= 16 && n >= 4).then(|| unsafe { row_major(rhs, k, n) });
    let view = |copy: &Option<(Vec<T>, usize)>, orig: MatRef<T>| match copy {
        Some((v, ld)) => MatRef {
            ptr: v.as_ptr(),
            rs: *ld as isize,
            cs: 1,
        },
        None => orig,
    };
    let (l, r) = (view(&lhs_copy, lhs), view(&rhs_copy, rhs));
    // gemm computes dst := alpha·dst + beta·lhs·rhs (alpha is ignored when read_dst is false).
    // SAFETY: forwarded from the caller's contract; the copies live until the end of scope.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs,
            accumulate,
            l.ptr,
            l.cs,
            l.rs,
            r.ptr,
            r.cs,
            r.rs,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
    for (v, _) in lhs_copy.into_iter().chain(rhs_copy) {
        recycle(v);
    }
}

/// Copies the `rows × cols` strided matrix `src` into a row-major buffer; returns it and its
/// row stride (padded off multiples of 64 elements, whose power-of-two strides make the rows
/// of a tile compete for the same cache sets).
///
/// # Safety
/// `src` must be valid for `rows × cols` elements at its strides.
unsafe fn row_major<T: Float>(src: MatRef<T>, rows: usize, cols: usize) -> (Vec<T>, usize) {
    let ld = if cols % 64 == 0 { cols + 16 } else { cols };
    let mut out = alloc::<T>(rows * ld);
    // SAFETY: `out` holds rows × ld elements; `src` is the caller's.
    unsafe { copy_tiled(src, rows, cols, out.as_mut_ptr(), ld, false) };
    (out, ld)
}

/// `dst[i, j] = (accumulate ? dst[i, j] : 0) + src[i, j]` for a strided `src` and a
/// row-major `dst` of row stride `ld`. By 16×16 tiles, so that the reads and writes of a
/// tile stay in L1 whatever the strides; f32 from a column-major source (a transposed view)
/// goes by 4×4 SSE transposes.
///
/// # Safety
/// `src` must be valid for `rows × cols` elements at its strides, `dst` for `rows` rows of
/// `cols` at stride `ld`; they must not overlap.
unsafe fn copy_tiled<T: Float>(
    src: MatRef<T>,
    rows: usize,
    cols: usize,
    dst: *mut T,
    ld: usize,
    accumulate: bool,
) {
    const TILE: usize = 16;
    let sse = cfg!(target_arch = "x86_64") && src.rs == 1 && T::DTYPE == DType::F32;
    // Tiles follow the source's smaller stride, so that each of a tile's source lines is
    // read on from where the previous tile left it (a few sequential streams).
    let by_cols = src.rs.unsigned_abs() < src.cs.unsigned_abs();
    let (outer, inner) = if by_cols { (cols, rows) } else { (rows, cols) };
    for o0 in (0..outer).step_by(TILE) {
        for n0 in (0..inner).step_by(TILE) {
            let (i0, j0) = if by_cols { (n0, o0) } else { (o0, n0) };
            let (i1, j1) = ((i0 + TILE).min(rows), (j0 + TILE).min(cols));
            // SAFETY: every (i, j) is inside both matrices (caller contract).
            unsafe {
                let (mut i4, mut j4) = (i0, j0);
                if sse {
                    (i4, j4) = (i0 + (i1 - i0) / 4 * 4, j0 + (j1 - j0) / 4 * 4);
                    for j in (j0..j4).step_by(4) {
                        for i in (i0..i4).step_by(4) {
                            transpose_4x4_f32(
                                src.ptr.offset(i as isize + j as isize * src.cs).cast(),
                                src.cs,
                                dst.add(i * ld + j).cast(),
                                ld as isize,
                                accumulate,
                            );
                        }
                    }
                }
                // What the 4×4 blocks left: everything, or the right and bottom edges.
                for i in i0..i1 {
                    let row = src.ptr.offset(i as isize * src.rs);
                    let from = if i < i4 { j4 } else { j0 };
                    for j in from..j1 {
                        let v = *row.offset(j as isize * src.cs);
                        let d = dst.add(i * ld + j);
                        *d = if accumulate { *d + v } else { v };
                    }
                }
            }
        }
    }
}

/// Writes (or adds, when `accumulate`) the transpose of the 4×4 block whose rows start at
/// `src + r·src_ld` to the rows at `dst + r·dst_ld`.
///
/// # Safety
/// Both blocks must be valid; they must not overlap.
#[cfg(target_arch = "x86_64")]
unsafe fn transpose_4x4_f32(
    src: *const f32,
    src_ld: isize,
    dst: *mut f32,
    dst_ld: isize,
    accumulate: bool,
) {
    use std::arch::x86_64::*;
    // SAFETY: SSE is part of x86_64; the pointers are valid (caller contract).
    unsafe {
        let r0 = _mm_loadu_ps(src);
        let r1 = _mm_loadu_ps(src.offset(src_ld));
        let r2 = _mm_loadu_ps(src.offset(2 * src_ld));
        let r3 = _mm_loadu_ps(src.offset(3 * src_ld));
        let t0 = _mm_unpacklo_ps(r0, r1); // a0 b0 a1 b1
        let t1 = _mm_unpacklo_ps(r2, r3); // c0 d0 c1 d1
        let t2 = _mm_unpackhi_ps(r0, r1); // a2 b2 a3 b3
        let t3 = _mm_unpackhi_ps(r2, r3); // c2 d2 c3 d3
        let rows = [
            _mm_movelh_ps(t0, t1), // a0 b0 c0 d0
            _mm_movehl_ps(t1, t0), // a1 b1 c1 d1
            _mm_movelh_ps(t2, t3),
            _mm_movehl_ps(t3, t2),
        ];
        for (r, v) in rows.into_iter().enumerate() {
            let d = dst.offset(r as isize * dst_ld);
            let v = if accumulate {
                _mm_add_ps(_mm_loadu_ps(d), v)
            } else {
                v
            };
            _mm_storeu_ps(d, v);
        }
    }
}

/// Never called: `row_major` takes the SSE path only on x86_64.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn transpose_4x4_f32(_: *const f32, _: isize, _: *mut f32, _: isize, _: bool) {
    unreachable!("SSE transposes run only on x86_64")
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
        // Sizes around the copy, transposed-product and split thresholds.
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

    #[test]
    fn row_major_copies_f32_views_of_every_stride_and_edge() {
        // 4×4 SSE blocks plus ragged edges; 64 columns get a padded row stride.
        for &(rows, cols) in &[(1, 1), (3, 5), (17, 64), (35, 21), (64, 33)] {
            let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
            for (rs, cs) in [(cols as isize, 1), (1, rows as isize)] {
                let view = MatRef {
                    ptr: src.as_ptr(),
                    rs,
                    cs,
                };
                // SAFETY: `src` holds rows × cols elements at these strides.
                let (out, ld) = unsafe { row_major(view, rows, cols) };
                for i in 0..rows {
                    for j in 0..cols {
                        assert_eq!(out[i * ld + j], src[i * rs as usize + j * cs as usize]);
                    }
                }
            }
        }
    }
}
