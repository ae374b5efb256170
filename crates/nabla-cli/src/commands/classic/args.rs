//! Arguments of `nabla classic`.

use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ClassicCommand {
    /// Support vector machine: kernel C-SVC by SMO (one-vs-one), or linear by dual coordinate descent.
    Svm(SvmArgs),
    /// Random forest of CART trees.
    Forest(ForestArgs),
    /// Hidden Markov model of a text's characters (Baum-Welch), beside a Markov chain.
    Hmm(HmmArgs),
    /// k-means clustering of the inputs or of an autoencoder's codes, with clustering accuracy.
    Kmeans(super::kmeans::KmeansArgs),
    /// Ising Markov random field denoising of binarized images by ICM and Gibbs sampling.
    Mrf(super::mrf::MrfArgs),
}

/// The data options every classifier takes.
#[derive(Args, Debug, Clone)]
pub struct ClassicData {
    /// Dataset, as for `nabla train`: mnist, idx:DIR, cifar:DIR, folder:DIR, csv:FILE,
    /// npy:X.npy,Y.npy, toy:NAME; classes with mnist:0-4 or SPEC@0,1. Inputs are used as
    /// they are (MNIST pixels in [0, 1]).
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Train on the first N training examples.
    #[arg(long)]
    pub train_size: Option<usize>,
    /// Test on the first N test examples.
    #[arg(long)]
    pub test_size: Option<usize>,
    /// CSV: label column (0-based; default: the last one).
    #[arg(long)]
    pub label_col: Option<usize>,
    /// CSV/npy/toy: fraction of examples held out for testing.
    #[arg(long, default_value_t = 0.2)]
    pub test_split: f64,
    /// Seed (held-out split, bootstraps, visiting order).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to save the model as JSON (default: runs/classic-KIND/model.json).
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelArg {
    Linear,
    Poly,
    Rbf,
    Sigmoid,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SolverArg {
    /// SMO with kernel cache and shrinking (LIBSVM's algorithm), one-vs-one.
    Smo,
    /// Dual coordinate descent (LIBLINEAR's), linear kernel only, one-vs-rest.
    Dcd,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossArg {
    Hinge,
    SquaredHinge,
}

#[derive(Args, Debug)]
pub struct SvmArgs {
    #[command(flatten)]
    pub data: ClassicData,
    /// Kernel.
    #[arg(long, value_enum, default_value_t = KernelArg::Rbf)]
    pub kernel: KernelArg,
    /// Penalty C of margin violations (scikit-learn's default is 1; 10 suits MNIST).
    #[arg(long, default_value_t = 1.0)]
    pub c: f64,
    /// Kernel gamma: scale (1 / (d · Var X)), auto (1 / d) or a number.
    #[arg(long, default_value = "scale")]
    pub gamma: String,
    /// Degree of the poly kernel.
    #[arg(long, default_value_t = 3)]
    pub degree: u32,
    /// coef0 of the poly and sigmoid kernels.
    #[arg(long, default_value_t = 0.0)]
    pub coef0: f64,
    /// Stopping tolerance (SMO: largest KKT violation; DCD: projected-gradient spread).
    #[arg(long)]
    pub tol: Option<f64>,
    /// Kernel cache in MiB, shared by the binary problems solved at once.
    #[arg(long, default_value_t = 2048.0)]
    pub cache_mb: f64,
    /// Turn off shrinking.
    #[arg(long)]
    pub no_shrinking: bool,
    /// Solver.
    #[arg(long, value_enum, default_value_t = SolverArg::Smo)]
    pub solver: SolverArg,
    /// Loss of the dcd solver.
    #[arg(long, value_enum, default_value_t = LossArg::SquaredHinge)]
    pub loss: LossArg,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CriterionArg {
    Gini,
    Entropy,
}

#[derive(Args, Debug)]
pub struct ForestArgs {
    #[command(flatten)]
    pub data: ClassicData,
    /// Number of trees.
    #[arg(long, default_value_t = 100)]
    pub trees: usize,
    /// Split criterion.
    #[arg(long, value_enum, default_value_t = CriterionArg::Gini)]
    pub criterion: CriterionArg,
    /// Depth limit (default: none).
    #[arg(long)]
    pub max_depth: Option<usize>,
    /// Smallest node that is split.
    #[arg(long, default_value_t = 2)]
    pub min_samples_split: usize,
    /// Smallest leaf.
    #[arg(long, default_value_t = 1)]
    pub min_samples_leaf: usize,
    /// Features per split: sqrt, log2, all or a number.
    #[arg(long, default_value = "sqrt")]
    pub max_features: String,
    /// Grow every tree on all examples instead of a bootstrap sample.
    #[arg(long)]
    pub no_bootstrap: bool,
    /// Print this many most important features.
    #[arg(long, default_value_t = 10)]
    pub top_features: usize,
}

#[derive(Args, Debug)]
pub struct HmmArgs {
    /// A text file (text:FILE or FILE); its characters are the symbols.
    #[arg(long, default_value = "text:data/shakespeare/tragedies.txt")]
    pub data: String,
    /// Hidden states.
    #[arg(long, default_value_t = 4)]
    pub states: usize,
    /// Baum-Welch iterations at most.
    #[arg(long, default_value_t = 100)]
    pub iterations: usize,
    /// Stop when an iteration improves the training log-likelihood by less (nats).
    #[arg(long, default_value_t = 1.0)]
    pub tol: f64,
    /// Characters to train on (from the start of the text).
    #[arg(long, default_value_t = 200_000)]
    pub train_size: usize,
    /// Characters to test on (right after the training part).
    #[arg(long, default_value_t = 50_000)]
    pub test_size: usize,
    /// Length of the sequences the training text is cut into.
    #[arg(long, default_value_t = 1000)]
    pub seq_len: usize,
    /// Seed of the initial model.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to save the model as JSON (default: runs/classic-hmm/model.json).
    #[arg(long)]
    pub output: Option<PathBuf>,
}
