//! Layers: each owns its variables (created in a [`crate::Path`]) and implements [`crate::Module`].
//! Parameter names, shapes and default initialization follow PyTorch.

mod activation;
mod batch_norm;
mod conv;
mod dropout;
mod embedding;
mod linear;
mod lrn;
mod pool;
mod recurrent;

pub use activation::Activation;
pub use batch_norm::BatchNorm;
pub use conv::{Conv1d, Conv2d, ConvTranspose2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use lrn::LocalResponseNorm;
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, Flatten, MaxPool2d};
pub use recurrent::{CellKind, Recurrent, RecurrentCell, RnnConfig, RnnState};

use crate::init::Init;

/// PyTorch's default weight init for Linear and Conv layers: Kaiming-uniform with a = √5,
/// i.e. `U(-1/√fan_in, 1/√fan_in)`.
pub(crate) fn default_weight_init() -> Init {
    Init::KaimingUniform { a: 5f64.sqrt() }
}

/// PyTorch's default bias init: `U(-1/√fan_in, 1/√fan_in)`.
pub(crate) fn default_bias_init(fan_in: usize) -> Init {
    let b = 1.0 / (fan_in.max(1) as f64).sqrt();
    Init::Uniform { low: -b, high: b }
}
