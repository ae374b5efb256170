//! The plan of a `nabla train` run: what its arguments resolve to (the data and its splits,
//! the model's run config, the learning rate, the run folder) and the training record that
//! `config.json` keeps, written and read back with serde.

use super::train::{
    checked_lr, default_lr, hold_out_validation, is_char_model, outputs, training_subset,
};
use crate::args::{OptimizerKind, Precision, ScheduleKind, TrainArgs};
use crate::run_config::{new_run_dir, RunConfig};
use anyhow::{bail, Context, Result};
use nabla_data::spec::{self as data_spec, DataBundle, SpecOptions};
use nabla_data::Dataset;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// The training options of a run as its `config.json` records them (`training`). Every
/// field is optional when read: run folders written before a field existed still load.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default)]
pub struct TrainingRecord {
    pub epochs: Option<usize>,
    pub max_steps: Option<usize>,
    pub batch_size: Option<u64>,
    pub lr: Option<f64>,
    #[serde(deserialize_with = "known_or_none")]
    pub optimizer: Option<OptimizerKind>,
    #[serde(deserialize_with = "known_or_none")]
    pub schedule: Option<ScheduleKind>,
    pub weight_decay: Option<f64>,
    pub seed: Option<u64>,
    /// Examples trained on (after `--train-size` and the validation split).
    pub train_size: Option<usize>,
    /// `--val-split`; absent in runs that validated on the test set.
    pub val_split: Option<f64>,
    pub val_size: Option<usize>,
    pub augment: bool,
    pub threads: Option<usize>,
    pub clip_grad_norm: Option<f64>,
    pub patience: Option<usize>,
    pub init: Option<String>,
    pub keep_head: bool,
    pub freeze: Vec<String>,
    pub backbone_lr_scale: Option<f64>,
    pub seq_len: Option<u64>,
    pub ranks: Option<usize>,
    #[serde(deserialize_with = "known_or_none")]
    pub precision: Option<Precision>,
}

/// A choice that this version knows, or `None`: the records of other trainers (the RBM's
/// "sgd, momentum 0.5") name choices `nabla train` does not have.
fn known_or_none<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

impl TrainingRecord {
    /// The record of `args` trained at `lr` on `train_size` examples, validated on
    /// `val_size`, by `ranks` processes.
    fn new(args: &TrainArgs, lr: f64, train_size: usize, val_size: usize, ranks: usize) -> Self {
        TrainingRecord {
            epochs: Some(args.epochs),
            max_steps: args.max_steps,
            batch_size: Some(args.batch_size),
            lr: Some(lr),
            optimizer: Some(args.optimizer),
            schedule: Some(args.schedule),
            weight_decay: Some(args.weight_decay),
            seed: Some(args.seed),
            train_size: Some(train_size),
            val_split: Some(args.val_split),
            val_size: Some(val_size),
            augment: args.augment,
            threads: Some(nabla::num_threads()),
            clip_grad_norm: args.clip_grad_norm,
            patience: args.patience,
            init: args.init.as_ref().map(|p| p.display().to_string()),
            keep_head: args.keep_head,
            freeze: args.freeze.clone(),
            backbone_lr_scale: args.backbone_lr_scale,
            seq_len: Some(args.seq_len),
            ranks: Some(ranks),
            precision: Some(args.precision),
        }
    }

    /// The record of a run config (`training`).
    ///
    /// # Errors
    /// When it is there but not a training record (a field of the wrong type), naming it.
    pub fn of(cfg: &RunConfig, dir: &std::path::Path) -> Result<Self> {
        if cfg.training.is_null() {
            return Ok(TrainingRecord::default());
        }
        serde_json::from_value(cfg.training.clone()).with_context(|| {
            format!(
                "{}: the 'training' record of config.json cannot be read",
                dir.join("config.json").display()
            )
        })
    }
}

/// A training run resolved from its arguments, before any model is built.
pub struct TrainPlan {
    /// The dataset, with its test part.
    pub data: DataBundle,
    /// The examples trained on.
    pub train_set: Arc<dyn Dataset>,
    /// The validation set held out of the training examples (`None` with `--val-split 0`).
    pub val_set: Option<Arc<dyn Dataset>>,
    /// What `config.json` records: the model, its input and outputs, the preprocessing and
    /// the [`TrainingRecord`].
    pub cfg: RunConfig,
    /// The learning rate, `--lr` or the optimizer's default.
    pub lr: f64,
    /// The run folder, `runs/NAME`.
    pub dir: PathBuf,
}

