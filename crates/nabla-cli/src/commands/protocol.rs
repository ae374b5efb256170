//! `nabla protocol`: the three ways to train a deep network on few labels (supervised from
//! scratch, pre-training + SVM, pre-training + fine-tuning), an SVM on raw inputs, and a deep
//! belief net (RBM pre-training + fine-tuning), in one table.

use super::classic::{load, ClassicData};
use anyhow::{bail, Result};
use clap::Args;
use nabla_classic::protocol::{self, DbnConfig, ProtocolConfig, SdaeConfig, PROTOCOLS};
use nabla_classic::svm::SvcParams;

#[derive(Args, Debug)]
pub struct ProtocolArgs {
    /// Dataset (as `nabla train`); inputs should lie in [0, 1] (MNIST's pixels do).
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Labelled examples: the first N of the training set.
    #[arg(long, default_value_t = 1000)]
    pub labelled: usize,
    /// Unlabelled examples for pre-training: the next N (default: all the rest).
    #[arg(long)]
    pub unlabelled: Option<usize>,
    /// Test on the first N test examples.
    #[arg(long)]
    pub test_size: Option<usize>,
    /// Hidden layer widths, bottom first.
    #[arg(long, default_value = "256,128", value_delimiter = ',')]
    pub hidden: Vec<usize>,
    /// Pre-training epochs per layer.
    #[arg(long, default_value_t = 3)]
    pub pretrain_epochs: usize,
    /// Supervised epochs (from scratch and fine-tuning) over the labelled examples.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Masking noise of pre-training: fraction of inputs set to 0.
    #[arg(long, default_value_t = 0.25)]
    pub noise: f32,
    /// Examples per mini-batch in pre-training (supervised training uses at most 32).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// C of the SVMs (RBF, gamma = scale).
    #[arg(long, default_value_t = 10.0)]
    pub c: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Contrastive-divergence epochs per RBM of the deep belief net.
    #[arg(long, default_value_t = 5)]
    pub rbm_epochs: usize,
    /// SGD's learning rate of the RBMs (momentum 0.5, CD-1).
    #[arg(long, default_value_t = 0.1)]
    pub rbm_lr: f64,
    /// Pre-train on the labelled examples' inputs too (labels unused), e.g. to pre-train and
    /// fine-tune on the whole training set with --labelled 60000.
    #[arg(long)]
    pub pretrain_on_labelled: bool,
    /// Run only these protocols (comma-separated): svm, scratch, sdae-svm, sdae-finetune,
    /// dbn. Default: all.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

/// Runs `nabla protocol`.
/// Refuses senseless arguments before any data is read.
fn check_args(a: &ProtocolArgs) -> Result<()> {
    if a.labelled == 0 || a.hidden.is_empty() || a.hidden.contains(&0) {
        bail!("--labelled and every --hidden width must be at least 1");
    }
    if !(0.0..1.0).contains(&a.noise) {
        bail!("--noise must be in [0, 1), got {}", a.noise);
    }
    if let Some(bad) = a
        .only
        .iter()
        .find(|k| !PROTOCOLS.iter().any(|(p, _)| p == k))
    {
        let keys: Vec<&str> = PROTOCOLS.iter().map(|(k, _)| *k).collect();
        bail!("--only: no protocol '{bad}'; they are {}", keys.join(", "));
    }
    if !(a.rbm_lr.is_finite() && a.rbm_lr > 0.0) {
        bail!("--rbm-lr must be a positive number, got {}", a.rbm_lr);
    }
    Ok(())
}

/// The protocols' settings from the arguments.
fn protocol_config(a: &ProtocolArgs) -> ProtocolConfig {
    ProtocolConfig {
        sdae: SdaeConfig {
            hidden: a.hidden.clone(),
            noise: a.noise,
            pretrain_epochs: a.pretrain_epochs,
            lr: a.lr,
            seed: a.seed,
            batch: a.batch_size as usize,
        },
        supervised_epochs: a.epochs,
        svm: SvcParams {
            c: a.c,
            ..SvcParams::default()
        },
        dbn: DbnConfig {
            epochs: a.rbm_epochs,
            lr: a.rbm_lr,
            seed: a.seed,
            ..DbnConfig::default()
        },
        only: a.only.clone(),
    }
}

pub fn run(a: &ProtocolArgs) -> Result<()> {
    check_args(a)?;
    let total = a.unlabelled.map(|u| a.labelled + u);
    let split = load(&ClassicData {
        data: a.data.clone(),
        train_size: total,
        test_size: a.test_size,
        label_col: None,
        test_split: 0.2,
        seed: a.seed,
        output: None,
    })?;
    if split.train.len() < a.labelled
        || (split.train.len() == a.labelled && !a.pretrain_on_labelled)
    {
        bail!(
            "the training set has {} examples: nothing is left unlabelled after --labelled {}",
            split.train.len(),
            a.labelled
        );
    }
    let labelled = split.train.select(&(0..a.labelled).collect::<Vec<_>>());
    let first_unlabelled = if a.pretrain_on_labelled {
        0
    } else {
        a.labelled
    };
    let unlabelled = &split.train.x[first_unlabelled * split.train.d..];
    let n_unlabelled = split.train.len() - first_unlabelled;
    let cfg = protocol_config(a);
    println!(
        "{} labelled and {n_unlabelled} unlabelled (pre-training) training examples, {} test examples; network {}-{}-{}",
        a.labelled,
        split.test.len(),
        split.train.d,
        a.hidden.iter().map(|h| h.to_string()).collect::<Vec<_>>().join("-"),
        split.names.len()
    );
    let rows = protocol::run(&labelled, unlabelled, &split.test, &cfg)?;
    println!("| protocol | test accuracy | train time |");
    println!("|---|---|---|");
    for r in rows {
        println!(
            "| {} | {:.2}% | {:.1} s |",
            r.protocol,
            100.0 * r.accuracy,
            r.train_secs
        );
    }
    Ok(())
}
