//! The `Dataset` trait, samples and targets, the in-memory dataset, subsets and splits.

use crate::{Error, Result};
use nabla::Rng;
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

/// A view of some samples of another dataset, by index.
#[derive(Clone)]
pub struct Subset {
    base: Arc<dyn Dataset>,
    indices: Vec<usize>,
}

impl std::fmt::Debug for Subset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subset")
            .field("base_len", &self.base.len())
            .field("len", &self.indices.len())
            .finish()
    }
}

impl Subset {
    /// The samples of `base` at `indices`, in that order.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for an index past the end of `base`.
    pub fn new(base: Arc<dyn Dataset>, indices: Vec<usize>) -> Result<Self> {
        let len = base.len();
        if let Some(&index) = indices.iter().find(|&&i| i >= len) {
            return Err(Error::IndexOutOfRange { index, len });
        }
        Ok(Subset { base, indices })
    }

    /// The first `n` samples of `base` (all of them when `n >= base.len()`).
    pub fn take(base: Arc<dyn Dataset>, n: usize) -> Self {
        let indices = (0..n.min(base.len())).collect();
        Subset { base, indices }
    }

    /// The indices into the base dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
}

impl Dataset for Subset {
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn get(&self, index: usize) -> Result<Sample> {
        let &base_index = self.indices.get(index).ok_or(Error::IndexOutOfRange {
            index,
            len: self.indices.len(),
        })?;
        self.base.get(base_index)
    }
    fn input_shape(&self) -> &[usize] {
        self.base.input_shape()
    }
    fn task(&self) -> Task {
        self.base.task()
    }
    fn class_names(&self) -> Option<&[String]> {
        self.base.class_names()
    }
}

/// The samples of some classes of a classification dataset, relabelled `0..k` in the order the
/// classes are given: `ClassSubset::new(mnist, &[5, 6, 7, 8, 9])` is the digits 5–9 with
/// labels 0–4 (the transfer-learning task of "pre-train on 0–4, transfer to 5–9").
pub struct ClassSubset {
    /// The kept samples, in base order.
    kept: Subset,
    /// New label of each base class (`None`: dropped).
    relabel: Vec<Option<i64>>,
    class_names: Vec<String>,
}

impl ClassSubset {
    /// Keeps the samples of `base` whose class is in `classes` (reading every sample's
    /// label once; for image folders that decodes every image), class `classes[i]` becoming
    /// class `i`. The class names are the base's names of the kept classes, or their numbers.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `base` is not a classification dataset, `classes` is
    /// empty, repeats a class or names one outside `0..num_classes`; errors reading samples.
    pub fn new(base: Arc<dyn Dataset>, classes: &[usize]) -> Result<Self> {
        const OP: &str = "ClassSubset";
        let Task::Classification { num_classes } = base.task() else {
            return Err(Error::invalid(
                OP,
                "selecting classes needs a classification dataset",
            ));
        };
        if classes.is_empty() {
            return Err(Error::invalid(OP, "no classes selected"));
        }
        let mut relabel = vec![None; num_classes];
        for (new, &c) in classes.iter().enumerate() {
            match relabel.get_mut(c) {
                None => {
                    return Err(Error::invalid(
                        OP,
                        format!("class {c} is outside 0..{num_classes}"),
                    ))
                }
                Some(Some(_)) => return Err(Error::invalid(OP, format!("class {c} is repeated"))),
                Some(slot) => *slot = Some(new as i64),
            }
        }
        let mut indices = Vec::new();
        for i in 0..base.len() {
            if let Target::Class(label) = base.get(i)?.target {
                if usize::try_from(label).is_ok_and(|l| relabel.get(l).is_some_and(Option::is_some))
                {
                    indices.push(i);
                }
            }
        }
        let class_names = classes
            .iter()
            .map(|&c| {
                base.class_names()
                    .and_then(|n| n.get(c).cloned())
                    .unwrap_or_else(|| c.to_string())
            })
            .collect();
        Ok(ClassSubset {
            kept: Subset::new(base, indices)?,
            relabel,
            class_names,
        })
    }
}

