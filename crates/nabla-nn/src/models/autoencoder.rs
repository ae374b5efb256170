//! The deep autoencoder of Hinton & Salakhutdinov (2006): an encoder narrowing 784 pixels to a
//! 30-value code and a mirrored decoder, trained to rebuild its input.

use crate::layers::{Activation, Linear};
use crate::loss::{bce_with_logits, Reduction};
use crate::{seq, Error, Init, Module, Path, Result, Sequential};
use nabla::Tensor;

/// The layer widths of the paper's MNIST autoencoder, input first, code last.
pub const DEEP_AUTOENCODER_SIZES: [usize; 5] = [784, 1000, 500, 250, 30];

/// An autoencoder `sizes[0] → … → sizes[last]` (the code) `→ … → sizes[0]`.
///
/// Hidden layers use ReLU; the code layer is linear, as in the paper; the decoder ends in
/// logits whose sigmoid is the reconstruction (pixels in `[0, 1]`). The paper's logistic
/// units needed RBM pre-training to train at this depth; ReLU and Adam train it from
/// random weights. Variables follow a PyTorch module with two `nn.Sequential`s:
/// `encoder.0.weight`, `encoder.2.weight`, …, `decoder.0.weight`, … (activations sit at the
/// odd indices).
pub struct Autoencoder {
    /// `[n, sizes[0]] → [n, code]`.
    pub encoder: Sequential,
    /// `[n, code] → [n, sizes[0]]` logits.
    pub decoder: Sequential,
    /// Input features (784 for MNIST).
    pub inputs: usize,
    /// Code width.
    pub code: usize,
}

/// The weights of the layers followed by a ReLU: He et al. (2015), Kaiming-normal with
/// `fan_in` and gain `√2` (`σ = √(2 / fan_in)`), biases zero.
///
/// Why not PyTorch's default (Kaiming-uniform with `a = √5`, a standard deviation of
/// `√(1 / (3·fan_in))`): through the eight ReLU layers of the deep autoencoder that default
/// shrinks the signal by about `√6` per layer, so the code and the decoder's input start
/// near zero and the first epochs are spent growing them. He's scale keeps the variance of
/// the pre-activations constant through ReLU layers. The code layer and the output layer
/// (not followed by a ReLU) keep PyTorch's default.
pub const RELU_LAYER_INIT: Init = Init::KaimingNormal { a: 0.0 };

/// A chain of linear layers through `sizes`, ReLU between them, none after the last.
fn chain(p: &Path, sizes: &[usize]) -> Result<Sequential> {
    let mut net = seq();
    let last = sizes.len() - 2;
    for (i, w) in sizes.windows(2).enumerate() {
        if i > 0 {
            net = net.add_named(format!("{}", 2 * i - 1), Activation::Relu);
        }
        let name = format!("{}", 2 * i);
        let layer = if i < last {
            let zero = Some(Init::Constant(0.0));
            Linear::with_init(&p.sub(&name), w[0], w[1], RELU_LAYER_INIT, zero)?
        } else {
            Linear::new(&p.sub(&name), w[0], w[1], true)?
        };
        net = net.add_named(name, layer);
    }
    Ok(net)
}

impl Autoencoder {
    /// An autoencoder with the given widths (input first, code last; at least two).
    ///
    /// # Errors
    /// When fewer than two sizes are given or a size is zero.
    pub fn new(p: &Path, sizes: &[usize]) -> Result<Autoencoder> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(Error::invalid(
                "autoencoder",
                format!("needs at least two positive layer sizes, got {sizes:?}"),
            ));
        }
        let reversed: Vec<usize> = sizes.iter().rev().copied().collect();
        Ok(Autoencoder {
            encoder: chain(&p.sub("encoder"), sizes)?,
            decoder: chain(&p.sub("decoder"), &reversed)?,
            inputs: sizes[0],
            code: sizes[sizes.len() - 1],
        })
    }

    /// The paper's 784-1000-500-250-30 network.
    ///
    /// # Errors
    /// When the names exist already under `p`.
    pub fn deep(p: &Path) -> Result<Autoencoder> {
        Autoencoder::new(p, &DEEP_AUTOENCODER_SIZES)
    }

    /// The codes `[n, code]` of a batch (any shape `[n, ...]` of `inputs` values per example).
    ///
    /// # Errors
    /// When an example does not hold `inputs` values.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        self.encoder.forward(&flat(x, self.inputs, "autoencoder")?)
    }

    /// The reconstructions `[n, inputs]` in `[0, 1]` of a batch.
    ///
    /// # Errors
    /// As [`Autoencoder::encode`].
    pub fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward(x)?.sigmoid()?)
    }
}

