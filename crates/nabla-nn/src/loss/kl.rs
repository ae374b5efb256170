//! The Kullback–Leibler divergence of a diagonal Gaussian from the standard normal, the
//! regularizer of a variational autoencoder.

use super::Reduction;
use crate::{Error, Result};
use nabla::Tensor;

/// `KL(N(μ, σ²) ‖ N(0, 1)) = −½ (1 + log σ² − μ² − σ²)` per latent dimension, from the
/// encoder's means `mu` and log-variances `logvar` (same shape, e.g. `[n, latent]`), then
/// reduced: `Reduction::Sum` gives the total over the batch as in Kingma & Welling (2014),
/// appendix B, and PyTorch's VAE example.
///
/// # Errors
/// When the shapes differ.
pub fn gaussian_kl(mu: &Tensor, logvar: &Tensor, reduction: Reduction) -> Result<Tensor> {
    if mu.shape() != logvar.shape() {
        return Err(Error::shape(
            "gaussian_kl",
            "mu and logvar of the same shape",
            format!("{} and {}", mu.shape(), logvar.shape()),
        ));
    }
    let per = logvar
        .add_scalar(1.0)?
        .sub(&mu.sqr()?)?
        .sub(&logvar.exp()?)?
        .mul_scalar(-0.5)?;
    reduction.apply(&per)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::gradcheck_vars;
    use crate::VarStore;
    use nabla::testing::randn;
    use nabla::{DType, Device, Tensor};

    fn t(v: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn gaussian_kl_matches_pytorch() -> Result<()> {
        // -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp()) = 3.7185717 (PyTorch 2.15) for
        // mu = [[0.5, -1, 0], [2, 0.3, -0.2]], lv = [[0.1, -0.5, 0], [1, -2, 0.4]].
        let mu = t(&[0.5, -1.0, 0.0, 2.0, 0.3, -0.2], &[2, 3]);
        let lv = t(&[0.1, -0.5, 0.0, 1.0, -2.0, 0.4], &[2, 3]);
        let kl = gaussian_kl(&mu, &lv, Reduction::Sum)?.to_scalar::<f32>()?;
        assert!((kl - 3.718_571_7).abs() < 1e-5, "{kl}");
        // The standard normal itself is at distance 0.
        let z = t(&[0.0; 4], &[2, 2]);
        assert_eq!(
            gaussian_kl(&z, &z, Reduction::Sum)?.to_scalar::<f32>()?,
            0.0
        );
        assert!(gaussian_kl(&mu, &t(&[0.0; 3], &[3]), Reduction::Sum).is_err());
        Ok(())
    }

    #[test]
    fn gaussian_kl_gradient_matches_finite_differences() -> Result<()> {
        let vs = VarStore::with_dtype(&Device::Cpu, DType::F64);
        let (mu, logvar) = (randn(&[3, 4], 1)?, randn(&[3, 4], 2)?);
        gradcheck_vars(&vs, &[mu, logvar], |xs| {
            gaussian_kl(&xs[0], &xs[1], Reduction::Sum)
        })
    }
}
