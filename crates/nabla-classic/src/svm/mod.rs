//! Support vector classifiers with kernels: binary C-SVC problems solved by SMO ([`smo`]),
//! combined one-vs-one for several classes, as LIBSVM (and scikit-learn's `SVC`) do.

mod cache;
mod smo;

use crate::kernel::{cross, squared_norms, transposed, Kernel};
use crate::matrix::Labelled;
use crate::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smo::{SmoParams, SmoSolution};
use std::path::Path;

/// The kernel's `gamma`: a value, or derived from the training data as scikit-learn does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Gamma {
    /// `1 / (d · Var(X))` over all feature values (scikit-learn's `"scale"`).
    Scale,
    /// `1 / d` (scikit-learn's `"auto"`).
    Auto,
    /// This value.
    Value(f64),
}

/// Kernel families, for [`SvcParams`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelKind {
    /// `x·z`.
    Linear,
    /// `(gamma x·z + coef0)^degree`.
    Poly,
    /// `exp(-gamma |x - z|²)`.
    Rbf,
    /// `tanh(gamma x·z + coef0)`.
    Sigmoid,
}

/// Hyper-parameters of [`Svc`]; the defaults are scikit-learn's `SVC()`, except the cache.
#[derive(Clone, Debug)]
pub struct SvcParams {
    /// The penalty `C` of margin violations (> 0).
    pub c: f64,
    /// The kernel family.
    pub kernel: KernelKind,
    /// `gamma` of the poly, RBF and sigmoid kernels.
    pub gamma: Gamma,
    /// `coef0` of the poly and sigmoid kernels.
    pub coef0: f64,
    /// Degree of the poly kernel.
    pub degree: u32,
    /// Stopping tolerance on the largest KKT violation (LIBSVM's 1e-3).
    pub tol: f64,
    /// Shrink bounded variables out of the working problem (LIBSVM's heuristic).
    pub shrinking: bool,
    /// Kernel cache in MiB, shared by the binary problems that run at once (one per
    /// thread). A problem whose whole kernel matrix fits its share computes it at once with
    /// the engine's matrix product.
    pub cache_mb: f64,
    /// Iteration limit per binary problem (`None`: `max(10⁷, 100 n)`, as LIBSVM).
    pub max_iter: Option<usize>,
}

impl Default for SvcParams {
    fn default() -> Self {
        SvcParams {
            c: 1.0,
            kernel: KernelKind::Rbf,
            gamma: Gamma::Scale,
            coef0: 0.0,
            degree: 3,
            tol: 1e-3,
            shrinking: true,
            cache_mb: 2048.0,
            max_iter: None,
        }
    }
}

/// One binary problem of the one-vs-one scheme: class `a` (`y = +1`) against class `b`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PairModel {
    /// The positive class.
    pub a: usize,
    /// The negative class.
    pub b: usize,
    /// Indices of this problem's support vectors into [`Svc::support`].
    pub sv: Vec<u32>,
    /// `α_i y_i` of each support vector.
    pub coef: Vec<f32>,
    /// The threshold: `f(x) = Σ coef_i k(sv_i, x) - rho`.
    pub rho: f64,
}

/// Training statistics of an [`Svc`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SvcStats {
    /// SMO iterations over all binary problems.
    pub iterations: usize,
    /// Binary problems stopped by the iteration limit before converging.
    pub unconverged: usize,
    /// Kernel rows computed (all rows of a problem whose matrix fit the cache).
    pub kernel_rows: usize,
}

/// A trained kernel support vector classifier (one-vs-one over the classes present).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Svc {
    /// The kernel, with `gamma` resolved.
    pub kernel: Kernel,
    /// `C` it was trained with.
    pub c: f64,
    /// Features per example.
    pub d: usize,
    /// Classes (labels `0..num_classes`).
    pub num_classes: usize,
    /// The support vectors of all binary problems, `[n_sv, d]` row-major.
    pub support: Vec<f32>,
    /// The binary problems, in the order `(0, 1), (0, 2), ..., (1, 2), ...`.
    pub pairs: Vec<PairModel>,
    /// How training went.
    pub stats: SvcStats,
}

