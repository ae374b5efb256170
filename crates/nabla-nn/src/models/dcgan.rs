//! A deep convolutional GAN (Radford, Metz & Chintala 2016) for `1 × 28 × 28` digits: a
//! generator of transposed convolutions with batch norm and ReLU ending in `tanh`, a
//! discriminator of stride-2 convolutions with LeakyReLU(0.2) and batch norm ending in a
//! logit, and the alternating Adam updates of the non-saturating GAN losses. By default each
//! network also has one hidden fully connected layer with batch norm next to its code or
//! logit, as InfoGAN's MNIST networks (Chen et al. 2016) have.

use super::blocks::{doubling, halving};
use crate::layers::{BatchNorm, Conv2d, ConvTranspose2d, Linear};
use crate::loss::{bce_with_logits, Reduction};
use crate::optim::{Adam, Optimizer};
use crate::{Error, Module, Path, Result, Var, VarStore};
use nabla::{DType, Tensor};

/// The sizes of a [`Dcgan`]. The defaults are the recipe of the docs: 100-d codes, a
/// generator of `100 → 1024` → `64 × 7 × 7` → `32 × 14 × 14` → `1 × 28 × 28`, a
/// discriminator of `1 × 28 × 28` → `32 × 14 × 14` → `64 × 7 × 7` → `1024` → logit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DcganConfig {
    /// Dimensions of the code `z ~ N(0, I)`.
    pub latent: usize,
    /// Channels of the generator's `7 × 7` maps (its `14 × 14` maps have half as many).
    pub g_channels: usize,
    /// Channels of the discriminator's `14 × 14` maps (its `7 × 7` maps have twice as many).
    pub d_channels: usize,
    /// Units of the hidden fully connected layer (batch norm, then ReLU in the generator,
    /// LeakyReLU in the discriminator) between the code and the `7 × 7` maps, and between
    /// the discriminator's `7 × 7` maps and its logit; 0 for none (the DCGAN paper's layout,
    /// where the code maps linearly onto the maps and the maps linearly onto the logit).
    /// Without it the discriminator judges the digit's shape only through one linear
    /// template over local features, and the samples come out malformed and unevenly
    /// spread over the classes (docs/unsupervised.md measures both).
    pub hidden: usize,
}

impl Default for DcganConfig {
    fn default() -> Self {
        DcganConfig {
            latent: 100,
            g_channels: 64,
            d_channels: 32,
            hidden: 1024,
        }
    }
}

impl DcganConfig {
    /// The default latent size with `width` channels in the generator's `7 × 7` maps and
    /// half as many in the discriminator's `14 × 14` maps (64 is the default, 128 the
    /// DCGAN paper's widths at MNIST's size), and `hidden` units in each hidden layer (0:
    /// none).
    pub fn of_width(width: usize, hidden: usize) -> DcganConfig {
        DcganConfig {
            g_channels: width,
            d_channels: width / 2,
            hidden,
            ..DcganConfig::default()
        }
    }
}

/// A hidden fully connected layer without bias (batch norm follows it) and its batch norm,
/// named `{name}` and `bn_{name}`.
struct Hidden {
    fc: Linear,
    bn: BatchNorm,
}

impl Hidden {
    /// The layer (`None` for `units == 0`) and the width of what comes out of it: `units`,
    /// or `inputs` when there is no layer.
    fn new(p: &Path, name: &str, inputs: usize, units: usize) -> Result<(Option<Hidden>, usize)> {
        if units == 0 {
            return Ok((None, inputs));
        }
        let layer = Hidden {
            fc: Linear::new(&p.sub(name), inputs, units, false)?,
            bn: BatchNorm::new1d(&p.sub(format!("bn_{name}")), units)?,
        };
        Ok((Some(layer), units))
    }

    /// `bn(fc(x))`, `[n, units]` of `[n, inputs]`, before its activation.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.bn.forward_t(&self.fc.forward(x)?, train)
    }
}

