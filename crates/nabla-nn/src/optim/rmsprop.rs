//! RMSprop (Hinton's lecture 6e), as `torch.optim.RMSprop`.

use super::{for_each_update, per_variable_state, Buffers, Optimizer};
use crate::{Result, Var};
use nabla::{Grads, Tensor, UpdateRule};
use std::collections::HashMap;

/// `v ← αv + (1 − α)g²`; without momentum `w ← w − ηg / (√v + ε)`; with momentum μ,
/// `b ← μb + g / (√v + ε)`, `w ← w − ηb`. Defaults α = 0.99, ε = 1e-8.
pub struct RmsProp {
    vars: Vec<Var>,
    lr: f64,
    alpha: f64,
    eps: f64,
    momentum: f64,
    weight_decay: f64,
    buffers: Buffers,
}

impl RmsProp {
    /// A new optimizer.
    pub fn new(vars: Vec<Var>, lr: f64) -> Self {
        RmsProp {
            vars,
            lr,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            weight_decay: 0.0,
            buffers: Buffers::new(&["square_avg", "momentum_buffer"]),
        }
    }
    /// With smoothing constant α.
    pub fn alpha(self, alpha: f64) -> Self {
        RmsProp { alpha, ..self }
    }
    /// With momentum μ.
    pub fn momentum(self, momentum: f64) -> Self {
        RmsProp { momentum, ..self }
    }
    /// With L2 weight decay.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        RmsProp {
            weight_decay,
            ..self
        }
    }
}

impl Optimizer for RmsProp {
    fn step(&mut self, grads: &Grads) -> Result<()> {
        let rule = UpdateRule::RmsProp {
            lr: self.lr as f32,
            alpha: self.alpha as f32,
            eps: self.eps as f32,
            momentum: self.momentum as f32,
            weight_decay: self.weight_decay as f32,
        };
        let buffers = &mut self.buffers;
        for_each_update(&self.vars, grads, |var, g| {
            let square_avg = buffers.get(var, "square_avg")?;
            if self.momentum > 0.0 {
                let b = buffers.get(var, "momentum_buffer")?;
                Ok(var.leaf().update_(g, &[&square_avg, &b], rule)?)
            } else {
                Ok(var.leaf().update_(g, &[&square_avg], rule)?)
            }
        })
    }
    per_variable_state!();
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn rmsprop_first_step_matches_pytorch() -> Result<()> {
        // v = 0.01 g², step = lr g / (0.1|g| + ε) = 10·lr·sign(g) = ±1 for lr = 0.1
        let (vs, w, g) = one_var();
        let mut opt = RmsProp::new(vs.trainable(), 0.1);
        opt.step(&g)?;
        assert!(close(&values(&w), &[0.0, 3.0]));
        // torch.optim.RMSprop(lr=0.1) step 2: [-0.7088809, 3.7088811]
        opt.step(&g)?;
        assert!(
            close(&values(&w), &[-0.708_880_9, 3.708_881_1]),
            "{:?}",
            values(&w)
        );
        Ok(())
    }
}
