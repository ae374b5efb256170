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
    /// Where models and their computations live: cpu (the default), or cuda:N in a build with
    /// the `cuda` feature. Data is read on the host and each batch is copied there.
    #[arg(long, global = true, default_value = "cpu", value_parser = parse_device)]
    pub device: nabla::Device,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model; with no options, LeNet-5 on the bundled MNIST.
    Train(Box<TrainArgs>),
    /// Evaluate a trained model: loss, top-1/top-k accuracy, per-class accuracy, confusion matrix.
    Eval(EvalArgs),
    /// Predict classes of image files or run a model on a .npy input batch.
    Predict(PredictArgs),
    /// A model's layers with output shapes, parameters and multiply-accumulates, and totals.
    Summary(SummaryArgs),
    /// List the models nabla can build, with parameters, MACs and the paper of each.
    Zoo(ZooArgs),
    /// Look inside a trained model: first-layer filters or a layer's feature maps as PNG.
    #[command(subcommand)]
    Viz(VizCommand),
    /// Generate text with a character model (`--model char-lstm`) or images with a VAE or GAN.
    Sample(SampleArgs),
    /// Serve the playground: a network you configure and watch learn in the browser.
    Playground(PlaygroundArgs),
    /// Classical baselines: SVM, random forest, hidden Markov model.
    #[command(subcommand)]
    Classic(crate::commands::classic::ClassicCommand),
    /// Supervised vs pre-training + SVM vs pre-training + fine-tuning, on few labels.
    Protocol(crate::commands::protocol::ProtocolArgs),
    /// Time named training and inference workloads (the nabla side of bench/compare.sh).
    Bench(BenchArgs),
    /// Reinforcement learning: train, evaluate and replay agents on CartPole, Acrobot, ...
    #[command(subcommand)]
    Rl(crate::commands::rl::RlCommand),
    /// Write a trained model as an ONNX file (runs in onnxruntime, TensorRT, browsers).
    Export(ExportArgs),
    /// Score generated digits with a trained classifier: classifier (Inception) score and
    /// Frechet distance of its features to the test set.
    ///
    /// The classifier is a run of `nabla train` on 28x28 digits: LeNet-5 trained for 15
    /// epochs (`nabla train --epochs 15 --out lenet5-mnist`) scores the test set about 9.9;
    /// the main job's 4 epochs leave it less sure of itself, and every score lower.
    ///
    /// Classifier score = exp(E_x KL(p(y|x) || p(y))), the Inception score with the
    /// classifier in place of Inception: 1 when every image gets the same class distribution,
    /// 10 when each is classified with certainty and the classes are equally frequent. Its
    /// two parts are printed below it: ln score = H(p(y)) - E_x H(p(y|x)), the entropy of
    /// the classes drawn (low when some digits are drawn more often than others) less the
    /// mean entropy of each image's classification (high for malformed digits).
    ///
    /// Frechet distance (FID with the classifier's features) = |m1 - m2|^2 + tr(C1 + C2 -
    /// 2 (C1 C2)^1/2) between Gaussians fitted to the classifier's penultimate-layer features
    /// (LeNet-5: the 84 after fc2's ReLU) of the images and of its test set; 0 for identical
    /// statistics.
    ///
    /// The images: --weights RUN draws --count samples of a generative run (dcgan, vae,
    /// conv-vae); --samples FILE.npy reads [n, 784] or [n, 1, 28, 28] pixels in [0, 1] (from
    /// PyTorch, say); with neither, the reference: the test set's own score, and the
    /// distance of --count training images to the test set.
    GanScore(crate::commands::gan_score::GanScoreArgs),
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A run folder of `nabla train` (or its model.safetensors).
    #[arg(long)]
    pub weights: PathBuf,
    /// File format; onnx is the one there is.
    #[arg(long, default_value = "onnx")]
    pub format: String,
    /// Output file.
    #[arg(long, default_value = "model.onnx")]
    pub out: PathBuf,
    /// ONNX opset version to write (13 to 21).
    #[arg(long, default_value_t = nabla_onnx::export::DEFAULT_OPSET)]
    pub opset: i64,
}

/// Optimizers.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// The number format of the products (matmul, linear, convolutions, recurrent layers).
#[derive(
    ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// Mixed precision (autocast): products in bf16 with the CPU's bf16 instructions (AMX or
    /// AVX-512 BF16 where it has them), sums, losses, statistics and the optimizer in f32,
    /// weights kept in f32.
    Bf16,
}

