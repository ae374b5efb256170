//! Parameter groups: several optimizers stepping together, each at its own fraction of one
//! learning rate (PyTorch's `param_groups`), for fine-tuning transferred layers slower.

use super::Optimizer;
use crate::Result;
use nabla::{Grads, Tensor};
use std::collections::HashMap;

/// Optimizers over disjoint sets of variables that act as one: `step` steps each, and the
/// learning rate `lr` set by a schedule becomes `lr · scale` for each group.
///
/// ```
/// # use nabla::Device;
/// # use nabla_nn::{models::{self, transfer, ModelConfig}, optim::{Optimizer, ParamGroups, Sgd}, VarStore};
/// # fn main() -> nabla_nn::Result<()> {
/// let vs = VarStore::new(&Device::Cpu);
/// let net = models::lenet5(&vs.root(), &ModelConfig::mnist())?;
/// let (backbone, head) = transfer::split_head(&vs, &["fc3"]);
/// let opt = ParamGroups::new(0.01)
///     .group(Box::new(Sgd::new(backbone, 0.01)), 0.1) // transferred layers at lr / 10
///     .group(Box::new(Sgd::new(head, 0.01)), 1.0);
/// assert_eq!(opt.lr(), 0.01);
/// # Ok(()) }
/// ```
pub struct ParamGroups {
    lr: f64,
    groups: Vec<(Box<dyn Optimizer>, f64)>,
}

impl ParamGroups {
    /// No groups yet, base learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        ParamGroups {
            lr,
            groups: Vec::new(),
        }
    }

    /// Adds an optimizer whose learning rate is `scale` times the base rate (set now and at
    /// every [`Optimizer::set_lr`]).
    pub fn group(mut self, mut opt: Box<dyn Optimizer>, scale: f64) -> Self {
        opt.set_lr(self.lr * scale);
        self.groups.push((opt, scale));
        self
    }
}

impl Optimizer for ParamGroups {
    fn step(&mut self, grads: &Grads) -> Result<()> {
        for (opt, _) in &mut self.groups {
            opt.step(grads)?;
        }
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
        for (opt, scale) in &mut self.groups {
            opt.set_lr(lr * *scale);
        }
    }

    /// Each group's state under `group<i>.` (counters such as Adam's step would collide).
    fn state(&self) -> Vec<(String, Tensor)> {
        self.groups
            .iter()
            .enumerate()
            .flat_map(|(i, (opt, _))| {
                opt.state()
                    .into_iter()
                    .map(move |(name, t)| (format!("group{i}.{name}"), t))
            })
            .collect()
    }

    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
        for (i, (opt, _)) in self.groups.iter_mut().enumerate() {
            let prefix = format!("group{i}.");
            let mine = state
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v.clone())))
                .collect();
            opt.load_state(&mine)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Sgd;
    use crate::VarStore;
    use nabla::Device;

    #[test]
    fn each_group_steps_at_its_scaled_rate() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let a = vs
            .root()
            .param("a", &[1], crate::init::Init::Constant(1.0))?;
        let b = vs
            .root()
            .param("b", &[1], crate::init::Init::Constant(1.0))?;
        let mut opt = ParamGroups::new(1.0)
            .group(Box::new(Sgd::new(vec![a.clone()], 1.0)), 0.1)
            .group(Box::new(Sgd::new(vec![b.clone()], 1.0)), 1.0);
        opt.set_lr(0.5);
        // d(3a + 3b)/da = d/db = 3; a ← 1 − 0.05·3, b ← 1 − 0.5·3.
        let loss = a
            .tensor()
            .mul_scalar(3.0)?
            .add(&b.tensor().mul_scalar(3.0)?)?;
        opt.step(&loss.sum_all()?.backward()?)?;
        let (va, vb) = (a.leaf().to_vec::<f32>()?[0], b.leaf().to_vec::<f32>()?[0]);
        assert!((va - 0.85).abs() < 1e-6, "{va}");
        assert!((vb + 0.5).abs() < 1e-6, "{vb}");
        assert_eq!(opt.lr(), 0.5);
        Ok(())
    }
}
