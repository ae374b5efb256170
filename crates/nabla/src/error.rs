//! The error type of the engine: every op returns [`Result`].

use crate::{DType, Device, Shape};

/// Everything that can go wrong in a tensor operation.
///
/// Messages name the op and the shapes involved, so that a user can find the offending call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes cannot be broadcast together (NumPy rules).
    #[error("{op}: cannot broadcast {lhs} with {rhs}")]
    Broadcast {
        /// The op that was called.
        op: &'static str,
        /// Left operand shape.
        lhs: Shape,
        /// Right operand shape.
        rhs: Shape,
    },

    /// `a.matmul(b)` needs the last dim of `a` to equal the second-to-last of `b`.
    #[error("matmul: inner dimensions differ in {lhs} @ {rhs} ({k_lhs} != {k_rhs})")]
    MatmulInner {
        /// Left operand shape.
        lhs: Shape,
        /// Right operand shape.
        rhs: Shape,
        /// Inner size of the left operand.
        k_lhs: usize,
        /// Inner size of the right operand.
        k_rhs: usize,
    },

    /// An argument has the wrong rank or size for this op.
    #[error("{op}: expected {expected}, got a tensor of shape {got}")]
    UnexpectedShape {
        /// The op that was called.
        op: &'static str,
        /// What the op needed, in words.
        expected: String,
        /// The shape it got.
        got: Shape,
    },

    /// Two tensors that must have the same shape do not.
    #[error("{op}: shapes differ: {lhs} vs {rhs}")]
    ShapeMismatch {
        /// The op that was called.
        op: &'static str,
        /// First shape.
        lhs: Shape,
        /// Second shape.
        rhs: Shape,
    },

    /// `reshape` to a shape with a different number of elements.
    #[error("reshape: {from} has {from_len} elements, {to} has {to_len}")]
    Reshape {
        /// Source shape.
        from: Shape,
        /// Its element count.
        from_len: usize,
        /// Requested shape.
        to: Shape,
        /// Its element count.
        to_len: usize,
    },

    /// A dimension index is out of range for the tensor's rank.
    #[error("{op}: dimension {dim} is out of range for a tensor of rank {rank}")]
    DimOutOfRange {
        /// The op that was called.
        op: &'static str,
        /// The dimension asked for (possibly negative).
        dim: i64,
        /// The tensor's rank.
        rank: usize,
    },

    /// An index (into a dimension, or a class label) is out of range.
    #[error("{op}: index {index} is out of range for size {size}")]
    IndexOutOfRange {
        /// The op that was called.
        op: &'static str,
        /// The offending index.
        index: i64,
        /// The size it indexes into.
        size: usize,
    },

    /// Two tensors of different dtypes were combined, or an op got a dtype it cannot use.
    #[error("{op}: dtype mismatch: expected {expected:?}, got {got:?}")]
    DType {
        /// The op that was called.
        op: &'static str,
        /// The dtype needed.
        expected: DType,
        /// The dtype given.
        got: DType,
    },

    /// The inputs of an op live on different devices (move one with `to_device`).
    #[error("{op}: inputs live on different devices: {lhs} and {rhs} (move one with to_device)")]
    DeviceMismatch {
        /// The op that was called.
        op: &'static str,
        /// The device of the first input.
        lhs: Device,
        /// The device of the other input.
        rhs: Device,
    },

    /// A tensor was asked for on a device this build cannot hold tensors on.
    #[error("{op}: device {device} is not available: {why}")]
    DeviceUnavailable {
        /// The constructor or op that was called.
        op: &'static str,
        /// The device asked for.
        device: Device,
        /// Why, and what to do instead.
        why: &'static str,
    },

    /// An op does not support this dtype (for example `exp` on integer indices).
    #[error("{op}: not supported for dtype {dtype:?}")]
    UnsupportedDType {
        /// The op that was called.
        op: &'static str,
        /// The dtype given.
        dtype: DType,
    },

    /// A number given to an op or constructor lies outside what it may be (a zero stride, a
    /// probability above 1, a thread count of 0).
    #[error("{op}: {what} must be {allowed}, got {value}")]
    OutOfRange {
        /// The op or function that was called.
        op: &'static str,
        /// The quantity, in words.
        what: &'static str,
        /// The values allowed, in words ("at least 1", "in [0, 1)").
        allowed: String,
        /// The value given.
        value: String,
    },

    /// A name that is none of the known ones (a dtype, a device).
    #[error("{op}: unknown {what} '{name}'; use {valid}")]
    UnknownName {
        /// The function that was given the name.
        op: &'static str,
        /// What the name names.
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that exist.
        valid: &'static str,
    },

    /// A scalar or configuration argument is invalid in a way the other variants do not name.
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// The op that was called.
        op: &'static str,
        /// What was wrong, in words.
        msg: String,
    },

    /// The data given to a constructor does not match the shape.
    #[error("{op}: {len} values given for shape {shape} ({numel} needed)")]
    DataLength {
        /// The constructor that was called.
        op: &'static str,
        /// Number of values given.
        len: usize,
        /// The requested shape.
        shape: Shape,
        /// Number of values needed.
        numel: usize,
    },

    /// `backward()` was called on a tensor that is not a scalar or does not depend on any
    /// tensor that requires a gradient.
    #[error("backward: {0}")]
    Backward(String),

    /// A finite-difference gradient check found an analytic gradient that disagrees.
    #[error("gradient check: {0}")]
    GradientCheck(String),

    /// Reading or writing a file (`.npy`, safetensors) failed, or its content is malformed.
    #[error("{path}: {msg}")]
    Format {
        /// The file (or a description of the source).
        path: String,
        /// What was wrong.
        msg: String,
    },

    /// An I/O error from the operating system.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::OutOfRange`].
    pub(crate) fn out_of_range(
        op: &'static str,
        what: &'static str,
        allowed: impl Into<String>,
        value: impl std::fmt::Display,
    ) -> Self {
        Error::OutOfRange {
            op,
            what,
            allowed: allowed.into(),
            value: value.to_string(),
        }
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub(crate) fn invalid(op: &'static str, msg: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            msg: msg.into(),
        }
    }
}
