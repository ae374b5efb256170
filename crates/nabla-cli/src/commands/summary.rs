//! `nabla summary`: a model's parameters and output shape.

use crate::args::SummaryArgs;
use crate::data_spec::{self, SpecOptions};
use anyhow::Result;
use nabla::{DType, Device, Tensor};
use nabla_nn::models;

/// Prints each variable (name, shape, count), the totals, and the output shape for one input.
pub fn run(args: &SummaryArgs) -> Result<()> {
    let data = data_spec::load(&args.data, &SpecOptions::default())?;
    let cfg = super::model_config(&data.input_shape, data.outputs);
    let vs = nabla_nn::VarStore::new(&Device::Cpu);
    let model = models::build(&args.model, &vs.root(), &cfg)?;
    println!(
        "{} for {} (input {:?}, {} outputs)\n",
        args.model, args.data, data.input_shape, data.outputs
    );
    println!("{:<40} {:<20} {:>12}", "variable", "shape", "elements");
    for v in vs.vars() {
        let kind = if v.kind() == nabla_nn::VarKind::Buffer {
            " (buffer)"
        } else {
            ""
        };
        println!(
            "{:<40} {:<20} {:>12}",
            format!("{}{kind}", v.name()),
            v.leaf().shape().to_string(),
            v.numel()
        );
    }
    let mut shape = vec![1];
    shape.extend(&data.input_shape);
    let y = nabla::no_grad(|| model.forward(&Tensor::zeros(&shape, DType::F32, &Device::Cpu)))?;
    println!(
        "\nparameters: {} ({} trainable)",
        vs.num_params(),
        vs.num_trainable()
    );
    println!("output for one input: {}", y.shape());
    Ok(())
}
