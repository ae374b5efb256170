//! Batch normalization (Ioffe & Szegedy 2015): normalize each channel by the batch's
//! statistics in training (updating running estimates), by the running estimates in
//! evaluation; then scale by γ and shift by β.
//!
//! One fused op rather than a chain of element-wise ones: the forward pass reads the input
//! three times per channel (mean, variance, output) while the channel is in cache, and only
//! the input, the per-channel mean and `1/√(var + eps)` are kept for the backward pass (the
//! chain kept five more tensors of the input's size). With `x̂ = (x − μ)·s`,
//! `s = 1/√(σ² + eps)` and `N` values per channel, the gradients are
//!
//! ```text
//! ∂L/∂β = Σ g        ∂L/∂γ = Σ g·x̂
//! ∂L/∂x = γ·s·(g − Σg/N − x̂·Σ(g·x̂)/N)     (batch statistics)
//! ∂L/∂x = γ·s·g                            (running statistics: μ, s are constants)
//! ```

use super::kernels::batch_norm as kernels;
use super::rule;
use crate::cpu::batch_norm::Channels;
use crate::{no_grad, DType, Error, Result, Tensor};

/// Running statistics of a batch-norm layer, updated in place during training.
#[derive(Clone, Copy)]
pub struct RunningStats<'a> {
    /// Running mean, `[channels]`.
    pub mean: &'a Tensor,
    /// Running (unbiased) variance, `[channels]`.
    pub var: &'a Tensor,
    /// Weight of the new batch statistic: `running = (1 - momentum)·running + momentum·batch`.
    pub momentum: f64,
}

impl Tensor {
    /// Batch normalization over dim 1 of `self` (`[batch, channels, ...]`).
    ///
    /// In training (or when `running` is `None`) it uses the batch mean and biased variance
    /// over all dims but 1, and updates `running` with the unbiased variance as PyTorch
    /// does. In evaluation it uses the running statistics. The result is
    /// `(x - mean) / √(var + eps) · weight + bias`.
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] when the input has rank < 2 or a statistic/affine tensor
    /// is not `[channels]`, or the batch has one value per channel in training.
    pub fn batch_norm(
        &self,
        running: Option<RunningStats<'_>>,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        training: bool,
        eps: f64,
    ) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("batch_norm", self, (self, weight, bias), |(x, w, b)| {
            half_batch_norm(&x, running, w.as_ref(), b.as_ref(), training, eps)
        });
        let op = "batch_norm";
        if self.rank() < 2 {
            return Err(Error::UnexpectedShape {
                op,
                expected: "an input of shape [batch, channels, ...]".into(),
                got: self.shape().clone(),
            });
        }
        let c = self.dims()[1];
        let per_channel = [
            weight,
            bias,
            running.map(|r| r.mean),
            running.map(|r| r.var),
        ];
        for t in per_channel.into_iter().flatten() {
            if t.dims() != [c] {
                return Err(Error::UnexpectedShape {
                    op,
                    expected: format!("a per-channel tensor of shape [{c}]"),
                    got: t.shape().clone(),
                });
            }
            if t.dtype() != self.dtype() {
                return Err(Error::DType {
                    op,
                    expected: self.dtype(),
                    got: t.dtype(),
                });
            }
        }
        let ch = Channels {
            n: self.dims()[0],
            c,
            inner: self.dims()[2..].iter().product(),
        };
        let count = ch.count();
        let stats = match running {
            Some(r) if !training => {
                let (mean, var) = (r.mean.to_vec::<f64>()?, r.var.to_vec::<f64>()?);
                Some(mean.into_iter().zip(var).collect::<Vec<_>>())
            }
            _ if count <= 1 && training => {
                return Err(Error::UnexpectedShape {
                    op,
                    expected: "more than 1 value per channel when training".into(),
                    got: self.shape().clone(),
                })
            }
            _ => None,
        };
        let batch_stats = stats.is_none();
        let affine = |t: Option<&Tensor>| t.map(|t| t.to_vec::<f64>()).transpose();
        let (gamma, beta) = (affine(weight)?, affine(bias)?);
        let (gamma_v, beta_v) = (gamma.as_deref(), beta.as_deref());
        let (y, mean_var) = kernels::forward(self, ch, stats.as_deref(), gamma_v, beta_v, eps, op)?;
        if let (Some(r), true) = (running, training) {
            update_running(r, &mean_var, count)?;
        }
        // What the backward pass needs of the statistics: μ and s = 1/√(σ² + eps).
        let mean_inv: Vec<(f64, f64)> = mean_var
            .iter()
            .map(|&(m, v)| (m, 1.0 / (v + eps).sqrt()))
            .collect();
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        let (has_w, has_b) = (weight.is_some(), bias.is_some());
        Ok(y.record(
            rule("NativeBatchNormBackward", move |inp, _, g| {
                let x = &inp[0];
                let w = if has_w { Some(&inp[1]) } else { None };
                let b = if has_b {
                    Some(&inp[1 + has_w as usize])
                } else {
                    None
                };
                let want_x = x.tracks_grad();
                let (dx, dgb) = kernels::backward(
                    x,
                    g,
                    ch,
                    &mean_inv,
                    gamma.as_deref(),
                    batch_stats,
                    want_x,
                    "batch_norm",
                )?;
                let per_channel = |f: fn(&(f64, f64)) -> f64, t: &Tensor| {
                    let v: Vec<f64> = dgb.iter().map(f).collect();
                    Tensor::from_vec(v, &[ch.c], &t.device())?.to_dtype_untracked(t.dtype())
                };
                let mut grads = vec![dx];
                if let Some(w) = w {
                    grads.push(if w.tracks_grad() {
                        Some(per_channel(|p| p.0, w)?)
                    } else {
                        None
                    });
                }
                if let Some(b) = b {
                    grads.push(if b.tracks_grad() {
                        Some(per_channel(|p| p.1, b)?)
                    } else {
                        None
                    });
                }
                Ok(grads)
            }),
            &inputs,
        ))
    }
}

