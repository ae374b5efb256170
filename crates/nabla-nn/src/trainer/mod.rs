//! The `Trainer`: the course's training loop (get a batch → forward → loss → backpropagate →
//! update), validation after each epoch, and what a user expects around it: a progress bar,
//! `metrics.csv`, `curves.png`, a checkpoint every epoch that `resume` continues from
//! bitwise-exactly, early stopping, and a clear stop when the loss becomes NaN.

mod metrics;
mod parallel;
mod plot;
mod progress;

pub use metrics::{hits, EpochRecord, Hits, CSV_HEADER};
use parallel::EpochSums;
pub use plot::{register_font as register_plot_font, write_curves, write_panels, Curve};

use crate::checkpoint::{self, Checkpoint};
use crate::distributed::DataParallel;
use crate::optim::{clip_grad_norm, Optimizer, ReduceOnPlateau, Schedule};
use crate::{Error, Module, Result, VarStore};
use nabla::rng::{global_rng_state, set_global_rng_state};
use nabla::{no_grad, Device, Tensor};
pub use progress::EpochProgress;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A source of `(inputs, targets)` batches, one pass per epoch.
pub trait Loader {
    /// The batches of epoch `epoch` (0-based; a shuffling loader derives its order from it).
    fn epoch(&self, epoch: usize) -> Box<dyn Iterator<Item = Result<(Tensor, Tensor)>> + '_>;
    /// Number of batches per epoch.
    fn num_batches(&self) -> usize;
}

/// Fixed batches, the same every epoch.
impl Loader for Vec<(Tensor, Tensor)> {
    fn epoch(&self, _epoch: usize) -> Box<dyn Iterator<Item = Result<(Tensor, Tensor)>> + '_> {
        Box::new(self.iter().map(|(x, y)| Ok((x.clone(), y.clone()))))
    }
    fn num_batches(&self) -> usize {
        self.len()
    }
}

/// The loss of a batch from the model output and the targets.
pub type LossFn = Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor> + Send + Sync>;

/// Options of a [`Trainer`].
#[derive(Clone, Debug)]
pub struct TrainerConfig {
    /// Epochs to train (in total, counting epochs before a resume).
    pub epochs: usize,
    /// Stop after this many optimizer steps in total (for quick runs).
    pub max_steps: Option<usize>,
    /// Where `metrics.csv`, `curves.png`, `checkpoint.safetensors`, `model.safetensors` and
    /// `train.log` go; nothing is written when `None`.
    pub out_dir: Option<PathBuf>,
    /// Draw a progress bar (on stderr, when it is a terminal).
    pub progress: bool,
    /// Print one summary line per epoch on stdout.
    pub verbose: bool,
    /// k of the top-k validation accuracy.
    pub topk: usize,
    /// Learning-rate schedule over epochs (ignored when `plateau` is set).
    pub schedule: Schedule,
    /// Reduce the learning rate when the validation loss plateaus.
    pub plateau: Option<ReduceOnPlateau>,
    /// Stop when the validation loss has not improved for this many epochs.
    pub early_stopping: Option<usize>,
    /// Clip the global gradient norm to this value.
    pub clip_grad_norm: Option<f64>,
    /// Mixed precision: `Some(DType::BF16)` runs training and validation inside
    /// [`nabla::autocast`] (products in bf16, sums, losses, statistics and the optimizer in
    /// f32, f32 master weights); `None` trains in the model's own dtype.
    pub autocast: Option<nabla::DType>,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        TrainerConfig {
            epochs: 10,
            max_steps: None,
            out_dir: None,
            progress: true,
            verbose: true,
            topk: 5,
            schedule: Schedule::Constant,
            plateau: None,
            early_stopping: None,
            clip_grad_norm: None,
            autocast: None,
        }
    }
}

/// Loss and accuracy of a model over a loader.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Mean loss per example.
    pub loss: f64,
    /// Top-1 accuracy (classification).
    pub accuracy: Option<f64>,
    /// Top-k accuracy (classification).
    pub topk: Option<f64>,
    /// Examples seen.
    pub n: usize,
}

