//! ResNet (He, Zhang, Ren & Sun 2015): 18 and 34 layers of basic blocks, 50, 101 and 152 of
//! bottleneck blocks, in torchvision's layout.

use super::blocks::{check_config, conv2d, conv_cfg, kaiming_normal_fan_out};
use super::ModelConfig;
use crate::layers::{Activation, AdaptiveAvgPool2d, BatchNorm, Flatten, Linear, MaxPool2d};
use crate::{seq, Error, Path, Residual, Result, Sequential};
use nabla::Pool2dConfig;

/// The largest `image_size` that gets the small-image stem (see [`resnet`]).
pub const RESNET_SMALL_STEM_MAX: usize = 64;

/// The residual block a ResNet is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    /// Two 3×3 convolutions (ResNet-18/34); output width = planes.
    Basic,
    /// 1×1 reduce, 3×3, 1×1 expand ×4 (ResNet-50/101/152); output width = 4·planes.
    Bottleneck,
}

impl Block {
    fn expansion(self) -> usize {
        match self {
            Block::Basic => 1,
            Block::Bottleneck => 4,
        }
    }
}

/// A bias-free convolution initialized as torchvision's ResNet: `N(0, 2/fan_out)`.
fn conv(
    p: &Path,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
) -> Result<crate::layers::Conv2d> {
    conv2d(
        p,
        cin,
        cout,
        k,
        conv_cfg(stride, k / 2),
        kaiming_normal_fan_out(cout, k),
        None,
    )
}

/// One residual block `relu(body(x) + shortcut(x))` under `p` (`layer2.0`): torchvision's
/// names `conv1`, `bn1`, `conv2`, `bn2` (`conv3`, `bn3`) and, when the shape changes, the
/// projection shortcut `downsample.0` (1×1 convolution with the block's stride) and
/// `downsample.1` (batch norm). The bottleneck strides in its 3×3 convolution (torchvision's
/// "v1.5"; the paper strides in the first 1×1).
fn block(
    p: &Path,
    kind: Block,
    inplanes: usize,
    planes: usize,
    stride: usize,
) -> Result<Sequential> {
    let out = planes * kind.expansion();
    let body = match kind {
        Block::Basic => seq()
            .add(conv(&p.sub("conv1"), inplanes, planes, 3, stride)?)
            .add(BatchNorm::new2d(&p.sub("bn1"), planes)?)
            .add(Activation::Relu)
            .add(conv(&p.sub("conv2"), planes, planes, 3, 1)?)
            .add(BatchNorm::new2d(&p.sub("bn2"), planes)?),
        Block::Bottleneck => seq()
            .add(conv(&p.sub("conv1"), inplanes, planes, 1, 1)?)
            .add(BatchNorm::new2d(&p.sub("bn1"), planes)?)
            .add(Activation::Relu)
            .add(conv(&p.sub("conv2"), planes, planes, 3, stride)?)
            .add(BatchNorm::new2d(&p.sub("bn2"), planes)?)
            .add(Activation::Relu)
            .add(conv(&p.sub("conv3"), planes, out, 1, 1)?)
            .add(BatchNorm::new2d(&p.sub("bn3"), out)?),
    };
    let residual = if stride != 1 || inplanes != out {
        let ds = p.sub("downsample");
        let shortcut = seq()
            .add(conv(&ds.sub(0), inplanes, out, 1, stride)?)
            .add(BatchNorm::new2d(&ds.sub(1), out)?);
        Residual::with_shortcut(body, shortcut)
    } else {
        Residual::new(body)
    };
    Ok(seq().add(residual).add(Activation::Relu))
}

