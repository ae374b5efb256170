//! The `Dataset` trait, samples and targets, and the in-memory dataset.

use crate::{Error, Result};
use std::sync::Arc;

/// What a dataset's targets are, and so how the loader batches them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Task {
    /// One class label in `0..num_classes` per sample ([`Target::Class`]); a batch's targets
    /// are `[B]` i64.
    Classification {
        /// The number of classes.
        num_classes: usize,
    },
    /// One class label per position of a sequence of length `len` ([`Target::Classes`]); a
    /// batch's targets are `[B, len]` i64 (next-character prediction).
    SequenceClassification {
        /// The number of classes (the vocabulary size).
        num_classes: usize,
        /// The sequence length.
        len: usize,
    },
    /// `outputs` real values per sample ([`Target::Values`]); a batch's targets are
    /// `[B, outputs]` f32.
    Regression {
        /// The number of values per sample.
        outputs: usize,
    },
}

impl Task {
    /// The number of classes, for the classification tasks.
    pub fn num_classes(&self) -> Option<usize> {
        match *self {
            Task::Classification { num_classes }
            | Task::SequenceClassification { num_classes, .. } => Some(num_classes),
            Task::Regression { .. } => None,
        }
    }
}

/// The target of one sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A class index.
    Class(i64),
    /// A class index per position of a sequence.
    Classes(Vec<i64>),
    /// Real values (regression).
    Values(Vec<f32>),
}

/// One example: an input array in row-major order with its shape, and its target.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The input values, `shape.iter().product()` of them, row-major.
    pub input: Vec<f32>,
    /// The input's shape: `[c, h, w]` for images (`[1, 28, 28]` for MNIST), `[d]` for
    /// feature vectors, `[len]` for character sequences.
    pub shape: Vec<usize>,
    /// What the model should predict for this input.
    pub target: Target,
}

/// A finite, indexable collection of samples.
///
/// Implementations must be `Send + Sync`: the [`DataLoader`](crate::DataLoader) reads them
/// from a background thread.
pub trait Dataset: Send + Sync {
    /// The number of samples.
    fn len(&self) -> usize;

    /// Whether the dataset holds no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sample at `index`.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for `index >= len()`; lazy datasets (image folders) also
    /// return the errors of reading the sample's file.
    fn get(&self, index: usize) -> Result<Sample>;

    /// The shape of every sample's input (`[1, 28, 28]` for MNIST).
    fn input_shape(&self) -> &[usize];

    /// What the targets are: classes (and how many) or real values.
    fn task(&self) -> Task;

    /// The number of classes, for classification datasets.
    fn num_classes(&self) -> Option<usize> {
        self.task().num_classes()
    }

    /// The class names in class-index order, where the source has them.
    fn class_names(&self) -> Option<&[String]> {
        None
    }
}

impl<D: Dataset + ?Sized> Dataset for Arc<D> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> Result<Sample> {
        (**self).get(index)
    }
    fn input_shape(&self) -> &[usize] {
        (**self).input_shape()
    }
    fn task(&self) -> Task {
        (**self).task()
    }
    fn class_names(&self) -> Option<&[String]> {
        (**self).class_names()
    }
}

/// The targets of an [`InMemoryDataset`], one per sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Class labels in `0..num_classes`.
    Classes {
        /// One label per sample.
        labels: Vec<i64>,
        /// The number of classes.
        num_classes: usize,
    },
    /// `width` real values per sample, sample-major.
    Values {
        /// `len * width` values.
        values: Vec<f32>,
        /// Values per sample.
        width: usize,
    },
}

impl Targets {
    fn count(&self) -> Option<usize> {
        match self {
            Targets::Classes { labels, .. } => Some(labels.len()),
            Targets::Values { values, width } => (*width > 0).then(|| values.len() / width),
        }
    }
}

