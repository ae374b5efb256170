//! The unsupervised image models of the CLI (`ae`, `dae`, `vae`, `conv-vae`, `rbm`, `dcgan`): which names exist, how each
//! is built from a run config, its loss, and which can draw new images.

use crate::run_config::RunConfig;
use anyhow::{bail, Result};
use nabla::Tensor;
use nabla_nn::models::autoencoder::{reconstruction_bce, Autoencoder, DEEP_AUTOENCODER_SIZES};
use nabla_nn::models::conv_vae::ConvVae;
use nabla_nn::models::dae::DenoisingAutoencoder;
use nabla_nn::models::dcgan::{Dcgan, DcganConfig};
use nabla_nn::models::rbm::Rbm;
use nabla_nn::models::vae::{Vae, VaeConfig};
use nabla_nn::trainer::LossFn;
use nabla_nn::{Module, VarStore};
use std::ops::RangeInclusive;

/// The unsupervised models `nabla train --model` accepts, with what each is.
pub const MODELS: &[(&str, &str)] = &[
    (
        "ae",
        "deep autoencoder 784-1000-500-250-30 (Hinton & Salakhutdinov 2006), ReLU, linear code",
    ),
    (
        "dae",
        "the deep autoencoder trained as a denoising autoencoder (25% of the pixels set to 0)",
    ),
    (
        "vae",
        "variational autoencoder 784-400-20 (Kingma & Welling 2014), PyTorch's example",
    ),
    (
        "conv-vae",
        "convolutional VAE for 28x28 images: 2 stride-2 convolutions, 20-d codes, 2 transposed convolutions",
    ),
    (
        "rbm",
        "restricted Boltzmann machine 784-500, binary units, CD-k or persistent CD (--cd-k, --persistent)",
    ),
    (
        "dcgan",
        "DCGAN for 28x28 images: generator z(100)-64x7x7-32x14x14-1x28x28 (transposed convolutions, batch norm, ReLU, tanh), discriminator of 2 stride-2 convolutions (LeakyReLU 0.2, batch norm); Adam 2e-4, beta1 0.5",
    ),
];

/// Fraction of the pixels `--model dae` sets to zero in training (the protocols' masking
/// noise).
pub const DAE_NOISE: f64 = 0.25;

/// Hidden units of `--model rbm` (the 500-hidden RBM).
pub const RBM_HIDDEN: usize = 500;

/// The image models `nabla sample` can draw from.
pub const SAMPLERS: &[&str] = &["vae", "conv-vae", "rbm", "dcgan"];

/// The widths `--gan-width` takes, and a run's config.json must hold (even ones only: the
/// generator's 14x14 maps have half as many channels).
pub const GAN_WIDTHS: RangeInclusive<u64> = 4..=1024;
/// The hidden-layer sizes `--gan-hidden` takes, and a run's config.json must hold (0: no
/// hidden layers).
pub const GAN_HIDDEN: RangeInclusive<u64> = 0..=8192;
/// The latent sizes `--latent` takes, and a run's config.json must hold.
pub const LATENT_SIZES: RangeInclusive<u64> = 1..=4096;

/// Whether `w` is a DCGAN width: even and in [`GAN_WIDTHS`].
pub fn is_gan_width(w: u64) -> bool {
    GAN_WIDTHS.contains(&w) && w.is_multiple_of(2)
}

/// `training.{field}` of a run's config.json: `absent` when the run has none (it predates
/// the flag), the value when `valid` takes it, else an error naming the field, its value and
/// `expected` (an edited config.json is refused before anything is allocated).
fn config_size(
    cfg: &RunConfig,
    field: &str,
    absent: usize,
    valid: impl Fn(u64) -> bool,
    expected: &str,
) -> Result<usize> {
    let value = &cfg.training[field];
    match value.as_u64() {
        None if value.is_null() => Ok(absent),
        Some(n) if valid(n) => Ok(n as usize),
        _ => bail!("config.json: training.{field} is {value}; {expected}"),
    }
}

