//! Dataset specs (`mnist`, `idx:DIR`, `cifar:DIR`, `folder:DIR`, `csv:FILE`, `npy:X,Y`,
//! `toy:NAME`) turned into train/test datasets with what a model needs to know about them.

use anyhow::{bail, Context, Result};
use nabla_data::readers::{cifar, csv, folder, npy, text};
use nabla_data::{mnist, random_split, toy, ClassSubset, Dataset, Subset, Task};
use std::sync::Arc;

/// The dataset kinds, for error messages.
pub const KINDS: &str =
    "mnist, idx:DIR, cifar:DIR, folder:DIR, csv:FILE, npy:FEATURES.npy,LABELS.npy, toy:NAME, text:FILE; select classes with mnist:0-4 or SPEC@0-4";

/// Parses a class selection: `0-4`, `5,7,9`, `0-2,8` (in the order given).
///
/// # Errors
/// Anything else, or a class listed twice.
pub fn parse_classes(s: &str) -> Result<Vec<usize>> {
    let bad = || anyhow::anyhow!("classes '{s}': write them as 0-4, 5,7,9 or 0-2,8");
    let mut classes = Vec::new();
    for part in s.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>(), b.trim().parse::<usize>()),
            None => (part.trim().parse(), part.trim().parse()),
        };
        let (lo, hi) = (lo.map_err(|_| bad())?, hi.map_err(|_| bad())?);
        if lo > hi || hi - lo > 100_000 {
            return Err(bad());
        }
        for c in lo..=hi {
            if classes.contains(&c) {
                bail!("classes '{s}': class {c} is listed twice");
            }
            classes.push(c);
        }
    }
    Ok(classes)
}

/// `spec` without a trailing class selection `@CLASSES`, and the selection.
fn split_classes(spec: &str) -> Result<(&str, Option<Vec<usize>>)> {
    match spec.rsplit_once('@') {
        Some((base, classes))
            if !classes.is_empty()
                && classes
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == '-' || c == ' ') =>
        {
            Ok((base, Some(parse_classes(classes)?)))
        }
        _ => Ok((spec, None)),
    }
}

/// Keeps the selected classes of both parts, relabelled `0..k`.
fn select_classes(b: DataBundle, classes: &[usize]) -> Result<DataBundle> {
    if b.num_classes.is_none() {
        bail!("selecting classes needs a classification dataset");
    }
    let train = Arc::new(ClassSubset::new(b.train, classes)?);
    let test = Arc::new(ClassSubset::new(b.test, classes)?);
    Ok(DataBundle {
        num_classes: Some(classes.len()),
        outputs: classes.len(),
        class_names: train.class_names().map(|c| c.to_vec()),
        train,
        test,
        ..b
    })
}

/// Options that some specs use.
#[derive(Clone, Debug)]
pub struct SpecOptions {
    /// CSV label column.
    pub label_col: Option<usize>,
    /// Held-out fraction for sets without a test part.
    pub test_split: f64,
    /// Seed of the held-out split and toy generators.
    pub seed: u64,
    /// Image side for image folders.
    pub image_size: usize,
    /// Image folders: decode as one grey channel instead of RGB.
    pub grayscale: bool,
    /// Text: read it as windows of this many characters for a sequence model (each
    /// position's target is the next character) instead of as a next-character n-gram set.
    pub seq_len: Option<usize>,
}

impl Default for SpecOptions {
    fn default() -> Self {
        SpecOptions {
            label_col: None,
            test_split: 0.2,
            seed: 0,
            image_size: 224,
            grayscale: false,
            seq_len: None,
        }
    }
}

/// A loaded dataset: its training and test parts and their shape.
pub struct DataBundle {
    /// Training examples.
    pub train: Arc<dyn Dataset>,
    /// Test (held-out) examples.
    pub test: Arc<dyn Dataset>,
    /// Shape of one input.
    pub input_shape: Vec<usize>,
    /// Number of classes; `None` for regression.
    pub num_classes: Option<usize>,
    /// Model outputs: the classes, or the regression targets' width.
    pub outputs: usize,
    /// Per-channel mean and standard deviation of the training images, to normalize with
    /// (empty for feature vectors).
    pub normalize: (Vec<f32>, Vec<f32>),
    /// Class names, when the data has them.
    pub class_names: Option<Vec<String>>,
}

