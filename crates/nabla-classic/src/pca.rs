//! Principal component analysis: the linear baseline of the deep autoencoder. The
//! covariance and every projection go through the engine's matrix product; the leading
//! eigenvectors come from subspace iteration with a Rayleigh–Ritz step.
//!
//! The data arrive as host slices, so the tensors are built on `Device::Cpu`: the
//! classical methods of this crate run on the host by design.

use crate::{Error, Result};
use nabla::{DType, Device, Tensor};

/// A fitted PCA: `code = (x − mean)·Wᵀ`, `x̂ = mean + code·W`, with `W` the `k × d`
/// orthonormal components (rows), by decreasing variance.
#[derive(Clone, Debug)]
pub struct Pca {
    /// Per-feature mean of the training rows, `[d]`.
    pub mean: Vec<f32>,
    /// The components, `[k, d]` row-major, orthonormal rows.
    pub components: Vec<f32>,
    /// Variance of the training rows along each component, `[k]`, decreasing.
    pub variances: Vec<f64>,
    /// Total variance of the training rows (the trace of the covariance).
    pub total_variance: f64,
    /// Features.
    pub d: usize,
}

fn rows(x: &[f32], d: usize) -> Result<Tensor> {
    Ok(Tensor::from_slice(x, &[x.len() / d, d], &Device::Cpu)?)
}

/// Orthonormalizes the `k` columns of `q` (`d × k`, row-major, f64) in place by modified
/// Gram–Schmidt; a column that collapses to zero (rank-deficient data) becomes a basis
/// vector, which the next iteration orthogonalizes.
fn orthonormalize(q: &mut [f64], d: usize, k: usize) {
    for j in 0..k {
        for i in 0..j {
            let dot: f64 = (0..d).map(|r| q[r * k + i] * q[r * k + j]).sum();
            for r in 0..d {
                q[r * k + j] -= dot * q[r * k + i];
            }
        }
        let norm = (0..d).map(|r| q[r * k + j].powi(2)).sum::<f64>().sqrt();
        if norm > 1e-12 {
            (0..d).for_each(|r| q[r * k + j] /= norm);
        } else {
            (0..d).for_each(|r| q[r * k + j] = ((r == j % d) as u8) as f64);
        }
    }
}

/// Eigenvalues and eigenvectors (columns of the returned `k × k` matrix) of a symmetric
/// `k × k` matrix by cyclic Jacobi rotations.
fn jacobi_eigen(a: &mut [f64], k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v: Vec<f64> = (0..k * k)
        .map(|i| ((i / k == i % k) as u8) as f64)
        .collect();
    for _sweep in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * k + j].powi(2))
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = a[p * k + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * k + q] - a[p * k + p]) / (2.0 * apq);
                // The smaller root of t² + 2θt − 1 = 0: the rotation that zeroes a[p][q].
                let t = if theta == 0.0 {
                    1.0
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..k {
                    let (arp, arq) = (a[r * k + p], a[r * k + q]);
                    a[r * k + p] = c * arp - s * arq;
                    a[r * k + q] = s * arp + c * arq;
                }
                for r in 0..k {
                    let (apr, aqr) = (a[p * k + r], a[q * k + r]);
                    a[p * k + r] = c * apr - s * aqr;
                    a[q * k + r] = s * apr + c * aqr;
                }
                for r in 0..k {
                    let (vrp, vrq) = (v[r * k + p], v[r * k + q]);
                    v[r * k + p] = c * vrp - s * vrq;
                    v[r * k + q] = s * vrp + c * vrq;
                }
            }
        }
    }
    ((0..k).map(|i| a[i * k + i]).collect(), v)
}

