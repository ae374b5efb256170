//! NumPy `.npy` files (format versions 1.0–3.0), little-endian, C order.
//!
//! Reads `<f4`, `<f8`, `<i8` into tensors of the same dtype and `<i4`, `|u1`, `|i1`, `<u2`,
//! `<i2` into `I64`; writes F32, F64 and I64. Every malformed input is an error naming what was
//! wrong, never a panic: the reader is fuzzed (`fuzz/`).

use crate::{DType, Device, Error, Result, Tensor};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

fn bad(path: &str, msg: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_string(),
        msg: msg.into(),
    }
}

/// The parsed header: element type string, shape.
struct Header {
    descr: String,
    shape: Vec<usize>,
}

fn parse_header(text: &str, src: &str) -> Result<Header> {
    let get = |key: &str| -> Result<&str> {
        let pat = format!("'{key}':");
        let at = text
            .find(&pat)
            .ok_or_else(|| bad(src, format!("header has no '{key}' entry")))?;
        Ok(text[at + pat.len()..].trim_start())
    };
    let descr_raw = get("descr")?;
    let descr = descr_raw
        .strip_prefix('\'')
        .and_then(|r| r.split('\'').next())
        .ok_or_else(|| bad(src, "header 'descr' is not a quoted string"))?
        .to_string();
    let fortran = get("fortran_order")?;
    if fortran.starts_with("True") {
        return Err(bad(
            src,
            "Fortran-order arrays are not supported (save with np.ascontiguousarray)",
        ));
    }
    if !fortran.starts_with("False") {
        return Err(bad(src, "header 'fortran_order' is neither True nor False"));
    }
    let shape_raw = get("shape")?;
    let inner = shape_raw
        .strip_prefix('(')
        .and_then(|r| r.split(')').next())
        .ok_or_else(|| bad(src, "header 'shape' is not a tuple"))?;
    let mut shape = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let d: usize = part
            .trim_end_matches('L')
            .parse()
            .map_err(|_| bad(src, format!("shape entry '{part}' is not a size")))?;
        shape.push(d);
    }
    Ok(Header { descr, shape })
}

/// Parses `.npy` bytes; `src` names the source in errors.
///
/// # Errors
/// [`Error::Format`] for a bad magic number, header, dtype or a data length that disagrees
/// with the shape (stating both).
pub fn from_bytes(bytes: &[u8], src: &str) -> Result<Tensor> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad(src, "not a .npy file (missing the \\x93NUMPY magic)"));
    }
    let major = bytes[6];
    let (header_len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad(src, "truncated header"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(bad(src, format!("unsupported .npy version {v}"))),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            bad(
                src,
                format!(
                    "header of {header_len} bytes runs past the end of the file ({} bytes)",
                    bytes.len()
                ),
            )
        })?;
    let text =
        std::str::from_utf8(&bytes[start..end]).map_err(|_| bad(src, "header is not text"))?;
    let header = parse_header(text, src)?;
    let numel = crate::Shape::checked_numel(&header.shape)
        .ok_or_else(|| bad(src, format!("shape {:?} is too large", header.shape)))?;
    let data = &bytes[end..];
    let (size, dtype): (usize, DType) = match header.descr.as_str() {
        "<f2" => (2, DType::F16),
        "<f4" => (4, DType::F32),
        "<f8" => (8, DType::F64),
        "<i8" => (8, DType::I64),
        "<i4" => (4, DType::I64),
        "<i2" | "<u2" => (2, DType::I64),
        "|u1" | "|i1" | "|b1" => (1, DType::I64),
        other => return Err(bad(src, format!("unsupported dtype '{other}' (expected <f2, <f4, <f8, <i8, <i4, <i2, <u2, |u1, |i1 or |b1)"))),
    };
    let expected = numel
        .checked_mul(size)
        .ok_or_else(|| bad(src, "shape is too large"))?;
    if data.len() != expected {
        return Err(bad(
            src,
            format!(
                "shape {:?} of {} needs {expected} data bytes, found {}",
                header.shape,
                header.descr,
                data.len()
            ),
        ));
    }
    let dev = Device::Cpu;
    let chunks = data.chunks_exact(size);
    match (header.descr.as_str(), dtype) {
        ("<f2" | "<f4" | "<f8" | "<i8", _) => super::read_le_bytes(data, dtype, &header.shape),
        ("<i4", _) => Tensor::from_vec(
            chunks
                .map(|c| i32::from_le_bytes(c.try_into().expect("4-byte chunk")) as i64)
                .collect(),
            &header.shape,
            &dev,
        ),
        ("<i2", _) => Tensor::from_vec(
            chunks
                .map(|c| i16::from_le_bytes(c.try_into().expect("2-byte chunk")) as i64)
                .collect(),
            &header.shape,
            &dev,
        ),
        ("<u2", _) => Tensor::from_vec(
            chunks
                .map(|c| u16::from_le_bytes(c.try_into().expect("2-byte chunk")) as i64)
                .collect(),
            &header.shape,
            &dev,
        ),
        ("|i1", _) => Tensor::from_vec(
            data.iter().map(|&b| b as i8 as i64).collect(),
            &header.shape,
            &dev,
        ),
        _ => Tensor::from_vec(
            data.iter().map(|&b| b as i64).collect(),
            &header.shape,
            &dev,
        ),
    }
}

