//! `nabla summary`: a model's layers with output shapes, parameters and multiply-accumulates,
//! and the totals, like torchinfo's or Keras's `summary()`.

use super::counts::{short, thousands};
use crate::args::SummaryArgs;
use anyhow::{bail, Context, Result};
use nabla::{DType, Device, Tensor};
use nabla_data::spec::{self as data_spec, SpecOptions};
use nabla_nn::models::{self, ModelConfig};
use nabla_nn::{Module, VarKind, VarStore};

/// Parses `3x224x224` (or `784`, `1x28x28`) into dimensions.
pub fn parse_shape(s: &str) -> Result<Vec<usize>> {
    let dims: Option<Vec<usize>> = s
        .split(['x', 'X', ','])
        .map(|d| d.trim().parse().ok().filter(|&d: &usize| d > 0))
        .collect();
    match dims {
        Some(d) if !d.is_empty() => Ok(d),
        _ => bail!("--input wants positive sizes like 3x224x224, got '{s}'"),
    }
}

/// The input shape and class count to summarize at: the data's when `--data` is given, the
/// model's native ones otherwise, each overridden by `--input` and `--classes`.
fn shape_and_classes(args: &SummaryArgs) -> Result<(Vec<usize>, usize)> {
    let (mut shape, mut classes) = match &args.data {
        Some(spec) => {
            let data = data_spec::load(spec, &SpecOptions::default())
                .with_context(|| format!("loading dataset '{spec}'"))?;
            (data.input_shape, data.outputs)
        }
        None => {
            match models::registry()
                .into_iter()
                .find(|s| s.name == args.model)
            {
                Some(spec) => (spec.native_input(1)[1..].to_vec(), spec.native.num_classes),
                None => {
                    let n = ModelConfig::mnist();
                    (
                        vec![n.in_channels, n.image_size, n.image_size],
                        n.num_classes,
                    )
                }
            }
        }
    };
    if let Some(input) = &args.input {
        shape = parse_shape(input)?;
    }
    if let Some(k) = args.classes {
        if k == 0 {
            bail!("--classes must be at least 1");
        }
        classes = k;
    }
    Ok((shape, classes))
}

/// Parameter elements of the variables named `prefix` or `prefix.…`.
fn params_under(vs: &VarStore, prefix: &str) -> u64 {
    vs.vars()
        .iter()
        .filter(|v| v.kind() == VarKind::Parameter && nabla_nn::under_prefix(v.name(), prefix))
        .map(|v| v.numel() as u64)
        .sum()
}

/// One row of the table.
struct Row {
    name: String,
    shape: String,
    params: u64,
    macs: u64,
}

/// Feeds one zero input through `model`'s children (or the whole model when it has none),
/// measuring each one's output shape, parameters and multiply-accumulates.
fn rows(model: &dyn Module, vs: &VarStore, name: &str, x: Tensor) -> Result<Vec<Row>> {
    let children = model.children();
    if children.is_empty() {
        let (y, macs) = nabla::count_macs(|| nabla::no_grad(|| model.forward(&x)));
        let y = y.with_context(|| format!("running {name} on an input of shape {}", x.shape()))?;
        return Ok(vec![Row {
            name: name.to_string(),
            shape: y.shape().to_string(),
            params: vs.num_params() as u64,
            macs,
        }]);
    }
    let mut h = x;
    let mut out = Vec::new();
    for (child, layer) in children {
        let (y, macs) = nabla::count_macs(|| nabla::no_grad(|| layer.forward(&h)));
        h = y.with_context(|| format!("layer {child} on an input of shape {}", h.shape()))?;
        out.push(Row {
            params: params_under(vs, &child),
            name: child,
            shape: h.shape().to_string(),
            macs,
        });
    }
    Ok(out)
}

/// The top-level names of parameters that no row accounts for (GoogLeNet's auxiliary
/// classifiers, which run in training only).
fn unlisted(vs: &VarStore, rows: &[Row]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for v in vs.vars() {
        if v.kind() != VarKind::Parameter
            || rows
                .iter()
                .any(|r| nabla_nn::under_prefix(v.name(), &r.name))
        {
            continue;
        }
        let top = v.name().split('.').next().unwrap_or("").to_string();
        if !names.contains(&top) {
            names.push(top);
        }
    }
    names
}

/// The probe image side for [`check_activations`]: small enough to run at once, large enough
/// for the zoo's ImageNet models (AlexNet needs 63 pixels).
const PROBE_SIDE: usize = 64;

