//! `nabla eval`: loss, top-1/top-k accuracy, per-class accuracy and the confusion matrix of
//! a trained model on a dataset's test part.

use super::{build_model, loader};
use crate::args::EvalArgs;
use crate::confusion::{draw_confusion, ConfusionMatrix};
use crate::run_config::{resolve_weights, RunConfig};
use anyhow::{bail, Context, Result};
use nabla_data::spec::{self as data_spec, SpecOptions};
use nabla_nn::trainer::hits;

/// The model's class index of each of the data's classes, when the data names its classes
/// differently from the model (`--data mnist:5-9`, relabelled 0..4, on a model of all ten
/// digits): evaluation must score the model's labels. `None` when they agree.
///
/// # Errors
/// When the data has a class the model was not trained on.
fn label_map(
    cfg: &RunConfig,
    data: &data_spec::DataBundle,
    spec: &str,
) -> Result<Option<Vec<i64>>> {
    let (Some(model_names), Some(data_names)) = (&cfg.class_names, &data.class_names) else {
        return Ok(None);
    };
    if model_names.starts_with(data_names) {
        return Ok(None);
    }
    data_names
        .iter()
        .map(|name| match model_names.iter().position(|m| m == name) {
            Some(i) => Ok(i as i64),
            None => bail!(
                "dataset '{spec}' has class '{name}', which the model was not trained on (its classes: {})",
                model_names.join(", ")
            ),
        })
        .collect::<Result<Vec<i64>>>()
        .map(Some)
}

/// `targets` (the data's class indices) as the model's class indices.
fn map_labels(targets: &nabla::Tensor, map: &[i64]) -> Result<nabla::Tensor> {
    let mapped: Vec<i64> = targets
        .to_vec::<i64>()?
        .iter()
        .map(|&t| map[t as usize])
        .collect();
    Ok(nabla::Tensor::from_vec(
        mapped,
        targets.dims(),
        &targets.device(),
    )?)
}

/// The run config of the weights (from their run folder, or made from `--model`, the file
/// and `--data` for bare weights), the dataset spec and the dataset.
fn config_and_data(
    args: &EvalArgs,
    weights: &std::path::Path,
    dir: &std::path::Path,
) -> Result<(RunConfig, String, data_spec::DataBundle)> {
    // Image folders are decoded to the model's input: its side, grey or RGB.
    let load = |spec: &str, shape: &[usize]| {
        let mut opts = SpecOptions::default();
        if let [c, side, _] = shape {
            (opts.image_size, opts.grayscale) = (*side, *c == 1);
        }
        data_spec::load(spec, &opts).with_context(|| format!("loading dataset '{spec}'"))
    };
    if dir.join("config.json").exists() {
        let mut cfg = RunConfig::load(dir)?;
        if let Some(m) = args.model.as_ref().filter(|m| **m != cfg.model) {
            bail!(
                "--model {m} does not match the run, which trained {}",
                cfg.model
            );
        }
        cfg.transform_input |= args.transform.transform_input;
        let spec = args.data.clone().unwrap_or_else(|| cfg.data.clone());
        let data = load(&spec, &cfg.input_shape)?;
        return Ok((cfg, spec, data));
    }
    let (Some(model), Some(spec)) = (&args.model, &args.data) else {
        bail!(
            "{} is not in a run folder (no config.json): pass --model NAME and --data SPEC \
             (the dataset to evaluate on, e.g. --data mnist)",
            weights.display()
        );
    };
    let native = super::native_images(model).map_or_else(|_| vec![], |n| n.shape);
    let data = load(spec, &native)?;
    let mut cfg = super::bare_config(
        model,
        weights,
        data.input_shape.clone(),
        data.normalize.clone(),
        args.transform.transform_input,
    )?;
    cfg.data = spec.clone();
    cfg.classification = data.num_classes.is_some();
    cfg.class_names = data.class_names.clone();
    Ok((cfg, spec.clone(), data))
}

/// Runs `nabla eval`.
pub fn run(args: &EvalArgs) -> Result<()> {
    if args.topk == 0 {
        bail!("--topk must be at least 1");
    }
    let (weights, dir) = resolve_weights(&args.weights)?;
    let (cfg, spec, data) = config_and_data(args, &weights, &dir)?;
    check_fit(&cfg, &data, &spec, &weights)?;
    let labels = label_map(&cfg, &data, &spec)?;
    let (vs, model) = build_model(&cfg)?;
    super::load_weights(&vs, &weights, &cfg.model, args.strict)?;
    let test = loader(
        data.test.clone(),
        args.batch_size as usize,
        &cfg,
        false,
        0,
        false,
    )?;
    let k = args.topk.min(cfg.outputs);
    let score = nabla::no_grad(|| score(model.as_ref(), &test, &cfg, labels.as_deref(), k))?;
    println!(
        "{} on {spec} (test part, {} examples)",
        weights.display(),
        score.n
    );
    let png = args
        .confusion_png
        .clone()
        .unwrap_or_else(|| dir.join("confusion.png"));
    print_score(&score, &cfg, k, &png)
}

