//! Rosenblatt's perceptron: a linear threshold unit trained by the perceptron rule.

use crate::{Error, Result};
use nabla::{Device, Tensor};

/// `ŷ = step(w·x + b)` with weights learned by `w ← w + η(y − ŷ)x`, `b ← b + η(y − ŷ)`.
#[derive(Clone, Debug)]
pub struct Perceptron {
    /// Weights, one per input feature.
    pub w: Vec<f32>,
    /// Bias.
    pub b: f32,
}

/// How a perceptron run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct PerceptronReport {
    /// Whether an epoch passed without a mistake (the data was separated).
    pub converged: bool,
    /// Epochs run.
    pub epochs: usize,
    /// Misclassified examples in each epoch.
    pub mistakes: Vec<usize>,
}

impl Perceptron {
    /// A perceptron with `inputs` zero weights and zero bias.
    pub fn new(inputs: usize) -> Self {
        Perceptron {
            w: vec![0.0; inputs],
            b: 0.0,
        }
    }

    /// Predictions (0 or 1) for `x` of shape `[n, inputs]`, computed with tensor ops.
    ///
    /// # Errors
    /// When `x` is not `[n, inputs]`.
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        let w = Tensor::from_slice(&self.w, &[self.w.len(), 1], &Device::Cpu)?;
        Ok(x.to_dtype(nabla::DType::F32)?
            .matmul(&w)?
            .add_scalar(self.b as f64)?
            .step()?
            .reshape(&[x.dims()[0]])?)
    }

    /// Trains with the perceptron rule, one example at a time in order, until an epoch has no
    /// mistake (converged) or `max_epochs` have run (the data is then probably not linearly
    /// separable, like XOR). `x` is `[n, inputs]`, `y` holds 0/1 labels `[n]`.
    ///
    /// # Errors
    /// On shape mismatch or labels other than 0 and 1.
    pub fn train(
        &mut self,
        x: &Tensor,
        y: &Tensor,
        lr: f32,
        max_epochs: usize,
    ) -> Result<PerceptronReport> {
        if x.rank() != 2 || x.dims()[1] != self.w.len() || y.dims() != [x.dims()[0]] {
            return Err(Error::shape(
                "perceptron",
                format!("x [n, {}] and y [n]", self.w.len()),
                format!("{} and {}", x.shape(), y.shape()),
            ));
        }
        let xs = x.to_vec::<f32>()?;
        let ys = y.to_vec::<f32>()?;
        if ys.iter().any(|&v| v != 0.0 && v != 1.0) {
            return Err(Error::invalid("perceptron", "labels must be 0 or 1"));
        }
        let d = self.w.len();
        let mut report = PerceptronReport {
            converged: false,
            epochs: 0,
            mistakes: vec![],
        };
        for _ in 0..max_epochs {
            let mut mistakes = 0;
            for (xi, &yi) in xs.chunks(d.max(1)).zip(&ys) {
                let activation: f32 =
                    self.w.iter().zip(xi).map(|(w, x)| w * x).sum::<f32>() + self.b;
                let y_hat = if activation > 0.0 { 1.0 } else { 0.0 };
                let err = yi - y_hat;
                if err != 0.0 {
                    mistakes += 1;
                    for (w, &x) in self.w.iter_mut().zip(xi) {
                        *w += lr * err * x;
                    }
                    self.b += lr * err;
                }
            }
            report.epochs += 1;
            report.mistakes.push(mistakes);
            if mistakes == 0 {
                report.converged = true;
                break;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(x: &[f32], y: &[f32]) -> (Tensor, Tensor) {
        (
            Tensor::from_slice(x, &[y.len(), 2], &Device::Cpu).unwrap(),
            Tensor::from_slice(y, &[y.len()], &Device::Cpu).unwrap(),
        )
    }

    #[test]
    fn perceptron_learns_and_but_not_xor() -> Result<()> {
        let corners = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
        let (x, y) = data(&corners, &[0.0, 0.0, 0.0, 1.0]);
        let mut p = Perceptron::new(2);
        let r = p.train(&x, &y, 0.1, 100)?;
        assert!(r.converged, "{r:?}");
        assert_eq!(p.predict(&x)?.to_vec::<f32>()?, vec![0.0, 0.0, 0.0, 1.0]);
        let (x, y) = data(&corners, &[0.0, 1.0, 1.0, 0.0]);
        let r = Perceptron::new(2).train(&x, &y, 0.1, 100)?;
        assert!(!r.converged && r.epochs == 100 && r.mistakes.iter().all(|&m| m > 0));
        Ok(())
    }
}
