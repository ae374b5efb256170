//! Reading and writing tensors: NumPy `.npy` files, and an atomic file write shared by
//! every format (checkpoints included).

pub mod npy;

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory, synced,
/// then renamed over `path`. A crash leaves either the old file or the new one, never a
/// half-written file.
///
/// # Errors
/// Any I/O error, with the path in the message.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> crate::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| crate::Error::Format {
        path: path.display().to_string(),
        msg: "not a file path".into(),
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        crate::Error::Format {
            path: path.display().to_string(),
            msg: format!("cannot write: {e}"),
        }
    })
}
