//! The run folder (`runs/NAME/`) and its `config.json`, which records everything `eval` and
//! `predict` need to rebuild the model and preprocess inputs as in training.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// What a trained model needs to be rebuilt and fed.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    /// Zoo model name.
    pub model: String,
    /// The dataset spec it was trained on.
    pub data: String,
    /// Shape of one input.
    pub input_shape: Vec<usize>,
    /// Outputs of the model.
    pub outputs: usize,
    /// Whether the task is classification.
    pub classification: bool,
    /// Normalization mean per channel.
    pub mean: Vec<f32>,
    /// Normalization standard deviation per channel.
    pub std: Vec<f32>,
    /// Class names, if known.
    pub class_names: Option<Vec<String>>,
    /// torchvision GoogLeNet's `transform_input`: the model re-normalizes its input from
    /// ImageNet's mean and deviation to `(x − 0.5) / 0.5` (`--transform-input`).
    pub transform_input: bool,
    /// The training options, for the record.
    pub training: Value,
}

impl RunConfig {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "model": self.model,
            "data": self.data,
            "input_shape": self.input_shape,
            "outputs": self.outputs,
            "classification": self.classification,
            "normalize": {"mean": self.mean, "std": self.std},
            "class_names": self.class_names,
            "transform_input": self.transform_input,
            "training": self.training,
        })
    }

    /// Writes `config.json` into `dir` (atomically).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())?;
        nabla::io::write_atomic(&dir.join("config.json"), text.as_bytes())?;
        Ok(())
    }

    /// Reads `config.json` from a run folder.
    pub fn load(dir: &Path) -> Result<RunConfig> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (the run folder of the weights; pass --model for bare weights)",
                path.display()
            )
        })?;
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        let bad = |what: &str| anyhow::anyhow!("{}: missing or invalid '{what}'", path.display());
        let floats = |v: &Value| -> Option<Vec<f32>> {
            v.as_array()?
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect()
        };
        Ok(RunConfig {
            model: v["model"].as_str().ok_or_else(|| bad("model"))?.to_string(),
            data: v["data"].as_str().ok_or_else(|| bad("data"))?.to_string(),
            input_shape: v["input_shape"]
                .as_array()
                .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
                .ok_or_else(|| bad("input_shape"))?,
            outputs: v["outputs"].as_u64().ok_or_else(|| bad("outputs"))? as usize,
            classification: v["classification"]
                .as_bool()
                .ok_or_else(|| bad("classification"))?,
            mean: floats(&v["normalize"]["mean"]).ok_or_else(|| bad("normalize.mean"))?,
            std: floats(&v["normalize"]["std"]).ok_or_else(|| bad("normalize.std"))?,
            class_names: v["class_names"].as_array().map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            }),
            // Absent in run folders written before the option existed.
            transform_input: v["transform_input"].as_bool().unwrap_or(false),
            training: v["training"].clone(),
        })
    }
}

/// Resolves `--weights`: a run folder or a file inside one. Returns (weights file, run folder).
pub fn resolve_weights(weights: &Path) -> Result<(PathBuf, PathBuf)> {
    if weights.is_dir() {
        let file = weights.join("model.safetensors");
        if !file.exists() {
            bail!(
                "{} has no model.safetensors (is it a run folder of `nabla train`?)",
                weights.display()
            );
        }
        return Ok((file, weights.to_path_buf()));
    }
    if !weights.exists() {
        bail!("weights file {} does not exist", weights.display());
    }
    let dir = weights
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    Ok((weights.to_path_buf(), dir))
}

/// Picks `runs/NAME` for a new run: the given name, or `base`, `base-2`, ... (the first free one).
pub fn new_run_dir(name: Option<&str>, base: &str, resume: bool) -> Result<PathBuf> {
    let runs = PathBuf::from("runs");
    if let Some(name) = name {
        if name.is_empty() || name.contains(['/', '\\']) || name == ".." || name == "." {
            bail!("--out must be a plain folder name, got '{name}'");
        }
        // Whether the folder already holds a run is checked under its lock
        // (`commands::train::prepare_run_dir`), where a run still writing it is named.
        return Ok(runs.join(name));
    }
    if resume {
        bail!("--resume needs --out NAME (the run to continue)");
    }
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    (1..10_000)
        .map(|i| {
            if i == 1 {
                runs.join(&clean)
            } else {
                runs.join(format!("{clean}-{i}"))
            }
        })
        .find(|d| !d.exists())
        .context("no free run folder name")
}
