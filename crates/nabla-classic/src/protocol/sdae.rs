//! A stacked denoising autoencoder (Vincent et al., JMLR 2010): sigmoid encoder layers
//! trained one at a time, without labels, to rebuild their clean input from a copy with a
//! fraction of its values set to zero; the trained encoders then give codes to a classifier
//! or start a network that is fine-tuned with labels.
//!
//! The protocols train small stacks on host slices of the data, on `Device::Cpu` by
//! design (the CLI's `nabla protocol` compares them on the CPU).

use crate::Result;
use nabla::{Device, Tensor};
use nabla_nn::layers::Linear;
use nabla_nn::loss::{bce_with_logits, Reduction};
use nabla_nn::optim::{Adam, Optimizer};
use nabla_nn::{Module, VarStore};

/// Sizes and training settings of the stack.
#[derive(Clone, Debug)]
pub struct SdaeConfig {
    /// Width of each hidden layer, bottom first (e.g. `[256, 128]` over 784 pixels).
    pub hidden: Vec<usize>,
    /// Fraction of input values zeroed in pre-training (masking noise).
    pub noise: f32,
    /// Pre-training epochs of each layer.
    pub pretrain_epochs: usize,
    /// Examples per mini-batch.
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of weights, shuffling and noise.
    pub seed: u64,
}

impl Default for SdaeConfig {
    fn default() -> Self {
        SdaeConfig {
            hidden: vec![256, 128],
            noise: 0.25,
            pretrain_epochs: 3,
            batch: 128,
            lr: 1e-3,
            seed: 0,
        }
    }
}

/// The encoder stack: `h_{l+1} = sigmoid(W_l h_l + b_l)`, variables `enc{l}.weight|bias`.
pub struct Sdae {
    /// The variables of the encoders (decoders live in their own stores while pre-training).
    pub vs: VarStore,
    /// One layer per hidden size.
    pub encoders: Vec<Linear>,
    /// Input features.
    pub d: usize,
}

/// `rows` examples of `width` values, row-major, as a `[rows, width]` tensor.
pub(crate) fn batch_tensor(x: &[f32], width: usize) -> Result<Tensor> {
    Ok(Tensor::from_slice(
        x,
        &[x.len() / width, width],
        &Device::Cpu,
    )?)
}

impl Sdae {
    /// A freshly initialized stack over inputs of `d` features (weights seeded by
    /// `cfg.seed`).
    ///
    /// # Errors
    /// Layer construction errors (none for valid sizes).
    pub fn new(d: usize, cfg: &SdaeConfig) -> Result<Sdae> {
        nabla::manual_seed(cfg.seed);
        let vs = VarStore::new(&Device::Cpu);
        let mut encoders = Vec::new();
        let mut width = d;
        for (l, &h) in cfg.hidden.iter().enumerate() {
            encoders.push(Linear::new(
                &vs.root().sub(format!("enc{l}")),
                width,
                h,
                true,
            )?);
            width = h;
        }
        Ok(Sdae { vs, encoders, d })
    }

    /// Width of the top code.
    pub fn code_width(&self) -> usize {
        self.encoders
            .last()
            .map_or(self.d, |e| e.weight.tensor().dims()[0])
    }

    /// The codes of the first `layers` encoders for a batch `x` (`[n, d]`).
    pub fn encode_t(&self, x: &Tensor, layers: usize) -> Result<Tensor> {
        let mut h = x.clone();
        for e in &self.encoders[..layers] {
            h = e.forward(&h)?.sigmoid()?;
        }
        Ok(h)
    }

