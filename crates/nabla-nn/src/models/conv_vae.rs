//! A convolutional variational autoencoder for `1 × 28 × 28` images: two stride-2
//! convolutions down to `64 × 7 × 7`, Gaussian codes, and two stride-2 transposed
//! convolutions back up, with the loss and sampler of the fully connected [`Vae`](super::vae::Vae).

use super::blocks::{doubling, halving};
use super::vae::{check_codes, packed_output, prior_sample, VaeConfig};
use crate::layers::{Conv2d, ConvTranspose2d, Linear};
use crate::{Error, Module, Path, Result};
use nabla::Tensor;

/// Channels after the first and the second convolution.
const CHANNELS: [usize; 2] = [32, 64];

/// `conv1` (1 → 32, 4 × 4, stride 2, 28 → 14), `conv2` (32 → 64, 14 → 7), `fc_mu` and
/// `fc_logvar` (3136 → latent); `fc_dec` (latent → 3136), `deconv1` (64 → 32, 7 → 14),
/// `deconv2` (32 → 1, 14 → 28, logits). ReLU after every layer but the codes and the logits.
pub struct ConvVae {
    conv1: Conv2d,
    conv2: Conv2d,
    fc_mu: Linear,
    fc_logvar: Linear,
    fc_dec: Linear,
    deconv1: ConvTranspose2d,
    deconv2: ConvTranspose2d,
    /// `inputs` (784), `latent`, and as `hidden` the width of the flattened feature maps (3136).
    pub config: VaeConfig,
}

impl ConvVae {
    /// A fresh model for 28 × 28 one-channel images with `latent` dimensions.
    ///
    /// # Errors
    /// When `latent` is zero or the names exist already.
    pub fn new(p: &Path, latent: usize) -> Result<ConvVae> {
        if latent == 0 {
            return Err(Error::out_of_range(
                "conv-vae",
                "the latent size",
                "at least 1",
                0,
            ));
        }
        let [c1, c2] = CHANNELS;
        let flat = c2 * 7 * 7;
        Ok(ConvVae {
            conv1: Conv2d::new(&p.sub("conv1"), 1, c1, 4, halving(), true)?,
            conv2: Conv2d::new(&p.sub("conv2"), c1, c2, 4, halving(), true)?,
            fc_mu: Linear::new(&p.sub("fc_mu"), flat, latent, true)?,
            fc_logvar: Linear::new(&p.sub("fc_logvar"), flat, latent, true)?,
            fc_dec: Linear::new(&p.sub("fc_dec"), latent, flat, true)?,
            deconv1: ConvTranspose2d::new(&p.sub("deconv1"), c2, c1, 4, doubling(), true)?,
            deconv2: ConvTranspose2d::new(&p.sub("deconv2"), c1, 1, 4, doubling(), true)?,
            config: VaeConfig {
                inputs: 28 * 28,
                hidden: flat,
                latent,
            },
        })
    }

    /// `(μ, log σ²)`, each `[n, latent]`, of images `[n, 1, 28, 28]` (or `[n, 784]`).
    ///
    /// # Errors
    /// When an example does not hold 784 values.
    pub fn encode(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let n = x.dims().first().copied().unwrap_or(0);
        if x.numel() != n * 784 || x.rank() < 2 {
            return Err(Error::shape(
                "conv-vae",
                "28 × 28 one-channel images [n, 1, 28, 28]",
                x.shape(),
            ));
        }
        let x = x.reshape(&[n, 1, 28, 28])?;
        let h = self.conv1.forward(&x)?.relu()?;
        let h = self
            .conv2
            .forward(&h)?
            .relu()?
            .reshape(&[n, CHANNELS[1] * 49])?;
        Ok((self.fc_mu.forward(&h)?, self.fc_logvar.forward(&h)?))
    }

    /// Reconstruction logits `[n, 784]` of codes `z` (`[n, latent]`).
    ///
    /// # Errors
    /// When `z` is not `[n, latent]`.
    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor> {
        check_codes("conv-vae", z, self.config.latent)?;
        let n = z.dims()[0];
        let h = self
            .fc_dec
            .forward(z)?
            .relu()?
            .reshape(&[n, CHANNELS[1], 7, 7])?;
        let h = self.deconv1.forward(&h)?.relu()?;
        Ok(self.deconv2.forward(&h)?.reshape(&[n, 784])?)
    }

    /// `n` new images `[n, 784]` in `[0, 1]` decoded from `z ~ N(0, I)` (the thread's
    /// generator).
    ///
    /// # Errors
    /// Engine errors only.
    pub fn sample(&self, n: usize) -> Result<Tensor> {
        prior_sample(n, self.config.latent, &self.fc_dec.weight.tensor(), |z| {
            self.decode_logits(z)
        })
    }
}

impl Module for ConvVae {
    /// The packed output `[n, 784 + 2·latent]` of [`VaeConfig::loss`], as the `Vae`'s.
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let (mu, logvar) = self.encode(x)?;
        packed_output(&mu, &logvar, |z| self.decode_logits(z))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, Optimizer};
    use crate::VarStore;
    use nabla::{DType, Device};

    #[test]
    fn conv_vae_shapes_samples_and_refusals() -> Result<()> {
        nabla::manual_seed(0);
        let vs = VarStore::new(&Device::Cpu);
        let m = ConvVae::new(&vs.root(), 3)?;
        let x = Tensor::rand(&[2, 1, 28, 28], DType::F32, &Device::Cpu)?;
        assert_eq!(m.forward(&x)?.dims(), &[2, 784 + 6]);
        let s = m.sample(4)?;
        assert_eq!(s.dims(), &[4, 784]);
        assert!(s.to_vec::<f32>()?.iter().all(|p| (0.0..=1.0).contains(p)));
        assert!(m
            .encode(&Tensor::rand(&[2, 1, 20, 20], DType::F32, &Device::Cpu)?)
            .is_err());
        assert!(ConvVae::new(&vs.root().sub("zero"), 0).is_err());
        Ok(())
    }

    #[test]
    fn conv_vae_training_lowers_its_loss() -> Result<()> {
        nabla::manual_seed(0);
        let vs = VarStore::new(&Device::Cpu);
        let m = ConvVae::new(&vs.root(), 2)?;
        // 8 images: a bright square in one of two places.
        let x: Vec<f32> = (0..8 * 784)
            .map(|i| {
                let (img, r, c) = (i / 784, (i % 784) / 28, i % 28);
                let at = if img % 2 == 0 { 4 } else { 16 };
                ((at..at + 8).contains(&r) && (at..at + 8).contains(&c)) as u8 as f32
            })
            .collect();
        let x = Tensor::from_vec(x, &[8, 1, 28, 28], &Device::Cpu)?;
        let mut opt = Adam::new(vs.trainable(), 3e-3);
        let first = m.config.loss(&m.forward(&x)?, &x)?.to_scalar::<f32>()?;
        for _ in 0..40 {
            let loss = m.config.loss(&m.forward_t(&x, true)?, &x)?;
            opt.step(&loss.backward()?)?;
        }
        let last = m.config.loss(&m.forward(&x)?, &x)?.to_scalar::<f32>()?;
        assert!(last < 0.5 * first, "{first} -> {last}");
        Ok(())
    }
}
