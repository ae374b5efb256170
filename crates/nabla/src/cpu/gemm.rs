//! Matrix products through the `gemm` crate (packed AVX-512/AVX2 micro-kernels).

use crate::dtype::Float;

/// One strided matrix operand: a pointer to element (0, 0) and the row and column strides,
/// in elements.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

/// Products below this many multiply-adds run on one thread.
const PAR_MIN_FLOPS: usize = 1 << 18;

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
    let threads = rayon::current_num_threads();
    let par = if parallel && threads > 1 && m * n * k >= PAR_MIN_FLOPS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
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
            par,
        )
    }
}
