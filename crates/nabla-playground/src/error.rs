//! The playground's error type and how each error becomes an HTTP response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Everything a request to the playground can run into.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed or asks for something outside the limits (400): the
    /// message names the field and what was wrong with it.
    #[error("{field}: {msg}")]
    Invalid {
        /// The configuration field or request part, e.g. `hidden`, `learning_rate`, `body`.
        field: String,
        /// What was wrong, with the allowed range.
        msg: String,
    },

    /// No session has this id (it never existed or expired after being idle) (404).
    #[error("no session '{0}' (it may have expired after being idle)")]
    NoSession(String),

    /// The server holds as many sessions as it may (503).
    #[error("the server holds its maximum of {0} sessions; try again later")]
    TooManySessions(usize),

    /// A `step` request asks for more training than the session's budget has left (429).
    #[error("{0}")]
    BudgetSpent(String),

    /// The tensor engine or the layers failed: a bug, since every input is checked first (500).
    #[error("training failed: {0}")]
    Engine(#[from] nabla_nn::Error),

    /// A worker thread panicked: a bug (500).
    #[error("internal error: {0}")]
    Internal(String),

    /// The toy data generator rejected its arguments (400).
    #[error("data: {0}")]
    Data(#[from] nabla_data::Error),
}

/// `Result` with the playground's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            msg: msg.into(),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Invalid { .. } | Error::Data(_) => StatusCode::BAD_REQUEST,
            Error::NoSession(_) => StatusCode::NOT_FOUND,
            Error::TooManySessions(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::BudgetSpent(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Engine(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<nabla::Error> for Error {
    fn from(e: nabla::Error) -> Self {
        Error::Engine(e.into())
    }
}

/// The body of every error response: `{"error": "<message>"}`.
pub fn error_body(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": msg.into() }))).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        error_body(self.status(), self.to_string())
    }
}
