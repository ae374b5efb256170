//! `nabla train`: the main job. Loads a dataset, builds a model, trains it with a progress
//! bar, evaluates it on the test set, and leaves everything in `runs/NAME/`.

use super::train_plan::{TrainPlan, TrainingRecord};
use super::{build_model, loader, Batches};
use crate::args::{OptimizerKind, ScheduleKind, TrainArgs};
use crate::distributed::{self, Job};
use crate::run_config::RunConfig;
use crate::run_lock::{self, RunLock};
use anyhow::{bail, Context, Result};
use nabla_data::{Dataset, Shard, Subset};
use nabla_nn::distributed::Communicator;
use nabla_nn::models::transfer;
use nabla_nn::optim::{
    Adagrad, Adam, AdamW, Optimizer, ParamGroups, ReduceOnPlateau, RmsProp, Schedule, Sgd,
};
use nabla_nn::{loss, Trainer, TrainerConfig, Var, VarStore};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// The default learning rate of each optimizer.
pub(super) fn default_lr(kind: OptimizerKind) -> f64 {
    match kind {
        OptimizerKind::Adam | OptimizerKind::Adamw => 3e-3,
        OptimizerKind::Rmsprop => 1e-3,
        OptimizerKind::Sgd | OptimizerKind::Momentum | OptimizerKind::Nesterov => 0.05,
        OptimizerKind::Adagrad => 0.01,
    }
}

fn optimizer(kind: OptimizerKind, vars: Vec<Var>, lr: f64, wd: f64) -> Box<dyn Optimizer> {
    match kind {
        OptimizerKind::Sgd => Box::new(Sgd::new(vars, lr).weight_decay(wd)),
        OptimizerKind::Momentum => Box::new(Sgd::new(vars, lr).momentum(0.9).weight_decay(wd)),
        OptimizerKind::Nesterov => Box::new(
            Sgd::new(vars, lr)
                .momentum(0.9)
                .nesterov(true)
                .weight_decay(wd),
        ),
        OptimizerKind::Adam => Box::new(Adam::new(vars, lr).weight_decay(wd)),
        OptimizerKind::Adamw => Box::new(AdamW::new(vars, lr).weight_decay(wd)),
        OptimizerKind::Rmsprop => Box::new(RmsProp::new(vars, lr).weight_decay(wd)),
        OptimizerKind::Adagrad => Box::new(Adagrad::new(vars, lr).weight_decay(wd)),
    }
}

fn schedule(kind: ScheduleKind, epochs: usize) -> (Schedule, Option<ReduceOnPlateau>) {
    let cosine = Schedule::Cosine {
        t_max: epochs,
        eta_min: 0.0,
    };
    match kind {
        ScheduleKind::Constant => (Schedule::Constant, None),
        ScheduleKind::Cosine => (cosine, None),
        ScheduleKind::Step => (
            Schedule::MultiStep {
                milestones: vec![epochs / 2, epochs * 3 / 4],
                gamma: 0.1,
            },
            None,
        ),
        ScheduleKind::Exponential => (Schedule::Exponential { gamma: 0.9 }, None),
        ScheduleKind::WarmupCosine => (
            Schedule::Warmup {
                warmup: 1,
                start_factor: 0.1,
                then: Box::new(Schedule::Cosine {
                    t_max: epochs.saturating_sub(1).max(1),
                    eta_min: 0.0,
                }),
            },
            None,
        ),
        ScheduleKind::Plateau => (Schedule::Constant, Some(ReduceOnPlateau::new().patience(2))),
    }
}

/// The model's outputs: the data's, or `--num-classes` when it can hold the data's classes.
pub(super) fn outputs(args: &TrainArgs, data: &nabla_data::spec::DataBundle) -> Result<usize> {
    match (args.num_classes, data.num_classes) {
        (None, _) => Ok(data.outputs),
        (Some(k), Some(n)) if k >= n => Ok(k),
        (Some(k), Some(n)) => {
            bail!(
                "--num-classes {k} is fewer than the {n} classes of '{}'",
                args.data
            )
        }
        (Some(_), None) => bail!(
            "--num-classes is for classification data; '{}' is a regression set",
            args.data
        ),
    }
}

