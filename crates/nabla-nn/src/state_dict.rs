//! Matching a weights file's entries to a model's variables: a training checkpoint's `model.`
//! part, PyTorch DataParallel's `module.` prefix, and reports that say why a file does not
//! fit instead of listing every key.

use crate::checkpoint::{self, LoadReport};
use crate::var_store::{under_prefix, VarStore};
use crate::Result;
use nabla::Tensor;
use std::path::Path;

/// Prefixes a file may put before the model's names: none, a training checkpoint's `model.`
/// (beside its `optim.` and `trainer.` state), DataParallel's `module.`, or both.
const PREFIXES: [&str; 4] = ["", "model.", "module.", "model.module."];

/// How many entries a report lists of each kind before "and N more".
const SHOWN: usize = 4;

/// The model's entries of a weights file: of the [`PREFIXES`], the one under which most
/// entries name a variable of `vs` is stripped. A training checkpoint's other state (entries
/// outside its `model.` part) is dropped; other entries are kept to be reported as unexpected.
pub(crate) fn model_entries(
    vs: &VarStore,
    tensors: Vec<(String, Tensor)>,
) -> Vec<(String, Tensor)> {
    let names: Vec<String> = vs.vars().iter().map(|v| v.name().to_string()).collect();
    let matches = |prefix: &str| {
        tensors
            .iter()
            .filter(|(n, _)| {
                n.strip_prefix(prefix)
                    .is_some_and(|rest| names.iter().any(|v| v == rest))
            })
            .count()
    };
    let best = PREFIXES
        .iter()
        .copied()
        .max_by_key(|p| (matches(p), std::cmp::Reverse(p.len())))
        .unwrap_or("");
    if best.is_empty() || matches(best) == 0 {
        return tensors;
    }
    let checkpoint = best.starts_with("model.");
    tensors
        .into_iter()
        .filter_map(|(n, t)| match n.strip_prefix(best) {
            Some(rest) => Some((rest.to_string(), t)),
            None if checkpoint => None,
            None => Some((n, t)),
        })
        .collect()
}

/// Reads a weights file (bare weights, a training checkpoint, DataParallel weights) as the
/// model's named entries.
///
/// # Errors
/// I/O and format errors, with the path.
pub(crate) fn read_model_entries(
    vs: &VarStore,
    path: impl AsRef<Path>,
) -> Result<Vec<(String, Tensor)>> {
    Ok(model_entries(vs, checkpoint::load(path)?.tensors))
}

/// `names` as `a, b, c, d and 12 more`.
pub(crate) fn first_few(names: &[String]) -> String {
    let shown = names[..names.len().min(SHOWN)].join(", ");
    match names.len().saturating_sub(SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// The top-level names (`aux1` of `aux1.conv.weight`) of `names`, each once, in order.
fn tops(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let top = n.split('.').next().unwrap_or(n).to_string();
        if !out.contains(&top) {
            out.push(top);
        }
    }
    out
}

impl LoadReport {
    /// The likely reason a file does not fit, when one stands out.
    pub fn likely_cause(&self, model_vars: usize) -> Option<String> {
        let matched = model_vars.saturating_sub(self.missing.len() + self.mismatched.len());
        if matched == 0 && !self.unexpected.is_empty() {
            return Some(format!(
                "no name matches: the file holds another model (its names begin {})",
                first_few(&tops(&self.unexpected))
            ));
        }
        let absent: Vec<String> = tops(&self.missing)
            .into_iter()
            .filter(|t| !self.unexpected.iter().any(|u| under_prefix(u, t)))
            .collect();
        if !self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty() {
            return Some(format!(
                "the file has no {} at all: it was saved from a model without {}",
                absent.join(", "),
                if absent.len() == 1 {
                    "that part"
                } else {
                    "those parts"
                }
            ));
        }
        if self.missing.is_empty() && self.unexpected.is_empty() {
            return Some(
                "every name matches but shapes differ: the same model built for another input \
                 or number of classes"
                    .to_string(),
            );
        }
        None
    }
}

/// How a strict load must go: what may be absent from a file.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions<'a> {
    /// Parts of the model (name prefixes) that may be absent from the file as a whole, such as
    /// GoogLeNet's training-only auxiliary classifiers (`aux1`, `aux2`): they keep their
    /// initialization and are reported.
    pub optional: &'a [&'a str],
}

