//! Batch normalization (Ioffe & Szegedy 2015): normalize each channel by the batch's
//! statistics in training (updating running estimates), by the running estimates in
//! evaluation; then scale by γ and shift by β.

use crate::{no_grad, Error, Result, Tensor};

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
    /// is not `[channels]`; [`Error::InvalidArgument`] for a batch with one value per channel
    /// in training.
    pub fn batch_norm(
        &self,
        running: Option<RunningStats<'_>>,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        training: bool,
        eps: f64,
    ) -> Result<Tensor> {
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
        }
        let mut bshape = vec![1; self.rank()];
        bshape[1] = c;
        let dims: Vec<usize> = (0..self.rank()).filter(|&d| d != 1).collect();
        let count = self.numel() / c.max(1);
        let (mean, var) = match running {
            Some(r) if !training => (
                r.mean.detach().reshape(&bshape)?,
                r.var.detach().reshape(&bshape)?,
            ),
            _ => {
                if count <= 1 && training {
                    return Err(Error::invalid(
                        op,
                        format!(
                            "expected more than 1 value per channel when training, got input {}",
                            self.shape()
                        ),
                    ));
                }
                let mean = self.mean_keepdim(&dims)?;
                let var = self.sub(&mean)?.sqr()?.mean_keepdim(&dims)?;
                if let (Some(r), true) = (running, training) {
                    no_grad(|| -> Result<()> {
                        let unbiased = var
                            .detach()
                            .mul_scalar(count as f64 / (count as f64 - 1.0))?;
                        let m = r.momentum;
                        r.mean.copy_from(
                            &r.mean
                                .mul_scalar(1.0 - m)?
                                .add(&mean.detach().reshape(&[c])?.mul_scalar(m)?)?,
                        )?;
                        r.var.copy_from(
                            &r.var
                                .mul_scalar(1.0 - m)?
                                .add(&unbiased.reshape(&[c])?.mul_scalar(m)?)?,
                        )
                    })?;
                }
                (mean, var)
            }
        };
        let mut y = self.sub(&mean)?.div(&var.add_scalar(eps)?.sqrt()?)?;
        if let Some(w) = weight {
            y = y.mul(&w.reshape(&bshape)?)?;
        }
        if let Some(b) = bias {
            y = y.add(&b.reshape(&bshape)?)?;
        }
        Ok(y)
    }
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
