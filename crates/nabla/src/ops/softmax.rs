//! softmax and log_softmax along a dim, computed stably (max subtracted) as primitives.

use super::rule;
use crate::{Dim, Error, Result, Tensor};

impl Tensor {
    /// Runs a row kernel over `dim` (moved last, made contiguous) and moves the dim back.
    fn along_dim_rows(&self, d: usize, op: &'static str, log: bool) -> Result<Tensor> {
        let rank = self.rank();
        let mut perm: Vec<usize> = (0..rank).filter(|&i| i != d).collect();
        perm.push(d);
        let moved = self.detach().permute(&perm)?;
        let r = self.dims()[d];
        let out = super::kernels::softmax::rows(&moved, r, log, op)?;
        let mut inverse = vec![0usize; rank];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        out.permute(&inverse)
    }

    /// `softmax(x)_i = e^(x_i) / Σ_j e^(x_j)` along `dim`.
    pub fn softmax<D: Dim>(&self, dim: D) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("softmax", self, self, |x| x.softmax(dim));
        let d = dim.resolve(self.rank(), "softmax")?;
        let y = self.along_dim_rows(d, "softmax", false)?;
        // ∂L/∂x = y ⊙ (g - Σ_j g_j y_j)
        Ok(y.record(
            rule("SoftmaxBackward", move |_, y, g| {
                Ok(vec![Some(y.mul(&g.sub(&g.mul(y)?.sum_keepdim(&[d])?)?)?)])
            }),
            &[self],
        ))
    }

    /// `log softmax(x)` along `dim`, computed as `x - logsumexp(x)` without forming softmax.
    pub fn log_softmax<D: Dim>(&self, dim: D) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("log_softmax", self, self, |x| x.log_softmax(dim));
        let d = dim.resolve(self.rank(), "log_softmax")?;
        let y = self.along_dim_rows(d, "log_softmax", true)?;
        // ∂L/∂x = g - softmax(x) · Σ_j g_j, softmax = e^y
        Ok(y.record(
            rule("LogSoftmaxBackward", move |_, y, g| {
                Ok(vec![Some(g.sub(&y.exp()?.mul(&g.sum_keepdim(&[d])?)?)?)])
            }),
            &[self],
        ))
    }
}

impl Tensor {
    /// Mean cross-entropy between logits `self` (`[batch, classes]`) and integer class
    /// `targets` (`[batch]`), computed through `log_softmax` for stability. With label
    /// smoothing `s` the target distribution is `(1 - s)·onehot + s / classes`.
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] for mismatched shapes; [`Error::IndexOutOfRange`] for a
    /// target outside `0..classes`; [`Error::OutOfRange`] for `s` outside `[0, 1]`.
    pub fn cross_entropy(&self, targets: &Tensor, label_smoothing: f64) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("cross_entropy", self, self, |x| x
            .cross_entropy(targets, label_smoothing));
        let op = "cross_entropy";
        if self.rank() != 2 || targets.rank() != 1 || targets.dims()[0] != self.dims()[0] {
            return Err(Error::UnexpectedShape {
                op,
                expected: format!(
                    "logits [batch, classes] with targets [batch], targets are {}",
                    targets.shape()
                ),
                got: self.shape().clone(),
            });
        }
        if !(0.0..=1.0).contains(&label_smoothing) {
            return Err(Error::out_of_range(
                op,
                "label smoothing",
                "in [0, 1]",
                label_smoothing,
            ));
        }
        let (n, classes) = (self.dims()[0], self.dims()[1]);
        let logp = self.log_softmax(1)?;
        let idx = Tensor::from_vec(
            targets
                .to_indices(classes, op)?
                .into_iter()
                .map(|i| i as i64)
                .collect(),
            &[n, 1],
            &self.device(),
        )?;
        let nll = logp.gather(1, &idx)?.neg()?.mean_all()?;
        if label_smoothing == 0.0 {
            return Ok(nll);
        }
        let smooth = logp.mean(&[1])?.neg()?.mean_all()?;
        nll.mul_scalar(1.0 - label_smoothing)?
            .add(&smooth.mul_scalar(label_smoothing)?)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};
    use crate::Result;

    #[test]
    fn softmax_matches_hand_values_and_is_stable() -> Result<()> {
        // softmax([1, 2, 3]) = e^(x - 3) / Σ = [0.09003057, 0.24472847, 0.66524096]
        let x = tensor(&[1.0, 2.0, 3.0, 1001.0, 1002.0, 1003.0], &[2, 3])?;
        let p = [
            0.090_030_573_170_380_46,
            0.244_728_471_054_797_6,
            0.665_240_955_774_821_8,
        ];
        let both: Vec<f64> = p.iter().chain(p.iter()).copied().collect();
        assert_close(&x.softmax(1)?, &both, 1e-12)?;
        let logs: Vec<f64> = both.iter().map(|v| v.ln()).collect();
        assert_close(&x.log_softmax(-1)?, &logs, 1e-12)?;
        // along dim 0 of the transpose
        assert_close(&x.t()?.softmax(0)?.t()?.contiguous()?, &both, 1e-12)
    }

    #[test]
    fn cross_entropy_matches_hand_values() -> Result<()> {
        // logits [0, 0] with target 0: -log(1/2) = ln 2
        let logits = tensor(&[0.0, 0.0, 2.0, 0.0], &[2, 2])?;
        let t = tensor(&[0.0, 0.0], &[2])?;
        let l1 = (1.0 + (-2f64).exp()).ln(); // -log softmax([2, 0])[0]
        assert_close(
            &logits.cross_entropy(&t, 0.0)?,
            &[(std::f64::consts::LN_2 + l1) / 2.0],
            1e-12,
        )?;
        assert!(logits
            .cross_entropy(&tensor(&[0.0, 2.0], &[2])?, 0.0)
            .is_err());
        gradcheck(&[&[3, 4]], |x| {
            x[0].cross_entropy(&tensor(&[3.0, 0.0, 1.0], &[3])?, 0.1)
        })
    }

    #[test]
    fn softmax_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[3, 4]], |x| x[0].softmax(1))?;
        gradcheck(&[&[3, 4, 2]], |x| x[0].softmax(1))?;
        gradcheck(&[&[3, 4]], |x| x[0].log_softmax(0))?;
        let nc = GradcheckOpts {
            non_contiguous: true,
            ..Default::default()
        };
        gradcheck_with(&[&[3, 4]], nc, |x| x[0].log_softmax(-1))
    }
}