/// MNIST's training-set pixel mean and standard deviation (the values the PyTorch examples use).
const MNIST_STATS: (f32, f32) = (0.1307, 0.3081);

/// Per-channel mean and standard deviation over (up to 10,000 of) a dataset's images;
/// empty for non-image inputs (feature vectors), which are used as they are.
fn channel_stats(ds: &dyn Dataset) -> Result<(Vec<f32>, Vec<f32>)> {
    let shape = ds.input_shape().to_vec();
    if shape.len() < 3 {
        return Ok((vec![], vec![]));
    }
    let c = shape[0];
    let per_channel: usize = shape[1..].iter().product();
    let (mut sum, mut sq, mut n) = (vec![0f64; c], vec![0f64; c], 0f64);
    let take = ds.len().min(10_000);
    let step = (ds.len() / take.max(1)).max(1);
    for i in (0..ds.len()).step_by(step).take(take) {
        let s = ds.get(i)?;
        for ch in 0..c {
            for &v in &s.input[ch * per_channel..(ch + 1) * per_channel] {
                sum[ch] += v as f64;
                sq[ch] += (v as f64) * (v as f64);
            }
        }
        n += per_channel as f64;
    }
    let mean: Vec<f32> = sum.iter().map(|s| (s / n.max(1.0)) as f32).collect();
    let std: Vec<f32> = sq
        .iter()
        .zip(&mean)
        .map(|(q, &m)| ((q / n.max(1.0) - (m as f64).powi(2)).max(1e-12).sqrt() as f32).max(1e-6))
        .collect();
    Ok((mean, std))
}

fn bundle(
    train: Arc<dyn Dataset>,
    test: Arc<dyn Dataset>,
    stats: Option<(Vec<f32>, Vec<f32>)>,
) -> Result<DataBundle> {
    let (num_classes, outputs) = match train.task() {
        Task::Classification { num_classes } => (Some(num_classes), num_classes),
        Task::Regression { outputs } => (None, outputs),
        Task::SequenceClassification { num_classes, .. } => (Some(num_classes), num_classes),
    };
    let normalize = match stats {
        Some(s) => s,
        None => channel_stats(train.as_ref())?,
    };
    Ok(DataBundle {
        input_shape: train.input_shape().to_vec(),
        class_names: train.class_names().map(|c| c.to_vec()),
        train,
        test,
        num_classes,
        outputs,
        normalize,
    })
}

/// Splits a dataset without a test part.
fn split(ds: Arc<dyn Dataset>, opts: &SpecOptions) -> Result<(Arc<dyn Dataset>, Arc<dyn Dataset>)> {
    if !(opts.test_split > 0.0 && opts.test_split < 1.0) {
        bail!(
            "--test-split must be between 0 and 1 (exclusive), got {}",
            opts.test_split
        );
    }
    let (train, test) = random_split(ds, opts.test_split, opts.seed)?;
    Ok((Arc::new(train), Arc::new(test)))
}

