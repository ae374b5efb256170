//! Regression losses: the course's half sum of squared errors, MSE, L1, Huber.

use super::Reduction;
use crate::{Error, Result};
use nabla::Tensor;

fn check(op: &'static str, f: &Tensor, y: &Tensor) -> Result<()> {
    if f.shape() != y.shape() {
        return Err(Error::shape(
            op,
            "a prediction and a target of the same shape",
            format!("{} and {}", f.shape(), y.shape()),
        ));
    }
    Ok(())
}

/// The course's loss `J = ½ Σ (y − f)²`, summed over every element (no averaging), so that
/// `∂J/∂f = f − y`.
///
/// # Errors
/// When shapes differ.
pub fn half_sse(f: &Tensor, y: &Tensor) -> Result<Tensor> {
    check("half_sse", f, y)?;
    Ok(y.sub(f)?.sqr()?.sum_all()?.mul_scalar(0.5)?)
}

/// Mean (or summed) squared error `(f − y)²`.
///
/// # Errors
/// When shapes differ.
pub fn mse(f: &Tensor, y: &Tensor, reduction: Reduction) -> Result<Tensor> {
    check("mse", f, y)?;
    reduction.apply(&f.sub(y)?.sqr()?)
}

/// Absolute error `|f − y|`.
///
/// # Errors
/// When shapes differ.
pub fn l1(f: &Tensor, y: &Tensor, reduction: Reduction) -> Result<Tensor> {
    check("l1", f, y)?;
    reduction.apply(&f.sub(y)?.abs()?)
}

/// Huber loss: `½ d²` for `|d| ≤ δ`, `δ(|d| − ½δ)` beyond, with `d = f − y`.
///
/// # Errors
/// When shapes differ or `delta ≤ 0`.
pub fn huber(f: &Tensor, y: &Tensor, delta: f64, reduction: Reduction) -> Result<Tensor> {
    check("huber", f, y)?;
    if delta.is_nan() || delta <= 0.0 {
        return Err(Error::out_of_range("huber", "delta", "positive", delta));
    }
    let d = f.sub(y)?.abs()?;
    // min(|d|, δ) = q; loss = ½q² + δ(|d| − q): equals ½d² inside and δ(|d| − ½δ) outside.
    let q = d.clamp(0.0, delta)?;
    reduction.apply(
        &q.sqr()?
            .mul_scalar(0.5)?
            .add(&d.sub(&q)?.mul_scalar(delta)?)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla::Device;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v, &[v.len()], &Device::Cpu).unwrap()
    }

    #[test]
    fn regression_losses_match_hand_values() -> Result<()> {
        let (f, y) = (t(&[1.0, 2.0, 5.0]), t(&[1.5, 2.0, 2.0]));
        // d = [-0.5, 0, 3]
        assert_eq!(half_sse(&f, &y)?.to_scalar::<f32>()?, 0.5 * (0.25 + 9.0));
        assert!((mse(&f, &y, Reduction::Mean)?.to_scalar::<f32>()? - 9.25 / 3.0).abs() < 1e-6);
        assert_eq!(mse(&f, &y, Reduction::Sum)?.to_scalar::<f32>()?, 9.25);
        assert_eq!(l1(&f, &y, Reduction::Sum)?.to_scalar::<f32>()?, 3.5);
        // huber δ=1: 0.125 + 0 + (3 - 0.5) = 2.625 (torch.nn.functional.huber_loss, sum)
        assert_eq!(
            huber(&f, &y, 1.0, Reduction::Sum)?.to_scalar::<f32>()?,
            2.625
        );
        assert_eq!(
            mse(&f, &y, Reduction::None)?.to_vec::<f32>()?,
            vec![0.25, 0.0, 9.0]
        );
        assert!(mse(&f, &t(&[1.0]), Reduction::Mean).is_err());
        Ok(())
    }

    #[test]
    fn half_sse_gradient_is_f_minus_y() -> Result<()> {
        let f = t(&[1.0, 2.0, 5.0]).requires_grad();
        let g = half_sse(&f, &t(&[1.5, 2.0, 2.0]))?.backward()?;
        assert_eq!(g.get(&f).unwrap().to_vec::<f32>()?, vec![-0.5, 0.0, 3.0]);
        Ok(())
    }
}
