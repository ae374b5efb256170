//! The `Module` trait, `Sequential` and the residual wrapper.

use crate::export::{GraphSink, Traced};
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
    /// (`Conv2d`, `BatchNorm`, `Activation`, [`Residual`] and the [`Sequential`] of its
    /// body); `None` (the default) for the others.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// Writes this module's evaluation-mode computation on `x` into a graph (ONNX export):
    /// returns the output value. The default refuses: a layer without a graph form (a
    /// closure in [`Func`], say) makes its model non-exportable, with its type named.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] for a module without a graph form.
    fn export(&self, _g: &mut dyn GraphSink, _x: &Traced) -> Result<Traced> {
        Err(crate::export::not_exportable(std::any::type_name::<Self>()))
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

    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        (**self).export(g, x)
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
    /// output instead of two or three. A [`Residual`] (and a ReLU after it) whose body ends
    /// in such a pair adds its shortcut in that pass too.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train && !nabla::is_grad_enabled() {
            if let Some(y) = self.forward_fused(x, None)? {
                return Ok(y);
            }
        }
        let mut h = x.clone();
        for (_, layer) in &self.layers {
            h = layer.forward_t(&h, train)?;
        }
        Ok(h)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let mut h = x.clone();
        for (_, layer) in &self.layers {
            h = layer.export(g, &h)?;
        }
        Ok(h)
    }
}

impl Sequential {
    /// The evaluation-mode forward pass with the fusions of [`Sequential::forward_t`]. With
    /// `tail = (residual, relu)` the last two layers must be `Conv2d → BatchNorm`, and they
    /// end in `+ residual` (then ReLU when `relu`); `None` when they are not.
    fn forward_fused(&self, x: &Tensor, tail: Option<(&Tensor, bool)>) -> Result<Option<Tensor>> {
        let layers = &self.layers[..];
        let end = match tail {
            Some(_) if self.ends_in_conv_bn() => layers.len() - 2,
            Some(_) => return Ok(None),
            None => layers.len(),
        };
        let mut h = x.clone();
        let mut i = 0;
        while i < end {
            let head = &layers[i..end];
            let fused = match residual_relu(head) {
                Some((block, relu)) => block
                    .forward_fused(&h, relu)?
                    .map(|y| (y, 1 + usize::from(relu))),
                None => conv_bn_relu(head, &h, None)?,
            };
            match fused {
                Some((y, used)) => (h, i) = (y, i + used),
                None => (h, i) = (layers[i].1.forward_t(&h, false)?, i + 1),
            }
        }
        let Some((residual, relu)) = tail else {
            return Ok(Some(h));
        };
        Ok(conv_bn_relu(&layers[end..], &h, Some((residual, relu)))?.map(|(y, _)| y))
    }

    /// Whether the last two layers are a `Conv2d` and a `BatchNorm`.
    fn ends_in_conv_bn(&self) -> bool {
        let n = self.layers.len();
        n >= 2 && conv_bn(&self.layers[n - 2..]).is_some()
    }
}

/// The layer at `i` of `layers` as a `T`, when it is one.
fn layer_as<T: 'static>(layers: &[(Option<String>, Box<dyn Module>)], i: usize) -> Option<&T> {
    layers.get(i)?.1.as_any()?.downcast_ref::<T>()
}

/// A `Conv2d` and the `BatchNorm` after it at the head of `layers`.
fn conv_bn(layers: &[(Option<String>, Box<dyn Module>)]) -> Option<(&Conv2d, &BatchNorm)> {
    Some((layer_as(layers, 0)?, layer_as(layers, 1)?))
}

/// A [`Residual`] at the head of `layers`, and whether a ReLU follows it.
fn residual_relu(layers: &[(Option<String>, Box<dyn Module>)]) -> Option<(&Residual, bool)> {
    let relu = matches!(layer_as(layers, 1), Some(Activation::Relu));
    Some((layer_as(layers, 0)?, relu))
}

