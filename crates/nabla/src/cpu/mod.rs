//! Raw CPU loops shared by many ops. They know nothing about autograd.

pub(crate) mod elementwise;
pub(crate) mod gemm;
pub(crate) mod math;
pub(crate) mod reduce;
pub(crate) mod simd;
