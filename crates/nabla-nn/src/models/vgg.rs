//! VGG (Simonyan & Zisserman 2014): every configuration of the paper's Table 1, A to E, and
//! torchvision's batch-norm variants, in torchvision's layout.

use super::blocks::{
    check_config, conv2d, conv_cfg, kaiming_normal_fan_out, krizhevsky_lrn, linear, min_input_size,
    PadTo, Spatial,
};
use super::ModelConfig;
use crate::init::Init;
use crate::layers::{Activation, AdaptiveAvgPool2d, BatchNorm, Dropout, Flatten, MaxPool2d};
use crate::{seq, Error, Path, Result, Sequential};
use nabla::Pool2dConfig;

/// A column of Table 1 of the VGG paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VggConfig {
    /// A: 11 weight layers (`vgg11`), 133M parameters.
    A,
    /// A-LRN: A with local response normalization after the first layer (`vgg11_lrn`).
    ALrn,
    /// B: 13 weight layers (`vgg13`), 133M.
    B,
    /// C: 16 weight layers, the last of blocks 3–5 a 1×1 convolution (`vgg16_c`), 134M.
    C,
    /// D: 16 weight layers, all 3×3 (`vgg16`), 138M.
    D,
    /// E: 19 weight layers (`vgg19`), 144M.
    E,
}

/// One entry of a configuration.
#[derive(Clone, Copy)]
enum Layer {
    /// A 3×3 convolution (padding 1) with this many filters, then ReLU.
    Conv3(usize),
    /// A 1×1 convolution (configuration C), then ReLU.
    Conv1(usize),
    /// 2×2 max-pooling, stride 2.
    Pool,
}

use Layer::{Conv1, Conv3, Pool};

#[rustfmt::skip]
const A: &[Layer] = &[
    Conv3(64), Pool,
    Conv3(128), Pool,
    Conv3(256), Conv3(256), Pool,
    Conv3(512), Conv3(512), Pool,
    Conv3(512), Conv3(512), Pool,
];
#[rustfmt::skip]
const B: &[Layer] = &[
    Conv3(64), Conv3(64), Pool,
    Conv3(128), Conv3(128), Pool,
    Conv3(256), Conv3(256), Pool,
    Conv3(512), Conv3(512), Pool,
    Conv3(512), Conv3(512), Pool,
];
#[rustfmt::skip]
const C: &[Layer] = &[
    Conv3(64), Conv3(64), Pool,
    Conv3(128), Conv3(128), Pool,
    Conv3(256), Conv3(256), Conv1(256), Pool,
    Conv3(512), Conv3(512), Conv1(512), Pool,
    Conv3(512), Conv3(512), Conv1(512), Pool,
];
#[rustfmt::skip]
const D: &[Layer] = &[
    Conv3(64), Conv3(64), Pool,
    Conv3(128), Conv3(128), Pool,
    Conv3(256), Conv3(256), Conv3(256), Pool,
    Conv3(512), Conv3(512), Conv3(512), Pool,
    Conv3(512), Conv3(512), Conv3(512), Pool,
];
#[rustfmt::skip]
const E: &[Layer] = &[
    Conv3(64), Conv3(64), Pool,
    Conv3(128), Conv3(128), Pool,
    Conv3(256), Conv3(256), Conv3(256), Conv3(256), Pool,
    Conv3(512), Conv3(512), Conv3(512), Conv3(512), Pool,
    Conv3(512), Conv3(512), Conv3(512), Conv3(512), Pool,
];

impl VggConfig {
    fn layers(self) -> &'static [Layer] {
        match self {
            VggConfig::A | VggConfig::ALrn => A,
            VggConfig::B => B,
            VggConfig::C => C,
            VggConfig::D => D,
            VggConfig::E => E,
        }
    }

    /// The zoo name of this configuration, without `_bn`.
    pub fn name(self) -> &'static str {
        match self {
            VggConfig::A => "vgg11",
            VggConfig::ALrn => "vgg11_lrn",
            VggConfig::B => "vgg13",
            VggConfig::C => "vgg16_c",
            VggConfig::D => "vgg16",
            VggConfig::E => "vgg19",
        }
    }
}

/// The smallest image VGG takes: 32×32, which its five 2×2 pools bring to 1×1.
pub fn vgg_min_image_size() -> usize {
    min_input_size(&[Spatial::Pool(Pool2dConfig::new(2)); 5])
}

