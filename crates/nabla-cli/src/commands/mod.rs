//! The subcommands, and what they share: building a model from a run config, loaders that
//! preprocess like training did.

pub mod bench;
pub mod classic;
mod counts;
pub mod eval;
pub mod export;
pub mod gan_score;
pub mod interpolate;
pub mod latent;
pub mod onnx;
pub mod playground;
pub mod predict;
pub mod protocol;
pub mod reconstructions;
pub mod rl;
pub mod sample;
pub mod sample_images;
pub mod summary;
pub mod train;
pub mod train_gan;
pub mod train_plan;
pub mod train_rbm;
pub mod train_unsupervised;
pub mod unsupervised;
pub mod viz;
pub mod zoo;

use crate::run_config::RunConfig;
use anyhow::{bail, Result};
use nabla::Tensor;
use nabla_data::transforms::{Compose, Normalize, PadCrop, RandomRotation, Transform};
use nabla_data::{DataLoader, Dataset};
use nabla_nn::models::transfer;
use nabla_nn::models::{self, ModelConfig};
use nabla_nn::{LoadOptions, Module, VarStore};
use std::path::Path;
use std::sync::Arc;

/// A `nabla-data` loader seen as the Trainer's batch source.
pub struct Batches(pub DataLoader);

impl nabla_nn::Loader for Batches {
    fn epoch(
        &self,
        epoch: usize,
    ) -> Box<dyn Iterator<Item = nabla_nn::Result<(Tensor, Tensor)>> + '_> {
        Box::new(self.0.epoch(epoch as u64).map(|b| {
            b.map(|b| (b.inputs, b.targets))
                .map_err(|e| nabla_nn::Error::Data(Box::new(e)))
        }))
    }
    fn num_batches(&self) -> usize {
        self.0.len()
    }
}

/// The device `--device` chose, where models are built and batches are copied to.
static DEVICE: std::sync::OnceLock<nabla::Device> = std::sync::OnceLock::new();

/// Sets the device of this process's models (once, from `--device`).
pub fn set_device(device: nabla::Device) {
    // Set once by `main` before any command runs; a second call keeps the first device.
    let _ = DEVICE.set(device);
}

/// The device models are built on: `--device`, or the CPU.
pub fn device() -> nabla::Device {
    DEVICE.get().copied().unwrap_or_default()
}

/// Runs a command with its products in `precision` ([`nabla::autocast`]).
pub fn with_precision<R>(
    precision: crate::args::Precision,
    f: impl FnOnce() -> Result<R>,
) -> Result<R> {
    let _scope = precision
        .autocast()
        .map(nabla::AutocastGuard::new)
        .transpose()?;
    f()
}

/// `n` and the noun, in the plural unless `n` is 1: `1 epoch`, `4 epochs`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// What a run's first line says of its precision: nothing for f32, the bf16 path otherwise.
pub fn precision_note(precision: crate::args::Precision) -> String {
    match precision {
        crate::args::Precision::F32 => String::new(),
        crate::args::Precision::Bf16 => format!(", bf16 products ({})", nabla::bf16_path()),
    }
}

/// The model configuration for inputs of `shape` and `outputs` outputs.
pub fn model_config(shape: &[usize], outputs: usize) -> ModelConfig {
    match shape {
        [c, h, _w] => ModelConfig {
            num_classes: outputs,
            in_channels: *c,
            image_size: *h,
        },
        // Flat inputs (CSV, toy sets): one "channel", image_size² ≥ features is not used by
        // the MLP, which reads input_len; keep it exact with a 1×d "image".
        _ => ModelConfig {
            num_classes: outputs,
            in_channels: shape.iter().product(),
            image_size: 1,
        },
    }
}