/// `running = (1 − m)·running + m·batch`, with the unbiased batch variance (as PyTorch).
fn update_running(r: RunningStats<'_>, mean_var: &[(f64, f64)], count: usize) -> Result<()> {
    let m = r.momentum;
    let unbias = count as f64 / (count as f64 - 1.0);
    let blend = |t: &Tensor, batch: &dyn Fn(&(f64, f64)) -> f64| -> Result<()> {
        let old = t.to_vec::<f64>()?;
        let new: Vec<f64> = old
            .iter()
            .zip(mean_var)
            .map(|(&o, s)| (1.0 - m) * o + m * batch(s))
            .collect();
        let new = Tensor::from_vec(new, t.dims(), &t.device())?;
        no_grad(|| t.copy_from(&new))
    };
    blend(r.mean, &|s| s.0)?;
    blend(r.var, &|s| s.1 * unbias)
}

/// Batch norm of an f32 input (`x`, the upcast of a half-precision one) whose running
/// statistics may be half precision: they are updated through f32 copies and rounded back.
fn half_batch_norm(
    x: &Tensor,
    running: Option<RunningStats<'_>>,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    training: bool,
    eps: f64,
) -> Result<Tensor> {
    let Some(r) = running else {
        return x.batch_norm(None, weight, bias, training, eps);
    };
    let (mean, var) = (
        r.mean.to_dtype_untracked(DType::F32)?,
        r.var.to_dtype_untracked(DType::F32)?,
    );
    let stats = RunningStats {
        mean: &mean,
        var: &var,
        momentum: r.momentum,
    };
    let y = x.batch_norm(Some(stats), weight, bias, training, eps)?;
    // F32 statistics were updated in place already (`to_dtype_untracked` shares them).
    if training && r.mean.dtype() != DType::F32 {
        r.mean.copy_from(&mean)?;
        r.var.copy_from(&var)?;
    }
    Ok(y)
}

/// The map `y = x·scale + shift` that batch norm applies to a channel of mean `mean` and
/// variance `var`, with weight `gamma` (γ) and bias `beta` (β): `scale = γ/√(var + eps)` and
/// `shift = β − mean·scale`, in f64. In evaluation (running statistics) this is what a
/// convolution before it can apply instead ([`Tensor::conv2d_affine`]).
pub fn batch_norm_affine(mean: f64, var: f64, gamma: f64, beta: f64, eps: f64) -> (f64, f64) {
    let scale = gamma / (var + eps).sqrt();
    (scale, beta - mean * scale)
}

#[cfg(test)]
mod tests {
    use super::RunningStats;
    use crate::testing::{assert_close, gradcheck, tensor};
    use crate::Result;

