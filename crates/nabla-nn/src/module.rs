//! The `Module` trait, `Sequential` and the residual wrapper.

use crate::layers::{Activation, BatchNorm, Conv2d};
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

    /// The layers this module chains, in order, with their names: feeding an input through
    /// them one after another is this module's forward pass in evaluation mode. A name is
    /// the layer's parameter prefix in the [`crate::VarStore`] when it has parameters
    /// (`"conv1"`, `"features"`, `"layer2"`), so its parameters are the variables under it.
    ///
    /// Empty (the default) for a single layer, or a module whose forward is not such a
    /// chain. [`Sequential`] returns its layers; `nabla summary` uses this to print per-layer
    /// output shapes, parameters and multiply-accumulates.
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// This layer as `Any`, for the layers that [`Sequential`] fuses in inference
    /// (`Conv2d`, `BatchNorm`, `Activation`); `None` (the default) for the others.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

impl<M: Module + ?Sized> Module for Box<M> {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        (**self).forward_t(x, train)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        (**self).children()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        (**self).as_any()
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

/// Layers applied one after another, each with an optional name (see
/// [`Sequential::add_named`]).
#[derive(Default)]
pub struct Sequential {
    layers: Vec<(Option<String>, Box<dyn Module>)>,
}

/// An empty [`Sequential`].
pub fn seq() -> Sequential {
    Sequential::default()
}

impl Sequential {
    /// Appends a layer.
    #[allow(clippy::should_implement_trait)]
    pub fn add<M: Module + 'static>(mut self, layer: M) -> Self {
        self.layers.push((None, Box::new(layer)));
        self
    }

    /// Appends a layer with a name, as PyTorch's `nn.Sequential(OrderedDict(...))`: the
    /// layer's parameter prefix when it has parameters (`"conv1"` for `conv1.weight`), a
    /// descriptive name (`"relu1"`, `"pool1"`) otherwise. Names show in
    /// [`Module::children`] and `nabla summary`; they do not change parameter names, which
    /// come from the [`crate::Path`] the layer was built under.
    pub fn add_named<M: Module + 'static>(mut self, name: impl Into<String>, layer: M) -> Self {
        self.layers.push((Some(name.into()), Box::new(layer)));
        self
    }

    /// The layers with their names; an unnamed layer is called by its position (`"3"`),
    /// which is also its parameter prefix in the torchvision layouts (`features.3`).
    pub fn layers(&self) -> Vec<(String, &dyn Module)> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, (name, layer))| {
                let name = name.clone().unwrap_or_else(|| i.to_string());
                (name, layer.as_ref() as &dyn Module)
            })
            .collect()
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
    /// The layers in order. In evaluation without gradient recording (inside
    /// [`nabla::no_grad`]), a `Conv2d` followed by a `BatchNorm` (and a ReLU) runs as one
    /// [`nabla::Tensor::conv2d_affine`]: the same result up to rounding, in one pass over the
    /// output instead of two or three.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let fuse = !train && !nabla::is_grad_enabled();
        let mut h = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            if fuse {
                if let Some((y, used)) = conv_bn_relu(&self.layers[i..], &h)? {
                    h = y;
                    i += used;
                    continue;
                }
            }
            h = self.layers[i].1.forward_t(&h, train)?;
            i += 1;
        }
        Ok(h)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers()
    }
}