/// VGG in torchvision's layout: `features.N`, where N counts every layer (convolution, batch
/// norm in the `_bn` variants, ReLU, LRN, max-pool), then `avgpool` adaptive to 7×7 and
/// `classifier.{0,3,6}` linear 25088→4096→4096→classes, with ReLU and dropout 0.5 after the
/// first two. Initialization as torchvision: convolutions `N(0, 2/fan_out)` with zero bias,
/// linear layers `N(0, 0.01²)` with zero bias.
///
/// - [`VggConfig::ALrn`] puts local response normalization (AlexNet's, see
///   [`super::alexnet_paper`]) after the first convolution's ReLU, as the paper's A-LRN.
/// - [`VggConfig::C`]'s 1×1 convolutions have no padding.
/// - `batch_norm` inserts `BatchNorm2d` between each convolution and its ReLU (torchvision's
///   `vgg11_bn` …); the convolutions keep their biases, as torchvision's do.
///
/// Any image from 32×32 up works unchanged (the adaptive pool turns any map into 7×7, so the
/// classifier and the parameter count stay those of 224×224). For a smaller `image_size`
/// (MNIST's 28), the model zero-pads its input to 32×32 first, as LeNet-5 does.
///
/// # Errors
/// For A-LRN with batch norm (not a configuration of either source), and for a configuration
/// with a zero size.
pub fn vgg(p: &Path, c: &ModelConfig, config: VggConfig, batch_norm: bool) -> Result<Sequential> {
    Ok(seq()
        .add_named(
            "features",
            features(&p.sub("features"), c, config, batch_norm)?,
        )
        .add_named("avgpool", AdaptiveAvgPool2d((7, 7)))
        .add_named("flatten", Flatten)
        .add_named(
            "classifier",
            classifier(&p.sub("classifier"), c.num_classes)?,
        ))
}

/// The convolutional part, `features.N` (see [`vgg`]): `[n, c, h, w]` to `[n, 512, h/32, w/32]`.
fn features(f: &Path, c: &ModelConfig, config: VggConfig, batch_norm: bool) -> Result<Sequential> {
    check_config("vgg", c)?;
    if batch_norm && config == VggConfig::ALrn {
        return Err(Error::invalid(
            "vgg",
            "A-LRN has no batch-norm variant (use vgg11_bn, or vgg11_lrn without batch norm)",
        ));
    }
    let min = vgg_min_image_size();
    let mut features = if c.image_size < min {
        seq().add(PadTo(min))
    } else {
        seq()
    };
    let mut index = 0;
    let mut channels = c.in_channels;
    for (i, &layer) in config.layers().iter().enumerate() {
        let (width, kernel, padding) = match layer {
            Pool => {
                features = features.add(MaxPool2d(Pool2dConfig::new(2)));
                index += 1;
                continue;
            }
            Conv3(w) => (w, 3, 1),
            Conv1(w) => (w, 1, 0),
        };
        let conv = conv2d(
            &f.sub(index),
            channels,
            width,
            kernel,
            conv_cfg(1, padding),
            kaiming_normal_fan_out(width, kernel),
            Some(Init::Constant(0.0)),
        )?;
        features = features.add(conv);
        index += 1;
        if batch_norm {
            features = features.add(BatchNorm::new2d(&f.sub(index), width)?);
            index += 1;
        }
        features = features.add(Activation::Relu);
        index += 1;
        if i == 0 && config == VggConfig::ALrn {
            features = features.add(krizhevsky_lrn());
            index += 1;
        }
        channels = width;
    }
    Ok(features)
}

