//! Inverted dropout: zero each element with probability p and scale the survivors by
//! 1 / (1 - p) in training, so that evaluation needs no rescaling.

use super::kernels::random::{fill, Distribution};
use crate::rng::{with_global_rng, Rng};
use crate::{Error, Result, Tensor};

impl Tensor {
    /// Inverted dropout with the process-wide generator (see [`crate::manual_seed`]); the
    /// identity when `training` is false.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when `p` is outside `[0, 1]`.
    pub fn dropout(&self, p: f64, training: bool) -> Result<Tensor> {
        if !training || p == 0.0 {
            check_p(p)?;
            return Ok(self.clone());
        }
        with_global_rng(|rng| self.dropout_with(rng, p))
    }

    /// Inverted dropout drawing the mask from `rng`.
    pub fn dropout_with(&self, rng: &mut Rng, p: f64) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("dropout", self, self, |x| x.dropout_with(rng, p));
        check_p(p)?;
        let keep = 1.0 - p;
        let scale = if keep > 0.0 { 1.0 / keep } else { 0.0 };
        let dist = Distribution::Bernoulli { keep, value: scale };
        let mask = fill(rng, dist, self.shape().clone(), self.dtype(), "dropout")?;
        // The mask is a constant: y = x ⊙ m, ∂y/∂x = m.
        self.mul(&mask)
    }
}

fn check_p(p: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::out_of_range(
            "dropout",
            "the probability",
            "in [0, 1]",
            p,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::tensor;
    use crate::{Result, Rng};

    #[test]
    fn dropout_zeroes_about_p_and_scales_survivors() -> Result<()> {
        let x = tensor(&vec![1.0; 10_000], &[10_000])?;
        let y = x.dropout_with(&mut Rng::new(1), 0.3)?.to_vec::<f64>()?;
        let zeros = y.iter().filter(|&&v| v == 0.0).count();
        assert!((2700..3300).contains(&zeros), "{zeros} zeros");
        assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-12));
        // Mean is preserved in expectation.
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        assert!((mean - 1.0).abs() < 0.05);
        Ok(())
    }

    #[test]
    fn dropout_is_identity_in_eval_and_rejects_bad_p() -> Result<()> {
        let x = tensor(&[1.0, 2.0], &[2])?;
        assert_eq!(x.dropout(0.5, false)?.to_vec::<f64>()?, vec![1.0, 2.0]);
        assert!(x.dropout(1.5, true).is_err());
        assert_eq!(
            x.dropout_with(&mut Rng::new(0), 1.0)?.to_vec::<f64>()?,
            vec![0.0, 0.0]
        );
        Ok(())
    }

    #[test]
    fn dropout_gradient_is_the_mask() -> Result<()> {
        let x = tensor(&[1.0; 100], &[100])?.requires_grad();
        let y = x.dropout_with(&mut Rng::new(5), 0.5)?;
        let g = y.sum_all()?.backward()?;
        assert_eq!(g.get(&x).unwrap().to_vec::<f64>()?, y.to_vec::<f64>()?);
        Ok(())
    }
}
