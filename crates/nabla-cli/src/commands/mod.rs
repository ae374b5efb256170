//! The subcommands, and what they share: building a model from a run config, loaders that
//! preprocess like training did.

pub mod bench;
pub mod classic;
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
    let vs = VarStore::new(&nabla::Device::Cpu);
    let model = models::build(
        &cfg.model,
        &vs.root(),
        &model_config(&cfg.input_shape, cfg.outputs),
    )?;
    Ok((vs, model))
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
