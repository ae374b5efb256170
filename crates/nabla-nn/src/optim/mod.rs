//! Optimizers (SGD with momentum/Nesterov, Adam, AdamW, RMSprop, Adagrad), gradient
//! clipping and learning-rate schedules. Update formulas follow PyTorch's documentation, so
//! the same hyper-parameters train the same way.

mod adagrad;
mod adam;
mod groups;
mod rmsprop;
mod schedule;
mod sgd;

pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use groups::ParamGroups;
pub use rmsprop::RmsProp;
pub use schedule::{ReduceOnPlateau, Schedule};
pub use sgd::Sgd;

use crate::{Error, Result, Var};
use nabla::{Device, Grads, Tensor};
use std::collections::HashMap;

/// Updates parameters from their gradients.
pub trait Optimizer: Send {
    /// One update of every trainable variable that has a gradient in `grads`.
    ///
    /// # Errors
    /// When a gradient's shape differs from its variable's.
    fn step(&mut self, grads: &Grads) -> Result<()>;
    /// The current learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate (schedules call this).
    fn set_lr(&mut self, lr: f64);
    /// The optimizer's state as named tensors (for checkpoints): per-variable buffers named
    /// `<variable>.<buffer>` and counters.
    fn state(&self) -> Vec<(String, Tensor)>;
    /// Restores a state saved by [`Optimizer::state`].
    ///
    /// # Errors
    /// When a buffer is missing or has the wrong size.
    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<()>;
}

/// The `lr`, `set_lr`, `state` and `load_state` methods of an optimizer whose fields `lr`,
/// `vars` and `buffers` hold its whole state.
macro_rules! per_variable_state {
    () => {
        fn lr(&self) -> f64 {
            self.lr
        }
        fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
        fn state(&self) -> Vec<(String, Tensor)> {
            self.buffers.to_tensors()
        }
        fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
            self.buffers.load(&self.vars, state)
        }
    };
}
pub(crate) use per_variable_state;

