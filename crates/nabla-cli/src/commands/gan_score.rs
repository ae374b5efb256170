//! `nabla gan-score`: how good generated digits are, in the eyes of a classifier trained by
//! `nabla train` (LeNet-5 on MNIST): the classifier ("Inception") score of its class
//! probabilities and the Fréchet distance of its penultimate features to the test set.

use super::unsupervised::Unsupervised;
use super::{build_model, load_weights, loader, Batches};
use crate::gan_metrics::{classifier_score, frechet_distance, mean_cov, ScoreParts};
use crate::run_config::{resolve_weights, RunConfig};
use anyhow::{bail, Context, Result};
use clap::Args;
use nabla::Tensor;
use nabla_data::spec::{self as data_spec, SpecOptions};
use nabla_nn::{Loader, Module};
use std::path::PathBuf;

/// Images per classifier batch.
const BATCH: usize = 500;

#[derive(Args, Debug)]
pub struct GanScoreArgs {
    /// The classifier: a run folder of `nabla train` (a classifier of 28x28 one-channel images).
    #[arg(long, default_value = "runs/lenet5-mnist")]
    pub classifier: PathBuf,
    /// A run folder of a generative image model whose samples to score.
    #[arg(long, conflicts_with = "samples")]
    pub weights: Option<PathBuf>,
    /// A .npy file of images to score, pixels in [0, 1].
    #[arg(long)]
    pub samples: Option<PathBuf>,
    /// Images to draw with --weights (or training images for the reference).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    pub count: u64,
    /// Seed of the samples drawn with --weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the images scored (with --weights) to this .npy file, [n, 784] in [0, 1].
    #[arg(long)]
    pub save_samples: Option<PathBuf>,
}

/// A loaded classifier split at its last layer.
struct Classifier {
    model: Box<dyn Module>,
    cfg: RunConfig,
    _vs: nabla_nn::VarStore,
}

impl Classifier {
    fn load(path: &std::path::Path) -> Result<Classifier> {
        let (file, dir) = resolve_weights(path)?;
        let cfg = RunConfig::load(&dir)
            .with_context(|| format!("--classifier {}: reading its config.json", dir.display()))?;
        if !cfg.classification || cfg.input_shape != [1, 28, 28] {
            bail!(
                "--classifier {} holds a '{}' model of inputs {:?}: it must classify 28x28 one-channel images (train one with `nabla train --out lenet5-mnist`)",
                dir.display(),
                cfg.model,
                cfg.input_shape
            );
        }
        let (vs, model) = build_model(&cfg)?;
        load_weights(&vs, &file, &cfg.model, true)?;
        if model.children().len() < 2 {
            bail!(
                "--classifier: model '{}' is not a chain of layers, so it has no penultimate features",
                cfg.model
            );
        }
        Ok(Classifier {
            model,
            cfg,
            _vs: vs,
        })
    }

    /// Penultimate features `[n, f]` and class probabilities `[n, classes]` of images
    /// `[n, 1, 28, 28]` preprocessed as the classifier's training data was.
    fn features_probs(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        nabla::no_grad(|| {
            let children = self.model.children();
            let (last, body) = children.split_last().expect("two layers at least, checked");
            let mut h = x.clone();
            for (_, layer) in body {
                h = layer.forward(&h)?;
            }
            let n = h.dims()[0];
            let features = h.reshape(&[n, h.numel() / n.max(1)])?;
            let probs = last.1.forward(&h)?.softmax(1)?;
            Ok((features, probs))
        })
    }

    /// Normalizes pixels in `[0, 1]` (`[n, 784]` or `[n, 1, 28, 28]`) as the classifier's
    /// training data.
    fn normalize(&self, pixels: &Tensor) -> Result<Tensor> {
        let n = pixels.dims()[0];
        let x = pixels.reshape(&[n, 1, 28, 28])?;
        Ok(match (self.cfg.mean.first(), self.cfg.std.first()) {
            (Some(&m), Some(&s)) => x.add_scalar(-f64::from(m))?.div_scalar(f64::from(s))?,
            _ => x,
        })
    }
}

/// Features (row-major `[n, f]`) and probabilities (`[n, classes]`) of batches.
#[derive(Default)]
struct Outputs {
    features: Vec<f64>,
    probs: Vec<f64>,
    feature_dim: usize,
    classes: usize,
}

impl Outputs {
    fn push(&mut self, (f, p): (Tensor, Tensor)) -> Result<()> {
        self.feature_dim = f.dims()[1];
        self.classes = p.dims()[1];
        self.features
            .extend(f.to_vec::<f32>()?.into_iter().map(f64::from));
        self.probs
            .extend(p.to_vec::<f32>()?.into_iter().map(f64::from));
        Ok(())
    }

    fn len(&self) -> usize {
        self.features.len() / self.feature_dim.max(1)
    }
}

/// Classifier outputs of pixel images `[n, 784]` in `[0, 1]`.
fn score_pixels(c: &Classifier, images: &Tensor) -> Result<Outputs> {
    let n = images.dims()[0];
    let mut out = Outputs::default();
    for start in (0..n).step_by(BATCH) {
        let len = BATCH.min(n - start);
        let x = c.normalize(&images.narrow(0, start, len)?)?;
        out.push(c.features_probs(&x)?)?;
    }
    Ok(out)
}

/// Classifier outputs of the first `limit` images of a loader (already normalized).
fn score_loader(c: &Classifier, data: &Batches, limit: usize) -> Result<Outputs> {
    let mut out = Outputs::default();
    for batch in data.epoch(0) {
        if out.len() >= limit {
            break;
        }
        let (x, _) = batch?;
        let take = (limit - out.len()).min(x.dims()[0]);
        out.push(c.features_probs(&x.narrow(0, 0, take)?)?)?;
    }
    Ok(out)
}

