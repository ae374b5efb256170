//! `nabla train --model ae|dae|vae|conv-vae|rbm|dcgan`: an unsupervised model learns to rebuild
//! (or generate) the images of a dataset, labels unused. Same run folder as classification runs:
//! `config.json`, `metrics.csv`, `curves.png`, `model.safetensors`, `train.log`.

use super::unsupervised::Unsupervised;
use super::{loader, Batches};
use crate::args::TrainArgs;
use crate::run_config::{new_run_dir, RunConfig};
use anyhow::{bail, Context, Result};
use nabla::Tensor;
use nabla_data::spec::{self as data_spec, SpecOptions};
use nabla_data::Dataset;
use nabla_nn::optim::{Adam, Optimizer, Schedule};
use nabla_nn::{Loader, Trainer, TrainerConfig};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Image batches with the images as their own targets.
struct Reconstruct(Batches);

impl Loader for Reconstruct {
    fn epoch(
        &self,
        epoch: usize,
    ) -> Box<dyn Iterator<Item = nabla_nn::Result<(Tensor, Tensor)>> + '_> {
        Box::new(self.0.epoch(epoch).map(|b| b.map(|(x, _)| (x.clone(), x))))
    }
    fn num_batches(&self) -> usize {
        self.0.num_batches()
    }
}

/// The run's configuration: images kept as pixels in `[0, 1]` (no normalization: the
/// models' Bernoulli outputs reconstruct them as they are).
fn run_config(args: &TrainArgs, data: &data_spec::DataBundle, lr: f64) -> Result<RunConfig> {
    if data.input_shape.len() != 3 {
        bail!(
            "--model {} needs images; '{}' holds examples of shape {:?}",
            args.model,
            args.data,
            data.input_shape
        );
    }
    let mut training = json!({
        "epochs": args.epochs, "max_steps": args.max_steps, "batch_size": args.batch_size,
        "lr": lr, "optimizer": "adam", "schedule": "constant", "seed": args.seed,
        "threads": nabla::num_threads(), "loss": "nats per image",
    });
    if args.model.ends_with("vae") {
        training["latent"] = json!(args.latent.unwrap_or(20));
    }
    if args.model == "rbm" {
        training["optimizer"] = json!(super::train_rbm::OPTIMIZER);
        training["loss"] = json!("squared reconstruction error per image");
        training["cd_k"] = json!(args.cd_k);
        training["persistent"] = json!(args.persistent);
    }
    if args.model == "dcgan" {
        training["optimizer"] = json!(super::train_gan::OPTIMIZER);
        training["loss"] = json!("binary cross-entropy with logits, non-saturating generator loss");
        let gan = nabla_nn::models::dcgan::DcganConfig::default();
        training["latent"] = json!(gan.latent);
        training["gan_width"] = json!(args.gan_width.unwrap_or(gan.g_channels as u64));
        training["gan_hidden"] = json!(args.gan_hidden.unwrap_or(gan.hidden as u64));
    }
    Ok(RunConfig {
        model: args.model.clone(),
        data: args.data.clone(),
        input_shape: data.input_shape.clone(),
        outputs: data.input_shape.iter().product(),
        classification: false,
        mean: vec![],
        std: vec![],
        class_names: data.class_names.clone(),
        transform_input: false,
        training,
    })
}

