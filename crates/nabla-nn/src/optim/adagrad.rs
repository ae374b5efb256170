//! Adagrad (Duchi et al. 2011), as `torch.optim.Adagrad`.

use super::{for_each_update, per_variable_state, Buffers, Optimizer};
use crate::{Result, Var};
use nabla::{Grads, Tensor, UpdateRule};
use std::collections::HashMap;

/// `s ← s + g²`, `w ← w − η·g / (√s + ε)`, ε = 1e-10.
pub struct Adagrad {
    vars: Vec<Var>,
    lr: f64,
    eps: f64,
    weight_decay: f64,
    buffers: Buffers,
}

impl Adagrad {
    /// A new optimizer.
    pub fn new(vars: Vec<Var>, lr: f64) -> Self {
        Adagrad {
            vars,
            lr,
            eps: 1e-10,
            weight_decay: 0.0,
            buffers: Buffers::new(&["sum"]),
        }
    }
    /// With L2 weight decay.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        Adagrad {
            weight_decay,
            ..self
        }
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self, grads: &Grads) -> Result<()> {
        let rule = UpdateRule::Adagrad {
            lr: self.lr as f32,
            eps: self.eps as f32,
            weight_decay: self.weight_decay as f32,
        };
        let buffers = &mut self.buffers;
        for_each_update(&self.vars, grads, |var, g| {
            let sum = buffers.get(var, "sum")?;
            Ok(var.leaf().update_(g, &[&sum], rule)?)
        })
    }
    per_variable_state!();
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn adagrad_steps_match_pytorch() -> Result<()> {
        // step 1: s = g², w -= lr·sign(g); step 2: s = 2g², w -= lr·sign(g)/√2
        let (vs, w, g) = one_var();
        let mut opt = Adagrad::new(vs.trainable(), 0.1);
        opt.step(&g)?;
        assert!(close(&values(&w), &[0.9, 2.1]));
        opt.step(&g)?;
        let d = 0.1 / 2f32.sqrt();
        assert!(close(&values(&w), &[0.9 - d, 2.1 + d]));
        Ok(())
    }
}
