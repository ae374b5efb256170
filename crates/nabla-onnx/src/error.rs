//! The error type of `nabla-onnx`.

/// Errors from reading, importing, running and writing ONNX models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a well-formed ONNX protobuf (truncated, corrupt, not ONNX).
    #[error("corrupt ONNX data in {what} at byte {offset}: {msg}")]
    Corrupt {
        /// The message being read.
        what: &'static str,
        /// Byte offset inside that message.
        offset: usize,
        /// What was wrong.
        msg: String,
    },

    /// The graph uses operators (or operator forms) that nabla cannot run; every one is listed.
    #[error("the model (opset {opset}) uses {} operator type(s) nabla does not support:\n{}\nsee docs/onnx.md for the supported operators", list.len(), list.join("\n"))]
    Unsupported {
        /// The default-domain opset version the model imports.
        opset: i64,
        /// One line per unsupported operator type: `  Loop (opset 17): nodes loop_1, loop_2`.
        list: Vec<String>,
    },

    /// A node's inputs or attributes are invalid or inconsistent.
    #[error("node '{node}' ({op_type}): {msg}")]
    Node {
        /// The node's name (or its first output when unnamed).
        node: String,
        /// Its operator.
        op_type: String,
        /// What was wrong.
        msg: String,
    },

    /// The graph's structure is wrong (an input that nothing produces, no output, ...).
    #[error("graph: {0}")]
    Graph(String),

    /// A model cannot be exported.
    #[error("export: {0}")]
    Export(String),

    /// An error of the tensor engine.
    #[error(transparent)]
    Tensor(#[from] nabla::Error),

    /// An error of nabla-nn (parameters, layers).
    #[error(transparent)]
    Nn(#[from] nabla_nn::Error),

    /// An I/O error on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Result type of `nabla-onnx`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for nabla_nn::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Nn(e) => e,
            Error::Tensor(e) => nabla_nn::Error::Tensor(e),
            other => nabla_nn::Error::Data(Box::new(other)),
        }
    }
}