/// Refuses data whose inputs or outputs do not fit the model. A classifier may have more
/// outputs than the data has classes (`train --num-classes`).
fn check_fit(
    cfg: &RunConfig,
    data: &data_spec::DataBundle,
    spec: &str,
    weights: &std::path::Path,
) -> Result<()> {
    let outputs_fit = if cfg.classification {
        data.outputs <= cfg.outputs
    } else {
        data.outputs == cfg.outputs
    };
    if data.input_shape != cfg.input_shape || !outputs_fit {
        bail!(
            "the model in {} takes inputs {:?} with {} outputs; dataset '{spec}' has inputs {:?} with {} outputs",
            weights.display(),
            cfg.input_shape,
            cfg.outputs,
            data.input_shape,
            data.outputs
        );
    }
    Ok(())
}

/// What a pass over the test set counts.
struct Score {
    loss_sum: f64,
    n: usize,
    top1: usize,
    topk: usize,
    confusion: ConfusionMatrix,
}

/// Runs the model over `test`, scoring the model's labels (`labels` maps the data's).
fn score(
    model: &dyn nabla_nn::Module,
    test: &nabla_data::DataLoader,
    cfg: &RunConfig,
    labels: Option<&[i64]>,
    k: usize,
) -> Result<Score> {
    let mut s = Score {
        loss_sum: 0.0,
        n: 0,
        top1: 0,
        topk: 0,
        confusion: ConfusionMatrix::new(cfg.outputs),
    };
    for batch in test.epoch(0) {
        let mut batch = batch?;
        if let Some(map) = labels {
            batch.targets = map_labels(&batch.targets, map)?;
        }
        // One copy in per batch; the metrics below read the outputs back once.
        let device = super::device();
        batch.targets = batch.targets.to_device(&device)?;
        let out = model.forward(&batch.inputs.to_device(&device)?)?;
        let b = batch.indices.len();
        s.n += b;
        if !cfg.classification {
            let mse = nabla_nn::loss::mse(&out, &batch.targets, nabla_nn::loss::Reduction::Mean)?;
            s.loss_sum += mse.to_scalar::<f64>()? * b as f64;
            continue;
        }
        s.loss_sum += out.cross_entropy(&batch.targets, 0.0)?.to_scalar::<f64>()? * b as f64;
        if let Some(h) = hits(&out, &batch.targets, k)? {
            s.top1 += h.top1;
            s.topk += h.topk;
        }
        let pred = out.argmax(1)?.to_vec::<i64>()?;
        for (t, p) in batch.targets.to_vec::<i64>()?.iter().zip(pred) {
            s.confusion.add(*t as usize, p as usize);
        }
    }
    Ok(s)
}

/// Prints the loss, the accuracies, per-class accuracy and the confusion matrix, and draws
/// the matrix to `png`.
fn print_score(s: &Score, cfg: &RunConfig, k: usize, png: &std::path::Path) -> Result<()> {
    let nf = s.n.max(1) as f64;
    if !cfg.classification {
        println!("loss (MSE): {:.6}", s.loss_sum / nf);
        return Ok(());
    }
    println!("loss: {:.4}", s.loss_sum / nf);
    println!("top-1 accuracy: {:.2}%", 100.0 * s.top1 as f64 / nf);
    println!("top-{k} accuracy: {:.2}%", 100.0 * s.topk as f64 / nf);
    let mut names: Vec<String> = cfg.class_names.clone().unwrap_or_default();
    names.extend((names.len()..cfg.outputs).map(|c| c.to_string()));
    println!("\nper-class accuracy:");
    for (c, acc) in s.confusion.per_class_accuracy().iter().enumerate() {
        match acc {
            Some(a) => println!(
                "  {:>10}: {:6.2}% ({} examples)",
                names[c],
                100.0 * a,
                s.confusion.row_total(c)
            ),
            None => println!("  {:>10}:    n/a (no examples)", names[c]),
        }
    }
    println!(
        "\nconfusion matrix (rows: true class, columns: predicted):\n{}",
        s.confusion.to_text(&names)
    );
    draw_confusion(png, &s.confusion, &names)?;
    println!("confusion matrix drawn to {}", png.display());
    Ok(())
}
