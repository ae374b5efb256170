//! Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

use super::{for_each_update, per_variable_state, Buffers, Optimizer};
use crate::{Result, Var};
use nabla::{Grads, Tensor, UpdateRule};
use std::collections::HashMap;

/// SGD as `torch.optim.SGD`: `g ← g + λw`; with momentum μ, `b ← μb + (1 − τ)g` (b = g on
/// the first step) and `g ← g + μb` (Nesterov) or `g ← b`; then `w ← w − ηg`.
pub struct Sgd {
    vars: Vec<Var>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    weight_decay: f64,
    buffers: Buffers,
}

impl Sgd {
    /// Plain SGD on `vars` with learning rate `lr`.
    pub fn new(vars: Vec<Var>, lr: f64) -> Self {
        Sgd {
            vars,
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            buffers: Buffers::new(&["momentum_buffer"]),
        }
    }
    /// With momentum μ.
    pub fn momentum(self, momentum: f64) -> Self {
        Sgd { momentum, ..self }
    }
    /// With Nesterov momentum.
    pub fn nesterov(self, nesterov: bool) -> Self {
        Sgd { nesterov, ..self }
    }
    /// With dampening τ of the momentum.
    pub fn dampening(self, dampening: f64) -> Self {
        Sgd { dampening, ..self }
    }
    /// With L2 weight decay λ.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        Sgd {
            weight_decay,
            ..self
        }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, grads: &Grads) -> Result<()> {
        let (lr, mu) = (self.lr as f32, self.momentum as f32);
        let weight_decay = self.weight_decay as f32;
        let buffers = &mut self.buffers;
        for_each_update(&self.vars, grads, |var, g| {
            if mu == 0.0 {
                let rule = UpdateRule::Sgd { lr, weight_decay };
                return Ok(var.leaf().update_(g, &[], rule)?);
            }
            let first = !buffers.has(var, "momentum_buffer");
            let rule = UpdateRule::Momentum {
                lr,
                mu,
                dampening: self.dampening as f32,
                weight_decay,
                nesterov: self.nesterov,
                first,
            };
            let b = buffers.get(var, "momentum_buffer")?;
            Ok(var.leaf().update_(g, &[&b], rule)?)
        })
    }
    per_variable_state!();
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn sgd_steps_match_pytorch_formulas() -> Result<()> {
        // w = [1, 2], g = [0.5, -1], lr 0.1
        let (vs, w, g) = one_var();
        let mut opt = Sgd::new(vs.trainable(), 0.1);
        opt.step(&g)?;
        assert!(close(&values(&w), &[0.95, 2.1]));

        // momentum 0.9: b1 = g, w1 = w0 - lr g; b2 = 0.9 g + g = 1.9 g, w2 = w1 - 0.19 g
        let (vs, w, g) = one_var();
        let mut opt = Sgd::new(vs.trainable(), 0.1).momentum(0.9);
        opt.step(&g)?;
        opt.step(&g)?;
        assert!(close(&values(&w), &[1.0 - 0.05 - 0.095, 2.0 + 0.1 + 0.19]));

        // Nesterov: step 1 uses g + 0.9 g = 1.9 g
        let (vs, w, g) = one_var();
        let mut opt = Sgd::new(vs.trainable(), 0.1).momentum(0.9).nesterov(true);
        opt.step(&g)?;
        assert!(close(&values(&w), &[1.0 - 0.095, 2.0 + 0.19]));
        // torch.optim.SGD(lr=0.1, momentum=0.9, nesterov=True) step 2: [0.7695, 2.461]
        opt.step(&g)?;
        assert!(close(&values(&w), &[0.7695, 2.461]), "{:?}", values(&w));

        // weight decay 0.1: g' = g + 0.1 w = [0.6, -0.8]
        let (vs, w, g) = one_var();
        let mut opt = Sgd::new(vs.trainable(), 0.1).weight_decay(0.1);
        opt.step(&g)?;
        assert!(close(&values(&w), &[0.94, 2.08]));
        Ok(())
    }

    #[test]
    fn sgd_momentum_on_a_large_tensor_matches_the_formula_in_every_chunk() -> Result<()> {
        // Large enough to be split across threads, with a ragged last chunk.
        use crate::{Init, VarStore};
        use nabla::Device;
        let n = (1 << 17) + 123;
        let vs = VarStore::new(&Device::Cpu);
        let w = vs.root().param("w", &[n], Init::Constant(1.0))?;
        let gv: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
        let mut g = Grads::default();
        g.insert(w.leaf(), Tensor::from_slice(&gv, &[n], &Device::Cpu)?);
        let mut opt = Sgd::new(vs.trainable(), 0.1).momentum(0.9).nesterov(true);
        opt.step(&g)?;
        opt.step(&g)?;
        // Nesterov, b1 = g: w1 = 1 - 0.1·1.9g; b2 = 1.9g: w2 = w1 - 0.1·(g + 0.9·1.9g).
        let want: Vec<f32> = gv.iter().map(|g| 1.0 - 0.19 * g - 0.271 * g).collect();
        assert!(close(&values(&w), &want));
        Ok(())
    }

    #[test]
    fn sgd_state_round_trips() -> Result<()> {
        let (vs, w, g) = one_var();
        let mut a = Sgd::new(vs.trainable(), 0.1).momentum(0.9);
        a.step(&g)?;
        let state: HashMap<String, Tensor> = a.state().into_iter().collect();
        assert!(state.contains_key("w.momentum_buffer"));
        let mut b = Sgd::new(vs.trainable(), 0.1).momentum(0.9);
        b.load_state(&state)?;
        let before = values(&w);
        a.step(&g)?;
        let after_a = values(&w);
        w.set(&Tensor::from_slice(&before, &[2], &nabla::Device::Cpu)?)?;
        b.step(&g)?;
        assert_eq!(values(&w), after_a);
        Ok(())
    }
}
