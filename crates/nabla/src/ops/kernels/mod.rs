//! The kernel families at the tensor level, one module per family: each function takes
//! tensors and typed arguments, reads the elements and calls the backend's kernel. The CPU
//! backend (`cpu/`) is the only one so far: `Tensor::with_contiguous` and
//! `Tensor::with_strided` hand out host memory and answer an error for tensors elsewhere, so
//! a new backend adds one arm per function here. Nothing here records gradients: the ops in
//! [`super`] hold the math, the shape checks and the backward rules.
//!
//! The families of convolution, pooling, batch norm, softmax, the recurrent scan and the
//! optimizer updates sit beside their ops (`ops/conv/kernels.rs` and the like).

pub(crate) mod copy;
pub(crate) mod elementwise;
pub(crate) mod index;
pub(crate) mod matmul;
pub(crate) mod random;
pub(crate) mod reduce;

pub(crate) use elementwise::{binary_map, unary_map, Binary, Unary};
