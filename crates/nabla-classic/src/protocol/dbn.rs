//! A deep belief net (Hinton, Osindero & Teh 2006) as pre-training: restricted Boltzmann
//! machines trained greedily by contrastive divergence, each on the hidden probabilities of
//! the one below, whose weights and hidden biases then start the sigmoid layers of the
//! classifier that fine-tuning trains with labels.
//!
//! A DBN layer and a stacked-autoencoder encoder have the same form, `σ(W h + c)`, so the
//! RBMs are written into the layers of an [`Sdae`] stack and the protocols fine-tune both
//! kinds of pre-training the same way.
//!
//! On `Device::Cpu`, as the other protocols ([`super`]).

use super::sdae::{batch_tensor, layer_codes, Sdae};
use crate::Result;
use nabla::Device;
use nabla_nn::models::rbm::{CdConfig, ContrastiveDivergence, Rbm};
use nabla_nn::optim::{Optimizer, Sgd};
use nabla_nn::VarStore;

/// Training settings of the RBMs.
#[derive(Clone, Debug)]
pub struct DbnConfig {
    /// Epochs of contrastive divergence per layer.
    pub epochs: usize,
    /// Examples per mini-batch.
    pub batch: usize,
    /// SGD's learning rate on the batch-mean CD estimate (momentum 0.5).
    pub lr: f64,
    /// Gibbs steps of each update (CD-k).
    pub cd_k: usize,
    /// Seed of weights, shuffling and sampling.
    pub seed: u64,
}

impl Default for DbnConfig {
    /// CD-1, 5 epochs per layer, batches of 64, learning rate 0.1.
    fn default() -> Self {
        DbnConfig {
            epochs: 5,
            batch: 64,
            lr: 0.1,
            cd_k: 1,
            seed: 0,
        }
    }
}

/// Pre-trains the layers of `stack` as a DBN on the unlabelled rows `x` (`[n, d]`, values in
/// `[0, 1]`): layer `l` is the `W` and `h_bias` of an RBM trained on the codes of layers
/// `0..l`. Returns the last epoch's mean squared reconstruction error per example of each
/// RBM.
///
/// # Errors
/// Engine errors.
pub fn pretrain_dbn(stack: &Sdae, x: &[f32], cfg: &DbnConfig) -> Result<Vec<f64>> {
    nabla::manual_seed(cfg.seed);
    let mut rng = nabla::Rng::new(cfg.seed ^ 0xDB4);
    let mut errors = vec![];
    let mut input = x.to_vec();
    let mut width = stack.d;
    for enc in &stack.encoders {
        let hidden = enc.weight.tensor().dims()[0];
        let vs = VarStore::new(&Device::Cpu);
        let rbm = Rbm::new(&vs.root(), width, hidden)?;
        let mut opt = Sgd::new(vs.trainable(), cfg.lr).momentum(0.5);
        let mut cd = ContrastiveDivergence::new(CdConfig {
            k: cfg.cd_k.max(1),
            persistent: false,
        });
        let n = input.len() / width;
        let mut order: Vec<usize> = (0..n).collect();
        let mut last = 0.0;
        for _ in 0..cfg.epochs {
            rng.shuffle(&mut order);
            let (mut sum, mut rows) = (0.0, 0usize);
            for idx in order.chunks(cfg.batch.max(1)) {
                let mut v = Vec::with_capacity(idx.len() * width);
                for &i in idx {
                    v.extend_from_slice(&input[i * width..(i + 1) * width]);
                }
                let v = batch_tensor(&v, width)?;
                opt.step(&cd.loss(&rbm, &v)?.backward()?)?;
                sum += rbm.reconstruction_error(&v)? * idx.len() as f64;
                rows += idx.len();
            }
            last = sum / rows.max(1) as f64;
        }
        errors.push(last);
        enc.weight.set(&rbm.weight.tensor())?;
        if let Some(bias) = &enc.bias {
            bias.set(&rbm.h_bias.tensor())?;
        }
        input = layer_codes(enc, &input, width)?;
        width = hidden;
    }
    Ok(errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::SdaeConfig;

    #[test]
    fn greedy_rbm_pretraining_learns_each_layer_and_fills_the_stack() -> Result<()> {
        // 400 copies of 4 binary prototypes of 16 values: prototype p lights pixels 4p..4p+4.
        let x: Vec<f32> = (0..400 * 16)
            .map(|i| ((i % 16) / 4 == (i / 16) % 4) as u8 as f32)
            .collect();
        let sizes = SdaeConfig {
            hidden: vec![8, 4],
            ..SdaeConfig::default()
        };
        let cfg = |epochs| DbnConfig {
            epochs,
            batch: 20,
            ..DbnConfig::default()
        };
        let stack = Sdae::new(16, &sizes)?;
        let short = pretrain_dbn(&stack, &x, &cfg(1))?;
        let stack = Sdae::new(16, &sizes)?;
        let long = pretrain_dbn(&stack, &x, &cfg(15))?;
        assert_eq!(long.len(), 2);
        assert!(long[0] < 0.5 * short[0], "{short:?} -> {long:?}");
        // The first layer's weights are the RBM's: no longer the small initial values.
        let w = stack.encoders[0].weight.tensor().to_vec::<f32>()?;
        assert!(w.iter().any(|v| v.abs() > 0.5));
        let codes = stack.encode(&x[..16 * 4])?;
        assert!(codes.iter().all(|&c| (0.0..=1.0).contains(&c)));
        // The first layer's codes tell the four prototypes apart.
        let first = layer_codes(&stack.encoders[0], &x[..16 * 4], 16)?;
        for a in 0..4 {
            for b in 0..a {
                let (ca, cb) = (&first[a * 8..(a + 1) * 8], &first[b * 8..(b + 1) * 8]);
                let gap = ca
                    .iter()
                    .zip(cb)
                    .map(|(p, q)| (p - q).abs())
                    .fold(0f32, f32::max);
                assert!(gap > 0.3, "prototypes {a} and {b}: {ca:?} {cb:?}");
            }
        }
        Ok(())
    }
}
