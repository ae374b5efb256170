//! Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

use super::{for_each_update, per_variable_state, Buffers, Optimizer};
use crate::{Result, Var};
use nabla::{Grads, Tensor};
use rayon::prelude::*;
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
        let (lr, mu, damp, wd, nesterov) = (
            self.lr as f32,
            self.momentum as f32,
            self.dampening as f32,
            self.weight_decay as f32,
            self.nesterov,
        );
        let buffers = &mut self.buffers;
        for_each_update(&self.vars, grads, |var, w, g| {
            if mu == 0.0 {
                nabla::vectorized(
                    #[inline(always)]
                    || {
                        for (w, &g) in w.iter_mut().zip(g) {
                            *w -= lr * (g + wd * *w);
                        }
                    },
                );
                return;
            }
            let first = !buffers.has(var, "momentum_buffer");
            let b = buffers.get(var, "momentum_buffer");
            let h = Momentum { lr, mu, damp, wd };
            match (first, nesterov) {
                (true, true) => h.par_step::<true, true>(w, g, b),
                (true, false) => h.par_step::<true, false>(w, g, b),
                (false, true) => h.par_step::<false, true>(w, g, b),
                (false, false) => h.par_step::<false, false>(w, g, b),
            }
        })
    }
    per_variable_state!();
}

/// The constants of one momentum step.
#[derive(Clone, Copy)]
struct Momentum {
    lr: f32,
    mu: f32,
    damp: f32,
    wd: f32,
}

/// Elements per task of the parallel update: below 2^16 the update takes less than the
/// fork of the rayon pool.
const PAR_CHUNK: usize = 1 << 16;

impl Momentum {
    /// The update of one variable, its large tensors split across the rayon pool: the
    /// update streams weights, gradient and buffer through memory (20 bytes per element),
    /// which two cores' caches and memory ports do faster than one.
    fn par_step<const FIRST: bool, const NESTEROV: bool>(
        self,
        w: &mut [f32],
        g: &[f32],
        b: &mut [f32],
    ) {
        if w.len() < 2 * PAR_CHUNK {
            return self.step::<FIRST, NESTEROV>(w, g, b);
        }
        w.par_chunks_mut(PAR_CHUNK)
            .zip(g.par_chunks(PAR_CHUNK))
            .zip(b.par_chunks_mut(PAR_CHUNK))
            .for_each(|((w, g), b)| self.step::<FIRST, NESTEROV>(w, g, b));
    }

    /// `b ← μb + (1 − τ)g` (b = g on the first step), then `w ← w − η(g + μb)` (Nesterov) or
    /// `w ← w − ηb`, with `g ← g + λw` first. The cases are constants, so that the loop has
    /// no branch and vectorizes.
    fn step<const FIRST: bool, const NESTEROV: bool>(
        self,
        w: &mut [f32],
        g: &[f32],
        b: &mut [f32],
    ) {
        let Momentum { lr, mu, damp, wd } = self;
        nabla::vectorized(
            #[inline(always)]
            || {
                for ((w, &g), b) in w.iter_mut().zip(g).zip(b.iter_mut()) {
                    let g = g + wd * *w;
                    *b = if FIRST { g } else { mu * *b + (1.0 - damp) * g };
                    let step = if NESTEROV { g + mu * *b } else { *b };
                    *w -= lr * step;
                }
            },
        )
    }
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
        let n = 2 * PAR_CHUNK + 123;
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
