//! A restricted Boltzmann machine with binary visible and hidden units (Smolensky 1986,
//! Hinton 2002), trained by contrastive divergence (CD-k) or persistent contrastive
//! divergence (PCD, Tieleman 2008), and sampled by block Gibbs sampling.
//!
//! The energy of a joint state is `E(v, h) = −bᵀv − cᵀh − hᵀWv`; the hidden units are
//! independent given the visible ones, `p(h_j = 1 | v) = σ(c_j + W_j·v)`, and the visible
//! ones given the hidden, `p(v_i = 1 | h) = σ(b_i + (Wᵀh)_i)`. Grey pixels in `[0, 1]` are
//! fed as they are, as the probabilities of binary pixels (as Hinton & Salakhutdinov do).

use super::autoencoder::flat;
use crate::{Error, Init, Module, Path, Result, Var};
use nabla::{no_grad, Tensor};

/// `W` `[hidden, visible]`, `v_bias` `[visible]` (`b`), `h_bias` `[hidden]` (`c`): the names
/// of the common PyTorch RBM modules, so `W` has `nn.Linear`'s `[out, in]` layout from the
/// visible to the hidden layer (a DBN layer is that `Linear` with a sigmoid).
pub struct Rbm {
    /// Weights `[hidden, visible]`, drawn from `N(0, 0.01²)` (Hinton's practical guide).
    pub weight: Var,
    /// Visible biases `[visible]`, zero at first.
    pub v_bias: Var,
    /// Hidden biases `[hidden]`, zero at first.
    pub h_bias: Var,
    /// Visible units (784 for MNIST).
    pub visible: usize,
    /// Hidden units.
    pub hidden: usize,
}

/// A Bernoulli sample of the probabilities `p` (same shape, values 0 or 1), drawn from the
/// thread's generator.
///
/// # Errors
/// Engine errors only.
pub fn bernoulli(p: &Tensor) -> Result<Tensor> {
    let u = Tensor::rand(p.dims(), p.dtype(), &p.device())?;
    Ok(u.lt(p)?)
}

impl Rbm {
    /// A fresh machine under `p` with variables `W`, `v_bias` and `h_bias`.
    ///
    /// # Errors
    /// When a size is zero or the names exist already.
    pub fn new(p: &Path, visible: usize, hidden: usize) -> Result<Rbm> {
        if visible == 0 || hidden == 0 {
            return Err(Error::invalid(
                "rbm",
                format!("needs positive sizes, got {visible} visible and {hidden} hidden units"),
            ));
        }
        let small = Init::Normal {
            mean: 0.0,
            std: 0.01,
        };
        Ok(Rbm {
            weight: p.param("W", &[hidden, visible], small)?,
            v_bias: p.param("v_bias", &[visible], Init::Constant(0.0))?,
            h_bias: p.param("h_bias", &[hidden], Init::Constant(0.0))?,
            visible,
            hidden,
        })
    }

    /// `p(h = 1 | v)`, `[n, hidden]`, of visible states `[n, ...]` (`visible` values each).
    ///
    /// # Errors
    /// When an example does not hold `visible` values.
    pub fn hidden_probs(&self, v: &Tensor) -> Result<Tensor> {
        let v = flat(v, self.visible, "rbm")?;
        let c = self.h_bias.tensor();
        Ok(v.linear(&self.weight.tensor(), Some(&c))?.sigmoid()?)
    }

    /// `p(v = 1 | h)`, `[n, visible]`, of hidden states `[n, hidden]`.
    ///
    /// # Errors
    /// When `h` is not `[n, hidden]`.
    pub fn visible_probs(&self, h: &Tensor) -> Result<Tensor> {
        let h = flat(h, self.hidden, "rbm")?;
        let pre = h.matmul(&self.weight.tensor())?;
        Ok(pre.add(&self.v_bias.tensor())?.sigmoid()?)
    }

