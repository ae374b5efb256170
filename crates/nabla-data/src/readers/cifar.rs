//! CIFAR-10 and CIFAR-100 binary batches (`data_batch_N.bin`, `train.bin`, ...).
//!
//! Each record is its label byte(s) followed by 3072 pixel bytes: the 1024 red values of the
//! 32x32 image row by row, then green, then blue: already the `[3, 32, 32]` layout. CIFAR-10
//! records have one label byte; CIFAR-100 records have two, the coarse (20 super-classes)
//! then the fine (100 classes).

use crate::dataset::check_labels;
use crate::{Error, InMemoryDataset, Result, Targets};
use std::path::{Path, PathBuf};

/// Pixel bytes per record (3 x 32 x 32).
pub const IMAGE_BYTES: usize = 3 * 32 * 32;

/// The shape of one sample, `[3, 32, 32]`.
pub const INPUT_SHAPE: [usize; 3] = [3, 32, 32];

/// CIFAR-10's class names, in label order.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Which format a batch file is in, and for CIFAR-100 which label to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CifarKind {
    /// CIFAR-10: one label byte, 10 classes.
    Cifar10,
    /// CIFAR-100 with the fine labels (100 classes).
    Cifar100Fine,
    /// CIFAR-100 with the coarse labels (20 super-classes).
    Cifar100Coarse,
}

impl CifarKind {
    /// Bytes per record: label bytes plus 3072 pixels.
    pub fn record_bytes(self) -> usize {
        self.label_bytes() + IMAGE_BYTES
    }

    fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            CifarKind::Cifar100Fine | CifarKind::Cifar100Coarse => 2,
        }
    }

    /// The offset of the label used within the record.
    fn label_offset(self) -> usize {
        match self {
            CifarKind::Cifar10 | CifarKind::Cifar100Coarse => 0,
            CifarKind::Cifar100Fine => 1,
        }
    }

    /// The number of classes of the label used.
    pub fn num_classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100Fine => 100,
            CifarKind::Cifar100Coarse => 20,
        }
    }
}

/// Reads and concatenates batch files into one dataset of `[3, 32, 32]` images in `[0, 1]`.
///
/// # Errors
/// [`Error::Io`] for a missing file; [`Error::Format`] when a file is empty or not a whole
/// number of records (saying both sizes); [`Error::LabelOutOfRange`] naming the file and
/// record of a bad label.
pub fn read_batches(paths: &[PathBuf], kind: CifarKind) -> Result<InMemoryDataset> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        append_records(
            &bytes,
            kind,
            &path.display().to_string(),
            &mut pixels,
            &mut labels,
        )?;
    }
    dataset(pixels, labels, kind)
}

/// Parses the bytes of one batch file; `src` names the source in errors.
///
/// # Errors
/// As [`read_batches`], I/O errors aside.
pub fn parse_batch(bytes: &[u8], kind: CifarKind, src: &str) -> Result<InMemoryDataset> {
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    append_records(bytes, kind, src, &mut pixels, &mut labels)?;
    dataset(pixels, labels, kind)
}

/// Checks one batch's size and labels and appends its pixels and labels.
fn append_records(
    bytes: &[u8],
    kind: CifarKind,
    src: &str,
    pixels: &mut Vec<u8>,
    labels: &mut Vec<i64>,
) -> Result<()> {
    let record = kind.record_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(Error::format(
            src,
            format!(
                "{} bytes is not a whole, non-zero number of {record}-byte records ({} records and {} bytes left over)",
                bytes.len(),
                bytes.len() / record,
                bytes.len() % record
            ),
        ));
    }
    let first_label = labels.len();
    pixels.reserve(bytes.len() / record * IMAGE_BYTES);
    for rec in bytes.chunks_exact(record) {
        labels.push(i64::from(rec[kind.label_offset()]));
        pixels.extend_from_slice(&rec[kind.label_bytes()..]);
    }
    check_labels(&labels[first_label..], kind.num_classes(), src)
}

/// The dataset of `[3, 32, 32]` images with `kind`'s class labels.
fn dataset(pixels: Vec<u8>, labels: Vec<i64>, kind: CifarKind) -> Result<InMemoryDataset> {
    let targets = Targets::Classes {
        labels,
        num_classes: kind.num_classes(),
    };
    InMemoryDataset::from_u8(pixels, &INPUT_SHAPE, targets)
}

/// Reads one batch file (see [`read_batches`]).
///
/// # Errors
/// As [`read_batches`].
pub fn read_batch(path: impl AsRef<Path>, kind: CifarKind) -> Result<InMemoryDataset> {
    read_batches(&[path.as_ref().to_path_buf()], kind)
}

/// Class names from a `*_label_names.txt` file, one per line, if the file exists.
fn names_file(path: &Path, expected: usize) -> Result<Option<Vec<String>>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != expected {
        return Err(Error::format(
            &path.display().to_string(),
            format!("{} class names, {expected} expected", names.len()),
        ));
    }
    Ok(Some(names))
}

