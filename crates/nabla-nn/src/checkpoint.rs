//! Checkpoints in the safetensors format (an 8-byte little-endian header length, a JSON
//! header `{name: {dtype, shape, data_offsets}}`, then the raw little-endian data), so that
//! PyTorch's `safetensors.torch.load_file` + `load_state_dict` reads nabla's models and nabla
//! reads PyTorch's. Writes are atomic.

use crate::var_store::VarStore;
use crate::{Error, Result};
use nabla::{DType, Tensor};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Largest header accepted (a guard against hostile files).
const MAX_HEADER: u64 = 100 << 20;

pub(crate) fn bad(path: &str, msg: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_string(),
        msg: msg.into(),
    }
}

/// The name safetensors (and PyTorch) give a dtype.
fn safetensors_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "F32",
        DType::F64 => "F64",
        DType::I64 => "I64",
        DType::BF16 => "BF16",
        DType::F16 => "F16",
    }
}

/// The dtype of a safetensors dtype name, if nabla has it.
fn parse_dtype(name: &str) -> Option<DType> {
    [DType::F32, DType::F64, DType::I64, DType::BF16, DType::F16]
        .into_iter()
        .find(|&d| safetensors_name(d) == name)
}

/// Serializes named tensors (in the given order) and string metadata as safetensors bytes.
///
/// # Errors
/// Engine errors reading the tensors.
pub fn to_bytes(
    tensors: &[(String, Tensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut header = Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), json!(metadata));
    }
    let mut data: Vec<u8> = Vec::new();
    for (name, t) in tensors {
        let begin = data.len();
        nabla::io::write_le_bytes(t, &mut data)?;
        let dtype = safetensors_name(t.dtype());
        header.insert(
            name.clone(),
            json!({"dtype": dtype, "shape": t.dims(), "data_offsets": [begin, data.len()]}),
        );
    }
    let mut text = Value::Object(header).to_string();
    // Pad the header with spaces to a multiple of 8 bytes, as the reference implementation.
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + data.len());
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&data);
    Ok(out)
}

/// The content of a safetensors file: tensors in file order and metadata.
pub struct Checkpoint {
    /// Named tensors, in the order of their data.
    pub tensors: Vec<(String, Tensor)>,
    /// String metadata (`__metadata__`).
    pub metadata: BTreeMap<String, String>,
}