    /// The free energy `F(v) = −bᵀv − Σ_j softplus(c_j + W_j·v)` of each example, `[n]`:
    /// `p(v) ∝ e^{−F(v)}` once the hidden units are summed out.
    ///
    /// # Errors
    /// When an example does not hold `visible` values.
    pub fn free_energy(&self, v: &Tensor) -> Result<Tensor> {
        let v = flat(v, self.visible, "rbm")?;
        let c = self.h_bias.tensor();
        let hidden_term = v
            .linear(&self.weight.tensor(), Some(&c))?
            .softplus()?
            .sum(&[1])?;
        let n = v.dims()[0];
        let b = self.v_bias.tensor().reshape(&[self.visible, 1])?;
        let visible_term = v.matmul(&b)?.reshape(&[n])?;
        Ok(visible_term.add(&hidden_term)?.neg()?)
    }

    /// `steps` rounds of block Gibbs sampling from the binary visible states `v`
    /// (`[n, visible]`): `h ~ p(h | v)`, then `v ~ p(v | h)`. Returns the last binary states
    /// and the probabilities they were drawn from, both `[n, visible]`. Records nothing.
    ///
    /// # Errors
    /// When `v` is not `[n, visible]`.
    pub fn gibbs(&self, v: &Tensor, steps: usize) -> Result<(Tensor, Tensor)> {
        no_grad(|| {
            let mut v = flat(v, self.visible, "rbm")?;
            let mut probs = v.clone();
            for _ in 0..steps {
                let h = bernoulli(&self.hidden_probs(&v)?)?;
                probs = self.visible_probs(&h)?;
                v = bernoulli(&probs)?;
            }
            Ok((v, probs))
        })
    }

    /// Mean-field reconstructions `p(v | p(h | v))`, `[n, visible]` in `[0, 1]`: one pass up
    /// and down with probabilities instead of samples.
    ///
    /// # Errors
    /// When an example does not hold `visible` values.
    pub fn reconstruct(&self, v: &Tensor) -> Result<Tensor> {
        no_grad(|| self.visible_probs(&self.hidden_probs(v)?))
    }

    /// The reconstruction error of a batch: squared differences between `v` and
    /// [`Rbm::reconstruct`]`(v)` summed over the visible units, averaged over the examples.
    ///
    /// # Errors
    /// When an example does not hold `visible` values.
    pub fn reconstruction_error(&self, v: &Tensor) -> Result<f64> {
        let v = flat(v, self.visible, "rbm")?;
        let n = v.dims()[0].max(1) as f64;
        let r = self.reconstruct(&v)?;
        Ok(r.sub(&v)?.sqr()?.sum_all()?.to_scalar::<f32>()? as f64 / n)
    }

    /// `n` samples `[n, visible]` (the probabilities of the last step, in `[0, 1]`) after
    /// `steps` Gibbs rounds from uniform random binary states, drawn from the thread's
    /// generator (seed it with `nabla::manual_seed`).
    ///
    /// # Errors
    /// Engine errors only.
    pub fn sample(&self, n: usize, steps: usize) -> Result<Tensor> {
        let device = self.weight.tensor().device();
        let dtype = self.weight.tensor().dtype();
        let half = Tensor::full(0.5, &[n, self.visible], dtype, &device);
        let start = bernoulli(&half)?;
        Ok(self.gibbs(&start, steps.max(1))?.1)
    }
}

impl Module for Rbm {
    /// The hidden probabilities `[n, hidden]` of a batch: the RBM as a feature layer.
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        self.hidden_probs(x)
    }
}

/// Contrastive divergence: how the negative phase of each update is sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CdConfig {
    /// Gibbs steps per update (the `k` of CD-k).
    pub k: usize,
    /// Persistent CD: the chains continue from where the last update left them instead of
    /// restarting at the data.
    pub persistent: bool,
}

