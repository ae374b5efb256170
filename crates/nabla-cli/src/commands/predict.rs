//! `nabla predict`: class probabilities for image files, or the raw output for a .npy batch.

use super::build_model;
use crate::args::PredictArgs;
use crate::run_config::{resolve_weights, RunConfig};
use anyhow::{bail, Context, Result};
use nabla::{Device, Tensor};
use nabla_data::readers::folder::{load_image, ImageOptions};

fn is_npy(p: &std::path::Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// The run config of the weights, or one made from `--model` and the checkpoint for bare
/// weights: a `.npy` batch is taken as it is (`npy_shape`, its example shape), image files
/// as the model's native input with the normalization of its data.
fn config_for(
    args: &PredictArgs,
    weights: &std::path::Path,
    dir: &std::path::Path,
    npy_shape: Option<Vec<usize>>,
) -> Result<RunConfig> {
    if dir.join("config.json").exists() {
        let mut cfg = RunConfig::load(dir)?;
        if let Some(m) = &args.model {
            if *m != cfg.model {
                bail!(
                    "--model {m} does not match the run, which trained {}",
                    cfg.model
                );
            }
        }
        cfg.transform_input |= args.transform.transform_input;
        return Ok(cfg);
    }
    let Some(model) = args.model.clone() else {
        bail!(
            "{} is not in a run folder (no config.json): pass --model NAME",
            weights.display()
        );
    };
    let (input_shape, normalize) = match npy_shape {
        Some(shape) => (shape, (vec![], vec![])),
        None => {
            let native = super::native_images(&model)?;
            println!("{}", native.note);
            (native.shape, native.normalize)
        }
    };
    super::bare_config(
        &model,
        weights,
        input_shape,
        normalize,
        args.transform.transform_input,
    )
}

/// Runs `nabla predict`.
pub fn run(args: &PredictArgs) -> Result<()> {
    if args.topk == 0 {
        bail!("--topk must be at least 1");
    }
    if let Some(model) = args.model.as_deref().map(std::path::Path::new) {
        if super::onnx::is_onnx(model) {
            return super::onnx::predict(args, model);
        }
    }
    let weights = args.weights.as_ref().context(
        "--weights is required (a checkpoint or run folder), unless --model is an .onnx file",
    )?;
    let (weights, dir) = resolve_weights(weights)?;
    let npy = args.inputs.iter().filter(|p| is_npy(p)).count();
    if npy > 0 && (npy != 1 || args.inputs.len() != 1) {
        bail!("give either one .npy batch or image files, not both");
    }
    let batch = (npy == 1).then(|| npy_batch(&args.inputs[0])).transpose()?;
    let example_shape = batch.as_ref().map(|(x, _)| x.dims()[1..].to_vec());
    let cfg = config_for(args, &weights, &dir, example_shape)?;
    let (x, names) = match batch {
        Some((x, _)) if x.dims()[1..] != cfg.input_shape[..] => bail!(
            "the model takes inputs of shape {:?}, the .npy batch has {:?}",
            cfg.input_shape,
            &x.dims()[1..]
        ),
        Some(batch) => batch,
        None => {
            let names = args.inputs.iter().map(|p| p.display().to_string());
            (images(&args.inputs, &cfg)?, names.collect())
        }
    };
    let (vs, model) = build_model(&cfg)?;
    super::load_weights(&vs, &weights, &cfg.model, args.strict)?;
    // One forward pass: the threads wait for its kernels spinning (see `keep_awake`).
    let x = x.to_device(&vs.device())?;
    let out = nabla::keep_awake(|| nabla::no_grad(|| model.forward(&x)))?;
    if let Some(path) = &args.output {
        out.write_npy(path)?;
        println!(
            "wrote outputs of shape {} to {}",
            out.shape(),
            path.display()
        );
        return Ok(());
    }
    print_outputs(&out, &names, &cfg, args.topk)
}

/// A `.npy` batch `[n, ...]` as f32, and a name for each of its examples (`x.npy[3]`).
fn npy_batch(path: &std::path::Path) -> Result<(Tensor, Vec<String>)> {
    let t = Tensor::read_npy(path)
        .with_context(|| format!("reading {}", path.display()))?
        .to_dtype(nabla::DType::F32)?;
    if t.rank() < 2 {
        bail!(
            "{} holds a tensor of shape {}; expected a batch [n, ...]",
            path.display(),
            t.shape()
        );
    }
    let names = (0..t.dims()[0])
        .map(|i| format!("{}[{i}]", path.display()))
        .collect();
    Ok((t, names))
}

/// Prints each input's outputs: the `topk` most probable classes of a classifier, or the
/// values of a regression.
fn print_outputs(out: &Tensor, names: &[String], cfg: &RunConfig, topk: usize) -> Result<()> {
    let width = cfg.outputs.max(1);
    if !cfg.classification {
        for (name, row) in names.iter().zip(out.to_vec::<f32>()?.chunks(width)) {
            println!("{name}: {row:?}");
        }
        return Ok(());
    }
    let probs = out.softmax(-1)?.to_vec::<f32>()?;
    let k = topk.min(cfg.outputs);
    let label = |c: usize| {
        cfg.class_names
            .as_ref()
            .and_then(|n| n.get(c).cloned())
            .unwrap_or_else(|| c.to_string())
    };
    for (name, row) in names.iter().zip(probs.chunks(width)) {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        let top: Vec<String> = order[..k]
            .iter()
            .map(|&c| format!("{} {:.2}%", label(c), 100.0 * row[c]))
            .collect();
        println!("{name}: {}", top.join(", "));
    }
    Ok(())
}

/// Loads and preprocesses image files as in training: resized to the model's input, grey or
/// RGB, normalized per channel.
pub(crate) fn images(paths: &[std::path::PathBuf], cfg: &RunConfig) -> Result<Tensor> {
    let [c, h, w] = cfg.input_shape[..] else {
        bail!(
            "the model takes inputs of shape {:?}, not images",
            cfg.input_shape
        );
    };
    let opts = ImageOptions::new(h, w).grayscale(c == 1);
    let mut data = Vec::with_capacity(paths.len() * c * h * w);
    for p in paths {
        let mut img =
            load_image(p, &opts).with_context(|| format!("reading image {}", p.display()))?;
        if img.len() != c * h * w {
            bail!(
                "{}: decoded to {} values, the model needs {c}x{h}x{w}",
                p.display(),
                img.len()
            );
        }
        for ch in 0..c.min(cfg.mean.len()) {
            for v in &mut img[ch * h * w..(ch + 1) * h * w] {
                *v = (*v - cfg.mean[ch]) / cfg.std[ch];
            }
        }
        data.extend(img);
    }
    Ok(Tensor::from_vec(
        data,
        &[paths.len(), c, h, w],
        &Device::Cpu,
    )?)
}
