//! The error type of nabla-classic.

/// Errors of the classical models: bad hyper-parameters, data that does not fit a model,
/// and failures of the layers below.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hyper-parameter or argument is out of range; `what` names it.
    #[error("{model}: {what}")]
    InvalidArgument {
        /// The model or function that rejected it (`svm`, `forest`, `hmm`, ...).
        model: &'static str,
        /// What was wrong, with the value.
        what: String,
    },

    /// The data does not fit the model (wrong width, a label out of range, no examples).
    #[error("{model}: {what}")]
    Data {
        /// The model or function that rejected it.
        model: &'static str,
        /// What was wrong, naming the example or column.
        what: String,
    },

    /// A saved model could not be read back.
    #[error("{path}: {msg}")]
    Format {
        /// The file.
        path: String,
        /// What was wrong.
        msg: String,
    },

    /// A tensor operation failed (the engine's matrix products).
    #[error(transparent)]
    Tensor(#[from] nabla::Error),

    /// Training a network failed.
    #[error(transparent)]
    Nn(#[from] nabla_nn::Error),

    /// Reading a dataset failed.
    #[error(transparent)]
    Dataset(#[from] nabla_data::Error),
}

impl Error {
    pub(crate) fn invalid(model: &'static str, what: impl Into<String>) -> Self {
        Error::InvalidArgument {
            model,
            what: what.into(),
        }
    }

    pub(crate) fn data(model: &'static str, what: impl Into<String>) -> Self {
        Error::Data {
            model,
            what: what.into(),
        }
    }
}

/// The result type of nabla-classic.
pub type Result<T, E = Error> = std::result::Result<T, E>;
