//! Random forests for classification (Breiman 2001): bootstrapped CART trees, each split
//! chosen among a random subset of features, grown in parallel; predictions average the
//! trees' leaf class distributions (as scikit-learn does).

mod bins;
mod tree;

pub use tree::{Criterion, Node, Tree};

use crate::matrix::Labelled;
use crate::{Error, Result};
use bins::Binned;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tree::Growth;

/// How many features each split considers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxFeatures {
    /// `max(1, floor(√d))`, as scikit-learn.
    Sqrt,
    /// `max(1, floor(log2 d))`.
    Log2,
    /// All `d`.
    All,
    /// This many (at most `d`).
    Count(usize),
}

/// Hyper-parameters of a [`Forest`]; the defaults are scikit-learn's
/// `RandomForestClassifier()`.
#[derive(Clone, Debug)]
pub struct ForestParams {
    /// Number of trees.
    pub trees: usize,
    /// Split criterion.
    pub criterion: Criterion,
    /// Depth limit (`None`: grow until pure or too small).
    pub max_depth: Option<usize>,
    /// A node with fewer examples is not split (at least 2).
    pub min_samples_split: usize,
    /// Each child of a split keeps at least this many examples (at least 1).
    pub min_samples_leaf: usize,
    /// Features drawn per split.
    pub max_features: MaxFeatures,
    /// Train each tree on a bootstrap sample (else on all examples).
    pub bootstrap: bool,
    /// Seed of the bootstraps and feature draws.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            trees: 100,
            criterion: Criterion::Gini,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            seed: 0,
        }
    }
}

/// A trained random forest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// The trees.
    pub trees: Vec<Tree>,
    /// Features per example.
    pub d: usize,
    /// Classes.
    pub num_classes: usize,
    /// Accuracy of each training example's prediction by the trees that did not see it
    /// (`None` without bootstrap or when no example was left out).
    pub oob_accuracy: Option<f64>,
    /// Mean decrease of impurity per feature, summing to 1 (0s when no tree split).
    pub importances: Vec<f64>,
}

impl Forest {
    /// Grows the trees in parallel.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero trees, `min_samples_split < 2`,
    /// `min_samples_leaf < 1` or `Count(0)` features.
    pub fn fit(data: &Labelled, p: &ForestParams) -> Result<Forest> {
        if p.trees == 0 || p.min_samples_split < 2 || p.min_samples_leaf < 1 {
            return Err(Error::invalid(
                "forest",
                format!(
                    "need trees >= 1 ({}), min_samples_split >= 2 ({}), min_samples_leaf >= 1 ({})",
                    p.trees, p.min_samples_split, p.min_samples_leaf
                ),
            ));
        }
        let d = data.d;
        let max_features = match p.max_features {
            MaxFeatures::Sqrt => ((d as f64).sqrt() as usize).max(1),
            MaxFeatures::Log2 => ((d as f64).log2() as usize).max(1),
            MaxFeatures::All => d,
            MaxFeatures::Count(0) => {
                return Err(Error::invalid("forest", "max_features must be at least 1"))
            }
            MaxFeatures::Count(m) => m.min(d),
        };
        let growth = Growth {
            criterion: p.criterion,
            max_depth: p.max_depth.unwrap_or(usize::MAX),
            min_samples_split: p.min_samples_split,
            min_samples_leaf: p.min_samples_leaf,
            max_features,
        };
        let binned = Binned::new(&data.x, d);
        let n = data.len();
        let grown: Vec<(Tree, Vec<f64>, Vec<bool>)> = (0..p.trees)
            .into_par_iter()
            .map(|t| {
                let mut rng =
                    nabla::Rng::new(p.seed.wrapping_mul(1_000_003).wrapping_add(t as u64));
                // Bootstrap multiplicities, used as sample weights (each tree holds each
                // drawn example once, as scikit-learn does).
                let mut weight = vec![u32::from(!p.bootstrap); n];
                if p.bootstrap {
                    for _ in 0..n {
                        weight[rng.below(n as u64) as usize] += 1;
                    }
                }
                let samples: Vec<u32> = (0..n as u32).filter(|&i| weight[i as usize] > 0).collect();
                let in_bag: Vec<bool> = weight.iter().map(|&w| w > 0).collect();
                let mut imp = vec![0.0; d];
                let tree = tree::grow(
                    &binned,
                    &data.y,
                    &weight,
                    data.num_classes,
                    samples,
                    &growth,
                    &mut rng,
                    &mut imp,
                );
                normalize(&mut imp);
                (tree, imp, in_bag)
            })
            .collect();
        let mut importances = vec![0.0; d];
        for (_, imp, _) in &grown {
            importances.iter_mut().zip(imp).for_each(|(a, b)| *a += b);
        }
        normalize(&mut importances);
        let oob_accuracy = if p.bootstrap { oob(data, &grown) } else { None };
        Ok(Forest {
            trees: grown.into_iter().map(|(t, _, _)| t).collect(),
            d,
            num_classes: data.num_classes,
            oob_accuracy,
            importances,
        })
    }

    /// The averaged class distribution of each row of `x` (`[n, d]`): `[n, num_classes]`.
    ///
    /// # Errors
    /// [`Error::Data`] when `x.len()` is not a multiple of `d`.
    pub fn predict_proba(&self, x: &[f32]) -> Result<Vec<f32>> {
        if !x.len().is_multiple_of(self.d) {
            return Err(Error::data(
                "forest",
                format!("{} values are not rows of {} features", x.len(), self.d),
            ));
        }
        let k = self.num_classes;
        let rows: Vec<Vec<f32>> = x
            .par_chunks(self.d)
            .map(|row| {
                let mut p = vec![0f32; k];
                for t in &self.trees {
                    p.iter_mut().zip(t.leaf(row, k)).for_each(|(a, b)| *a += b);
                }
                p.iter_mut().for_each(|v| *v /= self.trees.len() as f32);
                p
            })
            .collect();
        Ok(rows.concat())
    }

