//! Embedding layer.

use crate::export::{Attr, GraphSink, Traced};
use crate::init::Init;
use crate::{Module, Path, Result, Var};
use nabla::Tensor;

/// A lookup table `weight [num_embeddings, dim]` (initialized `N(0, 1)` as PyTorch);
/// the input holds integer indices of any shape.
pub struct Embedding {
    /// `[num_embeddings, dim]`.
    pub weight: Var,
}

impl Embedding {
    /// A new table.
    ///
    /// # Errors
    /// When the name exists.
    pub fn new(p: &Path, num_embeddings: usize, dim: usize) -> Result<Self> {
        Ok(Embedding {
            weight: p.param(
                "weight",
                &[num_embeddings, dim],
                Init::Normal {
                    mean: 0.0,
                    std: 1.0,
                },
            )?,
        })
    }
}

impl Module for Embedding {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(self.weight.tensor().embedding(x)?)
    }

    /// `Gather(weight, Cast(x, int64))`: the indices may arrive as floats holding
    /// integers (as nabla's own inputs do), so they are cast first.
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let w = g.var(&self.weight)?;
        // 7 is ONNX's INT64 element type.
        let idx = g.node("Cast", &[&x.name], vec![("to", Attr::Int(7))]);
        let name = g.node("Gather", &[&w, &idx], vec![("axis", Attr::Int(0))]);
        x.through(self, name)
    }
}
