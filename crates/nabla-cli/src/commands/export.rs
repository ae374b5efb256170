//! `nabla export`: a trained model as an ONNX file (inference form, free batch size,
//! parameter names as initializer names).

use super::build_model;
use crate::args::ExportArgs;
use crate::run_config::{resolve_weights, RunConfig};
use anyhow::{bail, Context, Result};

/// Runs `nabla export`.
pub fn run(args: &ExportArgs) -> Result<()> {
    if !args.format.eq_ignore_ascii_case("onnx") {
        bail!("--format {}: the only export format is onnx", args.format);
    }
    let (weights, dir) = resolve_weights(&args.weights)?;
    if !dir.join("config.json").exists() {
        bail!(
            "{} is not in a run folder (no config.json saying which model and input shape it has): export a run made by `nabla train`",
            weights.display()
        );
    }
    let cfg = RunConfig::load(&dir)?;
    let (vs, model) = build_model(&cfg)?;
    vs.load(&weights)
        .with_context(|| format!("loading {} into {}", weights.display(), cfg.model))?;
    let onnx = nabla_onnx::export(model.as_ref(), &cfg.input_shape, args.opset)
        .with_context(|| format!("exporting {}", cfg.model))?;
    let bytes = onnx.encode();
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {} ({} of opset {}, {} nodes, {} initializers, input [batch, {}])",
        args.out.display(),
        cfg.model,
        args.opset,
        onnx.graph.nodes.len(),
        onnx.graph.initializers.len(),
        cfg.input_shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
