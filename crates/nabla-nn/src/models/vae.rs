//! The variational autoencoder of Kingma & Welling (2014), in the 784-400-20 form of
//! PyTorch's example: a Gaussian encoder `q(z|x)`, the reparameterization trick, and a
//! Bernoulli decoder `p(x|z)`.

use super::autoencoder::flat;
use crate::layers::Linear;
use crate::loss::{bce_with_logits, gaussian_kl, Reduction};
use crate::{Error, Module, Path, Result};
use nabla::Tensor;

/// Sizes of a [`Vae`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VaeConfig {
    /// Input features (784 for MNIST).
    pub inputs: usize,
    /// The hidden layer of the encoder and of the decoder.
    pub hidden: usize,
    /// Latent dimensions.
    pub latent: usize,
}

impl Default for VaeConfig {
    /// PyTorch's example: 784-400-20.
    fn default() -> Self {
        VaeConfig {
            inputs: 784,
            hidden: 400,
            latent: 20,
        }
    }
}

impl VaeConfig {
    /// Splits a packed output `[n, inputs + 2·latent]` into its parts (views).
    ///
    /// # Errors
    /// When `out` is not of that shape.
    pub fn unpack(&self, out: &Tensor) -> Result<VaeOutput> {
        let VaeConfig { inputs, latent, .. } = *self;
        if out.rank() != 2 || out.dims()[1] != inputs + 2 * latent {
            return Err(Error::shape(
                "vae",
                format!("a packed output [n, {}]", inputs + 2 * latent),
                out.shape(),
            ));
        }
        Ok(VaeOutput {
            logits: out.narrow(1, 0, inputs)?,
            mu: out.narrow(1, inputs, latent)?,
            logvar: out.narrow(1, inputs + latent, latent)?,
        })
    }

    /// The negative evidence lower bound per image: Bernoulli reconstruction cross-entropy
    /// summed over the pixels plus `KL(q(z|x) ‖ N(0, I))`, averaged over the batch (nats per
    /// image; PyTorch's example reports the same quantity).
    ///
    /// # Errors
    /// When shapes disagree.
    pub fn loss(&self, out: &Tensor, x: &Tensor) -> Result<Tensor> {
        let o = self.unpack(out)?;
        let n = o.logits.dims()[0].max(1) as f64;
        let target = flat(x, self.inputs, "vae")?;
        let bce = bce_with_logits(&o.logits, &target, Reduction::Sum)?;
        let kl = gaussian_kl(&o.mu, &o.logvar, Reduction::Sum)?;
        Ok(bce.add(&kl)?.div_scalar(n)?)
    }
}

/// `fc1` (inputs → hidden, ReLU), `fc21`/`fc22` (hidden → μ, log σ²), `fc3` (latent →
/// hidden, ReLU), `fc4` (hidden → inputs, logits of the Bernoulli means): the variable names
/// of PyTorch's `examples/vae/main.py`, so its `state_dict` loads as it is.
pub struct Vae {
    fc1: Linear,
    fc21: Linear,
    fc22: Linear,
    fc3: Linear,
    fc4: Linear,
    /// The sizes.
    pub config: VaeConfig,
}

/// The parts of [`Vae::forward_t`]'s packed output.
pub struct VaeOutput {
    /// Reconstruction logits `[n, inputs]`.
    pub logits: Tensor,
    /// Means of `q(z|x)`, `[n, latent]`.
    pub mu: Tensor,
    /// Log-variances of `q(z|x)`, `[n, latent]`.
    pub logvar: Tensor,
}

impl Vae {
    /// A freshly initialized VAE under `p`.
    ///
    /// # Errors
    /// When a size is zero or the names exist already.
    pub fn new(p: &Path, c: VaeConfig) -> Result<Vae> {
        if c.inputs == 0 || c.hidden == 0 || c.latent == 0 {
            return Err(Error::invalid(
                "vae",
                format!("sizes must be positive: {c:?}"),
            ));
        }
        Ok(Vae {
            fc1: Linear::new(&p.sub("fc1"), c.inputs, c.hidden, true)?,
            fc21: Linear::new(&p.sub("fc21"), c.hidden, c.latent, true)?,
            fc22: Linear::new(&p.sub("fc22"), c.hidden, c.latent, true)?,
            fc3: Linear::new(&p.sub("fc3"), c.latent, c.hidden, true)?,
            fc4: Linear::new(&p.sub("fc4"), c.hidden, c.inputs, true)?,
            config: c,
        })
    }

    /// `(μ, log σ²)`, each `[n, latent]`, of a batch `[n, ...]`.
    ///
    /// # Errors
    /// When an example does not hold `inputs` values.
    pub fn encode(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = self
            .fc1
            .forward(&flat(x, self.config.inputs, "vae")?)?
            .relu()?;
        Ok((self.fc21.forward(&h)?, self.fc22.forward(&h)?))
    }

    /// Reconstruction logits `[n, inputs]` of codes `z` (`[n, latent]`).
    ///
    /// # Errors
    /// When `z` is not `[n, latent]`.
    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor> {
        check_codes("vae", z, self.config.latent)?;
        self.fc4.forward(&self.fc3.forward(z)?.relu()?)
    }

    /// `n` new images `[n, inputs]` in `[0, 1]` (Bernoulli means) decoded from `z ~ N(0, I)`
    /// drawn from the thread's generator (seed it with `nabla::manual_seed`).
    ///
    /// # Errors
    /// Engine errors only.
    pub fn sample(&self, n: usize) -> Result<Tensor> {
        prior_sample(n, self.config.latent, &self.fc3.weight.tensor(), |z| {
            self.decode_logits(z)
        })
    }
}

