//! LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), classic and modern.

use super::ModelConfig;
use crate::export::{pads4, pair, GraphSink, Traced};
use crate::init::Init;
use crate::layers::{Activation, Conv2d, Flatten, Linear, MaxPool2d};
use crate::{seq, Error, Module, Path, Result, Sequential, Var};
use nabla::{Conv2dConfig, Device, Pool2dConfig, Tensor};

/// Padding of C1 that makes an `image_size` input look like the paper's 32×32.
fn c1_padding(c: &ModelConfig) -> Result<usize> {
    match c.image_size {
        28 => Ok(2),
        32 => Ok(0),
        s => Err(Error::out_of_range(
            "lenet5",
            "the image side",
            "28 or 32 (LeNet-5 takes 28×28 or 32×32 images)",
            s,
        )),
    }
}

/// LeNet-5 with ReLU and max-pooling: C1 6@5×5 → pool → C3 16@5×5 → pool → F5 120 → F6 84 →
/// output. Parameters `conv1`, `conv2`, `fc1`, `fc2`, `fc3` as in the PyTorch tutorials.
///
/// # Errors
/// When the input size is neither 28 nor 32.
pub fn lenet5(p: &Path, c: &ModelConfig) -> Result<Sequential> {
    let pad = c1_padding(c)?;
    Ok(seq()
        .add_named(
            "conv1",
            Conv2d::new(
                &p.sub("conv1"),
                c.in_channels,
                6,
                5,
                Conv2dConfig {
                    padding: pad,
                    ..Default::default()
                },
                true,
            )?,
        )
        .add_named("relu1", Activation::Relu)
        .add_named("pool1", MaxPool2d(Pool2dConfig::new(2)))
        .add_named(
            "conv2",
            Conv2d::new(&p.sub("conv2"), 6, 16, 5, Conv2dConfig::default(), true)?,
        )
        .add_named("relu2", Activation::Relu)
        .add_named("pool2", MaxPool2d(Pool2dConfig::new(2)))
        .add_named("flatten", Flatten)
        .add_named("fc1", Linear::new(&p.sub("fc1"), 16 * 5 * 5, 120, true)?)
        .add_named("relu3", Activation::Relu)
        .add_named("fc2", Linear::new(&p.sub("fc2"), 120, 84, true)?)
        .add_named("relu4", Activation::Relu)
        .add_named("fc3", Linear::new(&p.sub("fc3"), 84, c.num_classes, true)?))
}

/// LeCun's scaled hyperbolic tangent `1.7159·tanh(2x/3)`.
fn scaled_tanh(x: &Tensor) -> nabla::Result<Tensor> {
    x.mul_scalar(2.0 / 3.0)?.tanh()?.mul_scalar(1.7159)
}

/// [`scaled_tanh`] as a layer, with its graph form (`Mul`, `Tanh`, `Mul`).
struct ScaledTanh;

impl Module for ScaledTanh {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(scaled_tanh(x)?)
    }

    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let name = export_scaled_tanh(g, &x.name)?;
        x.through(self, name)
    }
}

/// A scalar constant of the graph.
fn scalar(g: &mut dyn GraphSink, v: f32) -> Result<String> {
    g.constant(&Tensor::from_vec(vec![v], &[], &Device::Cpu)?)
}

/// `1.7159·tanh(2x/3)` of the value `x` as graph nodes.
fn export_scaled_tanh(g: &mut dyn GraphSink, x: &str) -> Result<String> {
    let (a, b) = (scalar(g, 2.0 / 3.0)?, scalar(g, 1.7159)?);
    let y = g.node("Mul", &[x, &a], vec![]);
    let y = g.node("Tanh", &[&y], vec![]);
    Ok(g.node("Mul", &[&y, &b], vec![]))
}

/// The paper's subsampling layer (S2, S4): the sum of each 2×2 block times a trainable
/// coefficient plus a trainable bias, per channel, then the squashing function.
struct Subsampling {
    coefficient: Var,
    bias: Var,
}

impl Subsampling {
    fn new(p: &Path, channels: usize) -> Result<Self> {
        Ok(Subsampling {
            coefficient: p.param("weight", &[1, channels, 1, 1], Init::Constant(0.25))?,
            bias: p.param("bias", &[1, channels, 1, 1], Init::Constant(0.0))?,
        })
    }
}

impl Module for Subsampling {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let sum = x.avg_pool2d(Pool2dConfig::new(2))?.mul_scalar(4.0)?;
        Ok(scaled_tanh(
            &sum.mul(&self.coefficient.tensor())?
                .add(&self.bias.tensor())?,
        )?)
    }
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let pool = g.node(
            "AveragePool",
            &[&x.name],
            vec![("kernel_shape", pair(2)), ("strides", pair(2))],
        );
        let four = scalar(g, 4.0)?;
        let (coef, bias) = (g.var(&self.coefficient)?, g.var(&self.bias)?);
        let y = g.node("Mul", &[&pool, &four], vec![]);
        let y = g.node("Mul", &[&y, &coef], vec![]);
        let y = g.node("Add", &[&y, &bias], vec![]);
        let name = export_scaled_tanh(g, &y)?;
        x.through(self, name)
    }
}

/// Table I of the paper: which of S2's 6 maps feed each of C3's 16 maps.
const C3_TABLE: [[u8; 6]; 16] = [
    [1, 1, 1, 0, 0, 0],
    [0, 1, 1, 1, 0, 0],
    [0, 0, 1, 1, 1, 0],
    [0, 0, 0, 1, 1, 1],
    [1, 0, 0, 0, 1, 1],
    [1, 1, 0, 0, 0, 1],
    [1, 1, 1, 1, 0, 0],
    [0, 1, 1, 1, 1, 0],
    [0, 0, 1, 1, 1, 1],
    [1, 0, 0, 1, 1, 1],
    [1, 1, 0, 0, 1, 1],
    [1, 1, 1, 0, 0, 1],
    [1, 1, 0, 1, 1, 0],
    [0, 1, 1, 0, 1, 1],
    [1, 0, 1, 1, 0, 1],
    [1, 1, 1, 1, 1, 1],
];

