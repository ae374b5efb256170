//! The session's network: fully connected layers of nabla-nn with one activation for the
//! hidden layers, optional dropout after each, and the Playground's output unit (tanh for
//! classification, linear for regression).

use crate::config::{Act, Config, Problem, Regularization};
use crate::Result;
use nabla::{Device, Rng, Tensor};
use nabla_nn::layers::{Activation, Linear};
use nabla_nn::{Init, Module, VarStore};

/// A multilayer perceptron `features → hidden… → 1` whose variables live in a [`VarStore`]
/// named `fc.0.weight`, `fc.0.bias`, … (the last `fc.L` is the output layer).
pub struct Network {
    vs: VarStore,
    layers: Vec<Linear>,
    hidden_act: Activation,
    output_act: Activation,
    dropout: Vec<f64>,
}

impl Network {
    /// A fresh network for `cfg`: weights uniform in `[-0.5, 0.5]` and biases 0.1, as in the
    /// TensorFlow Playground, drawn from `rng`.
    ///
    /// # Errors
    /// Engine errors only (the configuration is validated before).
    pub fn new(cfg: &Config, rng: &mut Rng) -> Result<Network> {
        let dev = Device::Cpu;
        let vs = VarStore::new(&dev);
        let mut sizes = vec![cfg.features.len()];
        sizes.extend(&cfg.hidden);
        sizes.push(1);
        let mut layers = Vec::with_capacity(sizes.len() - 1);
        for (i, io) in sizes.windows(2).enumerate() {
            let p = vs.root().sub("fc").sub(i);
            let weight = p.param("weight", &[io[1], io[0]], Init::Constant(0.0))?;
            weight.set(
                &Init::Uniform {
                    low: -0.5,
                    high: 0.5,
                }
                .tensor(&[io[1], io[0]], rng, &dev)?,
            )?;
            let bias = p.param("bias", &[io[1]], Init::Constant(0.1))?;
            layers.push(Linear {
                weight,
                bias: Some(bias),
            });
        }
        Ok(Network {
            vs,
            layers,
            hidden_act: cfg.activation.layer(),
            output_act: match cfg.problem {
                Problem::Classification => Act::Tanh.layer(),
                Problem::Regression => Act::Linear.layer(),
            },
            dropout: (0..cfg.hidden.len()).map(|i| cfg.dropout_at(i)).collect(),
        })
    }

    /// Applies the settings that do not change the network's shape (dropout rates).
    pub fn update(&mut self, cfg: &Config) {
        self.dropout = (0..cfg.hidden.len()).map(|i| cfg.dropout_at(i)).collect();
    }

