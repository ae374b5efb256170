//! ONNX for nabla: import an `.onnx` graph as a trainable nabla module, export nabla models.
//!
//! The protobuf layer is hand-written ([`proto`]): no `protoc` and no generated code. An
//! imported graph ([`OnnxModel`]) runs node by node with nabla's differentiable tensor ops,
//! so it runs forward on any device and trains: its float initializers are parameters of a
//! [`nabla_nn::VarStore`] under their ONNX names.
//!
//! ```no_run
//! use nabla::{DType, Device, Tensor};
//! use nabla_nn::{Module, VarStore};
//! let vs = VarStore::new(&Device::Cpu);
//! let model = nabla_onnx::OnnxModel::load("resnet18.onnx", &vs)?;
//! let x = Tensor::randn(&[1, 3, 224, 224], DType::F32, &Device::Cpu)?;
//! let logits = model.forward(&x)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod builder;
mod error;
pub mod export;
pub mod import;
pub mod proto;
pub mod value;

pub use error::{Error, Result};
pub use export::export;
pub use import::OnnxModel;