/// Checks that every label lies in `0..num_classes`; `path` names the source in the error.
pub(crate) fn check_labels(labels: &[i64], num_classes: usize, path: &str) -> Result<()> {
    match labels
        .iter()
        .position(|&l| l < 0 || l as u64 >= num_classes as u64)
    {
        Some(index) => Err(Error::LabelOutOfRange {
            path: path.to_string(),
            index,
            value: labels[index],
            num_classes,
        }),
        None => Ok(()),
    }
}

/// The input block of an [`InMemoryDataset`].
#[derive(Clone, Debug)]
enum Inputs {
    F32(Vec<f32>),
    /// Pixels kept as bytes (a quarter of the memory) and scaled by 1/255 on `get`.
    U8(Vec<u8>),
}

/// A dataset held in memory as one contiguous block of inputs plus its targets.
///
/// MNIST's 60,000 training images are one `Vec<u8>` of 47 MB, not 60,000 allocations. Byte
/// inputs ([`InMemoryDataset::from_u8`]) are returned scaled to `[0, 1]` (`x / 255`), as
/// torchvision's `ToTensor` does.
///
/// # Examples
/// ```
/// use nabla_data::{Dataset, InMemoryDataset, Target, Targets};
/// let ds = InMemoryDataset::new(
///     vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
///     &[2],
///     Targets::Classes { labels: vec![0, 1, 1], num_classes: 2 },
/// )?;
/// assert_eq!(ds.len(), 3);
/// let s = ds.get(1)?;
/// assert_eq!((s.input, s.target), (vec![2.0, 3.0], Target::Class(1)));
/// # Ok::<(), nabla_data::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct InMemoryDataset {
    inputs: Inputs,
    shape: Vec<usize>,
    sample_len: usize,
    len: usize,
    targets: Targets,
    class_names: Option<Vec<String>>,
}

impl InMemoryDataset {
    /// A dataset over `inputs`, `len * shape.iter().product()` values sample-major, where
    /// `len` is the number of targets.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the block's length is not the number of targets times
    /// the sample size, or `width` is 0; [`Error::LabelOutOfRange`] for a label outside
    /// `0..num_classes`.
    pub fn new(inputs: Vec<f32>, shape: &[usize], targets: Targets) -> Result<Self> {
        let block_len = inputs.len();
        Self::build(Inputs::F32(inputs), block_len, shape, targets)
    }

    /// A dataset over bytes (pixels), returned as `x / 255` in `[0, 1]`.
    ///
    /// # Errors
    /// As [`InMemoryDataset::new`].
    pub fn from_u8(pixels: Vec<u8>, shape: &[usize], targets: Targets) -> Result<Self> {
        let block_len = pixels.len();
        Self::build(Inputs::U8(pixels), block_len, shape, targets)
    }

    fn build(inputs: Inputs, block_len: usize, shape: &[usize], targets: Targets) -> Result<Self> {
        const OP: &str = "InMemoryDataset";
        let sample_len = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::invalid(OP, format!("sample shape {shape:?} is too large")))?;
        let len = targets
            .count()
            .ok_or_else(|| Error::invalid(OP, "regression targets need a width of at least 1"))?;
        if let Targets::Values { values, width } = &targets {
            if values.len() % width != 0 {
                return Err(Error::invalid(
                    OP,
                    format!(
                        "{} target values are not a whole number of rows of {width}",
                        values.len()
                    ),
                ));
            }
        }
        if let Targets::Classes {
            labels,
            num_classes,
        } = &targets
        {
            check_labels(labels, *num_classes, "in-memory dataset")?;
        }
        if len.checked_mul(sample_len) != Some(block_len) {
            return Err(Error::invalid(
                OP,
                format!(
                    "{block_len} input values for {len} samples of shape {shape:?} ({sample_len} values each)"
                ),
            ));
        }
        Ok(InMemoryDataset {
            inputs,
            shape: shape.to_vec(),
            sample_len,
            len,
            targets,
            class_names: None,
        })
    }

    /// Attaches class names, one per class, in class-index order.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the dataset is not a classification set or the number
    /// of names differs from the number of classes.
    pub fn with_class_names(mut self, names: Vec<String>) -> Result<Self> {
        match self.task().num_classes() {
            Some(n) if n == names.len() => {
                self.class_names = Some(names);
                Ok(self)
            }
            n => Err(Error::invalid(
                "with_class_names",
                format!("{} names given for {n:?} classes", names.len()),
            )),
        }
    }

    /// The class labels, for a classification dataset.
    pub fn labels(&self) -> Option<&[i64]> {
        match &self.targets {
            Targets::Classes { labels, .. } => Some(labels),
            Targets::Values { .. } => None,
        }
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }
}

