//! Reading and writing tensors: NumPy `.npy` files, and an atomic file write shared by
//! every format (checkpoints included).

pub mod npy;

use crate::dtype::with_any;
use crate::{DType, Device, Result, Tensor};
use std::io::Write;
use std::path::Path;

/// An element type's little-endian byte form, the data layout of `.npy` and safetensors.
trait LeBytes: crate::Element {
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
    fn take(bytes: &[u8]) -> Self;
}

macro_rules! le_bytes {
    ($($t:ty),+) => {$(
        impl LeBytes for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn take(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("chunk of the element's size"))
            }
        }
    )+};
}
le_bytes!(f32, f64, i64, half::bf16, half::f16);

/// Appends a tensor's elements, row-major, as little-endian bytes of its own dtype.
///
/// # Errors
/// Engine errors reading the tensor.
pub fn write_le_bytes(t: &Tensor, out: &mut Vec<u8>) -> Result<()> {
    with_any!(t.dtype(), T => {
        out.reserve(t.numel() * T::SIZE);
        t.to_vec::<T>()?.into_iter().for_each(|v| v.put(out));
    });
    Ok(())
}

/// A host tensor of `dtype` and `shape` from little-endian bytes (whose length the caller
/// has checked: `shape`'s element count times the dtype's size).
///
/// # Errors
/// [`crate::Error::DataLength`] when the byte count does not fit the shape.
pub fn read_le_bytes(bytes: &[u8], dtype: DType, shape: &[usize]) -> Result<Tensor> {
    with_any!(dtype, T => {
        let v: Vec<T> = bytes.chunks_exact(T::SIZE).map(T::take).collect();
        // Host memory: these bytes were read from a file.
        Tensor::from_vec(v, shape, &Device::Cpu)
    })
}

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
