//! Every activation of the engine as a layer.

use crate::export::{not_exportable, Attr, GraphSink, Traced};
use crate::{Error, Module, Result};
use nabla::Tensor;
use std::str::FromStr;

/// An activation function as a layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// Heaviside step (the perceptron's; no gradient).
    Step,
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// max(0, x).
    Relu,
    /// Leaky ReLU with the given negative slope.
    LeakyRelu(f64),
    /// ELU with the given alpha.
    Elu(f64),
    /// GELU (exact).
    Gelu,
    /// exp(-x²/σ²) with the given σ.
    Gaussian(f64),
    /// ln(1 + eˣ).
    Softplus,
    /// x·σ(x).
    Silu,
    /// Softmax over the last dim.
    Softmax,
    /// The identity (a "linear" activation).
    Identity,
}

impl Module for Activation {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(match *self {
            Activation::Step => x.step()?,
            Activation::Sigmoid => x.sigmoid()?,
            Activation::Tanh => x.tanh()?,
            Activation::Relu => x.relu()?,
            Activation::LeakyRelu(s) => x.leaky_relu(s)?,
            Activation::Elu(a) => x.elu(a)?,
            Activation::Gelu => x.gelu()?,
            Activation::Gaussian(s) => x.gaussian(s)?,
            Activation::Softplus => x.softplus()?,
            Activation::Silu => x.silu()?,
            Activation::Softmax => x.softmax(-1)?,
            Activation::Identity => x.clone(),
        })
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let (op, attrs) = match *self {
            Activation::Sigmoid => ("Sigmoid", vec![]),
            Activation::Tanh => ("Tanh", vec![]),
            Activation::Relu => ("Relu", vec![]),
            Activation::LeakyRelu(s) => ("LeakyRelu", vec![("alpha", Attr::Float(s as f32))]),
            Activation::Elu(a) => ("Elu", vec![("alpha", Attr::Float(a as f32))]),
            Activation::Softplus => ("Softplus", vec![]),
            Activation::Softmax => ("Softmax", vec![("axis", Attr::Int(-1))]),
            Activation::Identity => return Ok(x.clone()),
            other => return Err(not_exportable(&format!("activation {other:?}"))),
        };
        let name = g.node(op, &[&x.name], attrs);
        x.through(self, name)
    }
}

impl FromStr for Activation {
    type Err = Error;

    /// Parses `step`, `sigmoid`, `tanh`, `relu`, `leaky_relu`, `elu`, `gelu`, `gaussian`,
    /// `softplus`, `silu`, `softmax`, `linear`/`identity` (default parameters: slope 0.01,
    /// alpha 1, sigma 1).
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "step" => Activation::Step,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "leaky_relu" | "leakyrelu" => Activation::LeakyRelu(0.01),
            "elu" => Activation::Elu(1.0),
            "gelu" => Activation::Gelu,
            "gaussian" => Activation::Gaussian(1.0),
            "softplus" => Activation::Softplus,
            "silu" | "swish" => Activation::Silu,
            "softmax" => Activation::Softmax,
            "linear" | "identity" | "none" => Activation::Identity,
            other => {
                return Err(Error::UnknownName { op: "activation", what: "activation", name: other.to_string(), valid: "step, sigmoid, tanh, relu, leaky_relu, elu, gelu, gaussian, softplus, silu, softmax, linear".into() })
            }
        })
    }
}
