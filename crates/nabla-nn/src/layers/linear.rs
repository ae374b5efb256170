//! Fully connected layer.

use super::{default_bias_init, default_weight_init};
use crate::export::{Attr, GraphSink, Traced};
use crate::init::Init;
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
        let bias = bias.then(|| default_bias_init(in_features));
        Linear::with_init(p, in_features, out_features, default_weight_init(), bias)
    }

    /// A layer whose weight `[out, in]` is drawn with `weight` and whose bias `[out]` (if
    /// `bias` is given) with that initializer.
    ///
    /// # Errors
    /// When the names exist already.
    pub fn with_init(
        p: &Path,
        in_features: usize,
        out_features: usize,
        weight: Init,
        bias: Option<Init>,
    ) -> Result<Self> {
        let weight = p.param("weight", &[out_features, in_features], weight)?;
        let bias = bias
            .map(|init| p.param("bias", &[out_features], init))
            .transpose()?;
        Ok(Linear { weight, bias })
    }
}

impl Module for Linear {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let b = self.bias.as_ref().map(Var::tensor);
        Ok(x.linear(&self.weight.tensor(), b.as_ref())?)
    }

    /// `Gemm(x, W, b, transB = 1)` for `[n, in]` inputs; `MatMul` with `Wᵀ` (and `Add`)
    /// for inputs of other ranks.
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let w = g.var(&self.weight)?;
        let b = self.bias.as_ref().map(|b| g.var(b)).transpose()?;
        let name = if x.example.rank() == 2 {
            let mut inputs = vec![x.name.as_str(), w.as_str()];
            if let Some(b) = &b {
                inputs.push(b);
            }
            g.node("Gemm", &inputs, vec![("transB", Attr::Int(1))])
        } else {
            let wt = g.node("Transpose", &[&w], vec![("perm", Attr::Ints(vec![1, 0]))]);
            let y = g.node("MatMul", &[&x.name, &wt], vec![]);
            match &b {
                Some(b) => g.node("Add", &[&y, b], vec![]),
                None => y,
            }
        };
        x.through(self, name)
    }
}
