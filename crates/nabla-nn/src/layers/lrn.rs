//! Local response normalization layer (AlexNet).

use crate::export::{Attr, GraphSink, Traced};
use crate::{Module, Result};
use nabla::Tensor;

/// `b_c = a_c / (k + α/n · Σ a²)^β` over a window of `n` neighbouring channels; PyTorch's
/// defaults are α = 1e-4, β = 0.75, k = 1; AlexNet used n = 5, α = 1e-4, β = 0.75, k = 2.
pub struct LocalResponseNorm {
    /// Window size n.
    pub size: usize,
    /// α.
    pub alpha: f64,
    /// β.
    pub beta: f64,
    /// k.
    pub k: f64,
}

impl LocalResponseNorm {
    /// A layer with PyTorch's defaults for α, β, k.
    pub fn new(size: usize) -> Self {
        LocalResponseNorm {
            size,
            alpha: 1e-4,
            beta: 0.75,
            k: 1.0,
        }
    }
}

impl Module for LocalResponseNorm {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.local_response_norm(self.size, self.alpha, self.beta, self.k)?)
    }

    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let name = g.node(
            "LRN",
            &[&x.name],
            vec![
                ("size", Attr::Int(self.size as i64)),
                ("alpha", Attr::Float(self.alpha as f32)),
                ("beta", Attr::Float(self.beta as f32)),
                ("bias", Attr::Float(self.k as f32)),
            ],
        );
        x.through(self, name)
    }
}