impl SvcParams {
    /// The kernel for `data`, with `gamma` resolved.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `C <= 0`, a non-positive tolerance or cache, or bad
    /// kernel parameters.
    pub fn resolve(&self, data: &Labelled) -> Result<Kernel> {
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(Error::invalid(
                "svm",
                format!("C must be positive, got {}", self.c),
            ));
        }
        if self.tol.is_nan() || self.tol <= 0.0 || self.cache_mb.is_nan() || self.cache_mb <= 0.0 {
            return Err(Error::invalid(
                "svm",
                format!(
                    "tol ({}) and cache_mb ({}) must be positive",
                    self.tol, self.cache_mb
                ),
            ));
        }
        let gamma = match self.gamma {
            Gamma::Value(g) => g,
            Gamma::Auto => 1.0 / data.d as f64,
            Gamma::Scale => {
                let var = data.variance();
                if var > 0.0 {
                    1.0 / (data.d as f64 * var)
                } else {
                    1.0
                }
            }
        };
        let kernel = match self.kernel {
            KernelKind::Linear => Kernel::Linear,
            KernelKind::Rbf => Kernel::Rbf { gamma },
            KernelKind::Poly => Kernel::Poly {
                gamma,
                coef0: self.coef0,
                degree: self.degree,
            },
            KernelKind::Sigmoid => Kernel::Sigmoid {
                gamma,
                coef0: self.coef0,
            },
        };
        kernel.validate()?;
        Ok(kernel)
    }
}

impl Svc {
    /// Trains one binary SVM per pair of classes present in `data`, in parallel.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for bad parameters; [`Error::Data`] when fewer than two
    /// classes have examples.
    pub fn fit(data: &Labelled, params: &SvcParams) -> Result<Svc> {
        let kernel = params.resolve(data)?;
        let present: Vec<usize> = (0..data.num_classes)
            .filter(|&c| data.y.contains(&c))
            .collect();
        if present.len() < 2 {
            return Err(Error::data(
                "svm",
                format!("needs examples of two classes at least, got {present:?}"),
            ));
        }
        let pairs: Vec<(usize, usize)> = present
            .iter()
            .enumerate()
            .flat_map(|(k, &a)| present[k + 1..].iter().map(move |&b| (a, b)))
            .collect();
        let threads = rayon::current_num_threads().min(pairs.len()).max(1);
        let smo = SmoParams {
            c: params.c,
            kernel,
            eps: params.tol,
            shrinking: params.shrinking,
            cache_bytes: (params.cache_mb * (1 << 20) as f64 / threads as f64) as usize,
            max_iter: 0,
        };
        let solved: Vec<(Vec<usize>, SmoSolution, (usize, usize))> = pairs
            .par_iter()
            .map(|&(a, b)| {
                let idx: Vec<usize> = (0..data.len())
                    .filter(|&i| data.y[i] == a || data.y[i] == b)
                    .collect();
                let sub = data.select(&idx);
                let y: Vec<f64> = sub
                    .y
                    .iter()
                    .map(|&c| if c == a { 1.0 } else { -1.0 })
                    .collect();
                let p = SmoParams {
                    max_iter: params.max_iter.unwrap_or((100 * y.len()).max(10_000_000)),
                    ..smo
                };
                Ok((idx, smo::solve(&sub.x, data.d, &y, &p)?, (a, b)))
            })
            .collect::<Result<_>>()?;
        Ok(Svc::assemble(data, kernel, params.c, solved))
    }

