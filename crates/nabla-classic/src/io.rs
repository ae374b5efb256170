//! Saving and loading models as JSON files (written atomically).

use crate::{Error, Result};
use serde::{de::DeserializeOwned, Serialize};
use std::path::Path;

/// Writes `value` as JSON to `path` through a temporary file and a rename.
///
/// # Errors
/// [`Error::Tensor`] wrapping the I/O error, with the path.
pub fn save_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::Format {
        path: path.display().to_string(),
        msg: e.to_string(),
    })?;
    nabla::io::write_atomic(path, &bytes)?;
    Ok(())
}

/// Reads JSON written by [`save_json`].
///
/// # Errors
/// [`Error::Format`] when the file cannot be read or does not hold the expected model.
pub fn load_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let fail = |msg: String| Error::Format {
        path: path.display().to_string(),
        msg,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))
}
