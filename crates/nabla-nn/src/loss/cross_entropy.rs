//! Classification losses: cross-entropy from logits (label smoothing, class weights), NLL,
//! binary cross-entropy with logits.

use super::Reduction;
use crate::{Error, Result};
use nabla::{Device, Tensor};

/// Options of [`cross_entropy_with`].
#[derive(Clone, Debug, Default)]
pub struct CrossEntropyOptions {
    /// Mix the one-hot target with the uniform distribution: `(1 − s)·onehot + s/C`.
    pub label_smoothing: f64,
    /// Per-class weights `[C]`; the mean is then weighted (divided by Σ w over the targets),
    /// as PyTorch.
    pub weight: Option<Tensor>,
    /// How per-example losses combine.
    pub reduction: Reduction,
}

/// Mean cross-entropy between logits `[n, C]` and integer targets `[n]`.
///
/// # Errors
/// On shape mismatch or a target outside `0..C`.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    Ok(logits.cross_entropy(targets, 0.0)?)
}

fn targets_as_index(
    logits: &Tensor,
    targets: &Tensor,
    op: &'static str,
) -> Result<(usize, usize, Tensor)> {
    if logits.rank() != 2 || targets.rank() != 1 || targets.dims()[0] != logits.dims()[0] {
        return Err(Error::shape(
            op,
            "logits [n, C] and targets [n]",
            format!("{} and {}", logits.shape(), targets.shape()),
        ));
    }
    let (n, c) = (logits.dims()[0], logits.dims()[1]);
    let idx: Vec<i64> = targets
        .to_indices(c, op)?
        .into_iter()
        .map(|i| i as i64)
        .collect();
    // The class indices, read on the host, go to the logits' device.
    let idx = Tensor::from_vec(idx, &[n, 1], &Device::Cpu)?.to_device(&logits.device())?;
    Ok((n, c, idx))
}

/// Cross-entropy with label smoothing, class weights and a reduction, matching
/// `torch.nn.functional.cross_entropy`.
///
/// # Errors
/// On shape mismatch, a target outside `0..C`, or a smoothing outside `[0, 1]`.
pub fn cross_entropy_with(
    logits: &Tensor,
    targets: &Tensor,
    opts: &CrossEntropyOptions,
) -> Result<Tensor> {
    let (n, c, idx) = targets_as_index(logits, targets, "cross_entropy")?;
    let s = opts.label_smoothing;
    if !(0.0..=1.0).contains(&s) {
        return Err(Error::out_of_range(
            "cross_entropy",
            "label smoothing",
            "in [0, 1]",
            s,
        ));
    }
    let logp = logits.log_softmax(1)?;
    let neg_picked = logp.gather(1, &idx)?.neg()?.reshape(&[n])?; // -log p[y_i]
    let (per_example, denom) = match &opts.weight {
        None => {
            let smooth = logp.mean(&[1])?.neg()?; // -(1/C) Σ_c log p_c
            (
                neg_picked
                    .mul_scalar(1.0 - s)?
                    .add(&smooth.mul_scalar(s)?)?,
                n as f64,
            )
        }
        Some(w) => {
            if w.dims() != [c] {
                return Err(Error::shape(
                    "cross_entropy",
                    format!("class weights [{c}]"),
                    w.shape(),
                ));
            }
            let w = w.to_dtype(logits.dtype())?;
            let w_y = w.index_select(0, &idx.reshape(&[n])?)?; // weight of each target
            let smooth = logp
                .mul(&w.reshape(&[1, c])?)?
                .sum(&[1])?
                .neg()?
                .div_scalar(c as f64)?;
            let per = neg_picked
                .mul(&w_y)?
                .mul_scalar(1.0 - s)?
                .add(&smooth.mul_scalar(s)?)?;
            (per, w_y.sum_all()?.to_scalar::<f64>()?)
        }
    };
    Ok(match opts.reduction {
        Reduction::Mean => per_example.sum_all()?.div_scalar(denom)?,
        Reduction::Sum => per_example.sum_all()?,
        Reduction::None => per_example,
    })
}

/// Negative log-likelihood of log-probabilities `[n, C]` at integer targets `[n]`, averaged.
///
/// # Errors
/// On shape mismatch or a target outside `0..C`.
pub fn nll(log_probs: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let (n, _, idx) = targets_as_index(log_probs, targets, "nll")?;
    Ok(log_probs
        .gather(1, &idx)?
        .neg()?
        .reshape(&[n])?
        .mean_all()?)
}