/// Evaluation-mode `Conv2d → BatchNorm (→ ReLU)` at the head of `layers`, run as one
/// fused op on `x`: the output and the number of layers it stands for, or `None` when the
/// layers do not start that way.
fn conv_bn_relu(
    layers: &[(Option<String>, Box<dyn Module>)],
    x: &Tensor,
) -> Result<Option<(Tensor, usize)>> {
    let layer = |i: usize| layers.get(i).and_then(|(_, l)| l.as_any());
    let (Some(conv), Some(bn)) = (
        layer(0).and_then(|l| l.downcast_ref::<Conv2d>()),
        layer(1).and_then(|l| l.downcast_ref::<BatchNorm>()),
    ) else {
        return Ok(None);
    };
    let Some((scale, shift)) = bn.inference_affine(x.dtype())? else {
        return Ok(None);
    };
    let relu = matches!(
        layer(2).and_then(|l| l.downcast_ref::<Activation>()),
        Some(Activation::Relu)
    );
    let affine = nabla::ChannelAffine {
        scale: &scale,
        shift: &shift,
        relu,
    };
    Ok(Some((
        conv.forward_affine(x, affine)?,
        2 + usize::from(relu),
    )))
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

    /// In inference, `Conv2d → BatchNorm → ReLU` and `Conv2d → BatchNorm` run fused, and give
    /// what the layers give one by one (batch norm with running statistics that are not the
    /// identity, convolutions with and without bias); a 1-D batch norm is left alone.
    #[test]
    fn sequential_fuses_conv_batch_norm_relu_in_inference() -> Result<()> {
        nabla::manual_seed(43);
        let vs = crate::VarStore::new(&Device::Cpu);
        let p = vs.root();
        let cfg = nabla::Conv2dConfig {
            padding: 1,
            ..Default::default()
        };
        let bn = |name: &str, c: usize| -> Result<BatchNorm> {
            let bn = BatchNorm::new2d(&p.sub(name), c)?;
            bn.running_mean.leaf().update_data::<f32>(|v| {
                v.iter_mut()
                    .enumerate()
                    .for_each(|(i, m)| *m = 0.1 * i as f32 - 0.3)
            })?;
            bn.running_var.leaf().update_data::<f32>(|v| {
                v.iter_mut()
                    .enumerate()
                    .for_each(|(i, s)| *s = 0.5 + 0.2 * i as f32)
            })?;
            Ok(bn)
        };
        let net = crate::seq()
            .add(Conv2d::new(&p.sub("c1"), 3, 16, 3, cfg, true)?)
            .add(bn("b1", 16)?)
            .add(Activation::Relu)
            .add(Conv2d::new(&p.sub("c2"), 16, 16, 3, cfg, false)?)
            .add(bn("b2", 16)?);
        let x = Tensor::randn(&[2, 3, 12, 12], nabla::DType::F32, &Device::Cpu)?;
        // Layer by layer: gradient recording on, so nothing fuses.
        let want = net.forward_t(&x, false)?.to_vec::<f32>()?;
        let got = nabla::no_grad(|| net.forward_t(&x, false))?.to_vec::<f32>()?;
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{g} vs {w}");
        }
        let one_d = BatchNorm::new1d(&p.sub("b3"), 4)?;
        assert!(one_d.inference_affine(nabla::DType::F32)?.is_none());
        Ok(())
    }

    #[test]
    fn sequential_and_residual_compose() -> Result<()> {
        let x = Tensor::from_slice(&[-1.0f32, 2.0], &[2], &Device::Cpu)?;
        let net = seq().add_fn(|x| x.relu()).add_fn(|x| x.mul_scalar(3.0));
        assert_eq!(net.forward(&x)?.to_vec::<f32>()?, vec![0.0, 6.0]);
        let res = Residual::new(seq().add_fn(|x| x.mul_scalar(2.0)));
        assert_eq!(res.forward(&x)?.to_vec::<f32>()?, vec![-3.0, 6.0]);
        Ok(())
    }

    #[test]
    fn sequential_children_are_named_or_numbered_and_chain_to_the_forward() -> Result<()> {
        let x = Tensor::from_slice(&[-1.0f32, 2.0], &[2], &Device::Cpu)?;
        let net = seq()
            .add_named("relu", Func(|x: &Tensor| x.relu()))
            .add_fn(|x| x.mul_scalar(3.0));
        let boxed: Box<dyn Module> = Box::new(net);
        let children = boxed.children();
        let names: Vec<&str> = children.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["relu", "1"]);
        let mut h = x.clone();
        for (_, layer) in &children {
            h = layer.forward(&h)?;
        }
        assert_eq!(h.to_vec::<f32>()?, boxed.forward(&x)?.to_vec::<f32>()?);
        assert!(children[0].1.children().is_empty());
        Ok(())
    }
}
