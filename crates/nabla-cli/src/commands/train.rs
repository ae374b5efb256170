//! `nabla train`: the main job. Loads a dataset, builds a model, trains it with a progress
//! bar, evaluates it on the test set, and leaves everything in `runs/NAME/`.

use super::{build_model, loader, Batches};
use crate::args::{OptimizerKind, ScheduleKind, TrainArgs};
use crate::data_spec::{self, SpecOptions};
use crate::distributed::{self, Job};
use crate::run_config::{new_run_dir, RunConfig};
use crate::run_lock::{self, RunLock};
use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use nabla_data::{Dataset, Shard, Subset};
use nabla_nn::distributed::Communicator;
use nabla_nn::models::transfer;
use nabla_nn::optim::{
    Adagrad, Adam, AdamW, Optimizer, ParamGroups, ReduceOnPlateau, RmsProp, Schedule, Sgd,
};
use nabla_nn::{loss, Trainer, TrainerConfig, Var, VarStore};
use serde_json::json;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// The default learning rate of each optimizer.
fn default_lr(kind: OptimizerKind) -> f64 {
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
fn outputs(args: &TrainArgs, data: &data_spec::DataBundle) -> Result<usize> {
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

/// Whether `model` is a character language model (reads `text:FILE` as sequences).
pub fn is_char_model(model: &str) -> bool {
    model.starts_with("char-")
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
fn as_recorded(args: &TrainArgs) -> Result<TrainArgs> {
    let Some(name) = &args.out else {
        return Ok(args.clone());
    };
    let dir = std::path::Path::new("runs").join(name);
    let Ok(saved) = RunConfig::load(&dir) else {
        return Ok(args.clone());
    };
    let t = &saved.training;
    let mut out = args.clone();
    let given = |id: &str| args.given.iter().any(|g| g == id);
    let conflict = |flag: &str, was: &str, now: &str| -> Result<()> {
        bail!(
            "--resume continues {} as it was trained, with --{flag} {was}; drop --{flag} {now}, \
             or train into a new folder with another --out",
            dir.display()
        )
    };
    for (id, was, now) in [
        ("model", &saved.model, &args.model),
        ("data", &saved.data, &args.data),
    ] {
        if given(id) && was != now {
            conflict(id, was, now)?;
        }
    }
    out.model = saved.model.clone();
    out.data = saved.data.clone();
    // Image folders were decoded at the recorded input's side.
    if let ([_, side, _], false) = (&saved.input_shape[..], given("image_size")) {
        out.image_size = Some(*side as u64);
    }
    if given("transform_input") && !saved.transform_input {
        bail!(
            "--resume continues {} as it was trained, without --transform-input; drop it, or \
             train into a new folder with another --out",
            dir.display()
        );
    }
    out.transform.transform_input = saved.transform_input;
    let opt = recorded_choice(&t["optimizer"], args.optimizer, given("optimizer"));
    if let Some((was, now)) = opt.conflict {
        conflict("optimizer", &was, &now)?;
    }
    out.optimizer = opt.value;
    let sched = recorded_choice(&t["schedule"], args.schedule, given("schedule"));
    if let Some((was, now)) = sched.conflict {
        conflict("schedule", &was, &now)?;
    }
    out.schedule = sched.value;
    let precision = recorded_choice(&t["precision"], args.precision, given("precision"));
    if let Some((was, now)) = precision.conflict {
        conflict("precision", &was, &now)?;
    }
    out.precision = precision.value;
    if let Some(was) = t["lr"].as_f64() {
        if let (true, Some(now)) = (given("lr"), args.lr) {
            if now != was {
                conflict("lr", &was.to_string(), &now.to_string())?;
            }
        }
        out.lr = Some(was);
    }
    if let Some(was) = t["batch_size"].as_u64() {
        if given("batch_size") && args.batch_size != was {
            conflict("batch-size", &was.to_string(), &args.batch_size.to_string())?;
        }
        out.batch_size = was;
    }
    // Runs recorded before --val-split existed validated on the test set, and go on so.
    let was = t["val_split"].as_f64().unwrap_or(0.0);
    if given("val_split") && args.val_split != was {
        conflict("val-split", &was.to_string(), &args.val_split.to_string())?;
    }
    out.val_split = was;
    if let Some(was) = t["epochs"].as_u64().map(|e| e as usize) {
        if !given("epochs") {
            out.epochs = was;
        } else if args.epochs != was {
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
    }
    Ok(out)
}

/// A choice flag (`--optimizer`, `--schedule`) under `--resume`: the recorded one, and the
/// (recorded, given) names when the command line contradicts the record.
struct Recorded<T> {
    value: T,
    conflict: Option<(String, String)>,
}

/// The value of a choice flag recorded as `saved` (its lower-case name in `config.json`);
/// `now` stays when nothing usable is recorded.
fn recorded_choice<T: ValueEnum + Copy + PartialEq + std::fmt::Debug>(
    saved: &serde_json::Value,
    now: T,
    given: bool,
) -> Recorded<T> {
    let name = |v: &T| format!("{v:?}").to_lowercase();
    let found = saved
        .as_str()
        .and_then(|was| T::value_variants().iter().find(|k| name(k) == was));
    match found {
        Some(k) if given && *k != now => Recorded {
            value: *k,
            conflict: Some((name(k), name(&now))),
        },
        Some(k) => Recorded {
            value: *k,
            conflict: None,
        },
        None => Recorded {
            value: now,
            conflict: None,
        },
    }
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
    let root = rank == 0;
    // Only rank 0 prints (and writes files).
    let say = |line: String| {
        if root {
            println!("{line}");
        }
    };
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let started = Instant::now();
    nabla::manual_seed(args.seed);
    let (image_size, grayscale) = super::folder_images(&args.model, args.image_size);
    let spec_opts = SpecOptions {
        image_size,
        grayscale,
        label_col: args.label_col,
        test_split: args.test_split,
        seed: args.seed,
        seq_len: is_char_model(&args.model).then_some(args.seq_len as usize),
    };
    let data = data_spec::load(&args.data, &spec_opts)
        .with_context(|| format!("loading dataset '{}'", args.data))?;
    let (train_set, val_set) = hold_out_validation(args, training_subset(args, &data)?)?;
    let lr = checked_lr(args, default_lr(args.optimizer))?;
    let onnx_init = args.init.as_deref().filter(|p| super::onnx::is_onnx(p));
    let cfg = RunConfig {
        model: match onnx_init {
            Some(p) => format!(
                "{}{}",
                super::onnx::MODEL_PREFIX,
                p.canonicalize()
                    .with_context(|| format!("--init {}", p.display()))?
                    .display()
            ),
            None => args.model.clone(),
        },
        data: args.data.clone(),
        input_shape: data.input_shape.clone(),
        outputs: outputs(args, &data)?,
        classification: data.num_classes.is_some(),
        mean: data.normalize.0.clone(),
        std: data.normalize.1.clone(),
        class_names: data.class_names.clone(),
        transform_input: args.transform.transform_input,
        training: json!({
            "epochs": args.epochs, "max_steps": args.max_steps, "batch_size": args.batch_size, "lr": lr,
            "optimizer": format!("{:?}", args.optimizer).to_lowercase(), "schedule": format!("{:?}", args.schedule).to_lowercase(),
            "weight_decay": args.weight_decay, "seed": args.seed, "train_size": train_set.len(),
            "val_split": args.val_split, "val_size": val_set.as_ref().map_or(0, |v| v.len()), "augment": args.augment,
            "threads": nabla::num_threads(), "clip_grad_norm": args.clip_grad_norm, "patience": args.patience,
            "init": args.init.as_ref().map(|p| p.display().to_string()), "keep_head": args.keep_head,
            "freeze": args.freeze, "backbone_lr_scale": args.backbone_lr_scale, "seq_len": args.seq_len, "ranks": world,
            "precision": format!("{:?}", args.precision).to_lowercase(),
        }),
    };
    let (vs, model) =
        build_model(&cfg).with_context(|| format!("building model '{}'", args.model))?;
    match (&args.init, onnx_init) {
        (Some(_), Some(_)) => {
            super::onnx::check_outputs(model.as_ref(), &cfg.input_shape, cfg.outputs)?
        }
        (Some(path), None) => init_from(args, &vs, path)?,
        (None, _) => {}
    }
    freeze(args, &vs)?;
    let base = format!(
        "{}-{}",
        onnx_init
            .and_then(|p| p.file_stem())
            .map_or(args.model.clone(), |s| s.to_string_lossy().into_owned()),
        args.data.split(':').next().unwrap_or("data")
    );
    let dir = new_run_dir(args.out.as_deref(), &base, args.resume)?;
    let _lock = if root {
        Some(prepare_run_dir(args, &cfg, &dir)?)
    } else {
        None
    };

    let batch = args.batch_size as usize;
    let train = Batches(
        loader(
            train_set.clone(),
            batch,
            &cfg,
            true,
            args.seed,
            args.augment,
        )?
        .shard(Shard::new(rank, world)?),
    );
    let eval_loader = |ds: &Arc<dyn Dataset>| -> Result<Batches> {
        Ok(Batches(loader(
            eval_share(ds.clone(), rank, world)?,
            256,
            &cfg,
            false,
            args.seed,
            false,
        )?))
    };
    let test = eval_loader(&data.test)?;
    let val = val_set.as_ref().map(eval_loader).transpose()?;
    let (sched, plateau) = schedule(args.schedule, args.epochs);
    let trainer_cfg = TrainerConfig {
        epochs: args.epochs,
        max_steps: args.max_steps,
        out_dir: Some(dir.clone()),
        progress: !args.quiet,
        verbose: true,
        topk: 5.min(cfg.outputs),
        schedule: sched,
        plateau,
        early_stopping: args.patience,
        clip_grad_norm: args.clip_grad_norm,
        autocast: args.precision.autocast(),
    };
    let opt = build_optimizer(args, &vs, lr)?;
    let mut trainer = Trainer::new(model.as_ref(), &vs, opt, trainer_cfg);
    if !cfg.classification {
        trainer = trainer.with_loss(Box::new(|out, y| loss::mse(out, y, loss::Reduction::Mean)));
    }
    if let Some(job) = job {
        trainer = trainer.data_parallel(job.data_parallel(args));
    }
    let ranks = if world > 1 {
        format!(" per rank × {world} ranks")
    } else {
        String::new()
    };
    let validation = match &val_set {
        Some(v) => format!("{} validation (--val-split {}) / ", v.len(), args.val_split),
        None => String::new(),
    };
    say(format!(
        "training {} ({} parameters) on {}: {} training / {validation}{} test examples, batch {batch}{ranks}, {} lr {lr}, {}, {} threads{}",
        cfg.model,
        vs.num_params(),
        args.data,
        train_set.len(),
        data.test.len(),
        format!("{:?}", args.optimizer).to_lowercase(),
        super::count(args.epochs, "epoch"),
        nabla::num_threads(),
        super::precision_note(args.precision)
    ));
    if val_set.is_none() {
        say("no validation set (--val-split 0): the test set stands in for it, so the \"val\" numbers, \
             --patience and the plateau schedule see test data"
            .to_string());
    }
    if args.resume {
        if trainer.resume()? {
            say(format!(
                "resuming {} after epoch {}",
                dir.display(),
                trainer.history().len()
            ));
        } else {
            say(format!(
                "{} has no checkpoint yet; starting from scratch",
                dir.display()
            ));
        }
    }
    let train_started = Instant::now();
    trainer.fit(&train, Some(val.as_ref().unwrap_or(&test)))?;
    let train_secs = train_started.elapsed().as_secs_f64();
    // Without a validation set the last epoch ended with a pass over the test set with the
    // final weights: report it rather than running the same pass again.
    let last_pass = trainer
        .history()
        .last()
        .filter(|_| val.is_none())
        .and_then(|r| Some((r.val_loss?, r.val_acc, r.val_topk)));
    let eval = match last_pass {
        Some((loss, accuracy, topk)) => nabla_nn::Evaluation {
            loss,
            accuracy,
            topk,
            n: data.test.len(),
        },
        None => trainer.evaluate(&test)?,
    };
    let summary = match eval.accuracy {
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
    };
    let mut lines = vec![
        summary,
        format!(
            "training took {train_secs:.1}s; total {:.1}s",
            started.elapsed().as_secs_f64()
        ),
        format!(
            "saved {}/model.safetensors, metrics.csv, curves.png, config.json, train.log",
            dir.display()
        ),
    ];
    if let (Some(job), Some(dp)) = (job, trainer.parallel()) {
        let s = dp.stats();
        lines.push(format!(
            "gradient all-reduce: {:.3} ms per step ({} steps, {:.1} calls of {} values per step); {}",
            1e3 * s.seconds / s.steps.max(1) as f64,
            s.steps,
            s.calls as f64 / s.steps.max(1) as f64,
            s.values / s.steps.max(1),
            job.timing_summary()
        ));
    }
    if !root {
        return Ok(());
    }
    report(&dir, &lines)
}

/// The examples trained on, and the validation set when there is one.
type TrainAndValidation = (Arc<dyn Dataset>, Option<Arc<dyn Dataset>>);

/// `--val-split`: the training examples split into those trained on and the validation set
/// (a seeded random choice; for character models the last part, so that no validation
/// sequence is cut from the middle of training text). `None` for `--val-split 0`.
fn hold_out_validation(args: &TrainArgs, train: Arc<dyn Dataset>) -> Result<TrainAndValidation> {
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
    data: &data_spec::DataBundle,
) -> Result<Arc<dyn Dataset>> {
    Ok(match args.train_size {
        Some(0) => bail!("--train-size must be at least 1"),
        Some(n) => data_spec::take(data.train.clone(), n),
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