/// The classifier, `classifier.{0,3,6}`, the same for every configuration: 25088 → 4096 →
/// 4096 → classes (123.6M of the parameters for 1000 classes).
fn classifier(cl: &Path, classes: usize) -> Result<Sequential> {
    let w = Init::Normal {
        mean: 0.0,
        std: 0.01,
    };
    let zero = Init::Constant(0.0);
    Ok(seq()
        .add(linear(&cl.sub(0), 512 * 7 * 7, 4096, w, zero)?)
        .add(Activation::Relu)
        .add(Dropout::new(0.5)?)
        .add(linear(&cl.sub(3), 4096, 4096, w, zero)?)
        .add(Activation::Relu)
        .add(Dropout::new(0.5)?)
        .add(linear(&cl.sub(6), 4096, classes, w, zero)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::{assert_torchvision_layout, count, torchvision};
    use crate::{Module, VarStore};
    use nabla::{DType, Device, Tensor};

    // Building a whole VGG draws 130M+ random numbers, most of them for the classifier that
    // all configurations share: the tests build one whole VGG and, for the others, the
    // convolutional part, whose count plus the classifier's is the total.

    #[test]
    fn vgg11_is_torchvisions_and_classifies_cifar() -> Result<()> {
        let dev = Device::Cpu;
        let vs = VarStore::new(&dev);
        let c = ModelConfig {
            num_classes: 1000,
            ..ModelConfig::cifar10()
        };
        let net = vgg(&vs.root(), &c, VggConfig::A, false)?;
        assert_torchvision_layout(&vs, "vgg11");
        let y = net.forward(&Tensor::randn(&[1, 3, 32, 32], DType::F32, &dev)?)?;
        assert_eq!(y.dims(), &[1, 1000]);
        assert!(y.to_vec::<f32>()?.iter().all(|v| v.is_finite()));
        Ok(())
    }

    #[test]
    fn every_configuration_matches_torchvision_and_the_papers_table_2() -> Result<()> {
        let imagenet = ModelConfig::imagenet();
        // The classifier, checked whole in vgg11_is_torchvisions_and_classifies_cifar.
        let head = 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000;
        let head_names: Vec<String> = [0, 3, 6]
            .iter()
            .flat_map(|i| ["weight", "bias"].map(|w| format!("classifier.{i}.{w}")))
            .collect();
        for (config, bn, name) in [
            (VggConfig::A, false, "vgg11"),
            (VggConfig::B, false, "vgg13"),
            (VggConfig::D, false, "vgg16"),
            (VggConfig::E, false, "vgg19"),
            (VggConfig::A, true, "vgg11_bn"),
            (VggConfig::B, true, "vgg13_bn"),
            (VggConfig::D, true, "vgg16_bn"),
            (VggConfig::E, true, "vgg19_bn"),
        ] {
            let vs = VarStore::new(&Device::Cpu);
            features(&vs.root().sub("features"), &imagenet, config, bn)?;
            let (params, want) = torchvision(name);
            let got: Vec<(String, Vec<usize>)> = vs
                .vars()
                .iter()
                .map(|v| (v.name().to_string(), v.leaf().dims().to_vec()))
                .collect();
            assert_eq!(got, want[..got.len()], "{name}: features");
            let rest: Vec<&String> = want[got.len()..].iter().map(|(n, _)| n).collect();
            assert_eq!(
                rest,
                head_names.iter().collect::<Vec<_>>(),
                "{name}: classifier"
            );
            assert_eq!(vs.num_params() + head, params, "{name}: parameters");
        }
        // The two the paper has and torchvision has not. Table 2: A-LRN 133M as A (LRN has
        // no parameters); C 134M, D minus 8·(256² + 2·512²) for its three 1×1 convolutions.
        let (alrn, names) =
            count(|p| features(&p.sub("features"), &imagenet, VggConfig::ALrn, false))?;
        assert_eq!(alrn + head, 132_863_336);
        assert_eq!(names[2], "features.4.weight"); // conv, ReLU, LRN, pool, conv
        let (c, names) = count(|p| features(&p.sub("features"), &imagenet, VggConfig::C, false))?;
        assert_eq!(c + head, 138_357_544 - 8 * (256 * 256 + 2 * 512 * 512));
        assert_eq!(c + head, 133_638_952);
        assert!(names.contains(&"features.14.weight".to_string())); // 256@1×1, as D's 3×3
        let conv1x1 = |n: &str| n == "features.14.weight";
        let vs = VarStore::new(&Device::Cpu);
        features(&vs.root().sub("features"), &imagenet, VggConfig::C, false)?;
        let w = vs
            .vars()
            .into_iter()
            .find(|v| conv1x1(v.name()))
            .expect("features.14");
        assert_eq!(w.leaf().dims(), &[256, 256, 1, 1]);
        assert!(features(&vs.root().sub("x"), &imagenet, VggConfig::ALrn, true).is_err());
        Ok(())
    }

    #[test]
    fn small_images_are_padded_to_32() -> Result<()> {
        assert_eq!(vgg_min_image_size(), 32);
        let dev = Device::Cpu;
        let vs = VarStore::new(&dev);
        let net = features(&vs.root(), &ModelConfig::mnist(), VggConfig::ALrn, false)?;
        let y = net.forward(&Tensor::randn(&[2, 1, 28, 28], DType::F32, &dev)?)?;
        assert_eq!(y.dims(), &[2, 512, 1, 1]);
        Ok(())
    }
}
