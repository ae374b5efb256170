//! `nabla train --model dcgan`: a generator and a discriminator take turns on the training
//! images (labels unused). Each epoch records the batch means of both losses and of the
//! discriminator's `D(x)` and `D(G(z))` in `metrics.csv`, draws them in `curves.png` (losses
//! left, probabilities right) and saves `model.safetensors`.

use super::Batches;
use crate::args::TrainArgs;
use anyhow::{bail, Result};
use nabla_nn::models::dcgan::{Dcgan, GanStep, GanTrainer};
use nabla_nn::trainer::{write_panels, EpochProgress};
use nabla_nn::{Loader, VarStore};
use std::path::Path;
use std::time::Instant;

/// What follows the two losses' gradients (the DCGAN paper's settings).
pub const OPTIMIZER: &str = "adam, betas (0.5, 0.999), one per network";

/// The columns of a GAN run's `metrics.csv`.
pub const GAN_CSV_HEADER: &str = "epoch,d_loss,g_loss,d_real,d_fake,seconds";

/// One epoch's means over its batches (weighted by their sizes) and its duration.
#[derive(Debug, Clone, Copy, Default)]
struct GanEpoch {
    epoch: usize,
    mean: GanStep,
    seconds: f64,
}

impl GanEpoch {
    fn csv_line(&self) -> String {
        let m = &self.mean;
        format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.3}",
            self.epoch, m.d_loss, m.g_loss, m.d_real, m.d_fake, self.seconds
        )
    }
}

/// Running sums of [`GanStep`]s weighted by batch size.
#[derive(Default)]
struct Sums {
    sum: GanStep,
    n: usize,
}

impl Sums {
    fn add(&mut self, s: &GanStep, rows: usize) {
        let w = rows as f64;
        self.sum.d_loss += s.d_loss * w;
        self.sum.g_loss += s.g_loss * w;
        self.sum.d_real += s.d_real * w;
        self.sum.d_fake += s.d_fake * w;
        self.n += rows;
    }

    fn mean(&self) -> GanStep {
        let n = self.n.max(1) as f64;
        GanStep {
            d_loss: self.sum.d_loss / n,
            g_loss: self.sum.g_loss / n,
            d_real: self.sum.d_real / n,
            d_fake: self.sum.d_fake / n,
        }
    }
}

/// Writes `metrics.csv` and `curves.png` of the epochs so far.
fn write_history(dir: &Path, history: &[GanEpoch]) -> Result<()> {
    let csv: String = std::iter::once(GAN_CSV_HEADER.to_string())
        .chain(history.iter().map(GanEpoch::csv_line))
        .map(|l| l + "\n")
        .collect();
    nabla::io::write_atomic(&dir.join("metrics.csv"), csv.as_bytes())?;
    let pick = |f: fn(&GanStep) -> f64| -> Vec<(f64, f64)> {
        history
            .iter()
            .map(|e| (e.epoch as f64, f(&e.mean)))
            .collect()
    };
    write_panels(
        &dir.join("curves.png"),
        &[
            (
                "losses (nats)",
                vec![
                    ("discriminator", pick(|m| m.d_loss)),
                    ("generator", pick(|m| m.g_loss)),
                ],
            ),
            (
                "discriminator's probability of 'real'",
                vec![
                    ("D(x)", pick(|m| m.d_real)),
                    ("D(G(z))", pick(|m| m.d_fake)),
                ],
            ),
        ],
    )?;
    Ok(())
}

