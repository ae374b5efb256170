//! The optimizer-update kernel family: one fused, in-place step of a parameter from its
//! gradient and its state buffers (momentum, moments), on the parameter's device, as
//! PyTorch's `foreach`/`fused` optimizers run it. The formulas follow PyTorch's
//! documentation; the constants that change per step (bias corrections) are the caller's.

use crate::{DType, Error, Result, Tensor};

/// One optimizer rule with its constants for this step. All values are f32, as the state.
/// The fields are the symbols of each variant's formula (`lr` is η, `weight_decay` λ).
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UpdateRule {
    /// `w ← w − η(g + λw)`; no buffer.
    Sgd { lr: f32, weight_decay: f32 },
    /// `g ← g + λw`; `b ← μb + (1 − τ)g` (`b = g` when `first`); `w ← w − η(g + μb)`
    /// (`nesterov`) or `w ← w − ηb`. Buffer: the momentum `b`.
    Momentum {
        lr: f32,
        mu: f32,
        dampening: f32,
        weight_decay: f32,
        nesterov: bool,
        first: bool,
    },
    /// `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`,
    /// `w ← w − step_size·m / (√v / bias_correction2_sqrt + ε)` where
    /// `step_size = η / (1 − β₁ᵗ)` and `bias_correction2_sqrt = √(1 − β₂ᵗ)`. Weight decay is
    /// added to `g` (Adam) or applied as `w ← w(1 − ηλ)` first (`decoupled`, AdamW).
    /// Buffers: `m`, `v`.
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        decoupled: bool,
        step_size: f32,
        bias_correction2_sqrt: f32,
    },
    /// `g ← g + λw`, `v ← αv + (1 − α)g²`, `d = g / (√v + ε)`; with momentum μ > 0,
    /// `b ← μb + d` and `w ← w − ηb`, else `w ← w − ηd`. Buffers: `v`, and `b` with momentum.
    RmsProp {
        lr: f32,
        alpha: f32,
        eps: f32,
        momentum: f32,
        weight_decay: f32,
    },
    /// `g ← g + λw`, `s ← s + g²`, `w ← w − ηg / (√s + ε)`. Buffer: the sum `s`.
    Adagrad {
        lr: f32,
        eps: f32,
        weight_decay: f32,
    },
}

impl UpdateRule {
    /// How many state buffers the rule reads and writes, in the order it takes them.
    pub fn buffers(&self) -> usize {
        match self {
            UpdateRule::Sgd { .. } => 0,
            UpdateRule::Momentum { .. } | UpdateRule::Adagrad { .. } => 1,
            UpdateRule::Adam { .. } => 2,
            UpdateRule::RmsProp { momentum, .. } => 1 + usize::from(*momentum > 0.0),
        }
    }
}

impl Tensor {
    /// One optimizer step of this parameter, in place: `rule` from `grad`, reading and
    /// writing `state` (the rule's buffers, see [`UpdateRule::buffers`]). Not recorded by
    /// autograd; every handle of the parameter sees the new values (and inference caches of
    /// transformed weights know them stale).
    ///
    /// # Errors
    /// [`Error::DeviceMismatch`] when the tensors live apart; [`Error::DType`] unless all are
    /// F32; [`Error::InvalidArgument`] when the element counts differ, the number of buffers
    /// is not the rule's, or the parameter or a buffer is not contiguous.
    pub fn update_(&self, grad: &Tensor, state: &[&Tensor], rule: UpdateRule) -> Result<()> {
        let op = "optimizer update";
        let others: Vec<Option<&Tensor>> = std::iter::once(Some(grad))
            .chain(state.iter().map(|s| Some(*s)))
            .collect();
        super::check_devices(op, self, &others)?;
        for t in std::iter::once(self).chain(others.iter().flatten().copied()) {
            if t.dtype() != DType::F32 {
                return Err(Error::DType {
                    op,
                    expected: DType::F32,
                    got: t.dtype(),
                });
            }
            if t.numel() != self.numel() {
                return Err(Error::invalid(
                    op,
                    format!(
                        "the parameter has {} values but a gradient or buffer has {}",
                        self.numel(),
                        t.numel()
                    ),
                ));
            }
        }
        if state.len() != rule.buffers() {
            return Err(Error::invalid(
                op,
                format!(
                    "{rule:?} takes {} state buffers, got {}",
                    rule.buffers(),
                    state.len()
                ),
            ));
        }
        super::kernels::optimizer::update(self, grad, state, rule, op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Device;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v, &[v.len()], &Device::Cpu).expect("a tensor")
    }