/// Trains a model held in a [`VarStore`] with an optimizer.
pub struct Trainer<'a> {
    model: &'a dyn Module,
    vs: VarStore,
    opt: Box<dyn Optimizer + 'a>,
    loss: LossFn,
    cfg: TrainerConfig,
    base_lr: f64,
    lr: f64,
    history: Vec<EpochRecord>,
    global_step: usize,
    best: f64,
    bad_epochs: usize,
    parallel: Option<DataParallel<'a>>,
}

const CHECKPOINT: &str = "checkpoint.safetensors";

fn write_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source: e,
    }
}

impl<'a> Trainer<'a> {
    /// A trainer minimizing cross-entropy (change it with [`Trainer::with_loss`]).
    pub fn new(
        model: &'a dyn Module,
        vs: &VarStore,
        opt: Box<dyn Optimizer + 'a>,
        cfg: TrainerConfig,
    ) -> Self {
        let base_lr = opt.lr();
        Trainer {
            model,
            vs: vs.clone(),
            opt,
            loss: Box::new(classification_loss),
            cfg,
            base_lr,
            lr: base_lr,
            history: Vec::new(),
            global_step: 0,
            best: f64::INFINITY,
            bad_epochs: 0,
            parallel: None,
        }
    }

    /// Uses another loss.
    pub fn with_loss(mut self, loss: LossFn) -> Self {
        self.loss = loss;
        self
    }

    /// The epochs recorded so far.
    pub fn history(&self) -> &[EpochRecord] {
        &self.history
    }

    /// Optimizer steps taken so far.
    pub fn global_step(&self) -> usize {
        self.global_step
    }

    /// Loss and accuracy over every batch of `loader` (epoch 0), in evaluation mode, without
    /// recording gradients.
    ///
    /// # Errors
    /// Data and model errors.
    pub fn evaluate(&self, loader: &dyn Loader) -> Result<Evaluation> {
        let _autocast = self.autocast_scope()?;
        let local = evaluate(
            self.model,
            &self.loss,
            loader,
            self.cfg.topk,
            &self.vs.device(),
        )?;
        self.combine_evaluations(local)
    }

    /// The [`TrainerConfig::autocast`] scope, held while the value lives.
    fn autocast_scope(&self) -> Result<Option<nabla::AutocastGuard>> {
        Ok(self
            .cfg
            .autocast
            .map(nabla::AutocastGuard::new)
            .transpose()?)
    }

    /// Trains from the current epoch up to `cfg.epochs`, validating after each epoch.
    ///
    /// # Errors
    /// [`Error::NonFiniteLoss`] naming the epoch and step when the loss becomes NaN or
    /// infinite; data, model and I/O errors.
    pub fn fit(
        &mut self,
        train: &dyn Loader,
        valid: Option<&dyn Loader>,
    ) -> Result<&[EpochRecord]> {
        if let Some(dir) = &self.cfg.out_dir {
            std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
        }
        self.share_state()?;
        let _autocast = self.autocast_scope()?;
        let first = self.history.len();
        for epoch in first..self.cfg.epochs {
            if self.cfg.max_steps.is_some_and(|m| self.global_step >= m) {
                break;
            }
            let started = Instant::now();
            if self.cfg.plateau.is_none() {
                self.lr = self.cfg.schedule.lr(self.base_lr, epoch);
            }
            self.opt.set_lr(self.lr);
            if let Some(dp) = &self.parallel {
                dp.split_rng(&format!("random state of epoch {}", epoch + 1))?;
            }
            let sums = self.train_epoch(train, epoch)?;
            let (train_loss, train_acc) = self.combine_epoch(sums, epoch)?;
            let val = valid.map(|v| self.evaluate(v)).transpose()?;
            let record = EpochRecord {
                epoch: epoch + 1,
                train_loss,
                train_acc,
                val_loss: val.map(|v| v.loss),
                val_acc: val.and_then(|v| v.accuracy),
                val_topk: val.and_then(|v| v.topk),
                lr: self.lr,
                seconds: started.elapsed().as_secs_f64(),
            };
            self.history.push(record.clone());
            let monitored = record.val_loss.unwrap_or(record.train_loss);
            if let Some(p) = &mut self.cfg.plateau {
                self.lr = p.step(monitored, self.lr);
            }
            let stop = self.early_stop(monitored);
            self.report(&record)?;
            self.save_checkpoint()?;
            if stop {
                self.log(&format!(
                    "early stopping: no improvement for {} epoch{}",
                    self.bad_epochs,
                    if self.bad_epochs == 1 { "" } else { "s" }
                ))?;
                break;
            }
        }
        Ok(&self.history)
    }