impl TrainPlan {
    /// Loads the data, splits it, and resolves every default of `args` for a job of `world`
    /// processes.
    ///
    /// # Errors
    /// Senseless arguments and every data error, with the dataset spec.
    pub fn new(args: &TrainArgs, world: usize) -> Result<TrainPlan> {
        if args.epochs == 0 {
            bail!("--epochs must be at least 1");
        }
        let data = load_data(args)?;
        let (train_set, val_set) = hold_out_validation(args, training_subset(args, &data)?)?;
        let lr = checked_lr(args, default_lr(args.optimizer))?;
        let val_size = val_set.as_ref().map_or(0, |v| v.len());
        let record = TrainingRecord::new(args, lr, train_set.len(), val_size, world);
        let cfg = RunConfig {
            model: model_name(args)?,
            data: args.data.clone(),
            input_shape: data.input_shape.clone(),
            outputs: outputs(args, &data)?,
            classification: data.num_classes.is_some(),
            mean: data.normalize.0.clone(),
            std: data.normalize.1.clone(),
            class_names: data.class_names.clone(),
            transform_input: args.transform.transform_input,
            training: serde_json::to_value(&record)?,
        };
        let dir = new_run_dir(args.out.as_deref(), &run_name(args), args.resume)?;
        Ok(TrainPlan {
            data,
            train_set,
            val_set,
            cfg,
            lr,
            dir,
        })
    }

    /// The first line of the run: the model, the data and its parts, the optimization.
    pub fn announce(&self, args: &TrainArgs, params: usize, world: usize) -> String {
        let ranks = if world > 1 {
            format!(" per rank × {world} ranks")
        } else {
            String::new()
        };
        let validation = match &self.val_set {
            Some(v) => format!("{} validation (--val-split {}) / ", v.len(), args.val_split),
            None => String::new(),
        };
        format!(
            "training {} ({params} parameters) on {}: {} training / {validation}{} test examples, \
             batch {}{ranks}, {} lr {}, {}, {} threads{}",
            self.cfg.model,
            args.data,
            self.train_set.len(),
            self.data.test.len(),
            args.batch_size,
            format!("{:?}", args.optimizer).to_lowercase(),
            self.lr,
            super::count(args.epochs, "epoch"),
            nabla::num_threads(),
            super::precision_note(args.precision)
        )
    }
}

/// `--data` loaded with the options the model and flags call for.
fn load_data(args: &TrainArgs) -> Result<DataBundle> {
    let (image_size, grayscale) = super::folder_images(&args.model, args.image_size);
    let opts = SpecOptions {
        image_size,
        grayscale,
        label_col: args.label_col,
        test_split: args.test_split,
        seed: args.seed,
        seq_len: is_char_model(&args.model).then_some(args.seq_len as usize),
    };
    data_spec::load(&args.data, &opts).with_context(|| format!("loading dataset '{}'", args.data))
}

/// The model's name in the run config: the zoo's, or the imported ONNX file's (`--init
/// m.onnx`, which is then the model).
fn model_name(args: &TrainArgs) -> Result<String> {
    match args.init.as_deref().filter(|p| super::onnx::is_onnx(p)) {
        Some(p) => Ok(format!(
            "{}{}",
            super::onnx::MODEL_PREFIX,
            p.canonicalize()
                .with_context(|| format!("--init {}", p.display()))?
                .display()
        )),
        None => Ok(args.model.clone()),
    }
}

/// The default run name, `MODEL-DATAKIND` (the ONNX file's stem for an imported model).
fn run_name(args: &TrainArgs) -> String {
    let model = args
        .init
        .as_deref()
        .filter(|p| super::onnx::is_onnx(p))
        .and_then(|p| p.file_stem())
        .map_or(args.model.clone(), |s| s.to_string_lossy().into_owned());
    format!("{model}-{}", args.data.split(':').next().unwrap_or("data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_old_or_foreign_ones_still_read() {
        let record = TrainingRecord {
            epochs: Some(4),
            optimizer: Some(OptimizerKind::Adamw),
            schedule: Some(ScheduleKind::WarmupCosine),
            precision: Some(Precision::Bf16),
            val_split: Some(0.1),
            ..Default::default()
        };
        let json = serde_json::to_value(&record).unwrap();
        // The names `nabla train` has always written (`format!("{:?}").to_lowercase()`).
        assert_eq!(json["optimizer"], "adamw");
        assert_eq!(json["schedule"], "warmupcosine");
        assert_eq!(json["precision"], "bf16");
        assert_eq!(
            serde_json::from_value::<TrainingRecord>(json).unwrap(),
            record
        );
        // A run from before --val-split, and an RBM's record with its own optimizer.
        let old: TrainingRecord =
            serde_json::from_str(r#"{"epochs": 2, "optimizer": "sgd, momentum 0.5"}"#).unwrap();
        assert_eq!(
            (old.epochs, old.optimizer, old.val_split),
            (Some(2), None, None)
        );
    }
}
