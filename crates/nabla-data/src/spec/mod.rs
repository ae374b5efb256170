//! Dataset specs: one string that names a dataset, as the `nabla` command, the playground and
//! library users write it (`mnist`, `mnist:0-4`, `idx:DIR`, `cifar:DIR`, `folder:DIR`,
//! `csv:FILE`, `npy:FEATURES.npy,LABELS.npy`, `toy:NAME`, `text:FILE`, any of them with
//! `@CLASSES`), parsed into a [`DataSpec`] and loaded into a [`DataBundle`]: the training and
//! test parts with what a model needs to know about them.
//!
//! ```
//! use nabla_data::spec::{DataSpec, SpecOptions};
//! let spec: DataSpec = "mnist:5-9".parse()?;
//! assert_eq!(spec.classes.as_deref(), Some(&[5, 6, 7, 8, 9][..]));
//! let data = spec.load(&SpecOptions::default())?;
//! assert_eq!((data.num_classes, data.input_shape.as_slice()), (Some(5), &[1, 28, 28][..]));
//! # Ok::<(), nabla_data::Error>(())
//! ```

mod classes;
mod stats;
mod text;

pub use classes::parse_classes;

use crate::readers::{cifar, csv, folder, npy};
use crate::{mnist, random_split, toy, ClassSubset, Dataset, Error, Result, Task};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The dataset kinds, for error messages and `--help`.
pub const KINDS: &str =
    "mnist, idx:DIR, cifar:DIR, folder:DIR, csv:FILE, npy:FEATURES.npy,LABELS.npy, toy:NAME, text:FILE; select classes with mnist:0-4 or SPEC@0-4";

/// Where a dataset's examples come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The MNIST digits bundled with nabla.
    Mnist,
    /// An IDX folder (MNIST's file layout, raw or gzip).
    Idx(PathBuf),
    /// A folder of CIFAR-10/100 binary batches.
    Cifar(PathBuf),
    /// An image folder: `DIR/train/<class>/` with `DIR/val/` or `DIR/test/`, or `DIR/<class>/`.
    Folder(PathBuf),
    /// A CSV file of features and a label column.
    Csv(PathBuf),
    /// A `.npy` file of features and one of labels.
    Npy {
        /// The `[n, ...]` features.
        features: PathBuf,
        /// The `[n]` labels.
        labels: PathBuf,
    },
    /// One of the playground's generated 2-D sets, by name (`spiral`, `xor`, …).
    Toy(String),
    /// A UTF-8 text for character models.
    Text(PathBuf),
}

/// A parsed dataset spec: a source and, optionally, the classes to keep (relabelled `0..k` in
/// the order given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSpec {
    /// Where the examples come from.
    pub source: Source,
    /// The classes to keep, if not all.
    pub classes: Option<Vec<usize>>,
}

impl std::str::FromStr for DataSpec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        let (base, mut classes) = classes::split_classes(spec)?;
        let (kind, arg) = base.split_once(':').unwrap_or((base, ""));
        let bad = |msg: String| Error::Spec {
            spec: spec.to_string(),
            msg,
        };
        let need = |what: &str| -> Result<&str> {
            if arg.is_empty() {
                let example = if kind == "toy" {
                    "spiral"
                } else {
                    "path/to/data"
                };
                return Err(bad(format!(
                    "dataset '{kind}:' needs {what}, e.g. {kind}:{example}"
                )));
            }
            Ok(arg)
        };
        let source = match kind {
            "mnist" => {
                if !arg.is_empty() {
                    if classes.is_some() {
                        return Err(bad("give the MNIST digits once: mnist:0-4".into()));
                    }
                    classes = Some(parse_classes(arg)?);
                }
                Source::Mnist
            }
            "idx" => Source::Idx(need("a folder")?.into()),
            "cifar" => Source::Cifar(need("a folder")?.into()),
            "folder" => Source::Folder(need("a folder")?.into()),
            "csv" => Source::Csv(need("a file")?.into()),
            "npy" => {
                let (x, y) = need("two files")?.split_once(',').ok_or_else(|| {
                    bad("npy: give features and labels as npy:FEATURES.npy,LABELS.npy".into())
                })?;
                Source::Npy {
                    features: x.into(),
                    labels: y.into(),
                }
            }
            "toy" => Source::Toy(need("a name")?.into()),
            "text" => Source::Text(need("a file")?.into()),
            _ => {
                return Err(bad(format!(
                    "unknown dataset '{base}'; use one of: {KINDS}"
                )))
            }
        };
        Ok(DataSpec { source, classes })
    }
}

