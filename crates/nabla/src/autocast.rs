//! Mixed precision: products in bf16 inside an autocast scope, everything else in f32.
//!
//! ```
//! use nabla::{autocast, DType, Device, Tensor};
//! let dev = Device::Cpu;
//! let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2], &dev)?;
//! let y = autocast(DType::BF16, || x.matmul(&x))??;
//! assert_eq!(y.dtype(), DType::F32);
//! assert_eq!(y.to_vec::<f32>()?, vec![7.0, 10.0, 15.0, 22.0]);
//! # Ok::<(), nabla::Error>(())
//! ```
//!
//! Inside [`autocast`]`(DType::BF16, ...)`, on this thread, the ops whose cost is a product
//! of matrices (matmul, linear, the convolutions and the recurrent layers' products) round
//! their f32 operands to bf16 and multiply them with the processor's bf16 instructions
//! ([`bf16_path`]), summing in f32; their results and every tensor stay f32. The other ops
//! (reductions, softmax, losses, batch-norm statistics, the optimizer's update) are not
//! affected, which is the split of PyTorch's CPU autocast lists. Weights stay f32 (the
//! master copy); each product rounds what it reads.
//!
//! An op's backward pass uses the precision of its forward pass, even when `backward` runs
//! outside the scope, as PyTorch's recorded casts do. f64 ops are never affected.

use crate::{DType, Error, Result};
use std::cell::Cell;

/// How an op computes its products: decided when the op runs, kept by its backward pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Precision {
    /// In the operands' own dtype.
    #[default]
    Full,
    /// f32 operands rounded to bf16, products summed in f32.
    Bf16,
}

thread_local! {
    static CURRENT: Cell<Precision> = const { Cell::new(Precision::Full) };
}

/// The precision of products started now on this thread.
pub(crate) fn current() -> Precision {
    CURRENT.with(Cell::get)
}

/// Runs `f` with the products of f32 ops on this thread in `dtype` (only [`DType::BF16`],
/// or [`DType::F32`] for none). Scopes nest; the previous setting comes back afterwards.
///
/// # Errors
/// [`Error::InvalidArgument`] for a dtype other than BF16 or F32 (f16 products are not
/// implemented).
pub fn autocast<R>(dtype: DType, f: impl FnOnce() -> R) -> Result<R> {
    let _guard = AutocastGuard::new(dtype)?;
    Ok(f())
}

/// The dtype of products inside the innermost [`autocast`] scope of this thread, `None`
/// outside any (or in an F32 scope).
pub fn autocast_dtype() -> Option<DType> {
    match current() {
        Precision::Full => None,
        Precision::Bf16 => Some(DType::BF16),
    }
}

/// Which instructions the bf16 products use on this CPU: `"AMX"`, `"AVX-512 BF16"` or the
/// fallback, for benchmark tables and logs.
pub fn bf16_path() -> &'static str {
    crate::cpu::bf16::path().name()
}

/// An [`autocast`] scope held by a value: products are in its dtype until it is dropped.
/// For code whose scope is not one closure (a training loop that calls back into the
/// user's code).
#[must_use = "the scope ends when the guard is dropped"]
pub struct AutocastGuard {
    before: Precision,
}

impl AutocastGuard {
    /// Starts the scope.
    ///
    /// # Errors
    /// As [`autocast`].
    pub fn new(dtype: DType) -> Result<Self> {
        let precision = match dtype {
            DType::BF16 => Precision::Bf16,
            DType::F32 => Precision::Full,
            other => {
                return Err(Error::invalid(
                    "autocast",
                    format!(
                        "products in {} are not supported (use bf16, or f32 for none)",
                        other.name()
                    ),
                ))
            }
        };
        Ok(AutocastGuard {
            before: CURRENT.with(|c| c.replace(precision)),
        })
    }
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.before));
    }
}

/// Runs `f` with products in `prec` on this thread: a backward pass in its forward pass's
/// precision.
pub(crate) fn within<R>(prec: Precision, f: impl FnOnce() -> R) -> R {
    let before = CURRENT.with(|c| c.replace(prec));
    let out = f();
    CURRENT.with(|c| c.set(before));
    out
}