/// Evaluation-mode `Conv2d → BatchNorm (→ ReLU)` at the head of `layers`, run as one
/// fused op on `x`: the output and the number of layers it stands for, or `None` when the
/// layers do not start that way. With `tail = (residual, relu)`, the pair alone, ending
/// in `+ residual` (and a ReLU when `relu`).
fn conv_bn_relu(
    layers: &[(Option<String>, Box<dyn Module>)],
    x: &Tensor,
    tail: Option<(&Tensor, bool)>,
) -> Result<Option<(Tensor, usize)>> {
    let Some((conv, bn)) = conv_bn(layers) else {
        return Ok(None);
    };
    let Some((scale, shift)) = bn.inference_affine(x.dtype())? else {
        return Ok(None);
    };
    let (residual, relu) = match tail {
        Some((r, relu)) => (Some(r), relu),
        None => (None, matches!(layer_as(layers, 2), Some(Activation::Relu))),
    };
    let affine = nabla::ChannelAffine {
        scale: &scale,
        shift: &shift,
        residual,
        relu,
    };
    let used = 2 + usize::from(relu && tail.is_none());
    Ok(Some((conv.forward_affine(x, affine)?, used)))
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

impl Residual {
    /// The evaluation-mode forward pass (then ReLU when `relu`) with the shortcut added in
    /// the output pass of the body's last `Conv2d → BatchNorm`; `None` when the body is not
    /// a [`Sequential`] that ends so.
    fn forward_fused(&self, x: &Tensor, relu: bool) -> Result<Option<Tensor>> {
        let body = self
            .body
            .as_any()
            .and_then(|b| b.downcast_ref::<Sequential>());
        let Some(body) = body.filter(|b| b.ends_in_conv_bn()) else {
            return Ok(None);
        };
        let s = match &self.shortcut {
            Some(s) => s.forward_t(x, false)?,
            None => x.clone(),
        };
        body.forward_fused(x, Some((&s, relu)))
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

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let y = self.body.export(g, x)?;
        let s = match &self.shortcut {
            Some(s) => s.export(g, x)?,
            None => x.clone(),
        };
        let name = g.node("Add", &[&y.name, &s.name], vec![]);
        Ok(Traced {
            name,
            example: y.example.add(&s.example)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla::{Device, Tensor};

    /// A 2-D batch norm whose running statistics are not the identity.
    fn batch_norm(p: &crate::Path, name: &str, c: usize) -> Result<BatchNorm> {
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
    }

    /// Asserts that `net` gives in fused inference (inside `no_grad`) what its layers give
    /// one by one (gradient recording on, so nothing fuses).
    fn assert_fusion_keeps_the_result(net: &dyn Module, x: &Tensor) -> Result<()> {
        let want = net.forward_t(x, false)?.to_vec::<f32>()?;
        let got = nabla::no_grad(|| net.forward_t(x, false))?.to_vec::<f32>()?;
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{g} vs {w}");
        }
        Ok(())
    }

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
        let bn = |name: &str, c: usize| batch_norm(&p, name, c);
        let net = crate::seq()
            .add(Conv2d::new(&p.sub("c1"), 3, 16, 3, cfg, true)?)
            .add(bn("b1", 16)?)
            .add(Activation::Relu)
            .add(Conv2d::new(&p.sub("c2"), 16, 16, 3, cfg, false)?)
            .add(bn("b2", 16)?);
        let x = Tensor::randn(&[2, 3, 12, 12], nabla::DType::F32, &Device::Cpu)?;
        assert_fusion_keeps_the_result(&net, &x)?;
        let one_d = BatchNorm::new1d(&p.sub("b3"), 4)?;
        assert!(one_d.inference_affine(nabla::DType::F32)?.is_none());
        Ok(())
    }

    /// Residual blocks whose body ends in `Conv2d → BatchNorm` add their shortcut (a
    /// projection or the identity) and the ReLU after them in that pair's fused pass; a
    /// block whose body ends otherwise, and one without a ReLU after it, still give what
    /// the layers give one by one.
    #[test]
    fn residual_blocks_fuse_their_shortcut_in_inference() -> Result<()> {
        nabla::manual_seed(47);
        let vs = crate::VarStore::new(&Device::Cpu);
        let p = vs.root();
        let cfg = |stride: usize, padding: usize| nabla::Conv2dConfig {
            stride,
            padding,
            ..Default::default()
        };
        let conv = |name: &str, cin: usize, cout: usize, k: usize, c| {
            Conv2d::new(&p.sub(name), cin, cout, k, c, false)
        };
        let body = |name: &str, cin: usize, cout: usize, stride: usize| -> Result<Sequential> {
            Ok(crate::seq()
                .add(conv(&format!("{name}a"), cin, cout, 3, cfg(stride, 1))?)
                .add(batch_norm(&p, &format!("{name}bn_a"), cout)?)
                .add(Activation::Relu)
                .add(conv(&format!("{name}b"), cout, cout, 3, cfg(1, 1))?)
                .add(batch_norm(&p, &format!("{name}bn_b"), cout)?))
        };
        let projection = crate::seq()
            .add(conv("proj", 16, 32, 1, cfg(2, 0))?)
            .add(batch_norm(&p, "proj_bn", 32)?);
        let ends_in_relu = crate::seq()
            .add(conv("c", 32, 32, 3, cfg(1, 1))?)
            .add(Activation::Relu);
        let net = crate::seq()
            .add(
                crate::seq()
                    .add(Residual::with_shortcut(body("b1", 16, 32, 2)?, projection))
                    .add(Activation::Relu),
            )
            .add(
                crate::seq()
                    .add(Residual::new(body("b2", 32, 32, 1)?))
                    .add(Activation::Relu),
            )
            .add(Residual::new(body("b3", 32, 32, 1)?))
            .add(Residual::new(ends_in_relu));
        for dims in [[1, 16, 14, 14], [2, 16, 9, 9]] {
            let x = Tensor::randn(&dims, nabla::DType::F32, &Device::Cpu)?;
            assert_fusion_keeps_the_result(&net, &x)?;
        }
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
