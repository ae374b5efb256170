//! # nabla-nn: layers, losses, optimizers, checkpoints and training
//!
//! Define a network from layers whose variables live in a [`VarStore`], train it the way
//! the course teaches (batch → forward → loss → backward → update), and save it.
//!
//! ```
//! use nabla::{Device, Tensor};
//! use nabla_nn::{layers::Linear, loss, optim::{Optimizer, Sgd}, seq, Module, VarStore};
//! # fn main() -> nabla_nn::Result<()> {
//! nabla::manual_seed(0);
//! let vs = VarStore::new(&Device::Cpu);
//! let net = seq().add(Linear::new(&vs.root().sub("fc"), 2, 1, true)?);
//! let mut opt = Sgd::new(vs.trainable(), 0.1);
//! let x = Tensor::from_slice(&[1.0f32, 2.0], &[1, 2], &Device::Cpu)?;
//! let y = Tensor::from_slice(&[3.0f32], &[1, 1], &Device::Cpu)?;
//! let first = loss::half_sse(&net.forward_t(&x, true)?, &y)?.to_scalar::<f32>()?;
//! for _ in 0..20 {
//!     let l = loss::half_sse(&net.forward_t(&x, true)?, &y)?;
//!     opt.step(&l.backward()?)?;
//! }
//! let last = loss::half_sse(&net.forward(&x)?, &y)?.to_scalar::<f32>()?;
//! assert!(last < first * 1e-3);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod checkpoint;
pub mod distributed;
mod error;
pub mod export;
mod init;
pub mod layers;
pub mod limits;
pub mod loss;
pub mod models;
mod module;
pub mod optim;
mod perceptron;
mod state_dict;
pub mod testing;
pub mod trainer;
mod var_store;

pub use error::{Error, Result};
pub use export::{Attr, GraphSink, Traced};
pub use init::{fans, Init};
pub use module::{seq, Func, Module, Residual, Sequential};
pub use perceptron::{Perceptron, PerceptronReport};
pub use state_dict::LoadOptions;
pub use trainer::{Evaluation, Loader, Trainer, TrainerConfig};
pub use var_store::{under_prefix, Path, Var, VarKind, VarStore};
