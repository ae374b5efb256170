//! AlexNet (Krizhevsky, Sutskever & Hinton 2012): torchvision's single-tower layout and the
//! paper's network with local response normalization and its two-GPU grouped convolutions.

use super::blocks::{
    check_config, conv2d, conv_cfg, krizhevsky_lrn, linear, min_input_size, Spatial,
};
use super::ModelConfig;
use crate::init::Init;
use crate::layers::{Activation, AdaptiveAvgPool2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d};
use crate::{seq, Error, Path, Result, Sequential};
use nabla::{Conv2dConfig, Pool2dConfig};

/// The overlapping max-pooling of the paper: 3×3 windows, stride 2.
fn overlapping_pool() -> Pool2dConfig {
    Pool2dConfig::new(3).stride(2)
}

/// The steps that shrink the image: the 11×11 stride-4 stem and three overlapping pools
/// (every other convolution keeps the size).
fn geometry() -> [Spatial; 4] {
    [
        Spatial::Conv {
            kernel: 11,
            stride: 4,
            padding: 2,
        },
        Spatial::Pool(overlapping_pool()),
        Spatial::Pool(overlapping_pool()),
        Spatial::Pool(overlapping_pool()),
    ]
}

/// The smallest image AlexNet takes: 63×63 (the stem's 15×15 output is the least that three
/// 3×3/2 pools reduce to 1×1).
pub fn alexnet_min_image_size() -> usize {
    min_input_size(&geometry())
}

/// AlexNet's stride-4 stem cannot be fed MNIST or CIFAR images: unlike VGG and GoogLeNet,
/// which zero-pad a small image up to their minimum, AlexNet would see a 28×28 digit as a
/// small patch in the middle of a 63×63 frame, so a small size is refused instead.
fn check_size(model: &'static str, c: &ModelConfig) -> Result<()> {
    check_config(model, c)?;
    let min = alexnet_min_image_size();
    if c.image_size < min {
        return Err(Error::invalid(
            model,
            format!(
                "AlexNet needs images of at least {min}×{min} (its 11×11 stride-4 stem and three 3×3/2 max-pools), got {s}×{s}; resize the images (e.g. to 224) or pick a model for small images (resnet18, vgg11, googlenet)",
                s = c.image_size
            ),
        ));
    }
    Ok(())
}

/// AlexNet as torchvision builds it (the "one weird trick" single-tower variant without
/// LRN): `features.{0,3,6,8,10}` convolutions 64@11×11/4, 192@5×5, 384, 256, 256@3×3, each
/// followed by ReLU, with 3×3/2 max-pools after the first, second and fifth; `avgpool`
/// adaptive to 6×6; `classifier.{1,4,6}` linear 9216→4096→4096→classes, with dropout 0.5
/// before the first two. PyTorch's default initialization, as torchvision. 61,100,840
/// parameters for 1000 classes.
///
/// An image smaller than 224 works down to 63×63 (the adaptive pool brings any map to 6×6).
///
/// # Errors
/// When `c.image_size` is below 63 (the message names the minimum).
pub fn alexnet(p: &Path, c: &ModelConfig) -> Result<Sequential> {
    check_size("alexnet", c)?;
    let f = p.sub("features");
    let conv = |i: usize, cin: usize, cout: usize, k: usize, cfg: Conv2dConfig| {
        Conv2d::new(&f.sub(i), cin, cout, k, cfg, true)
    };
    let features = seq()
        .add(conv(0, c.in_channels, 64, 11, conv_cfg(4, 2))?)
        .add(Activation::Relu)
        .add(MaxPool2d(overlapping_pool()))
        .add(conv(3, 64, 192, 5, conv_cfg(1, 2))?)
        .add(Activation::Relu)
        .add(MaxPool2d(overlapping_pool()))
        .add(conv(6, 192, 384, 3, conv_cfg(1, 1))?)
        .add(Activation::Relu)
        .add(conv(8, 384, 256, 3, conv_cfg(1, 1))?)
        .add(Activation::Relu)
        .add(conv(10, 256, 256, 3, conv_cfg(1, 1))?)
        .add(Activation::Relu)
        .add(MaxPool2d(overlapping_pool()));
    let cl = p.sub("classifier");
    let classifier = seq()
        .add(Dropout::new(0.5)?)
        .add(Linear::new(&cl.sub(1), 256 * 6 * 6, 4096, true)?)
        .add(Activation::Relu)
        .add(Dropout::new(0.5)?)
        .add(Linear::new(&cl.sub(4), 4096, 4096, true)?)
        .add(Activation::Relu)
        .add(Linear::new(&cl.sub(6), 4096, c.num_classes, true)?);
    Ok(seq()
        .add_named("features", features)
        .add_named("avgpool", AdaptiveAvgPool2d((6, 6)))
        .add_named("flatten", Flatten)
        .add_named("classifier", classifier))
}

