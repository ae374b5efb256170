//! Dense row-major feature matrices with class labels, the input of every classifier here.

use crate::{Error, Result};
use nabla_data::{Dataset, Target};

/// `n` examples of `d` features each, row-major (`x[i * d + j]` is feature `j` of example `i`),
/// with one class label per example.
#[derive(Clone, Debug, PartialEq)]
pub struct Labelled {
    /// The features, `n * d` values.
    pub x: Vec<f32>,
    /// Features per example.
    pub d: usize,
    /// The class of each example, `0..num_classes`.
    pub y: Vec<usize>,
    /// The number of classes (at least one more than the largest label).
    pub num_classes: usize,
}

impl Labelled {
    /// Checks the sizes and labels.
    ///
    /// # Errors
    /// [`Error::Data`] when `x.len() != y.len() * d`, `d == 0`, a label is `>= num_classes`,
    /// or a feature is not finite.
    pub fn new(x: Vec<f32>, d: usize, y: Vec<usize>, num_classes: usize) -> Result<Self> {
        if d == 0 || x.len() != y.len() * d {
            return Err(Error::data(
                "features",
                format!(
                    "{} values do not make {} rows of {d} features",
                    x.len(),
                    y.len()
                ),
            ));
        }
        if let Some((i, &c)) = y.iter().enumerate().find(|(_, &c)| c >= num_classes) {
            return Err(Error::data(
                "features",
                format!("example {i} has class {c}, but there are {num_classes} classes"),
            ));
        }
        if let Some(k) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                "features",
                format!("example {} feature {} is {}", k / d, k % d, x[k]),
            ));
        }
        Ok(Labelled {
            x,
            d,
            y,
            num_classes,
        })
    }

    /// The first `limit` examples (all when `None`) of a classification dataset, each input
    /// flattened to `d` features, taken as they are (MNIST pixels are already in `[0, 1]`).
    ///
    /// # Errors
    /// [`Error::Data`] for a dataset without class labels or with no examples; reader errors.
    pub fn from_dataset(ds: &dyn Dataset, limit: Option<usize>) -> Result<Self> {
        let num_classes = ds
            .num_classes()
            .ok_or_else(|| Error::data("features", "the dataset has no class labels"))?;
        let n = limit.map_or(ds.len(), |l| l.min(ds.len()));
        if n == 0 {
            return Err(Error::data("features", "the dataset has no examples"));
        }
        let d: usize = ds.input_shape().iter().product();
        let mut x = Vec::with_capacity(n * d);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let s = ds.get(i)?;
            match s.target {
                Target::Class(c) if c >= 0 => y.push(c as usize),
                other => {
                    return Err(Error::data(
                        "features",
                        format!("example {i} has target {other:?}, not a class"),
                    ))
                }
            }
            if s.input.len() != d {
                return Err(Error::data(
                    "features",
                    format!("example {i} has {} values, expected {d}", s.input.len()),
                ));
            }
            x.extend_from_slice(&s.input);
        }
        Labelled::new(x, d, y, num_classes)
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Example `i`'s features, `d` values.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    /// The examples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Labelled {
        let mut x = Vec::with_capacity(indices.len() * self.d);
        for &i in indices {
            x.extend_from_slice(self.row(i));
        }
        Labelled {
            x,
            d: self.d,
            y: indices.iter().map(|&i| self.y[i]).collect(),
            num_classes: self.num_classes,
        }
    }

    /// The variance of all feature values together (scikit-learn's `X.var()`), for
    /// `gamma = "scale"`.
    pub fn variance(&self) -> f64 {
        let n = self.x.len() as f64;
        let mean = self.x.iter().map(|&v| v as f64).sum::<f64>() / n;
        self.x
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n
    }
}

/// The share of `predicted` equal to `truth` (0 for empty input).
pub fn accuracy(predicted: &[usize], truth: &[usize]) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    let right = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    right as f64 / truth.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rejects_bad_sizes_labels_and_values() {
        assert!(Labelled::new(vec![0.0; 5], 2, vec![0, 1], 2).is_err());
        let e = Labelled::new(vec![0.0; 4], 2, vec![0, 3], 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "features: example 1 has class 3, but there are 2 classes"
        );
        let e = Labelled::new(vec![0.0, 1.0, f32::NAN, 0.0], 2, vec![0, 1], 2).unwrap_err();
        assert_eq!(e.to_string(), "features: example 1 feature 0 is NaN");
    }

    #[test]
    fn select_variance_and_accuracy() -> Result<()> {
        let m = Labelled::new(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 2, vec![0, 1, 1], 2)?;
        let s = m.select(&[2, 0]);
        assert_eq!(s.x, vec![4.0, 5.0, 0.0, 1.0]);
        assert_eq!(s.y, vec![1, 0]);
        // values 0..5: mean 2.5, variance (6.25+2.25+0.25)*2/6 = 35/12
        assert!((m.variance() - 35.0 / 12.0).abs() < 1e-12);
        assert_eq!(accuracy(&[0, 1, 0], &[0, 1, 1]), 2.0 / 3.0);
        Ok(())
    }

    #[test]
    fn from_dataset_reads_mnist_pixels_in_unit_range() -> Result<()> {
        let ds = nabla_data::mnist::bundled_test()?;
        let m = Labelled::from_dataset(&ds, Some(3))?;
        assert_eq!((m.len(), m.d, m.num_classes), (3, 784, 10));
        assert_eq!(m.y, vec![7, 2, 1]); // the first three test digits
        assert!(m.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
        Ok(())
    }
}
