//! The course's three ways to train a deep network, side by side on few labels: supervised
//! from random weights; unsupervised layer-wise pre-training with an SVM on the codes; and
//! pre-training followed by supervised fine-tuning of the whole stack. Plus an SVM on the
//! raw inputs, the classical baseline, and a fourth way: the same stack pre-trained as a deep
//! belief net (greedy RBMs) instead of denoising autoencoders, then fine-tuned.
//!
//! The protocols run on the host by design: their data arrive as host slices and their
//! networks are built on `Device::Cpu`.

mod dbn;
mod sdae;

pub use dbn::{pretrain_dbn, DbnConfig};
pub use sdae::{Sdae, SdaeConfig};

use crate::matrix::{accuracy, Labelled};
use crate::svm::{Svc, SvcParams};
use crate::{Error, Result};
use nabla::{DType, Device, Tensor};
use nabla_nn::layers::Linear;
use nabla_nn::loss::cross_entropy;
use nabla_nn::optim::{Adam, Optimizer};
use nabla_nn::Module;
use sdae::batch_tensor;
use std::time::Instant;

/// Settings of a protocol comparison.
#[derive(Clone, Debug)]
pub struct ProtocolConfig {
    /// The autoencoder stack (also the architecture of the supervised network).
    pub sdae: SdaeConfig,
    /// Epochs of supervised training (from scratch, and fine-tuning).
    pub supervised_epochs: usize,
    /// The SVMs' settings (RBF, `C = 10`, `gamma = scale` by default).
    pub svm: SvcParams,
    /// The RBMs of the deep belief net.
    pub dbn: DbnConfig,
    /// The protocols to run, by [`PROTOCOLS`] key; empty runs them all.
    pub only: Vec<String>,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            sdae: SdaeConfig::default(),
            supervised_epochs: 30,
            svm: SvcParams {
                c: 10.0,
                ..SvcParams::default()
            },
            dbn: DbnConfig::default(),
            only: vec![],
        }
    }
}

/// The protocols: a key for [`ProtocolConfig::only`] and the name in the results.
pub const PROTOCOLS: [(&str, &str); 5] = [
    ("svm", "SVM (RBF) on raw pixels"),
    ("scratch", "supervised from random weights"),
    ("sdae-svm", "pre-training + SVM on the codes"),
    ("sdae-finetune", "pre-training + fine-tuning"),
    ("dbn", "DBN pre-training (RBMs) + fine-tuning"),
];

impl ProtocolConfig {
    /// Whether the protocol with this key runs.
    fn runs(&self, key: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|k| k == key)
    }
}

/// The result name of the protocol with this key.
fn name(key: &str) -> &'static str {
    PROTOCOLS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("?", |(_, n)| n)
}

/// One line of the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolResult {
    /// What was trained.
    pub protocol: &'static str,
    /// Share of the test set classified right.
    pub accuracy: f64,
    /// Training time in seconds (pre-training included where it is used).
    pub train_secs: f64,
}

/// The encoder stack with a softmax layer on top, as one classifier.
struct Classifier<'a> {
    stack: &'a Sdae,
    head: Linear,
}

