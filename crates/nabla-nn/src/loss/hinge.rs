//! The multi-class hinge loss (the SVM loss of Weston & Watkins / CS231n).

use super::Reduction;
use crate::{Error, Result};
use nabla::{Device, Tensor};

/// Multi-class hinge loss: per example `Σ_{j ≠ y} max(0, margin + s_j − s_y)` over the
/// scores `s` (`[n, C]`) and integer targets `[n]`.
///
/// PyTorch's `multi_margin_loss` is this divided by C.
///
/// # Errors
/// On shape mismatch or a target outside `0..C`.
pub fn hinge(
    scores: &Tensor,
    targets: &Tensor,
    margin: f64,
    reduction: Reduction,
) -> Result<Tensor> {
    if scores.rank() != 2 || targets.rank() != 1 || targets.dims()[0] != scores.dims()[0] {
        return Err(Error::shape(
            "hinge",
            "scores [n, C] and targets [n]",
            format!("{} and {}", scores.shape(), targets.shape()),
        ));
    }
    let (n, c) = (scores.dims()[0], scores.dims()[1]);
    let idx: Vec<i64> = targets
        .to_indices(c, "hinge")?
        .into_iter()
        .map(|i| i as i64)
        .collect();
    let idx = Tensor::from_vec(idx, &[n, 1], &Device::Cpu)?.to_device(&scores.device())?;
    let correct = scores.gather(1, &idx)?; // [n, 1]
    let margins = scores.sub(&correct)?.add_scalar(margin)?.relu()?; // includes j = y: max(0, margin)
                                                                     // Remove the j = y term, which is exactly max(0, margin).
    let per_example = margins.sum(&[1])?.sub_scalar(margin.max(0.0))?;
    reduction.apply(&per_example)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hinge_matches_cs231n_example() -> Result<()> {
        // CS231n: scores [3.2, 5.1, -1.7] for class 0: max(0, 5.1-3.2+1) + max(0, -1.7-3.2+1) = 2.9
        let s = Tensor::from_slice(&[3.2f32, 5.1, -1.7], &[1, 3], &Device::Cpu)?;
        let y = Tensor::from_slice(&[0i64], &[1], &Device::Cpu)?;
        assert!((hinge(&s, &y, 1.0, Reduction::Mean)?.to_scalar::<f32>()? - 2.9).abs() < 1e-5);
        Ok(())
    }
}
