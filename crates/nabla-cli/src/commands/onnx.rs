//! ONNX models in the CLI: `nabla predict --model model.onnx`, `nabla train --init
//! model.onnx` (the run's model is then `onnx:PATH`, which eval and predict rebuild from
//! the file before loading the fine-tuned weights).

use crate::args::PredictArgs;
use anyhow::{bail, Context, Result};
use nabla::{DType, Device, Tensor};
use nabla_nn::{Module, VarStore};
use nabla_onnx::OnnxModel;
use std::path::Path;

/// The model-name prefix of a run that fine-tuned an ONNX file: `onnx:/path/model.onnx`.
pub const MODEL_PREFIX: &str = "onnx:";

/// Whether a path names an ONNX file (by its extension).
pub fn is_onnx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// Imports an ONNX file into a fresh store: its initializers become the store's variables.
pub fn build(path: &Path) -> Result<(VarStore, Box<dyn Module>)> {
    // The importer keeps shape arithmetic in host integers; its graph runs on the host.
    let vs = VarStore::new(&Device::Cpu);
    let model =
        OnnxModel::load(path, &vs).with_context(|| format!("importing {}", path.display()))?;
    if model.inputs().len() != 1 {
        bail!(
            "{} takes {} inputs; nabla runs graphs with one input",
            path.display(),
            model.inputs().len()
        );
    }
    Ok((vs, Box::new(model)))
}

/// Checks that an imported model maps inputs of `input_shape` (one example) to `outputs`
/// values, by running it on one zero example.
pub fn check_outputs(model: &dyn Module, input_shape: &[usize], outputs: usize) -> Result<()> {
    let mut dims = vec![1];
    dims.extend_from_slice(input_shape);
    let x = Tensor::zeros(&dims, DType::F32, &Device::Cpu);
    let y = nabla::no_grad(|| model.forward(&x))
        .with_context(|| format!("running the ONNX model on an input of shape {dims:?}"))?;
    if y.dims().last() != Some(&outputs) {
        bail!(
            "the ONNX model maps inputs {dims:?} to outputs {}, but the data has {outputs} classes (pass --num-classes if the model has more)",
            y.shape()
        );
    }
    Ok(())
}

/// `nabla predict --model model.onnx batch.npy`: runs the graph on a .npy batch; prints the
/// top classes per row or writes the raw outputs with `--output`.
pub fn predict(args: &PredictArgs, path: &Path) -> Result<()> {
    if args.weights.is_some() {
        bail!("--weights is not used with an ONNX model: its weights are in the file");
    }
    let [input] = &args.inputs[..] else {
        bail!(
            "an ONNX model takes one .npy batch (its input tensor exactly as the model expects it)"
        );
    };
    if !input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    {
        bail!(
            "{}: an ONNX model takes a .npy batch; image files need the preprocessing the model was trained with",
            input.display()
        );
    }
    let x = Tensor::read_npy(input)
        .with_context(|| format!("reading {}", input.display()))?
        .to_dtype(DType::F32)?;
    let (_vs, model) = build(path)?;
    let out = nabla::keep_awake(|| nabla::no_grad(|| model.forward(&x))).with_context(|| {
        format!(
            "running {} on {} of shape {}",
            path.display(),
            input.display(),
            x.shape()
        )
    })?;
    if let Some(file) = &args.output {
        out.write_npy(file)?;
        println!(
            "wrote outputs of shape {} to {}",
            out.shape(),
            file.display()
        );
        return Ok(());
    }
    let classes = out.dims().last().copied().unwrap_or(1).max(1);
    let probs = out.softmax(-1)?.to_vec::<f32>()?;
    let k = args.topk.clamp(1, classes);
    for (i, row) in probs.chunks(classes).enumerate() {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        let top: Vec<String> = order[..k]
            .iter()
            .map(|&c| format!("{c} {:.2}%", 100.0 * row[c]))
            .collect();
        println!("{}[{i}]: {}", input.display(), top.join(", "));
    }
    Ok(())
}