impl Classifier<'_> {
    fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.stack.encode_t(x, self.stack.encoders.len())?;
        Ok(self.head.forward(&h)?)
    }

    /// Trains every layer (stack and head) on the labelled examples with cross-entropy.
    fn train(&self, data: &Labelled, epochs: usize, cfg: &SdaeConfig) -> Result<()> {
        let mut vars = self.stack.vs.trainable();
        vars.push(self.head.weight.clone());
        vars.extend(self.head.bias.clone());
        let mut opt = Adam::new(vars, cfg.lr);
        let mut rng = nabla::Rng::new(cfg.seed ^ 0xF1E);
        let mut order: Vec<usize> = (0..data.len()).collect();
        let batch = cfg.batch.clamp(1, 32);
        for _ in 0..epochs {
            rng.shuffle(&mut order);
            for idx in order.chunks(batch) {
                let sub = data.select(idx);
                let labels: Vec<i64> = sub.y.iter().map(|&c| c as i64).collect();
                let targets = Tensor::from_vec(labels, &[idx.len()], &Device::Cpu)?;
                let loss = cross_entropy(&self.logits(&batch_tensor(&sub.x, data.d)?)?, &targets)?;
                opt.step(&loss.backward()?)?;
            }
        }
        Ok(())
    }

    fn predict(&self, x: &[f32]) -> Result<Vec<usize>> {
        let d = self.stack.d;
        let mut out = Vec::with_capacity(x.len() / d);
        for chunk in x.chunks(1024 * d) {
            let classes = nabla::no_grad(|| -> Result<Tensor> {
                Ok(self.logits(&batch_tensor(chunk, d)?)?.argmax(1)?)
            })?;
            out.extend(
                classes
                    .to_dtype(DType::I64)?
                    .to_vec::<i64>()?
                    .iter()
                    .map(|&c| c as usize),
            );
        }
        Ok(out)
    }
}

fn head(stack: &Sdae, classes: usize) -> Result<Linear> {
    Ok(Linear::new(
        &stack.vs.root().sub("head"),
        stack.code_width(),
        classes,
        true,
    )?)
}

/// Fine-tunes a pre-trained `stack` with a new softmax head on `labelled` and scores it on
/// `test` (the time counts `pre_secs` of pre-training).
fn fine_tune(
    stack: &Sdae,
    key: &str,
    pre_secs: f64,
    labelled: &Labelled,
    test: &Labelled,
    cfg: &ProtocolConfig,
) -> Result<ProtocolResult> {
    let k = labelled.num_classes.max(test.num_classes);
    let net = Classifier {
        head: head(stack, k)?,
        stack,
    };
    let t0 = Instant::now();
    net.train(labelled, cfg.supervised_epochs, &cfg.sdae)?;
    Ok(ProtocolResult {
        protocol: name(key),
        accuracy: accuracy(&net.predict(&test.x)?, &test.y),
        train_secs: pre_secs + t0.elapsed().as_secs_f64(),
    })
}