/// Per-variable buffers of an optimizer (momentum, moments): F32 tensors on the variable's
/// device, zero on first use, saved by name as host copies.
#[derive(Default, Clone)]
pub(crate) struct Buffers {
    names: Vec<&'static str>,
    data: HashMap<(String, &'static str), Tensor>,
}

impl Buffers {
    pub(crate) fn new(names: &[&'static str]) -> Self {
        Buffers {
            names: names.to_vec(),
            data: HashMap::new(),
        }
    }

    /// The buffer `which` of `var` (a handle to it), zero-initialized on first use.
    pub(crate) fn get(&mut self, var: &Var, which: &'static str) -> Result<Tensor> {
        let key = (var.name().to_string(), which);
        if let Some(t) = self.data.get(&key) {
            return Ok(t.clone());
        }
        let leaf = var.leaf();
        // `zeros` builds host tensors; the buffer moves to the variable's device once.
        let t = Tensor::zeros(leaf.dims(), nabla::DType::F32, &Device::Cpu)
            .to_device(&leaf.device())?;
        self.data.insert(key, t.clone());
        Ok(t)
    }

    pub(crate) fn has(&self, var: &Var, which: &'static str) -> bool {
        self.data.contains_key(&(var.name().to_string(), which))
    }

    /// Host copies of the buffers, flat, named `<variable>.<buffer>` (the checkpoint form).
    pub(crate) fn to_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = self
            .data
            .iter()
            .filter_map(|((name, which), t)| {
                let v = t.to_vec::<f32>().ok()?;
                Tensor::from_vec(v, &[t.numel()], &Device::Cpu)
                    .ok()
                    .map(|t| (format!("{name}.{which}"), t))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    pub(crate) fn load(&mut self, vars: &[Var], state: &HashMap<String, Tensor>) -> Result<()> {
        self.data.clear();
        for var in vars {
            for &which in &self.names {
                let key = format!("{}.{which}", var.name());
                if let Some(t) = state.get(&key) {
                    if t.numel() != var.numel() {
                        return Err(Error::invalid(
                            "optimizer state",
                            format!(
                                "{key} has {} values, the variable {}",
                                t.numel(),
                                var.numel()
                            ),
                        ));
                    }
                    let leaf = var.leaf();
                    let values = t.to_dtype(nabla::DType::F32)?.to_vec::<f32>()?;
                    let t = Tensor::from_vec(values, leaf.dims(), &Device::Cpu)?
                        .to_device(&leaf.device())?;
                    self.data.insert((var.name().to_string(), which), t);
                }
            }
        }
        Ok(())
    }
}

/// Calls `f(variable, gradient)` for each trainable variable that has a gradient of its
/// shape.
pub(crate) fn for_each_update(
    vars: &[Var],
    grads: &Grads,
    mut f: impl FnMut(&Var, &Tensor) -> Result<()>,
) -> Result<()> {
    for var in vars.iter().filter(|v| v.is_trainable()) {
        let Some(g) = grads.get(var.leaf()) else {
            continue;
        };
        if g.shape() != var.leaf().shape() {
            return Err(Error::shape(
                "optimizer",
                format!(
                    "the gradient of {} in the shape of the variable, {}",
                    var.name(),
                    var.leaf().shape()
                ),
                g.shape(),
            ));
        }
        f(var, g)?;
    }
    Ok(())
}

/// Scales all gradients so that their global L2 norm is at most `max_norm`; returns the
/// norm before clipping (as `torch.nn.utils.clip_grad_norm_`).
///
/// # Errors
/// Engine errors only.
pub fn clip_grad_norm(grads: &mut Grads, vars: &[Var], max_norm: f64) -> Result<f64> {
    let mut total = 0.0f64;
    for v in vars {
        if let Some(g) = grads.get(v.leaf()) {
            total += g.sqr()?.sum_all()?.to_scalar::<f64>()?;
        }
    }
    let norm = total.sqrt();
    let scale = max_norm / (norm + 1e-6);
    if scale < 1.0 {
        for v in vars {
            if let Some(g) = grads.remove(v.leaf()) {
                grads.insert(v.leaf(), g.mul_scalar(scale)?);
            }
        }
    }
    Ok(norm)
}

/// Clamps every gradient element into `[-clip, clip]`.
///
/// # Errors
/// When `clip` is negative.
pub fn clip_grad_value(grads: &mut Grads, vars: &[Var], clip: f64) -> Result<()> {
    if clip.is_nan() || clip < 0.0 {
        return Err(Error::out_of_range(
            "clip_grad_value",
            "clip",
            "non-negative",
            clip,
        ));
    }
    for v in vars {
        if let Some(g) = grads.remove(v.leaf()) {
            grads.insert(v.leaf(), g.clamp(-clip, clip)?);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::{Init, Var, VarStore};
    use nabla::{Device, Grads, Tensor};

    /// A store with one variable `w = [1, 2]` and a gradient `[0.5, -1]` for it.
    pub fn one_var() -> (VarStore, Var, Grads) {
        let vs = VarStore::new(&Device::Cpu);
        let w = vs.root().param("w", &[2], Init::Constant(0.0)).unwrap();
        w.set(&Tensor::from_slice(&[1.0f32, 2.0], &[2], &Device::Cpu).unwrap())
            .unwrap();
        let mut g = Grads::default();
        g.insert(
            w.leaf(),
            Tensor::from_slice(&[0.5f32, -1.0], &[2], &Device::Cpu).unwrap(),
        );
        (vs, w, g)
    }

    pub fn values(w: &Var) -> Vec<f32> {
        w.leaf().to_vec::<f32>().unwrap()
    }

    pub fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 2e-6)
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn clipping_by_norm_and_value() -> Result<()> {
        let (vs, w, mut g) = one_var();
        // ‖[0.5, -1]‖ = 1.118..; clip to 0.5
        let norm = clip_grad_norm(&mut g, &vs.trainable(), 0.5)?;
        assert!((norm - 1.25f64.sqrt()).abs() < 1e-6);
        let clipped = g.get(w.leaf()).unwrap().to_vec::<f32>()?;
        assert!(((clipped[0].powi(2) + clipped[1].powi(2)).sqrt() - 0.5).abs() < 1e-5);
        let (vs, w, mut g) = one_var();
        clip_grad_value(&mut g, &vs.trainable(), 0.6)?;
        assert_eq!(g.get(w.leaf()).unwrap().to_vec::<f32>()?, vec![0.5, -0.6]);
        Ok(())
    }
}
