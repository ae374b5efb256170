//! # nabla-data: datasets, readers and the data loader
//!
//! The data layer of nabla: a [`Dataset`] is an indexable collection of [`Sample`]s; a
//! [`DataLoader`] shuffles it with a seed, applies per-sample [`transforms`], stacks the
//! samples into [`Batch`]es of tensors, and prepares the next batch on a background thread.
//!
//! Readers cover IDX (MNIST and its kin, raw or gzip), CIFAR-10/100 binary batches, image
//! folders (PNG/JPEG, one subfolder per class), CSV, NumPy `.npy` and plain text for
//! character models; [`toy`] generates the TensorFlow Playground's 2-D sets. MNIST is
//! bundled in the library ([`mnist::bundled_train`]), so it needs no download. A one-string
//! [`spec`] (`mnist:0-4`, `folder:DIR`, `csv:FILE`, …) names any of them, as the `nabla`
//! command's `--data` does.
//!
//! ```
//! use nabla_data::{mnist, transforms::Normalize, DataLoader, Dataset, Subset};
//! use std::sync::Arc;
//!
//! let test = Arc::new(mnist::bundled_test()?);
//! let first_100 = Subset::take(test, 100);
//! let loader = DataLoader::new(Arc::new(first_100), 32)?
//!     .shuffle(true)
//!     .seed(42)
//!     .transform(Normalize::mnist());
//! assert_eq!(loader.len(), 4); // 32 + 32 + 32 + 4
//! for batch in loader.epoch(0) {
//!     let batch = batch?;
//!     assert_eq!(batch.inputs.dims()[1..], [1, 28, 28]); // [B, 1, 28, 28] f32
//!     assert_eq!(batch.targets.dims(), [batch.indices.len()]); // [B] i64 labels
//! }
//! # Ok::<(), nabla_data::Error>(())
//! ```
#![warn(missing_docs)]

mod dataset;
mod error;
mod loader;
pub mod mnist;
pub mod readers;
mod shard;
pub mod spec;
mod subset;
pub mod toy;
pub mod transforms;

pub use dataset::{Dataset, InMemoryDataset, Sample, Target, Targets, Task};
pub use error::{Error, Result};
pub use loader::{Batch, DataLoader, Epoch};
pub use shard::Shard;
pub use subset::{random_split, ClassSubset, Subset};
pub use transforms::Transform;