/// Reads a CIFAR folder as `(train, test)`: CIFAR-10 when it holds `data_batch_1.bin` ..
/// `data_batch_5.bin` and `test_batch.bin`, CIFAR-100 (fine labels) when it holds `train.bin`
/// and `test.bin`. The folders the official archives unpack to (`cifar-10-batches-bin/`,
/// `cifar-100-binary/`) are looked into too. Class names come from the CIFAR-10 list, or from
/// `fine_label_names.txt` when a CIFAR-100 folder has it.
///
/// # Errors
/// [`Error::Io`] when the folder or a batch file is missing; those of [`read_batches`].
pub fn load_dir(dir: impl AsRef<Path>) -> Result<(InMemoryDataset, InMemoryDataset)> {
    let dir = dir.as_ref();
    let candidates = [
        dir.to_path_buf(),
        dir.join("cifar-10-batches-bin"),
        dir.join("cifar-100-binary"),
    ];
    for d in &candidates {
        if d.join("data_batch_1.bin").is_file() {
            let train: Vec<PathBuf> = (1..=5)
                .map(|i| d.join(format!("data_batch_{i}.bin")))
                .collect();
            let names: Vec<String> = CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect();
            let train =
                read_batches(&train, CifarKind::Cifar10)?.with_class_names(names.clone())?;
            let test = read_batch(d.join("test_batch.bin"), CifarKind::Cifar10)?
                .with_class_names(names)?;
            return Ok((train, test));
        }
        if d.join("train.bin").is_file() {
            let kind = CifarKind::Cifar100Fine;
            let mut train = read_batch(d.join("train.bin"), kind)?;
            let mut test = read_batch(d.join("test.bin"), kind)?;
            if let Some(names) = names_file(&d.join("fine_label_names.txt"), 100)? {
                train = train.with_class_names(names.clone())?;
                test = test.with_class_names(names)?;
            }
            return Ok((train, test));
        }
    }
    Err(Error::Io {
        path: dir.display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no CIFAR batches: expected data_batch_1.bin (CIFAR-10) or train.bin (CIFAR-100)",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dataset, Target};

    /// `n` records whose pixels encode (record, channel) and whose labels are given.
    fn records(labels: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            out.extend_from_slice(label);
            for ch in 0..3u8 {
                out.extend_from_slice(&[i as u8 * 10 + ch; 1024]);
            }
        }
        out
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nabla-cifar-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn cifar10_records_become_chw_images() -> Result<()> {
        let dir = temp_dir("ten");
        for i in 1..=5u8 {
            std::fs::write(
                dir.join(format!("data_batch_{i}.bin")),
                records(&[&[i], &[9]]),
            )
            .unwrap();
        }
        std::fs::write(dir.join("test_batch.bin"), records(&[&[0]])).unwrap();
        let (train, test) = load_dir(&dir)?;
        assert_eq!((train.len(), test.len()), (10, 1));
        let s = train.get(1)?;
        assert_eq!(s.shape, vec![3, 32, 32]);
        assert_eq!(s.target, Target::Class(9));
        // record 1: channel planes hold 10, 11, 12 (/ 255)
        assert_eq!(s.input[0], 10.0 / 255.0);
        assert_eq!(s.input[1024], 11.0 / 255.0);
        assert_eq!(s.input[3071], 12.0 / 255.0);
        assert_eq!(train.get(2)?.target, Target::Class(2));
        assert_eq!(train.class_names().map(|n| n[3].as_str()), Some("cat"));
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }

    #[test]
    fn cifar100_uses_fine_or_coarse_labels() -> Result<()> {
        let dir = temp_dir("hundred");
        std::fs::write(dir.join("train.bin"), records(&[&[3, 77], &[19, 99]])).unwrap();
        std::fs::write(dir.join("test.bin"), records(&[&[0, 5]])).unwrap();
        let (train, test) = load_dir(&dir)?;
        assert_eq!(train.num_classes(), Some(100));
        assert_eq!(train.get(0)?.target, Target::Class(77));
        assert_eq!(test.get(0)?.target, Target::Class(5));
        assert_eq!(train.get(1)?.input[0], 10.0 / 255.0);
        let coarse = read_batch(dir.join("train.bin"), CifarKind::Cifar100Coarse)?;
        assert_eq!(coarse.get(1)?.target, Target::Class(19));
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }

    #[test]
    fn cifar_errors_name_the_file_and_the_sizes() {
        let dir = temp_dir("errors");
        let path = dir.join("short.bin");
        let mut bytes = records(&[&[1], &[2]]);
        bytes.pop();
        std::fs::write(&path, &bytes).unwrap();
        let err = read_batch(&path, CifarKind::Cifar10)
            .unwrap_err()
            .to_string();
        assert!(err.contains("short.bin: 6145 bytes"), "{err}");
        assert!(err.contains("1 records and 3072 bytes left over"), "{err}");

        let path = dir.join("label.bin");
        std::fs::write(&path, records(&[&[1], &[10]])).unwrap();
        let err = read_batch(&path, CifarKind::Cifar10).unwrap_err();
        assert!(matches!(
            err,
            Error::LabelOutOfRange {
                index: 1,
                value: 10,
                num_classes: 10,
                ..
            }
        ));

        let err = load_dir(dir.join("missing")).unwrap_err().to_string();
        assert!(err.contains("no CIFAR batches"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn parse_batch_reads_records_from_bytes() -> Result<()> {
        let ds = parse_batch(
            &records(&[&[3, 77], &[19, 99]]),
            CifarKind::Cifar100Fine,
            "mem",
        )?;
        assert_eq!((ds.len(), ds.get(1)?.target), (2, Target::Class(99)));
        let err = parse_batch(&[], CifarKind::Cifar10, "mem").unwrap_err();
        assert!(err.to_string().starts_with("mem: 0 bytes"), "{err}");
        Ok(())
    }
}