impl Pca {
    /// Fits `k` components to the rows of `x` (`[n, d]` row-major).
    ///
    /// The covariance `C = X̄ᵀX̄ / n` is one engine matmul; then `iters` rounds of subspace
    /// iteration `Q ← orth(C·Q)` on `k + 10` columns (the extra columns speed up the
    /// convergence of the last wanted ones), and a Rayleigh–Ritz step: the eigenvectors of
    /// `QᵀCQ` rotate `Q` onto the components.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `k` is 0 or above `d`; [`Error::Data`] when `x` is not
    /// whole rows.
    pub fn fit(x: &[f32], d: usize, k: usize, iters: usize) -> Result<Pca> {
        if d == 0 || x.is_empty() || !x.len().is_multiple_of(d) {
            return Err(Error::data(
                "pca",
                format!("{} values are not whole rows of {d} features", x.len()),
            ));
        }
        if k == 0 || k > d {
            return Err(Error::invalid(
                "pca",
                format!("components must be in 1..={d}, got {k}"),
            ));
        }
        let n = x.len() / d;
        let mut mean = vec![0f64; d];
        for row in x.chunks(d) {
            row.iter().zip(&mut mean).for_each(|(v, m)| *m += *v as f64);
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
        let centered = rows(x, d)?.sub(&Tensor::from_slice(&mean32, &[1, d], &Device::Cpu)?)?;
        let cov = centered
            .to_dtype(DType::F64)?
            .t()?
            .matmul(&centered.to_dtype(DType::F64)?)?
            .div_scalar(n as f64)?;
        let cov_values = cov.to_vec::<f64>()?;
        let total_variance = (0..d).map(|i| cov_values[i * d + i]).sum();
        let m = (k + 10).min(d);
        let mut rng = nabla::Rng::new(0x9CA);
        let mut q: Vec<f64> = (0..d * m).map(|_| rng.normal()).collect();
        orthonormalize(&mut q, d, m);
        for _ in 0..iters.max(1) {
            let qt = Tensor::from_vec(q, &[d, m], &Device::Cpu)?;
            q = cov.matmul(&qt)?.to_vec::<f64>()?;
            orthonormalize(&mut q, d, m);
        }
        let qt = Tensor::from_vec(q, &[d, m], &Device::Cpu)?;
        let mut small = qt.t()?.matmul(&cov.matmul(&qt)?)?.to_vec::<f64>()?;
        let (values, vectors) = jacobi_eigen(&mut small, m);
        let rotated = qt
            .matmul(&Tensor::from_vec(vectors, &[m, m], &Device::Cpu)?)?
            .to_vec::<f64>()?; // [d, m]: the Ritz vectors as columns
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        let mut components = Vec::with_capacity(k * d);
        for &j in &order[..k] {
            components.extend((0..d).map(|r| rotated[r * m + j] as f32));
        }
        Ok(Pca {
            mean: mean32,
            components,
            variances: order[..k].iter().map(|&j| values[j]).collect(),
            total_variance,
            d,
        })
    }

    /// Number of components.
    pub fn k(&self) -> usize {
        self.variances.len()
    }

    fn check(&self, x: &[f32]) -> Result<()> {
        if !x.len().is_multiple_of(self.d) {
            return Err(Error::data(
                "pca",
                format!(
                    "{} values are not whole rows of {} features",
                    x.len(),
                    self.d
                ),
            ));
        }
        Ok(())
    }

    /// The codes `[n, k]` of rows `x` (`[n, d]`).
    ///
    /// # Errors
    /// When `x` is not whole rows.
    pub fn transform(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.check(x)?;
        let w = Tensor::from_slice(&self.components, &[self.k(), self.d], &Device::Cpu)?;
        let mean = Tensor::from_slice(&self.mean, &[1, self.d], &Device::Cpu)?;
        Ok(rows(x, self.d)?
            .sub(&mean)?
            .matmul(&w.t()?)?
            .to_vec::<f32>()?)
    }

    /// Rows `[n, d]` rebuilt from codes `[n, k]`.
    ///
    /// # Errors
    /// When `codes` is not whole rows of `k`.
    pub fn inverse_transform(&self, codes: &[f32]) -> Result<Vec<f32>> {
        let k = self.k();
        if !codes.len().is_multiple_of(k) {
            return Err(Error::data(
                "pca",
                format!("{} values are not whole codes of {k}", codes.len()),
            ));
        }
        let w = Tensor::from_slice(&self.components, &[k, self.d], &Device::Cpu)?;
        let c = Tensor::from_slice(codes, &[codes.len() / k, k], &Device::Cpu)?;
        let mean = Tensor::from_slice(&self.mean, &[1, self.d], &Device::Cpu)?;
        Ok(c.matmul(&w)?.add(&mean)?.to_vec::<f32>()?)
    }

    /// The projection of rows `x` onto the components' affine subspace.
    ///
    /// # Errors
    /// When `x` is not whole rows.
    pub fn reconstruct(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.inverse_transform(&self.transform(x)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows with variances 9, 4, 1, 0.25, 0.01 along the axes of a rotation of R⁵.
    fn ellipsoid(n: usize) -> (Vec<f32>, Vec<f64>) {
        let mut rng = nabla::Rng::new(7);
        let mut basis: Vec<f64> = (0..25).map(|_| rng.normal()).collect();
        orthonormalize(&mut basis, 5, 5); // columns = axes
        let sd = [3.0, 2.0, 1.0, 0.5, 0.1];
        let mut x = Vec::with_capacity(n * 5);
        for _ in 0..n {
            let a: Vec<f64> = sd.iter().map(|s| s * rng.normal()).collect();
            for r in 0..5 {
                x.push((1.0 + (0..5).map(|j| basis[r * 5 + j] * a[j]).sum::<f64>()) as f32);
            }
        }
        (x, basis)
    }

    #[test]
    fn pca_finds_the_axes_and_variances_of_an_ellipsoid() -> Result<()> {
        let (x, basis) = ellipsoid(20_000);
        let pca = Pca::fit(&x, 5, 2, 50)?;
        for (j, want) in [9.0, 4.0].iter().enumerate() {
            assert!(
                (pca.variances[j] - want).abs() < 0.05 * want,
                "{:?}",
                pca.variances
            );
            let dot: f64 = (0..5)
                .map(|r| pca.components[j * 5 + r] as f64 * basis[r * 5 + j])
                .sum();
            assert!(dot.abs() > 0.999, "component {j}: |cos| = {}", dot.abs());
        }
        assert!(
            (pca.total_variance - 14.26).abs() < 0.3,
            "{}",
            pca.total_variance
        );
        // The error of the projection is the variance left out: 1 + 0.25 + 0.01 per row.
        let r = pca.reconstruct(&x)?;
        let err = x
            .iter()
            .zip(&r)
            .map(|(a, b)| (a - b).powi(2) as f64)
            .sum::<f64>()
            / 20_000.0;
        assert!((err - 1.26).abs() < 0.05, "{err}");
        assert!((pca.mean[0] - 1.0).abs() < 0.1);
        Ok(())
    }

    #[test]
    fn pca_refuses_bad_sizes() {
        assert!(Pca::fit(&[1.0; 10], 5, 0, 5).is_err());
        assert!(Pca::fit(&[1.0; 10], 5, 6, 5).is_err());
        assert!(Pca::fit(&[1.0; 9], 5, 2, 5).is_err());
        let pca = Pca::fit(&[1.0, 2.0, 3.0, 4.0, 0.0, 1.0], 2, 1, 5).unwrap();
        assert!(pca.transform(&[1.0; 3]).is_err());
    }
}