/// `--init`: loads the checkpoint non-strictly (all but the head unless `--keep-head`) and
/// prints what happened.
fn init_from(args: &TrainArgs, vs: &VarStore, path: &std::path::Path) -> Result<()> {
    let (file, _) = crate::run_config::resolve_weights(path)?;
    let head = transfer::head_prefixes(&args.model)?;
    let skip: &[&str] = if args.keep_head { &[] } else { head };
    let report = transfer::load_checkpoint_except(vs, &file, skip)
        .with_context(|| format!("loading {}", file.display()))?;
    if report.loaded.is_empty() {
        bail!(
            "--init {}: no variable of {} was found in it with the same name and shape ({})",
            file.display(),
            args.model,
            report.other
        );
    }
    println!("initialized from {}: {report}", file.display());
    Ok(())
}

/// `--freeze`: freezes each prefix, refusing one that names no parameter.
fn freeze(args: &TrainArgs, vs: &VarStore) -> Result<()> {
    for prefix in &args.freeze {
        if prefix.is_empty() || vs.freeze(prefix) == 0 {
            let mut tops: Vec<&str> = Vec::new();
            let vars = vs.vars();
            for v in &vars {
                let top = v.name().split('.').next().unwrap_or("");
                if !tops.contains(&top) {
                    tops.push(top);
                }
            }
            bail!(
                "--freeze '{prefix}': no parameter of {} is under it; its layers are {}",
                args.model,
                tops.join(", ")
            );
        }
    }
    if !args.freeze.is_empty() {
        println!(
            "froze {}: {} of {} parameters are trained",
            args.freeze.join(", "),
            vs.num_trainable(),
            vs.num_params()
        );
    }
    Ok(())
}

/// The optimizer over the trainable variables; with `--backbone-lr-scale`, two groups: the
/// head at `lr`, the rest at `lr · scale`.
fn build_optimizer(args: &TrainArgs, vs: &VarStore, lr: f64) -> Result<Box<dyn Optimizer>> {
    let Some(scale) = args.backbone_lr_scale else {
        return Ok(optimizer(
            args.optimizer,
            vs.trainable(),
            lr,
            args.weight_decay,
        ));
    };
    let (backbone, head) = transfer::split_head(vs, transfer::head_prefixes(&args.model)?);
    Ok(Box::new(
        ParamGroups::new(lr)
            .group(
                optimizer(args.optimizer, backbone, lr * scale, args.weight_decay),
                scale,
            )
            .group(optimizer(args.optimizer, head, lr, args.weight_decay), 1.0),
    ))
}

/// Whether `model` is a character language model (reads `text:FILE` as token sequences).
pub fn is_char_model(model: &str) -> bool {
    nabla_nn::models::spec(model).is_some_and(|s| s.input == nabla_nn::models::ModelInput::Tokens)
}

/// Creates the run folder, takes its lock (held until the returned value is dropped) and
/// writes `config.json`; with `--resume`, first checks that the folder holds a run of the same
/// model.
pub(super) fn prepare_run_dir(
    args: &TrainArgs,
    cfg: &RunConfig,
    dir: &std::path::Path,
) -> Result<RunLock> {
    let lock = run_lock::acquire(dir)?;
    if !lock.removed.is_empty() {
        println!(
            "removed {} temporary file(s) of an interrupted run in {}",
            lock.removed.len(),
            dir.display()
        );
    }
    // Checked again under the lock: a run that ended after `new_run_dir` looked has left one.
    if !args.resume && dir.join("checkpoint.safetensors").exists() {
        bail!(
            "{} already holds a run; pass --resume to continue it or choose another --out",
            dir.display()
        );
    }
    if args.resume {
        let saved = RunConfig::load(dir)?;
        if saved.model != cfg.model
            || saved.input_shape != cfg.input_shape
            || saved.outputs != cfg.outputs
        {
            bail!(
                "{} holds a run of {} on {}; it cannot be resumed as {} on {}",
                dir.display(),
                saved.model,
                saved.data,
                cfg.model,
                cfg.data
            );
        }
    }
    cfg.save(dir)?;
    Ok(lock)
}

