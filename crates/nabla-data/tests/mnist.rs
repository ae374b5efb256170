//! The bundled MNIST against its published checks, and MNIST-format folders with every error
//! a user can trip.

use nabla_data::readers::idx;
use nabla_data::{mnist, Dataset, Error, Result, Target};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nabla-mnist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn labels(ds: &impl Dataset, n: usize) -> Result<Vec<i64>> {
    (0..n)
        .map(|i| match ds.get(i)?.target {
            Target::Class(c) => Ok(c),
            other => panic!("expected a class, got {other:?}"),
        })
        .collect()
}

#[test]
fn bundled_train_matches_the_published_checks() -> Result<()> {
    let train = mnist::bundled_train()?;
    assert_eq!(train.len(), 60_000);
    assert_eq!(train.input_shape(), &[1, 28, 28]);
    assert_eq!(train.num_classes(), Some(10));
    assert_eq!(labels(&train, 10)?, vec![5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    let mut counts = [0usize; 10];
    for &l in train.labels().unwrap() {
        counts[l as usize] += 1;
    }
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    let first = train.get(0)?;
    assert!(first.input.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(first.input.contains(&1.0));
    assert_eq!(train.class_names().map(|n| n[7].as_str()), Some("7"));
    Ok(())
}

#[test]
fn bundled_test_matches_the_published_checks() -> Result<()> {
    let test = mnist::bundled_test()?;
    assert_eq!(test.len(), 10_000);
    assert_eq!(labels(&test, 10)?, vec![7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    Ok(())
}

#[test]
fn idx_reader_reads_the_real_files_raw_and_gzipped() -> Result<()> {
    let gz = repo_file("data/mnist/t10k-labels-idx1-ubyte.gz");
    let dir = temp_dir("raw");
    let raw = dir.join("t10k-labels-idx1-ubyte");
    std::fs::write(&raw, gunzip(&gz)).unwrap();
    let a = idx::read(&gz)?;
    assert_eq!((a.magic(), a.dims.clone()), (0x0000_0801, vec![10_000]));
    assert_eq!(a, idx::read(&raw)?);
    let images = idx::read(repo_file("data/mnist/t10k-images-idx3-ubyte.gz"))?;
    assert_eq!(
        (images.magic(), images.dims),
        (0x0000_0803, vec![10_000, 28, 28])
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// A small MNIST-format folder: `n_train` and `n_test` 2x2 images, some files gzipped.
fn small_idx_dir(name: &str, train_labels: &[u8], test_labels: &[u8]) -> PathBuf {
    let dir = temp_dir(name);
    let idx = |code: u8, dims: &[u32], data: &[u8]| {
        let mut out = vec![0, 0, code, dims.len() as u8];
        dims.iter()
            .for_each(|d| out.extend_from_slice(&d.to_be_bytes()));
        out.extend_from_slice(data);
        out
    };
    let images = |n: usize| idx(0x08, &[n as u32, 2, 2], &vec![128; 4 * n]);
    let write_gz = |path: PathBuf, bytes: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        std::fs::write(path, enc.finish().unwrap()).unwrap();
    };
    write_gz(
        dir.join("train-images-idx3-ubyte.gz"),
        &images(train_labels.len()),
    );
    let train_label_bytes = idx(0x08, &[train_labels.len() as u32], train_labels);
    std::fs::write(dir.join("train-labels-idx1-ubyte"), train_label_bytes).unwrap();
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte"),
        images(test_labels.len()),
    )
    .unwrap();
    let test_label_bytes = idx(0x08, &[test_labels.len() as u32], test_labels);
    write_gz(dir.join("t10k-labels-idx1-ubyte.gz"), &test_label_bytes);
    dir
}

#[test]
fn load_dir_reads_raw_and_gz_files_with_one_class_count() -> Result<()> {
    let dir = small_idx_dir("ok", &[0, 1, 2], &[4]);
    let (train, test) = mnist::load_dir(&dir)?;
    assert_eq!((train.len(), test.len()), (3, 1));
    assert_eq!(
        (train.num_classes(), test.num_classes()),
        (Some(5), Some(5))
    );
    let s = train.get(2)?;
    assert_eq!((s.shape, s.target), (vec![1, 2, 2], Target::Class(2)));
    assert_eq!(s.input, vec![128.0 / 255.0; 4]);
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

#[test]
fn load_dir_errors_name_the_missing_folder_or_file() {
    let err = mnist::load_dir("/nonexistent/mnist").unwrap_err();
    assert_eq!(err.to_string(), "/nonexistent/mnist: no such folder");
    let dir = small_idx_dir("missing", &[0], &[0]);
    std::fs::remove_file(dir.join("t10k-images-idx3-ubyte")).unwrap();
    let err = mnist::load_dir(&dir).unwrap_err().to_string();
    assert!(
        err.ends_with("neither t10k-images-idx3-ubyte nor t10k-images-idx3-ubyte.gz is there"),
        "{err}"
    );
    let err = idx::read(dir.join("nope")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("nope: No such file"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn truncated_mnist_says_how_many_bytes_were_declared_and_found() {
    let dir = temp_dir("truncated");
    let mut bytes = gunzip(&repo_file("data/mnist/t10k-images-idx3-ubyte.gz"));
    bytes.truncate(bytes.len() - 128);
    let path = dir.join("t10k-images-idx3-ubyte");
    std::fs::write(&path, &bytes).unwrap();
    let err = idx::read(&path).unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: 10000 records of 28x28 declared (7840000 bytes), 7839872 found",
            path.display()
        )
    );
    let labels = repo_file("data/mnist/t10k-labels-idx1-ubyte.gz");
    let err = idx::load_images_labels(&path, &labels, Some(10)).unwrap_err();
    assert!(err
        .to_string()
        .contains(": 10000 images of 28x28 declared (7840000 bytes), 7839872 found"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_cut_gzip_file_is_an_error_naming_the_file() {
    let dir = temp_dir("cutgz");
    let mut bytes = std::fs::read(repo_file("data/mnist/t10k-labels-idx1-ubyte.gz")).unwrap();
    bytes.truncate(bytes.len() / 2);
    let path = dir.join("t10k-labels-idx1-ubyte.gz");
    std::fs::write(&path, &bytes).unwrap();
    let err = idx::read(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: gzip data is corrupt or cut short (incomplete deflate stream)",
            path.display()
        )
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn wrong_magic_and_swapped_files_are_reported() {
    let dir = temp_dir("magic");
    let png = dir.join("t10k-images-idx3-ubyte");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n....").unwrap();
    let err = idx::read(&png).unwrap_err();
    assert!(matches!(err, Error::BadMagic { .. }), "{err}");
    assert!(err.to_string().contains("wrong magic number"), "{err}");

    // Labels passed as images and the other way round.
    let images = repo_file("data/mnist/t10k-images-idx3-ubyte.gz");
    let labels = repo_file("data/mnist/t10k-labels-idx1-ubyte.gz");
    let err = idx::load_images_labels(&labels, &images, Some(10)).unwrap_err();
    assert!(matches!(err, Error::BadMagic { .. }), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn labels_outside_the_class_range_name_the_record() {
    let images = repo_file("data/mnist/t10k-images-idx3-ubyte.gz");
    let labels = repo_file("data/mnist/t10k-labels-idx1-ubyte.gz");
    // MNIST's first test label is 7: with 5 classes it is out of range.
    let err = idx::load_images_labels(&images, &labels, Some(5)).unwrap_err();
    assert!(matches!(
        err,
        Error::LabelOutOfRange {
            index: 0,
            value: 7,
            num_classes: 5,
            ..
        }
    ));
    assert!(err.to_string().ends_with(
        "t10k-labels-idx1-ubyte.gz: label 7 of record 0 is outside the class range 0..5"
    ));
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = small_idx_dir("counts", &[0, 1, 2], &[0]);
    let err = idx::load_images_labels(
        dir.join("train-images-idx3-ubyte.gz"),
        dir.join("t10k-labels-idx1-ubyte.gz"),
        None,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::CountMismatch {
                left_count: 3,
                right_count: 1,
                ..
            }
        ),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
