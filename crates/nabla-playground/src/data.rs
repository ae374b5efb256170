//! A session's points: generated from a built-in set or uploaded, split into train and test.

use crate::config::{Config, Problem};
use crate::{Error, Result};
use nabla_data::{toy, Dataset, Targets};
use serde::Serialize;

/// Half the side of the square the page shows, `[-6, 6]²` as in the TensorFlow Playground.
pub const EXTENT: f32 = 6.0;

/// Points with their targets: ±1 for classification, a real value for regression.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Points {
    /// (x1, x2) of each point.
    pub xy: Vec<[f32; 2]>,
    /// The target of each point.
    pub target: Vec<f32>,
}

impl Points {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.xy.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.xy.is_empty()
    }

    /// The first `n` points and the rest.
    fn split_at(&self, n: usize) -> (Points, Points) {
        let (a, b) = self.xy.split_at(n);
        let (ta, tb) = self.target.split_at(n);
        (
            Points {
                xy: a.to_vec(),
                target: ta.to_vec(),
            },
            Points {
                xy: b.to_vec(),
                target: tb.to_vec(),
            },
        )
    }
}

/// The training and test points of a session.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Split {
    /// Points the network is trained on.
    pub train: Points,
    /// Points only evaluated.
    pub test: Points,
}

impl Split {
    /// Splits `all` (already in random order) at `train_ratio` percent, keeping at least one
    /// point on each side.
    pub fn new(all: &Points, train_ratio: f64) -> Split {
        let n = all.len();
        let n_train = ((n as f64 * train_ratio / 100.0).round() as usize).clamp(1, n.max(2) - 1);
        let (train, test) = all.split_at(n_train.min(n));
        Split { train, test }
    }
}

/// Generates the built-in set of `cfg` (`cfg.dataset` must not be custom).
///
/// # Errors
/// [`Error::Invalid`] for a custom set, [`Error::Data`] from the generator.
pub fn generate(cfg: &Config) -> Result<Points> {
    let toy = cfg
        .dataset
        .toy()
        .ok_or_else(|| Error::invalid("dataset", "custom data is uploaded, not generated"))?;
    let ds = toy::generate(toy, cfg.num_points, cfg.noise, cfg.seed)?;
    let mut points = Points::default();
    for i in 0..ds.len() {
        let input = ds.get(i)?.input;
        points.xy.push([input[0], input[1]]);
    }
    points.target = match ds.targets() {
        // Classes 0 and 1 become the Playground's -1 and +1.
        Targets::Classes { labels, .. } => labels
            .iter()
            .map(|&c| if c == 1 { 1.0 } else { -1.0 })
            .collect(),
        Targets::Values { values, .. } => values.clone(),
    };
    Ok(points)
}

/// Uploaded points `[x1, x2, target]` checked and brought onto the page's square: when some
/// coordinate lies outside `[-6, 6]`, all are scaled by one factor so the largest is 5.
/// Classification targets must be 0, 1, -1 or +1 (0 and -1 are the same class).
///
/// # Errors
/// [`Error::Invalid`] naming the row of a non-finite value or a bad label, or too few or too
/// many points.
pub fn upload(rows: &[[f64; 3]], problem: Problem, max_points: usize) -> Result<Points> {
    if rows.len() < 2 || rows.len() > max_points {
        return Err(Error::invalid(
            "points",
            format!("need 2 to {max_points} points, got {}", rows.len()),
        ));
    }
    let mut points = Points::default();
    for (i, &[x, y, t]) in rows.iter().enumerate() {
        if !(x.is_finite() && y.is_finite() && t.is_finite()) {
            return Err(Error::invalid(
                "points",
                format!("row {i} has a value that is not a finite number"),
            ));
        }
        let target = match problem {
            Problem::Regression => t as f32,
            Problem::Classification if t == 1.0 => 1.0,
            Problem::Classification if t == 0.0 || t == -1.0 => -1.0,
            Problem::Classification => {
                return Err(Error::invalid(
                    "points",
                    format!("row {i}: a class label is 0, 1 or -1, got {t}"),
                ))
            }
        };
        points.xy.push([x as f32, y as f32]);
        points.target.push(target);
    }
    let largest = points
        .xy
        .iter()
        .flat_map(|p| p.iter().map(|v| v.abs()))
        .fold(0.0f32, f32::max);
    if largest > EXTENT {
        let scale = 5.0 / largest;
        for p in &mut points.xy {
            p[0] *= scale;
            p[1] *= scale;
        }
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DataSet;

    #[test]
    fn generated_sets_split_at_the_ratio_with_signed_labels() -> Result<()> {
        let cfg = Config {
            dataset: DataSet::Spiral,
            num_points: 200,
            ..Config::default()
        };
        let all = generate(&cfg)?;
        assert_eq!(all.len(), 200);
        assert!(all.target.iter().all(|&t| t == 1.0 || t == -1.0));
        let split = Split::new(&all, 30.0);
        assert_eq!((split.train.len(), split.test.len()), (60, 140));
        assert_eq!(split.train.xy[0], all.xy[0]);
        assert_eq!(split.test.xy[0], all.xy[60]);
        Ok(())
    }

    #[test]
    fn uploads_are_checked_and_scaled_onto_the_plane() -> Result<()> {
        let p = upload(
            &[[10.0, 0.0, 1.0], [-2.0, 4.0, 0.0]],
            Problem::Classification,
            10,
        )?;
        assert_eq!(p.xy, vec![[5.0, 0.0], [-1.0, 2.0]]);
        assert_eq!(p.target, vec![1.0, -1.0]);
        let small = upload(
            &[[1.0, 2.0, 0.5], [3.0, 4.0, -0.5]],
            Problem::Regression,
            10,
        )?;
        assert_eq!(small.xy, vec![[1.0, 2.0], [3.0, 4.0]]);
        let err = upload(
            &[[1.0, 2.0, 0.5], [3.0, 4.0, 1.0]],
            Problem::Classification,
            10,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("row 0") && err.contains("0.5"), "{err}");
        assert!(upload(&[[1.0, f64::NAN, 1.0]; 3], Problem::Regression, 10).is_err());
        assert!(upload(&[[1.0, 1.0, 1.0]; 11], Problem::Regression, 10).is_err());
        assert!(upload(&[[1.0, 1.0, 1.0]], Problem::Regression, 10).is_err());
        Ok(())
    }
}
