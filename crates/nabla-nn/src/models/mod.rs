//! The model zoo: every architecture by name, with PyTorch/torchvision parameter names.
//!
//! `build("lenet5", &vs.root(), &ModelConfig::mnist())` creates a model; [`registry`] lists
//! what exists (the CLI's `nabla zoo`).

mod lenet;
mod mlp;

pub use lenet::{lenet5, lenet5_classic};
pub use mlp::{mlp, MlpConfig};

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

/// A model the zoo can build.
pub struct ModelSpec {
    /// The name used by `build` and the CLI.
    pub name: &'static str,
    /// One line: what it is and where it comes from.
    pub description: &'static str,
    /// The input it was designed for.
    pub native: ModelConfig,
    /// Builds it under a path.
    pub build: fn(&Path, &ModelConfig) -> Result<Box<dyn Module>>,
}

/// Every model of the zoo.
pub fn registry() -> Vec<ModelSpec> {
    vec![
        ModelSpec { name: "mlp", description: "multilayer perceptron 784-512-256-10 with ReLU (any input, flattened)", native: ModelConfig::mnist(), build: |p, c| Ok(Box::new(mlp(p, &MlpConfig::for_model(c))?)) },
        ModelSpec { name: "lenet5", description: "LeNet-5 with ReLU and max-pooling (the modern variant); 28×28 input is zero-padded to 32×32", native: ModelConfig::mnist(), build: |p, c| Ok(Box::new(lenet5(p, c)?)) },
        ModelSpec {
            name: "lenet5_classic",
            description: "LeNet-5 as LeCun et al. 1998: scaled tanh, trainable subsampling, C3's partial connection table",
            native: ModelConfig::mnist(),
            build: |p, c| Ok(Box::new(lenet5_classic(p, c)?)),
        },
    ]
}

/// Builds the model `name` under `p`.
///
/// # Errors
/// [`Error::InvalidArgument`] listing the valid names when `name` is unknown; errors of the
/// model when the configuration does not suit it.
pub fn build(name: &str, p: &Path, config: &ModelConfig) -> Result<Box<dyn Module>> {
    let specs = registry();
    match specs.iter().find(|s| s.name == name) {
        Some(spec) => (spec.build)(p, config),
        None => Err(Error::invalid(
            "model",
            format!(
                "unknown model '{name}'; available: {}",
                specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}