    #[test]
    fn batch_norm_normalizes_per_channel_and_updates_running_stats() -> Result<()> {
        // Channel 0 holds 1, 3 (mean 2, biased var 1); channel 1 holds 10, 10 (var 0).
        let x = tensor(&[1.0, 10.0, 3.0, 10.0], &[2, 2])?;
        let mean = tensor(&[0.0, 0.0], &[2])?;
        let var = tensor(&[1.0, 1.0], &[2])?;
        let stats = RunningStats {
            mean: &mean,
            var: &var,
            momentum: 0.1,
        };
        let y = x.batch_norm(Some(stats), None, None, true, 0.0)?;
        assert_close(&y.narrow(1, 0, 1)?, &[-1.0, 1.0], 1e-12)?;
        // running = 0.9 * old + 0.1 * batch (unbiased var: channel 0 → 2, channel 1 → 0)
        assert_close(&mean, &[0.2, 1.0], 1e-12)?;
        assert_close(&var, &[0.9 + 0.2, 0.9], 1e-12)?;
        // Evaluation uses the running statistics.
        let w = tensor(&[2.0, 1.0], &[2])?;
        let b = tensor(&[0.5, 0.0], &[2])?;
        let e = x.batch_norm(Some(stats), Some(&w), Some(&b), false, 0.0)?;
        assert_close(
            &e.narrow(0, 0, 1)?,
            &[
                (1.0 - 0.2) / 1.1f64.sqrt() * 2.0 + 0.5,
                (10.0 - 1.0) / 0.9f64.sqrt(),
            ],
            1e-12,
        )
    }

    #[test]
    fn batch_norm_rejects_single_value_batches_in_training() -> Result<()> {
        assert!(tensor(&[1.0, 2.0], &[1, 2])?
            .batch_norm(None, None, None, true, 1e-5)
            .is_err());
        assert!(tensor(&[1.0, 2.0], &[1, 2])?
            .batch_norm(None, Some(&tensor(&[1.0], &[1])?), None, false, 1e-5)
            .is_err());
        Ok(())
    }

    #[test]
    fn batch_norm_gradient_matches_finite_differences() -> Result<()> {
        gradcheck(&[&[4, 3, 2, 2], &[3], &[3]], |x| {
            x[0].batch_norm(None, Some(&x[1]), Some(&x[2]), true, 1e-5)
        })?;
        gradcheck(&[&[5, 3], &[3], &[3]], |x| {
            x[0].batch_norm(None, Some(&x[1]), Some(&x[2]), true, 1e-5)
        })
    }
}

#[cfg(test)]
mod fused_tests {
    use super::RunningStats;
    use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};
    use crate::{DType, Device, Result, Tensor};

    #[test]
    fn batch_norm_gradients_in_evaluation_and_without_affine_parameters() -> Result<()> {
        let mean = tensor(&[0.5, -1.0, 2.0], &[3])?;
        let var = tensor(&[1.5, 0.25, 4.0], &[3])?;
        let stats = RunningStats {
            mean: &mean,
            var: &var,
            momentum: 0.1,
        };
        gradcheck(&[&[4, 3, 2], &[3], &[3]], |x| {
            x[0].batch_norm(Some(stats), Some(&x[1]), Some(&x[2]), false, 1e-5)
        })?;
        gradcheck(&[&[4, 3, 2], &[3]], |x| {
            x[0].batch_norm(None, Some(&x[1]), None, true, 1e-5)
        })?;
        gradcheck(&[&[4, 3, 2], &[3]], |x| {
            x[0].batch_norm(None, None, Some(&x[1]), true, 1e-5)
        })?;
        let nc = GradcheckOpts {
            non_contiguous: true,
            ..Default::default()
        };
        gradcheck_with(&[&[3, 4, 5]], nc, |x| {
            x[0].batch_norm(None, None, None, true, 1e-5)
        })
    }

    /// A tensor large enough for the channel-parallel path, in f32 against f64.
    #[test]
    fn batch_norm_in_f32_on_the_pool_agrees_with_f64() -> Result<()> {
        let x64 = Tensor::randn(&[8, 6, 40, 40], DType::F64, &Device::Cpu)?
            .mul_scalar(3.0)?
            .add_scalar(5.0)?;
        let w64 = Tensor::randn(&[6], DType::F64, &Device::Cpu)?;
        let b64 = Tensor::randn(&[6], DType::F64, &Device::Cpu)?;
        let g64 = Tensor::randn(&[8, 6, 40, 40], DType::F64, &Device::Cpu)?;
        let run = |dtype: DType| -> Result<Vec<Vec<f64>>> {
            let x = x64.to_dtype(dtype)?.requires_grad();
            let w = w64.to_dtype(dtype)?.requires_grad();
            let b = b64.to_dtype(dtype)?.requires_grad();
            let y = x.batch_norm(None, Some(&w), Some(&b), true, 1e-5)?;
            let grads = y.mul(&g64.to_dtype(dtype)?)?.sum_all()?.backward()?;
            let mut out = vec![y.to_vec::<f64>()?];
            for t in [&x, &w, &b] {
                out.push(grads.get(t).expect("gradient").to_vec::<f64>()?);
            }
            Ok(out)
        };
        let (want, got) = (run(DType::F64)?, run(DType::F32)?);
        for (w, g) in want.iter().zip(&got) {
            assert_close(
                &Tensor::from_vec(g.clone(), &[g.len()], &Device::Cpu)?,
                w,
                1e-3,
            )?;
        }
        Ok(())
    }
}