/// `--resume`: the arguments of the run in `runs/NAME` as its `config.json` records them.
/// Flags not given are taken from the record (so `train --out my-mlp --resume` continues an
/// MLP run); a given flag that contradicts it is refused, since the record would become
/// false. `--epochs` may extend or shorten the run, and says so.
/// Refuses flags given with `--resume` that would make the run's record false: another
/// model, data, optimizer, schedule, precision, learning rate, batch size, validation split
/// or input transform than the run in `dir` (recorded as `saved` and `t`) was trained with.
fn refuse_changes(
    args: &TrainArgs,
    saved: &RunConfig,
    t: &TrainingRecord,
    dir: &std::path::Path,
) -> Result<()> {
    let given = |id: &str| args.given.iter().any(|g| g == id);
    let check = |id: &str, was: Option<String>, now: String| -> Result<()> {
        match was {
            Some(was) if given(id) && was != now => {
                let flag = id.replace('_', "-");
                bail!(
                    "--resume continues {} as it was trained, with --{flag} {was}; drop --{flag} \
                     {now}, or train into a new folder with another --out",
                    dir.display()
                )
            }
            _ => Ok(()),
        }
    };
    let name = |v: &dyn std::fmt::Debug| format!("{v:?}").to_lowercase();
    check("model", Some(saved.model.clone()), args.model.clone())?;
    check("data", Some(saved.data.clone()), args.data.clone())?;
    check(
        "optimizer",
        t.optimizer.map(|k| name(&k)),
        name(&args.optimizer),
    )?;
    check(
        "schedule",
        t.schedule.map(|k| name(&k)),
        name(&args.schedule),
    )?;
    check(
        "precision",
        t.precision.map(|k| name(&k)),
        name(&args.precision),
    )?;
    let lr_now = args.lr.map_or(String::new(), |lr| lr.to_string());
    check("lr", t.lr.map(|lr| lr.to_string()), lr_now)?;
    check(
        "batch_size",
        t.batch_size.map(|b| b.to_string()),
        args.batch_size.to_string(),
    )?;
    // Runs recorded before --val-split existed validated on the test set, and go on so.
    check(
        "val_split",
        Some(t.val_split.unwrap_or(0.0).to_string()),
        args.val_split.to_string(),
    )?;
    if given("transform_input") && !saved.transform_input {
        bail!(
            "--resume continues {} as it was trained, without --transform-input; drop it, or \
             train into a new folder with another --out",
            dir.display()
        );
    }
    Ok(())
}

fn as_recorded(args: &TrainArgs) -> Result<TrainArgs> {
    let Some(name) = &args.out else {
        return Ok(args.clone());
    };
    let dir = std::path::Path::new("runs").join(name);
    let Ok(saved) = RunConfig::load(&dir) else {
        return Ok(args.clone());
    };
    let t = TrainingRecord::of(&saved, &dir)?;
    refuse_changes(args, &saved, &t, &dir)?;
    let given = |id: &str| args.given.iter().any(|g| g == id);
    // Runs recorded before --val-split existed validated on the test set, and go on so.
    let val_split = t.val_split.unwrap_or(0.0);
    let mut out = args.clone();
    out.model = saved.model.clone();
    out.data = saved.data.clone();
    out.transform.transform_input = saved.transform_input;
    out.optimizer = t.optimizer.unwrap_or(args.optimizer);
    out.schedule = t.schedule.unwrap_or(args.schedule);
    out.precision = t.precision.unwrap_or(args.precision);
    out.lr = t.lr.or(args.lr);
    out.batch_size = t.batch_size.unwrap_or(args.batch_size);
    out.val_split = val_split;
    // Image folders were decoded at the recorded input's side.
    if let ([_, side, _], false) = (&saved.input_shape[..], given("image_size")) {
        out.image_size = Some(*side as u64);
    }
    if let Some(was) = t.epochs {
        out.epochs = resumed_epochs(args, was, given("epochs"), &dir);
    }
    Ok(out)
}

