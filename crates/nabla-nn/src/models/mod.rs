//! The model zoo: every architecture by name, with PyTorch/torchvision parameter names.
//!
//! `build("lenet5", &vs.root(), &ModelConfig::mnist())` creates a model; [`registry`] lists
//! what exists (the CLI's `nabla zoo`).

mod alexnet;
pub mod autoencoder;
mod blocks;
pub mod conv_vae;
pub mod dae;
pub mod dcgan;
mod googlenet;
mod lenet;
mod mlp;
pub mod rbm;
mod resnet;
pub mod rnn;
#[cfg(test)]
mod testing;
pub mod transfer;
pub mod vae;
mod vgg;

pub use alexnet::{alexnet, alexnet_min_image_size, alexnet_paper};
pub use googlenet::{googlenet, googlenet_paper, GoogLeNet, GoogLeNetVariant};
pub use lenet::{lenet5, lenet5_classic};
pub use mlp::{mlp, MlpConfig};
pub use resnet::{resnet, RESNET_SMALL_STEM_MAX};
pub use vgg::{vgg, vgg_min_image_size, VggConfig};

use crate::layers::CellKind;
use crate::{Error, Module, Path, Result};

/// What a model is built for: classes out, image channels and size in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelConfig {
    /// Number of output classes.
    pub num_classes: usize,
    /// Input channels (1 for MNIST, 3 for CIFAR/ImageNet).
    pub in_channels: usize,
    /// Input height and width (28 for MNIST, 32 for CIFAR, 224 for ImageNet).
    pub image_size: usize,
}

impl ModelConfig {
    /// 10 classes of 1×28×28 images.
    pub fn mnist() -> Self {
        ModelConfig {
            num_classes: 10,
            in_channels: 1,
            image_size: 28,
        }
    }
    /// 10 classes of 3×32×32 images.
    pub fn cifar10() -> Self {
        ModelConfig {
            num_classes: 10,
            in_channels: 3,
            image_size: 32,
        }
    }
    /// 1000 classes of 3×224×224 images.
    pub fn imagenet() -> Self {
        ModelConfig {
            num_classes: 1000,
            in_channels: 3,
            image_size: 224,
        }
    }
    /// Elements of one input example.
    pub fn input_len(&self) -> usize {
        self.in_channels * self.image_size * self.image_size
    }
}

/// What a zoo model reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelInput {
    /// `[batch, channels, size, size]` images (the MLP flattens them).
    Image,
    /// `[batch, time]` token indices (the character models).
    Tokens,
}

impl ModelSpec {
    /// The shape of `batch` native inputs: `[batch, C, H, W]` images or `[batch, T]` tokens.
    pub fn native_input(&self, batch: usize) -> Vec<usize> {
        let n = self.native;
        match self.input {
            ModelInput::Image => vec![batch, n.in_channels, n.image_size, n.image_size],
            ModelInput::Tokens => vec![batch, n.in_channels],
        }
    }

    /// `batch` native inputs on `device`: standard normal pixels, or token indices that run
    /// through the vocabulary (as F32, which the token models read).
    ///
    /// # Errors
    /// Engine errors only.
    pub fn example_input(&self, batch: usize, device: &nabla::Device) -> Result<nabla::Tensor> {
        let shape = self.native_input(batch);
        Ok(match self.input {
            ModelInput::Image => nabla::Tensor::randn(&shape, nabla::DType::F32, device)?,
            ModelInput::Tokens => {
                let vocab = self.native.num_classes.max(1);
                let count: usize = shape.iter().product();
                let tokens = (0..count).map(|i| (i * 7 % vocab) as f32).collect();
                nabla::Tensor::from_vec(tokens, &shape, device)?
            }
        })
    }
}

/// The zoo's entry for `name`, if it has one.
pub fn spec(name: &str) -> Option<ModelSpec> {
    registry().into_iter().find(|s| s.name == name)
}

/// A model the zoo can build.
pub struct ModelSpec {
    /// The name used by `build` and the CLI.
    pub name: &'static str,
    /// One line: what it is and where it comes from.
    pub description: &'static str,
    /// The paper it comes from: authors, year, title.
    pub paper: &'static str,
    /// The input it was designed for.
    pub native: ModelConfig,
    /// What it reads: images, or token indices (then `native.in_channels` is the sequence
    /// length and `native.num_classes` the vocabulary).
    pub input: ModelInput,
    /// Builds it under a path.
    pub build: fn(&Path, &ModelConfig) -> Result<Box<dyn Module>>,
}

