//! Views of other datasets: a subset by index, a subset of classes relabelled, and a seeded
//! random split.

use crate::{Dataset, Error, Result, Sample, Target, Task};
use nabla::Rng;
use std::sync::Arc;

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
    /// [`Error::InvalidArgument`] when `base` is not a classification dataset or `classes` is
    /// empty or repeats a class; [`Error::OutOfRange`] for a class outside `0..num_classes`;
    /// errors reading samples.
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
                    return Err(Error::out_of_range(
                        OP,
                        "a selected class",
                        format!("in 0..{num_classes}"),
                        c,
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
/// [`Error::OutOfRange`] when `fraction` is not in `[0, 1]`.
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
        return Err(Error::out_of_range(
            "random_split",
            "the validation fraction",
            "in [0, 1]",
            fraction,
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
    use crate::dataset::tests::small;

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