/// The sizes of a DCGAN run, refusing a width or hidden size that the flags would not take.
/// Runs from before `--gan-width` have the default width, runs from before `--gan-hidden`
/// no hidden layers (they were trained without them).
fn gan_config(cfg: &RunConfig) -> Result<DcganConfig> {
    let hidden = config_size(
        cfg,
        "gan_hidden",
        0,
        |h| GAN_HIDDEN.contains(&h),
        &format!(
            "a DCGAN run's hidden layers have from {} to {} units",
            GAN_HIDDEN.start(),
            GAN_HIDDEN.end()
        ),
    )?;
    let width = config_size(
        cfg,
        "gan_width",
        DcganConfig::default().g_channels,
        is_gan_width,
        &format!(
            "a DCGAN run's width is an even number from {} to {}",
            GAN_WIDTHS.start(),
            GAN_WIDTHS.end()
        ),
    )?;
    Ok(DcganConfig::of_width(width, hidden))
}

/// The latent dimensions of a VAE run (runs from before `--latent` existed have 20),
/// refusing a size that `--latent` would not take.
fn latent(cfg: &RunConfig) -> Result<usize> {
    config_size(
        cfg,
        "latent",
        20,
        |n| LATENT_SIZES.contains(&n),
        &format!(
            "a VAE's latent size is from {} to {}",
            LATENT_SIZES.start(),
            LATENT_SIZES.end()
        ),
    )
}

/// Whether `name` is one of [`MODELS`].
pub fn is_unsupervised(name: &str) -> bool {
    MODELS.iter().any(|(m, _)| *m == name)
}

/// A built unsupervised model.
pub enum Unsupervised {
    /// `ae`.
    Ae(Autoencoder),
    /// `dae`.
    Dae(DenoisingAutoencoder),
    /// `vae`.
    Vae(Vae),
    /// `conv-vae`.
    ConvVae(ConvVae),
    /// `rbm`.
    Rbm(Rbm),
    /// `dcgan` (boxed: its two networks make it the largest variant).
    Dcgan(Box<Dcgan>),
}

impl Unsupervised {
    /// Builds `cfg.model` for inputs of `cfg.input_shape` into a fresh store.
    pub fn build(cfg: &RunConfig) -> Result<(VarStore, Unsupervised)> {
        let inputs: usize = cfg.input_shape.iter().product();
        let vs = VarStore::new(&super::device());
        let model = match cfg.model.as_str() {
            "ae" | "dae" => {
                let mut sizes = DEEP_AUTOENCODER_SIZES;
                sizes[0] = inputs;
                let ae = Autoencoder::new(&vs.root(), &sizes)?;
                if cfg.model == "dae" {
                    Unsupervised::Dae(DenoisingAutoencoder::new(ae, DAE_NOISE)?)
                } else {
                    Unsupervised::Ae(ae)
                }
            }
            "vae" => Unsupervised::Vae(Vae::new(
                &vs.root(),
                VaeConfig {
                    inputs,
                    latent: latent(cfg)?,
                    ..VaeConfig::default()
                },
            )?),
            "conv-vae" => {
                if cfg.input_shape != [1, 28, 28] {
                    bail!(
                        "--model conv-vae takes 28x28 one-channel images; '{}' has examples of shape {:?}",
                        cfg.data,
                        cfg.input_shape
                    );
                }
                Unsupervised::ConvVae(ConvVae::new(&vs.root(), latent(cfg)?)?)
            }
            "rbm" => Unsupervised::Rbm(Rbm::new(&vs.root(), inputs, RBM_HIDDEN)?),
            "dcgan" => {
                if cfg.input_shape != [1, 28, 28] {
                    bail!(
                        "--model dcgan takes 28x28 one-channel images; '{}' has examples of shape {:?}",
                        cfg.data,
                        cfg.input_shape
                    );
                }
                Unsupervised::Dcgan(Box::new(Dcgan::new(&vs.root(), gan_config(cfg)?)?))
            }
            other => bail!(
                "'{other}' is not an unsupervised model; they are: {}",
                names(MODELS.iter().map(|m| m.0))
            ),
        };
        Ok((vs, model))
    }