impl Precision {
    /// The autocast dtype of [`nabla::autocast`]: `None` for f32.
    pub fn autocast(self) -> Option<nabla::DType> {
        match self {
            Precision::F32 => None,
            Precision::Bf16 => Some(nabla::DType::BF16),
        }
    }
}

/// `--precision`, for the commands that run a model.
#[derive(Args, Debug, Clone, Copy)]
pub struct PrecisionArg {
    /// Number format of the products: f32, or bf16 (mixed precision: bf16 products, f32
    /// sums and weights, as PyTorch's autocast).
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
}

/// Transports of data-parallel training.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DistributedKind {
    /// MPI (Open MPI): launch with `mpirun -np N nabla train --distributed mpi ...`.
    Mpi,
}

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// The ids of the flags given on the command line (not defaults): `--resume` takes the
    /// others from the run's config and refuses given ones that contradict it.
    #[arg(skip)]
    pub given: Vec<String>,
    /// Model to train (see `nabla zoo`).
    #[arg(long, default_value = "lenet5")]
    pub model: String,
    /// Dataset: mnist (bundled), idx:DIR, cifar:DIR, folder:DIR, csv:FILE, npy:FEATURES,LABELS, text:FILE,
    /// toy:NAME (circle, xor, gauss, spiral, plane, multigauss). Select classes with
    /// mnist:0-4 or SPEC@CLASSES (cifar:DIR@0,1,8): they are relabelled 0..k in that order.
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
    /// L2 weight decay (decoupled for adamw); 0 or more.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true, value_parser = non_negative)]
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
    /// Image folders (folder:DIR): the side images are resized to (default: the model's
    /// native input, 28 for lenet5 and mlp, 224 for the ImageNet models); models of one
    /// input channel read them grey.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub image_size: Option<u64>,
    /// CSV/npy/toy, and folder:DIR without train/: fraction of examples held out for
    /// testing (between 0 and 1).
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true, value_parser = fraction)]
    pub test_split: f64,
    /// Fraction of the training examples held out as the validation set (a seeded random
    /// split; the text's last part for character models). The per-epoch "val" numbers,
    /// --patience and --schedule plateau use it; the test set gives only the final number.
    /// 0: no validation set, and the test set is used for validation instead.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true, value_parser = fraction_or_zero)]
    pub val_split: f64,
    /// Stop early when the validation loss has not improved for N epochs.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Clip the global gradient norm to at most this (a positive number, e.g. 5).
    #[arg(long, allow_negative_numbers = true, value_parser = positive)]
    pub clip_grad_norm: Option<f64>,
    /// Data augmentation for images: random crops after 2-pixel padding and ±10° rotations.
    #[arg(long)]
    pub augment: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Transfer learning: initialize from this checkpoint (a file or run folder) before
    /// training. An .onnx file is imported as the model itself (its graph and weights; --model
    /// is then not used) and fine-tuned. Loading is non-strict: variables whose name and shape match are loaded, the
    /// classification head is left freshly initialized (unless --keep-head), and what was
    /// loaded and skipped is printed.
    #[arg(long, value_name = "CKPT")]
    pub init: Option<PathBuf>,
    /// With --init: load the classification head too, when its shape fits.
    #[arg(long, requires = "init")]
    pub keep_head: bool,
    /// Freeze the parameters under this name prefix (conv1, features, layer1, ...; see
    /// `nabla summary --vars`). Repeat for several.
    #[arg(long, value_name = "PREFIX")]
    pub freeze: Vec<String>,
    /// Outputs of the classifier (default: the data's classes). Must be at least the number of
    /// classes in the data; the extra outputs are never the target.
    #[arg(long)]
    pub num_classes: Option<usize>,
    /// With --init: train the transferred layers (all but the head) at this fraction of the
    /// learning rate, e.g. 0.1.
    #[arg(long, requires = "init", allow_negative_numbers = true, value_parser = positive)]
    pub backbone_lr_scale: Option<f64>,
    /// Character models (char-lstm, char-gru, char-rnn) on text:FILE: characters per
    /// training sequence (backpropagation through time runs over this many steps).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub seq_len: u64,
    /// --model vae or conv-vae: latent dimensions (default 20; 2 for `nabla viz latent`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(crate::commands::unsupervised::LATENT_SIZES))]
    pub latent: Option<u64>,
    /// --model dcgan: channels of the generator's 7x7 maps (its 14x14 maps and the
    /// discriminator's 14x14 maps have half as many, the discriminator's 7x7 maps as many).
    /// 64 is half the DCGAN paper's widths at MNIST's size; 128 is the paper's, about four
    /// times the work per epoch.
    #[arg(long, value_parser = clap::value_parser!(u64).range(crate::commands::unsupervised::GAN_WIDTHS))]
    pub gan_width: Option<u64>,
    /// --model dcgan: units of the hidden fully connected layer (with batch norm) that the
    /// generator has after its code and the discriminator before its logit (default 1024,
    /// as InfoGAN's MNIST networks); 0 for the DCGAN paper's layout without them, whose
    /// samples are more often malformed digits and spread unevenly over the classes.
    #[arg(long, value_parser = clap::value_parser!(u64).range(crate::commands::unsupervised::GAN_HIDDEN))]
    pub gan_hidden: Option<u64>,
    /// --model rbm: Gibbs steps of each contrastive-divergence update (the k of CD-k).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub cd_k: u64,
    /// --model rbm: persistent contrastive divergence (the negative chains carry over from
    /// one update to the next instead of restarting at the batch).
    #[arg(long)]
    pub persistent: bool,
    /// Train data-parallel across the processes of an MPI job: start with
    /// `mpirun -np N nabla --threads T train --distributed mpi ...`. Each rank takes
    /// --batch-size examples of every step (N × that in all), gradients are averaged, and
    /// rank 0 writes the run folder. Needs a build with `--features distributed`.
    #[arg(long, value_enum)]
    pub distributed: Option<DistributedKind>,
    /// With --distributed: seconds a rank waits for the others at a synchronization point
    /// before ending the job, naming the rank that did not arrive.
    #[arg(long, default_value_t = 300.0, allow_negative_numbers = true)]
    pub dist_timeout: f64,
    /// With --distributed: gradients are averaged in all-reduce calls of about this many MiB
    /// each (a larger tensor gets a call of its own).
    #[arg(long, default_value_t = 25.0, allow_negative_numbers = true)]
    pub bucket_mb: f64,
    /// Number format of the products: f32, or bf16 (mixed precision: bf16 products, f32
    /// sums, losses, statistics, optimizer and master weights, as PyTorch's autocast).
    /// Recorded in the run's config.json; --resume keeps it.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    #[command(flatten)]
    pub transform: TransformInputArg,
}

