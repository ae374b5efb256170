//! The small fully connected networks of the deep agents.

use crate::Result;
use nabla::Tensor;
use nabla_nn::{layers::Linear, Init, Module, Path};

/// The nonlinearity between layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `max(0, x)` (DQN's Q-network).
    Relu,
    /// `tanh(x)` (PPO's actor and critic).
    Tanh,
}

/// How the layers start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Weights {
    /// PyTorch's default for `nn.Linear`.
    Default,
    /// Orthogonal weights with gain √2 in hidden layers and `output_gain` in the last one,
    /// zero biases (the PPO implementation detail of Engstrom et al. 2020 that CleanRL uses).
    Orthogonal {
        /// Gain of the output layer (0.01 for a policy, 1 for a value).
        output_gain: f64,
    },
}

/// `sizes[0] → sizes[1] → … → sizes[last]` linear layers with `activation` between them
/// (none after the last). Input `[batch, sizes[0]]`, output `[batch, sizes[last]]`.
pub struct Mlp {
    layers: Vec<Linear>,
    activation: Activation,
}

impl Mlp {
    /// Layers named `0`, `1`, … under `p`.
    ///
    /// # Errors
    /// When a name is taken or a size is 0.
    pub fn new(
        p: &Path,
        sizes: &[usize],
        activation: Activation,
        weights: Weights,
    ) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(crate::error::invalid(
                "Mlp::new",
                format!("needs at least two sizes, none 0, got {sizes:?}"),
            ));
        }
        let last = sizes.len() - 2;
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| match weights {
                Weights::Default => Linear::new(&p.sub(i), w[0], w[1], true),
                Weights::Orthogonal { output_gain } => {
                    let p = p.sub(i);
                    let gain = if i == last { output_gain } else { 2f64.sqrt() };
                    Ok(Linear {
                        weight: p.param("weight", &[w[1], w[0]], Init::Orthogonal { gain })?,
                        bias: Some(p.param("bias", &[w[1]], Init::Constant(0.0))?),
                    })
                }
            })
            .collect::<nabla_nn::Result<Vec<_>>>()?;
        Ok(Mlp { layers, activation })
    }
}

impl Module for Mlp {
    fn forward_t(&self, x: &Tensor, train: bool) -> nabla_nn::Result<Tensor> {
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward_t(&h, train)?;
            if i + 1 < self.layers.len() {
                h = match self.activation {
                    Activation::Relu => h.relu()?,
                    Activation::Tanh => h.tanh()?,
                };
            }
        }
        Ok(h)
    }
}