    /// The most probable class of each row of `x` (`[n, d]`).
    ///
    /// # Errors
    /// As [`Forest::predict_proba`].
    pub fn predict(&self, x: &[f32]) -> Result<Vec<usize>> {
        Ok(self
            .predict_proba(x)?
            .chunks_exact(self.num_classes)
            .map(argmax)
            .collect())
    }

    /// Writes the forest as JSON, atomically.
    ///
    /// # Errors
    /// [`Error::Tensor`] wrapping the I/O error.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::save_json(path.as_ref(), self)
    }

    /// Reads a forest written by [`Forest::save`], checking every tree.
    ///
    /// # Errors
    /// [`Error::Format`] for unreadable JSON or a malformed tree.
    pub fn load(path: impl AsRef<Path>) -> Result<Forest> {
        let f: Forest = crate::io::load_json(path.as_ref())?;
        if f.num_classes == 0 || f.trees.iter().any(|t| !t.is_consistent(f.d, f.num_classes)) {
            return Err(Error::Format {
                path: path.as_ref().display().to_string(),
                msg: "malformed forest (a node or leaf index is out of range)".into(),
            });
        }
        Ok(f)
    }
}

fn normalize(v: &mut [f64]) {
    let s: f64 = v.iter().sum();
    if s > 0.0 {
        v.iter_mut().for_each(|x| *x /= s);
    }
}

fn argmax(p: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = i;
        }
    }
    best
}

/// Out-of-bag accuracy: each example judged by the trees whose bootstrap missed it.
fn oob(data: &Labelled, grown: &[(Tree, Vec<f64>, Vec<bool>)]) -> Option<f64> {
    let k = data.num_classes;
    let results: Vec<Option<bool>> = (0..data.len())
        .into_par_iter()
        .map(|i| {
            let mut p = vec![0f32; k];
            let mut any = false;
            for (t, _, in_bag) in grown {
                if !in_bag[i] {
                    any = true;
                    p.iter_mut()
                        .zip(t.leaf(data.row(i), k))
                        .for_each(|(a, b)| *a += b);
                }
            }
            any.then(|| argmax(&p) == data.y[i])
        })
        .collect();
    let judged = results.iter().flatten().count();
    (judged > 0).then(|| results.iter().flatten().filter(|&&r| r).count() as f64 / judged as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::accuracy;

    /// Class = which of 3 bands feature 0 lies in; feature 1 is noise.
    fn bands(n: usize, seed: u64) -> Labelled {
        let mut rng = nabla::Rng::new(seed);
        let (mut x, mut y) = (vec![], vec![]);
        for _ in 0..n {
            let a = rng.next_f32() * 3.0;
            x.extend([a, rng.next_f32()]);
            y.push(a as usize);
        }
        Labelled::new(x, 2, y, 3).unwrap()
    }

    #[test]
    fn forest_learns_bands_and_finds_the_useful_feature() -> Result<()> {
        let (train, test) = (bands(600, 1), bands(300, 2));
        for criterion in [Criterion::Gini, Criterion::Entropy] {
            let p = ForestParams {
                trees: 20,
                criterion,
                ..ForestParams::default()
            };
            let f = Forest::fit(&train, &p)?;
            let acc = accuracy(&f.predict(&test.x)?, &test.y);
            assert!(acc > 0.97, "{criterion:?}: {acc}");
            assert!(f.importances[0] > 0.8, "{:?}", f.importances);
            assert!((f.importances.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            let oob = f.oob_accuracy.expect("bootstrap leaves examples out");
            assert!(oob > 0.95, "oob {oob}");
        }
        Ok(())
    }

    #[test]
    fn same_seed_same_forest_and_depth_limit_holds() -> Result<()> {
        let data = bands(200, 3);
        let p = ForestParams {
            trees: 4,
            max_depth: Some(1),
            ..ForestParams::default()
        };
        let (a, b) = (Forest::fit(&data, &p)?, Forest::fit(&data, &p)?);
        assert_eq!(a, b);
        assert!(a.trees.iter().all(|t| t.nodes.len() <= 3));
        let no_bootstrap = ForestParams {
            bootstrap: false,
            ..p
        };
        assert_eq!(Forest::fit(&data, &no_bootstrap)?.oob_accuracy, None);
        Ok(())
    }

    #[test]
    fn bad_parameters_are_errors_and_saved_forests_load() -> Result<()> {
        let data = bands(100, 4);
        let p = ForestParams {
            trees: 0,
            ..ForestParams::default()
        };
        assert!(Forest::fit(&data, &p)
            .unwrap_err()
            .to_string()
            .starts_with("forest: need trees"));
        let f = Forest::fit(
            &data,
            &ForestParams {
                trees: 3,
                ..ForestParams::default()
            },
        )?;
        let path = std::env::temp_dir().join(format!("nabla-forest-{}.json", std::process::id()));
        f.save(&path)?;
        let back = Forest::load(&path)?;
        assert_eq!(back.predict(&data.x)?, f.predict(&data.x)?);
        std::fs::write(&path, "{\"trees\": 3}").unwrap();
        assert!(Forest::load(&path).is_err());
        std::fs::remove_file(&path).ok();
        Ok(())
    }
}
