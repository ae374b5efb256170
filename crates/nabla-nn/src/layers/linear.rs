//! Fully connected layer.

use super::{default_bias_init, default_weight_init};
use crate::{Module, Path, Result, Var};
use nabla::Tensor;

/// `y = x·Wᵀ + b`: `x` is `[.., in]`, `weight` `[out, in]`, `bias` `[out]`.
pub struct Linear {
    /// `[out, in]`.
    pub weight: Var,
    /// `[out]`, if the layer has a bias.
    pub bias: Option<Var>,
}

impl Linear {
    /// A layer with PyTorch's default initialization, variables `weight` and `bias` under `p`.
    ///
    /// # Errors
    /// When the names exist already.
    pub fn new(p: &Path, in_features: usize, out_features: usize, bias: bool) -> Result<Self> {
        let weight = p.param(
            "weight",
            &[out_features, in_features],
            default_weight_init(),
        )?;
        let bias = if bias {
            Some(p.param("bias", &[out_features], default_bias_init(in_features))?)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }
}

impl Module for Linear {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let b = self.bias.as_ref().map(Var::tensor);
        Ok(x.linear(&self.weight.tensor(), b.as_ref())?)
    }
}