/// Builds the model a run config describes into a fresh store.
pub fn build_model(cfg: &RunConfig) -> Result<(VarStore, Box<dyn Module>)> {
    if let Some(path) = cfg.model.strip_prefix(onnx::MODEL_PREFIX) {
        return onnx::build(std::path::Path::new(path));
    }
    let vs = VarStore::new(&device());
    let config = model_config(&cfg.input_shape, cfg.outputs);
    let model: Box<dyn Module> = match (cfg.transform_input, cfg.model.as_str()) {
        (false, name) => models::build(name, &vs.root(), &config)?,
        (true, "googlenet") => {
            Box::new(models::googlenet(&vs.root(), &config)?.with_transform_input()?)
        }
        (true, name) => bail!(
            "--transform-input is the input re-normalization of torchvision's GoogLeNet \
             (--model googlenet); {name} has none"
        ),
    };
    Ok((vs, model))
}

/// How `folder:DIR` images are decoded for `model`: `(side, grey)`, the side being
/// `image_size` or the model's native one (224 for models outside the zoo), grey for models
/// of one input channel.
pub fn folder_images(model: &str, image_size: Option<u64>) -> (usize, bool) {
    let native = models::registry()
        .into_iter()
        .find(|s| s.name == model)
        .map(|s| s.native);
    let side = image_size
        .map(|s| s as usize)
        .or(native.as_ref().map(|n| n.image_size))
        .unwrap_or(224);
    (side, native.is_some_and(|n| n.in_channels == 1))
}

/// Prefixes a weights file may put before a model's names (a training checkpoint's `model.`,
/// DataParallel's `module.`), as the loader strips them.
const WEIGHT_PREFIXES: [&str; 4] = ["", "model.", "module.", "model.module."];

/// The run config of bare weights (a `state_dict`, no run folder with a config.json) for
/// `model` on inputs of `input_shape`, normalized with `normalize` (mean and deviation per
/// channel; empty: as they are). The output count is the first dim of the model's last
/// parameter (its head's bias or weight) as the file stores it: the model is built once
/// for 1 output to learn the head's name. (Entries are not in creation order: safetensors
/// headers are sorted by name.)
///
/// # Errors
/// An unknown model, a file that cannot be read, or one without the model's head.
pub fn bare_config(
    model: &str,
    weights: &Path,
    input_shape: Vec<usize>,
    normalize: (Vec<f32>, Vec<f32>),
    transform_input: bool,
) -> Result<RunConfig> {
    let mut cfg = RunConfig {
        model: model.to_string(),
        data: String::new(),
        input_shape,
        outputs: 1,
        classification: true,
        mean: normalize.0,
        std: normalize.1,
        class_names: None,
        transform_input: false,
        training: serde_json::Value::Null,
    };
    let (probe_vs, _) = build_model(&cfg)?;
    let head = probe_vs
        .vars()
        .into_iter()
        .rev()
        .find(|v| v.kind() == nabla_nn::VarKind::Parameter)
        .ok_or_else(|| anyhow::anyhow!("{model} has no parameters"))?;
    let file = nabla_nn::checkpoint::load(weights)?;
    let head_entry = |name: &str| {
        WEIGHT_PREFIXES
            .iter()
            .any(|p| name.strip_prefix(p) == Some(head.name()))
    };
    cfg.outputs = file
        .tensors
        .iter()
        .find(|(name, _)| head_entry(name))
        .and_then(|(_, t)| t.dims().first().copied())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} has no '{}' (the head of {model}); is it a checkpoint of {model}?",
                weights.display(),
                head.name()
            )
        })?;
    cfg.transform_input = transform_input;
    Ok(cfg)
}

/// MNIST's training-set pixel mean and deviation, and ImageNet's per-channel ones (what
/// torchvision's pretrained models expect).
const MNIST_NORMALIZE: ([f32; 1], [f32; 1]) = ([0.1307], [0.3081]);
const IMAGENET_NORMALIZE: ([f32; 3], [f32; 3]) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

/// How images are fed to a zoo model whose weights come without a run folder.
pub struct NativeImages {
    /// `[channels, side, side]`: the model's native input.
    pub shape: Vec<usize>,
    /// Per-channel mean and deviation to normalize with.
    pub normalize: (Vec<f32>, Vec<f32>),
    /// A sentence that says so, for the user.
    pub note: String,
}

