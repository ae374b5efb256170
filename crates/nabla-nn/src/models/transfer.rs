//! Transfer learning: a zoo model with a new classification head, its other layers loaded
//! from a checkpoint, and the transferred layers frozen or trained at a lower rate.
//!
//! Models are built from a [`VarStore`] path, so "replacing the head" means building the
//! model for the new number of classes and loading everything but the head from the old
//! weights:
//!
//! ```no_run
//! # use nabla::Device;
//! # use nabla_nn::{models::{transfer, ModelConfig}, optim::Sgd, VarStore};
//! # fn main() -> nabla_nn::Result<()> {
//! let vs = VarStore::new(&Device::Cpu);
//! let config = ModelConfig { num_classes: 5, ..ModelConfig::imagenet() };
//! let (net, report) = transfer::replace_head("resnet18", &vs, &config, "resnet18.safetensors")?;
//! println!("{report}");                                  // what was loaded, skipped, missing
//! transfer::freeze_except(&vs, transfer::head_prefixes("resnet18")?); // train the head only
//! let opt = Sgd::new(vs.trainable(), 0.01);
//! # Ok(()) }
//! ```

use super::ModelConfig;
use crate::checkpoint::LoadReport;
use crate::var_store::under_prefix;
use crate::{Error, Module, Result, Var, VarStore};
use nabla::Tensor;

/// The name prefixes of the classification layer(s) of the zoo model `model`: the last
/// linear layer, and for GoogLeNet also the auxiliary classifiers' last layers (all of them
/// output the classes).
///
/// # Errors
/// [`Error::UnknownName`] for a model without a known head.
pub fn head_prefixes(model: &str) -> Result<&'static [&'static str]> {
    Ok(match model {
        "mlp" | "lenet5" => &["fc3"],
        "lenet5_classic" => &["output"],
        "googlenet" | "googlenet_paper" => &["fc", "aux1.fc2", "aux2.fc2"],
        m if m.starts_with("alexnet") || m.starts_with("vgg") => &["classifier.6"],
        m if m.starts_with("resnet") => &["fc"],
        m if m.starts_with("char-") || m == "row-lstm" => &["head"],
        other => {
            return Err(Error::UnknownName { op: "transfer", what: "model for a classification head", name: other.to_string(), valid: "mlp, lenet5, lenet5_classic, googlenet, googlenet_paper, alexnet*, vgg*, resnet*, char-*, row-lstm".into() })
        }
    })
}

/// Parts of the zoo model `model` that only training uses, which weights for inference may
/// lack: GoogLeNet's auxiliary classifiers (torchvision drops them from its pretrained model).
pub fn training_only_parts(model: &str) -> &'static [&'static str] {
    match model {
        "googlenet" | "googlenet_paper" => &["aux1", "aux2"],
        _ => &[],
    }
}

/// What [`load_except`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransferReport {
    /// Variables copied from the checkpoint.
    pub loaded: Vec<String>,
    /// Checkpoint entries under a skipped prefix (the old head), not loaded.
    pub skipped: Vec<String>,
    /// Model variables under a skipped prefix (the new head), left as initialized.
    pub fresh: Vec<String>,
    /// Everything else that did not fit: other model variables the checkpoint lacks,
    /// entries the model lacks, and shape mismatches (none of them loaded).
    pub other: LoadReport,
}

impl std::fmt::Display for TransferReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "loaded {} variables; skipped {} checkpoint entries ({}); new: {}",
            self.loaded.len(),
            self.skipped.len(),
            self.skipped.join(", "),
            self.fresh.join(", ")
        )?;
        if !self.other.is_clean() {
            write!(f, "; {}", self.other)?;
        }
        Ok(())
    }
}

/// Copies `tensors` (a state_dict) into `vs`, except the entries under any of the `skip`
/// prefixes, non-strictly: entries that do not fit are reported, not loaded.
///
/// # Errors
/// Engine errors copying a tensor only.
pub fn load_except(
    vs: &VarStore,
    tensors: &[(String, Tensor)],
    skip: &[&str],
) -> Result<TransferReport> {
    let is_skipped = |name: &str| skip.iter().any(|p| under_prefix(name, p));
    let (skipped, kept): (Vec<_>, Vec<_>) =
        tensors.iter().cloned().partition(|(n, _)| is_skipped(n));
    let mut other = vs.load_tensors(&kept)?;
    let fresh: Vec<String> = vs
        .vars()
        .iter()
        .map(|v| v.name().to_string())
        .filter(|n| is_skipped(n))
        .collect();
    other.missing.retain(|n| !is_skipped(n));
    let loaded = kept
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| vs.get(n).is_some())
        .filter(|n| {
            !other
                .mismatched
                .iter()
                .any(|m| m.starts_with(&format!("{n}:")))
        })
        .collect();
    Ok(TransferReport {
        loaded,
        skipped: skipped.into_iter().map(|(n, _)| n).collect(),
        fresh,
        other,
    })
}

/// [`load_except`] from a safetensors checkpoint (nabla's or a torchvision state_dict).
///
/// # Errors
/// I/O and format errors of the file.
pub fn load_checkpoint_except(
    vs: &VarStore,
    path: impl AsRef<std::path::Path>,
    skip: &[&str],
) -> Result<TransferReport> {
    load_except(vs, &crate::state_dict::read_model_entries(vs, path)?, skip)
}

