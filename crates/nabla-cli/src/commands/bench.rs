//! `nabla bench`: named training and inference workloads, timed the way
//! `bench/pytorch/train.py` times the same work in PyTorch (bench/compare.sh runs both).
//!
//! Each workload prints the median and minimum seconds of one iteration, its throughput in
//! examples per second, and the process's peak resident memory (`VmHWM`). Peak memory is per
//! process, so compare workloads one process each (`--only NAME`).

use super::{loader, model_config, Batches};
use crate::args::BenchArgs;
use crate::run_config::RunConfig;
use anyhow::{bail, Result};
use nabla::{DType, Device, Tensor};
use nabla_data::spec::{self as data_spec, SpecOptions};
use nabla_nn::optim::{Optimizer, Sgd};
use nabla_nn::{models, Loader, Module, VarStore};
use std::time::Instant;

/// The body of one timed iteration; returns the examples it processed.
type Body = Box<dyn FnMut() -> Result<usize>>;

/// A named workload.
struct Workload {
    name: &'static str,
    /// Untimed iterations before the timed ones.
    warmup: usize,
    /// Timed iterations when `--repeat` is not given.
    repeat: usize,
    /// Builds the model and data (untimed) and returns the iteration body.
    setup: fn() -> Result<Body>,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "mlp_epoch",
        warmup: 0,
        repeat: 3,
        setup: || mnist_epoch("mlp", 128),
    },
    Workload {
        name: "lenet5_epoch",
        warmup: 0,
        repeat: 3,
        setup: || mnist_epoch("lenet5", 64),
    },
    Workload {
        name: "resnet18_step_32",
        warmup: 1,
        repeat: 3,
        setup: || train_step("resnet18", [64, 3, 32, 32], 10),
    },
    Workload {
        name: "resnet18_step_224",
        warmup: 1,
        repeat: 3,
        setup: || train_step("resnet18", [8, 3, 224, 224], 1000),
    },
    Workload {
        name: "latency_lenet5",
        warmup: 5,
        repeat: 50,
        setup: || latency("lenet5", [1, 1, 28, 28], 10),
    },
    Workload {
        name: "latency_resnet18",
        warmup: 2,
        repeat: 20,
        setup: || latency("resnet18", [1, 3, 224, 224], 1000),
    },
];

/// SGD with momentum 0.9 at learning rate 0.01, as in every training workload.
fn momentum_sgd(vs: &VarStore) -> Sgd {
    Sgd::new(vs.trainable(), 0.01).momentum(0.9)
}

/// One step: forward in training mode, cross-entropy, backward, optimizer step.
fn step(model: &dyn Module, opt: &mut Sgd, x: &Tensor, y: &Tensor) -> Result<()> {
    let loss = model.forward_t(x, true)?.cross_entropy(y, 0.0)?;
    let grads = loss.backward()?;
    opt.step(&grads)?;
    Ok(())
}

/// One epoch over the bundled MNIST training set (60,000 images) with `model`, batches of
/// `batch` shuffled anew each epoch, normalized per sample by the DataLoader as `nabla
/// train` does; loading and batching are timed with the training.
fn mnist_epoch(model: &'static str, batch: usize) -> Result<Body> {
    let data = data_spec::load("mnist", &SpecOptions::default())?;
    let cfg = RunConfig {
        model: model.into(),
        data: "mnist".into(),
        input_shape: data.input_shape.clone(),
        outputs: data.outputs,
        classification: true,
        mean: data.normalize.0.clone(),
        std: data.normalize.1.clone(),
        class_names: None,
        transform_input: false,
        training: serde_json::Value::Null,
    };
    let (vs, net) = super::build_model(&cfg)?;
    let mut opt = momentum_sgd(&vs);
    let train = Batches(loader(data.train.clone(), batch, &cfg, true, 0, false)?);
    let mut epoch = 0;
    Ok(Box::new(move || {
        let _keep = &vs;
        let mut n = 0;
        let device = vs.device();
        for b in train.epoch(epoch) {
            let (x, y) = b?;
            let (x, y) = (x.to_device(&device)?, y.to_device(&device)?);
            step(net.as_ref(), &mut opt, &x, &y)?;
            n += x.dims()[0];
        }
        epoch += 1;
        Ok(n)
    }))
}

/// Random inputs of `shape` (`[batch, c, h, w]`) and random labels below `classes`, on
/// `--device`.
fn random_batch(shape: [usize; 4], classes: usize) -> Result<(Tensor, Tensor)> {
    let device = super::device();
    let x = Tensor::randn(&shape, DType::F32, &device)?;
    // The labels are drawn on the host, rounded there, and copied once.
    let y = Tensor::uniform(0.0, classes as f64, &[shape[0]], DType::F32, &Device::Cpu)?
        .to_vec::<f32>()?
        .into_iter()
        .map(|v| (v as i64).min(classes as i64 - 1))
        .collect();
    Ok((x, Tensor::from_vec::<i64>(y, &[shape[0]], &device)?))
}