/// The epochs of a resumed run: the recorded ones, or `--epochs` when given, saying so when
/// it extends or shortens the run (the schedule is fitted to the new length).
fn resumed_epochs(args: &TrainArgs, was: usize, given: bool, dir: &std::path::Path) -> usize {
    if !given {
        return was;
    }
    if args.epochs != was {
        println!(
            "{} {} from {was} to {} epochs: the schedule is fitted to the new length",
            if args.epochs > was {
                "extending"
            } else {
                "shortening"
            },
            dir.display(),
            args.epochs
        );
    }
    args.epochs
}

/// Runs `nabla train`; with `--distributed`, as one rank of the job, ending the whole job
/// when this rank fails.
pub fn run(args: &TrainArgs) -> Result<()> {
    let resumed;
    let args = if args.resume {
        resumed = as_recorded(args)?;
        &resumed
    } else {
        args
    };
    if super::unsupervised::is_unsupervised(&args.model) {
        return super::train_unsupervised::run(args);
    }
    match distributed::start(args)? {
        None => train(args, None),
        Some(job) => train(args, Some(&job)).or_else(|e| job.fail(e)),
    }
}

/// Rank `rank` of `world`'s contiguous share of `ds`, for evaluation (no padding: the
/// ranks' results are summed).
fn eval_share(ds: Arc<dyn Dataset>, rank: usize, world: usize) -> Result<Arc<dyn Dataset>> {
    if world == 1 {
        return Ok(ds);
    }
    let n = ds.len();
    let indices = (rank * n / world..(rank + 1) * n / world).collect();
    Ok(Arc::new(Subset::new(ds, indices)?))
}

fn train(args: &TrainArgs, job: Option<&Job>) -> Result<()> {
    let (rank, world) = job.map_or((0, 1), |j| (j.rank(), j.size()));
    let root = rank == 0; // only rank 0 prints and writes files
    let started = Instant::now();
    nabla::manual_seed(args.seed);
    let plan = TrainPlan::new(args, world)?;
    let (vs, model) = build_and_initialize(args, &plan.cfg)?;
    let _lock = root
        .then(|| prepare_run_dir(args, &plan.cfg, &plan.dir))
        .transpose()?;
    let loaders = Loaders::new(args, &plan, rank, world)?;
    let mut trainer = make_trainer(args, &plan, model.as_ref(), &vs, job)?;
    let say = |line: String| root.then(|| println!("{line}"));
    say(plan.announce(args, vs.num_params(), world));
    if plan.val_set.is_none() {
        say(
            "no validation set (--val-split 0): the test set stands in for it, so the \"val\" \
             numbers, --patience and the plateau schedule see test data"
                .to_string(),
        );
    }
    if args.resume {
        say(match trainer.resume()? {
            true => format!(
                "resuming {} after epoch {}",
                plan.dir.display(),
                trainer.history().len()
            ),
            false => format!(
                "{} has no checkpoint yet; starting from scratch",
                plan.dir.display()
            ),
        });
    }
    let train_started = Instant::now();
    trainer.fit(
        &loaders.train,
        Some(loaders.val.as_ref().unwrap_or(&loaders.test)),
    )?;
    let train_secs = train_started.elapsed().as_secs_f64();
    let eval = final_evaluation(&trainer, &loaders, plan.data.test.len())?;
    let mut lines = vec![
        summary(&eval, &plan.cfg),
        format!(
            "training took {train_secs:.1}s; total {:.1}s",
            started.elapsed().as_secs_f64()
        ),
        format!(
            "saved {}/model.safetensors, metrics.csv, curves.png, config.json, train.log",
            plan.dir.display()
        ),
    ];
    lines.extend(all_reduce_line(job, &trainer));
    if !root {
        return Ok(());
    }
    report(&plan.dir, &lines)
}