/// Trains `gan` (variables in `vs`) on the images of `train` and writes the run folder `dir`.
pub fn run(
    args: &TrainArgs,
    gan: &Dcgan,
    vs: &VarStore,
    train: &Batches,
    dir: &Path,
    lr: f64,
) -> Result<()> {
    let mut trainer = GanTrainer::new(vs, lr);
    super::train::report(dir, &[announce(args, vs, lr)])?;
    let started = Instant::now();
    let mut history: Vec<GanEpoch> = vec![];
    let mut steps = 0usize;
    for epoch in 1..=args.epochs {
        let t0 = Instant::now();
        let Some(mean) = train_epoch(args, gan, vs, &mut trainer, train, epoch, &mut steps)? else {
            break;
        };
        let record = GanEpoch {
            epoch,
            mean,
            seconds: t0.elapsed().as_secs_f64(),
        };
        let m = record.mean;
        super::train::report(
            dir,
            &[format!(
                "epoch {epoch}/{}: D loss {:.4} | G loss {:.4} | D(x) {:.3} | D(G(z)) {:.3} | {:.1}s",
                args.epochs, m.d_loss, m.g_loss, m.d_real, m.d_fake, record.seconds
            )],
        )?;
        history.push(record);
        write_history(dir, &history)?;
        vs.save(dir.join("model.safetensors"))?;
    }
    super::train::report(
        dir,
        &[
            format!("training took {:.1}s", started.elapsed().as_secs_f64()),
            format!(
                "saved {}/model.safetensors, metrics.csv, curves.png, config.json, train.log; \
                 samples: nabla sample --weights {0}; scores: nabla gan-score --weights {0}",
                dir.display()
            ),
        ],
    )
}

/// Parameters under `prefix`.
/// The run's first line: both networks' sizes, the data, the optimization.
fn announce(args: &TrainArgs, vs: &VarStore, lr: f64) -> String {
    format!(
        "training dcgan ({} parameters: generator {}, discriminator {}) on {}: batch {}, {OPTIMIZER}, lr {lr}, {}, {} threads",
        vs.num_params(),
        count(vs, nabla_nn::models::dcgan::GENERATOR),
        count(vs, nabla_nn::models::dcgan::DISCRIMINATOR),
        args.data,
        args.batch_size,
        super::count(args.epochs, "epoch"),
        nabla::num_threads()
    )
}

/// One epoch of alternating steps, counting steps against `--max-steps`: the epoch's means,
/// or `None` when no step was left to take.
fn train_epoch(
    args: &TrainArgs,
    gan: &Dcgan,
    vs: &VarStore,
    trainer: &mut GanTrainer,
    train: &Batches,
    epoch: usize,
    steps: &mut usize,
) -> Result<Option<GanStep>> {
    let mut progress = EpochProgress::new(epoch, args.epochs, train.num_batches(), !args.quiet);
    let mut sums = Sums::default();
    for batch in train.epoch(epoch - 1) {
        if args.max_steps.is_some_and(|m| *steps >= m) {
            break;
        }
        let (x, _) = batch?;
        let rows = x.dims()[0];
        let s = trainer.step(gan, vs, &x)?;
        if !(s.d_loss.is_finite() && s.g_loss.is_finite()) {
            bail!("a GAN loss became non-finite at step {steps} ({s:?}): lower --lr");
        }
        sums.add(&s, rows);
        *steps += 1;
        progress.step(rows, s.d_loss + s.g_loss, None);
    }
    progress.finish();
    Ok((sums.n > 0).then(|| sums.mean()))
}

fn count(vs: &VarStore, prefix: &str) -> usize {
    vs.trainable()
        .iter()
        .filter(|v| nabla_nn::under_prefix(v.name(), prefix))
        .map(|v| v.numel())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gan_sums_weigh_batches_by_size() {
        let mut s = Sums::default();
        let a = GanStep {
            d_loss: 1.0,
            g_loss: 2.0,
            d_real: 0.5,
            d_fake: 0.25,
        };
        let b = GanStep { d_loss: 4.0, ..a };
        s.add(&a, 3);
        s.add(&b, 1);
        let m = s.mean();
        assert!((m.d_loss - 1.75).abs() < 1e-12);
        assert!((m.g_loss - 2.0).abs() < 1e-12);
        let line = GanEpoch {
            epoch: 2,
            mean: m,
            seconds: 1.5,
        }
        .csv_line();
        assert_eq!(line.split(',').count(), GAN_CSV_HEADER.split(',').count());
    }
}