impl Dataset for ClassSubset {
    fn len(&self) -> usize {
        self.kept.len()
    }
    fn get(&self, index: usize) -> Result<Sample> {
        let mut s = self.kept.get(index)?;
        if let Target::Class(label) = s.target {
            let new = usize::try_from(label)
                .ok()
                .and_then(|l| self.relabel.get(l).copied().flatten())
                .expect("only samples of kept classes are indexed");
            s.target = Target::Class(new);
        }
        Ok(s)
    }
    fn input_shape(&self) -> &[usize] {
        self.kept.input_shape()
    }
    fn task(&self) -> Task {
        Task::Classification {
            num_classes: self.class_names.len(),
        }
    }
    fn class_names(&self) -> Option<&[String]> {
        Some(&self.class_names)
    }
}

/// Splits `base` at random into `(train, validation)`, the validation part holding
/// `round(fraction * len)` samples. The same `seed` gives the same split; each part lists its
/// indices in increasing order.
///
/// # Errors
/// [`Error::InvalidArgument`] when `fraction` is not in `[0, 1]`.
///
/// # Examples
/// ```
/// use nabla_data::{random_split, toy, Dataset};
/// let ds = toy::generate(toy::Toy::Spiral, 100, 0.0, 7)?;
/// let (train, val) = random_split(std::sync::Arc::new(ds), 0.2, 1)?;
/// assert_eq!((train.len(), val.len()), (80, 20));
/// # Ok::<(), nabla_data::Error>(())
/// ```
pub fn random_split(base: Arc<dyn Dataset>, fraction: f64, seed: u64) -> Result<(Subset, Subset)> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(Error::invalid(
            "random_split",
            format!("the validation fraction must be in [0, 1], got {fraction}"),
        ));
    }
    let len = base.len();
    let n_val = ((len as f64) * fraction).round() as usize;
    let mut order: Vec<usize> = (0..len).collect();
    Rng::new(seed).shuffle(&mut order);
    let (val, train) = order.split_at(n_val.min(len));
    let (mut val, mut train) = (val.to_vec(), train.to_vec());
    val.sort_unstable();
    train.sort_unstable();
    Ok((
        Subset {
            base: base.clone(),
            indices: train,
        },
        Subset { base, indices: val },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> InMemoryDataset {
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
    fn class_subset_keeps_the_chosen_classes_relabelled_in_order() -> Result<()> {
        let base: Arc<dyn Dataset> = Arc::new(small());
        let ds = ClassSubset::new(base.clone(), &[2, 0])?;
        // Labels 0,1,2,0,1,2,0,1,2,0: classes 0 and 2 are samples 0,2,3,5,6,8,9.
        assert_eq!(ds.len(), 7);
        assert_eq!(ds.task(), Task::Classification { num_classes: 2 });
        assert_eq!(ds.get(0)?.target, Target::Class(1)); // base class 0 → 1
        assert_eq!(ds.get(1)?.target, Target::Class(0)); // base class 2 → 0
        assert_eq!(ds.get(1)?.input, vec![4.0, 5.0]);
        assert_eq!(
            ds.class_names(),
            Some(&["2".to_string(), "0".to_string()][..])
        );
        assert!(ClassSubset::new(base.clone(), &[3]).is_err());
        assert!(ClassSubset::new(base.clone(), &[1, 1]).is_err());
        assert!(ClassSubset::new(base, &[]).is_err());
        Ok(())
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

    #[test]
    fn take_keeps_the_first_samples() -> Result<()> {
        let sub = Subset::take(Arc::new(small()), 4);
        assert_eq!(sub.len(), 4);
        assert_eq!(sub.get(3)?.input, vec![6.0, 7.0]);
        assert!(sub.get(4).is_err());
        assert_eq!(Subset::take(Arc::new(small()), 99).len(), 10);
        assert!(Subset::new(Arc::new(small()), vec![0, 10]).is_err());
        Ok(())
    }

    #[test]
    fn random_split_partitions_and_is_seeded() -> Result<()> {
        let base: Arc<dyn Dataset> = Arc::new(small());
        let (train, val) = random_split(base.clone(), 0.3, 5)?;
        assert_eq!((train.len(), val.len()), (7, 3));
        let mut all: Vec<usize> = train
            .indices()
            .iter()
            .chain(val.indices())
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        let (_, val2) = random_split(base.clone(), 0.3, 5)?;
        assert_eq!(val.indices(), val2.indices());
        let (_, val3) = random_split(base.clone(), 0.3, 6)?;
        assert_ne!(val.indices(), val3.indices());
        assert!(random_split(base, 1.5, 0).is_err());
        Ok(())
    }
}
