//! Building blocks shared by the zoo's convolutional networks: layers created with the
//! initialization their reference implementation uses, the spatial-size arithmetic that
//! finds an architecture's smallest input, and zero-padding of inputs smaller than that.

use super::ModelConfig;
use crate::export::{GraphSink, Traced};
use crate::init::Init;
use crate::layers::{Conv2d, Linear, LocalResponseNorm};
use crate::{Error, Module, Path, Result};
use nabla::{Conv2dConfig, ConvTranspose2dConfig, Pool2dConfig, Tensor};

/// Stride 2, padding 1: a 4 × 4 kernel halves an even side (the convolutional VAE's and
/// the DCGAN discriminator's downsampling).
pub(crate) fn halving() -> Conv2dConfig {
    Conv2dConfig {
        stride: 2,
        padding: 1,
        ..Conv2dConfig::default()
    }
}

/// The transpose of [`halving`]: a 4 × 4 kernel doubles a side (their upsampling).
pub(crate) fn doubling() -> ConvTranspose2dConfig {
    ConvTranspose2dConfig {
        stride: 2,
        padding: 1,
        ..ConvTranspose2dConfig::default()
    }
}

/// A convolution `[out, in / groups, k, k]` whose weight is drawn from `weight` and whose bias
/// (if any) from `bias`; the layers' own constructor uses PyTorch's default initialization,
/// the reference models each use their own.
pub(crate) fn conv2d(
    p: &Path,
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    config: Conv2dConfig,
    weight: Init,
    bias: Option<Init>,
) -> Result<Conv2d> {
    let groups = config.groups.max(1);
    Ok(Conv2d {
        weight: p.param(
            "weight",
            &[out_channels, in_channels / groups, kernel, kernel],
            weight,
        )?,
        bias: bias
            .map(|init| p.param("bias", &[out_channels], init))
            .transpose()?,
        config,
    })
}

/// A fully connected layer `[out, in]` with the given initialization of weight and bias.
pub(crate) fn linear(
    p: &Path,
    in_features: usize,
    out_features: usize,
    weight: Init,
    bias: Init,
) -> Result<Linear> {
    Ok(Linear {
        weight: p.param("weight", &[out_features, in_features], weight)?,
        bias: Some(p.param("bias", &[out_features], bias)?),
    })
}

/// `Conv2dConfig` with a stride and padding.
pub(crate) fn conv_cfg(stride: usize, padding: usize) -> Conv2dConfig {
    Conv2dConfig {
        stride,
        padding,
        ..Default::default()
    }
}

/// He et al. 2015 for a ReLU network, `N(0, 2 / fan_out)` with `fan_out = out·k²`: what
/// torchvision's VGG and ResNet use for their convolutions (`kaiming_normal_`,
/// `mode="fan_out"`).
pub(crate) fn kaiming_normal_fan_out(out_channels: usize, kernel: usize) -> Init {
    Init::Normal {
        mean: 0.0,
        std: (2.0 / (out_channels * kernel * kernel) as f64).sqrt(),
    }
}

/// The local response normalization of Krizhevsky et al. 2012, `n = 5, α = 1e-4, β = 0.75,
/// k = 2`. The paper writes `b = a / (k + α·Σa²)^β` while [`LocalResponseNorm`] (like
/// PyTorch and Caffe) divides α by `n`, so the layer gets `α = 5·1e-4` to compute the
/// paper's formula.
pub(crate) fn krizhevsky_lrn() -> LocalResponseNorm {
    LocalResponseNorm {
        size: 5,
        alpha: 5.0 * 1e-4,
        beta: 0.75,
        k: 2.0,
    }
}

/// One step of an architecture that changes the spatial size.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Spatial {
    /// A convolution with kernel, stride and padding.
    Conv {
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    /// A pooling window.
    Pool(Pool2dConfig),
}

impl Spatial {
    /// The output size for an input of `size`, or `None` when the window does not fit. The
    /// pooling rule is the engine's (and PyTorch's): in ceil mode the last window must start
    /// inside the input or its left padding.
    fn apply(self, size: usize) -> Option<usize> {
        let (k, s, p, ceil) = match self {
            Spatial::Conv {
                kernel,
                stride,
                padding,
            } => (kernel, stride, padding, false),
            Spatial::Pool(c) => (c.kernel, c.stride, c.padding, c.ceil_mode),
        };
        let span = (size + 2 * p).checked_sub(k)?;
        let mut n = if ceil {
            span.div_ceil(s) + 1
        } else {
            span / s + 1
        };
        if ceil && (n - 1) * s >= size + p {
            n -= 1;
        }
        Some(n)
    }
}

