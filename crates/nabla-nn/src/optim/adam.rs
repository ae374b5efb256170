//! Adam (Kingma & Ba 2015) and AdamW (decoupled weight decay, Loshchilov & Hutter 2019).

use super::{for_each_update, Buffers, Optimizer};
use crate::{Error, Result, Var};
use nabla::{Device, Grads, Tensor, UpdateRule};
use std::collections::HashMap;

/// The shared core of Adam and AdamW.
struct AdamCore {
    vars: Vec<Var>,
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    t: u64,
    buffers: Buffers,
}

impl AdamCore {
    fn new(vars: Vec<Var>, lr: f64, weight_decay: f64, decoupled: bool) -> Self {
        AdamCore {
            vars,
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay,
            decoupled,
            t: 0,
            buffers: Buffers::new(&["exp_avg", "exp_avg_sq"]),
        }
    }

    /// `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`,
    /// `w ← w − η·(m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)`; weight decay is added to g
    /// (Adam) or applied as `w ← w(1 − ηλ)` first (AdamW).
    fn step(&mut self, grads: &Grads) -> Result<()> {
        self.t += 1;
        let (b1, b2) = self.betas;
        let bc1 = 1.0 - b1.powi(self.t as i32);
        let bc2_sqrt = (1.0 - b2.powi(self.t as i32)).sqrt();
        let rule = UpdateRule::Adam {
            lr: self.lr as f32,
            beta1: b1 as f32,
            beta2: b2 as f32,
            eps: self.eps as f32,
            weight_decay: self.weight_decay as f32,
            decoupled: self.decoupled,
            step_size: (self.lr / bc1) as f32,
            bias_correction2_sqrt: bc2_sqrt as f32,
        };
        let buffers = &mut self.buffers;
        for_each_update(&self.vars, grads, |var, g| {
            let (m, v) = (
                buffers.get(var, "exp_avg")?,
                buffers.get(var, "exp_avg_sq")?,
            );
            Ok(var.leaf().update_(g, &[&m, &v], rule)?)
        })
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        let mut s = self.buffers.to_tensors();
        // The step counter is checkpoint metadata: a host value.
        s.push((
            "step".into(),
            Tensor::from_slice(&[self.t as i64], &[1], &Device::Cpu).expect("one value"),
        ));
        s
    }

    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
        let t = state
            .get("step")
            .ok_or_else(|| Error::invalid("optimizer state", "missing 'step'"))?;
        self.t = t.to_scalar::<i64>()?.max(0) as u64;
        self.buffers.load(&self.vars, state)
    }
}

macro_rules! adam_optimizer {
    ($(#[$doc:meta])* $name:ident, $decoupled:expr, $default_wd:expr) => {
        $(#[$doc])*
        pub struct $name(AdamCore);

        impl $name {
            /// A new optimizer on `vars` with learning rate `lr`, β = (0.9, 0.999), ε = 1e-8.
            pub fn new(vars: Vec<Var>, lr: f64) -> Self {
                $name(AdamCore::new(vars, lr, $default_wd, $decoupled))
            }
            /// With other β₁, β₂.
            pub fn betas(mut self, b1: f64, b2: f64) -> Self {
                self.0.betas = (b1, b2);
                self
            }
            /// With another ε.
            pub fn eps(mut self, eps: f64) -> Self {
                self.0.eps = eps;
                self
            }
            /// With weight decay λ.
            pub fn weight_decay(mut self, wd: f64) -> Self {
                self.0.weight_decay = wd;
                self
            }
        }

        impl Optimizer for $name {
            fn step(&mut self, grads: &Grads) -> Result<()> {
                self.0.step(grads)
            }
            fn lr(&self) -> f64 {
                self.0.lr
            }
            fn set_lr(&mut self, lr: f64) {
                self.0.lr = lr;
            }
            fn state(&self) -> Vec<(String, Tensor)> {
                self.0.state()
            }
            fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
                self.0.load_state(state)
            }
        }
    };
}

adam_optimizer!(
    /// Adam as `torch.optim.Adam` (L2 weight decay added to the gradient; default 0).
    Adam, false, 0.0);
adam_optimizer!(
    /// AdamW as `torch.optim.AdamW` (decoupled weight decay; default 0.01).
    AdamW, true, 0.01);

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn adam_first_steps_match_pytorch() -> Result<()> {
        // torch.optim.Adam([w], lr=0.1) with w = [1, 2], g = [0.5, -1] each step:
        // after step 1: [0.9, 2.1]; after step 2: [0.8, 2.2] (Adam's first steps move by ≈ lr)
        let (vs, w, g) = one_var();
        let mut opt = Adam::new(vs.trainable(), 0.1);
        opt.step(&g)?;
        assert!(close(&values(&w), &[0.9, 2.1]));
        opt.step(&g)?;
        assert!(close(&values(&w), &[0.8, 2.2]), "{:?}", values(&w));
        Ok(())
    }

    #[test]
    fn adamw_decays_weights_before_the_step() -> Result<()> {
        // AdamW(lr=0.1, weight_decay=0.5): w ← w·(1 − 0.05) then the Adam step of ±0.1
        let (vs, w, g) = one_var();
        let mut opt = AdamW::new(vs.trainable(), 0.1).weight_decay(0.5);
        opt.step(&g)?;
        assert!(close(&values(&w), &[0.85, 2.0]));
        // torch.optim.AdamW step 2: [0.7075, 2.0]
        opt.step(&g)?;
        assert!(close(&values(&w), &[0.7075, 2.0]), "{:?}", values(&w));
        let state: HashMap<String, Tensor> = opt.state().into_iter().collect();
        assert_eq!(state["step"].to_scalar::<i64>()?, 2);
        Ok(())
    }
}
