//! Batch normalization layers (Ioffe & Szegedy 2015).

use crate::export::{Attr, GraphSink, Traced};
use crate::init::Init;
use crate::{Error, Module, Path, Result, Var};
use nabla::{DType, RunningStats, Tensor};

/// Batch normalization over channel dim 1: `BatchNorm1d` for `[n, c]` / `[n, c, l]` inputs,
/// `BatchNorm2d` for `[n, c, h, w]`. Variables (PyTorch's names): `weight` (γ, ones),
/// `bias` (β, zeros), buffers `running_mean` (zeros), `running_var` (ones),
/// `num_batches_tracked`.
pub struct BatchNorm {
    /// γ, `[c]`.
    pub weight: Var,
    /// β, `[c]`.
    pub bias: Var,
    /// Running mean, `[c]`.
    pub running_mean: Var,
    /// Running unbiased variance, `[c]`.
    pub running_var: Var,
    /// Number of training batches seen (I64 scalar, as PyTorch saves it).
    pub num_batches_tracked: Var,
    eps: f64,
    momentum: f64,
    ranks: &'static [usize],
}

impl BatchNorm {
    fn new(p: &Path, channels: usize, ranks: &'static [usize]) -> Result<Self> {
        let dev = p.device();
        Ok(BatchNorm {
            weight: p.param("weight", &[channels], Init::Constant(1.0))?,
            bias: p.param("bias", &[channels], Init::Constant(0.0))?,
            running_mean: p.buffer("running_mean", Tensor::zeros(&[channels], DType::F32, &dev))?,
            running_var: p.buffer("running_var", Tensor::ones(&[channels], DType::F32, &dev))?,
            num_batches_tracked: p
                .buffer("num_batches_tracked", Tensor::zeros(&[], DType::I64, &dev))?,
            eps: 1e-5,
            momentum: 0.1,
            ranks,
        })
    }

    /// For `[n, c]` or `[n, c, l]` inputs.
    ///
    /// # Errors
    /// When the names exist.
    pub fn new1d(p: &Path, channels: usize) -> Result<Self> {
        BatchNorm::new(p, channels, &[2, 3])
    }

    /// For `[n, c, h, w]` inputs.
    ///
    /// # Errors
    /// When the names exist.
    pub fn new2d(p: &Path, channels: usize) -> Result<Self> {
        BatchNorm::new(p, channels, &[4])
    }

    /// The same layer with another epsilon (added to the variance) and momentum (weight of the
    /// batch statistic in the running average).
    pub fn with(self, eps: f64, momentum: f64) -> Self {
        BatchNorm {
            eps,
            momentum,
            ..self
        }
    }
}

impl BatchNorm {
    /// The evaluation-mode map of a 2-D batch norm as per-channel `(scale, shift)` in
    /// `dtype`, from the running statistics by [`nabla::batch_norm_affine`] as the batch
    /// norm op computes it, so that [`nabla::Tensor::conv2d_affine`] gives what the
    /// convolution and this layer give one after the other. `None` for a 1-D batch norm.
    ///
    /// # Errors
    /// When the statistics or parameters cannot be read.
    pub fn inference_affine(&self, dtype: nabla::DType) -> Result<Option<(Tensor, Tensor)>> {
        if !self.ranks.contains(&4) {
            return Ok(None);
        }
        let values = |t: &Tensor| t.to_vec::<f64>();
        let (mean, var) = (
            values(self.running_mean.leaf())?,
            values(self.running_var.leaf())?,
        );
        let (gamma, beta) = (values(&self.weight.tensor())?, values(&self.bias.tensor())?);
        let (scale, shift): (Vec<f64>, Vec<f64>) = (0..mean.len())
            .map(|k| nabla::batch_norm_affine(mean[k], var[k], gamma[k], beta[k], self.eps))
            .unzip();
        let tensor = |v: Vec<f64>| {
            let n = v.len();
            // Folded on the host from the statistics' values, then placed beside them.
            let device = self.running_mean.leaf().device();
            Tensor::from_vec(v, &[n], &nabla::Device::Cpu)?
                .to_dtype(dtype)?
                .to_device(&device)
        };
        Ok(Some((tensor(scale)?, tensor(shift)?)))
    }
}

impl Module for BatchNorm {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !self.ranks.contains(&x.rank()) {
            return Err(Error::shape(
                "BatchNorm",
                format!("an input of rank {:?}", self.ranks),
                x.shape(),
            ));
        }
        let (mean, var) = (self.running_mean.leaf(), self.running_var.leaf());
        let stats = RunningStats {
            mean,
            var,
            momentum: self.momentum,
        };
        let y = x.batch_norm(
            Some(stats),
            Some(&self.weight.tensor()),
            Some(&self.bias.tensor()),
            train,
            self.eps,
        )?;
        if train {
            self.num_batches_tracked
                .leaf()
                .update_data::<i64>(|n| n[0] += 1)?;
        }
        Ok(y)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    /// `BatchNormalization` on the running statistics (ONNX's momentum weights the old
    /// value: 1 - PyTorch's).
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let names = [
            g.var(&self.weight)?,
            g.var(&self.bias)?,
            g.var(&self.running_mean)?,
            g.var(&self.running_var)?,
        ];
        let name = g.node(
            "BatchNormalization",
            &[&x.name, &names[0], &names[1], &names[2], &names[3]],
            vec![
                ("epsilon", Attr::Float(self.eps as f32)),
                ("momentum", Attr::Float((1.0 - self.momentum) as f32)),
            ],
        );
        x.through(self, name)
    }
}
