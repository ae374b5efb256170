//! A linear SVM for large data, trained by dual coordinate descent (Hsieh et al., ICML 2008,
//! the LIBLINEAR solver): L2-regularized hinge (L1) or squared hinge (L2) loss, one weight
//! vector per class against the rest, classes trained in parallel.

use crate::kernel::dot;
use crate::matrix::Labelled;
use crate::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The loss on the margin `m = y (w·x + b)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    /// `max(0, 1 - m)`.
    Hinge,
    /// `max(0, 1 - m)²`.
    SquaredHinge,
}

/// Hyper-parameters of [`LinearSvm`] (LIBLINEAR's defaults: squared hinge, `C = 1`,
/// tolerance 0.1, bias feature 1).
#[derive(Clone, Debug)]
pub struct LinearParams {
    /// Penalty of the losses against `½|w|²` (> 0).
    pub c: f64,
    /// The loss.
    pub loss: Loss,
    /// Stop when the projected gradient's spread is below this.
    pub tol: f64,
    /// Passes over the data at most.
    pub max_epochs: usize,
    /// Seed of the visiting order.
    pub seed: u64,
}

impl Default for LinearParams {
    fn default() -> Self {
        LinearParams {
            c: 1.0,
            loss: Loss::SquaredHinge,
            tol: 0.1,
            max_epochs: 1000,
            seed: 0,
        }
    }
}

/// A trained one-vs-rest linear SVM: class scores `w_c·x + b_c`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearSvm {
    /// `[num_classes, d]` row-major weights.
    pub w: Vec<f32>,
    /// One bias per class (learned as the weight of a constant feature 1, as LIBLINEAR).
    pub b: Vec<f32>,
    /// Features per example.
    pub d: usize,
    /// Classes.
    pub num_classes: usize,
    /// Epochs each class's problem took.
    pub epochs: Vec<usize>,
}

impl LinearSvm {
    /// Trains one binary problem per class (that class against the rest).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `C <= 0` or a non-positive tolerance.
    pub fn fit(data: &Labelled, p: &LinearParams) -> Result<LinearSvm> {
        if !(p.c > 0.0 && p.c.is_finite() && p.tol > 0.0) {
            return Err(Error::invalid(
                "linear svm",
                format!("C ({}) and tol ({}) must be positive", p.c, p.tol),
            ));
        }
        let sq: Vec<f32> = data
            .x
            .chunks_exact(data.d)
            .map(|r| dot(r, r) + 1.0)
            .collect();
        let solved: Vec<(Vec<f32>, f32, usize)> = (0..data.num_classes)
            .into_par_iter()
            .map(|class| {
                let y: Vec<f32> = data
                    .y
                    .iter()
                    .map(|&c| if c == class { 1.0 } else { -1.0 })
                    .collect();
                binary(data, &y, &sq, p, class as u64)
            })
            .collect();
        let mut m = LinearSvm {
            w: Vec::with_capacity(data.num_classes * data.d),
            b: vec![],
            d: data.d,
            num_classes: data.num_classes,
            epochs: vec![],
        };
        for (w, b, epochs) in solved {
            m.w.extend(w);
            m.b.push(b);
            m.epochs.push(epochs);
        }
        Ok(m)
    }

    /// Class scores of each row of `x` (`[n, d]`): `[n, num_classes]`.
    ///
    /// # Errors
    /// [`Error::Data`] when `x.len()` is not a multiple of `d`.
    pub fn decision_function(&self, x: &[f32]) -> Result<Vec<f32>> {
        if !x.len().is_multiple_of(self.d) {
            return Err(Error::data(
                "linear svm",
                format!("{} values are not rows of {} features", x.len(), self.d),
            ));
        }
        Ok(x.chunks_exact(self.d)
            .flat_map(|row| {
                self.w
                    .chunks_exact(self.d)
                    .zip(&self.b)
                    .map(|(w, b)| dot(w, row) + b)
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// The highest-scoring class of each row of `x`.
    ///
    /// # Errors
    /// As [`LinearSvm::decision_function`].
    pub fn predict(&self, x: &[f32]) -> Result<Vec<usize>> {
        Ok(self
            .decision_function(x)?
            .chunks_exact(self.num_classes.max(1))
            .map(|s| (0..s.len()).fold(0, |best, c| if s[c] > s[best] { c } else { best }))
            .collect())
    }

    /// Writes the model as JSON, atomically.
    ///
    /// # Errors
    /// [`Error::Tensor`] wrapping the I/O error.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::save_json(path.as_ref(), self)
    }
}

/// Dual coordinate descent for one `±1` labelling: minimise
/// `½ αᵀ(Q + D)α - eᵀα`, `0 <= α_i <= U`, with `Q_ij = y_i y_j x̃_i·x̃_j` (`x̃ = (x, 1)`),
/// keeping `w = Σ α_i y_i x̃_i` up to date. Hinge: `D = 0`, `U = C`; squared hinge:
/// `D_ii = 1 / (2C)`, `U = ∞`.
fn binary(
    data: &Labelled,
    y: &[f32],
    sq: &[f32],
    p: &LinearParams,
    seed: u64,
) -> (Vec<f32>, f32, usize) {
    let (n, d) = (data.len(), data.d);
    let (diag, upper) = match p.loss {
        Loss::Hinge => (0.0, p.c),
        Loss::SquaredHinge => (0.5 / p.c, f64::INFINITY),
    };
    let mut alpha = vec![0f64; n];
    let mut w = vec![0f32; d];
    let mut b = 0f32;
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = nabla::Rng::new(p.seed ^ seed.wrapping_mul(0x9E37_79B9));
    let mut epochs = 0;
    // Shrinking, as LIBLINEAR: a variable at a bound whose gradient pushes it further out than
    // the last epoch's extreme projected gradients leaves `order[..active]` until the end.
    let mut active = n;
    let (mut pg_max_old, mut pg_min_old) = (f64::INFINITY, f64::NEG_INFINITY);
    while epochs < p.max_epochs {
        epochs += 1;
        rng.shuffle(&mut order[..active]);
        let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
        let mut s = 0;
        while s < active {
            let i = order[s];
            let xi = data.row(i);
            let yi = y[i] as f64;
            let g = yi * (dot(&w, xi) + b) as f64 - 1.0 + diag * alpha[i];
            let pg = if alpha[i] <= 0.0 {
                if g > pg_max_old {
                    active -= 1;
                    order.swap(s, active);
                    continue;
                }
                g.min(0.0)
            } else if alpha[i] >= upper {
                if g < pg_min_old {
                    active -= 1;
                    order.swap(s, active);
                    continue;
                }
                g.max(0.0)
            } else {
                g
            };
            s += 1;
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / (sq[i] as f64 + diag)).clamp(0.0, upper);
                let step = ((alpha[i] - old) * yi) as f32;
                w.iter_mut().zip(xi).for_each(|(wj, &x)| *wj += step * x);
                b += step;
            }
        }
        if pg_max - pg_min <= p.tol {
            if active == n {
                break;
            }
            // Converged on the active set: check every variable again.
            active = n;
            (pg_max_old, pg_min_old) = (f64::INFINITY, f64::NEG_INFINITY);
            continue;
        }
        pg_max_old = if pg_max <= 0.0 { f64::INFINITY } else { pg_max };
        pg_min_old = if pg_min >= 0.0 {
            f64::NEG_INFINITY
        } else {
            pg_min
        };
    }
    (w, b, epochs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::accuracy;

    #[test]
    fn separable_points_get_the_max_margin_line() -> Result<()> {
        // Class 1 at x = 1 and 2, class 0 at x = -1 and -2 (one feature): the maximal margin
        // separator of class 1 vs rest is w = 1, b = 0 (margins exactly 1 at x = ±1); with
        // the bias regularized as LIBLINEAR does, and C large, w → 1, b → 0.
        let data = Labelled::new(vec![1.0, 2.0, -1.0, -2.0], 1, vec![1, 1, 0, 0], 2)?;
        let p = LinearParams {
            c: 1000.0,
            loss: Loss::Hinge,
            tol: 1e-6,
            ..LinearParams::default()
        };
        let m = LinearSvm::fit(&data, &p)?;
        assert!((m.w[1] - 1.0).abs() < 1e-3 && m.b[1].abs() < 1e-3, "{m:?}");
        assert_eq!(m.predict(&data.x)?, data.y);
        Ok(())
    }

    #[test]
    fn both_losses_classify_three_linear_classes() -> Result<()> {
        let mut rng = nabla::Rng::new(5);
        let (mut x, mut y) = (vec![], vec![]);
        for i in 0..600 {
            let c = i % 3;
            let centre = [(0.0, 4.0), (4.0, 0.0), (-4.0, -4.0)][c];
            x.extend([
                centre.0 + rng.normal() as f32,
                centre.1 + rng.normal() as f32,
            ]);
            y.push(c);
        }
        let data = Labelled::new(x, 2, y, 3)?;
        for loss in [Loss::Hinge, Loss::SquaredHinge] {
            let m = LinearSvm::fit(
                &data,
                &LinearParams {
                    loss,
                    ..LinearParams::default()
                },
            )?;
            let acc = accuracy(&m.predict(&data.x)?, &data.y);
            assert!(acc > 0.98, "{loss:?}: {acc}");
        }
        let bad = LinearParams {
            c: 0.0,
            ..LinearParams::default()
        };
        assert!(LinearSvm::fit(&data, &bad).is_err());
        Ok(())
    }
}
