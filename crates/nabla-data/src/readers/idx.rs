//! IDX files (MNIST's format), raw or gzip-compressed, and image + label pairs of them.
//!
//! An IDX file is a 4-byte magic number `00 00 TT NN` (element type `TT`, `NN` dimensions),
//! `NN` big-endian u32 sizes, then the elements, big-endian, row-major. The reader checks
//! the declared sizes against the bytes actually present before trusting them: a hostile
//! header cannot make it allocate more than the file holds.

use crate::dataset::check_labels;
use crate::{Error, InMemoryDataset, Result, Targets};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The elements of an IDX file, in the file's own type.
#[derive(Clone, Debug, PartialEq)]
pub enum IdxData {
    /// Type code 0x08.
    U8(Vec<u8>),
    /// Type code 0x09.
    I8(Vec<i8>),
    /// Type code 0x0B.
    I16(Vec<i16>),
    /// Type code 0x0C.
    I32(Vec<i32>),
    /// Type code 0x0D.
    F32(Vec<f32>),
    /// Type code 0x0E.
    F64(Vec<f64>),
}

/// An n-dimensional array read from an IDX file.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// The sizes from the header (`[60000, 28, 28]` for MNIST's training images).
    pub dims: Vec<usize>,
    /// The elements, row-major.
    pub data: IdxData,
}

impl IdxArray {
    /// The magic number this array would have in a file (`0x00000803` for MNIST images).
    pub fn magic(&self) -> u32 {
        let code = match self.data {
            IdxData::U8(_) => 0x08,
            IdxData::I8(_) => 0x09,
            IdxData::I16(_) => 0x0B,
            IdxData::I32(_) => 0x0C,
            IdxData::F32(_) => 0x0D,
            IdxData::F64(_) => 0x0E,
        };
        (code << 8) | (self.dims.len() as u32 & 0xFF)
    }