/// Parses safetensors bytes; `src` names the source in errors. Every malformed input is an
/// error naming the entry and the problem.
///
/// # Errors
/// [`Error::Checkpoint`] for truncation, a bad header, an unknown dtype, or offsets that do
/// not match the shapes.
pub fn from_bytes(bytes: &[u8], src: &str) -> Result<Checkpoint> {
    if bytes.len() < 8 {
        return Err(bad(
            src,
            format!(
                "file of {} bytes is too short for a safetensors header",
                bytes.len()
            ),
        ));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if n > MAX_HEADER || 8 + n > bytes.len() as u64 {
        return Err(bad(src, format!("header of {n} bytes does not fit in the file of {} bytes (truncated or not safetensors)", bytes.len())));
    }
    let header: Value = serde_json::from_slice(&bytes[8..8 + n as usize])
        .map_err(|e| bad(src, format!("header is not valid JSON: {e}")))?;
    let Value::Object(entries) = header else {
        return Err(bad(src, "header is not a JSON object"));
    };
    let data = &bytes[8 + n as usize..];
    let mut metadata = BTreeMap::new();
    let mut tensors = Vec::new();
    for (name, entry) in entries {
        if name == "__metadata__" {
            if let Value::Object(m) = entry {
                for (k, v) in m {
                    metadata.insert(k, v.as_str().unwrap_or_default().to_string());
                }
            }
            continue;
        }
        let field = |key: &str| {
            entry
                .get(key)
                .ok_or_else(|| bad(src, format!("tensor {name}: missing '{key}'")))
        };
        let dtype = field("dtype")?
            .as_str()
            .ok_or_else(|| bad(src, format!("tensor {name}: dtype is not a string")))?;
        let shape: Vec<usize> = field("shape")?
            .as_array()
            .ok_or_else(|| bad(src, format!("tensor {name}: shape is not a list")))?
            .iter()
            .map(|d| {
                d.as_u64()
                    .map(|d| d as usize)
                    .ok_or_else(|| bad(src, format!("tensor {name}: bad shape entry {d}")))
            })
            .collect::<Result<_>>()?;
        let offsets = field("data_offsets")?
            .as_array()
            .filter(|o| o.len() == 2)
            .ok_or_else(|| {
                bad(
                    src,
                    format!("tensor {name}: data_offsets must be [begin, end]"),
                )
            })?;
        let (begin, end) = match (offsets[0].as_u64(), offsets[1].as_u64()) {
            (Some(b), Some(e)) if b <= e && e <= data.len() as u64 => (b as usize, e as usize),
            (Some(b), Some(e)) if b > e => return Err(bad(src, format!("tensor {name}: data_offsets [{b}, {e}] end before they begin"))),
            (Some(b), Some(e)) => return Err(bad(src, format!("tensor {name}: data_offsets [{b}, {e}] lie outside the {} data bytes (truncated file?)", data.len()))),
            _ => return Err(bad(src, format!("tensor {name}: data_offsets must be two whole numbers of bytes, got [{}, {}]", offsets[0], offsets[1]))),
        };
        let dtype = parse_dtype(dtype).ok_or_else(|| {
            bad(
                src,
                format!("tensor {name}: unsupported dtype {dtype} (F32, F64, I64, BF16 and F16 are supported)"),
            )
        })?;
        let size = dtype.size_in_bytes();
        let numel = nabla::Shape::checked_numel(&shape)
            .ok_or_else(|| bad(src, format!("tensor {name}: shape {shape:?} is too large")))?;
        if numel.checked_mul(size) != Some(end - begin) {
            return Err(bad(
                src,
                format!(
                    "tensor {name}: shape {shape:?} of {} needs {} bytes, the offsets give {}",
                    safetensors_name(dtype),
                    numel.saturating_mul(size),
                    end - begin
                ),
            ));
        }
        let t = nabla::io::read_le_bytes(&data[begin..end], dtype, &shape)?;
        tensors.push((name, t));
    }
    Ok(Checkpoint { tensors, metadata })
}

/// Writes named tensors to a safetensors file, atomically (temporary file + rename).
///
/// # Errors
/// I/O errors, with the path.
pub fn save(
    path: impl AsRef<Path>,
    tensors: &[(String, Tensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    nabla::io::write_atomic(path.as_ref(), &to_bytes(tensors, metadata)?)
        .map_err(|e| bad(&path.as_ref().display().to_string(), e.to_string()))
}

/// Reads a safetensors file.
///
/// # Errors
/// I/O errors and every malformation [`from_bytes`] reports.
pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint> {
    let name = path.as_ref().display().to_string();
    let bytes = std::fs::read(path.as_ref()).map_err(|e| Error::Io {
        path: name.clone(),
        source: e,
    })?;
    from_bytes(&bytes, &name)
}

/// What loading a checkpoint into a model found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LoadReport {
    /// Model variables the file does not have (left unchanged).
    pub missing: Vec<String>,
    /// File entries the model does not have (ignored).
    pub unexpected: Vec<String>,
    /// Entries present in both whose shape or dtype differ, with both (not loaded).
    pub mismatched: Vec<String>,
}

impl LoadReport {
    /// Whether everything matched.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty()
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::state_dict::first_few;
        let mut parts = Vec::new();
        for (what, names) in [("missing", &self.missing), ("unexpected", &self.unexpected)] {
            if !names.is_empty() {
                parts.push(format!("{} {what} (", names.len()) + &first_few(names) + ")");
            }
        }
        if !self.mismatched.is_empty() {
            parts.push(format!(
                "{} with another shape or dtype ({})",
                self.mismatched.len(),
                first_few(&self.mismatched)
            ));
        }
        write!(f, "{}", parts.join(", "))
    }
}

impl VarStore {
    /// Every variable as (name, tensor), in creation order: the model's `state_dict`.
    pub fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.vars()
            .iter()
            .map(|v| (v.name().to_string(), v.leaf().detach()))
            .collect()
    }

    /// Saves every variable to a safetensors file (atomically), loadable by PyTorch's
    /// `load_state_dict`.
    ///
    /// # Errors
    /// I/O errors, with the path.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save(path, &self.state_dict(), &BTreeMap::new())
    }

    /// Loads weights strictly: every variable must be present with its shape and dtype, and
    /// nothing else may be in the file. Bare weights, a training checkpoint (its `model.`
    /// part) and DataParallel's `module.` names are all accepted; see
    /// [`VarStore::load_with`] for parts that may be absent.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] with how many entries are missing, unexpected and mismatched, the
    /// first few of each and the likely cause; nothing is changed in that case.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<()> {
        self.load_with(path, Default::default()).map(|_| ())
    }

    /// Loads what fits (non-strict), as `load_state_dict(strict=False)`, and reports the rest.
    ///
    /// # Errors
    /// I/O and format errors only.
    pub fn load_partial(&self, path: impl AsRef<Path>) -> Result<LoadReport> {
        self.load_tensors(&crate::state_dict::read_model_entries(self, path)?)
    }

    pub(crate) fn check(&self, tensors: &[(String, Tensor)]) -> LoadReport {
        let mut report = LoadReport::default();
        let vars = self.vars();
        for v in &vars {
            match tensors.iter().find(|(n, _)| n == v.name()) {
                None => report.missing.push(v.name().to_string()),
                // A float file entry loads into a float variable of another width (PyTorch
                // users often save F16 or BF16 weights): it is converted.
                Some((_, t))
                    if t.shape() != v.leaf().shape()
                        || (t.dtype() != v.leaf().dtype()
                            && !(t.dtype().is_float() && v.leaf().dtype().is_float())) =>
                {
                    report.mismatched.push(format!(
                        "{}: model {} {:?}, file {} {:?}",
                        v.name(),
                        v.leaf().shape(),
                        v.leaf().dtype(),
                        t.shape(),
                        t.dtype()
                    ))
                }
                Some(_) => {}
            }
        }
        for (n, _) in tensors {
            if !vars.iter().any(|v| v.name() == n) {
                report.unexpected.push(n.clone());
            }
        }
        report
    }

    /// Copies every fitting tensor into its variable; returns the report of the rest.
    pub(crate) fn load_tensors(&self, tensors: &[(String, Tensor)]) -> Result<LoadReport> {
        let report = self.check(tensors);
        for (name, t) in tensors {
            if let Some(v) = self.get(name) {
                if !report
                    .mismatched
                    .iter()
                    .any(|m| m.starts_with(&format!("{name}:")))
                {
                    let dtype = v.leaf().dtype();
                    if t.dtype() == dtype {
                        v.set(t)?;
                    } else {
                        v.set(&t.to_dtype(dtype)?)?;
                    }
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Init;
    use nabla::Device;

    fn model(vs: &VarStore) -> Result<()> {
        vs.root().sub("fc1").param(
            "weight",
            &[3, 2],
            Init::Normal {
                mean: 0.0,
                std: 1.0,
            },
        )?;
        vs.root()
            .sub("fc1")
            .param("bias", &[3], Init::Constant(0.5))?;
        vs.root().sub("bn").buffer(
            "num_batches_tracked",
            Tensor::zeros(&[], DType::I64, &Device::Cpu),
        )?;
        Ok(())
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("nabla-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn save_then_load_restores_every_variable() -> Result<()> {
        let a = VarStore::new(&Device::Cpu);
        model(&a)?;
        let path = tmp("roundtrip.safetensors");
        a.save(&path)?;
        let b = VarStore::new(&Device::Cpu);
        model(&b)?;
        b.load(&path)?;
        for (x, y) in a.state_dict().iter().zip(b.state_dict()) {
            assert_eq!(x.0, y.0);
            assert_eq!(x.1.to_vec::<f64>()?, y.1.to_vec::<f64>()?);
        }
        Ok(())
    }

    #[test]
    fn loading_reports_missing_unexpected_and_mismatched_keys() -> Result<()> {
        let a = VarStore::new(&Device::Cpu);
        a.root()
            .sub("fc1")
            .param("weight", &[3, 3], Init::Constant(1.0))?;
        a.root()
            .sub("extra")
            .param("w", &[1], Init::Constant(1.0))?;
        let path = tmp("other.safetensors");
        a.save(&path)?;
        let b = VarStore::new(&Device::Cpu);
        model(&b)?;
        let err = b.load(&path).unwrap_err().to_string();
        assert!(
            err.contains("2 missing (fc1.bias, bn.num_batches_tracked)"),
            "{err}"
        );
        assert!(err.contains("1 unexpected (extra.w)"), "{err}");
        assert!(err.contains("fc1.weight: model [3, 2]"), "{err}");
        let report = b.load_partial(&path)?;
        assert_eq!(report.unexpected, vec!["extra.w".to_string()]);
        Ok(())
    }

    #[test]
    fn corrupted_and_truncated_files_are_errors() -> Result<()> {
        let a = VarStore::new(&Device::Cpu);
        model(&a)?;
        let bytes = to_bytes(&a.state_dict(), &BTreeMap::new())?;
        for cut in [0, 4, 8, 20, bytes.len() - 1] {
            let err = from_bytes(&bytes[..cut], "x.safetensors")
                .err()
                .map(|e| e.to_string());
            assert!(err.is_some(), "cut at {cut} accepted");
        }
        let err = from_bytes(&bytes[..bytes.len() - 1], "x.safetensors")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("x.safetensors"), "{err}");
        let mut garbage = bytes.clone();
        garbage[8] = b'#'; // the header's opening brace
        assert!(from_bytes(&garbage, "x").is_err());
        let mut huge = bytes;
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(from_bytes(&huge, "x").is_err());
        Ok(())
    }

    /// Found by review after `cargo fuzz run npy` hit the same bug there: an empty shape whose
    /// other sizes multiply past `usize` made the tensor's strides overflow (a panic).
    #[test]
    fn empty_shape_with_overflowing_sizes_is_an_error() {
        let file = |shape: &str| {
            let header =
                format!(r#"{{"w":{{"dtype":"F32","shape":{shape},"data_offsets":[0,0]}}}}"#);
            let mut b = (header.len() as u64).to_le_bytes().to_vec();
            b.extend_from_slice(header.as_bytes());
            b
        };
        let err = from_bytes(&file("[0,4294967296,4294967296]"), "x.safetensors")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("tensor w: shape [0, 4294967296, 4294967296] is too large"),
            "{err}"
        );
        let empty = from_bytes(&file("[0,3]"), "x.safetensors").unwrap();
        assert_eq!(empty.tensors[0].1.dims(), [0, 3]);
    }

    #[test]
    fn bad_data_offsets_are_named_in_plain_numbers() {
        let message = |offsets: &str| {
            let header =
                format!(r#"{{"w":{{"dtype":"F32","shape":[2],"data_offsets":{offsets}}}}}"#);
            let mut b = (header.len() as u64).to_le_bytes().to_vec();
            b.extend_from_slice(header.as_bytes());
            b.extend_from_slice(&[0u8; 8]);
            from_bytes(&b, "x.safetensors")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        for (offsets, want) in [
            (
                "[0,100]",
                "data_offsets [0, 100] lie outside the 8 data bytes",
            ),
            ("[8,0]", "data_offsets [8, 0] end before they begin"),
            (
                "[0.5,8]",
                "data_offsets must be two whole numbers of bytes, got [0.5, 8]",
            ),
            (
                "[-1,8]",
                "data_offsets must be two whole numbers of bytes, got [-1, 8]",
            ),
            ("\"x\"", "data_offsets must be [begin, end]"),
        ] {
            let err = message(offsets);
            assert!(err.contains(want), "{offsets}: {err}");
            assert!(!err.contains("Number("), "{offsets}: {err}");
        }
    }
}