    /// One pass over `train`; returns this rank's sums (loss × examples, examples, top-1
    /// hits, whether any batch was classification).
    fn train_epoch(&mut self, train: &dyn Loader, epoch: usize) -> Result<EpochSums> {
        let steps = steps_in_epoch(train.num_batches(), self.cfg.max_steps, self.global_step);
        let mut progress = EpochProgress::new(epoch + 1, self.cfg.epochs, steps, self.cfg.progress);
        let (mut loss_sum, mut n) = (0.0f64, 0usize);
        let (mut hits_sum, mut predictions, mut classified) = (0usize, 0usize, false);
        let device = self.vs.device();
        for (step, batch) in train.epoch(epoch).enumerate() {
            // The loader's batch goes to the model's device: the one copy in per batch.
            let (x, y) = batch?;
            let (x, y) = (x.to_device(&device)?, y.to_device(&device)?);
            let out = self.model.forward_t(&x, true)?;
            let loss = (self.loss)(&out, &y)?;
            let value = loss.to_scalar::<f32>()?;
            if !value.is_finite() {
                progress.finish();
                return Err(Error::NonFiniteLoss {
                    value,
                    epoch: epoch + 1,
                    step: step + 1,
                });
            }
            let mut grads = loss.backward()?;
            if let Some(dp) = &self.parallel {
                dp.average_gradients(&mut grads, &self.vs.trainable(), self.global_step + 1)?;
            }
            if let Some(c) = self.cfg.clip_grad_norm {
                clip_grad_norm(&mut grads, &self.vs.trainable(), c)?;
            }
            self.opt.step(&grads)?;
            self.global_step += 1;
            let b = x.dims().first().copied().unwrap_or(1);
            loss_sum += value as f64 * b as f64;
            n += b;
            if let Some(h) = hits(&out.detach(), &y, 1)? {
                hits_sum += h.top1;
                predictions += h.n;
                classified = true;
            }
            let acc = classified.then(|| hits_sum as f64 / predictions.max(1) as f64);
            progress.step(b, loss_sum / n as f64, acc);
            if self.cfg.max_steps.is_some_and(|m| self.global_step >= m) {
                break;
            }
        }
        progress.finish();
        Ok(EpochSums {
            loss_sum,
            n,
            hits: hits_sum,
            predictions,
            classified,
        })
    }