/// Options that some specs use.
#[derive(Clone, Debug)]
pub struct SpecOptions {
    /// CSV label column (0-based); the last column when `None`.
    pub label_col: Option<usize>,
    /// Held-out fraction for sets without a test part, in `(0, 1)`.
    pub test_split: f64,
    /// Seed of the held-out split and of the toy generators.
    pub seed: u64,
    /// Image side for image folders, in pixels.
    pub image_size: usize,
    /// Image folders: decode as one grey channel instead of RGB.
    pub grayscale: bool,
    /// Text: read it as windows of this many characters for a sequence model (each
    /// position's target is the next character) instead of as a next-character n-gram set.
    pub seq_len: Option<usize>,
}

impl Default for SpecOptions {
    fn default() -> Self {
        SpecOptions {
            label_col: None,
            test_split: 0.2,
            seed: 0,
            image_size: 224,
            grayscale: false,
            seq_len: None,
        }
    }
}

/// A loaded dataset: its training and test parts and their shape.
pub struct DataBundle {
    /// Training examples.
    pub train: Arc<dyn Dataset>,
    /// Test (held-out) examples.
    pub test: Arc<dyn Dataset>,
    /// Shape of one input.
    pub input_shape: Vec<usize>,
    /// Number of classes; `None` for regression.
    pub num_classes: Option<usize>,
    /// Model outputs: the classes, or the regression targets' width.
    pub outputs: usize,
    /// Per-channel mean and standard deviation of the training images, to normalize with
    /// (empty for feature vectors).
    pub normalize: (Vec<f32>, Vec<f32>),
    /// Class names, when the data has them.
    pub class_names: Option<Vec<String>>,
}

impl DataBundle {
    /// The bundle of a training and a test part; `stats` are the normalization statistics,
    /// measured on the training part when `None`.
    fn new(
        train: Arc<dyn Dataset>,
        test: Arc<dyn Dataset>,
        stats: Option<(Vec<f32>, Vec<f32>)>,
    ) -> Result<DataBundle> {
        let (num_classes, outputs) = match train.task() {
            Task::Classification { num_classes } => (Some(num_classes), num_classes),
            Task::Regression { outputs } => (None, outputs),
            Task::SequenceClassification { num_classes, .. } => (Some(num_classes), num_classes),
        };
        let normalize = match stats {
            Some(s) => s,
            None => stats::channel_stats(train.as_ref())?,
        };
        Ok(DataBundle {
            input_shape: train.input_shape().to_vec(),
            class_names: train.class_names().map(|c| c.to_vec()),
            train,
            test,
            num_classes,
            outputs,
            normalize,
        })
    }

    /// Keeps the given classes of both parts, relabelled `0..k`.
    fn select_classes(self, classes: &[usize]) -> Result<DataBundle> {
        if self.num_classes.is_none() {
            return Err(Error::invalid(
                "classes",
                "selecting classes needs a classification dataset",
            ));
        }
        let train = Arc::new(ClassSubset::new(self.train, classes)?);
        let test = Arc::new(ClassSubset::new(self.test, classes)?);
        Ok(DataBundle {
            num_classes: Some(classes.len()),
            outputs: classes.len(),
            class_names: train.class_names().map(|c| c.to_vec()),
            train,
            test,
            ..self
        })
    }
}

/// Splits a dataset without a test part by `opts.test_split`.
fn split(ds: Arc<dyn Dataset>, opts: &SpecOptions) -> Result<(Arc<dyn Dataset>, Arc<dyn Dataset>)> {
    check_test_split(opts.test_split)?;
    let (train, test) = random_split(ds, opts.test_split, opts.seed)?;
    Ok((Arc::new(train), Arc::new(test)))
}

/// The held-out fraction must leave examples on both sides.
fn check_test_split(fraction: f64) -> Result<()> {
    if fraction > 0.0 && fraction < 1.0 {
        return Ok(());
    }
    Err(Error::out_of_range(
        "test split",
        "the held-out fraction (--test-split)",
        "between 0 and 1 (exclusive)",
        fraction,
    ))
}

impl DataSpec {
    /// Reads the dataset this spec names.
    ///
    /// # Errors
    /// Every reader error (a missing file, a malformed one), a selection of classes the data
    /// does not have, and a `test_split` outside `(0, 1)` where one is used.
    pub fn load(&self, opts: &SpecOptions) -> Result<DataBundle> {
        let mnist_stats = || Some((vec![MNIST_STATS.0], vec![MNIST_STATS.1]));
        let b = match &self.source {
            Source::Mnist => DataBundle::new(
                Arc::new(mnist::bundled_train()?),
                Arc::new(mnist::bundled_test()?),
                mnist_stats(),
            )?,
            Source::Idx(dir) => {
                let (train, test) = mnist::load_dir(dir)?;
                DataBundle::new(Arc::new(train), Arc::new(test), None)?
            }
            Source::Cifar(dir) => {
                let (train, test) = cifar::load_dir(dir)?;
                DataBundle::new(Arc::new(train), Arc::new(test), None)?
            }
            Source::Folder(dir) => {
                let (train, test) = image_folder(dir, opts)?;
                DataBundle::new(train, test, None)?
            }
            Source::Csv(file) => {
                let options = csv::CsvOptions {
                    label_column: opts.label_col,
                    ..Default::default()
                };
                let (train, test) = split(Arc::new(csv::read(file, &options)?), opts)?;
                DataBundle::new(train, test, None)?
            }
            Source::Npy { features, labels } => {
                let (train, test) = split(Arc::new(npy::load(features, labels, None)?), opts)?;
                DataBundle::new(train, test, None)?
            }
            Source::Toy(name) => {
                let t = toy::Toy::from_name(name)?;
                let all = toy::generate(t, 1000, 0.0, opts.seed)?;
                let (train, test) = split(Arc::new(all), opts)?;
                DataBundle::new(train, test, None)?
            }
            Source::Text(file) => text::load(file, opts)?,
        };
        match &self.classes {
            Some(c) => b.select_classes(c),
            None => Ok(b),
        }
    }
}