/// The DCGAN paper's initialization: weights `N(0, 0.02²)`, batch-norm scales
/// `N(1, 0.02²)`, biases zero (PyTorch's DCGAN example applies the same `weights_init`).
fn dcgan_init(vars: &[Var]) -> Result<()> {
    for v in vars {
        let shape = v.leaf().dims().to_vec();
        let is_bn_scale = v.name().contains(".bn") && v.name().ends_with(".weight");
        let value = if v.name().ends_with(".bias") {
            Tensor::zeros(&shape, DType::F32, &v.leaf().device())
        } else {
            let mean = if is_bn_scale { 1.0 } else { 0.0 };
            Tensor::randn(&shape, DType::F32, &v.leaf().device())?
                .mul_scalar(0.02)?
                .add_scalar(mean)?
        };
        v.set(&value)?;
    }
    Ok(())
}

/// `z` (`[n, latent]`) → [`hidden` (no bias) → `bn_hidden`, ReLU →] `fc` (no bias) →
/// `[n, c, 7, 7]` → `bn0`, ReLU → `deconv1` (c → c/2, 7 → 14, no bias) → `bn1`, ReLU →
/// `deconv2` (c/2 → 1, 14 → 28) → `tanh`: images in `[-1, 1]`. Parameter names as a
/// PyTorch module with these attributes.
pub struct Generator {
    hidden: Option<Hidden>,
    fc: Linear,
    bn0: BatchNorm,
    deconv1: ConvTranspose2d,
    bn1: BatchNorm,
    deconv2: ConvTranspose2d,
    latent: usize,
    channels: usize,
}

impl Generator {
    fn new(p: &Path, c: &DcganConfig) -> Result<Generator> {
        let ch = c.g_channels;
        let (hidden, fc_inputs) = Hidden::new(p, "hidden", c.latent, c.hidden)?;
        Ok(Generator {
            hidden,
            fc: Linear::new(&p.sub("fc"), fc_inputs, ch * 49, false)?,
            bn0: BatchNorm::new2d(&p.sub("bn0"), ch)?,
            deconv1: ConvTranspose2d::new(&p.sub("deconv1"), ch, ch / 2, 4, doubling(), false)?,
            bn1: BatchNorm::new2d(&p.sub("bn1"), ch / 2)?,
            deconv2: ConvTranspose2d::new(&p.sub("deconv2"), ch / 2, 1, 4, doubling(), true)?,
            latent: c.latent,
            channels: ch,
        })
    }
}

impl Module for Generator {
    /// Images `[n, 1, 28, 28]` in `[-1, 1]` of codes `[n, latent]`.
    fn forward_t(&self, z: &Tensor, train: bool) -> Result<Tensor> {
        if z.rank() != 2 || z.dims()[1] != self.latent {
            return Err(Error::shape(
                "dcgan generator",
                format!("codes [n, {}]", self.latent),
                z.shape(),
            ));
        }
        let n = z.dims()[0];
        let z = match &self.hidden {
            Some(hidden) => hidden.forward_t(z, train)?.relu()?,
            None => z.clone(),
        };
        let h = self.fc.forward(&z)?.reshape(&[n, self.channels, 7, 7])?;
        let h = self.bn0.forward_t(&h, train)?.relu()?;
        let h = self.deconv1.forward(&h)?;
        let h = self.bn1.forward_t(&h, train)?.relu()?;
        Ok(self.deconv2.forward(&h)?.tanh()?)
    }
}

/// Images `[n, 1, 28, 28]` in `[-1, 1]` → `conv1` (1 → c, 28 → 14), LeakyReLU(0.2) →
/// `conv2` (c → 2c, 14 → 7, no bias) → `bn2`, LeakyReLU(0.2) → [`hidden` (`2c · 49` →
/// h, no bias) → `bn_hidden`, LeakyReLU(0.2) →] `fc` (→ 1): one logit per image, `[n]`. No
/// batch norm on the first layer, as in the DCGAN paper.
pub struct Discriminator {
    conv1: Conv2d,
    conv2: Conv2d,
    bn2: BatchNorm,
    hidden: Option<Hidden>,
    fc: Linear,
    channels: usize,
}

