//! `nabla eval`: loss, top-1/top-k accuracy, per-class accuracy and the confusion matrix of
//! a trained model on a dataset's test part.

use super::{build_model, loader};
use crate::args::EvalArgs;
use crate::confusion::{draw_confusion, ConfusionMatrix};
use crate::data_spec::{self, SpecOptions};
use crate::run_config::{resolve_weights, RunConfig};
use anyhow::{bail, Context, Result};
use nabla_nn::trainer::hits;

/// Runs `nabla eval`.
pub fn run(args: &EvalArgs) -> Result<()> {
    if args.topk == 0 {
        bail!("--topk must be at least 1");
    }
    let (weights, dir) = resolve_weights(&args.weights)?;
    let cfg = RunConfig::load(&dir)?;
    let spec = args.data.clone().unwrap_or_else(|| cfg.data.clone());
    let data = data_spec::load(&spec, &SpecOptions::default())
        .with_context(|| format!("loading dataset '{spec}'"))?;
    // A classifier may have more outputs than the data has classes (`train --num-classes`).
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
    let (vs, model) = build_model(&cfg)?;
    vs.load(&weights)
        .with_context(|| format!("loading {} into {}", weights.display(), cfg.model))?;
    let test = loader(
        data.test.clone(),
        args.batch_size as usize,
        &cfg,
        false,
        0,
        false,
    )?;
    let classes = cfg.outputs;
    let k = args.topk.min(classes);
    let mut cm = ConfusionMatrix::new(classes);
    let (mut loss_sum, mut n, mut top1, mut topk) = (0.0f64, 0usize, 0usize, 0usize);
    nabla::no_grad(|| -> Result<()> {
        for batch in test.epoch(0) {
            let batch = batch?;
            let out = model.forward(&batch.inputs)?;
            let b = batch.indices.len();
            if cfg.classification {
                loss_sum += out.cross_entropy(&batch.targets, 0.0)?.to_scalar::<f64>()? * b as f64;
                if let Some(h) = hits(&out, &batch.targets, k)? {
                    top1 += h.top1;
                    topk += h.topk;
                }
                let pred = out.argmax(1)?.to_vec::<i64>()?;
                for (t, p) in batch.targets.to_vec::<i64>()?.iter().zip(pred) {
                    cm.add(*t as usize, p as usize);
                }
            } else {
                loss_sum +=
                    nabla_nn::loss::mse(&out, &batch.targets, nabla_nn::loss::Reduction::Mean)?
                        .to_scalar::<f64>()?
                        * b as f64;
            }
            n += b;
        }
        Ok(())
    })?;
    let nf = n.max(1) as f64;
    println!("{} on {spec} (test part, {n} examples)", weights.display());
    if !cfg.classification {
        println!("loss (MSE): {:.6}", loss_sum / nf);
        return Ok(());
    }
    println!("loss: {:.4}", loss_sum / nf);
    println!("top-1 accuracy: {:.2}%", 100.0 * top1 as f64 / nf);
    println!("top-{k} accuracy: {:.2}%", 100.0 * topk as f64 / nf);
    let mut names: Vec<String> = cfg.class_names.clone().unwrap_or_default();
    names.extend((names.len()..classes).map(|c| c.to_string()));
    println!("\nper-class accuracy:");
    for (c, acc) in cm.per_class_accuracy().iter().enumerate() {
        match acc {
            Some(a) => println!(
                "  {:>10}: {:6.2}% ({} examples)",
                names[c],
                100.0 * a,
                cm.row_total(c)
            ),
            None => println!("  {:>10}:    n/a (no examples)", names[c]),
        }
    }
    println!(
        "\nconfusion matrix (rows: true class, columns: predicted):\n{}",
        cm.to_text(&names)
    );
    let png = args
        .confusion_png
        .clone()
        .unwrap_or_else(|| dir.join("confusion.png"));
    draw_confusion(&png, &cm, &names)?;
    println!("confusion matrix drawn to {}", png.display());
    Ok(())
}
