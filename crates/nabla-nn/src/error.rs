//! The error type of `nabla-nn`.

/// Errors from layers, optimizers, checkpoints and training.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error of the tensor engine.
    #[error(transparent)]
    Tensor(#[from] nabla::Error),

    /// A layer, loss or optimizer got an argument it cannot use, in a way the other variants
    /// do not name.
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// Where it happened.
        op: &'static str,
        /// What was wrong.
        msg: String,
    },

    /// An input, target or gradient does not have the shape the layer, loss or model takes.
    #[error("{op}: expected {expected}, got {got}")]
    Shape {
        /// The layer, loss or model.
        op: &'static str,
        /// The shape it takes, in words ("logits [n, C] and targets [n]").
        expected: String,
        /// The shape(s) given.
        got: String,
    },

    /// A number given to a constructor or function lies outside what it may be.
    #[error("{op}: {what} must be {allowed}, got {value}")]
    OutOfRange {
        /// The layer, loss, model or function.
        op: &'static str,
        /// The quantity, in words.
        what: &'static str,
        /// The values allowed, in words ("in [0, 1)").
        allowed: String,
        /// The value given.
        value: String,
    },

    /// A name that is none of the known ones (a model, an activation, a depth).
    #[error("{op}: unknown {what} '{name}'; available: {valid}")]
    UnknownName {
        /// The function that was given the name.
        op: &'static str,
        /// What the name names.
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that exist, comma-separated.
        valid: String,
    },

    /// A size asked for by the user needs more memory than the machine has.
    #[error("{what} needs {}, more than this machine's {} of memory", crate::limits::gigabytes(*.bytes), crate::limits::gigabytes(*.memory as u128))]
    TooLarge {
        /// What was asked for, with its shape.
        what: String,
        /// Bytes it needs.
        bytes: u128,
        /// The machine's physical memory in bytes.
        memory: u64,
    },

    /// A parameter name was registered twice.
    #[error("parameter {0} is defined twice")]
    DuplicateName(String),

    /// A checkpoint file is malformed, truncated, or does not fit the model.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What was wrong.
        msg: String,
    },

    /// Training stopped because the loss became NaN or infinite.
    #[error("the loss became {value} at epoch {epoch}, step {step}: training stopped (lower the learning rate or check the data)")]
    NonFiniteLoss {
        /// The non-finite value.
        value: f32,
        /// Epoch (1-based).
        epoch: usize,
        /// Step within the epoch (1-based).
        step: usize,
    },

    /// The data source of a training loop failed (a reader or loader error).
    #[error("data: {0}")]
    Data(Box<dyn std::error::Error + Send + Sync>),

    /// Ranks of a data-parallel run could not exchange data (a peer is missing, hung, or
    /// out of step).
    #[error("distributed training, rank {rank}: {msg}")]
    Distributed {
        /// The rank that saw the problem.
        rank: usize,
        /// What went wrong, naming the peer rank when it is known.
        msg: String,
    },

    /// An I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Result type of `nabla-nn`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::Shape`].
    pub(crate) fn shape(
        op: &'static str,
        expected: impl Into<String>,
        got: impl std::fmt::Display,
    ) -> Self {
        Error::Shape {
            op,
            expected: expected.into(),
            got: got.to_string(),
        }
    }

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