    /// The top codes of the rows of `x` (`[n, d]` row-major): `[n, code_width]`.
    ///
    /// # Errors
    /// Engine errors.
    pub fn encode(&self, x: &[f32]) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(x.len() / self.d * self.code_width());
        for chunk in x.chunks(1024 * self.d) {
            let h = nabla::no_grad(|| -> Result<Tensor> {
                self.encode_t(&batch_tensor(chunk, self.d)?, self.encoders.len())
            })?;
            out.extend(h.to_vec::<f32>()?);
        }
        Ok(out)
    }

    /// Greedy layer-wise pre-training on unlabelled rows `x` (`[n, d]`): layer `l` learns to
    /// rebuild the (clean) codes of layers `0..l` from a masked copy, through a sigmoid
    /// decoder and the binary cross-entropy (inputs and codes lie in `[0, 1]`). Returns the
    /// last epoch's mean reconstruction loss of each layer.
    ///
    /// # Errors
    /// Engine errors.
    pub fn pretrain(&self, x: &[f32], cfg: &SdaeConfig) -> Result<Vec<f64>> {
        let mut rng = nabla::Rng::new(cfg.seed ^ 0x5DAE);
        let mut losses = vec![];
        let mut input = x.to_vec();
        let mut width = self.d;
        for (l, enc) in self.encoders.iter().enumerate() {
            let h = enc.weight.tensor().dims()[0];
            let dec_vs = VarStore::new(&Device::Cpu);
            let dec = Linear::new(&dec_vs.root().sub(format!("dec{l}")), h, width, true)?;
            let mut vars = enc_vars(enc);
            vars.extend(dec_vs.trainable());
            let mut opt = Adam::new(vars, cfg.lr);
            let n = input.len() / width;
            let mut order: Vec<usize> = (0..n).collect();
            let mut last = 0.0;
            for _ in 0..cfg.pretrain_epochs {
                rng.shuffle(&mut order);
                let (mut sum, mut batches) = (0.0, 0);
                for idx in order.chunks(cfg.batch) {
                    let mut clean = Vec::with_capacity(idx.len() * width);
                    for &i in idx {
                        clean.extend_from_slice(&input[i * width..(i + 1) * width]);
                    }
                    let noisy: Vec<f32> = clean
                        .iter()
                        .map(|&v| if rng.next_f32() < cfg.noise { 0.0 } else { v })
                        .collect();
                    let code = enc.forward(&batch_tensor(&noisy, width)?)?.sigmoid()?;
                    let logits = dec.forward(&code)?;
                    let loss =
                        bce_with_logits(&logits, &batch_tensor(&clean, width)?, Reduction::Mean)?;
                    sum += loss.to_vec::<f32>()?[0] as f64;
                    batches += 1;
                    opt.step(&loss.backward()?)?;
                }
                last = sum / batches.max(1) as f64;
            }
            losses.push(last);
            // The next layer trains on this layer's clean codes.
            input = layer_codes(enc, &input, width)?;
            width = h;
        }
        Ok(losses)
    }
}

/// The codes `sigmoid(enc(x))` of the rows of `x` (`[n, width]` row-major), row-major.
pub(crate) fn layer_codes(enc: &Linear, x: &[f32], width: usize) -> Result<Vec<f32>> {
    let mut codes = Vec::with_capacity(x.len() / width * enc.weight.tensor().dims()[0]);
    for chunk in x.chunks(1024 * width) {
        let c = nabla::no_grad(|| -> Result<Tensor> {
            Ok(enc.forward(&batch_tensor(chunk, width)?)?.sigmoid()?)
        })?;
        codes.extend(c.to_vec::<f32>()?);
    }
    Ok(codes)
}

/// The trainable variables of one layer.
fn enc_vars(l: &Linear) -> Vec<nabla_nn::Var> {
    let mut v = vec![l.weight.clone()];
    v.extend(l.bias.clone());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretraining_lowers_the_reconstruction_loss_of_each_layer() -> Result<()> {
        // 400 noisy copies of 4 prototypes of 16 binary values: easy to compress to 8 then 4.
        let mut rng = nabla::Rng::new(1);
        let protos: Vec<Vec<f32>> = (0..4)
            .map(|_| {
                (0..16)
                    .map(|_| (rng.next_f32() < 0.5) as u8 as f32)
                    .collect()
            })
            .collect();
        let x: Vec<f32> = (0..400).flat_map(|i| protos[i % 4].clone()).collect();
        let short = SdaeConfig {
            hidden: vec![8, 4],
            pretrain_epochs: 1,
            batch: 20,
            lr: 1e-2,
            ..SdaeConfig::default()
        };
        let long = SdaeConfig {
            pretrain_epochs: 20,
            ..short.clone()
        };
        let a = Sdae::new(16, &short)?.pretrain(&x, &short)?;
        let sdae = Sdae::new(16, &long)?;
        let b = sdae.pretrain(&x, &long)?;
        assert_eq!(a.len(), 2);
        assert!(b[0] < a[0] && b[0] < 0.3, "layer 0: {a:?} -> {b:?}");
        assert!(b[1] < a[1], "layer 1: {a:?} -> {b:?}");
        let codes = sdae.encode(&x[..32])?;
        assert_eq!(codes.len(), 2 * 4);
        assert!(codes.iter().all(|&c| (0.0..=1.0).contains(&c)));
        Ok(())
    }
}