impl Dataset for InMemoryDataset {
    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, index: usize) -> Result<Sample> {
        if index >= self.len {
            return Err(Error::IndexOutOfRange {
                index,
                len: self.len,
            });
        }
        let range = index * self.sample_len..(index + 1) * self.sample_len;
        let input = match &self.inputs {
            Inputs::F32(v) => v[range].to_vec(),
            Inputs::U8(v) => v[range].iter().map(|&b| f32::from(b) / 255.0).collect(),
        };
        let target = match &self.targets {
            Targets::Classes { labels, .. } => Target::Class(labels[index]),
            Targets::Values { values, width } => {
                Target::Values(values[index * width..(index + 1) * width].to_vec())
            }
        };
        Ok(Sample {
            input,
            shape: self.shape.clone(),
            target,
        })
    }

    fn input_shape(&self) -> &[usize] {
        &self.shape
    }

    fn task(&self) -> Task {
        match self.targets {
            Targets::Classes { num_classes, .. } => Task::Classification { num_classes },
            Targets::Values { width, .. } => Task::Regression { outputs: width },
        }
    }

    fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Ten samples of two values, `[2i, 2i + 1]`, in classes 0, 1, 2, 0, 1, 2, …
    pub(crate) fn small() -> InMemoryDataset {
        let inputs = (0..20).map(|v| v as f32).collect();
        let labels = vec![0, 1, 2, 0, 1, 2, 0, 1, 2, 0];
        InMemoryDataset::new(
            inputs,
            &[2],
            Targets::Classes {
                labels,
                num_classes: 3,
            },
        )
        .unwrap()
    }

    #[test]
    fn in_memory_dataset_slices_the_block() -> Result<()> {
        let ds = small();
        let s = ds.get(3)?;
        assert_eq!(s.input, vec![6.0, 7.0]);
        assert_eq!(s.shape, vec![2]);
        assert_eq!(s.target, Target::Class(0));
        assert_eq!(ds.task(), Task::Classification { num_classes: 3 });
        assert!(matches!(
            ds.get(10),
            Err(Error::IndexOutOfRange { index: 10, len: 10 })
        ));
        Ok(())
    }

    #[test]
    fn u8_inputs_are_scaled_to_unit_range() -> Result<()> {
        let targets = Targets::Values {
            values: vec![0.5, -1.0],
            width: 1,
        };
        let ds = InMemoryDataset::from_u8(vec![0, 255, 51, 102], &[2], targets)?;
        let s = ds.get(1)?;
        assert_eq!(s.input, vec![0.2, 0.4]);
        assert_eq!(s.target, Target::Values(vec![-1.0]));
        assert_eq!(ds.task(), Task::Regression { outputs: 1 });
        Ok(())
    }

    #[test]
    fn in_memory_dataset_rejects_bad_lengths_and_labels() {
        let t = |labels: Vec<i64>| Targets::Classes {
            labels,
            num_classes: 2,
        };
        let err = InMemoryDataset::new(vec![0.0; 5], &[2], t(vec![0, 1])).unwrap_err();
        assert!(
            err.to_string().contains("5 input values for 2 samples"),
            "{err}"
        );
        let err = InMemoryDataset::new(vec![0.0; 4], &[2], t(vec![0, 2])).unwrap_err();
        assert!(matches!(
            err,
            Error::LabelOutOfRange {
                index: 1,
                value: 2,
                ..
            }
        ));
        let values = Targets::Values {
            values: vec![1.0],
            width: 0,
        };
        assert!(InMemoryDataset::new(vec![], &[2], values).is_err());
    }
}
