//! Convolution layers: Conv1d, Conv2d, ConvTranspose2d.

use super::{default_bias_init, default_weight_init};
use crate::export::{pads4, pair, Attr, GraphSink, Traced};
use crate::{Error, Module, Path, Result, Var};
use nabla::{Conv2dConfig, ConvTranspose2dConfig, Tensor};

fn check_groups(op: &'static str, cin: usize, cout: usize, groups: usize) -> Result<()> {
    if groups == 0 || !cin.is_multiple_of(groups) || !cout.is_multiple_of(groups) {
        return Err(Error::invalid(
            op,
            format!(
                "in_channels {cin} and out_channels {cout} must be divisible by groups {groups}"
            ),
        ));
    }
    Ok(())
}

/// 2-D convolution: weight `[out, in / groups, k, k]`, bias `[out]`.
pub struct Conv2d {
    /// `[out, in / groups, k, k]`.
    pub weight: Var,
    /// `[out]`.
    pub bias: Option<Var>,
    /// Stride, padding, dilation, groups.
    pub config: Conv2dConfig,
}

impl Conv2d {
    /// A square-kernel convolution with PyTorch's default initialization.
    ///
    /// # Errors
    /// When channels are not divisible by groups, or names exist.
    pub fn new(
        p: &Path,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        config: Conv2dConfig,
        bias: bool,
    ) -> Result<Self> {
        check_groups("Conv2d", in_channels, out_channels, config.groups)?;
        let cin_g = in_channels / config.groups;
        let weight = p.param(
            "weight",
            &[out_channels, cin_g, kernel, kernel],
            default_weight_init(),
        )?;
        let fan_in = cin_g * kernel * kernel;
        let bias = if bias {
            Some(p.param("bias", &[out_channels], default_bias_init(fan_in))?)
        } else {
            None
        };
        Ok(Conv2d {
            weight,
            bias,
            config,
        })
    }
}

impl Conv2d {
    /// This convolution followed by a per-channel affine map and optional ReLU, as one op
    /// ([`Tensor::conv2d_affine`]): how [`crate::Sequential`] runs it with the batch norm
    /// after it in inference.
    ///
    /// # Errors
    /// As [`Tensor::conv2d_affine`].
    pub fn forward_affine(&self, x: &Tensor, affine: nabla::ChannelAffine) -> Result<Tensor> {
        let b = self.bias.as_ref().map(Var::tensor);
        Ok(x.conv2d_affine(&self.weight.tensor(), b.as_ref(), self.config, affine)?)
    }
}

impl Module for Conv2d {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let b = self.bias.as_ref().map(Var::tensor);
        Ok(x.conv2d(&self.weight.tensor(), b.as_ref(), self.config)?)
    }

    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let w = g.var(&self.weight)?;
        let mut inputs = vec![x.name.clone(), w];
        if let Some(b) = &self.bias {
            inputs.push(g.var(b)?);
        }
        let k = self.weight.leaf().dims()[2];
        let c = self.config;
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let name = g.node(
            "Conv",
            &inputs,
            vec![
                ("kernel_shape", pair(k)),
                ("strides", pair(c.stride)),
                ("pads", pads4(c.padding)),
                ("dilations", pair(c.dilation)),
                ("group", Attr::Int(c.groups as i64)),
            ],
        );
        x.through(self, name)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// 1-D convolution: weight `[out, in / groups, k]`, bias `[out]`.
pub struct Conv1d {
    /// `[out, in / groups, k]`.
    pub weight: Var,
    /// `[out]`.
    pub bias: Option<Var>,
    /// Stride, padding, dilation, groups.
    pub config: Conv2dConfig,
}

impl Conv1d {
    /// A 1-D convolution with PyTorch's default initialization.
    ///
    /// # Errors
    /// When channels are not divisible by groups, or names exist.
    pub fn new(
        p: &Path,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        config: Conv2dConfig,
        bias: bool,
    ) -> Result<Self> {
        check_groups("Conv1d", in_channels, out_channels, config.groups)?;
        let cin_g = in_channels / config.groups;
        let weight = p.param(
            "weight",
            &[out_channels, cin_g, kernel],
            default_weight_init(),
        )?;
        let bias = if bias {
            Some(p.param("bias", &[out_channels], default_bias_init(cin_g * kernel))?)
        } else {
            None
        };
        Ok(Conv1d {
            weight,
            bias,
            config,
        })
    }
}

impl Module for Conv1d {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let b = self.bias.as_ref().map(Var::tensor);
        Ok(x.conv1d(&self.weight.tensor(), b.as_ref(), self.config)?)
    }
}

/// 2-D transposed convolution: weight `[in, out / groups, k, k]` (PyTorch's layout).
pub struct ConvTranspose2d {
    /// `[in, out / groups, k, k]`.
    pub weight: Var,
    /// `[out]`.
    pub bias: Option<Var>,
    /// Stride, padding, output padding, dilation, groups.
    pub config: ConvTranspose2dConfig,
}

impl ConvTranspose2d {
    /// A transposed convolution with PyTorch's default initialization (fans computed from the
    /// weight as PyTorch does: `fan_in = out / groups · k²`).
    ///
    /// # Errors
    /// When channels are not divisible by groups, or names exist.
    pub fn new(
        p: &Path,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        config: ConvTranspose2dConfig,
        bias: bool,
    ) -> Result<Self> {
        check_groups("ConvTranspose2d", in_channels, out_channels, config.groups)?;
        let cout_g = out_channels / config.groups;
        let weight = p.param(
            "weight",
            &[in_channels, cout_g, kernel, kernel],
            default_weight_init(),
        )?;
        let bias = if bias {
            Some(p.param(
                "bias",
                &[out_channels],
                default_bias_init(cout_g * kernel * kernel),
            )?)
        } else {
            None
        };
        Ok(ConvTranspose2d {
            weight,
            bias,
            config,
        })
    }
}

impl Module for ConvTranspose2d {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let b = self.bias.as_ref().map(Var::tensor);
        Ok(x.conv_transpose2d(&self.weight.tensor(), b.as_ref(), self.config)?)
    }
}
