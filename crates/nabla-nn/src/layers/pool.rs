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
    /// ones); otherwise two `MatMul`s with constant averaging matrices,
    /// `y = P_h · x · P_wᵀ` (`P [out, in]` holds `1 / window` over each output's window),
    /// which is exact for any sizes, larger outputs included.
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let dims = x.example.dims();
        let (oh, ow) = self.0;
        let &[_, _, h, w] = dims else {
            return Err(Error::shape(
                "export",
                "an adaptive average pooling input [n, c, h, w]",
                format!("{dims:?}"),
            ));
        };
        let name = if (oh, ow) == (1, 1) {
            g.node("GlobalAveragePool", &[&x.name], vec![])
        } else if h.is_multiple_of(oh) && w.is_multiple_of(ow) && h / oh == w / ow {
            let k = h / oh;
            g.node(
                "AveragePool",
                &[&x.name],
                vec![("kernel_shape", pair(k)), ("strides", pair(k))],
            )
        } else {
            let dev = x.example.device();
            let pw_t = g.constant(&averaging_matrix(w, ow, &dev)?.t()?.contiguous()?)?;
            let ph = g.constant(&averaging_matrix(h, oh, &dev)?)?;
            let cols = g.node("MatMul", &[&x.name, &pw_t], vec![]);
            g.node("MatMul", &[&ph, &cols], vec![])
        };
        x.through(self, name)
    }
}

/// The `[out, len]` matrix that averages each adaptive pooling window of a `len`-long axis:
/// output `i` covers `floor(i·len/out) .. ceil((i+1)·len/out)`, as adaptive pooling does.
fn averaging_matrix(len: usize, out: usize, dev: &nabla::Device) -> Result<Tensor> {
    let mut p = vec![0f32; out * len];
    for i in 0..out {
        let (start, end) = (i * len / out, ((i + 1) * len).div_ceil(out));
        for j in start..end {
            p[i * len + j] = 1.0 / (end - start) as f32;
        }
    }
    Ok(Tensor::from_vec(p, &[out, len], dev)?)
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