/// The slope of the discriminator's LeakyReLU for negative inputs.
pub const LEAKY_SLOPE: f64 = 0.2;

impl Discriminator {
    fn new(p: &Path, c: &DcganConfig) -> Result<Discriminator> {
        let ch = c.d_channels;
        // Created in the order of the forward pass: the initialization draws in it.
        let conv1 = Conv2d::new(&p.sub("conv1"), 1, ch, 4, halving(), true)?;
        let conv2 = Conv2d::new(&p.sub("conv2"), ch, 2 * ch, 4, halving(), false)?;
        let bn2 = BatchNorm::new2d(&p.sub("bn2"), 2 * ch)?;
        let (hidden, fc_inputs) = Hidden::new(p, "hidden", 2 * ch * 49, c.hidden)?;
        Ok(Discriminator {
            conv1,
            conv2,
            bn2,
            hidden,
            fc: Linear::new(&p.sub("fc"), fc_inputs, 1, true)?,
            channels: ch,
        })
    }
}

impl Module for Discriminator {
    /// Logits `[n]` of images `[n, 1, 28, 28]` (or `[n, 784]`) in `[-1, 1]`.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let n = x.dims().first().copied().unwrap_or(0);
        if x.numel() != n * 784 || x.rank() < 2 {
            return Err(Error::shape(
                "dcgan discriminator",
                "28 × 28 one-channel images [n, 1, 28, 28]",
                x.shape(),
            ));
        }
        let x = x.reshape(&[n, 1, 28, 28])?;
        let h = self.conv1.forward(&x)?.leaky_relu(LEAKY_SLOPE)?;
        let h = self.conv2.forward(&h)?;
        let h = self.bn2.forward_t(&h, train)?.leaky_relu(LEAKY_SLOPE)?;
        let h = h.reshape(&[n, 2 * self.channels * 49])?;
        let h = match &self.hidden {
            Some(hidden) => hidden.forward_t(&h, train)?.leaky_relu(LEAKY_SLOPE)?,
            None => h,
        };
        Ok(self.fc.forward(&h)?.reshape(&[n])?)
    }
}

/// A generator (`generator.*`) and a discriminator (`discriminator.*`) in one store.
pub struct Dcgan {
    /// `z → image`.
    pub generator: Generator,
    /// `image → logit` of "real".
    pub discriminator: Discriminator,
    /// The sizes.
    pub config: DcganConfig,
}

/// The parameter prefix of the generator.
pub const GENERATOR: &str = "generator";
/// The parameter prefix of the discriminator.
pub const DISCRIMINATOR: &str = "discriminator";

impl Dcgan {
    /// A fresh model with the DCGAN initialization (`N(0, 0.02²)` weights).
    ///
    /// # Errors
    /// When a size is zero or odd where it is halved, or the names exist already.
    pub fn new(p: &Path, config: DcganConfig) -> Result<Dcgan> {
        if config.latent == 0 || config.g_channels < 2 || !config.g_channels.is_multiple_of(2) {
            return Err(Error::invalid(
                "dcgan",
                "needs a positive latent size and an even generator width of at least 2",
            ));
        }
        if config.d_channels == 0 {
            return Err(Error::invalid(
                "dcgan",
                "needs a positive discriminator width",
            ));
        }
        let g = p.sub(GENERATOR);
        let d = p.sub(DISCRIMINATOR);
        let gan = Dcgan {
            generator: Generator::new(&g, &config)?,
            discriminator: Discriminator::new(&d, &config)?,
            config,
        };
        let full = p.full_name(GENERATOR);
        let fulld = p.full_name(DISCRIMINATOR);
        let vars: Vec<Var> = p
            .store()
            .trainable()
            .into_iter()
            .filter(|v| {
                crate::under_prefix(v.name(), &full) || crate::under_prefix(v.name(), &fulld)
            })
            .collect();
        dcgan_init(&vars)?;
        Ok(gan)
    }