/// `--transform-input`, for the commands that build GoogLeNet.
#[derive(Args, Debug, Clone, Copy)]
pub struct TransformInputArg {
    /// --model googlenet: torchvision's `transform_input`, which its ImageNet-pretrained
    /// GoogLeNet uses: inputs normalized with ImageNet's mean and deviation are mapped to the
    /// (x - 0.5) / 0.5 its weights were trained on (x_c * std_c / 0.5 + (mean_c - 0.5) / 0.5).
    /// Recorded in a run's config.json.
    #[arg(long)]
    pub transform_input: bool,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Timed runs of each workload (default: 3 for epochs and ResNet-18 steps, 20 for latency).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub repeat: Option<u64>,
    /// One JSON object per workload and line, instead of text.
    #[arg(long)]
    pub json: bool,
    /// Run only this workload (repeatable); unknown names are refused with the list.
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    #[command(flatten)]
    pub precision: PrecisionArg,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// A run folder (or its model.safetensors) of a character model or of an image model
    /// that can generate (vae, conv-vae, rbm, dcgan).
    #[arg(long)]
    pub weights: PathBuf,
    /// Text to start from; generation continues it.
    #[arg(long, default_value = "\n")]
    pub prime: String,
    /// Softmax temperature: below 1 is more conservative, above 1 more surprising.
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Characters to generate.
    #[arg(long, default_value_t = 500)]
    pub length: usize,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Image models: the grid of samples, COLUMNSxROWS.
    #[arg(long, default_value = "8x8")]
    pub grid: String,
    /// Image models: the PNG to write.
    #[arg(long, default_value = "samples.png")]
    pub out: PathBuf,
    /// RBM: rounds of Gibbs sampling from random binary images.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub gibbs_steps: u64,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model name, needed only when the weights are not in a run folder (bare weights, e.g. a
    /// PyTorch state_dict); then --data is needed too.
    #[arg(long)]
    pub model: Option<String>,
    /// The weights: a run folder, its model.safetensors or checkpoint.safetensors, or a
    /// safetensors state_dict saved by PyTorch (`module.` prefixes are stripped).
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
    /// `--strict false`: load the weights that fit the model (same name and shape), leave the
    /// rest as initialized, and print what was skipped, instead of refusing a file that does
    /// not fit exactly.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub strict: bool,
    #[command(flatten)]
    pub precision: PrecisionArg,
    #[command(flatten)]
    pub transform: TransformInputArg,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Model name, needed only when the weights are not in a run folder; or an ONNX file
    /// (model.onnx, run on a .npy batch, no --weights).
    #[arg(long)]
    pub model: Option<String>,
    /// The weights: a run folder, its model.safetensors or checkpoint.safetensors, or a
    /// safetensors state_dict saved by PyTorch (`module.` prefixes are stripped).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Image files (PNG/JPEG, preprocessed as in training; with bare weights, resized to the
    /// model's native input and normalized as its data) or one .npy batch (taken as the
    /// model's input tensor exactly as it is).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write the raw outputs (logits) as a .npy file instead of printing probabilities.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Classes to print per input.
    #[arg(long, default_value_t = 3)]
    pub topk: usize,
    /// `--strict false`: load the weights that fit the model (same name and shape), leave the
    /// rest as initialized, and print what was skipped, instead of refusing a file that does
    /// not fit exactly.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub strict: bool,
    #[command(flatten)]
    pub precision: PrecisionArg,
    #[command(flatten)]
    pub transform: TransformInputArg,
}