/// Binary cross-entropy on logits, stable form `max(x, 0) − x·y + ln(1 + e^(−|x|))`, one
/// fused engine op ([`Tensor::bce_with_logits`]).
///
/// # Errors
/// When shapes differ.
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor, reduction: Reduction) -> Result<Tensor> {
    if logits.shape() != targets.shape() {
        return Err(Error::shape(
            "bce_with_logits",
            "logits and targets of the same shape",
            format!("{} and {}", logits.shape(), targets.shape()),
        ));
    }
    let y = targets.to_dtype(logits.dtype())?;
    reduction.apply(&logits.bce_with_logits(&y)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn cross_entropy_matches_pytorch() -> Result<()> {
        let logits = t(&[1.0, 2.0, 0.5, -1.0, 0.0, 3.0], &[2, 3]);
        let y = Tensor::from_slice(&[1i64, 2], &[2], &Device::Cpu)?;
        // Values from torch.nn.functional.cross_entropy (PyTorch 2.15) on these inputs.
        assert!((cross_entropy(&logits, &y)?.to_scalar::<f32>()? - 0.265_126_35).abs() < 1e-6);
        let ls = CrossEntropyOptions {
            label_smoothing: 0.1,
            ..Default::default()
        };
        assert!(
            (cross_entropy_with(&logits, &y, &ls)?.to_scalar::<f32>()? - 0.423_459_7).abs() < 1e-6
        );
        let w = CrossEntropyOptions {
            weight: Some(t(&[1.0, 2.0, 0.5], &[3])),
            ..Default::default()
        };
        assert!(
            (cross_entropy_with(&logits, &y, &w)?.to_scalar::<f32>()? - 0.384_671_8).abs() < 1e-6
        );
        let wls = CrossEntropyOptions {
            label_smoothing: 0.1,
            ..w
        };
        assert!(
            (cross_entropy_with(&logits, &y, &wls)?.to_scalar::<f32>()? - 0.527_616_4).abs() < 1e-6
        );
        let logp = logits.log_softmax(1)?;
        assert!((nll(&logp, &y)?.to_scalar::<f32>()? - 0.265_126_35).abs() < 1e-6);
        assert!(cross_entropy(
            &logits,
            &Tensor::from_slice(&[3i64, 0], &[2], &Device::Cpu)?
        )
        .is_err());
        Ok(())
    }

    #[test]
    fn bce_with_logits_matches_pytorch() -> Result<()> {
        // F.binary_cross_entropy_with_logits([2, -1, 0], [1, 0, 1]) = 0.37777901 (PyTorch 2.15)
        let l = bce_with_logits(
            &t(&[2.0, -1.0, 0.0], &[3]),
            &t(&[1.0, 0.0, 1.0], &[3]),
            Reduction::Mean,
        )?;
        assert!((l.to_scalar::<f32>()? - 0.377_779_0).abs() < 1e-6);
        Ok(())
    }

    #[test]
    fn bce_with_logits_sum_of_soft_targets_matches_pytorch() -> Result<()> {
        // F.binary_cross_entropy_with_logits(x, y, reduction='sum') = 4.1241512 (PyTorch 2.15)
        // for x = [[2, -1, 0], [0.5, 3, -4]], y = [[1, 0, 0.3], [0.9, 0.2, 0]]: targets in
        // [0, 1] (pixel intensities), as a VAE's reconstruction term uses them.
        let l = bce_with_logits(
            &t(&[2.0, -1.0, 0.0, 0.5, 3.0, -4.0], &[2, 3]),
            &t(&[1.0, 0.0, 0.3, 0.9, 0.2, 0.0], &[2, 3]),
            Reduction::Sum,
        )?;
        assert!((l.to_scalar::<f32>()? - 4.124_151_2).abs() < 1e-5);
        Ok(())
    }

    #[test]
    fn bce_with_logits_gradient_matches_finite_differences() -> Result<()> {
        let vs = crate::VarStore::with_dtype(&Device::Cpu, nabla::DType::F64);
        let logits = nabla::testing::randn(&[3, 5], 3)?.mul_scalar(3.0)?;
        let targets = nabla::testing::randn(&[3, 5], 4)?.sigmoid()?;
        crate::testing::gradcheck_vars(&vs, &[logits], |xs| {
            bce_with_logits(&xs[0], &targets, Reduction::Sum)
        })
    }
}