impl Default for CdConfig {
    /// CD-1.
    fn default() -> Self {
        CdConfig {
            k: 1,
            persistent: false,
        }
    }
}

/// The state of a CD-k or PCD training run: the persistent chains, if any.
pub struct ContrastiveDivergence {
    config: CdConfig,
    chains: Option<Tensor>,
}

impl ContrastiveDivergence {
    /// A fresh run (PCD's chains start at the first batch it sees).
    pub fn new(config: CdConfig) -> ContrastiveDivergence {
        ContrastiveDivergence {
            config,
            chains: None,
        }
    }

    /// The surrogate loss `mean F(v₀) − mean F(v_k)` of a batch `v0` (`[n, visible]`, values
    /// in `[0, 1]`), with `v_k` the negative samples held constant: its gradient is the
    /// negative of the CD-k (or PCD) estimate of the log-likelihood gradient,
    /// `−(⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model)` for `W`, so any optimizer that minimizes it follows
    /// contrastive divergence. Advances the persistent chains.
    ///
    /// # Errors
    /// When an example does not hold `visible` values.
    pub fn loss(&mut self, rbm: &Rbm, v0: &Tensor) -> Result<Tensor> {
        let v0 = flat(v0, rbm.visible, "rbm")?;
        let start = match (&self.chains, self.config.persistent) {
            (Some(chains), true) => chains.clone(),
            _ => no_grad(|| bernoulli(&v0))?,
        };
        let (vk, _) = rbm.gibbs(&start, self.config.k.max(1))?;
        if self.config.persistent {
            self.chains = Some(vk.clone());
        }
        let positive = rbm.free_energy(&v0)?.mean_all()?;
        let negative = rbm.free_energy(&vk)?.mean_all()?;
        Ok(positive.sub(&negative)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Optimizer, Sgd};
    use crate::VarStore;
    use nabla::testing::assert_close;
    use nabla::{DType, Device};

    /// 64 examples of 12 binary pixels: two prototypes (left half on, right half on).
    fn two_prototypes() -> Result<Tensor> {
        let x: Vec<f32> = (0..64 * 12)
            .map(|i| ((i % 12 < 6) == ((i / 12) % 2 == 0)) as u8 as f32)
            .collect();
        Ok(Tensor::from_vec(x, &[64, 12], &Device::Cpu)?)
    }

    #[test]
    fn rbm_has_pytorch_style_names_and_shapes() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let rbm = Rbm::new(&vs.root().sub("rbm"), 12, 5)?;
        let names: Vec<String> = vs.vars().iter().map(|v| v.name().to_string()).collect();
        assert_eq!(names, ["rbm.W", "rbm.v_bias", "rbm.h_bias"]);
        assert_eq!(rbm.weight.tensor().dims(), &[5, 12]);
        let x = two_prototypes()?;
        assert_eq!(rbm.hidden_probs(&x)?.dims(), &[64, 5]);
        assert_eq!(rbm.reconstruct(&x)?.dims(), &[64, 12]);
        assert!(rbm
            .hidden_probs(&Tensor::zeros(&[2, 11], DType::F32, &Device::Cpu))
            .is_err());
        assert!(Rbm::new(&vs.root().sub("zero"), 0, 3).is_err());
        Ok(())
    }