/// A ResNet of `depth` 18, 34, 50, 101 or 152, in torchvision's layout: `conv1` (7×7/2, no
/// bias), `bn1`, ReLU, 3×3/2 max-pool; four stages `layer1`–`layer4` of 64, 128, 256, 512
/// planes (the last three start with stride 2), with [2, 2, 2, 2], [3, 4, 6, 3],
/// [3, 4, 6, 3], [3, 4, 23, 3] or [3, 8, 36, 3] blocks; global average pool; `fc`.
/// Initialization as torchvision: convolutions `N(0, 2/fan_out)`, batch norm γ = 1, β = 0,
/// `fc` PyTorch's default. For 1000 classes, ResNet-18 has 11,689,512 parameters, as
/// torchvision's.
///
/// **Small images.** For `image_size ≤ 64` (CIFAR, MNIST, Tiny ImageNet) the stem is a 3×3
/// stride-1 `conv1` without the max-pool, as He et al. do for CIFAR-10, so a 32×32 image
/// reaches `layer4` as 4×4 instead of 1×1; `conv1.weight` is then `[64, c, 3, 3]` and a
/// torchvision ImageNet checkpoint's `conv1` does not fit (load it with
/// [`crate::VarStore::load_partial`], which reports it). Every other name and shape is
/// unchanged. Larger images get the ImageNet stem; any size works with either.
///
/// # Errors
/// For another depth, or a configuration with a zero size.
pub fn resnet(p: &Path, c: &ModelConfig, depth: usize) -> Result<Sequential> {
    check_config("resnet", c)?;
    let (kind, layers) = match depth {
        18 => (Block::Basic, [2, 2, 2, 2]),
        34 => (Block::Basic, [3, 4, 6, 3]),
        50 => (Block::Bottleneck, [3, 4, 6, 3]),
        101 => (Block::Bottleneck, [3, 4, 23, 3]),
        152 => (Block::Bottleneck, [3, 8, 36, 3]),
        d => {
            return Err(Error::UnknownName {
                op: "resnet",
                what: "depth",
                name: d.to_string(),
                valid: "18, 34, 50, 101, 152".into(),
            })
        }
    };
    let mut net = if c.image_size <= RESNET_SMALL_STEM_MAX {
        seq()
            .add_named("conv1", conv(&p.sub("conv1"), c.in_channels, 64, 3, 1)?)
            .add_named("bn1", BatchNorm::new2d(&p.sub("bn1"), 64)?)
            .add_named("relu", Activation::Relu)
    } else {
        seq()
            .add_named(
                "conv1",
                conv2d(
                    &p.sub("conv1"),
                    c.in_channels,
                    64,
                    7,
                    conv_cfg(2, 3),
                    kaiming_normal_fan_out(64, 7),
                    None,
                )?,
            )
            .add_named("bn1", BatchNorm::new2d(&p.sub("bn1"), 64)?)
            .add_named("relu", Activation::Relu)
            .add_named(
                "maxpool",
                MaxPool2d(Pool2dConfig::new(3).stride(2).padding(1)),
            )
    };
    let mut inplanes = 64;
    for (stage, (&blocks, planes)) in layers.iter().zip([64, 128, 256, 512]).enumerate() {
        let lp = p.sub(format!("layer{}", stage + 1));
        let mut layer = seq();
        for b in 0..blocks {
            let stride = if stage > 0 && b == 0 { 2 } else { 1 };
            layer = layer.add(block(&lp.sub(b), kind, inplanes, planes, stride)?);
            inplanes = planes * kind.expansion();
        }
        net = net.add_named(format!("layer{}", stage + 1), layer);
    }
    Ok(net
        .add_named("avgpool", AdaptiveAvgPool2d((1, 1)))
        .add_named("flatten", Flatten)
        .add_named(
            "fc",
            Linear::new(&p.sub("fc"), inplanes, c.num_classes, true)?,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::{assert_torchvision_layout, count};
    use crate::{loss, Module, VarStore};
    use nabla::{DType, Device, Tensor};

    #[test]
    fn resnets_match_torchvision() -> Result<()> {
        for depth in [18, 34, 50, 101, 152] {
            let vs = VarStore::new(&Device::Cpu);
            resnet(&vs.root(), &ModelConfig::imagenet(), depth)?;
            assert_torchvision_layout(&vs, &format!("resnet{depth}"));
        }
        assert!(resnet(
            &VarStore::new(&Device::Cpu).root(),
            &ModelConfig::imagenet(),
            20
        )
        .is_err());
        Ok(())
    }

    #[test]
    fn small_images_get_the_cifar_stem() -> Result<()> {
        // 3×3 conv1 instead of 7×7: 64·3·(49 − 9) fewer weights; fc 512·10 + 10.
        let (n, _) = count(|p| resnet(p, &ModelConfig::cifar10(), 18))?;
        assert_eq!(n, 11_689_512 - 64 * 3 * 40 - (512 * 990 + 990));
        let vs = VarStore::new(&Device::Cpu);
        let net = resnet(&vs.root(), &ModelConfig::cifar10(), 18)?;
        let x = Tensor::randn(&[2, 3, 32, 32], DType::F32, &Device::Cpu)?;
        assert_eq!(net.forward(&x)?.dims(), &[2, 10]);
        let mnist = resnet(
            &VarStore::new(&Device::Cpu).root(),
            &ModelConfig::mnist(),
            50,
        )?;
        let x = Tensor::randn(&[1, 1, 28, 28], DType::F32, &Device::Cpu)?;
        assert_eq!(mnist.forward(&x)?.dims(), &[1, 10]);
        Ok(())
    }

    /// Evaluation without gradient recording runs other convolution kernels (cached
    /// Winograd transforms, F(4×4, 3×3) on the 32×32 stage): its logits stay within 1e-4
    /// of the recorded pass's, relative to their scale, through all 20 convolutions.
    #[test]
    fn resnet18_inference_agrees_with_the_recorded_forward() -> Result<()> {
        nabla::manual_seed(7);
        let vs = VarStore::new(&Device::Cpu);
        let net = resnet(&vs.root(), &ModelConfig::cifar10(), 18)?;
        let x = Tensor::randn(&[2, 3, 32, 32], DType::F32, &Device::Cpu)?;
        let recorded = net.forward_t(&x, false)?.detach().to_vec::<f32>()?;
        let inferred = nabla::no_grad(|| net.forward_t(&x, false))?.to_vec::<f32>()?;
        let scale = recorded.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        for (a, b) in inferred.iter().zip(&recorded) {
            assert!((a - b).abs() <= 1e-4 * scale, "{a} vs {b} (scale {scale})");
        }
        Ok(())
    }

    #[test]
    fn resnet18_learns_a_fixed_batch() -> Result<()> {
        nabla::manual_seed(3);
        let vs = VarStore::new(&Device::Cpu);
        let c = ModelConfig {
            num_classes: 3,
            in_channels: 3,
            image_size: 16,
        };
        let net = resnet(&vs.root(), &c, 18)?;
        let x = Tensor::randn(&[4, 3, 16, 16], DType::F32, &Device::Cpu)?;
        let labels = Tensor::from_slice(&[0i64, 1, 2, 1], &[4], &Device::Cpu)?;
        let mut opt = crate::optim::Sgd::new(vs.trainable(), 0.05).momentum(0.9);
        let mut losses = vec![];
        for _ in 0..4 {
            let l = loss::cross_entropy(&net.forward_t(&x, true)?, &labels)?;
            losses.push(l.to_scalar::<f32>()?);
            crate::optim::Optimizer::step(&mut opt, &l.backward()?)?;
        }
        assert!(losses[3] < losses[0], "{losses:?}");
        Ok(())
    }
}
