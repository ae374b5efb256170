//! Pooling and flattening layers.

use crate::{Module, Result};
use nabla::{Pool2dConfig, Tensor};

/// Max pooling over square windows.
pub struct MaxPool2d(pub Pool2dConfig);

impl Module for MaxPool2d {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.max_pool2d(self.0)?)
    }
}

/// Average pooling over square windows.
pub struct AvgPool2d(pub Pool2dConfig);

impl Module for AvgPool2d {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.avg_pool2d(self.0)?)
    }
}

/// Average pooling to a fixed output size `(oh, ow)`.
pub struct AdaptiveAvgPool2d(pub (usize, usize));

impl Module for AdaptiveAvgPool2d {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.adaptive_avg_pool2d(self.0)?)
    }
}

/// Flattens every dim after the first: `[n, ...] -> [n, Π...]`.
pub struct Flatten;

impl Module for Flatten {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.flatten(1, -1)?)
    }
}
