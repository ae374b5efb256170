//! # nabla-classic: the classical baselines
//!
//! What supervised learning meant before deep networks, on the same data as nabla's
//! networks: kernel support vector machines ([`svm::Svc`]: SMO with a kernel cache and
//! shrinking, one-vs-one), a fast linear SVM ([`linear::LinearSvm`]: dual coordinate
//! descent), random forests ([`forest::Forest`]), and Markov models for sequences
//! ([`markov::MarkovChain`], [`hmm::Hmm`]); and the deep-learning [`protocol`]s they are
//! compared with (a stacked denoising autoencoder, pre-trained without labels, under an SVM
//! or fine-tuned).
//!
//! ```
//! use nabla_classic::{matrix::{accuracy, Labelled}, svm::{Svc, SvcParams}};
//! // XOR: no line separates it, the RBF kernel does.
//! let x = vec![0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0];
//! let data = Labelled::new(x, 2, vec![0, 0, 1, 1], 2)?;
//! let svm = Svc::fit(&data, &SvcParams { c: 10.0, ..SvcParams::default() })?;
//! assert_eq!(accuracy(&svm.predict(&data.x)?, &data.y), 1.0);
//! # Ok::<(), nabla_classic::Error>(())
//! ```
#![warn(missing_docs)]

mod error;
pub mod forest;
pub mod hmm;
pub mod hungarian;
pub mod io;
pub mod kernel;
pub mod kmeans;
pub mod linear;
pub mod markov;
pub mod matrix;
pub mod mrf;
pub mod pca;
pub mod protocol;
pub mod svm;

pub use error::{Error, Result};