/// Builds the run's model and applies `--init` and `--freeze`.
fn build_and_initialize(
    args: &TrainArgs,
    cfg: &RunConfig,
) -> Result<(VarStore, Box<dyn nabla_nn::Module>)> {
    let (vs, model) =
        build_model(cfg).with_context(|| format!("building model '{}'", args.model))?;
    match &args.init {
        Some(_) if cfg.model.starts_with(super::onnx::MODEL_PREFIX) => {
            super::onnx::check_outputs(model.as_ref(), &cfg.input_shape, cfg.outputs)?
        }
        Some(path) => init_from(args, &vs, path)?,
        None => {}
    }
    freeze(args, &vs)?;
    Ok((vs, model))
}

/// The batches of a run: the training examples (this rank's shard, shuffled), the
/// validation set and the test set (this rank's share of each).
struct Loaders {
    train: Batches,
    val: Option<Batches>,
    test: Batches,
}

impl Loaders {
    fn new(args: &TrainArgs, plan: &TrainPlan, rank: usize, world: usize) -> Result<Loaders> {
        let (cfg, seed) = (&plan.cfg, args.seed);
        let batch = args.batch_size as usize;
        let train = loader(plan.train_set.clone(), batch, cfg, true, seed, args.augment)?;
        let eval = |ds: &Arc<dyn Dataset>| -> Result<Batches> {
            let share = eval_share(ds.clone(), rank, world)?;
            Ok(Batches(loader(share, 256, cfg, false, seed, false)?))
        };
        Ok(Loaders {
            train: Batches(train.shard(Shard::new(rank, world)?)),
            val: plan.val_set.as_ref().map(eval).transpose()?,
            test: eval(&plan.data.test)?,
        })
    }
}

/// The Trainer of a run: its schedule, early stopping, clipping and precision, the
/// optimizer, the loss of the task, and the gradient averaging of a distributed job.
fn make_trainer<'a>(
    args: &TrainArgs,
    plan: &TrainPlan,
    model: &'a dyn nabla_nn::Module,
    vs: &'a VarStore,
    job: Option<&'a Job>,
) -> Result<Trainer<'a>> {
    let (sched, plateau) = schedule(args.schedule, args.epochs);
    let trainer_cfg = TrainerConfig {
        epochs: args.epochs,
        max_steps: args.max_steps,
        out_dir: Some(plan.dir.clone()),
        progress: !args.quiet,
        verbose: true,
        topk: 5.min(plan.cfg.outputs),
        schedule: sched,
        plateau,
        early_stopping: args.patience,
        clip_grad_norm: args.clip_grad_norm,
        autocast: args.precision.autocast(),
    };
    let opt = build_optimizer(args, vs, plan.lr)?;
    let mut trainer = Trainer::new(model, vs, opt, trainer_cfg);
    if !plan.cfg.classification {
        trainer = trainer.with_loss(Box::new(|out, y| loss::mse(out, y, loss::Reduction::Mean)));
    }
    if let Some(job) = job {
        trainer = trainer.data_parallel(job.data_parallel(args));
    }
    Ok(trainer)
}

/// The test set's numbers for the final weights. Without a validation set the last epoch
/// ended with that very pass (the test set stood in): it is reported, not run again.
fn final_evaluation(
    trainer: &Trainer,
    loaders: &Loaders,
    test_len: usize,
) -> Result<nabla_nn::Evaluation> {
    let last_pass = trainer
        .history()
        .last()
        .filter(|_| loaders.val.is_none())
        .and_then(|r| Some((r.val_loss?, r.val_acc, r.val_topk)));
    Ok(match last_pass {
        Some((loss, accuracy, topk)) => nabla_nn::Evaluation {
            loss,
            accuracy,
            topk,
            n: test_len,
        },
        None => trainer.evaluate(&loaders.test)?,
    })
}

