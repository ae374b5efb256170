//! The error type of the data layer: every reader and the loader return [`Result`].

/// Everything that can go wrong while reading, transforming or batching data.
///
/// Messages say where the input was wrong: the file (or the bundled source), and the record,
/// line, column or byte counts involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the tensor engine (building a batch tensor, reading a `.npy` file).
    #[error(transparent)]
    Tensor(#[from] nabla::Error),

    /// A file or folder could not be opened or read (missing path, permissions, bad gzip).
    #[error("{path}: {source}")]
    Io {
        /// The path (or bundled source) that failed.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The file does not start with the magic number of its format.
    #[error("{path}: wrong magic number: expected {expected}, found {found}")]
    BadMagic {
        /// The file.
        path: String,
        /// The magic number the format requires, in words or hex.
        expected: String,
        /// The bytes found, in hex.
        found: String,
    },

    /// The file holds fewer (or more) bytes or records than its header declares.
    #[error("{path}: {declared} declared ({expected} bytes), {found} found")]
    Truncated {
        /// The file.
        path: String,
        /// What the header declares, in words ("60000 images of 28x28").
        declared: String,
        /// Bytes the declaration needs.
        expected: u64,
        /// What the file holds, in words ("47039872", "more than 47040000").
        found: String,
    },

    /// The file is malformed in a way other variants do not name.
    #[error("{path}: {msg}")]
    Format {
        /// The file.
        path: String,
        /// What was wrong.
        msg: String,
    },

    /// A class label lies outside `0..num_classes`.
    #[error("{path}: label {value} of record {index} is outside the class range 0..{num_classes}")]
    LabelOutOfRange {
        /// The file holding the labels.
        path: String,
        /// The record (0-based) with the bad label.
        index: usize,
        /// The label found.
        value: i64,
        /// The number of classes allowed.
        num_classes: usize,
    },

    /// Two files that must describe the same records disagree on how many there are.
    #[error("{what}: {left_count} in {left}, {right_count} in {right}")]
    CountMismatch {
        /// What is counted ("images and labels").
        what: String,
        /// The first file.
        left: String,
        /// Its count.
        left_count: usize,
        /// The second file.
        right: String,
        /// Its count.
        right_count: usize,
    },

    /// An image file could not be decoded.
    #[error("{path}: cannot decode image: {msg}")]
    Decode {
        /// The image file.
        path: String,
        /// The decoder's message.
        msg: String,
    },

    /// A folder (or file) holds nothing to read.
    #[error("{path}: {msg}")]
    Empty {
        /// The folder or file.
        path: String,
        /// What was missing, in words.
        msg: String,
    },

    /// A CSV cell or row is malformed; `line` and `column` are 1-based.
    #[error("{path}:{line}:{column}: {msg}")]
    Csv {
        /// The CSV file.
        path: String,
        /// The line (1-based).
        line: usize,
        /// The column (1-based).
        column: usize,
        /// What was wrong.
        msg: String,
    },

    /// A sample index is past the end of a dataset.
    #[error("index {index} is out of range for a dataset of {len} samples")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The dataset's length.
        len: usize,
    },

    /// A dataset spec names no dataset nabla can read, or gives its parts wrongly.
    #[error("{msg}")]
    Spec {
        /// The spec (or its part) as given.
        spec: String,
        /// What was wrong and how to write it, in words.
        msg: String,
    },

    /// A number given as an option lies outside what it may be (a batch size of 0, a
    /// fraction outside 0..=1, a class past the last).
    #[error("{op}: {what} must be {allowed}, got {value}")]
    OutOfRange {
        /// The function or option that was given the value.
        op: &'static str,
        /// The quantity, in words.
        what: &'static str,
        /// The values allowed, in words ("at least 1", "in [0, 1]").
        allowed: String,
        /// The value given.
        value: String,
    },

    /// A name that is none of the known ones (a toy set, a transform).
    #[error("{op}: unknown {what} '{name}' (valid: {valid})")]
    UnknownName {
        /// The function that was given the name.
        op: &'static str,
        /// What the name names ("toy data set").
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that exist, comma-separated.
        valid: String,
    },

    /// An argument is invalid in a way the other variants do not name.
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// The function or option that was given the value.
        op: &'static str,
        /// What was wrong, in words.
        msg: String,
    },

    /// Samples that must agree (in a batch, or with a transform) do not.
    #[error("{op}: {msg}")]
    SampleMismatch {
        /// The step that found the mismatch ("batch", "Normalize").
        op: &'static str,
        /// The shapes or target kinds involved.
        msg: String,
    },

    /// The background prefetch thread stopped before sending every batch of the epoch.
    #[error("data loader: the prefetch thread stopped after {sent} of {expected} batches")]
    Prefetch {
        /// Batches received.
        sent: usize,
        /// Batches the epoch holds.
        expected: usize,
    },
}

/// The data layer's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub(crate) fn invalid(op: &'static str, msg: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            msg: msg.into(),
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

    /// Shorthand for [`Error::Format`].
    pub(crate) fn format(path: &str, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.to_string(),
            msg: msg.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