/// Loads the dataset a spec names.
///
/// # Errors
/// An unknown kind (listing the valid ones) and every reader error, with the spec.
pub fn load(spec: &str, opts: &SpecOptions) -> Result<DataBundle> {
    let (spec, mut classes) = split_classes(spec)?;
    let (kind, arg) = spec.split_once(':').unwrap_or((spec, ""));
    if kind == "mnist" && !arg.is_empty() {
        if classes.is_some() {
            bail!("give the MNIST digits once: mnist:0-4");
        }
        classes = Some(parse_classes(arg)?);
    }
    let need_arg = |what: &str| -> Result<&str> {
        if arg.is_empty() {
            bail!(
                "dataset '{kind}:' needs {what}, e.g. {kind}:{}",
                if kind == "toy" {
                    "spiral"
                } else {
                    "path/to/data"
                }
            );
        }
        Ok(arg)
    };
    let mnist_stats = || Some((vec![MNIST_STATS.0], vec![MNIST_STATS.1]));
    let b = match kind {
        "mnist" => bundle(
            Arc::new(mnist::bundled_train()?),
            Arc::new(mnist::bundled_test()?),
            mnist_stats(),
        )?,
        "idx" => {
            let (train, test) = mnist::load_dir(need_arg("a folder")?)?;
            bundle(Arc::new(train), Arc::new(test), None)?
        }
        "cifar" => {
            let (train, test) = cifar::load_dir(need_arg("a folder")?)?;
            bundle(Arc::new(train), Arc::new(test), None)?
        }
        "folder" => {
            let options = folder::ImageOptions::new(opts.image_size, opts.image_size)
                .center_crop(true)
                .grayscale(opts.grayscale);
            let (train, test) = image_folder(need_arg("a folder")?, options, opts)?;
            bundle(train, test, None)?
        }
        "csv" => {
            let options = csv::CsvOptions {
                label_column: opts.label_col,
                ..Default::default()
            };
            let (train, test) = split(Arc::new(csv::read(need_arg("a file")?, &options)?), opts)?;
            bundle(train, test, None)?
        }
        "npy" => {
            let (x, y) = need_arg("two files")?
                .split_once(',')
                .context("npy: give features and labels as npy:FEATURES.npy,LABELS.npy")?;
            let (train, test) = split(Arc::new(npy::load(x, y, None)?), opts)?;
            bundle(train, test, None)?
        }
        "toy" => {
            let t = toy::Toy::from_name(need_arg("a name")?)?;
            let (train, test) = split(Arc::new(toy::generate(t, 1000, 0.0, opts.seed)?), opts)?;
            bundle(train, test, None)?
        }
        "text" => {
            let path = need_arg("a file")?;
            let text = read_text(path)?;
            match opts.seq_len {
                Some(len) => text_sequences(path, &text, len, opts.test_split)?,
                None => {
                    let (train, test) = split(Arc::new(NextChar::new(&text)?), opts)?;
                    bundle(train, test, None)?
                }
            }
        }
        _ => bail!("unknown dataset '{spec}'; use one of: {KINDS}"),
    };
    match classes {
        Some(c) => select_classes(b, &c),
        None => Ok(b),
    }
}

/// `folder:DIR`: `DIR/train/<class>/` with `DIR/val/<class>/` or `DIR/test/<class>/` (the
/// ImageNet layout), or `DIR/<class>/` alone, split by `--test-split`.
fn image_folder(
    dir: &str,
    options: folder::ImageOptions,
    opts: &SpecOptions,
) -> Result<(Arc<dyn Dataset>, Arc<dyn Dataset>)> {
    let root = std::path::Path::new(dir);
    if !root.is_dir() {
        bail!("{dir}: no such folder");
    }
    if root.join("train").is_dir() {
        let (train, test) = folder::load_train_val(root, options)?;
        return Ok((Arc::new(train), Arc::new(test)));
    }
    let all = folder::FolderDataset::new(root, options).with_context(|| {
        format!(
            "{dir} has no train/ folder, so it is read as one subfolder of images per class \
             (split by --test-split)"
        )
    })?;
    split(Arc::new(all), opts)
}

/// Reads a text file, refusing an empty or binary one with a message that says so.
fn read_text(path: &str) -> Result<String> {
    if !std::path::Path::new(path).exists() {
        let cwd = std::env::current_dir().map_or_else(|_| "?".into(), |d| d.display().to_string());
        bail!("text file {path}: no such file (a relative path is read from the current directory, {cwd})");
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading text file {path}"))?;
    if bytes.is_empty() {
        bail!("text file {path} is empty");
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        bail!("{path} looks binary (a NUL byte at offset {at}); give a UTF-8 text file");
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{path} is not UTF-8 text (invalid byte at offset {}); give a UTF-8 text file",
            e.utf8_error().valid_up_to()
        )
    })
}

/// A text for a sequence model: the first `1 - held_out` of it as training windows of
/// `len` characters, the rest (a contiguous tail, so no window straddles the two) as
/// validation windows; the vocabulary is the whole text's, and the class names are its
/// characters (what `nabla sample` decodes with).
fn text_sequences(path: &str, content: &str, len: usize, held_out: f64) -> Result<DataBundle> {
    if !(held_out > 0.0 && held_out < 1.0) {
        bail!("--test-split must be between 0 and 1 (exclusive), got {held_out}");
    }
    let chars: Vec<char> = content.chars().collect();
    let cut = ((chars.len() as f64) * (1.0 - held_out)) as usize;
    if chars.len() - cut <= len || cut <= len {
        bail!(
            "text file {path} has {} characters: too short for sequences of {len} with {:.0}% held out \
             for validation (both parts need more than {len}); use a longer text or a smaller --seq-len",
            chars.len(),
            100.0 * held_out
        );
    }
    let (head, tail): (String, String) =
        (chars[..cut].iter().collect(), chars[cut..].iter().collect());
    let vocab = text::Vocab::from_text(content);
    let names: Vec<String> = vocab.chars().iter().map(|c| c.to_string()).collect();
    let train = Arc::new(text::TextDataset::with_vocab(&head, vocab.clone(), len)?);
    let test = Arc::new(text::TextDataset::with_vocab(&tail, vocab, len)?);
    let mut b = bundle(train, test, Some((vec![], vec![])))?;
    b.class_names = Some(names);
    Ok(b)
}