    #[test]
    fn free_energy_matches_the_sum_over_hidden_states() -> Result<()> {
        // F(v) = −log Σ_h e^{−E(v, h)}, summed by brute force over the 2³ hidden states.
        nabla::manual_seed(3);
        let vs = VarStore::new(&Device::Cpu);
        let rbm = Rbm::new(&vs.root(), 4, 3)?;
        rbm.weight
            .set(&Tensor::randn(&[3, 4], DType::F32, &Device::Cpu)?)?;
        rbm.v_bias
            .set(&Tensor::randn(&[4], DType::F32, &Device::Cpu)?)?;
        rbm.h_bias
            .set(&Tensor::randn(&[3], DType::F32, &Device::Cpu)?)?;
        let v = [1.0f32, 0.0, 1.0, 1.0];
        let w = rbm.weight.tensor().to_vec::<f32>()?;
        let b = rbm.v_bias.tensor().to_vec::<f32>()?;
        let c = rbm.h_bias.tensor().to_vec::<f32>()?;
        let mut z = 0.0f64;
        for hs in 0..8 {
            let h: Vec<f32> = (0..3).map(|j| ((hs >> j) & 1) as f32).collect();
            let mut neg_e: f32 = (0..4).map(|i| b[i] * v[i]).sum();
            for j in 0..3 {
                neg_e += c[j] * h[j];
                neg_e += (0..4).map(|i| h[j] * w[j * 4 + i] * v[i]).sum::<f32>();
            }
            z += (neg_e as f64).exp();
        }
        let f = rbm.free_energy(&Tensor::from_slice(&v, &[1, 4], &Device::Cpu)?)?;
        Ok(assert_close(&f, &[-z.ln()], 1e-5)?)
    }

    #[test]
    fn samples_are_probabilities_of_the_right_shape_and_chains_are_binary() -> Result<()> {
        nabla::manual_seed(1);
        let vs = VarStore::new(&Device::Cpu);
        let rbm = Rbm::new(&vs.root(), 12, 6)?;
        let s = rbm.sample(7, 5)?;
        assert_eq!(s.dims(), &[7, 12]);
        assert!(s.to_vec::<f32>()?.iter().all(|p| (0.0..=1.0).contains(p)));
        let (v, p) = rbm.gibbs(&two_prototypes()?, 3)?;
        assert_eq!((v.dims(), p.dims()), (&[64, 12][..], &[64, 12][..]));
        assert!(v.to_vec::<f32>()?.iter().all(|&x| x == 0.0 || x == 1.0));
        Ok(())
    }

    fn train(config: CdConfig) -> Result<(f64, f64, Rbm)> {
        nabla::manual_seed(0);
        let vs = VarStore::new(&Device::Cpu);
        let rbm = Rbm::new(&vs.root(), 12, 4)?;
        let x = two_prototypes()?;
        let mut opt = Sgd::new(vs.trainable(), 0.1).momentum(0.5);
        let mut cd = ContrastiveDivergence::new(config);
        let first = rbm.reconstruction_error(&x)?;
        for _ in 0..200 {
            let loss = cd.loss(&rbm, &x)?;
            opt.step(&loss.backward()?)?;
        }
        Ok((first, rbm.reconstruction_error(&x)?, rbm))
    }

    #[test]
    fn cd1_training_lowers_the_reconstruction_error() -> Result<()> {
        let (first, last, _) = train(CdConfig::default())?;
        // At first every pixel is reconstructed as ~0.5: 12 × 0.25 = 3 per example.
        assert!(first > 2.5 && last < 0.2 * first, "{first} -> {last}");
        Ok(())
    }

    #[test]
    fn persistent_cd_lowers_the_reconstruction_error_and_samples_the_prototypes() -> Result<()> {
        let (first, last, rbm) = train(CdConfig {
            k: 1,
            persistent: true,
        })?;
        assert!(last < 0.3 * first, "{first} -> {last}");
        // Gibbs samples from noise land near one of the two prototypes.
        nabla::manual_seed(5);
        let s = rbm.sample(16, 50)?.to_vec::<f32>()?;
        for row in s.chunks(12) {
            let (left, right) = row.split_at(6);
            let (on, off) = if left[0] > right[0] {
                (left, right)
            } else {
                (right, left)
            };
            let lowest_on = on.iter().fold(1f32, |a, &b| a.min(b));
            let highest_off = off.iter().fold(0f32, |a, &b| a.max(b));
            assert!(lowest_on > 0.6 && highest_off < 0.4, "{row:?}");
        }
        Ok(())
    }
}