/// C3: a 5×5 convolution where output map `j` sees only the input maps of row `j` of
/// [`C3_TABLE`] (the weight is multiplied by the table, so absent connections stay zero
/// and get no gradient).
struct PartialConv {
    conv: Conv2d,
    mask: Tensor,
}

impl Module for PartialConv {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let w = self.conv.weight.tensor().mul(&self.mask)?;
        let b = self.conv.bias.as_ref().map(Var::tensor);
        Ok(x.conv2d(&w, b.as_ref(), self.conv.config)?)
    }
    /// The weight times the connection table (`Mul` by a constant), then `Conv`.
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let (w, mask) = (g.var(&self.conv.weight)?, g.constant(&self.mask)?);
        let w = g.node("Mul", &[&w, &mask], vec![]);
        let mut inputs = vec![x.name.clone(), w];
        if let Some(b) = &self.conv.bias {
            inputs.push(g.var(b)?);
        }
        let c = self.conv.config;
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let name = g.node(
            "Conv",
            &inputs,
            vec![
                ("kernel_shape", pair(self.conv.weight.leaf().dims()[2])),
                ("strides", pair(c.stride)),
                ("pads", pads4(c.padding)),
            ],
        );
        x.through(self, name)
    }
}

/// LeNet-5 as the 1998 paper describes it: C1 6@5×5, S2 trainable subsampling, C3 16@5×5
/// with the partial connection table, S4, C5 120@5×5, F6 84, all squashed by
/// `1.7159·tanh(2x/3)`, and 10 outputs. One deliberate difference: the output layer is a
/// linear layer trained with cross-entropy instead of the paper's Euclidean RBF units.
///
/// # Errors
/// When the input size is neither 28 nor 32.
pub fn lenet5_classic(p: &Path, c: &ModelConfig) -> Result<Sequential> {
    let pad = c1_padding(c)?;
    let mask: Vec<f32> = C3_TABLE
        .iter()
        .flat_map(|row| row.iter().map(|&v| v as f32))
        .collect();
    let c3 = PartialConv {
        conv: Conv2d::new(&p.sub("c3"), 6, 16, 5, Conv2dConfig::default(), true)?,
        mask: Tensor::from_vec(mask, &[16, 6, 1, 1], &Device::Cpu)?,
    };
    Ok(seq()
        .add_named(
            "c1",
            Conv2d::new(
                &p.sub("c1"),
                c.in_channels,
                6,
                5,
                Conv2dConfig {
                    padding: pad,
                    ..Default::default()
                },
                true,
            )?,
        )
        .add_named("tanh1", ScaledTanh)
        .add_named("s2", Subsampling::new(&p.sub("s2"), 6)?)
        .add_named("c3", c3)
        .add_named("tanh3", ScaledTanh)
        .add_named("s4", Subsampling::new(&p.sub("s4"), 16)?)
        .add_named(
            "c5",
            Conv2d::new(&p.sub("c5"), 16, 120, 5, Conv2dConfig::default(), true)?,
        )
        .add_named("tanh5", ScaledTanh)
        .add_named("flatten", Flatten)
        .add_named("f6", Linear::new(&p.sub("f6"), 120, 84, true)?)
        .add_named("tanh6", ScaledTanh)
        .add_named(
            "output",
            Linear::new(&p.sub("output"), 84, c.num_classes, true)?,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VarStore;
    use nabla::DType;

    #[test]
    fn both_lenets_map_mnist_to_ten_logits() -> Result<()> {
        for build in [lenet5, lenet5_classic] {
            let vs = VarStore::new(&Device::Cpu);
            let net = build(&vs.root(), &ModelConfig::mnist())?;
            let y = net.forward(&Tensor::zeros(&[2, 1, 28, 28], DType::F32, &Device::Cpu))?;
            assert_eq!(y.dims(), &[2, 10]);
        }
        let vs = VarStore::new(&Device::Cpu);
        lenet5(&vs.root(), &ModelConfig::mnist())?;
        // 156 + 2416 + 48120 + 10164 + 850 parameters, as the PyTorch tutorial's LeNet.
        assert_eq!(vs.num_params(), 61_706);
        assert!(lenet5(&VarStore::new(&Device::Cpu).root(), &ModelConfig::cifar10()).is_ok());
        assert!(lenet5(
            &VarStore::new(&Device::Cpu).root(),
            &ModelConfig {
                image_size: 64,
                ..ModelConfig::mnist()
            }
        )
        .is_err());
        Ok(())
    }

    #[test]
    fn c3_absent_connections_get_no_gradient() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let net = lenet5_classic(&vs.root(), &ModelConfig::mnist())?;
        let x = Tensor::randn(&[2, 1, 28, 28], DType::F32, &Device::Cpu)?;
        let g = net.forward_t(&x, true)?.sum_all()?.backward()?;
        let w = vs.get("c3.weight").expect("c3 weight");
        let gw = g.get(w.leaf()).expect("gradient").to_vec::<f32>()?;
        // Output map 0 does not see input map 3: its 25 weights have zero gradient.
        assert!(gw[3 * 25..4 * 25].iter().all(|&v| v == 0.0));
        assert!(gw[..25].iter().any(|&v| v != 0.0));
        Ok(())
    }
}