    /// Gathers the support vectors of all problems into one pool.
    fn assemble(
        data: &Labelled,
        kernel: Kernel,
        c: f64,
        solved: Vec<(Vec<usize>, SmoSolution, (usize, usize))>,
    ) -> Svc {
        let mut pool_of = vec![u32::MAX; data.len()];
        let mut support = Vec::new();
        let mut stats = SvcStats::default();
        let mut pairs = Vec::with_capacity(solved.len());
        for (idx, sol, (a, b)) in solved {
            stats.iterations += sol.iterations;
            stats.unconverged += usize::from(!sol.converged);
            stats.kernel_rows += sol.rows_computed;
            let mut pm = PairModel {
                a,
                b,
                sv: Vec::new(),
                coef: Vec::new(),
                rho: sol.rho,
            };
            for (k, &orig) in idx.iter().enumerate() {
                if sol.alpha[k] > 0.0 {
                    if pool_of[orig] == u32::MAX {
                        pool_of[orig] = (support.len() / data.d) as u32;
                        support.extend_from_slice(data.row(orig));
                    }
                    pm.sv.push(pool_of[orig]);
                    let y = if data.y[orig] == a { 1.0 } else { -1.0 };
                    pm.coef.push((sol.alpha[k] * y) as f32);
                }
            }
            pairs.push(pm);
        }
        Svc {
            kernel,
            c,
            d: data.d,
            num_classes: data.num_classes,
            support,
            pairs,
            stats,
        }
    }

    /// The number of distinct support vectors.
    pub fn num_support(&self) -> usize {
        self.support.len() / self.d.max(1)
    }

    /// Decision values `f_p(x)` of every binary problem `p` for each row of `x`
    /// (`[n, d]` row-major): row-major `[n, pairs.len()]`; positive votes for `pairs[p].a`.
    ///
    /// # Errors
    /// [`Error::Data`] when `x.len()` is not a multiple of `d`.
    pub fn decision_function(&self, x: &[f32]) -> Result<Vec<f64>> {
        if !x.len().is_multiple_of(self.d) {
            return Err(Error::data(
                "svm",
                format!("{} values are not rows of {} features", x.len(), self.d),
            ));
        }
        const BLOCK: usize = 256;
        let sv_t = transposed(&self.support, self.d)?;
        let sq_sv = squared_norms(&self.support, self.d);
        let np = self.pairs.len();
        let blocks: Vec<Vec<f64>> = x
            .par_chunks(BLOCK * self.d)
            .map(|block| {
                let k = cross(
                    &self.kernel,
                    block,
                    &squared_norms(block, self.d),
                    &sv_t,
                    &sq_sv,
                )?;
                let mut out = Vec::with_capacity(block.len() / self.d * np);
                for krow in k.chunks_exact(sq_sv.len().max(1)) {
                    for p in &self.pairs {
                        let s: f64 =
                            p.sv.iter()
                                .zip(&p.coef)
                                .map(|(&v, &c)| c as f64 * krow[v as usize] as f64)
                                .sum();
                        out.push(s - p.rho);
                    }
                }
                Ok(out)
            })
            .collect::<Result<_>>()?;
        Ok(blocks.concat())
    }

    /// The class of each row of `x` (`[n, d]`) by one-vs-one voting (ties go to the lower
    /// class, as in LIBSVM).
    ///
    /// # Errors
    /// As [`Svc::decision_function`].
    pub fn predict(&self, x: &[f32]) -> Result<Vec<usize>> {
        let dec = self.decision_function(x)?;
        let np = self.pairs.len().max(1);
        Ok(dec
            .chunks_exact(np)
            .map(|row| {
                let mut votes = vec![0usize; self.num_classes];
                for (p, &v) in self.pairs.iter().zip(row) {
                    votes[if v > 0.0 { p.a } else { p.b }] += 1;
                }
                argmax_first(&votes)
            })
            .collect())
    }

    /// Writes the model as JSON, atomically.
    ///
    /// # Errors
    /// [`Error::Tensor`] wrapping the I/O error, with the path.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::save_json(path.as_ref(), self)
    }

    /// Reads a model written by [`Svc::save`], checking that its parts agree.
    ///
    /// # Errors
    /// [`Error::Format`] for unreadable JSON or inconsistent sizes.
    pub fn load(path: impl AsRef<Path>) -> Result<Svc> {
        let m: Svc = crate::io::load_json(path.as_ref())?;
        let n_sv = m.num_support();
        let bad = m.d == 0
            || !m.support.len().is_multiple_of(m.d)
            || m.pairs.iter().any(|p| {
                p.sv.len() != p.coef.len()
                    || p.a >= m.num_classes
                    || p.b >= m.num_classes
                    || p.sv.iter().any(|&v| v as usize >= n_sv)
            });
        if bad {
            return Err(Error::Format {
                path: path.as_ref().display().to_string(),
                msg: "inconsistent SVM model (sizes or indices out of range)".into(),
            });
        }
        Ok(m)
    }
}