    #[test]
    fn each_rule_matches_its_formula() -> Result<()> {
        let (w0, g0) = ([1.0f32, 2.0], [0.5f32, -1.0]);
        // SGD with weight decay 0.1, lr 0.5: w − 0.5(g + 0.1w).
        let w = t(&w0);
        w.update_(
            &t(&g0),
            &[],
            UpdateRule::Sgd {
                lr: 0.5,
                weight_decay: 0.1,
            },
        )?;
        assert_eq!(
            w.to_vec::<f32>()?,
            vec![1.0 - 0.5 * 0.6, 2.0 - 0.5 * (-0.8)]
        );
        // Nesterov momentum, first step: b = g, w − lr(g + μg).
        let (w, b) = (t(&w0), t(&[9.0, 9.0]));
        let rule = UpdateRule::Momentum {
            lr: 0.1,
            mu: 0.9,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: true,
            first: true,
        };
        w.update_(&t(&g0), &[&b], rule)?;
        assert_eq!(b.to_vec::<f32>()?, g0.to_vec());
        assert_eq!(w.to_vec::<f32>()?, vec![1.0 - 0.1 * 0.95, 2.0 + 0.1 * 1.9]);
        // Adagrad's first step moves by lr·sign(g).
        let (w, s) = (t(&w0), t(&[0.0, 0.0]));
        let rule = UpdateRule::Adagrad {
            lr: 0.1,
            eps: 0.0,
            weight_decay: 0.0,
        };
        w.update_(&t(&g0), &[&s], rule)?;
        assert_eq!(w.to_vec::<f32>()?, vec![0.9, 2.1]);
        assert_eq!(s.to_vec::<f32>()?, vec![0.25, 1.0]);
        Ok(())
    }

    #[test]
    fn large_parameters_split_across_threads_give_the_serial_result() -> Result<()> {
        let n = (1 << 18) + 7;
        let values: Vec<f32> = (0..n).map(|i| (i % 13) as f32 - 6.0).collect();
        let grads: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
        let rule = UpdateRule::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            decoupled: true,
            step_size: 0.1,
            bias_correction2_sqrt: 0.0316,
        };
        let (w, m, v) = (t(&values), t(&vec![0.1; n]), t(&vec![0.2; n]));
        crate::testing::pool(2).install(|| w.update_(&t(&grads), &[&m, &v], rule))?;
        let (mut ws, mut ms, mut vs) = (values.clone(), vec![0.1; n], vec![0.2; n]);
        crate::cpu::optimizer::range(&rule, &mut ws, &grads, &mut [&mut ms, &mut vs]);
        assert_eq!(w.to_vec::<f32>()?, ws);
        assert_eq!(m.to_vec::<f32>()?, ms);
        assert_eq!(v.to_vec::<f32>()?, vs);
        Ok(())
    }

    #[test]
    fn mismatched_inputs_are_refused() {
        let w = t(&[1.0, 2.0]);
        let rule = UpdateRule::Adagrad {
            lr: 0.1,
            eps: 0.0,
            weight_decay: 0.0,
        };
        assert!(w.update_(&t(&[1.0]), &[&t(&[0.0, 0.0])], rule).is_err());
        assert!(w.update_(&t(&[1.0, 1.0]), &[], rule).is_err());
        let f64s = Tensor::from_slice(&[0.0f64, 0.0], &[2], &Device::Cpu).expect("a tensor");
        let err = w.update_(&t(&[1.0, 1.0]), &[&f64s], rule).unwrap_err();
        assert!(err.to_string().contains("optimizer update"), "{err}");
    }
}
