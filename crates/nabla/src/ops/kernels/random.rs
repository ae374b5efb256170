//! The random-fill kernel family at the tensor level, over `cpu::random`.

use crate::cpu::random as cpu;
use crate::dtype::with_float;
use crate::rng::Rng;
use crate::{DType, Result, Shape, Tensor};

/// What each element is drawn from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Distribution {
    /// Uniform in `[low, high)`.
    Uniform { low: f64, high: f64 },
    /// Normal with this mean and standard deviation.
    Normal { mean: f64, std: f64 },
    /// `value` with probability `keep`, else 0 (a scaled dropout mask).
    Bernoulli { keep: f64, value: f64 },
}

/// A new float tensor of `shape` and `dtype` (F32 or F64) filled with draws of `dist`.
pub(crate) fn fill(
    rng: &mut Rng,
    dist: Distribution,
    shape: Shape,
    dtype: DType,
    op: &'static str,
) -> Result<Tensor> {
    with_float!(dtype, op, T => {
        let v: Vec<T> = cpu::sample(rng, shape.numel(), dist);
        Ok(Tensor::from_data(v, shape))
    })
}