/// The spatial size after `steps`, or `None` when the input is too small for one of them.
pub(crate) fn output_size(size: usize, steps: &[Spatial]) -> Option<usize> {
    steps
        .iter()
        .try_fold(size, |s, step| step.apply(s).filter(|&n| n > 0))
}

/// The smallest input size that goes through `steps` (searched up to 4096).
pub(crate) fn min_input_size(steps: &[Spatial]) -> usize {
    (1..4096)
        .find(|&s| output_size(s, steps).is_some())
        .unwrap_or(4096)
}

/// Checks that a configuration has at least one class, channel and pixel.
pub(crate) fn check_config(model: &'static str, c: &ModelConfig) -> Result<()> {
    if c.num_classes == 0 || c.in_channels == 0 || c.image_size == 0 {
        return Err(Error::invalid(
            model,
            format!(
                "num_classes, in_channels and image_size must be positive, got {} classes, {} channels, {}×{} images",
                c.num_classes, c.in_channels, c.image_size, c.image_size
            ),
        ));
    }
    Ok(())
}

/// Zero-pads an image smaller than `size`×`size` on all sides (centred) up to that size, as
/// LeNet-5 pads MNIST's 28×28 to 32×32; larger inputs pass unchanged. Models put it in front
/// when they are built for an image smaller than their architecture admits.
pub(crate) struct PadTo(pub usize);

impl Module for PadTo {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        if x.rank() != 4 {
            return Err(Error::shape("PadTo", "images [n, c, h, w]", x.shape()));
        }
        let (h, w) = (x.dims()[2], x.dims()[3]);
        if h >= self.0 && w >= self.0 {
            return Ok(x.clone());
        }
        let split = |d: usize| {
            let extra = self.0.saturating_sub(d);
            (extra / 2, extra - extra / 2)
        };
        Ok(x.pad(&[split(h), split(w)], 0.0)?)
    }

    /// A `Pad` node for the example's size (nothing when it needs none).
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let y = x.through(self, String::new())?;
        if y.example.dims() == x.example.dims() {
            return Ok(x.clone());
        }
        let d = |i: usize| (y.example.dims()[i] - x.example.dims()[i]) as i64;
        let (top, left) = (d(2) / 2, d(3) / 2);
        let pads = g.ints(&[0, 0, top, left, 0, 0, d(2) - top, d(3) - left]);
        let name = g.node("Pad", &[&x.name, &pads], vec![]);
        Ok(Traced { name, ..y })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla::{DType, Device};

    #[test]
    fn spatial_arithmetic_follows_the_pooling_rules() {
        let pool = |k: usize, s: usize| Spatial::Pool(Pool2dConfig::new(k).stride(s));
        let ceil =
            |k: usize, s: usize| Spatial::Pool(Pool2dConfig::new(k).stride(s).ceil_mode(true));
        // AlexNet at 224: 11×11/4 pad 2 gives 55, then 27, 13, 6.
        let alex = [
            Spatial::Conv {
                kernel: 11,
                stride: 4,
                padding: 2,
            },
            pool(3, 2),
            pool(3, 2),
            pool(3, 2),
        ];
        assert_eq!(output_size(224, &alex), Some(6));
        assert_eq!(min_input_size(&alex), 63);
        // ceil mode: 112 -> 56 with a 3×3/2 window (floor mode gives 55).
        assert_eq!(output_size(112, &[ceil(3, 2)]), Some(56));
        assert_eq!(output_size(112, &[pool(3, 2)]), Some(55));
        // A last window that would start past the input is dropped: 4 -> 2 (not 3).
        assert_eq!(output_size(4, &[ceil(3, 2)]), Some(2));
        assert_eq!(output_size(1, &[ceil(2, 2)]), None);
    }

    #[test]
    fn pad_to_centres_small_images_and_leaves_large_ones() -> Result<()> {
        let x = Tensor::ones(&[1, 1, 28, 27], DType::F32, &Device::Cpu);
        let y = PadTo(32).forward(&x)?;
        assert_eq!(y.dims(), &[1, 1, 32, 32]);
        let v = y.to_vec::<f32>()?;
        // Height 28 -> 32: two zero rows above; width 27 -> 32: two zero columns left, three right.
        assert_eq!(v[2 * 32 + 1], 0.0);
        assert_eq!(v[2 * 32 + 2], 1.0);
        assert_eq!(v.iter().sum::<f32>(), (28 * 27) as f32);
        let big = Tensor::ones(&[1, 1, 40, 40], DType::F32, &Device::Cpu);
        assert_eq!(PadTo(32).forward(&big)?.dims(), &[1, 1, 40, 40]);
        Ok(())
    }
}