impl VarStore {
    /// Loads a weights file strictly, except for the `options.optional` parts that the file
    /// lacks entirely. Accepts bare weights, a training checkpoint (its `model.` part) and
    /// DataParallel's `module.` names. Returns the optional variables that were left as they
    /// were.
    ///
    /// # Errors
    /// [`crate::Error::Checkpoint`] when the file does not fit, with counts, the first few
    /// names of each kind and the likely cause; nothing is changed in that case.
    pub fn load_with(&self, path: impl AsRef<Path>, options: LoadOptions) -> Result<Vec<String>> {
        let name = path.as_ref().display().to_string();
        let entries = read_model_entries(self, path)?;
        let mut report = self.check(&entries);
        let (left, missing): (Vec<String>, Vec<String>) = std::mem::take(&mut report.missing)
            .into_iter()
            .partition(|m| {
                options
                    .optional
                    .iter()
                    .any(|p| under_prefix(m, p) && !entries.iter().any(|(n, _)| under_prefix(n, p)))
            });
        report.missing = missing;
        if !report.is_clean() {
            let cause = report
                .likely_cause(self.vars().len())
                .map(|c| format!("; likely cause: {c}"))
                .unwrap_or_default();
            return Err(checkpoint::bad(
                &name,
                format!("does not fit the model: {report}{cause}"),
            ));
        }
        self.load_tensors(&entries)?;
        Ok(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::save;
    use crate::Init;
    use nabla::{DType, Device};
    use std::collections::BTreeMap;

    /// A store with `fc.weight`, `fc.bias` and an optional part `aux.weight`.
    fn store() -> VarStore {
        let vs = VarStore::new(&Device::Cpu);
        let root = vs.root();
        root.sub("fc")
            .param("weight", &[2, 3], Init::Constant(1.0))
            .unwrap();
        root.sub("fc")
            .param("bias", &[2], Init::Constant(0.0))
            .unwrap();
        root.sub("aux")
            .param("weight", &[4], Init::Constant(0.0))
            .unwrap();
        vs
    }

    fn file(name: &str, entries: &[(&str, &[usize])]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("nabla-sd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let tensors: Vec<(String, Tensor)> = entries
            .iter()
            .map(|(n, shape)| {
                (
                    n.to_string(),
                    Tensor::full(7.0, shape, DType::F32, &Device::Cpu),
                )
            })
            .collect();
        save(&path, &tensors, &BTreeMap::new()).unwrap();
        path
    }

    fn value(vs: &VarStore, name: &str) -> f32 {
        vs.get(name).unwrap().tensor().to_vec::<f32>().unwrap()[0]
    }

    #[test]
    fn a_training_checkpoint_loads_through_its_model_part() {
        let path = file(
            "ckpt.safetensors",
            &[
                ("model.fc.weight", &[2, 3]),
                ("model.fc.bias", &[2]),
                ("model.aux.weight", &[4]),
                ("optim.fc.weight.m", &[2, 3]),
                ("trainer.rng", &[5]),
            ],
        );
        let vs = store();
        vs.load(&path).unwrap();
        assert_eq!(value(&vs, "fc.bias"), 7.0);
    }

    #[test]
    fn data_parallel_names_lose_their_module_prefix() {
        let path = file(
            "dp.safetensors",
            &[
                ("module.fc.weight", &[2, 3]),
                ("module.fc.bias", &[2]),
                ("module.aux.weight", &[4]),
            ],
        );
        let vs = store();
        vs.load(&path).unwrap();
        assert_eq!(value(&vs, "aux.weight"), 7.0);
    }

    #[test]
    fn an_optional_part_may_be_absent_as_a_whole_but_not_in_halves() {
        let path = file(
            "noaux.safetensors",
            &[("fc.weight", &[2, 3]), ("fc.bias", &[2])],
        );
        let vs = store();
        let err = vs.load(&path).unwrap_err().to_string();
        assert!(
            err.contains("1 missing (aux.weight)") && err.contains("the file has no aux at all"),
            "{err}"
        );
        let left = vs
            .load_with(&path, LoadOptions { optional: &["aux"] })
            .unwrap();
        assert_eq!(left, vec!["aux.weight".to_string()]);
        assert_eq!(value(&vs, "fc.weight"), 7.0);

        let half = file("halfaux.safetensors", &[("fc.weight", &[2, 3])]);
        let err = store()
            .load_with(&half, LoadOptions { optional: &["aux"] })
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 missing (fc.bias)"), "{err}");
    }

    #[test]
    fn another_models_file_is_named_as_such_with_counts_not_every_key() {
        let entries: Vec<(String, Vec<usize>)> = (0..10)
            .map(|i| (format!("features.{i}.weight"), vec![1]))
            .collect();
        let refs: Vec<(&str, &[usize])> = entries
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        let path = file("other.safetensors", &refs);
        let err = store().load(&path).unwrap_err().to_string();
        assert!(
            err.contains("10 unexpected (features.0.weight, features.1.weight, features.2.weight, features.3.weight and 6 more)")
                && err.contains("the file holds another model (its names begin features)"),
            "{err}"
        );
    }
}