#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// Model name (see `nabla zoo`).
    #[arg(long, default_value = "lenet5")]
    pub model: String,
    /// Dataset whose input shape and classes to use (default: the model's native input and
    /// classes, as `nabla zoo` lists them).
    #[arg(long)]
    pub data: Option<String>,
    /// Input shape of one example, e.g. 3x224x224 or 1x28x28 (overrides the data's).
    #[arg(long)]
    pub input: Option<String>,
    /// Number of classes (overrides the data's).
    #[arg(long)]
    pub classes: Option<usize>,
    /// Also list every variable with its shape.
    #[arg(long)]
    pub vars: bool,
}

#[derive(Args, Debug)]
pub struct ZooArgs {
    /// Build and run every model to count its parameters and multiply-accumulates (about
    /// 40 s on 2 cores) instead of printing the counts measured that way when the zoo changed.
    #[arg(long)]
    pub measure: bool,
}

#[derive(Subcommand, Debug)]
pub enum VizCommand {
    /// A PNG grid of a convolution's filters (RGB for 3 input channels, grey otherwise),
    /// each scaled to [0, 1]; or of a fully connected layer's over square images (an RBM's
    /// `W`, an MLP's first layer), one tile per unit.
    Filters(VizFiltersArgs),
    /// A PNG grid of a layer's feature maps for one input image.
    Activations(VizActivationsArgs),
    /// Test images beside their reconstructions by an autoencoder or VAE (and by PCA), with
    /// the mean squared reconstruction error per image over the test set.
    Reconstructions(VizReconstructionsArgs),
    /// Rows of images decoded along straight lines between the codes of pairs of test images
    /// (an autoencoder's codes, a VAE's posterior means, an RBM's hidden probabilities).
    Interpolate(VizInterpolateArgs),
    /// A 2-D VAE (`nabla train --model vae --latent 2`, or conv-vae): the images its decoder
    /// draws over a grid of codes, and the test images' codes coloured by class.
    Latent(VizLatentArgs),
}

#[derive(Args, Debug)]
pub struct VizLatentArgs {
    /// The run folder (or its model.safetensors) of `nabla train --model vae --latent 2`.
    #[arg(long)]
    pub weights: PathBuf,
    /// Images per side of the manifold, decoded from codes evenly spaced in [-2.5, 2.5]².
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(2..=40))]
    pub grid: u64,
    /// Test images in the scatter plot (default: all).
    #[arg(long)]
    pub test_size: Option<usize>,
    /// Output PNG of the manifold.
    #[arg(long, default_value = "manifold.png")]
    pub manifold: PathBuf,
    /// Output PNG of the test codes by class.
    #[arg(long, default_value = "latent.png")]
    pub scatter: PathBuf,
}