/// Refuses an image input whose activations would not fit in memory, before running it.
/// Convolutional activations grow with the image's area, so the model runs once on a
/// `PROBE_SIDE`² image and the largest pair of consecutive activations (a layer's input and
/// output are alive together) is scaled to the requested area. Models that cannot run at the
/// probe size (fixed flattening) are not estimated; their parameters were checked when built.
fn check_activations(model: &dyn Module, vs: &VarStore, name: &str, batch: &[usize]) -> Result<()> {
    let [n, c, h, w] = *batch else { return Ok(()) };
    if h * w <= PROBE_SIDE * PROBE_SIDE {
        return Ok(());
    }
    let probe = Tensor::zeros(&[n, c, PROBE_SIDE, PROBE_SIDE], DType::F32, &Device::Cpu);
    let Ok(rows) = rows(model, vs, name, probe) else {
        return Ok(());
    };
    let mut peak = (n * c * PROBE_SIDE * PROBE_SIDE) as u128;
    let mut previous = peak;
    for r in &rows {
        let elements: u128 = r
            .shape
            .trim_matches(['[', ']'])
            .split(',')
            .filter_map(|d| d.trim().parse::<u128>().ok())
            .product();
        peak = peak.max(previous + elements);
        previous = elements;
    }
    let area = (PROBE_SIDE * PROBE_SIDE) as u128;
    let bytes = (peak * 4).saturating_mul((h as u128) * (w as u128)) / area;
    let Some(memory) = nabla_nn::limits::physical_memory() else {
        return Ok(());
    };
    if bytes > memory as u128 {
        // The largest square side whose activations fit: bytes grow with side².
        let side = (((memory as f64) * area as f64 / (peak * 4) as f64).sqrt()) as usize;
        bail!(
            "{name} on a {c}x{h}x{w} input needs about {} for its activations, more than this \
             machine's {} of memory; the largest square input that fits is about {c}x{side}x{side}",
            nabla_nn::limits::gigabytes(bytes),
            nabla_nn::limits::gigabytes(memory as u128)
        );
    }
    Ok(())
}

/// Prints the layer table and the totals.
pub fn run(args: &SummaryArgs) -> Result<()> {
    let (shape, classes) = shape_and_classes(args)?;
    let mut batch = vec![1];
    batch.extend(&shape);
    nabla_nn::limits::check_tensor("--input", &batch, DType::F32)?;
    let cfg = super::model_config(&shape, classes);
    // The table's shapes and counts come from one host forward pass, whatever --device says.
    let vs = VarStore::new(&Device::Cpu);
    let model = models::build(&args.model, &vs.root(), &cfg)
        .with_context(|| format!("building {} for inputs {shape:?}", args.model))?;
    check_activations(model.as_ref(), &vs, &args.model, &batch)?;
    let x = Tensor::zeros(&batch, DType::F32, &Device::Cpu);
    let mut rows = rows(model.as_ref(), &vs, &args.model, x)?;
    let shape_text = shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x");
    println!(
        "{} for input {shape_text}, {classes} classes (batch 1)\n",
        args.model
    );
    let listed: u64 = rows.iter().map(|r| r.params).sum();
    let other = unlisted(&vs, &rows);
    if !other.is_empty() {
        rows.push(Row {
            name: format!("({}, not in the forward pass)", other.join(", ")),
            shape: "-".into(),
            params: vs.num_params() as u64 - listed,
            macs: 0,
        });
    }
    print_table(&rows);
    print_totals(&vs, &rows);
    if args.vars {
        print_variables(&vs);
    }
    Ok(())
}

/// The layer table: name, output shape, parameters and multiply-accumulates per row.
fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    let line = "-".repeat(width + 2 + 22 + 2 + 14 + 2 + 16);
    println!(
        "{:<width$}  {:<22}  {:>14}  {:>16}",
        "layer", "output shape", "parameters", "MACs"
    );
    println!("{line}");
    for r in rows {
        println!(
            "{:<width$}  {:<22}  {:>14}  {:>16}",
            r.name,
            r.shape,
            thousands(r.params),
            thousands(r.macs)
        );
    }
    println!("{line}");
}

/// Total, trainable and buffer parameters, and multiply-accumulates per input.
fn print_totals(vs: &VarStore, rows: &[Row]) {
    let macs: u64 = rows.iter().map(|r| r.macs).sum();
    println!("total parameters: {}", thousands(vs.num_params() as u64));
    println!(
        "trainable parameters: {}",
        thousands(vs.num_trainable() as u64)
    );
    let buffers: usize = vs
        .vars()
        .iter()
        .filter(|v| v.kind() == VarKind::Buffer)
        .map(|v| v.numel())
        .sum();
    if buffers > 0 {
        println!(
            "buffers (batch-norm statistics): {}",
            thousands(buffers as u64)
        );
    }
    println!(
        "multiply-accumulates: {} ({}) per input",
        thousands(macs),
        short(macs)
    );
}

/// Every variable with its shape and element count.
fn print_variables(vs: &VarStore) {
    println!("\n{:<48} {:<20} {:>12}", "variable", "shape", "elements");
    for v in vs.vars() {
        let kind = if v.kind() == VarKind::Buffer {
            " (buffer)"
        } else {
            ""
        };
        println!(
            "{:<48} {:<20} {:>12}",
            format!("{}{kind}", v.name()),
            v.leaf().shape().to_string(),
            v.numel()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse() {
        assert_eq!(parse_shape("3x224x224").unwrap(), vec![3, 224, 224]);
        assert!(parse_shape("3x0").is_err());
        assert!(parse_shape("abc").is_err());
    }
}