/// The index of the first largest count.
pub(crate) fn argmax_first(v: &[usize]) -> usize {
    let mut best = 0;
    for (i, &c) in v.iter().enumerate() {
        if c > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::accuracy;

    /// Three gaussian blobs in 2-D.
    fn blobs(n: usize, seed: u64) -> Labelled {
        let mut rng = nabla::Rng::new(seed);
        let centers = [(0.0, 0.0), (3.0, 0.0), (0.0, 3.0)];
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let c = i % 3;
            x.push(centers[c].0 + 0.7 * rng.normal() as f32);
            x.push(centers[c].1 + 0.7 * rng.normal() as f32);
            y.push(c);
        }
        Labelled::new(x, 2, y, 3).unwrap()
    }

    #[test]
    fn every_kernel_separates_three_blobs() -> Result<()> {
        let (train, test) = (blobs(300, 1), blobs(300, 2));
        for kernel in [
            KernelKind::Linear,
            KernelKind::Rbf,
            KernelKind::Poly,
            KernelKind::Sigmoid,
        ] {
            let params = SvcParams {
                kernel,
                gamma: if kernel == KernelKind::Sigmoid {
                    Gamma::Value(0.05)
                } else {
                    Gamma::Scale
                },
                ..SvcParams::default()
            };
            let m = Svc::fit(&train, &params)?;
            assert_eq!(m.pairs.len(), 3);
            let acc = accuracy(&m.predict(&test.x)?, &test.y);
            let floor = if kernel == KernelKind::Sigmoid {
                0.85
            } else {
                0.93
            };
            assert!(acc > floor, "{kernel:?}: accuracy {acc}");
        }
        Ok(())
    }

    #[test]
    fn gamma_scale_is_one_over_d_times_variance() -> Result<()> {
        let data = Labelled::new(vec![0.0, 2.0, 4.0, 6.0], 2, vec![0, 1], 2)?;
        // values 0, 2, 4, 6: variance 5, d = 2 → gamma = 0.1
        let k = SvcParams::default().resolve(&data)?;
        assert_eq!(k, Kernel::Rbf { gamma: 0.1 });
        let auto = SvcParams {
            gamma: Gamma::Auto,
            ..SvcParams::default()
        };
        assert_eq!(auto.resolve(&data)?, Kernel::Rbf { gamma: 0.5 });
        Ok(())
    }

    #[test]
    fn bad_parameters_and_single_class_data_are_errors() -> Result<()> {
        let data = blobs(30, 1);
        let p = SvcParams {
            c: -1.0,
            ..SvcParams::default()
        };
        assert_eq!(
            Svc::fit(&data, &p).unwrap_err().to_string(),
            "svm: C must be positive, got -1"
        );
        let one = Labelled::new(vec![0.0, 1.0], 1, vec![2, 2], 3)?;
        assert!(Svc::fit(&one, &SvcParams::default())
            .unwrap_err()
            .to_string()
            .contains("two classes"));
        let m = Svc::fit(&data, &SvcParams::default())?;
        assert!(m.predict(&[1.0, 2.0, 3.0]).is_err());
        Ok(())
    }

    #[test]
    fn saved_model_loads_and_predicts_the_same() -> Result<()> {
        let data = blobs(90, 4);
        let m = Svc::fit(&data, &SvcParams::default())?;
        let path = std::env::temp_dir().join(format!("nabla-svc-{}.json", std::process::id()));
        m.save(&path)?;
        let back = Svc::load(&path)?;
        std::fs::remove_file(&path).ok();
        assert_eq!(back.predict(&data.x)?, m.predict(&data.x)?);
        assert_eq!((back.support, back.kernel), (m.support, m.kernel));
        assert_eq!(back.pairs.len(), m.pairs.len());
        Ok(())
    }

    #[test]
    fn argmax_prefers_the_first_of_equal_counts() {
        assert_eq!(argmax_first(&[1, 3, 3, 0]), 1);
        assert_eq!(argmax_first(&[0, 0]), 0);
    }
}