    fn early_stop(&mut self, monitored: f64) -> bool {
        if monitored < self.best {
            self.best = monitored;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        self.cfg
            .early_stopping
            .is_some_and(|p| self.bad_epochs >= p)
    }

    fn log(&self, line: &str) -> Result<()> {
        if self.cfg.verbose {
            // A reader that has gone (`nabla train | head`) must not end the run.
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
        if let Some(dir) = &self.cfg.out_dir {
            let path = dir.join("train.log");
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| write_err(&path, e))?;
            writeln!(f, "{line}").map_err(|e| write_err(&path, e))?;
        }
        Ok(())
    }

    fn report(&self, r: &EpochRecord) -> Result<()> {
        let pct = |v: Option<f64>| v.map_or(String::new(), |v| format!("{:.2}%", 100.0 * v));
        let mut line = format!(
            "epoch {}/{}: train loss {:.4}",
            r.epoch, self.cfg.epochs, r.train_loss
        );
        if r.train_acc.is_some() {
            line += &format!(" acc {}", pct(r.train_acc));
        }
        if let Some(l) = r.val_loss {
            line += &format!(" | val loss {l:.4}");
            if r.val_acc.is_some() {
                line += &format!(
                    " acc {} top-{} {}",
                    pct(r.val_acc),
                    self.cfg.topk,
                    pct(r.val_topk)
                );
            }
        }
        line += &format!(" | lr {:.3e} | {:.1}s", r.lr, r.seconds);
        self.log(&line)?;
        let Some(dir) = &self.cfg.out_dir else {
            return Ok(());
        };
        let csv: String = std::iter::once(CSV_HEADER.to_string())
            .chain(self.history.iter().map(EpochRecord::csv_line))
            .map(|l| l + "\n")
            .collect();
        nabla::io::write_atomic(&dir.join("metrics.csv"), csv.as_bytes())?;
        write_curves(&dir.join("curves.png"), &self.history)
    }

    /// Writes `checkpoint.safetensors` (model, optimizer, RNG and trainer state) and
    /// `model.safetensors` (the model alone) into the output folder, atomically.
    fn save_checkpoint(&self) -> Result<()> {
        let Some(dir) = &self.cfg.out_dir else {
            return Ok(());
        };
        let state = self.training_state()?;
        checkpoint::save(dir.join(CHECKPOINT), &state.tensors, &state.metadata)?;
        self.vs.save(dir.join("model.safetensors"))
    }

    /// The model, optimizer, random generator and trainer state as named tensors and
    /// metadata (the content of `checkpoint.safetensors`).
    fn training_state(&self) -> Result<Checkpoint> {
        let mut tensors: Vec<(String, Tensor)> = self
            .vs
            .state_dict()
            .into_iter()
            .map(|(n, t)| (format!("model.{n}"), t))
            .collect();
        tensors.extend(
            self.opt
                .state()
                .into_iter()
                .map(|(n, t)| (format!("optim.{n}"), t)),
        );
        let rng: Vec<i64> = global_rng_state().iter().map(|&w| w as i64).collect();
        tensors.push((
            "trainer.rng".into(),
            Tensor::from_vec(rng, &[5], &Device::Cpu)?,
        ));
        let mut meta = BTreeMap::new();
        meta.insert("format".into(), "nabla-trainer-1".into());
        meta.insert("epochs_done".into(), self.history.len().to_string());
        meta.insert("global_step".into(), self.global_step.to_string());
        meta.insert("lr".into(), format!("{:e}", self.lr));
        meta.insert("best".into(), format!("{:e}", self.best));
        meta.insert("bad_epochs".into(), self.bad_epochs.to_string());
        meta.insert(
            "history".into(),
            self.history
                .iter()
                .map(EpochRecord::csv_line)
                .collect::<Vec<_>>()
                .join("\n"),
        );
        Ok(Checkpoint {
            tensors,
            metadata: meta,
        })
    }

    /// Continues a previous run from `out_dir/checkpoint.safetensors` when it exists: restores
    /// the model, the optimizer, the random generator, the learning rate and the history.
    /// Returns whether a checkpoint was found.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when the file is corrupt or belongs to another model.
    pub fn resume(&mut self) -> Result<bool> {
        let Some(dir) = &self.cfg.out_dir else {
            return Ok(false);
        };
        let path = dir.join(CHECKPOINT);
        if !path.exists() {
            return Ok(false);
        }
        let ckpt = checkpoint::load(&path)?;
        self.restore(ckpt, &path.display().to_string())?;
        Ok(true)
    }

    /// Restores a state written by [`Trainer::training_state`]; `name` says where it came
    /// from in errors.
    fn restore(&mut self, ckpt: Checkpoint, name: &str) -> Result<()> {
        let name = name.to_string();
        let bad = |msg: String| Error::Checkpoint {
            path: name.clone(),
            msg,
        };
        if ckpt.metadata.get("format").map(String::as_str) != Some("nabla-trainer-1") {
            return Err(bad("not a nabla training checkpoint (no format tag)".into()));
        }
        let mut model = Vec::new();
        let mut optim = HashMap::new();
        let mut rng = None;
        for (n, t) in ckpt.tensors {
            if let Some(rest) = n.strip_prefix("model.") {
                model.push((rest.to_string(), t));
            } else if let Some(rest) = n.strip_prefix("optim.") {
                optim.insert(rest.to_string(), t);
            } else if n == "trainer.rng" {
                rng = Some(t);
            }
        }
        let report = self.vs.load_tensors(&model)?;
        if !report.is_clean() {
            return Err(bad(format!("does not fit the model: {report}")));
        }
        self.opt.load_state(&optim)?;
        let rng = rng
            .ok_or_else(|| bad("missing trainer.rng".into()))?
            .to_vec::<i64>()?;
        let state: [u64; 5] = rng
            .iter()
            .map(|&w| w as u64)
            .collect::<Vec<_>>()
            .try_into()
            .map_err(|_| bad("trainer.rng must hold 5 words".into()))?;
        set_global_rng_state(state);
        let meta = |k: &str| {
            ckpt.metadata
                .get(k)
                .cloned()
                .ok_or_else(|| bad(format!("missing metadata '{k}'")))
        };
        let num = |k: &str| -> Result<f64> {
            meta(k)?
                .parse()
                .map_err(|_| bad(format!("metadata '{k}' is not a number")))
        };
        self.global_step = num("global_step")? as usize;
        self.lr = num("lr")?;
        self.best = num("best")?;
        self.bad_epochs = num("bad_epochs")? as usize;
        let history = meta("history")?;
        self.history = history
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                EpochRecord::from_csv_line(l).ok_or_else(|| bad(format!("bad history line '{l}'")))
            })
            .collect::<Result<_>>()?;
        Ok(())
    }
}