/// Characters of context a text example holds.
const TEXT_CONTEXT: usize = 16;
/// Step between text examples (every 4th position, to keep epochs short).
const TEXT_STRIDE: usize = 4;

/// A text as a classification set: each example is a one-hot window of
/// [`TEXT_CONTEXT`] characters (flattened to `context × vocabulary` inputs) and its class is
/// the character that follows — the character-level n-gram model of Bengio et al. (2003),
/// which an MLP can learn. Recurrent models that read the text as a sequence are issue 6's.
struct NextChar {
    windows: text::TextDataset,
    shape: Vec<usize>,
    names: Vec<String>,
}

impl NextChar {
    fn new(content: &str) -> Result<Self> {
        let windows = text::TextDataset::new(content, TEXT_CONTEXT)?
            .stride(TEXT_STRIDE)?
            .one_hot(true);
        let vocab = windows.vocab().len();
        let names = windows
            .vocab()
            .chars()
            .iter()
            .map(|c| format!("{c:?}"))
            .collect();
        Ok(NextChar {
            windows,
            shape: vec![TEXT_CONTEXT * vocab],
            names,
        })
    }
}

impl Dataset for NextChar {
    fn len(&self) -> usize {
        self.windows.len()
    }
    fn get(&self, index: usize) -> nabla_data::Result<nabla_data::Sample> {
        let s = self.windows.get(index)?;
        let next = match &s.target {
            nabla_data::Target::Classes(next) => next.last().copied(),
            _ => None,
        };
        let next = next.ok_or_else(|| nabla_data::Error::SampleMismatch {
            op: "text",
            msg: "a text window without a next character".into(),
        })?;
        Ok(nabla_data::Sample {
            input: s.input,
            shape: self.shape.clone(),
            target: nabla_data::Target::Class(next),
        })
    }
    fn input_shape(&self) -> &[usize] {
        &self.shape
    }
    fn task(&self) -> Task {
        Task::Classification {
            num_classes: self.names.len(),
        }
    }
    fn class_names(&self) -> Option<&[String]> {
        Some(&self.names)
    }
}

/// The first `n` examples of a training set.
pub fn take(ds: Arc<dyn Dataset>, n: usize) -> Arc<dyn Dataset> {
    Arc::new(Subset::take(ds, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_selections_parse_in_order() {
        assert_eq!(parse_classes("0-4").unwrap(), vec![0, 1, 2, 3, 4]);
        assert_eq!(parse_classes("7,5, 9").unwrap(), vec![7, 5, 9]);
        assert_eq!(parse_classes("0-1,8").unwrap(), vec![0, 1, 8]);
        for bad in ["", "4-0", "a", "1,1", "0-2,2", "-3"] {
            assert!(parse_classes(bad).is_err(), "{bad}");
        }
        let (base, c) = split_classes("idx:data/mnist@5-9").unwrap();
        assert_eq!((base, c), ("idx:data/mnist", Some(vec![5, 6, 7, 8, 9])));
        assert_eq!(split_classes("folder:a@b").unwrap(), ("folder:a@b", None));
    }

    #[test]
    fn mnist_digits_subset_is_relabelled() -> Result<()> {
        let b = load("mnist:5-9", &SpecOptions::default())?;
        assert_eq!((b.num_classes, b.outputs), (Some(5), 5));
        assert_eq!(
            b.class_names.as_deref().map(|c| c.join("")),
            Some("56789".into())
        );
        for i in 0..20 {
            let nabla_data::Target::Class(label) = b.train.get(i)?.target else {
                panic!("classes")
            };
            assert!((0..5).contains(&label));
        }
        assert!(
            b.test.len() < 6000 && b.test.len() > 3000,
            "{}",
            b.test.len()
        );
        assert!(load("mnist:3-12", &SpecOptions::default()).is_err());
        Ok(())
    }
}
