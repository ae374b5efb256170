//! A denoising autoencoder (Vincent et al. 2008): an autoencoder trained to rebuild its clean
//! input from a copy with a random fraction of the values set to zero (masking noise).

use super::autoencoder::Autoencoder;
use super::rbm::bernoulli;
use crate::{Error, Module, Result};
use nabla::Tensor;

/// An [`Autoencoder`] whose training passes corrupt the input; inference passes do not.
/// Its variables are the autoencoder's (`encoder.0.weight`, ...), so its weights load into a
/// plain `Autoencoder` and the other way round.
pub struct DenoisingAutoencoder {
    /// The network.
    pub ae: Autoencoder,
    /// Fraction of input values set to zero in training, in `[0, 1)`.
    pub noise: f64,
}

impl DenoisingAutoencoder {
    /// Wraps `ae` with masking noise `noise`.
    ///
    /// # Errors
    /// When `noise` is not in `[0, 1)`.
    pub fn new(ae: Autoencoder, noise: f64) -> Result<DenoisingAutoencoder> {
        if !(0.0..1.0).contains(&noise) {
            return Err(Error::out_of_range(
                "denoising autoencoder",
                "the masking noise",
                "in [0, 1)",
                noise,
            ));
        }
        Ok(DenoisingAutoencoder { ae, noise })
    }

    /// `x` with each value kept with probability `1 − noise` and set to 0 otherwise (no
    /// rescaling: the network must rebuild the values, not their expectation).
    ///
    /// # Errors
    /// Engine errors only.
    pub fn corrupt(&self, x: &Tensor) -> Result<Tensor> {
        let keep = Tensor::full(1.0 - self.noise, x.dims(), x.dtype(), &x.device());
        Ok(x.mul(&bernoulli(&keep)?)?)
    }
}

impl Module for DenoisingAutoencoder {
    /// Reconstruction logits `[n, inputs]`: of a corrupted copy of `x` when `train`, of `x`
    /// itself otherwise.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if train && self.noise > 0.0 {
            self.ae.forward_t(&self.corrupt(x)?, train)
        } else {
            self.ae.forward_t(x, train)
        }
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.ae.children()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::autoencoder::reconstruction_bce;
    use crate::optim::{Adam, Optimizer};
    use crate::VarStore;
    use nabla::{DType, Device};

    #[test]
    fn masking_zeroes_about_the_noise_fraction_and_only_in_training() -> Result<()> {
        nabla::manual_seed(0);
        let vs = VarStore::new(&Device::Cpu);
        let dae = DenoisingAutoencoder::new(Autoencoder::new(&vs.root(), &[100, 8])?, 0.3)?;
        let x = Tensor::ones(&[50, 100], DType::F32, &Device::Cpu);
        let kept = dae.corrupt(&x)?.sum_all()?.to_scalar::<f32>()? / 5000.0;
        assert!((kept - 0.7).abs() < 0.03, "{kept}");
        let a = dae.forward_t(&x, false)?.to_vec::<f32>()?;
        let b = dae.ae.forward(&x)?.to_vec::<f32>()?;
        assert_eq!(a, b);
        assert!(
            DenoisingAutoencoder::new(Autoencoder::new(&vs.root().sub("b"), &[4, 2])?, 1.0)
                .is_err()
        );
        Ok(())
    }

    #[test]
    fn denoising_training_learns_to_rebuild_clean_inputs() -> Result<()> {
        nabla::manual_seed(0);
        let vs = VarStore::new(&Device::Cpu);
        let dae = DenoisingAutoencoder::new(Autoencoder::new(&vs.root(), &[16, 8, 4])?, 0.25)?;
        // Two binary prototypes, 32 examples.
        let x: Vec<f32> = (0..32 * 16)
            .map(|i| (((i % 16) + (i / 16) % 2) % 3 == 0) as u8 as f32)
            .collect();
        let x = Tensor::from_vec(x, &[32, 16], &Device::Cpu)?;
        let mut opt = Adam::new(vs.trainable(), 1e-2);
        let noisy = dae.corrupt(&x)?;
        let first = reconstruction_bce(&dae.forward(&noisy)?, &x)?.to_scalar::<f32>()?;
        for _ in 0..100 {
            let loss = reconstruction_bce(&dae.forward_t(&x, true)?, &x)?;
            opt.step(&loss.backward()?)?;
        }
        // Corrupted inputs now come back close to their clean prototypes.
        let last = reconstruction_bce(&dae.forward(&noisy)?, &x)?.to_scalar::<f32>()?;
        assert!(last < 0.3 * first, "{first} -> {last}");
        Ok(())
    }
}
