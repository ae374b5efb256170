//! Local response normalization across channels (AlexNet, Krizhevsky et al. 2012).

use crate::{Error, Result, Tensor};

impl Tensor {
    /// Local response normalization over channels, as `torch.nn.functional.local_response_norm`:
    ///
    /// `b[c] = a[c] / (k + α/n · Σ_{c' ∈ window(c)} a[c']²)^β`
    ///
    /// where the window holds the `n = size` channels from `c - ⌊n/2⌋` to `c + ⌊(n-1)/2⌋`
    /// (clipped at the edges, still divided by `n`). `self` is `[batch, channels, ...]`.
    /// A composite of differentiable ops, so its gradient is exact by construction.
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] for inputs of rank < 3; [`Error::OutOfRange`] for
    /// `size == 0`.
    pub fn local_response_norm(
        &self,
        size: usize,
        alpha: f64,
        beta: f64,
        k: f64,
    ) -> Result<Tensor> {
        if self.rank() < 3 {
            return Err(Error::UnexpectedShape {
                op: "local_response_norm",
                expected: "an input of shape [batch, channels, ...]".into(),
                got: self.shape().clone(),
            });
        }
        if size == 0 {
            return Err(Error::out_of_range(
                "local_response_norm",
                "size",
                "at least 1",
                size,
            ));
        }
        let c = self.dims()[1];
        let padded = self.sqr()?.pad_dim(1, size / 2, (size - 1) / 2)?;
        let mut window = padded.narrow(1, 0, c)?;
        for j in 1..size {
            window = window.add(&padded.narrow(1, j, c)?)?;
        }
        let div = window
            .mul_scalar(alpha / size as f64)?
            .add_scalar(k)?
            .powf(beta)?;
        self.div(&div)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, tensor};
    use crate::Result;

    #[test]
    fn lrn_matches_the_formula() -> Result<()> {
        // 3 channels of one pixel: a = [1, 2, 3], size 3, alpha 3 (α/n = 1), beta 1, k 1:
        // b0 = 1/(1 + 1 + 4) , b1 = 2/(1 + 1 + 4 + 9), b2 = 3/(1 + 4 + 9)
        let x = tensor(&[1.0, 2.0, 3.0], &[1, 3, 1])?;
        assert_close(
            &x.local_response_norm(3, 3.0, 1.0, 1.0)?,
            &[1.0 / 6.0, 2.0 / 15.0, 3.0 / 14.0],
            1e-12,
        )
    }

    #[test]
    fn lrn_gradient_matches_finite_differences() -> Result<()> {
        gradcheck(&[&[2, 6, 2, 2]], |x| {
            x[0].local_response_norm(5, 0.5, 0.75, 2.0)
        })?;
        gradcheck(&[&[1, 4, 3]], |x| {
            x[0].local_response_norm(2, 1.0, 0.75, 1.0)
        })
    }
}
