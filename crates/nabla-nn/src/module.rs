//! The `Module` trait, `Sequential` and the residual wrapper.

use crate::Result;
use nabla::Tensor;

/// A network or a layer: maps an input tensor to an output.
///
/// `train` is true in training mode (dropout active, batch norm uses and updates batch
/// statistics) and false in evaluation mode.
pub trait Module: Send + Sync {
    /// Forward pass in the given mode.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor>;

    /// Forward pass in evaluation mode.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_t(x, false)
    }
}

impl<M: Module + ?Sized> Module for Box<M> {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        (**self).forward_t(x, train)
    }
}

/// A layer given as a function of the input (for parameter-free steps like `relu`).
pub struct Func<F>(pub F);

impl<F> Module for Func<F>
where
    F: Fn(&Tensor) -> nabla::Result<Tensor> + Send + Sync,
{
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok((self.0)(x)?)
    }
}

/// Layers applied one after another.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

/// An empty [`Sequential`].
pub fn seq() -> Sequential {
    Sequential::default()
}

impl Sequential {
    /// Appends a layer.
    #[allow(clippy::should_implement_trait)]
    pub fn add<M: Module + 'static>(mut self, layer: M) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a parameter-free function, e.g. `.add_fn(|x| x.relu())`.
    pub fn add_fn<F>(self, f: F) -> Self
    where
        F: Fn(&Tensor) -> nabla::Result<Tensor> + Send + Sync + 'static,
    {
        self.add(Func(f))
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = x.clone();
        for layer in &self.layers {
            h = layer.forward_t(&h, train)?;
        }
        Ok(h)
    }
}

/// `y = body(x) + shortcut(x)` (identity shortcut when none is given), the building block of
/// ResNet (He et al. 2015).
pub struct Residual {
    body: Box<dyn Module>,
    shortcut: Option<Box<dyn Module>>,
}

impl Residual {
    /// A residual block with an identity shortcut.
    pub fn new<M: Module + 'static>(body: M) -> Self {
        Residual {
            body: Box::new(body),
            shortcut: None,
        }
    }

    /// A residual block with a projection shortcut (when shapes change).
    pub fn with_shortcut<M: Module + 'static, S: Module + 'static>(body: M, shortcut: S) -> Self {
        Residual {
            body: Box::new(body),
            shortcut: Some(Box::new(shortcut)),
        }
    }
}

impl Module for Residual {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = self.body.forward_t(x, train)?;
        let s = match &self.shortcut {
            Some(s) => s.forward_t(x, train)?,
            None => x.clone(),
        };
        Ok(y.add(&s)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla::{Device, Tensor};

    #[test]
    fn sequential_and_residual_compose() -> Result<()> {
        let x = Tensor::from_slice(&[-1.0f32, 2.0], &[2], &Device::Cpu)?;
        let net = seq().add_fn(|x| x.relu()).add_fn(|x| x.mul_scalar(3.0));
        assert_eq!(net.forward(&x)?.to_vec::<f32>()?, vec![0.0, 6.0]);
        let res = Residual::new(seq().add_fn(|x| x.mul_scalar(2.0)));
        assert_eq!(res.forward(&x)?.to_vec::<f32>()?, vec![-3.0, 6.0]);
        Ok(())
    }
}