#[derive(Args, Debug)]
pub struct VizInterpolateArgs {
    /// The run folder (or its model.safetensors) of `nabla train --model ae`, `dae`, `vae`,
    /// `conv-vae` or `rbm`.
    #[arg(long)]
    pub weights: PathBuf,
    /// Rows: pairs of test images (the first 2 × N test images, in order).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=32))]
    pub pairs: u64,
    /// Images per row, both ends included.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=32))]
    pub steps: u64,
    /// Output PNG.
    #[arg(long, default_value = "interpolate.png")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct VizReconstructionsArgs {
    /// The run folder (or its model.safetensors) of `nabla train --model ae`, `dae`, `vae`,
    /// `conv-vae` or `rbm`.
    #[arg(long)]
    pub weights: PathBuf,
    /// Also fit PCA with this many components on the training images and compare (0: none).
    #[arg(long, default_value_t = 30)]
    pub pca: usize,
    /// Test images to draw.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub count: u64,
    /// Measure on the first N test images (default: all).
    #[arg(long)]
    pub test_size: Option<usize>,
    /// Output PNG: a row of originals, a row of the model's reconstructions, a row of PCA's.
    #[arg(long, default_value = "reconstructions.png")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct VizFiltersArgs {
    /// The weights: a run folder, its model.safetensors or checkpoint.safetensors, or a
    /// safetensors state_dict saved by PyTorch (`module.` prefixes are stripped).
    #[arg(long)]
    pub weights: PathBuf,
    /// The convolution whose weight to draw, by parameter prefix (default: the first 4-D
    /// weight of the checkpoint, e.g. conv1 or features.0).
    #[arg(long)]
    pub layer: Option<String>,
    /// Draw only the first N filters (default: all).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Output PNG.
    #[arg(long, default_value = "filters.png")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct VizActivationsArgs {
    /// A model checkpoint in a run folder (its config.json says how to preprocess the image).
    #[arg(long)]
    pub weights: PathBuf,
    /// The input image (PNG/JPEG), resized and normalized as in training.
    #[arg(long)]
    pub input: PathBuf,
    /// The top-level layer whose output to draw (see `nabla summary`; default: the first).
    #[arg(long)]
    pub layer: Option<String>,
    /// Output PNG.
    #[arg(long, default_value = "activations.png")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct PlaygroundArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 7860)]
    pub port: u16,
    /// Address to bind; the default serves this machine only. 0.0.0.0 exposes the
    /// playground to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Sessions held at once (one per open page).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_sessions: u16,
    /// Seconds after which a session with no request and no open page is dropped.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_secs: u64,
    /// Connections open at once; the ones beyond are answered 503 and closed. Keep it under
    /// the process's file-descriptor limit (`ulimit -n`).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Seconds a client has to send a request's headers (or an idle connection its next
    /// request) before the connection is closed.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body before it gets 408.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,
}

/// A positive, finite number (`--clip-grad-norm 5`): 0, negatives, NaN and infinity are refused.
fn positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        Ok(x) => Err(format!("must be a positive number, got {x}")),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

/// A finite number ≥ 0 (`--weight-decay`).
fn non_negative(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        Ok(x) => Err(format!("must be 0 or a positive number, got {x}")),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

/// 0, or a fraction strictly between 0 and 1 (`--val-split 0.1`; 0 turns it off).
fn fraction_or_zero(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        Ok(x) => Err(format!(
            "must be 0 (no validation set) or a fraction between 0 and 1, got {x}"
        )),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

/// A fraction strictly between 0 and 1 (`--test-split 0.2`).
fn fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
        Ok(x) => Err(format!("must be a fraction between 0 and 1, got {x}")),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

/// `--device`: `cpu` or `cuda:N`, refused at once when this build cannot hold tensors there.
fn parse_device(s: &str) -> Result<nabla::Device, String> {
    let device: nabla::Device = s.parse().map_err(|e: nabla::Error| e.to_string())?;
    device
        .check_available("--device")
        .map_err(|e| e.to_string())?;
    Ok(device)
}
