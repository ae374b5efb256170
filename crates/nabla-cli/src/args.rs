//! Command-line arguments of `nabla`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// nabla: a deep learning toolkit. Train, evaluate and inspect neural networks on the CPU.
#[derive(Parser, Debug)]
#[command(name = "nabla", version, about, long_about = None)]
pub struct Cli {
    /// Threads for the compute kernels (default: all cores).
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model; with no options, LeNet-5 on the bundled MNIST.
    Train(TrainArgs),
    /// Evaluate a trained model: loss, top-1/top-k accuracy, per-class accuracy, confusion matrix.
    Eval(EvalArgs),
    /// Predict classes of image files or run a model on a .npy input batch.
    Predict(PredictArgs),
    /// Show a model's parameters and output shape.
    Summary(SummaryArgs),
    /// List the models nabla can build.
    Zoo,
}

/// Optimizers.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// Plain stochastic gradient descent.
    Sgd,
    /// SGD with momentum 0.9.
    Momentum,
    /// SGD with Nesterov momentum 0.9.
    Nesterov,
    /// Adam.
    Adam,
    /// AdamW (decoupled weight decay).
    Adamw,
    /// RMSprop.
    Rmsprop,
    /// Adagrad.
    Adagrad,
}

/// Learning-rate schedules (over epochs).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleKind {
    /// The same rate throughout.
    Constant,
    /// Cosine annealing to 0 over the run.
    Cosine,
    /// Divide by 10 at 50% and 75% of the epochs.
    Step,
    /// Multiply by 0.9 each epoch.
    Exponential,
    /// One epoch of linear warm-up, then cosine annealing.
    WarmupCosine,
    /// Divide by 10 when the validation loss stops improving for 2 epochs.
    Plateau,
}

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Model to train (see `nabla zoo`).
    #[arg(long, default_value = "lenet5")]
    pub model: String,
    /// Dataset: mnist (bundled), idx:DIR, cifar:DIR, folder:DIR, csv:FILE, npy:FEATURES,LABELS,
    /// toy:NAME (circle, xor, gauss, spiral, plane, multigauss).
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Passes over the training set.
    #[arg(long, default_value_t = 4)]
    pub epochs: usize,
    /// Stop after this many optimizer steps (for quick trials).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Examples per batch.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Learning rate (default: 3e-3 for adam/adamw, 1e-3 for rmsprop, 0.05 for sgd/momentum/nesterov, 0.01 for adagrad).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    pub optimizer: OptimizerKind,
    /// Learning-rate schedule.
    #[arg(long, value_enum, default_value_t = ScheduleKind::Cosine)]
    pub schedule: ScheduleKind,
    /// L2 weight decay (decoupled for adamw).
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Seed of weights, shuffling, dropout and augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run name: results go to runs/NAME (default: MODEL-DATA, numbered if it exists).
    #[arg(long)]
    pub out: Option<String>,
    /// Continue the run in runs/NAME (given by --out) from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Train only on the first N training examples.
    #[arg(long)]
    pub train_size: Option<usize>,
    /// CSV: label column (0-based; default: the last one).
    #[arg(long)]
    pub label_col: Option<usize>,
    /// CSV/npy/toy: fraction of examples held out for testing.
    #[arg(long, default_value_t = 0.2)]
    pub test_split: f64,
    /// Stop early when the validation loss has not improved for N epochs.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Clip the global gradient norm.
    #[arg(long)]
    pub clip_grad_norm: Option<f64>,
    /// Data augmentation for images: random crops after 2-pixel padding and ±10° rotations.
    #[arg(long)]
    pub augment: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A model checkpoint (runs/NAME/model.safetensors) or its run folder.
    #[arg(long)]
    pub weights: PathBuf,
    /// Dataset to evaluate on (its test part); default: the one the model was trained on.
    #[arg(long)]
    pub data: Option<String>,
    /// k of the top-k accuracy.
    #[arg(long, default_value_t = 5)]
    pub topk: usize,
    /// Examples per batch.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Where to draw the confusion matrix (default: confusion.png beside the weights).
    #[arg(long)]
    pub confusion_png: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Model name, needed only when the weights are not in a run folder.
    #[arg(long)]
    pub model: Option<String>,
    /// A model checkpoint (runs/NAME/model.safetensors) or its run folder.
    #[arg(long)]
    pub weights: PathBuf,
    /// Image files (PNG/JPEG, preprocessed as in training) or one .npy batch (taken as the
    /// model's input tensor exactly as it is).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write the raw outputs (logits) as a .npy file instead of printing probabilities.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Classes to print per input.
    #[arg(long, default_value_t = 3)]
    pub topk: usize,
}

#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// Model name (see `nabla zoo`).
    #[arg(long, default_value = "lenet5")]
    pub model: String,
    /// Dataset whose input shape and classes to use.
    #[arg(long, default_value = "mnist")]
    pub data: String,
}
