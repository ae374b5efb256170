//! LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), classic and modern.

use super::ModelConfig;
use crate::init::Init;
use crate::layers::{Activation, Conv2d, Flatten, Linear, MaxPool2d};
use crate::{seq, Error, Func, Module, Path, Result, Sequential, Var};
use nabla::{Conv2dConfig, Device, Pool2dConfig, Tensor};

/// Padding of C1 that makes an `image_size` input look like the paper's 32×32.
fn c1_padding(c: &ModelConfig) -> Result<usize> {
    match c.image_size {
        28 => Ok(2),
        32 => Ok(0),
        s => Err(Error::invalid(
            "lenet5",
            format!("LeNet-5 takes 28×28 or 32×32 images, got {s}×{s}"),
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
        .add_named("tanh1", Func(scaled_tanh))
        .add_named("s2", Subsampling::new(&p.sub("s2"), 6)?)
        .add_named("c3", c3)
        .add_named("tanh3", Func(scaled_tanh))
        .add_named("s4", Subsampling::new(&p.sub("s4"), 16)?)
        .add_named(
            "c5",
            Conv2d::new(&p.sub("c5"), 16, 120, 5, Conv2dConfig::default(), true)?,
        )
        .add_named("tanh5", Func(scaled_tanh))
        .add_named("flatten", Flatten)
        .add_named("f6", Linear::new(&p.sub("f6"), 120, 84, true)?)
        .add_named("tanh6", Func(scaled_tanh))
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