/// A freshly initialized zoo model for inputs of `shape` (`[batch, c, h, w]`).
fn zoo_model(name: &str, shape: [usize; 4], classes: usize) -> Result<(VarStore, Box<dyn Module>)> {
    let vs = VarStore::new(&super::device());
    let net = models::build(name, &vs.root(), &model_config(&shape[1..], classes))?;
    Ok((vs, net))
}

/// One training step of `name` on a fixed random batch of `shape` with `classes` classes.
fn train_step(name: &'static str, shape: [usize; 4], classes: usize) -> Result<Body> {
    let (vs, net) = zoo_model(name, shape, classes)?;
    let mut opt = momentum_sgd(&vs);
    let (x, y) = random_batch(shape, classes)?;
    Ok(Box::new(move || {
        step(net.as_ref(), &mut opt, &x, &y)?;
        Ok(shape[0])
    }))
}

/// One inference of `name` in evaluation mode without gradient recording on a random input
/// of `shape` (batch 1).
fn latency(name: &'static str, shape: [usize; 4], classes: usize) -> Result<Body> {
    let (vs, net) = zoo_model(name, shape, classes)?;
    let x = Tensor::randn(&shape, DType::F32, &vs.device())?;
    Ok(Box::new(move || {
        let _keep = &vs;
        // The pool's threads wait for each kernel spinning, as PyTorch's OpenMP threads do.
        let y = nabla::keep_awake(|| nabla::no_grad(|| net.forward_t(&x, false)))?;
        std::hint::black_box(y);
        Ok(shape[0])
    }))
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`; `None` elsewhere).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The workloads `only` names (all when empty), refusing unknown names with the list.
fn selected(only: &[String]) -> Result<Vec<&'static Workload>> {
    for name in only {
        if !WORKLOADS.iter().any(|w| w.name == name) {
            let names: Vec<_> = WORKLOADS.iter().map(|w| w.name).collect();
            bail!(
                "--only: unknown workload '{name}'; choose from {}",
                names.join(", ")
            );
        }
    }
    Ok(WORKLOADS
        .iter()
        .filter(|w| only.is_empty() || only.iter().any(|o| o == w.name))
        .collect())
}

/// Runs `nabla bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    let chosen = selected(&args.only)?;
    // Mixed-precision runs report their workloads as NAME_bf16, with the kernels' path.
    let (suffix, path) = match args.precision.precision {
        crate::args::Precision::F32 => ("", "null".to_string()),
        crate::args::Precision::Bf16 => ("_bf16", format!("\"{}\"", nabla::bf16_path())),
    };
    for w in chosen {
        nabla::manual_seed(0);
        let mut body = (w.setup)()?;
        for _ in 0..w.warmup {
            body()?;
        }
        let repeat = args.repeat.map_or(w.repeat, |r| r as usize);
        let mut times = Vec::with_capacity(repeat);
        let mut examples = 0;
        for _ in 0..repeat {
            let t = Instant::now();
            examples = body()?;
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let (median, min) = (times[times.len() / 2], times[0]);
        let throughput = examples as f64 / median;
        let rss = peak_rss_mb();
        let threads = nabla::num_threads();
        if args.json {
            let r = rss.map_or("null".to_string(), |r| format!("{r:.1}"));
            println!(
                r#"{{"workload": "{}{suffix}", "median_s": {median:.6}, "min_s": {min:.6}, "examples_per_s": {throughput:.2}, "repeat": {repeat}, "threads": {threads}, "peak_rss_mb": {r}, "bf16_path": {path}}}"#,
                w.name
            );
        } else {
            println!(
                "{:<23} median {:10.3} ms  min {:10.3} ms  {:10.1} examples/s  peak RSS {:.0} MiB",
                format!("{}{suffix}", w.name),
                median * 1e3,
                min * 1e3,
                throughput,
                rss.unwrap_or(0.0)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_refused_with_the_list() {
        let Err(e) = selected(&["lenet".into()]) else {
            panic!("an unknown name was accepted")
        };
        let e = e.to_string();
        assert!(e.contains("'lenet'") && e.contains("lenet5_epoch, resnet18_step_32"));
        assert_eq!(selected(&[]).unwrap().len(), WORKLOADS.len());
        let one = selected(&["latency_lenet5".into()]).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].name, "latency_lenet5");
    }

    #[test]
    fn random_labels_are_in_range() -> Result<()> {
        let (x, y) = random_batch([4, 3, 8, 8], 10)?;
        assert_eq!(x.dims(), &[4, 3, 8, 8]);
        let labels = y.to_vec::<i64>()?;
        assert_eq!(labels.len(), 4);
        assert!(labels.iter().all(|&l| (0..10).contains(&l)));
        Ok(())
    }
}
