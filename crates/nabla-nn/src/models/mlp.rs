//! The multilayer perceptron.

use super::ModelConfig;
use crate::layers::{Activation, Dropout, Flatten, Linear};
use crate::{seq, Error, Path, Result, Sequential};

/// Layer sizes and activation of an [`mlp`].
#[derive(Clone, Debug, PartialEq)]
pub struct MlpConfig {
    /// Inputs (the flattened example).
    pub inputs: usize,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Outputs.
    pub outputs: usize,
    /// Activation after each hidden layer.
    pub activation: Activation,
    /// Dropout after each hidden activation (0 for none).
    pub dropout: f64,
}

impl MlpConfig {
    /// 784-512-256-10 with ReLU, adapted to a model configuration's input size and classes.
    pub fn for_model(c: &ModelConfig) -> Self {
        MlpConfig {
            inputs: c.input_len(),
            hidden: vec![512, 256],
            outputs: c.num_classes,
            activation: Activation::Relu,
            dropout: 0.0,
        }
    }
}

/// A multilayer perceptron: `Flatten`, then `Linear → activation (→ dropout)` per hidden layer,
/// then a linear output layer. Linear layers are named `fc1`, `fc2`, ...
///
/// # Errors
/// When a size is zero.
pub fn mlp(p: &Path, c: &MlpConfig) -> Result<Sequential> {
    if c.inputs == 0 || c.outputs == 0 || c.hidden.contains(&0) {
        return Err(Error::invalid(
            "mlp",
            format!(
                "layer sizes must be positive: {} {:?} {}",
                c.inputs, c.hidden, c.outputs
            ),
        ));
    }
    let mut net = seq().add_named("flatten", Flatten);
    let mut width = c.inputs;
    for (i, &h) in c.hidden.iter().enumerate() {
        let n = i + 1;
        net = net
            .add_named(
                format!("fc{n}"),
                Linear::new(&p.sub(format!("fc{n}")), width, h, true)?,
            )
            .add_named(format!("act{n}"), c.activation);
        if c.dropout > 0.0 {
            net = net.add_named(format!("dropout{n}"), Dropout::new(c.dropout)?);
        }
        width = h;
    }
    Ok(net.add_named(
        format!("fc{}", c.hidden.len() + 1),
        Linear::new(
            &p.sub(format!("fc{}", c.hidden.len() + 1)),
            width,
            c.outputs,
            true,
        )?,
    ))
}