/// `x` as `[n, inputs]`, refusing examples of another size.
pub(crate) fn flat(x: &Tensor, inputs: usize, op: &'static str) -> Result<Tensor> {
    let n = x.dims().first().copied().unwrap_or(0);
    if x.rank() < 2 || x.numel() != n * inputs {
        return Err(Error::shape(
            op,
            format!("a batch of {inputs} values per example"),
            x.shape(),
        ));
    }
    Ok(x.reshape(&[n, inputs])?)
}

impl Module for Autoencoder {
    /// Reconstruction logits `[n, inputs]` of a batch `[n, ...]`.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let code = self
            .encoder
            .forward_t(&flat(x, self.inputs, "autoencoder")?, train)?;
        self.decoder.forward_t(&code, train)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("encoder".to_string(), &self.encoder as &dyn Module),
            ("decoder".to_string(), &self.decoder as &dyn Module),
        ]
    }
}

/// The reconstruction loss: binary cross-entropy of the logits `[n, d]` against the pixels
/// of `x` (`[n, ...]`, values in `[0, 1]`), summed over the pixels and averaged over the
/// examples (nats per image).
///
/// # Errors
/// When `x` does not hold `d` values per example.
pub fn reconstruction_bce(logits: &Tensor, x: &Tensor) -> Result<Tensor> {
    let (n, d) = (logits.dims()[0], logits.dims()[1]);
    let target = flat(x, d, "reconstruction_bce")?;
    Ok(bce_with_logits(logits, &target, Reduction::Sum)?.div_scalar(n.max(1) as f64)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, Optimizer};
    use crate::VarStore;
    use nabla::{DType, Device};

    #[test]
    fn deep_autoencoder_has_the_papers_shapes_and_pytorch_names() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let ae = Autoencoder::deep(&vs.root())?;
        let names: Vec<String> = vs.vars().iter().map(|v| v.name().to_string()).collect();
        for n in [
            "encoder.0.weight",
            "encoder.6.bias",
            "decoder.0.weight",
            "decoder.6.bias",
        ] {
            assert!(names.iter().any(|m| m == n), "{n} missing from {names:?}");
        }
        // 2 × (784·1000 + 1000·500 + 500·250 + 250·30) weights + biases.
        let weights = 2 * (784 * 1000 + 1000 * 500 + 500 * 250 + 250 * 30);
        let biases = (1000 + 500 + 250 + 30) + (250 + 500 + 1000 + 784);
        assert_eq!(vs.num_params(), weights + biases);
        let x = Tensor::rand(&[3, 1, 28, 28], DType::F32, &Device::Cpu)?;
        assert_eq!(ae.encode(&x)?.dims(), &[3, 30]);
        let r = ae.reconstruct(&x)?.to_vec::<f32>()?;
        assert_eq!(r.len(), 3 * 784);
        assert!(r.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(ae
            .forward(&Tensor::rand(&[3, 10], DType::F32, &Device::Cpu)?)
            .is_err());
        assert!(Autoencoder::new(&vs.root().sub("x"), &[4]).is_err());
        Ok(())
    }

    #[test]
    fn autoencoder_training_lowers_its_reconstruction_loss() -> Result<()> {
        nabla::manual_seed(0);
        let vs = VarStore::new(&Device::Cpu);
        let ae = Autoencoder::new(&vs.root(), &[16, 8, 4])?;
        // Two binary prototypes, 32 examples.
        let x: Vec<f32> = (0..32 * 16)
            .map(|i| (((i % 16) + (i / 16) % 2) % 3 == 0) as u8 as f32)
            .collect();
        let x = Tensor::from_vec(x, &[32, 16], &Device::Cpu)?;
        let mut opt = Adam::new(vs.trainable(), 1e-2);
        let first = reconstruction_bce(&ae.forward(&x)?, &x)?.to_scalar::<f32>()?;
        for _ in 0..60 {
            let loss = reconstruction_bce(&ae.forward_t(&x, true)?, &x)?;
            opt.step(&loss.backward()?)?;
        }
        let last = reconstruction_bce(&ae.forward(&x)?, &x)?.to_scalar::<f32>()?;
        assert!(last < 0.3 * first, "{first} -> {last}");
        Ok(())
    }
}
