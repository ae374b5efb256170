//! The error type of `nabla-rl`.

/// Errors from environments and agents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error of the tensor engine.
    #[error(transparent)]
    Tensor(#[from] nabla::Error),

    /// An error of a layer, optimizer or checkpoint.
    #[error(transparent)]
    Nn(#[from] nabla_nn::Error),

    /// An action that is not in the environment's action space.
    #[error("{env}: invalid action {action} (the action space is {space})")]
    InvalidAction {
        /// The environment.
        env: &'static str,
        /// The action, as written by `Debug`.
        action: String,
        /// The action space.
        space: String,
    },

    /// `step` was called before `reset` or after the episode ended.
    #[error("{0}: step called before reset or after the episode ended; call reset first")]
    NeedsReset(&'static str),

    /// A state given to `set_state` has the wrong length or is not finite.
    #[error("{env}: a state has {expected} finite numbers, got {got:?}")]
    InvalidState {
        /// The environment.
        env: &'static str,
        /// The expected length.
        expected: usize,
        /// What was given.
        got: Vec<f64>,
    },

    /// A name that is none of the known ones (an environment, an algorithm).
    #[error("{op}: unknown {what} {name:?}; known: {valid}")]
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

    /// An algorithm or tool cannot work with this environment (its spaces do not fit); the
    /// message says which to use instead.
    #[error("{op}: {env} {msg}")]
    Unsupported {
        /// The algorithm or tool.
        op: &'static str,
        /// The environment.
        env: String,
        /// What it lacks, and what to use instead.
        msg: &'static str,
    },

    /// An agent, environment or buffer got an argument it cannot use, in a way the other
    /// variants do not name.
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// Where it happened.
        op: &'static str,
        /// What was wrong.
        msg: String,
    },

    /// Writing a plot failed.
    #[error("plot {path}: {msg}")]
    Plot {
        /// The file.
        path: String,
        /// What went wrong.
        msg: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An [`Error::Unsupported`]: `op` cannot work with `env`.
pub(crate) fn unsupported(op: &'static str, env: &dyn crate::Env, msg: &'static str) -> Error {
    Error::Unsupported {
        op,
        env: env.name().to_string(),
        msg,
    }
}

/// An [`Error::InvalidArgument`].
pub(crate) fn invalid(op: &'static str, msg: impl Into<String>) -> Error {
    Error::InvalidArgument {
        op,
        msg: msg.into(),
    }
}
