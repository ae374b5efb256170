//! MNIST: the copy bundled in the library, and MNIST-format folders (`idx:DIR`).
//!
//! The four gzip'd IDX files of `data/mnist/` (provenance in `data/README.md`) are embedded
//! with `include_bytes!`, so a program built with nabla-data finds them from any working
//! directory, without a download.

use crate::readers::idx::{dataset_from_arrays, parse_as, read_as};
use crate::{Error, InMemoryDataset, Result};
use std::path::{Path, PathBuf};

/// The number of MNIST classes (the digits 0–9).
pub const NUM_CLASSES: usize = 10;

/// The shape of one MNIST sample, `[1, 28, 28]`.
pub const INPUT_SHAPE: [usize; 3] = [1, 28, 28];

const TRAIN_IMAGES: &[u8] = include_bytes!("../../../data/mnist/train-images-idx3-ubyte.gz");
const TRAIN_LABELS: &[u8] = include_bytes!("../../../data/mnist/train-labels-idx1-ubyte.gz");
const TEST_IMAGES: &[u8] = include_bytes!("../../../data/mnist/t10k-images-idx3-ubyte.gz");
const TEST_LABELS: &[u8] = include_bytes!("../../../data/mnist/t10k-labels-idx1-ubyte.gz");

fn class_names() -> Vec<String> {
    (0..NUM_CLASSES).map(|d| d.to_string()).collect()
}

fn bundled(
    images: &[u8],
    images_name: &str,
    labels: &[u8],
    labels_name: &str,
) -> Result<InMemoryDataset> {
    let images_src = format!("bundled MNIST {images_name}");
    let labels_src = format!("bundled MNIST {labels_name}");
    let image_array = parse_as(images, &images_src, "images")?;
    let label_array = parse_as(labels, &labels_src, "labels")?;
    dataset_from_arrays(
        image_array,
        &images_src,
        label_array,
        &labels_src,
        Some(NUM_CLASSES),
    )?
    .with_class_names(class_names())
}

/// The 60,000 bundled training images, `[1, 28, 28]` in `[0, 1]`, labels 0–9.
///
/// Decompressing takes a few tenths of a second; keep the dataset rather than calling this
/// per epoch.
///
/// # Errors
/// None in practice: the embedded files are checked by the crate's tests. The reader's
/// errors would come back if they were corrupt.
///
/// # Examples
/// ```
/// use nabla_data::{mnist, Dataset};
/// let test = mnist::bundled_test()?;
/// assert_eq!((test.len(), test.input_shape()), (10_000, &[1, 28, 28][..]));
/// # Ok::<(), nabla_data::Error>(())
/// ```
pub fn bundled_train() -> Result<InMemoryDataset> {
    bundled(
        TRAIN_IMAGES,
        "train-images-idx3-ubyte.gz",
        TRAIN_LABELS,
        "train-labels-idx1-ubyte.gz",
    )
}

/// The 10,000 bundled test images, `[1, 28, 28]` in `[0, 1]`, labels 0–9.
///
/// # Errors
/// As [`bundled_train`].
pub fn bundled_test() -> Result<InMemoryDataset> {
    bundled(
        TEST_IMAGES,
        "t10k-images-idx3-ubyte.gz",
        TEST_LABELS,
        "t10k-labels-idx1-ubyte.gz",
    )
}

/// `dir/name`, or `dir/name.gz` when only the compressed file exists.
fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(Error::Io {
        path: dir.display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("neither {name} nor {name}.gz is there"),
        ),
    })
}

/// Reads an MNIST-format folder (MNIST, Fashion-MNIST, KMNIST, ...): `(train, test)` from
/// `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
/// `t10k-labels-idx1-ubyte`, each raw or `.gz`.
///
/// Both parts get the same number of classes: the largest label of either, plus one.
///
/// # Errors
/// [`Error::Io`] for a missing folder or file (naming the file looked for), and every error
/// of [`idx::load_images_labels`](crate::readers::idx::load_images_labels).
pub fn load_dir(dir: impl AsRef<Path>) -> Result<(InMemoryDataset, InMemoryDataset)> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(Error::Io {
            path: dir.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        });
    }
    let paths = [
        find(dir, "train-images-idx3-ubyte")?,
        find(dir, "train-labels-idx1-ubyte")?,
        find(dir, "t10k-images-idx3-ubyte")?,
        find(dir, "t10k-labels-idx1-ubyte")?,
    ];
    let train_images = read_as(&paths[0], "images")?;
    let train_labels = read_as(&paths[1], "labels")?;
    let test_images = read_as(&paths[2], "images")?;
    let test_labels = read_as(&paths[3], "labels")?;
    // One class count for both parts, so a model sized on train fits test.
    let max_label = [&train_labels, &test_labels]
        .iter()
        .filter_map(|a| a.to_i64())
        .flat_map(|v| v.into_iter().max())
        .max()
        .unwrap_or(-1);
    let num_classes = (max_label.max(-1) + 1) as usize;
    let src = |i: usize| paths[i].display().to_string();
    let train = dataset_from_arrays(
        train_images,
        &src(0),
        train_labels,
        &src(1),
        Some(num_classes),
    )?;
    let test = dataset_from_arrays(
        test_images,
        &src(2),
        test_labels,
        &src(3),
        Some(num_classes),
    )?;
    Ok((train, test))
}