/// AlexNet as Krizhevsky et al. 2012 describe it: 96@11×11/4, 256@5×5, 384, 384, 256@3×3
/// convolutions with ReLU; local response normalization (n = 5, α = 1e-4, β = 0.75, k = 2 in
/// the paper's formula) after the first two, each followed by overlapping 3×3/2 max-pooling,
/// and a third pool after the fifth; then 4096, 4096 and the classes, fully connected, with
/// dropout 0.5 on the outputs of the first two. 60,965,224 parameters for 1000 classes
/// (the paper's "60 million").
///
/// Layout choices:
/// - One model on one device, but the paper's two-GPU split is kept where it changes the
///   connectivity: conv2, conv4 and conv5 see only the half of the maps computed "on their
///   GPU", so they are grouped convolutions (`groups = 2`, weights `[256, 48, 5, 5]`,
///   `[384, 192, 3, 3]`, `[256, 192, 3, 3]`); conv3 and the fully connected layers see both
///   halves, as in the paper.
/// - The stem is padded by 2, so a 224×224 image gives the paper's 55×55 maps (the paper's
///   arithmetic needs 227 without padding); an adaptive 6×6 average pool (the identity at
///   224) lets other sizes from 63 up through.
/// - Names follow torchvision's pattern: `features.{0,4,8,10,12}` convolutions (LRN at 2 and
///   6), `classifier.{0,3,6}` linear layers.
/// - Initialization as the paper: weights `N(0, 0.01²)`; biases 1 in conv2, conv4, conv5 and
///   the hidden fully connected layers, 0 elsewhere.
///
/// # Errors
/// When `c.image_size` is below 63.
pub fn alexnet_paper(p: &Path, c: &ModelConfig) -> Result<Sequential> {
    check_size("alexnet_paper", c)?;
    let w = Init::Normal {
        mean: 0.0,
        std: 0.01,
    };
    let (zero, one) = (Init::Constant(0.0), Init::Constant(1.0));
    let grouped = |padding: usize| Conv2dConfig {
        groups: 2,
        ..conv_cfg(1, padding)
    };
    let f = p.sub("features");
    let features = seq()
        .add(conv2d(
            &f.sub(0),
            c.in_channels,
            96,
            11,
            conv_cfg(4, 2),
            w,
            Some(zero),
        )?)
        .add(Activation::Relu)
        .add(krizhevsky_lrn())
        .add(MaxPool2d(overlapping_pool()))
        .add(conv2d(&f.sub(4), 96, 256, 5, grouped(2), w, Some(one))?)
        .add(Activation::Relu)
        .add(krizhevsky_lrn())
        .add(MaxPool2d(overlapping_pool()))
        .add(conv2d(
            &f.sub(8),
            256,
            384,
            3,
            conv_cfg(1, 1),
            w,
            Some(zero),
        )?)
        .add(Activation::Relu)
        .add(conv2d(&f.sub(10), 384, 384, 3, grouped(1), w, Some(one))?)
        .add(Activation::Relu)
        .add(conv2d(&f.sub(12), 384, 256, 3, grouped(1), w, Some(one))?)
        .add(Activation::Relu)
        .add(MaxPool2d(overlapping_pool()));
    let cl = p.sub("classifier");
    let classifier = seq()
        .add(linear(&cl.sub(0), 256 * 6 * 6, 4096, w, one)?)
        .add(Activation::Relu)
        .add(Dropout::new(0.5)?)
        .add(linear(&cl.sub(3), 4096, 4096, w, one)?)
        .add(Activation::Relu)
        .add(Dropout::new(0.5)?)
        .add(linear(&cl.sub(6), 4096, c.num_classes, w, zero)?);
    Ok(seq()
        .add_named("features", features)
        .add_named("avgpool", AdaptiveAvgPool2d((6, 6)))
        .add_named("flatten", Flatten)
        .add_named("classifier", classifier))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::assert_torchvision_layout;
    use crate::{Module, VarStore};
    use nabla::{DType, Device, Tensor};

    /// A model built for 224×224 takes any image from 63×63 up.
    fn forward_63(net: &Sequential) -> Result<Vec<usize>> {
        let x = Tensor::randn(&[1, 3, 63, 63], DType::F32, &Device::Cpu)?;
        Ok(net.forward(&x)?.dims().to_vec())
    }

    #[test]
    fn alexnet_is_torchvisions() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let net = alexnet(&vs.root(), &ModelConfig::imagenet())?;
        assert_eq!(vs.num_params(), 61_100_840);
        assert_torchvision_layout(&vs, "alexnet");
        assert_eq!(forward_63(&net)?, vec![1, 1000]);
        Ok(())
    }

    #[test]
    fn alexnet_paper_has_the_papers_sixty_million_parameters() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let net = alexnet_paper(&vs.root(), &ModelConfig::imagenet())?;
        // conv 34,944 + 307,456 + 885,120 + 663,936 + 442,624; fc 37,752,832 + 16,781,312
        // + 4,097,000.
        assert_eq!(vs.num_params(), 60_965_224);
        let shape = |name: &str| vs.get(name).map(|v| v.leaf().dims().to_vec());
        assert_eq!(shape("features.4.weight"), Some(vec![256, 48, 5, 5])); // grouped
        assert_eq!(shape("features.8.weight"), Some(vec![384, 256, 3, 3])); // not grouped
        assert_eq!(shape("classifier.6.bias"), Some(vec![1000]));
        assert_eq!(forward_63(&net)?, vec![1, 1000]);
        Ok(())
    }

    #[test]
    fn small_images_are_refused_with_the_minimum_size() {
        assert_eq!(alexnet_min_image_size(), 63);
        for build in [alexnet, alexnet_paper] {
            let vs = VarStore::new(&Device::Cpu);
            let err = build(&vs.root(), &ModelConfig::cifar10())
                .err()
                .expect("32×32 is refused")
                .to_string();
            assert!(
                err.contains("at least 63×63") && err.contains("32×32"),
                "{err}"
            );
            assert!(vs.vars().is_empty());
        }
    }
}
