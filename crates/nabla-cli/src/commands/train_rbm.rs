//! `nabla train --model rbm`: a restricted Boltzmann machine learns the training images by
//! contrastive divergence (CD-k, or persistent CD with `--persistent`). Each epoch records
//! the squared reconstruction error per image of the training batches and of the test set
//! in `metrics.csv` (as `train_loss` and `val_loss`) and `curves.png`.

use super::Batches;
use crate::args::TrainArgs;
use anyhow::Result;
use nabla_nn::models::rbm::{CdConfig, ContrastiveDivergence, Rbm};
use nabla_nn::optim::{Optimizer, Sgd};
use nabla_nn::trainer::{write_curves, EpochProgress, EpochRecord, CSV_HEADER};
use nabla_nn::{Loader, VarStore};
use std::path::Path;
use std::time::Instant;

/// What follows the contrastive-divergence estimate: SGD with momentum 0.5, as in Hinton's
/// practical guide to training RBMs (learning rate 0.1 on batch means by default).
pub const OPTIMIZER: &str = "sgd, momentum 0.5";

/// The mean reconstruction error per image over a loader's batches (weighted by their sizes).
fn reconstruction_error(rbm: &Rbm, data: &Batches) -> Result<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for batch in data.epoch(0) {
        let (x, _) = batch?;
        let rows = x.dims()[0];
        sum += rbm.reconstruction_error(&x)? * rows as f64;
        n += rows;
    }
    Ok(sum / n.max(1) as f64)
}

/// Trains `rbm` (variables in `vs`) on `train`, measuring on `test` after each epoch, and
/// writes the run folder `dir`.
pub fn run(
    args: &TrainArgs,
    rbm: &Rbm,
    vs: &VarStore,
    (train, test): (&Batches, &Batches),
    dir: &Path,
    lr: f64,
) -> Result<()> {
    let mut cd = ContrastiveDivergence::new(CdConfig {
        k: args.cd_k as usize,
        persistent: args.persistent,
    });
    let mut opt = Sgd::new(vs.trainable(), lr)
        .momentum(0.5)
        .weight_decay(args.weight_decay);
    super::train::report(dir, &[announce(args, rbm, vs, lr)])?;
    let started = Instant::now();
    let mut history: Vec<EpochRecord> = vec![];
    let mut steps = 0usize;
    for epoch in 1..=args.epochs {
        let t0 = Instant::now();
        let Some(train_err) = train_epoch(args, rbm, &mut cd, &mut opt, train, epoch, &mut steps)?
        else {
            break;
        };
        let record = EpochRecord {
            epoch,
            train_loss: train_err,
            val_loss: Some(reconstruction_error(rbm, test)?),
            lr,
            seconds: t0.elapsed().as_secs_f64(),
            ..EpochRecord::default()
        };
        history.push(record);
        record_epoch(args, vs, dir, &history)?;
    }
    let test_err = match history.last() {
        Some(r) => r.val_loss.unwrap_or(f64::NAN),
        None => reconstruction_error(rbm, test)?,
    };
    super::train::report(
        dir,
        &[
            format!(
                "test reconstruction error {test_err:.4} per image (squared, summed over pixels)"
            ),
            format!("training took {:.1}s", started.elapsed().as_secs_f64()),
            format!(
                "saved {}/model.safetensors, metrics.csv, curves.png, config.json, train.log; \
                 filters: nabla viz filters --weights {0}; samples: nabla sample --weights {0}",
                dir.display()
            ),
        ],
    )
}

/// The run's first line: the machine, the method, the optimization.
fn announce(args: &TrainArgs, rbm: &Rbm, vs: &VarStore, lr: f64) -> String {
    let persistent = if args.persistent { "persistent " } else { "" };
    format!(
        "training rbm {}-{} ({} parameters) by {persistent}CD-{} on {}: batch {}, {OPTIMIZER}, lr {lr}, {}, {} threads",
        rbm.visible,
        rbm.hidden,
        vs.num_params(),
        args.cd_k,
        args.data,
        args.batch_size,
        super::count(args.epochs, "epoch"),
        nabla::num_threads()
    )
}

/// One epoch of contrastive divergence, counting steps against `--max-steps`: the mean
/// reconstruction error per training image, or `None` when no step was left to take.
fn train_epoch(
    args: &TrainArgs,
    rbm: &Rbm,
    cd: &mut ContrastiveDivergence,
    opt: &mut Sgd,
    train: &Batches,
    epoch: usize,
    steps: &mut usize,
) -> Result<Option<f64>> {
    let mut progress = EpochProgress::new(epoch, args.epochs, train.num_batches(), !args.quiet);
    let (mut sum, mut n) = (0.0, 0usize);
    for batch in train.epoch(epoch - 1) {
        if args.max_steps.is_some_and(|m| *steps >= m) {
            break;
        }
        let (x, _) = batch?;
        let loss = cd.loss(rbm, &x)?;
        opt.step(&loss.backward()?)?;
        let rows = x.dims()[0];
        let err = rbm.reconstruction_error(&x)?;
        if !err.is_finite() {
            anyhow::bail!("the reconstruction error became {err} at step {steps}: lower --lr");
        }
        sum += err * rows as f64;
        n += rows;
        *steps += 1;
        progress.step(rows, err, None);
    }
    progress.finish();
    Ok((n > 0).then(|| sum / n as f64))
}

/// The epoch's line, `metrics.csv`, `curves.png` and the weights, after each epoch.
fn record_epoch(
    args: &TrainArgs,
    vs: &VarStore,
    dir: &Path,
    history: &[EpochRecord],
) -> Result<()> {
    let Some(r) = history.last() else {
        return Ok(());
    };
    super::train::report(
        dir,
        &[format!(
            "epoch {}/{}: train reconstruction error {:.4} | test {:.4} | {:.1}s",
            r.epoch,
            args.epochs,
            r.train_loss,
            r.val_loss.unwrap_or(f64::NAN),
            r.seconds
        )],
    )?;
    let csv: String = std::iter::once(CSV_HEADER.to_string())
        .chain(history.iter().map(EpochRecord::csv_line))
        .map(|l| l + "\n")
        .collect();
    nabla::io::write_atomic(&dir.join("metrics.csv"), csv.as_bytes())?;
    write_curves(&dir.join("curves.png"), history)?;
    vs.save(dir.join("model.safetensors"))?;
    Ok(())
}