/// The closing line with the test numbers.
fn summary(eval: &nabla_nn::Evaluation, cfg: &RunConfig) -> String {
    match eval.accuracy {
        Some(acc) if is_char_model(&cfg.model) => format!(
            "test loss {:.4} nats per character ({:.3} bits), next-character accuracy {:.2}%",
            eval.loss,
            eval.loss / std::f64::consts::LN_2,
            100.0 * acc
        ),
        Some(acc) => format!(
            "test accuracy {:.2}% (top-{} {:.2}%), test loss {:.4}",
            100.0 * acc,
            5.min(cfg.outputs),
            100.0 * eval.topk.unwrap_or(0.0),
            eval.loss
        ),
        None => format!("test loss (MSE) {:.6}", eval.loss),
    }
}

/// A distributed job's all-reduce timings, as one closing line.
fn all_reduce_line(job: Option<&Job>, trainer: &Trainer) -> Option<String> {
    let (job, dp) = (job?, trainer.parallel()?);
    let s = dp.stats();
    let steps = s.steps.max(1);
    Some(format!(
        "gradient all-reduce: {:.3} ms per step ({} steps, {:.1} calls of {} values per step); {}",
        1e3 * s.seconds / steps as f64,
        s.steps,
        s.calls as f64 / steps as f64,
        s.values / steps,
        job.timing_summary()
    ))
}

/// The examples trained on, and the validation set when there is one.
pub(super) type TrainAndValidation = (Arc<dyn Dataset>, Option<Arc<dyn Dataset>>);

/// `--val-split`: the training examples split into those trained on and the validation set
/// (a seeded random choice; for character models the last part, so that no validation
/// sequence is cut from the middle of training text). `None` for `--val-split 0`.
pub(super) fn hold_out_validation(
    args: &TrainArgs,
    train: Arc<dyn Dataset>,
) -> Result<TrainAndValidation> {
    if args.val_split == 0.0 {
        return Ok((train, None));
    }
    let n = train.len();
    let n_val = ((n as f64) * args.val_split).round() as usize;
    if n_val == 0 || n_val >= n {
        bail!(
            "--val-split {} of {n} training examples leaves {} for validation and {} for training; \
             both need at least one (use more data, another fraction, or --val-split 0)",
            args.val_split,
            n_val,
            n - n_val.min(n)
        );
    }
    if is_char_model(&args.model) {
        let cut = n - n_val;
        let head = Subset::new(train.clone(), (0..cut).collect())?;
        let tail = Subset::new(train, (cut..n).collect())?;
        return Ok((Arc::new(head), Some(Arc::new(tail))));
    }
    let (rest, val) = nabla_data::random_split(train, args.val_split, args.seed)?;
    Ok((Arc::new(rest), Some(Arc::new(val))))
}

/// The training examples `--train-size` keeps (all by default).
pub(super) fn training_subset(
    args: &TrainArgs,
    data: &nabla_data::spec::DataBundle,
) -> Result<Arc<dyn Dataset>> {
    Ok(match args.train_size {
        Some(0) => bail!("--train-size must be at least 1"),
        Some(n) => Arc::new(nabla_data::Subset::take(data.train.clone(), n)),
        None => data.train.clone(),
    })
}

/// `--lr`, or `default` when it is not given; a positive, finite number.
pub(super) fn checked_lr(args: &TrainArgs, default: f64) -> Result<f64> {
    let lr = args.lr.unwrap_or(default);
    if !(lr > 0.0 && lr.is_finite()) {
        bail!("--lr must be a positive number, got {lr}");
    }
    Ok(lr)
}

/// Prints a run's closing lines and appends them to its `train.log`.
pub(super) fn report(dir: &std::path::Path, lines: &[String]) -> Result<()> {
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join("train.log"))?;
    for l in lines {
        println!("{l}");
        writeln!(log, "{l}")?;
    }
    Ok(())
}
