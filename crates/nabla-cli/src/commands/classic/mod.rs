//! `nabla classic svm|forest|hmm|kmeans|mrf`: the classical baselines on the same dataset specs as
//! `nabla train`, with the test accuracy, confusion matrix and time, and the model saved.

mod args;
mod forest;
mod hmm;
mod kmeans;
mod mrf;
mod svm;

pub use args::{ClassicCommand, ClassicData};

use crate::confusion::ConfusionMatrix;
use anyhow::{Context, Result};
use nabla_classic::matrix::Labelled;
use nabla_data::spec::{self as data_spec, SpecOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Runs `nabla classic ...`.
pub fn run(cmd: &ClassicCommand) -> Result<()> {
    match cmd {
        ClassicCommand::Svm(a) => svm::run(a),
        ClassicCommand::Forest(a) => forest::run(a),
        ClassicCommand::Hmm(a) => hmm::run(a),
        ClassicCommand::Kmeans(a) => kmeans::run(a),
        ClassicCommand::Mrf(a) => mrf::run(a),
    }
}

/// A dataset's training part (the first `--train-size` examples) and test part as feature
/// matrices, with class names.
pub struct Split {
    pub train: Labelled,
    pub test: Labelled,
    pub names: Vec<String>,
}

/// Loads `--data` for a classifier.
pub fn load(a: &ClassicData) -> Result<Split> {
    let opts = SpecOptions {
        label_col: a.label_col,
        test_split: a.test_split,
        seed: a.seed,
        ..SpecOptions::default()
    };
    let b =
        data_spec::load(&a.data, &opts).with_context(|| format!("loading dataset '{}'", a.data))?;
    if b.num_classes.is_none() {
        anyhow::bail!(
            "'{}' is a regression dataset; the classical classifiers need classes",
            a.data
        );
    }
    if a.train_size == Some(0) || a.test_size == Some(0) {
        anyhow::bail!("--train-size and --test-size must be at least 1");
    }
    let train = Labelled::from_dataset(b.train.as_ref(), a.train_size)?;
    let test = Labelled::from_dataset(b.test.as_ref(), a.test_size)?;
    let k = train.num_classes.max(test.num_classes);
    let names = b
        .class_names
        .unwrap_or_else(|| (0..k).map(|c| c.to_string()).collect());
    Ok(Split { train, test, names })
}

/// Prints the accuracy, the confusion matrix and the times of `predicted` against `truth`.
pub fn report(predicted: &[usize], split: &Split, fit_secs: f64, predict: Instant) {
    let secs = predict.elapsed().as_secs_f64();
    let k = split.names.len();
    let mut cm = ConfusionMatrix::new(k);
    for (&t, &p) in split.test.y.iter().zip(predicted) {
        cm.add(t, p);
    }
    let acc = nabla_classic::matrix::accuracy(predicted, &split.test.y);
    println!("confusion matrix (rows: true class, columns: predicted):");
    print!("{}", cm.to_text(&split.names));
    println!(
        "test accuracy {:.2}% on {} examples; trained on {} in {fit_secs:.1} s, predicted in {secs:.1} s",
        100.0 * acc,
        split.test.len(),
        split.train.len()
    );
}

/// The model path: `--output`, or `runs/classic-KIND/model.json`; its folder is created.
pub fn output_path(output: &Option<PathBuf>, kind: &str) -> Result<PathBuf> {
    let path = output.clone().unwrap_or_else(|| {
        Path::new("runs")
            .join(format!("classic-{kind}"))
            .join("model.json")
    });
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(path)
}
