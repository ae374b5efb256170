//! The batch-norm kernel family at the tensor level, over `cpu::batch_norm`. The per-channel
//! statistics and affine parameters travel as host `f64`s (one value per channel).

use crate::cpu::batch_norm::{self as cpu, Channels};
use crate::dtype::with_float;
use crate::{Result, Tensor};

/// One pair of values per channel: `(mean, var)`, or `(∂L/∂γ, ∂L/∂β)`.
pub(crate) type PerChannel = Vec<(f64, f64)>;

/// The normalized (and, with `gamma`/`beta`, scaled and shifted) `x`, with the per-channel
/// `(mean, var)` it used: `stats` when given, the batch's otherwise.
pub(crate) fn forward(
    x: &Tensor,
    ch: Channels,
    stats: Option<&[(f64, f64)]>,
    gamma: Option<&[f64]>,
    beta: Option<&[f64]>,
    eps: f64,
    op: &'static str,
) -> Result<(Tensor, PerChannel)> {
    with_float!(x.dtype(), op, T => {
        x.with_contiguous::<T, _>(op, |v| {
            let (y, mv) = cpu::forward(v, ch, stats, gamma, beta, eps);
            (Tensor::from_data(y, x.shape().clone()), mv)
        })
    })
}

/// The input gradient (when `want_x`) and the per-channel `(∂L/∂γ, ∂L/∂β)` from `x`, the
/// output gradient `g` and the forward pass's `(mean, 1/√(var + eps))`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    x: &Tensor,
    g: &Tensor,
    ch: Channels,
    mean_inv: &[(f64, f64)],
    gamma: Option<&[f64]>,
    batch_stats: bool,
    want_x: bool,
    op: &'static str,
) -> Result<(Option<Tensor>, PerChannel)> {
    with_float!(x.dtype(), op, T => {
        x.with_contiguous::<T, _>(op, |xv| {
            g.with_contiguous::<T, _>(op, |gv| {
                let (dx, dgb) = cpu::backward(xv, gv, ch, mean_inv, gamma, batch_stats, want_x);
                (dx.map(|d| Tensor::from_data(d, x.shape().clone())), dgb)
            })
        })?
    })
}