/// `count` images in `[0, 1]`, `[count, 784]`, drawn from a generative run.
fn draw(weights: &std::path::Path, count: usize, seed: u64) -> Result<(Tensor, String)> {
    let (file, dir) = resolve_weights(weights)?;
    let cfg = RunConfig::load(&dir)?;
    if !super::unsupervised::SAMPLERS.contains(&cfg.model.as_str()) || cfg.model == "rbm" {
        bail!(
            "--weights {}: model '{}' cannot draw images here; gan-score takes dcgan, vae or conv-vae runs",
            dir.display(),
            cfg.model
        );
    }
    let (vs, model) = Unsupervised::build(&cfg)?;
    vs.load(&file)
        .with_context(|| format!("loading {} as {}", file.display(), cfg.model))?;
    nabla::manual_seed(seed);
    let mut parts = vec![];
    for start in (0..count).step_by(BATCH) {
        let n = BATCH.min(count - start);
        parts.push(match &model {
            Unsupervised::Dcgan(m) => m.sample(n)?,
            Unsupervised::Vae(m) => m.sample(n)?,
            Unsupervised::ConvVae(m) => m.sample(n)?,
            _ => unreachable!("the samplers were checked above"),
        });
    }
    let refs: Vec<&Tensor> = parts.iter().collect();
    Ok((
        Tensor::cat(&refs, 0)?,
        format!("{count} samples of {}", dir.display()),
    ))
}

/// Reads `[n, 784]` or `[n, 1, 28, 28]` pixels in `[0, 1]` from a .npy file.
fn read_samples(path: &std::path::Path) -> Result<Tensor> {
    let t = Tensor::read_npy(path).with_context(|| format!("reading {}", path.display()))?;
    let n = t.dims().first().copied().unwrap_or(0);
    if n < 2 || t.numel() != n * 784 {
        bail!(
            "{}: expected at least 2 images of 28x28 pixels ([n, 784] or [n, 1, 28, 28]), got shape {}",
            path.display(),
            t.shape()
        );
    }
    let t = t.to_dtype(nabla::DType::F32)?.reshape(&[n, 784])?;
    let v = t.to_vec::<f32>()?;
    if let Some(i) = v.iter().position(|p| !(-0.01..=1.01).contains(p)) {
        bail!(
            "{}: pixel {} of image {} is {}; pixels must lie in [0, 1]",
            path.display(),
            i % 784,
            i / 784,
            v[i]
        );
    }
    Ok(t.clamp(0.0, 1.0)?)
}

/// The two terms of the score's logarithm, so that a user sees whether classes are missing
/// or images are hard to place.
fn print_parts(parts: &ScoreParts, names: &[String]) {
    let shares: Vec<String> = parts
        .shares
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = names.get(i).map_or_else(|| i.to_string(), String::clone);
            format!("{name} {:.1}%", 100.0 * s)
        })
        .collect();
    println!(
        "  classes drawn: {} (entropy {:.4} nats of at most {:.4})",
        shares.join(", "),
        parts.marginal_entropy,
        (parts.shares.len() as f64).ln()
    );
    println!(
        "  per image: mean entropy {:.4} nats, mean top probability {:.4} (score = exp({:.4} - {:.4}))",
        parts.mean_entropy, parts.mean_top, parts.marginal_entropy, parts.mean_entropy
    );
}

/// Runs `nabla gan-score`.
pub fn run(args: &GanScoreArgs) -> Result<()> {
    let c = Classifier::load(&args.classifier)?;
    let data = data_spec::load(&c.cfg.data, &SpecOptions::default())
        .with_context(|| format!("loading the classifier's dataset '{}'", c.cfg.data))?;
    let test = Batches(loader(data.test.clone(), BATCH, &c.cfg, false, 0, false)?);
    let reference = score_loader(&c, &test, usize::MAX)?;
    let count = args.count as usize;
    let (scored, what) = match (&args.weights, &args.samples) {
        (Some(w), _) => {
            let (images, what) = draw(w, count, args.seed)?;
            if let Some(path) = &args.save_samples {
                images.write_npy(path)?;
            }
            (score_pixels(&c, &images)?, what)
        }
        (None, Some(path)) => (
            score_pixels(&c, &read_samples(path)?)?,
            format!("the images of {}", path.display()),
        ),
        (None, None) => {
            println!(
                "reference: the test set's classifier score {:.4} ({} images)",
                classifier_score(&reference.probs, reference.classes),
                reference.len()
            );
            let train = Batches(loader(data.train.clone(), BATCH, &c.cfg, false, 0, false)?);
            (
                score_loader(&c, &train, count)?,
                format!("the first {count} training images"),
            )
        }
    };
    let d = reference.feature_dim;
    if scored.feature_dim != d || scored.len() < 2 {
        bail!("no images to score");
    }
    let (m1, c1) = mean_cov(&scored.features, d);
    let (m2, c2) = mean_cov(&reference.features, d);
    let parts = ScoreParts::of(&scored.probs, scored.classes);
    let fid = frechet_distance(&m1, &c1, &m2, &c2, d);
    println!(
        "{what}, scored by {} ({}):",
        c.cfg.model,
        args.classifier.display()
    );
    println!(
        "classifier score {:.4} (of at most {})",
        parts.score(),
        scored.classes
    );
    print_parts(&parts, c.cfg.class_names.as_deref().unwrap_or_default());
    println!(
        "Frechet distance {fid:.4} of the {d} penultimate features to the {} test images",
        reference.len()
    );
    Ok(())
}