    /// The model as a module (its forward gives what [`Unsupervised::loss`] takes).
    pub fn module(&self) -> &dyn Module {
        match self {
            Unsupervised::Ae(m) => m,
            Unsupervised::Dae(m) => m,
            Unsupervised::Vae(m) => m,
            Unsupervised::ConvVae(m) => m,
            Unsupervised::Rbm(m) => m,
            Unsupervised::Dcgan(m) => m.as_ref(),
        }
    }

    /// The training loss of the module's output against the input batch, in nats per image:
    /// the reconstruction cross-entropy for the autoencoder, the negative ELBO for the VAE;
    /// `None` for the RBM, which follows contrastive divergence rather than a loss's gradient,
    /// and the GAN, whose two networks take turns with losses of their own.
    pub fn loss(&self) -> Option<LossFn> {
        match self {
            Unsupervised::Ae(_) | Unsupervised::Dae(_) => Some(Box::new(reconstruction_bce)),
            Unsupervised::Vae(Vae { config: c, .. })
            | Unsupervised::ConvVae(ConvVae { config: c, .. }) => {
                let c = *c;
                Some(Box::new(move |out, x| c.loss(out, x)))
            }
            Unsupervised::Rbm(_) | Unsupervised::Dcgan(_) => None,
        }
    }

    /// Reconstructions `[n, d]` in `[0, 1]` of a batch (the VAE decodes the mean code, the
    /// RBM goes up and down once with probabilities).
    pub fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        nabla::no_grad(|| match self {
            Unsupervised::Ae(m) => Ok(m.reconstruct(x)?),
            Unsupervised::Dae(m) => Ok(m.ae.reconstruct(x)?),
            Unsupervised::Vae(m) => Ok(m.decode_logits(&m.encode(x)?.0)?.sigmoid()?),
            Unsupervised::ConvVae(m) => Ok(m.decode_logits(&m.encode(x)?.0)?.sigmoid()?),
            Unsupervised::Rbm(m) => Ok(m.reconstruct(x)?),
            Unsupervised::Dcgan(_) => bail!("a GAN has no encoder: it cannot reconstruct"),
        })
    }

    /// Images `[n, d]` in `[0, 1]` decoded from codes `[n, code]` (the RBM's hidden
    /// probabilities give its visible probabilities).
    pub fn decode(&self, code: &Tensor) -> Result<Tensor> {
        nabla::no_grad(|| match self {
            Unsupervised::Ae(m) => Ok(m.decoder.forward(code)?.sigmoid()?),
            Unsupervised::Dae(m) => Ok(m.ae.decoder.forward(code)?.sigmoid()?),
            Unsupervised::Vae(m) => Ok(m.decode_logits(code)?.sigmoid()?),
            Unsupervised::ConvVae(m) => Ok(m.decode_logits(code)?.sigmoid()?),
            Unsupervised::Rbm(m) => Ok(m.visible_probs(code)?),
            Unsupervised::Dcgan(m) => Ok(m
                .forward(code)?
                .add_scalar(1.0)?
                .mul_scalar(0.5)?
                .reshape(&[code.dims()[0], 784])?),
        })
    }

    /// The codes `[n, code]` of a batch (the VAE's posterior means, the RBM's hidden
    /// probabilities).
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        nabla::no_grad(|| match self {
            Unsupervised::Ae(m) => Ok(m.encode(x)?),
            Unsupervised::Dae(m) => Ok(m.ae.encode(x)?),
            Unsupervised::Vae(m) => Ok(m.encode(x)?.0),
            Unsupervised::ConvVae(m) => Ok(m.encode(x)?.0),
            Unsupervised::Rbm(m) => Ok(m.hidden_probs(x)?),
            Unsupervised::Dcgan(_) => bail!("a GAN has no encoder: it maps codes to images only"),
        })
    }
}

/// `a, b or c`.
pub fn names<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = items.collect();
    match v.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}