/// Refuses the classification options that mean nothing here.
fn check_options(args: &TrainArgs) -> Result<()> {
    let unused = [
        (args.augment, "--augment"),
        (args.init.is_some(), "--init"),
        (!args.freeze.is_empty(), "--freeze"),
        (args.num_classes.is_some(), "--num-classes"),
        (args.distributed.is_some(), "--distributed"),
    ];
    if let Some((_, flag)) = unused.iter().find(|(set, _)| *set) {
        bail!(
            "{flag} is for classifiers; --model {} trains without labels",
            args.model
        );
    }
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    if !args.model.ends_with("vae") && args.latent.is_some() {
        bail!("--latent is for --model vae or conv-vae");
    }
    if args.model != "dcgan" && args.gan_width.is_some() {
        bail!("--gan-width is for --model dcgan");
    }
    if args.model != "dcgan" && args.gan_hidden.is_some() {
        bail!("--gan-hidden is for --model dcgan");
    }
    if args
        .gan_width
        .is_some_and(|w| !super::unsupervised::is_gan_width(w))
    {
        bail!("--gan-width must be even (the generator's 14x14 maps have half as many channels)");
    }
    if args.model != "rbm" && (args.cd_k != 1 || args.persistent) {
        bail!("--cd-k and --persistent are for --model rbm");
    }
    if (args.model == "rbm" || args.model == "dcgan") && args.resume {
        bail!(
            "--model {} keeps no checkpoint to resume from; start a new run",
            args.model
        );
    }
    Ok(())
}

/// The data of a run: the training images, those held out for `--patience`, the test set.
struct Splits {
    data: data_spec::DataBundle,
    train: Arc<dyn Dataset>,
    valid: Option<Arc<dyn Dataset>>,
}

/// Loads `--data` as pixels in `[0, 1]` and splits it. Early stopping selects on images
/// held out of the training set (`--val-split`), never on the test set; without
/// `--patience` nothing is selected, and the test set is reported per epoch, as PyTorch's
/// VAE example does.
fn load_splits(args: &TrainArgs) -> Result<Splits> {
    let (image_size, grayscale) = super::folder_images(&args.model, args.image_size);
    let spec_opts = SpecOptions {
        seed: args.seed,
        image_size,
        grayscale,
        ..Default::default()
    };
    let data = data_spec::load(&args.data, &spec_opts)
        .with_context(|| format!("loading dataset '{}'", args.data))?;
    let all = super::train::training_subset(args, &data)?;
    let (train, valid) = match args.patience {
        Some(_) => super::train::hold_out_validation(args, all)?,
        None => (all, None),
    };
    Ok(Splits { data, train, valid })
}

/// `--lr`, or the model's default: 0.1 for the RBM's contrastive divergence, the DCGAN
/// paper's 2e-4 (with Adam's β1 = 0.5), else PyTorch's VAE example's 1e-3.
fn learning_rate(args: &TrainArgs) -> Result<f64> {
    let default = match args.model.as_str() {
        "rbm" => 0.1,
        "dcgan" => 2e-4,
        _ => 1e-3,
    };
    super::train::checked_lr(args, default)
}

/// Batches of `set` with the images as their own targets.
fn batches(
    args: &TrainArgs,
    set: &Arc<dyn Dataset>,
    cfg: &RunConfig,
    shuffle: bool,
) -> Result<Reconstruct> {
    let batch = args.batch_size as usize;
    Ok(Reconstruct(Batches(loader(
        set.clone(),
        batch,
        cfg,
        shuffle,
        args.seed,
        false,
    )?)))
}

/// The Trainer's settings: a constant rate, one summary line per epoch.
fn trainer_config(args: &TrainArgs, dir: &Path) -> TrainerConfig {
    TrainerConfig {
        epochs: args.epochs,
        max_steps: args.max_steps,
        out_dir: Some(dir.to_path_buf()),
        progress: !args.quiet,
        verbose: true,
        topk: 1,
        schedule: Schedule::Constant,
        plateau: None,
        early_stopping: args.patience,
        clip_grad_norm: args.clip_grad_norm,
        autocast: args.precision.autocast(),
    }
}

/// The run's first line: the model, the data and its parts, the optimization.
fn announce(args: &TrainArgs, params: usize, splits: &Splits, lr: f64) -> String {
    let valid = splits.valid.as_ref().map_or(String::new(), |v| {
        format!(
            "{} validation (--val-split {}, for --patience) / ",
            v.len(),
            args.val_split
        )
    });
    format!(
        "training {} ({params} parameters) on {} without labels: {} training / {valid}{} test images, batch {}, adam lr {lr}, {}, {} threads",
        args.model,
        args.data,
        splits.train.len(),
        splits.data.test.len(),
        args.batch_size,
        super::count(args.epochs, "epoch"),
        nabla::num_threads()
    )
}