/// Serializes a tensor as `.npy` (version 1.0) bytes.
pub fn to_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let descr = match t.dtype() {
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::I64 => "<i8",
        DType::BF16 => {
            return Err(Error::invalid(
                "write_npy",
                "NumPy has no bfloat16 dtype: convert with to_dtype(DType::F32) first, or save as safetensors",
            ))
        }
    };
    let shape = match t.rank() {
        1 => format!("({},)", t.dims()[0]),
        _ => format!(
            "({})",
            t.dims()
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad with spaces so that the data starts on a 64-byte boundary; end with a newline.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + t.numel() * t.dtype().size_in_bytes());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    super::write_le_bytes(t, &mut out)?;
    Ok(out)
}

impl Tensor {
    /// Reads a `.npy` file.
    ///
    /// # Errors
    /// [`Error::Format`] naming the file and the problem.
    pub fn read_npy(path: impl AsRef<Path>) -> Result<Tensor> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| bad(&name, format!("cannot read: {e}")))?;
        from_bytes(&bytes, &name)
    }

    /// Writes the tensor as a `.npy` file, atomically.
    pub fn write_npy(&self, path: impl AsRef<Path>) -> Result<()> {
        super::write_atomic(path.as_ref(), &to_bytes(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trips_every_dtype() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("nabla-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        for t in [
            Tensor::from_slice(&[1.5f32, -2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], &Device::Cpu)?,
            Tensor::from_slice(&[1.5f64], &[1], &Device::Cpu)?,
            Tensor::from_slice(&[7i64, -1], &[2, 1, 1], &Device::Cpu)?,
            Tensor::from_slice(&[0.1f32, -65504.0], &[2], &Device::Cpu)?.to_dtype(DType::F16)?,
        ] {
            let p = dir.join("t.npy");
            t.write_npy(&p)?;
            let back = Tensor::read_npy(&p)?;
            assert_eq!(back.dims(), t.dims());
            assert_eq!(back.dtype(), t.dtype());
            assert_eq!(back.to_vec::<f64>()?, t.to_vec::<f64>()?);
        }
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn bf16_has_no_npy_form_and_says_so() -> Result<()> {
        let t = Tensor::ones(&[2], DType::BF16, &Device::Cpu);
        let msg = to_bytes(&t).unwrap_err().to_string();
        assert!(msg.contains("NumPy has no bfloat16"), "{msg}");
        Ok(())
    }

    #[test]
    fn npy_reads_what_numpy_writes() -> Result<()> {
        // The layout np.save writes for np.arange(3, dtype='<i4'): a v1.0 header padded with
        // spaces so that the data starts on a 64-byte boundary.
        let mut b = MAGIC.to_vec();
        let header = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
        let total = 10 + header.len() + 1;
        let padded = format!("{header}{}\n", " ".repeat((64 - total % 64) % 64));
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(padded.len() as u16).to_le_bytes());
        b.extend_from_slice(padded.as_bytes());
        for v in 0i32..3 {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let t = from_bytes(&b, "mem")?;
        assert_eq!(t.to_vec::<i64>()?, vec![0, 1, 2]);
        Ok(())
    }

    #[test]
    fn malformed_npy_is_an_error_not_a_panic() -> Result<()> {
        let good = to_bytes(&Tensor::from_slice(&[1.0f32, 2.0], &[2], &Device::Cpu)?)?;
        let truncated = &good[..good.len() - 3];
        let err = from_bytes(truncated, "x.npy").unwrap_err().to_string();
        assert!(err.contains("needs 8 data bytes, found 5"), "{err}");
        assert!(from_bytes(b"hello", "x").is_err());
        for cut in 0..good.len() {
            let _ = from_bytes(&good[..cut], "x");
        }
        let mut wrong = good.clone();
        wrong[6] = 9;
        assert!(from_bytes(&wrong, "x")
            .unwrap_err()
            .to_string()
            .contains("version 9"));
        Ok(())
    }

    /// A version 1.0 file with `header` and no data.
    fn header_only(header: &str) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b
    }

    /// Found by `cargo fuzz run npy`: an empty shape whose other sizes multiply past `usize`
    /// made the tensor's strides overflow (a panic) instead of an error.
    #[test]
    fn empty_shape_with_overflowing_sizes_is_an_error() {
        let huge =
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }";
        let err = from_bytes(&header_only(huge), "x.npy").unwrap_err();
        assert!(
            err.to_string()
                .contains("shape [0, 4294967296, 4294967296] is too large"),
            "{err}"
        );
        // The fuzzer's own input, as it found it.
        let found = b"\x93NUMPY\x01\x00v\x00{'des',PY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (0, 1, 3, 1, 32, 1, 1, 32777,7777777777700777,777777777";
        assert!(from_bytes(found, "x.npy").is_err());
        // Zeros alone are fine: an empty tensor.
        let empty = "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }";
        let t = from_bytes(&header_only(empty), "x.npy").unwrap();
        assert_eq!(t.dims(), [0, 3]);
    }
}