/// Every model of the zoo.
pub fn registry() -> Vec<ModelSpec> {
    vec![
        ModelSpec { input: ModelInput::Image, name: "mlp", paper: "Rumelhart, Hinton & Williams 1986, Learning representations by back-propagating errors", description: "multilayer perceptron 784-512-256-10 with ReLU (any input, flattened)", native: ModelConfig::mnist(), build: |p, c| Ok(Box::new(mlp(p, &MlpConfig::for_model(c))?)) },
        ModelSpec { input: ModelInput::Image, name: "lenet5", paper: "LeCun, Bottou, Bengio & Haffner 1998, Gradient-based learning applied to document recognition", description: "LeNet-5 with ReLU and max-pooling (the modern variant); 28×28 input is zero-padded to 32×32", native: ModelConfig::mnist(), build: |p, c| Ok(Box::new(lenet5(p, c)?)) },
        ModelSpec { input: ModelInput::Image,
            name: "lenet5_classic", paper: "LeCun, Bottou, Bengio & Haffner 1998, Gradient-based learning applied to document recognition",
            description: "LeNet-5 as LeCun et al. 1998: scaled tanh, trainable subsampling, C3's partial connection table",
            native: ModelConfig::mnist(),
            build: |p, c| Ok(Box::new(lenet5_classic(p, c)?)),
        },
        ModelSpec { input: ModelInput::Image, name: "alexnet", paper: "Krizhevsky, Sutskever & Hinton 2012, ImageNet classification with deep convolutional neural networks", description: "AlexNet in torchvision's single-tower layout (Krizhevsky et al. 2012; Krizhevsky 2014), 61.1M parameters; images ≥ 63×63", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(alexnet(p, c)?)) },
        ModelSpec { input: ModelInput::Image, name: "alexnet_paper", paper: "Krizhevsky, Sutskever & Hinton 2012, ImageNet classification with deep convolutional neural networks", description: "AlexNet as Krizhevsky, Sutskever & Hinton 2012: LRN, overlapping pooling, grouped conv2/4/5 of the two-GPU split, 61.0M parameters", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(alexnet_paper(p, c)?)) },
        ModelSpec { input: ModelInput::Image, name: "vgg11", paper: "Simonyan & Zisserman 2014, Very deep convolutional networks for large-scale image recognition", description: "VGG configuration A, 11 weight layers (Simonyan & Zisserman 2014), 133M parameters", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(vgg(p, c, VggConfig::A, false)?)) },
        ModelSpec { input: ModelInput::Image, name: "vgg11_lrn", paper: "Simonyan & Zisserman 2014, Very deep convolutional networks for large-scale image recognition", description: "VGG configuration A-LRN: A with local response normalization after the first layer (Simonyan & Zisserman 2014)", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(vgg(p, c, VggConfig::ALrn, false)?)) },
        ModelSpec { input: ModelInput::Image, name: "vgg13", paper: "Simonyan & Zisserman 2014, Very deep convolutional networks for large-scale image recognition", description: "VGG configuration B, 13 weight layers (Simonyan & Zisserman 2014), 133M parameters", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(vgg(p, c, VggConfig::B, false)?)) },
        ModelSpec { input: ModelInput::Image, name: "vgg16_c", paper: "Simonyan & Zisserman 2014, Very deep convolutional networks for large-scale image recognition", description: "VGG configuration C, 16 weight layers with 1×1 convolutions ending blocks 3–5 (Simonyan & Zisserman 2014), 134M parameters", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(vgg(p, c, VggConfig::C, false)?)) },
        ModelSpec { input: ModelInput::Image, name: "vgg16", paper: "Simonyan & Zisserman 2014, Very deep convolutional networks for large-scale image recognition", description: "VGG configuration D, 16 weight layers (Simonyan & Zisserman 2014), 138M parameters", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(vgg(p, c, VggConfig::D, false)?)) },
        ModelSpec { input: ModelInput::Image, name: "vgg19", paper: "Simonyan & Zisserman 2014, Very deep convolutional networks for large-scale image recognition", description: "VGG configuration E, 19 weight layers (Simonyan & Zisserman 2014), 144M parameters", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(vgg(p, c, VggConfig::E, false)?)) },
        ModelSpec { input: ModelInput::Image, name: "vgg11_bn", paper: "Simonyan & Zisserman 2014 (VGG); Ioffe & Szegedy 2015, Batch normalization", description: "VGG A with batch normalization after each convolution (torchvision's vgg11_bn)", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(vgg(p, c, VggConfig::A, true)?)) },
        ModelSpec { input: ModelInput::Image, name: "vgg13_bn", paper: "Simonyan & Zisserman 2014 (VGG); Ioffe & Szegedy 2015, Batch normalization", description: "VGG B with batch normalization after each convolution (torchvision's vgg13_bn)", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(vgg(p, c, VggConfig::B, true)?)) },
        ModelSpec { input: ModelInput::Image, name: "vgg16_bn", paper: "Simonyan & Zisserman 2014 (VGG); Ioffe & Szegedy 2015, Batch normalization", description: "VGG D with batch normalization after each convolution (torchvision's vgg16_bn)", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(vgg(p, c, VggConfig::D, true)?)) },
        ModelSpec { input: ModelInput::Image, name: "vgg19_bn", paper: "Simonyan & Zisserman 2014 (VGG); Ioffe & Szegedy 2015, Batch normalization", description: "VGG E with batch normalization after each convolution (torchvision's vgg19_bn)", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(vgg(p, c, VggConfig::E, true)?)) },
        ModelSpec { input: ModelInput::Image, name: "googlenet", paper: "Szegedy et al. 2014, Going deeper with convolutions", description: "GoogLeNet/Inception v1 as torchvision builds it: batch norm, two auxiliary classifiers in training (Szegedy et al. 2014), 13.0M parameters", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(googlenet(p, c)?)) },
        ModelSpec { input: ModelInput::Image, name: "googlenet_paper", paper: "Szegedy et al. 2014, Going deeper with convolutions", description: "GoogLeNet as Szegedy et al. 2014: LRN, 5×5 branches, no batch norm, dropout 0.4, two auxiliary classifiers", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(googlenet_paper(p, c)?)) },
        ModelSpec { input: ModelInput::Image, name: "resnet18", paper: "He, Zhang, Ren & Sun 2015, Deep residual learning for image recognition", description: "ResNet-18, basic blocks (He et al. 2015), 11.7M parameters; 3×3 stem without max-pool for images ≤ 64", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(resnet(p, c, 18)?)) },
        ModelSpec { input: ModelInput::Image, name: "resnet34", paper: "He, Zhang, Ren & Sun 2015, Deep residual learning for image recognition", description: "ResNet-34, basic blocks (He et al. 2015), 21.8M parameters; 3×3 stem for images ≤ 64", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(resnet(p, c, 34)?)) },
        ModelSpec { input: ModelInput::Image, name: "resnet50", paper: "He, Zhang, Ren & Sun 2015, Deep residual learning for image recognition", description: "ResNet-50, bottleneck blocks striding in the 3×3 (He et al. 2015; torchvision v1.5), 25.6M parameters", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(resnet(p, c, 50)?)) },
        ModelSpec { input: ModelInput::Image, name: "resnet101", paper: "He, Zhang, Ren & Sun 2015, Deep residual learning for image recognition", description: "ResNet-101, bottleneck blocks (He et al. 2015; torchvision v1.5), 44.5M parameters", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(resnet(p, c, 101)?)) },
        ModelSpec { input: ModelInput::Image, name: "resnet152", paper: "He, Zhang, Ren & Sun 2015, Deep residual learning for image recognition", description: "ResNet-152, bottleneck blocks (He et al. 2015; torchvision v1.5), 60.2M parameters", native: ModelConfig::imagenet(), build: |p, c| Ok(Box::new(resnet(p, c, 152)?)) },
        ModelSpec { input: ModelInput::Tokens, name: "char-lstm", paper: "Hochreiter & Schmidhuber 1997, Long short-term memory; Graves 2013, Generating sequences with recurrent neural networks", description: "character language model: embedding 64, 2 LSTM layers of 256, next-character logits per step (data text:FILE)", native: ModelConfig { num_classes: 65, in_channels: 100, image_size: 1 }, build: |p, c| Ok(Box::new(rnn::CharLm::new(p, rnn::CharLmConfig::new(CellKind::Lstm, c.num_classes))?)) },
        ModelSpec { input: ModelInput::Tokens, name: "char-gru", paper: "Cho et al. 2014, Learning phrase representations using RNN encoder-decoder", description: "character language model: embedding 64, 2 GRU layers of 256 (data text:FILE)", native: ModelConfig { num_classes: 65, in_channels: 100, image_size: 1 }, build: |p, c| Ok(Box::new(rnn::CharLm::new(p, rnn::CharLmConfig::new(CellKind::Gru, c.num_classes))?)) },
        ModelSpec { input: ModelInput::Tokens, name: "char-rnn", paper: "Elman 1990, Finding structure in time", description: "character language model: embedding 64, 2 tanh RNN layers of 256 (data text:FILE)", native: ModelConfig { num_classes: 65, in_channels: 100, image_size: 1 }, build: |p, c| Ok(Box::new(rnn::CharLm::new(p, rnn::CharLmConfig::new(CellKind::RnnTanh, c.num_classes))?)) },
        ModelSpec { input: ModelInput::Image, name: "row-lstm", paper: "Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015 (sequential MNIST)", description: "many-to-one LSTM of 128 reading an image row by row (28 steps of 28 pixels for MNIST), classifying its last state", native: ModelConfig::mnist(), build: |p, c| Ok(Box::new(rnn::RowLstm::new(p, c.in_channels * c.image_size, 128, c.num_classes)?)) },
    ]
}

/// Builds the model `name` under `p`.
///
/// # Errors
/// [`Error::UnknownName`] listing the valid names when `name` is unknown; errors of the
/// model when the configuration does not suit it.
pub fn build(name: &str, p: &Path, config: &ModelConfig) -> Result<Box<dyn Module>> {
    let specs = registry();
    match specs.iter().find(|s| s.name == name) {
        Some(spec) => (spec.build)(p, config),
        None => Err(Error::UnknownName {
            op: "model",
            what: "model",
            name: name.to_string(),
            valid: specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        }),
    }
}