    /// `n` codes `z ~ N(0, I)`, `[n, latent]` (the thread's generator).
    ///
    /// # Errors
    /// Engine errors only.
    pub fn noise(&self, n: usize) -> Result<Tensor> {
        let dev = self.generator.fc.weight.leaf().device();
        Ok(Tensor::randn(&[n, self.config.latent], DType::F32, &dev)?)
    }

    /// `n` new images `[n, 784]` with pixels in `[0, 1]` (`(tanh + 1) / 2`), the generator in
    /// evaluation mode (batch norm with its running statistics), no gradient recorded.
    ///
    /// # Errors
    /// Engine errors only.
    pub fn sample(&self, n: usize) -> Result<Tensor> {
        nabla::no_grad(|| {
            let x = self.generator.forward_t(&self.noise(n)?, false)?;
            Ok(x.add_scalar(1.0)?.mul_scalar(0.5)?.reshape(&[n, 784])?)
        })
    }
}

impl Module for Dcgan {
    /// The generator: images `[n, 1, 28, 28]` in `[-1, 1]` of codes `[n, latent]`.
    fn forward_t(&self, z: &Tensor, train: bool) -> Result<Tensor> {
        self.generator.forward_t(z, train)
    }
}

/// What one training step measured, each a mean over the batch: the discriminator's loss
/// `−ln D(x) − ln(1 − D(G(z)))`, the generator's `−ln D(G(z))`, and the discriminator's
/// probabilities `D(x)` of the real images and `D(G(z))` of the generated ones (before
/// its update, as PyTorch's DCGAN example reports them).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GanStep {
    /// Discriminator loss (nats, the sum of its real and fake terms).
    pub d_loss: f64,
    /// Generator loss (nats).
    pub g_loss: f64,
    /// Mean `D(x)` over the real batch.
    pub d_real: f64,
    /// Mean `D(G(z))` over the generated batch.
    pub d_fake: f64,
}

/// The alternating updates: Adam (lr 2e-4, β = (0.5, 0.999) by [`GanTrainer::new`]) on
/// each network's parameters.
pub struct GanTrainer {
    d_opt: Adam,
    g_opt: Adam,
    d_prefix: String,
}

impl GanTrainer {
    /// Optimizers on the trainable variables of `vs` under the generator's and the
    /// discriminator's prefixes (a model built at `vs.root()`), with learning rate `lr` and
    /// β₁ = 0.5 as in the DCGAN paper.
    pub fn new(vs: &VarStore, lr: f64) -> GanTrainer {
        let under = |prefix: &str| -> Vec<Var> {
            vs.trainable()
                .into_iter()
                .filter(|v| crate::under_prefix(v.name(), prefix))
                .collect()
        };
        GanTrainer {
            d_opt: Adam::new(under(DISCRIMINATOR), lr).betas(0.5, 0.999),
            g_opt: Adam::new(under(GENERATOR), lr).betas(0.5, 0.999),
            d_prefix: DISCRIMINATOR.to_string(),
        }
    }