/// Refuses codes that are not `[n, latent]`.
pub(crate) fn check_codes(op: &'static str, z: &Tensor, latent: usize) -> Result<()> {
    if z.rank() != 2 || z.dims()[1] != latent {
        return Err(Error::shape(op, format!("codes [n, {latent}]"), z.shape()));
    }
    Ok(())
}

/// `n` images in `[0, 1]` decoded from codes `z ~ N(0, I)` (`[n, latent]`, the thread's
/// generator) drawn where `like` (a decoder weight) lives, in its dtype.
pub(crate) fn prior_sample(
    n: usize,
    latent: usize,
    like: &Tensor,
    decode_logits: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let z = Tensor::randn(&[n, latent], like.dtype(), &like.device())?;
    Ok(nabla::no_grad(|| decode_logits(&z))?.sigmoid()?)
}

impl Module for Vae {
    /// The packed output `[n, inputs + 2·latent]`: reconstruction logits, μ and log σ² side by
    /// side (one tensor, so the generic trainer can carry it to [`VaeConfig::loss`]; split it with
    /// [`VaeConfig::unpack`]). The code is sampled as `z = μ + σ·ε`, `ε ~ N(0, I)`, in training and
    /// in evaluation alike, as PyTorch's example does, so that the test loss is the same
    /// one-sample estimate of the bound.
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let (mu, logvar) = self.encode(x)?;
        packed_output(&mu, &logvar, |z| self.decode_logits(z))
    }
}

/// The reparameterization trick and the packed output of a VAE: `z = μ + σ·ε` with
/// `ε ~ N(0, I)` from the thread's generator, decoded to logits `[n, inputs]`, returned as
/// `[n, inputs + 2·latent]` (logits, μ, log σ²) for [`VaeConfig::loss`].
///
/// # Errors
/// Those of `decode_logits`.
pub fn packed_output(
    mu: &Tensor,
    logvar: &Tensor,
    decode_logits: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let eps = Tensor::randn(mu.dims(), mu.dtype(), &mu.device())?;
    let z = mu.add(&logvar.mul_scalar(0.5)?.exp()?.mul(&eps)?)?;
    let logits = decode_logits(&z)?;
    let n = mu.dims()[0];
    let logits = logits.reshape(&[n, logits.numel() / n.max(1)])?;
    Ok(Tensor::cat(&[&logits, mu, logvar], 1)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, Optimizer};
    use crate::testing::gradcheck_vars;
    use crate::VarStore;
    use nabla::{DType, Device};

    fn small() -> VaeConfig {
        VaeConfig {
            inputs: 12,
            hidden: 8,
            latent: 2,
        }
    }

    #[test]
    fn vae_has_pytorch_names_and_its_sampler_gives_images_in_range() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let vae = Vae::new(&vs.root(), VaeConfig::default())?;
        let mut names: Vec<String> = vs.vars().iter().map(|v| v.name().to_string()).collect();
        names.sort();
        assert_eq!(names.len(), 10);
        assert_eq!(names[0], "fc1.bias");
        assert_eq!(names[9], "fc4.weight");
        nabla::manual_seed(3);
        let s = vae.sample(5)?;
        assert_eq!(s.dims(), &[5, 784]);
        assert!(s.to_vec::<f32>()?.iter().all(|v| (0.0..=1.0).contains(v)));
        let x = Tensor::rand(&[2, 1, 28, 28], DType::F32, &Device::Cpu)?;
        let out = vae.forward(&x)?;
        assert_eq!(out.dims(), &[2, 784 + 40]);
        assert!(vae.config.loss(&out, &x)?.to_scalar::<f32>()? > 0.0);
        assert!(vae
            .decode_logits(&Tensor::rand(&[2, 3], DType::F32, &Device::Cpu)?)
            .is_err());
        Ok(())
    }

    #[test]
    fn vae_loss_gradient_matches_finite_differences() -> Result<()> {
        // The reparameterized sample is redrawn on every call: fix the generator before each,
        // so that finite differences see the same ε as autograd.
        let vs = VarStore::with_dtype(&Device::Cpu, DType::F64);
        let vae = Vae::new(&vs.root(), small())?;
        let x = nabla::testing::randn(&[3, 12], 5)?.sigmoid()?;
        gradcheck_vars(&vs, &[], |_| {
            nabla::manual_seed(11);
            vae.config.loss(&vae.forward(&x)?, &x)
        })
    }

    #[test]
    fn vae_training_lowers_its_loss() -> Result<()> {
        nabla::manual_seed(0);
        let vs = VarStore::new(&Device::Cpu);
        let vae = Vae::new(&vs.root(), small())?;
        let x: Vec<f32> = (0..40 * 12)
            .map(|i| (((i % 12) + (i / 12) % 2) % 3 == 0) as u8 as f32)
            .collect();
        let x = Tensor::from_vec(x, &[40, 12], &Device::Cpu)?;
        let mut opt = Adam::new(vs.trainable(), 1e-2);
        let eval = |vae: &Vae| -> Result<f32> {
            nabla::manual_seed(1);
            Ok(vae.config.loss(&vae.forward(&x)?, &x)?.to_scalar::<f32>()?)
        };
        let first = eval(&vae)?;
        for _ in 0..100 {
            let loss = vae.config.loss(&vae.forward_t(&x, true)?, &x)?;
            opt.step(&loss.backward()?)?;
        }
        let last = eval(&vae)?;
        assert!(last < 0.6 * first, "{first} -> {last}");
        Ok(())
    }
}
