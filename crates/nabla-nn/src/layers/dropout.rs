//! Dropout layer.

use crate::export::{GraphSink, Traced};
use crate::{Error, Module, Result};
use nabla::Tensor;

/// Inverted dropout: in training, zeroes each element with probability `p` and scales the
/// rest by `1/(1-p)`; the identity in evaluation.
pub struct Dropout {
    p: f64,
}

impl Dropout {
    /// A dropout layer with drop probability `p`.
    ///
    /// # Errors
    /// When `p` is outside `[0, 1]`.
    pub fn new(p: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::out_of_range("Dropout", "p", "in [0, 1]", p));
        }
        Ok(Dropout { p })
    }
}

impl Module for Dropout {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(x.dropout(self.p, train)?)
    }

    /// Nothing: the export is the inference form, where dropout is the identity.
    fn export(&self, _g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        Ok(x.clone())
    }
}
