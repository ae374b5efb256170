//! Pooling and flattening layers.

use crate::export::{pads4, pair, Attr, GraphSink, Traced};
use crate::{Error, Module, Result};
use nabla::{Pool2dConfig, Tensor};

/// Max pooling over square windows.
pub struct MaxPool2d(pub Pool2dConfig);

impl Module for MaxPool2d {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.max_pool2d(self.0)?)
    }

    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let name = g.node("MaxPool", &[&x.name], pool_attrs(self.0, None));
        x.through(self, name)
    }
}

/// Average pooling over square windows.
pub struct AvgPool2d(pub Pool2dConfig);

impl Module for AvgPool2d {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.avg_pool2d(self.0)?)
    }

    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let name = g.node(
            "AveragePool",
            &[&x.name],
            pool_attrs(self.0, Some(self.0.count_include_pad)),
        );
        x.through(self, name)
    }
}

/// The attributes of an ONNX pooling node for `cfg` (`count_include_pad` for averages).
fn pool_attrs(cfg: Pool2dConfig, include_pad: Option<bool>) -> Vec<(&'static str, Attr)> {
    let mut attrs = vec![
        ("kernel_shape", pair(cfg.kernel)),
        ("strides", pair(cfg.stride)),
        ("pads", pads4(cfg.padding)),
        ("ceil_mode", Attr::Int(i64::from(cfg.ceil_mode))),
    ];
    if let Some(p) = include_pad {
        attrs.push(("count_include_pad", Attr::Int(i64::from(p))));
    }
    attrs
}

/// Average pooling to a fixed output size `(oh, ow)`.
pub struct AdaptiveAvgPool2d(pub (usize, usize));

impl Module for AdaptiveAvgPool2d {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.adaptive_avg_pool2d(self.0)?)
    }

    /// `GlobalAveragePool` for a 1×1 output; `AveragePool` with window and stride
    /// `input / output` when the example's size divides (the windows are then the adaptive
    /// ones); refused otherwise.
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let dims = x.example.dims();
        let (oh, ow) = self.0;
        let name = if (oh, ow) == (1, 1) {
            g.node("GlobalAveragePool", &[&x.name], vec![])
        } else if dims.len() == 4
            && dims[2].is_multiple_of(oh)
            && dims[3].is_multiple_of(ow)
            && dims[2] / oh == dims[3] / ow
        {
            let k = dims[2] / oh;
            g.node(
                "AveragePool",
                &[&x.name],
                vec![("kernel_shape", pair(k)), ("strides", pair(k))],
            )
        } else {
            return Err(Error::InvalidArgument {
                op: "export",
                msg: format!(
                    "adaptive average pooling from {dims:?} to {oh}x{ow} has uneven windows, which ONNX cannot express; export for an input size that divides"
                ),
            });
        };
        x.through(self, name)
    }
}

/// Flattens every dim after the first: `[n, ...] -> [n, Π...]`.
pub struct Flatten;

impl Module for Flatten {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.flatten(1, -1)?)
    }

    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let name = g.node("Flatten", &[&x.name], vec![("axis", Attr::Int(1))]);
        x.through(self, name)
    }
}