/// Trains, selecting on `valid` when given, and returns the test loss.
fn fit_and_test(
    trainer: &mut Trainer,
    train: &Reconstruct,
    valid: Option<&Reconstruct>,
    test: &Reconstruct,
) -> Result<f64> {
    if let Some(v) = valid {
        trainer.fit(train, Some(v))?;
        return Ok(trainer.evaluate(test)?.loss);
    }
    trainer.fit(train, Some(test))?;
    Ok(match trainer.history().last().and_then(|r| r.val_loss) {
        Some(l) => l,
        None => trainer.evaluate(test)?.loss,
    })
}

/// What the test loss of `model` measures.
fn loss_name(model: &Unsupervised) -> &'static str {
    match model {
        Unsupervised::Ae(_) => "reconstruction cross-entropy",
        Unsupervised::Dae(_) => "reconstruction cross-entropy of uncorrupted inputs",
        Unsupervised::Vae(_) | Unsupervised::ConvVae(_) => "negative ELBO (cross-entropy + KL)",
        Unsupervised::Rbm(_) => "squared reconstruction error",
        Unsupervised::Dcgan(_) => "GAN losses",
    }
}

/// Runs `nabla train` for an unsupervised model: Adam at `--lr` (default 1e-3, PyTorch's VAE
/// example) with a constant rate; the RBM and the DCGAN run their own loops.
pub fn run(args: &TrainArgs) -> Result<()> {
    check_options(args)?;
    let started = Instant::now();
    nabla::manual_seed(args.seed);
    let splits = load_splits(args)?;
    let lr = learning_rate(args)?;
    let cfg = run_config(args, &splits.data, lr)?;
    let (vs, model) = Unsupervised::build(&cfg)?;
    let base = format!(
        "{}-{}",
        args.model,
        args.data.split(':').next().unwrap_or("data")
    );
    let dir = new_run_dir(args.out.as_deref(), &base, args.resume)?;
    let _lock = super::train::prepare_run_dir(args, &cfg, &dir)?;
    let train = batches(args, &splits.train, &cfg, true)?;
    let test = batches(args, &splits.data.test, &cfg, false)?;
    let valid = splits
        .valid
        .as_ref()
        .map(|v| batches(args, v, &cfg, false))
        .transpose()?;
    let Some(loss) = model.loss() else {
        return match &model {
            Unsupervised::Rbm(rbm) => {
                super::train_rbm::run(args, rbm, &vs, (&train.0, &test.0), &dir, lr)
            }
            Unsupervised::Dcgan(gan) => super::train_gan::run(args, gan, &vs, &train.0, &dir, lr),
            _ => bail!("--model {} has no training loss", args.model),
        };
    };
    let opt: Box<dyn Optimizer> = Box::new(Adam::new(vs.trainable(), lr));
    let mut trainer =
        Trainer::new(model.module(), &vs, opt, trainer_config(args, &dir)).with_loss(loss);
    println!("{}", announce(args, vs.num_params(), &splits, lr));
    if args.resume && trainer.resume()? {
        let done = trainer.history().len();
        println!("resuming {} after epoch {done}", dir.display());
    }
    let train_started = Instant::now();
    let test_loss = fit_and_test(&mut trainer, &train, valid.as_ref(), &test)?;
    let lines = [
        format!(
            "test loss {test_loss:.4} nats per image ({})",
            loss_name(&model)
        ),
        format!(
            "training took {:.1}s; total {:.1}s",
            train_started.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64()
        ),
        format!(
            "saved {}/model.safetensors, metrics.csv, curves.png, config.json, train.log",
            dir.display()
        ),
    ];
    super::train::report(&dir, &lines)
}