/// Parses `spec` and reads the dataset it names: `load("mnist:0-4", &opts)`.
///
/// # Errors
/// A spec that names no dataset (listing the kinds) and everything [`DataSpec::load`] refuses.
pub fn load(spec: &str, opts: &SpecOptions) -> Result<DataBundle> {
    spec.parse::<DataSpec>()?.load(opts)
}

/// MNIST's training-set pixel mean and standard deviation (the values the PyTorch examples use).
const MNIST_STATS: (f32, f32) = (0.1307, 0.3081);

/// `folder:DIR`: `DIR/train/<class>/` with `DIR/val/<class>/` or `DIR/test/<class>/` (the
/// ImageNet layout), or `DIR/<class>/` alone, split by `opts.test_split`.
fn image_folder(dir: &Path, opts: &SpecOptions) -> Result<(Arc<dyn Dataset>, Arc<dyn Dataset>)> {
    let options = folder::ImageOptions::new(opts.image_size, opts.image_size)
        .center_crop(true)
        .grayscale(opts.grayscale);
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        ));
    }
    if dir.join("train").is_dir() {
        let (train, test) = folder::load_train_val(dir, options)?;
        return Ok((Arc::new(train), Arc::new(test)));
    }
    let all = folder::FolderDataset::new(dir, options).map_err(|e| Error::Spec {
        spec: format!("folder:{}", dir.display()),
        msg: format!(
            "{e} ({} has no train/ folder, so it is read as one subfolder of images per class, \
             split by --test-split)",
            dir.display()
        ),
    })?;
    split(Arc::new(all), opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Target;

    #[test]
    fn specs_parse_into_sources_and_classes() -> Result<()> {
        let s: DataSpec = "idx:data/mnist@5-9".parse()?;
        assert_eq!(s.source, Source::Idx("data/mnist".into()));
        assert_eq!(s.classes, Some(vec![5, 6, 7, 8, 9]));
        let s: DataSpec = "npy:x.npy,y.npy".parse()?;
        let npy = Source::Npy {
            features: "x.npy".into(),
            labels: "y.npy".into(),
        };
        assert_eq!((s.source, s.classes), (npy, None));
        assert_eq!(
            "folder:a@b".parse::<DataSpec>()?.source,
            Source::Folder("a@b".into())
        );
        for bad in ["nosuch", "idx:", "npy:x.npy", "mnist:0-4@5", "mnist:4-0"] {
            let err = bad.parse::<DataSpec>().unwrap_err();
            assert!(matches!(err, Error::Spec { .. }), "{bad}: {err:?}");
        }
        let err = "nosuch".parse::<DataSpec>().unwrap_err().to_string();
        assert!(
            err.starts_with("unknown dataset 'nosuch'; use one of: mnist"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn mnist_digits_subset_is_relabelled() -> Result<()> {
        let b = load("mnist:5-9", &SpecOptions::default())?;
        assert_eq!((b.num_classes, b.outputs), (Some(5), 5));
        let names = b.class_names.as_deref().map(|c| c.join(""));
        assert_eq!(names.as_deref(), Some("56789"));
        for i in 0..20 {
            let Target::Class(label) = b.train.get(i)?.target else {
                panic!("classes")
            };
            assert!((0..5).contains(&label));
        }
        assert!((3000..6000).contains(&b.test.len()), "{}", b.test.len());
        assert!(load("mnist:3-12", &SpecOptions::default()).is_err());
        Ok(())
    }

    #[test]
    fn a_split_needs_examples_on_both_sides() {
        for bad in [0.0, 1.0, 1.5, f64::NAN] {
            let opts = SpecOptions {
                test_split: bad,
                ..Default::default()
            };
            let err = load("toy:spiral", &opts).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("between 0 and 1")),
                "{bad}: {err:?}"
            );
        }
        let b = load("toy:spiral", &SpecOptions::default()).unwrap();
        assert_eq!((b.train.len(), b.test.len()), (800, 200));
    }
}
