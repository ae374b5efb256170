//! File readers, one per format; each returns a [`Dataset`](crate::Dataset).
//!
//! MNIST itself, bundled and in folders, lives in [`crate::mnist`] on top of [`idx`].

pub mod cifar;
pub mod csv;
pub mod folder;
pub mod idx;
pub mod npy;
pub mod text;