/// The image input of a zoo model with bare weights: its native shape, and the normalization
/// of the data it is trained on (MNIST's for grey models, ImageNet's for RGB ones).
///
/// # Errors
/// An unknown model, or one whose input is not an image.
pub fn native_images(model: &str) -> Result<NativeImages> {
    let Some(spec) = models::registry().into_iter().find(|s| s.name == model) else {
        bail!("unknown model '{model}' (see `nabla zoo`)");
    };
    let c = spec.native;
    let (normalize, source) = match c.in_channels {
        1 => (
            (MNIST_NORMALIZE.0.to_vec(), MNIST_NORMALIZE.1.to_vec()),
            "MNIST",
        ),
        3 => (
            (IMAGENET_NORMALIZE.0.to_vec(), IMAGENET_NORMALIZE.1.to_vec()),
            "ImageNet",
        ),
        n => bail!("{model} takes inputs of {n} features, not images; give a .npy batch"),
    };
    let note = format!(
        "bare weights: images resized to {}x{s}x{s} (the native input of {model}) and \
         normalized with {source}'s mean {:?} and deviation {:?}",
        c.in_channels,
        normalize.0,
        normalize.1,
        s = c.image_size,
    );
    Ok(NativeImages {
        shape: vec![c.in_channels, c.image_size, c.image_size],
        normalize,
        note,
    })
}

/// Loads `weights` into `model`'s store: strictly, except that parts only training uses
/// (GoogLeNet's auxiliary classifiers) may be absent; with `strict == false`, whatever fits,
/// printing what was skipped.
pub fn load_weights(vs: &VarStore, weights: &Path, model: &str, strict: bool) -> Result<()> {
    if !strict {
        let report = vs.load_partial(weights)?;
        if !report.is_clean() {
            println!(
                "loaded what fits of {} (--strict false): {report}",
                weights.display()
            );
        }
        return Ok(());
    }
    let options = LoadOptions {
        optional: transfer::training_only_parts(model),
    };
    let left = vs.load_with(weights, options).map_err(|e| {
        anyhow::anyhow!(
            "loading {} into {model}: {e} (pass --strict false to load what fits)",
            weights.display()
        )
    })?;
    if !left.is_empty() {
        println!(
            "{} has no {}: {} variables left as initialized (they are used in training only)",
            weights.display(),
            transfer::training_only_parts(model).join(", "),
            left.len()
        );
    }
    Ok(())
}

/// The per-sample preprocessing of a run: normalization, plus augmentation in training.
pub fn transform(cfg: &RunConfig, augment: bool) -> Result<Box<dyn Transform>> {
    if cfg.mean.is_empty() {
        if augment {
            bail!(
                "--augment works on images only (this data has inputs of shape {:?})",
                cfg.input_shape
            );
        }
        return Ok(Box::new(Compose(vec![])));
    }
    let normalize = Normalize::new(cfg.mean.clone(), cfg.std.clone())?;
    if !augment {
        return Ok(Box::new(normalize));
    }
    if cfg.input_shape.len() != 3 {
        bail!(
            "--augment works on images only (this data has inputs of shape {:?})",
            cfg.input_shape
        );
    }
    let size = cfg.input_shape[1];
    Ok(Box::new(Compose(vec![
        Box::new(RandomRotation::new(10.0)?),
        Box::new(PadCrop::new(2, size)),
        Box::new(normalize),
    ])))
}

/// A loader over `ds` preprocessing like the run did.
pub fn loader(
    ds: Arc<dyn Dataset>,
    batch: usize,
    cfg: &RunConfig,
    shuffle: bool,
    seed: u64,
    augment: bool,
) -> Result<DataLoader> {
    struct Boxed(Box<dyn Transform>);
    impl Transform for Boxed {
        fn apply(
            &self,
            s: nabla_data::Sample,
            rng: &mut nabla::Rng,
        ) -> nabla_data::Result<nabla_data::Sample> {
            self.0.apply(s, rng)
        }
    }
    Ok(DataLoader::new(ds, batch)?
        .shuffle(shuffle)
        .seed(seed)
        .transform(Boxed(transform(cfg, augment)?)))
}
