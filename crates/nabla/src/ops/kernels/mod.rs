//! The kernel families at the tensor level, one module per family: each function takes
//! tensors and typed arguments, reads the elements and calls the backend's kernel. The CPU
//! backend (`cpu/`) is the only one so far: `Tensor::with_contiguous` and
//! `Tensor::with_strided` hand out host memory (and fail, rather than read the wrong memory,
//! for a tensor elsewhere), so a new backend adds one arm per function here. Nothing here records gradients: the ops in
//! [`super`] hold the math, the shape checks and the backward rules.
//!
//! The convolution's family sits with its op, in `ops/conv/kernels.rs`.

pub(crate) mod batch_norm;
pub(crate) mod copy;
pub(crate) mod elementwise;
pub(crate) mod index;
pub(crate) mod matmul;
pub(crate) mod optimizer;
pub(crate) mod pool;
pub(crate) mod random;
pub(crate) mod recurrent_cell;
pub(crate) mod recurrent_scan;
pub(crate) mod reduce;
pub(crate) mod softmax;

pub(crate) use elementwise::{binary_map, unary_map, Binary, Unary};
