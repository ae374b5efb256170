//! Losses. Each takes the prediction first and the target second, as PyTorch.

mod cross_entropy;
mod hinge;
mod kl;
mod regression;

pub use cross_entropy::{
    bce_with_logits, cross_entropy, cross_entropy_with, nll, CrossEntropyOptions,
};
pub use hinge::hinge;
pub use kl::gaussian_kl;
pub use regression::{half_sse, huber, l1, mse};

use crate::Result;
use nabla::Tensor;

/// How per-element (or per-example) losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The mean (PyTorch's default).
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// No reduction: one loss per element/example.
    None,
}

impl Reduction {
    pub(crate) fn apply(self, losses: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Reduction::Mean => losses.mean_all()?,
            Reduction::Sum => losses.sum_all()?,
            Reduction::None => losses.clone(),
        })
    }
}
