//! NumPy `.npy` feature and label arrays (read by the engine's `nabla::io::npy`).

use crate::dataset::check_labels;
use crate::{Error, InMemoryDataset, Result, Targets};
use nabla::{DType, Tensor};
use std::path::Path;

/// Reads a features file `[n, ...]` and a labels file into one dataset.
///
/// Integer labels `[n]` make a classification set (classes `0..num_classes`; when `None`,
/// the largest label plus one); float labels `[n]` or `[n, k]` make a regression set with
/// `1` or `k` values per sample. Each sample's input has the shape of one record of the
/// features (`[d]` for `[n, d]`; `[1]` for a vector `[n]`).
///
/// # Errors
/// [`Error::Tensor`] (naming the file) when either file is missing or not a valid `.npy`;
/// [`Error::CountMismatch`] when they disagree on `n`; [`Error::LabelOutOfRange`];
/// [`Error::Format`] for labels of rank above 2, or integer labels that are not a vector.
pub fn load(
    features: impl AsRef<Path>,
    labels: impl AsRef<Path>,
    num_classes: Option<usize>,
) -> Result<InMemoryDataset> {
    let (features, labels) = (features.as_ref(), labels.as_ref());
    let x = Tensor::read_npy(features)?;
    let y = Tensor::read_npy(labels)?;
    from_tensors(
        &x,
        &features.display().to_string(),
        &y,
        &labels.display().to_string(),
        num_classes,
    )
}

/// Builds a dataset from a features tensor `[n, ...]` and a labels tensor (see [`load`]);
/// the `*_src` strings name them in errors.
///
/// # Errors
/// As [`load`].
pub fn from_tensors(
    features: &Tensor,
    features_src: &str,
    labels: &Tensor,
    labels_src: &str,
    num_classes: Option<usize>,
) -> Result<InMemoryDataset> {
    let Some((&n, rest)) = features.dims().split_first() else {
        return Err(Error::format(
            features_src,
            "features must have at least one dimension (records)",
        ));
    };
    let n_labels = labels.dims().first().copied().unwrap_or(0);
    if labels.rank() == 0 || n_labels != n {
        return Err(Error::CountMismatch {
            what: "feature and label records".into(),
            left: features_src.to_string(),
            left_count: n,
            right: labels_src.to_string(),
            right_count: n_labels,
        });
    }
    let shape: Vec<usize> = if rest.is_empty() {
        vec![1]
    } else {
        rest.to_vec()
    };
    let inputs = features.to_vec::<f32>()?;
    check_finite(
        &inputs,
        shape.iter().product(),
        features_src,
        "the features",
    )?;
    let targets = match (labels.dtype(), labels.rank()) {
        (DType::I64, 1) => {
            let values = labels.to_vec::<i64>()?;
            let k = match num_classes {
                Some(k) => k,
                None => values.iter().max().map_or(0, |&m| m.max(-1) + 1) as usize,
            };
            check_labels(&values, k, labels_src)?;
            Targets::Classes {
                labels: values,
                num_classes: k,
            }
        }
        (DType::I64, r) => {
            return Err(Error::format(
                labels_src,
                format!("integer labels must be a vector [n], got rank {r}"),
            ))
        }
        (_, 1) => Targets::Values {
            values: labels.to_vec::<f32>()?,
            width: 1,
        },
        (_, 2) => Targets::Values {
            values: labels.to_vec::<f32>()?,
            width: labels.dims()[1],
        },
        (_, r) => {
            return Err(Error::format(
                labels_src,
                format!("float targets must be [n] or [n, k], got rank {r}"),
            ))
        }
    };
    if let Targets::Values { values, width } = &targets {
        check_finite(values, *width, labels_src, "the target")?;
    }
    InMemoryDataset::new(inputs, &shape, targets)
}

/// Refuses NaN and infinite values (also f64 values beyond f32's range, which become
/// infinite), naming the first one's record and position in it (`width` values per
/// record): one such value makes every loss and gradient NaN from the first batch that
/// holds it.
fn check_finite(values: &[f32], width: usize, src: &str, what: &str) -> Result<()> {
    let Some(i) = values.iter().position(|v| !v.is_finite()) else {
        return Ok(());
    };
    let width = width.max(1);
    Err(Error::format(
        src,
        format!(
            "{what} of record {} (value {} of {width}) is {} as f32, not a finite number; fix or drop that record",
            i / width,
            i % width,
            values[i]
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dataset, Target, Task};
    use nabla::Device;

    #[test]
    fn npy_files_round_trip_into_a_dataset() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("nabla-data-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let dev = Device::Cpu;
        let x = Tensor::from_vec(
            (0..12).map(|v| v as f32).collect::<Vec<_>>(),
            &[3, 2, 2],
            &dev,
        )?;
        let y = Tensor::from_vec(vec![2i64, 0, 1], &[3], &dev)?;
        x.write_npy(dir.join("x.npy"))?;
        y.write_npy(dir.join("y.npy"))?;
        let ds = load(dir.join("x.npy"), dir.join("y.npy"), None)?;
        assert_eq!(ds.task(), Task::Classification { num_classes: 3 });
        let s = ds.get(1)?;
        assert_eq!(
            (s.shape, s.input, s.target),
            (vec![2, 2], vec![4.0, 5.0, 6.0, 7.0], Target::Class(0))
        );

        let err = load(dir.join("x.npy"), dir.join("y.npy"), Some(2)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::LabelOutOfRange {
                    index: 0,
                    value: 2,
                    ..
                }
            ),
            "{err}"
        );
        let err = load(dir.join("x.npy"), dir.join("missing.npy"), None).unwrap_err();
        assert!(err.to_string().contains("missing.npy"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }

    #[test]
    fn non_finite_features_and_targets_are_refused_naming_the_record() -> Result<()> {
        let dev = nabla::Device::Cpu;
        let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, f32::NAN, 5.0, 6.0], &[3, 2], &dev)?;
        let y = Tensor::from_slice(&[0i64, 1, 0], &[3], &dev)?;
        let err = from_tensors(&x, "x.npy", &y, "y.npy", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.npy") && err.contains("record 1 (value 1 of 2) is NaN"),
            "{err}"
        );
        let big = Tensor::from_slice(&[1.0f64, 2.0, 1e300], &[3], &dev)?;
        let ok = Tensor::from_slice(&[1.0f32, 2.0, 3.0], &[3], &dev)?;
        let err = from_tensors(&ok, "x.npy", &big, "y.npy", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("y.npy") && err.contains("record 2") && err.contains("inf"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn float_labels_are_regression_targets() -> Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::from_vec(vec![1.0f32, 2.0], &[2], &dev)?;
        let y = Tensor::from_vec(vec![0.5f32, 1.5, 2.5, 3.5], &[2, 2], &dev)?;
        let ds = from_tensors(&x, "x", &y, "y", None)?;
        assert_eq!(ds.task(), Task::Regression { outputs: 2 });
        let s = ds.get(1)?;
        assert_eq!(
            (s.shape, s.target),
            (vec![1], Target::Values(vec![2.5, 3.5]))
        );
        let short = Tensor::from_vec(vec![0i64], &[1], &dev)?;
        let err = from_tensors(&x, "x", &short, "y", None).unwrap_err();
        assert_eq!(err.to_string(), "feature and label records: 2 in x, 1 in y");
        Ok(())
    }
}