    /// The elements converted to `f32`, unscaled.
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            IdxData::U8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            IdxData::I8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            IdxData::I16(v) => v.iter().map(|&x| f32::from(x)).collect(),
            IdxData::I32(v) => v.iter().map(|&x| x as f32).collect(),
            IdxData::F32(v) => v.clone(),
            IdxData::F64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// The elements as `i64`, for the integer types (`None` for f32/f64).
    pub fn to_i64(&self) -> Option<Vec<i64>> {
        match &self.data {
            IdxData::U8(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
            IdxData::I8(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
            IdxData::I16(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
            IdxData::I32(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
            IdxData::F32(_) | IdxData::F64(_) => None,
        }
    }
}

/// Reads an IDX file, raw or gzip-compressed (detected by the magic bytes `1f 8b`).
///
/// # Errors
/// [`Error::Io`] for a missing or unreadable file or a corrupt gzip stream;
/// [`Error::BadMagic`] when the file does not start with `00 00`; [`Error::Truncated`] when
/// it holds fewer bytes than its header declares; [`Error::Format`] for an unknown element
/// type, a size that overflows, or bytes past the declared end.
pub fn read(path: impl AsRef<Path>) -> Result<IdxArray> {
    read_as(path.as_ref(), "records")
}

/// [`read`] with `noun` naming the records in errors ("images", "labels").
pub(crate) fn read_as(path: &Path, noun: &str) -> Result<IdxArray> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    parse_as(file, &path.display().to_string(), noun)
}

/// Parses IDX bytes, raw or gzip-compressed; `src` names the source in errors.
///
/// # Errors
/// As [`read`].
pub fn parse(reader: impl Read, src: &str) -> Result<IdxArray> {
    parse_as(reader, src, "records")
}

pub(crate) fn parse_as(reader: impl Read, src: &str, noun: &str) -> Result<IdxArray> {
    let mut reader = BufReader::new(reader);
    let head = reader.fill_buf().map_err(|e| Error::io(src, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        // Errors from the decoder itself say "incomplete deflate stream" and the like: say
        // that the gzip data, not the file system, is at fault.
        parse_raw(flate2::read::MultiGzDecoder::new(reader), src, noun).map_err(|e| match e {
            Error::Io { path, source } => Error::Format {
                path,
                msg: format!("gzip data is corrupt or cut short ({source})"),
            },
            other => other,
        })
    } else {
        parse_raw(reader, src, noun)
    }
}

/// Reads up to `n` bytes (fewer only at the end of the stream).
fn read_up_to(reader: &mut impl Read, n: u64, src: &str) -> Result<Vec<u8>> {
    // Reserve what the header promises only up to a sane bound (16 MiB); past it the
    // vector grows with the bytes that really arrive.
    let mut buf = Vec::with_capacity(n.min(1 << 24) as usize);
    reader
        .take(n)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(src, e))?;
    Ok(buf)
}

fn element_size(code: u8, src: &str) -> Result<usize> {
    Ok(match code {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        0x0E => 8,
        other => {
            return Err(Error::format(
                src,
                format!(
                    "unknown IDX element type 0x{other:02x} (expected 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32 or 0x0e f64)"
                ),
            ))
        }
    })
}

/// "60000 images of 28x28", "60000 labels".
fn describe(dims: &[usize], noun: &str) -> String {
    match dims.split_first() {
        Some((n, [])) => format!("{n} {noun}"),
        Some((n, rest)) => {
            let rest: Vec<String> = rest.iter().map(usize::to_string).collect();
            format!("{n} {noun} of {}", rest.join("x"))
        }
        None => format!("no {noun}"),
    }
}

fn parse_raw(mut reader: impl Read, src: &str, noun: &str) -> Result<IdxArray> {
    let magic = read_up_to(&mut reader, 4, src)?;
    let &[z0, z1, code, ndims] = magic.as_slice() else {
        return Err(Error::format(
            src,
            format!(
                "{} bytes is too short for an IDX header (4-byte magic number)",
                magic.len()
            ),
        ));
    };
    if z0 != 0 || z1 != 0 {
        return Err(Error::BadMagic {
            path: src.to_string(),
            expected: "an IDX magic number 0x0000TTNN (type TT, NN dimensions)".into(),
            found: format!("0x{:08x}", u32::from_be_bytes([z0, z1, code, ndims])),
        });
    }
    let size = element_size(code, src)?;
    if ndims == 0 {
        return Err(Error::format(src, "the IDX header declares 0 dimensions"));
    }
    let dim_bytes = read_up_to(&mut reader, 4 * u64::from(ndims), src)?;
    if dim_bytes.len() < 4 * usize::from(ndims) {
        return Err(Error::format(
            src,
            format!(
                "the header declares {ndims} dimensions ({} bytes of sizes), {} found",
                4 * usize::from(ndims),
                dim_bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let declared = describe(&dims, noun);
    let expected = dims
        .iter()
        .try_fold(size, |a, &d| a.checked_mul(d))
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| {
            Error::format(
                src,
                format!("{declared} of {size}-byte elements is too large"),
            )
        })?;
    let bytes = read_up_to(&mut reader, expected.saturating_add(1), src)?;
    let found = bytes.len() as u64;
    if found < expected {
        return Err(Error::Truncated {
            path: src.to_string(),
            declared,
            expected,
            found: found.to_string(),
        });
    }
    if found > expected {
        return Err(Error::format(
            src,
            format!("{declared} declared ({expected} bytes), but the file holds more"),
        ));
    }
    Ok(IdxArray {
        dims,
        data: decode(code, &bytes),
    })
}

/// Converts big-endian element bytes (their length already checked) to the element type.
fn decode(code: u8, bytes: &[u8]) -> IdxData {
    fn be<const N: usize, T>(bytes: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
        bytes
            .chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunks_exact yields N bytes")))
            .collect()
    }
    match code {
        0x08 => IdxData::U8(bytes.to_vec()),
        0x09 => IdxData::I8(bytes.iter().map(|&b| b as i8).collect()),
        0x0B => IdxData::I16(be(bytes, i16::from_be_bytes)),
        0x0C => IdxData::I32(be(bytes, i32::from_be_bytes)),
        0x0D => IdxData::F32(be(bytes, f32::from_be_bytes)),
        _ => IdxData::F64(be(bytes, f64::from_be_bytes)),
    }
}

/// Reads an image file and a label file (as MNIST ships them) into one dataset.
///
/// Images `[n, h, w]` become samples `[1, h, w]` (other ranks keep their per-record shape:
/// `[n, d]` gives `[d]`, `[n, c, h, w]` gives `[c, h, w]`); u8 pixels are scaled to `[0, 1]`,
/// other types are kept as they are. Labels must be a vector of integers, each in
/// `0..num_classes` (when `None`, the number of classes is the largest label plus one).
///
/// # Errors
/// Those of [`read`]; [`Error::BadMagic`] when the label file is not a vector of integers or
/// the image file has a single dimension; [`Error::CountMismatch`] when the files disagree
/// on the number of records; [`Error::LabelOutOfRange`] naming the first bad label.
pub fn load_images_labels(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
    num_classes: Option<usize>,
) -> Result<InMemoryDataset> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
    let image_array = read_as(images, "images")?;
    let label_array = read_as(labels, "labels")?;
    dataset_from_arrays(
        image_array,
        &images.display().to_string(),
        label_array,
        &labels.display().to_string(),
        num_classes,
    )
}

/// Builds a dataset from parsed image and label arrays; the `*_src` strings name them.
pub(crate) fn dataset_from_arrays(
    images: IdxArray,
    images_src: &str,
    labels: IdxArray,
    labels_src: &str,
    num_classes: Option<usize>,
) -> Result<InMemoryDataset> {
    let (n, record_dims) = match images.dims.split_first() {
        Some((&n, rest)) if !rest.is_empty() => (n, rest),
        _ => {
            return Err(Error::BadMagic {
                path: images_src.to_string(),
                expected: "an IDX array of images (magic 0x00000803: u8, 3 dimensions)".into(),
                found: format!("0x{:08x}", images.magic()),
            })
        }
    };
    let label_values = match (labels.dims.len(), labels.to_i64()) {
        (1, Some(v)) => v,
        _ => {
            return Err(Error::BadMagic {
                path: labels_src.to_string(),
                expected: "an IDX vector of labels (magic 0x00000801: u8, 1 dimension)".into(),
                found: format!("0x{:08x}", labels.magic()),
            })
        }
    };
    if label_values.len() != n {
        return Err(Error::CountMismatch {
            what: "images and labels".into(),
            left: images_src.to_string(),
            left_count: n,
            right: labels_src.to_string(),
            right_count: label_values.len(),
        });
    }
    let num_classes = match num_classes {
        Some(k) => k,
        None => label_values.iter().max().map_or(0, |&m| m.max(-1) + 1) as usize,
    };
    check_labels(&label_values, num_classes, labels_src)?;
    let shape: Vec<usize> = match record_dims {
        [h, w] => vec![1, *h, *w],
        other => other.to_vec(),
    };
    let targets = Targets::Classes {
        labels: label_values,
        num_classes,
    };
    match images.data {
        IdxData::U8(pixels) => InMemoryDataset::from_u8(pixels, &shape, targets),
        _ => InMemoryDataset::new(images.to_f32(), &shape, targets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IDX file: header for `dims` with type `code`, then `data`.
    pub(crate) fn idx_bytes(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, code, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn parses_every_element_type_big_endian() -> Result<()> {
        let a = parse(&idx_bytes(0x08, &[2, 2], &[1, 2, 3, 255])[..], "t")?;
        assert_eq!((a.dims.clone(), a.magic()), (vec![2, 2], 0x0000_0802));
        assert_eq!(a.data, IdxData::U8(vec![1, 2, 3, 255]));
        let a = parse(&idx_bytes(0x09, &[1], &[0xff])[..], "t")?;
        assert_eq!(a.to_i64(), Some(vec![-1]));
        let a = parse(&idx_bytes(0x0B, &[1], &[0x01, 0x02])[..], "t")?;
        assert_eq!(a.data, IdxData::I16(vec![0x0102]));
        let a = parse(&idx_bytes(0x0C, &[1], &[0xff, 0xff, 0xff, 0xfe])[..], "t")?;
        assert_eq!(a.data, IdxData::I32(vec![-2]));
        let a = parse(&idx_bytes(0x0D, &[1], &1.5f32.to_be_bytes())[..], "t")?;
        assert_eq!(a.to_f32(), vec![1.5]);
        assert_eq!(a.to_i64(), None);
        let a = parse(&idx_bytes(0x0E, &[1], &(-0.25f64).to_be_bytes())[..], "t")?;
        assert_eq!(a.data, IdxData::F64(vec![-0.25]));
        Ok(())
    }

    #[test]
    fn gzip_input_is_detected_by_its_magic_bytes() -> Result<()> {
        let raw = idx_bytes(0x08, &[3], &[7, 8, 9]);
        assert_eq!(parse(&gzip(&raw)[..], "t.gz")?, parse(&raw[..], "t")?);
        Ok(())
    }

    #[test]
    fn truncated_data_reports_declared_and_found_bytes() {
        let bytes = idx_bytes(0x08, &[2, 2, 3], &[0; 11]);
        let err = parse_as(&bytes[..], "imgs", "images").unwrap_err();
        assert_eq!(
            err.to_string(),
            "imgs: 2 images of 2x3 declared (12 bytes), 11 found"
        );
        let err = parse(&gzip(&bytes)[..], "imgs.gz").unwrap_err();
        assert!(
            matches!(err, Error::Truncated { expected: 12, .. }),
            "{err}"
        );
    }

    #[test]
    fn hostile_headers_are_rejected_without_allocating() {
        // 4 dims of 2^32-1 bytes each overflows; 2^31 declared bytes with 3 present is a
        // truncation found after reading the 3 bytes, not a 2 GiB allocation.
        let huge = idx_bytes(0x0E, &[u32::MAX; 4], &[]);
        assert!(parse(&huge[..], "h")
            .unwrap_err()
            .to_string()
            .contains("too large"));
        let err = parse(&idx_bytes(0x08, &[1 << 31], &[1, 2, 3])[..], "h").unwrap_err();
        assert!(matches!(
            err,
            Error::Truncated {
                expected: 2_147_483_648,
                ..
            }
        ));
        let err = parse(&idx_bytes(0x08, &[], &[])[..], "h").unwrap_err();
        assert!(err.to_string().contains("0 dimensions"));
        let err = parse(&[0, 0, 8, 3, 0, 0][..], "h").unwrap_err();
        assert!(err
            .to_string()
            .contains("3 dimensions (12 bytes of sizes), 2 found"));
    }

    #[test]
    fn bad_magic_type_and_trailing_bytes_are_errors() {
        let err = parse(&b"\x89PNG\r\n\x1a\n"[..], "x.png").unwrap_err();
        assert!(matches!(err, Error::BadMagic { .. }), "{err}");
        assert!(err.to_string().contains("0x89504e47"), "{err}");
        let err = parse(&idx_bytes(0x07, &[1], &[0])[..], "x").unwrap_err();
        assert!(err.to_string().contains("unknown IDX element type 0x07"));
        let err = parse(&idx_bytes(0x08, &[1], &[0, 0])[..], "x").unwrap_err();
        assert!(err.to_string().contains("holds more"));
        let err = parse(&[0u8, 0][..], "x").unwrap_err();
        assert!(err.to_string().contains("too short"));
    }

    #[test]
    fn image_label_pairs_check_counts_ranks_and_labels() -> Result<()> {
        let images = || parse(&idx_bytes(0x08, &[2, 1, 2], &[0, 255, 51, 0])[..], "i");
        let labels = |data: &[u8]| parse(&idx_bytes(0x08, &[data.len() as u32], data)[..], "l");
        let ds = dataset_from_arrays(images()?, "i", labels(&[3, 1])?, "l", Some(4))?;
        use crate::{Dataset, Target};
        let s = ds.get(1)?;
        assert_eq!(
            (s.shape, s.input, s.target),
            (vec![1, 1, 2], vec![0.2, 0.0], Target::Class(1))
        );
        assert_eq!(ds.num_classes(), Some(4));
        let inferred = dataset_from_arrays(images()?, "i", labels(&[3, 1])?, "l", None)?;
        assert_eq!(inferred.num_classes(), Some(4));

        let err = dataset_from_arrays(images()?, "i", labels(&[1, 10])?, "l", Some(10));
        let err = err.unwrap_err();
        assert_eq!(
            err.to_string(),
            "l: label 10 of record 1 is outside the class range 0..10"
        );
        let err = dataset_from_arrays(images()?, "i", labels(&[1])?, "l", None).unwrap_err();
        assert_eq!(err.to_string(), "images and labels: 2 in i, 1 in l");
        let err = dataset_from_arrays(labels(&[1, 2])?, "l", images()?, "i", None).unwrap_err();
        assert!(matches!(err, Error::BadMagic { .. }), "{err}");
        Ok(())
    }
}