    /// One step on a batch of real images `x` (`[n, 1, 28, 28]` or `[n, 784]`, pixels in
    /// `[0, 1]`, scaled here to the generator's `[-1, 1]`): the discriminator learns to tell
    /// `x` from `G(z)` (real and generated batches through it separately, so each has its own
    /// batch statistics), then the generator learns to make `D(G(z))` say "real", through the
    /// discriminator just updated (whose own gradients are not computed: it is frozen for
    /// that pass). `G(z)` is computed once for both, as in PyTorch's example.
    ///
    /// # Errors
    /// When `x` is not a batch of 28 × 28 images, or `vs` is not the store of `gan`.
    pub fn step(&mut self, gan: &Dcgan, vs: &VarStore, x: &Tensor) -> Result<GanStep> {
        let n = x.dims().first().copied().unwrap_or(0);
        if n == 0 {
            return Err(Error::invalid("dcgan", "an empty batch"));
        }
        let real = x.mul_scalar(2.0)?.add_scalar(-1.0)?;
        let fake = gan.generator.forward_t(&gan.noise(n)?, true)?;
        let ones = Tensor::ones(&[n], DType::F32, &x.device());
        let zeros = Tensor::zeros(&[n], DType::F32, &x.device());

        let d_real_logits = gan.discriminator.forward_t(&real, true)?;
        let d_fake_logits = gan.discriminator.forward_t(&fake.detach(), true)?;
        let d_loss = bce_with_logits(&d_real_logits, &ones, Reduction::Mean)?
            .add(&bce_with_logits(&d_fake_logits, &zeros, Reduction::Mean)?)?;
        self.d_opt.step(&d_loss.backward()?)?;

        vs.freeze(&self.d_prefix);
        let g_loss = gan
            .discriminator
            .forward_t(&fake, true)
            .and_then(|logits| bce_with_logits(&logits, &ones, Reduction::Mean));
        vs.unfreeze(&self.d_prefix);
        let g_loss = g_loss?;
        self.g_opt.step(&g_loss.backward()?)?;

        let mean_prob = |logits: &Tensor| -> Result<f64> {
            Ok(f64::from(
                logits.detach().sigmoid()?.mean_all()?.to_scalar::<f32>()?,
            ))
        };
        Ok(GanStep {
            d_loss: f64::from(d_loss.to_scalar::<f32>()?),
            g_loss: f64::from(g_loss.to_scalar::<f32>()?),
            d_real: mean_prob(&d_real_logits)?,
            d_fake: mean_prob(&d_fake_logits)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla::Device;

    fn tiny() -> DcganConfig {
        DcganConfig {
            latent: 8,
            g_channels: 8,
            d_channels: 4,
            hidden: 16,
        }
    }

    #[test]
    fn dcgan_names_shapes_and_sample_range() -> Result<()> {
        nabla::manual_seed(0);
        let vs = VarStore::new(&Device::Cpu);
        let gan = Dcgan::new(&vs.root(), DcganConfig::default())?;
        for name in [
            "generator.fc.weight",
            "generator.bn0.running_mean",
            "generator.deconv1.weight",
            "generator.deconv2.bias",
            "discriminator.conv1.weight",
            "discriminator.bn2.weight",
            "discriminator.fc.bias",
            "generator.hidden.weight",
            "generator.bn_hidden.running_var",
            "discriminator.hidden.weight",
            "discriminator.bn_hidden.bias",
        ] {
            assert!(vs.get(name).is_some(), "{name}");
        }
        let dims = |name: &str| vs.get(name).unwrap().leaf().dims().to_vec();
        assert_eq!(dims("generator.deconv1.weight"), [64, 32, 4, 4]);
        assert_eq!(dims("generator.hidden.weight"), [1024, 100]);
        assert_eq!(dims("generator.fc.weight"), [64 * 49, 1024]);
        assert_eq!(dims("discriminator.hidden.weight"), [1024, 64 * 49]);
        assert_eq!(dims("discriminator.fc.weight"), [1, 1024]);
        assert!(vs.get("generator.hidden.bias").is_none());
        let z = gan.noise(3)?;
        let img = gan.forward_t(&z, true)?;
        assert_eq!(img.dims(), &[3, 1, 28, 28]);
        assert_eq!(gan.discriminator.forward(&img)?.dims(), &[3]);
        let s = gan.sample(5)?;
        assert_eq!(s.dims(), &[5, 784]);
        assert!(s.to_vec::<f32>()?.iter().all(|p| (0.0..=1.0).contains(p)));
        // BN scales start near 1, other weights near 0 with σ = 0.02.
        let g = vs
            .get("generator.bn0.weight")
            .unwrap()
            .leaf()
            .to_vec::<f32>()?;
        assert!(g.iter().all(|v| (v - 1.0).abs() < 0.15));
        let w = vs
            .get("generator.fc.weight")
            .unwrap()
            .leaf()
            .to_vec::<f32>()?;
        let std = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
        assert!((std - 0.02).abs() < 0.002, "{std}");
        Ok(())
    }

    #[test]
    fn dcgan_without_hidden_layers_is_the_papers_layout() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let gan = Dcgan::new(&vs.root(), DcganConfig::of_width(16, 0))?;
        assert!(vs.get("generator.hidden.weight").is_none());
        assert!(vs.get("discriminator.bn_hidden.weight").is_none());
        assert_eq!(
            vs.get("generator.fc.weight").unwrap().leaf().dims(),
            &[16 * 49, 100]
        );
        assert_eq!(
            vs.get("discriminator.fc.weight").unwrap().leaf().dims(),
            &[1, 16 * 49]
        );
        let img = gan.forward_t(&gan.noise(2)?, true)?;
        assert_eq!(gan.discriminator.forward(&img)?.dims(), &[2]);
        Ok(())
    }

    #[test]
    fn dcgan_refuses_bad_sizes_and_inputs() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let bad = DcganConfig {
            g_channels: 7,
            ..tiny()
        };
        assert!(Dcgan::new(&vs.root().sub("a"), bad).is_err());
        let gan = Dcgan::new(&vs.root(), tiny())?;
        let wrong_z = Tensor::zeros(&[2, 3], DType::F32, &Device::Cpu);
        assert!(gan.generator.forward(&wrong_z).is_err());
        let wrong_x = Tensor::zeros(&[2, 1, 20, 20], DType::F32, &Device::Cpu);
        assert!(gan.discriminator.forward(&wrong_x).is_err());
        Ok(())
    }

    #[test]
    fn dcgan_steps_move_both_losses_and_only_each_own_network() -> Result<()> {
        // Without and with the hidden layers. The discriminator's hidden layer normalizes the
        // real and the generated batch each by its own statistics, so that on this toy it
        // learns slowly: a higher rate, and smaller margins (on MNIST this layer is what
        // lifts the samples' score, docs/unsupervised.md).
        for (hidden, lr, margin) in [(0, 2e-4, 0.2), (16, 2e-3, 0.005)] {
            steps_move_both_losses(DcganConfig { hidden, ..tiny() }, lr, margin)?;
        }
        Ok(())
    }

    fn steps_move_both_losses(config: DcganConfig, lr: f64, margin: f64) -> Result<()> {
        nabla::manual_seed(0);
        let vs = VarStore::new(&Device::Cpu);
        let gan = Dcgan::new(&vs.root(), config)?;
        let mut trainer = GanTrainer::new(&vs, lr);
        // 16 "digits": a bright bar in one of two places.
        let x: Vec<f32> = (0..16 * 784)
            .map(|i| {
                let (img, c) = (i / 784, i % 28);
                let at = if img % 2 == 0 { 6 } else { 18 };
                ((at..at + 4).contains(&c)) as u8 as f32
            })
            .collect();
        let x = Tensor::from_vec(x, &[16, 1, 28, 28], &Device::Cpu)?;
        let before = vs
            .get("generator.fc.weight")
            .unwrap()
            .leaf()
            .to_vec::<f32>()?;
        let first = trainer.step(&gan, &vs, &x)?;
        assert!((0.0..=1.0).contains(&first.d_real) && (0.0..=1.0).contains(&first.d_fake));
        let mut last = first;
        for _ in 0..30 {
            last = trainer.step(&gan, &vs, &x)?;
        }
        // The discriminator learns first: it tells the bars from the generator's images,
        // its loss falls and D(x) rises above D(G(z)).
        let seen = format!("{config:?}: {first:?} -> {last:?}");
        assert!(last.d_loss < first.d_loss - 1.5 * margin, "{seen}");
        assert!(last.d_real > first.d_real + margin, "{seen}");
        assert!(last.d_real > last.d_fake, "{seen}");
        assert!(
            (last.g_loss - first.g_loss).abs() > 0.01,
            "{first:?} -> {last:?}"
        );
        let after = vs
            .get("generator.fc.weight")
            .unwrap()
            .leaf()
            .to_vec::<f32>()?;
        assert_ne!(before, after);
        // Freezing the discriminator for the generator's pass left it trainable.
        assert!(vs.get("discriminator.fc.weight").unwrap().is_trainable());
        Ok(())
    }
}