    /// The variables (for the optimizer and the checkpoint).
    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }

    /// The output `[n, 1]` for features `x` `[n, k]`; in training, dropout masks are drawn
    /// from `rng`.
    ///
    /// # Errors
    /// When `x` does not have `k` columns.
    pub fn forward_train(&self, x: &Tensor, rng: &mut Rng) -> Result<Tensor> {
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward_t(&h, true)?;
            if i < last {
                h = self.hidden_act.forward_t(&h, true)?;
                if self.dropout[i] > 0.0 {
                    h = h.dropout_with(rng, self.dropout[i])?;
                }
            }
        }
        Ok(self.output_act.forward_t(&h, true)?)
    }

    /// Every layer's output in evaluation mode: one `[n, width]` tensor per hidden layer,
    /// then the output `[n, 1]`. Run it under [`nabla::no_grad`].
    ///
    /// # Errors
    /// When `x` does not have `k` columns.
    pub fn forward_layers(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let mut outs = Vec::with_capacity(self.layers.len());
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward_t(&h, false)?;
            h = if i < last {
                self.hidden_act.forward_t(&h, false)?
            } else {
                self.output_act.forward_t(&h, false)?
            };
            outs.push(h.clone());
        }
        Ok(outs)
    }

    /// The output `[n, 1]` in evaluation mode.
    ///
    /// # Errors
    /// When `x` does not have `k` columns.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self
            .forward_layers(x)?
            .pop()
            .expect("a network has at least its output layer"))
    }

    /// The penalty `rate * Σ|w|` (L1) or `rate * ½ Σ w²` (L2) over the weight matrices (not
    /// the biases), as a scalar; `None` without regularization.
    ///
    /// # Errors
    /// Engine errors only.
    pub fn penalty(&self, reg: Regularization, rate: f64) -> Result<Option<Tensor>> {
        if reg == Regularization::None || rate == 0.0 {
            return Ok(None);
        }
        let mut total: Option<Tensor> = None;
        for layer in &self.layers {
            let w = layer.weight.tensor();
            let term = match reg {
                Regularization::L1 => w.abs()?.sum_all()?.mul_scalar(rate)?,
                _ => w.sqr()?.sum_all()?.mul_scalar(0.5 * rate)?,
            };
            total = Some(match total {
                Some(t) => t.add(&term)?,
                None => term,
            });
        }
        Ok(total)
    }

    /// Each layer's weights `[out, in]` (row-major) and biases `[out]`, input side first.
    ///
    /// # Errors
    /// Engine errors only.
    pub fn weights(&self) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
        self.layers
            .iter()
            .map(|l| {
                let b = match &l.bias {
                    Some(b) => b.leaf().to_vec::<f32>()?,
                    None => Vec::new(),
                };
                Ok((l.weight.leaf().to_vec::<f32>()?, b))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Feature;

    fn cfg(hidden: Vec<usize>) -> Config {
        Config {
            features: vec![Feature::X1, Feature::X2, Feature::X1x2],
            hidden,
            ..Config::default()
        }
    }

    #[test]
    fn layers_have_the_configured_shapes_and_names() -> Result<()> {
        let net = Network::new(&cfg(vec![4, 2]), &mut Rng::new(0))?;
        let names: Vec<String> = net
            .var_store()
            .vars()
            .iter()
            .map(|v| v.name().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "fc.0.weight",
                "fc.0.bias",
                "fc.1.weight",
                "fc.1.bias",
                "fc.2.weight",
                "fc.2.bias"
            ]
        );
        // 3·4+4 + 4·2+2 + 2·1+1
        assert_eq!(net.var_store().num_params(), 29);
        let w = net.weights()?;
        assert!(w[0].0.iter().all(|v| (-0.5..0.5).contains(v)));
        assert_eq!(w[2].1, vec![0.1]);
        let x = Tensor::from_slice(&[0.0f32; 15], &[5, 3], &Device::Cpu)?;
        let outs = nabla::no_grad(|| net.forward_layers(&x))?;
        let dims: Vec<Vec<usize>> = outs.iter().map(|t| t.dims().to_vec()).collect();
        assert_eq!(dims, [vec![5, 4], vec![5, 2], vec![5, 1]]);
        Ok(())
    }

    #[test]
    fn no_hidden_layer_is_a_single_tanh_unit() -> Result<()> {
        let net = Network::new(&cfg(vec![]), &mut Rng::new(0))?;
        let (w, b) = &net.weights()?[0];
        let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0], &[1, 3], &Device::Cpu)?;
        let y = net.forward(&x)?.to_vec::<f32>()?[0];
        let expected = (w[0] + 2.0 * w[1] + 3.0 * w[2] + b[0]).tanh();
        assert!((y - expected).abs() < 1e-6, "{y} vs {expected}");
        Ok(())
    }

    #[test]
    fn penalties_follow_their_formulas() -> Result<()> {
        let net = Network::new(&cfg(vec![2]), &mut Rng::new(3))?;
        let w = net.weights()?;
        let l1: f32 = w.iter().flat_map(|(w, _)| w).map(|v| v.abs()).sum();
        let l2: f32 = w.iter().flat_map(|(w, _)| w).map(|v| v * v).sum();
        let got1 = net
            .penalty(Regularization::L1, 0.1)?
            .unwrap()
            .to_scalar::<f32>()?;
        let got2 = net
            .penalty(Regularization::L2, 0.1)?
            .unwrap()
            .to_scalar::<f32>()?;
        assert!((got1 - 0.1 * l1).abs() < 1e-6);
        assert!((got2 - 0.05 * l2).abs() < 1e-6);
        assert!(net.penalty(Regularization::None, 0.1)?.is_none());
        Ok(())
    }
}