/// The default loss: cross-entropy of logits `[n, C]` against class indices `[n]`, or of
/// a sequence model's logits `[.., C]` against targets `[..]` averaged over every position
/// (nats per prediction).
///
/// # Errors
/// Shape mismatches.
pub fn classification_loss(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let rank = logits.rank();
    if rank > 2 && targets.dims() == &logits.dims()[..rank - 1] {
        let c = logits.dims()[rank - 1];
        let flat = logits.reshape(&[logits.numel() / c.max(1), c])?;
        return Ok(flat.cross_entropy(&targets.reshape(&[targets.numel()])?, 0.0)?);
    }
    Ok(logits.cross_entropy(targets, 0.0)?)
}

/// Loss and accuracy of `model` (whose parameters live on `device`) over `loader` in
/// evaluation mode; each batch is moved to `device`, and each metric read back once.
///
/// # Errors
/// Data and model errors.
pub fn evaluate(
    model: &dyn Module,
    loss_fn: &LossFn,
    loader: &dyn Loader,
    topk: usize,
    device: &nabla::Device,
) -> Result<Evaluation> {
    no_grad(|| {
        let (mut loss_sum, mut n, mut predictions) = (0.0, 0, 0);
        let (mut top1, mut topk_hits, mut classified) = (0, 0, false);
        for batch in loader.epoch(0) {
            let (x, y) = batch?;
            let (x, y) = (x.to_device(device)?, y.to_device(device)?);
            let out = model.forward_t(&x, false)?;
            let b = x.dims().first().copied().unwrap_or(1);
            loss_sum += (loss_fn)(&out, &y)?.to_scalar::<f64>()? * b as f64;
            n += b;
            if let Some(h) = hits(&out, &y, topk)? {
                top1 += h.top1;
                topk_hits += h.topk;
                predictions += h.n;
                classified = true;
            }
        }
        let p = predictions.max(1) as f64;
        Ok(Evaluation {
            loss: loss_sum / n.max(1) as f64,
            accuracy: classified.then(|| top1 as f64 / p),
            topk: classified.then(|| topk_hits as f64 / p),
            n,
        })
    })
}

/// The steps an epoch of `batches` batches takes when `done` steps were taken before it: all
/// its batches, or fewer under `max_steps` (what the progress bar counts to, so that
/// `--max-steps 200` does not show an epoch of 469).
fn steps_in_epoch(batches: usize, max_steps: Option<usize>, done: usize) -> usize {
    max_steps.map_or(batches, |m| batches.min(m.saturating_sub(done)))
}

#[cfg(test)]
mod progress_tests {
    #[test]
    fn the_progress_bar_counts_the_steps_max_steps_leaves() {
        assert_eq!(super::steps_in_epoch(469, Some(200), 0), 200);
        assert_eq!(super::steps_in_epoch(469, Some(500), 469), 31);
        assert_eq!(super::steps_in_epoch(469, Some(400), 469), 0);
        assert_eq!(super::steps_in_epoch(469, None, 938), 469);
    }
}
