//! Raw CPU loops shared by many ops. They know nothing about autograd.

pub(crate) mod batch_norm;
pub(crate) mod bf16;
pub(crate) mod conv;
pub(crate) mod copy;
pub(crate) mod elementwise;
pub(crate) mod gemm;
pub(crate) mod index;
pub(crate) mod math;
pub(crate) mod matmul;
pub(crate) mod optimizer;
pub(crate) mod phases;
pub(crate) mod pointwise;
pub(crate) mod pool;
pub(crate) mod random;
pub(crate) mod recurrent_cell;
pub(crate) mod recurrent_scan;
pub(crate) mod reduce;
pub(crate) mod simd;
pub(crate) mod skinny;
pub(crate) mod softmax;
pub(crate) mod transpose;

/// An output buffer that the tasks of one kernel call write together, each a disjoint part
/// of it (so no two threads ever touch the same element).
#[derive(Clone, Copy)]
pub(crate) struct SharedOut<T>(pub(crate) *mut T);

// SAFETY: only used for disjoint writes from the tasks of one kernel call, which the buffer
// outlives (the contract of `slice` and `rows`).
unsafe impl<T: Send> Send for SharedOut<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedOut<T> {}

impl<T> SharedOut<T> {
    /// Shares `v`.
    pub(crate) fn new(v: &mut [T]) -> Self {
        SharedOut(v.as_mut_ptr())
    }
    /// The mutable slice `[start, start + len)`.
    ///
    /// # Safety
    /// In bounds, and no other live slice may overlap it.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, start: usize, len: usize) -> &mut [T] {
        // SAFETY: forwarded to the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
    /// Rows `first..first + count` of the buffer seen as rows of `width` elements.
    ///
    /// # Safety
    /// As [`SharedOut::slice`].
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn rows(&self, first: usize, count: usize, width: usize) -> &mut [T] {
        // SAFETY: forwarded to the caller.
        unsafe { self.slice(first * width, count * width) }
    }
}