/// Builds the zoo model `name` under `vs.root()` for `config` (its `num_classes` is the new
/// task's) and initializes every variable but the classification head from the checkpoint
/// at `path`: the old head is skipped whatever its size, the new one keeps its fresh
/// initialization. Parameters stay trainable; see [`freeze_except`] and [`split_head`].
///
/// # Errors
/// Unknown model, an unsuitable configuration, I/O and format errors of the file.
pub fn replace_head(
    name: &str,
    vs: &VarStore,
    config: &ModelConfig,
    path: impl AsRef<std::path::Path>,
) -> Result<(Box<dyn Module>, TransferReport)> {
    let head = head_prefixes(name)?;
    let net = super::build(name, &vs.root(), config)?;
    let report = load_checkpoint_except(vs, path, head)?;
    Ok((net, report))
}

/// Freezes every parameter except those under the `keep` prefixes (and unfreezes those), so
/// an optimizer built from [`VarStore::trainable`] afterwards trains only them. Returns the
/// number of frozen parameters (variables, not elements).
///
/// Batch norm's running statistics are buffers, not parameters: in training mode a frozen
/// backbone's statistics still follow the new data, as in PyTorch. Run the backbone in
/// evaluation mode to keep them.
pub fn freeze_except(vs: &VarStore, keep: &[&str]) -> usize {
    let frozen = vs.freeze("");
    let kept: usize = keep.iter().map(|p| vs.unfreeze(p)).sum();
    frozen - kept
}

/// The trainable parameters split into the transferred ones and the head's, to fine-tune
/// the transferred layers at a lower learning rate with two optimizers, e.g.
/// `Sgd::new(backbone, lr / 10)` and `Sgd::new(head, lr)`.
pub fn split_head(vs: &VarStore, head: &[&str]) -> (Vec<Var>, Vec<Var>) {
    vs.trainable()
        .into_iter()
        .partition(|v| !head.iter().any(|p| under_prefix(v.name(), p)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Optimizer, Sgd};
    use crate::{loss, models};
    use nabla::{DType, Device};

    fn snapshot(vs: &VarStore) -> Vec<(String, Vec<f32>)> {
        vs.vars()
            .iter()
            .map(|v| {
                (
                    v.name().to_string(),
                    v.leaf().to_vec::<f32>().unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn transfer_loads_the_backbone_and_trains_only_the_new_head() -> Result<()> {
        let dev = Device::Cpu;
        nabla::manual_seed(7);
        let pretrained = VarStore::new(&dev);
        models::lenet5(&pretrained.root(), &ModelConfig::mnist())?;
        let dir = std::env::temp_dir().join(format!("nabla-transfer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("lenet5.safetensors");
        pretrained.save(&path)?;

        // A 5-class task: the head fc3 is new, everything else comes from the checkpoint.
        let vs = VarStore::new(&dev);
        let config = ModelConfig {
            num_classes: 5,
            ..ModelConfig::mnist()
        };
        let (net, report) = replace_head("lenet5", &vs, &config, &path)?;
        // (a safetensors header lists its entries by name, hence bias before weight)
        assert_eq!(report.skipped, vec!["fc3.bias", "fc3.weight"]);
        assert_eq!(report.fresh, vec!["fc3.weight", "fc3.bias"]);
        assert_eq!(report.loaded.len(), 8);
        assert!(report.other.is_clean(), "{report}");
        let before = snapshot(&vs);
        for (name, value) in snapshot(&pretrained) {
            let now = &before
                .iter()
                .find(|(n, _)| *n == name)
                .expect("same names")
                .1;
            assert_eq!(now == &value, !name.starts_with("fc3"), "{name}");
        }

        // Freeze all but the head; one step changes the head only.
        let head = head_prefixes("lenet5")?;
        assert_eq!(freeze_except(&vs, head), 8);
        assert_eq!(vs.num_trainable(), 84 * 5 + 5);
        let mut opt = Sgd::new(vs.trainable(), 0.1);
        let x = Tensor::randn(&[4, 1, 28, 28], DType::F32, &dev)?;
        let labels = Tensor::from_slice(&[0i64, 1, 2, 3], &[4], &dev)?;
        opt.step(&loss::cross_entropy(&net.forward_t(&x, true)?, &labels)?.backward()?)?;
        for ((name, old), (_, new)) in before.iter().zip(snapshot(&vs)) {
            assert_eq!(
                old != &new,
                name.starts_with("fc3"),
                "{name} changed: {}",
                old != &new
            );
        }
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }

    #[test]
    fn heads_are_known_for_every_zoo_model_and_split_the_parameters() -> Result<()> {
        for spec in models::registry() {
            let head = head_prefixes(spec.name)?;
            assert!(!head.is_empty(), "{}", spec.name);
        }
        assert!(head_prefixes("nope").is_err());
        let vs = VarStore::new(&Device::Cpu);
        models::resnet(&vs.root(), &ModelConfig::cifar10(), 18)?;
        let (backbone, head) = split_head(&vs, head_prefixes("resnet18")?);
        assert_eq!(
            head.iter().map(|v| v.name()).collect::<Vec<_>>(),
            vec!["fc.weight", "fc.bias"]
        );
        assert_eq!(backbone.len() + 2, vs.trainable().len());
        // A checkpoint with the same head size: the head is still skipped, not loaded.
        let tensors = vs.state_dict();
        let other = VarStore::new(&Device::Cpu);
        models::resnet(&other.root(), &ModelConfig::cifar10(), 18)?;
        let report = load_except(&other, &tensors, &["fc"])?;
        assert_eq!(report.skipped.len(), 2);
        assert!(report.other.is_clean());
        let (a, b) = (
            vs.get("fc.weight").expect("fc"),
            other.get("fc.weight").expect("fc"),
        );
        assert_ne!(a.leaf().to_vec::<f32>()?, b.leaf().to_vec::<f32>()?);
        Ok(())
    }
}