/// Runs the protocols of `cfg.only` (all five by default): an SVM on raw inputs, the network
/// trained from scratch on `labelled`, denoising-autoencoder pre-training on `unlabelled`
/// (`[n, d]` row-major, labels unused) with an SVM on the codes of `labelled`, the same
/// pre-trained stack fine-tuned on `labelled`, and the stack pre-trained as a deep belief net
/// on `unlabelled` then fine-tuned. Each is scored on `test`.
///
/// # Errors
/// [`Error::Data`] when the widths of the three sets differ; training errors.
pub fn run(
    labelled: &Labelled,
    unlabelled: &[f32],
    test: &Labelled,
    cfg: &ProtocolConfig,
) -> Result<Vec<ProtocolResult>> {
    let d = labelled.d;
    if test.d != d || !unlabelled.len().is_multiple_of(d) {
        return Err(Error::data(
            "protocol",
            format!(
                "labelled rows have {d} features, test rows {}, and {} unlabelled values are not rows of {d}",
                test.d,
                unlabelled.len()
            ),
        ));
    }
    let k = labelled.num_classes.max(test.num_classes);
    let mut rows = vec![];
    let timed = |f: &mut dyn FnMut() -> Result<()>| -> Result<f64> {
        let t0 = Instant::now();
        f()?;
        Ok(t0.elapsed().as_secs_f64())
    };

    if cfg.runs("svm") {
        let mut svm = None;
        let secs = timed(&mut || {
            svm = Some(Svc::fit(labelled, &cfg.svm)?);
            Ok(())
        })?;
        let svm = svm.expect("set by the closure");
        rows.push(ProtocolResult {
            protocol: name("svm"),
            accuracy: accuracy(&svm.predict(&test.x)?, &test.y),
            train_secs: secs,
        });
    }

    if cfg.runs("scratch") {
        let scratch = Sdae::new(d, &cfg.sdae)?;
        let net = Classifier {
            head: head(&scratch, k)?,
            stack: &scratch,
        };
        let secs = timed(&mut || net.train(labelled, cfg.supervised_epochs, &cfg.sdae))?;
        rows.push(ProtocolResult {
            protocol: name("scratch"),
            accuracy: accuracy(&net.predict(&test.x)?, &test.y),
            train_secs: secs,
        });
    }

    if cfg.runs("sdae-svm") || cfg.runs("sdae-finetune") {
        let stack = Sdae::new(
            d,
            &SdaeConfig {
                seed: cfg.sdae.seed + 1,
                ..cfg.sdae.clone()
            },
        )?;
        let pre_secs = timed(&mut || stack.pretrain(unlabelled, &cfg.sdae).map(|_| ()))?;
        if cfg.runs("sdae-svm") {
            let codes = Labelled::new(
                stack.encode(&labelled.x)?,
                stack.code_width(),
                labelled.y.clone(),
                k,
            )?;
            let mut svm = None;
            let secs = timed(&mut || {
                svm = Some(Svc::fit(&codes, &cfg.svm)?);
                Ok(())
            })?;
            let svm = svm.expect("set by the closure");
            rows.push(ProtocolResult {
                protocol: name("sdae-svm"),
                accuracy: accuracy(&svm.predict(&stack.encode(&test.x)?)?, &test.y),
                train_secs: pre_secs + secs,
            });
        }
        if cfg.runs("sdae-finetune") {
            rows.push(fine_tune(
                &stack,
                "sdae-finetune",
                pre_secs,
                labelled,
                test,
                cfg,
            )?);
        }
    }

    if cfg.runs("dbn") {
        let stack = Sdae::new(
            d,
            &SdaeConfig {
                seed: cfg.sdae.seed + 2,
                ..cfg.sdae.clone()
            },
        )?;
        let pre_secs = timed(&mut || pretrain_dbn(&stack, unlabelled, &cfg.dbn).map(|_| ()))?;
        rows.push(fine_tune(&stack, "dbn", pre_secs, labelled, test, cfg)?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_protocols_run_end_to_end_on_a_small_mnist_subset() -> Result<()> {
        let train = nabla_data::mnist::bundled_train()?;
        let all = Labelled::from_dataset(&train, Some(3200))?;
        let labelled = all.select(&(0..200).collect::<Vec<_>>());
        let unlabelled = all.x[200 * all.d..].to_vec();
        let test = Labelled::from_dataset(&nabla_data::mnist::bundled_test()?, Some(300))?;
        let cfg = ProtocolConfig {
            sdae: SdaeConfig {
                hidden: vec![64, 32],
                pretrain_epochs: 6,
                batch: 32,
                lr: 3e-3,
                ..SdaeConfig::default()
            },
            supervised_epochs: 40,
            dbn: DbnConfig {
                epochs: 3,
                batch: 32,
                ..DbnConfig::default()
            },
            ..ProtocolConfig::default()
        };
        let rows = run(&labelled, &unlabelled, &test, &cfg)?;
        assert_eq!(rows.len(), 5);
        for r in &rows {
            // Ten classes from 200 labels: each protocol must do far better than chance.
            assert!(r.accuracy > 0.5, "{r:?}");
            assert!(r.train_secs > 0.0);
        }
        Ok(())
    }

    #[test]
    fn mismatched_widths_are_errors() -> Result<()> {
        let a = Labelled::new(vec![0.0; 4], 2, vec![0, 1], 2)?;
        let b = Labelled::new(vec![0.0; 3], 3, vec![0], 2)?;
        let e = run(&a, &[], &b, &ProtocolConfig::default()).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("protocol: labelled rows have 2 features"));
        Ok(())
    }
}
