//! # nabla: tensors, reverse-mode automatic differentiation and fast CPU kernels
//!
//! The engine of the nabla deep learning toolkit. A [`Tensor`] is an n-dimensional array;
//! every op on tensors that require gradients is recorded, and [`Tensor::backward`] applies
//! the chain rule in reverse over the recorded graph.
//!
//! The course's first backpropagation example, f(x, y, z) = (x + y)·z:
//!
//! ```
//! use nabla::{Device, Tensor};
//! let dev = Device::Cpu;
//! let x = Tensor::from_slice(&[-2.0f32], &[1], &dev)?.requires_grad();
//! let y = Tensor::from_slice(&[5.0f32], &[1], &dev)?.requires_grad();
//! let z = Tensor::from_slice(&[-4.0f32], &[1], &dev)?.requires_grad();
//! let f = x.add(&y)?.mul(&z)?;
//! let grads = f.backward()?;
//! assert_eq!(f.to_vec::<f32>()?, vec![-12.0]);
//! assert_eq!(grads.get(&x).unwrap().to_vec::<f32>()?, vec![-4.0]); // df/dx = z
//! assert_eq!(grads.get(&y).unwrap().to_vec::<f32>()?, vec![-4.0]); // df/dy = z
//! assert_eq!(grads.get(&z).unwrap().to_vec::<f32>()?, vec![3.0]);  // df/dz = x + y
//! # Ok::<(), nabla::Error>(())
//! ```
#![warn(missing_docs)]

mod autocast;
pub mod autograd;
pub(crate) mod cpu;
mod device;
mod display;
pub mod dtype;
mod error;
pub mod io;
pub mod layout;
mod macs;
mod ops;
pub mod rng;
mod shape;
pub mod storage;
mod tensor;
#[doc(hidden)]
pub mod testing;
mod threads;

pub use autocast::{autocast, autocast_dtype, bf16_path, AutocastGuard};
pub use autograd::{is_grad_enabled, no_grad, Backward, Grads};
pub use cpu::simd::vectorized;
pub use device::Device;
pub use dtype::{DType, Element, Float};
pub use error::{Error, Result};
pub use macs::count_macs;

pub use ops::batch_norm::{batch_norm_affine, RunningStats};
pub use ops::conv::{ChannelAffine, Conv2dConfig, ConvTranspose2dConfig};
pub use ops::optimizer::UpdateRule;
pub use ops::pool::Pool2dConfig;
pub use ops::recurrent_scan::ScanCell;
pub use rng::{manual_seed, Rng};
pub use shape::{broadcast_shape, Dim, Shape};
pub use tensor::{live_tensors, Tensor, TensorId};
pub use threads::{keep_awake, num_threads, set_num_threads};
