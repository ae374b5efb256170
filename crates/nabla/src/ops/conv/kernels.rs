//! The convolution kernel family at the tensor level: one typed function per pass, each
//! asking [`choose`] for the algorithm and handing the tensors' elements to the backend's
//! kernel (`cpu::conv`, the only backend so far: `with_contiguous` reads host memory and
//! answers an error for tensors elsewhere). Nothing here records gradients; the op and its
//! backward rule in [`super`] do.

use super::weight_cache::CachedWeight;
use super::{ChannelAffine, Geometry};
use crate::cpu::conv::{self as cpu, choose, Epilogue, Pass};
use crate::dtype::{with_float, Float};
use crate::{Result, Shape, Tensor};

/// The patch matrices that a recorded forward pass kept for the weight gradient, with the
/// chunk size they were built with.
pub(super) struct KeptPatches {
    patches: Tensor,
    chunk: usize,
}

/// Calls `f` with the contiguous elements of an optional tensor.
fn with_opt<T: Float, R>(
    t: Option<&Tensor>,
    op: &'static str,
    f: impl FnOnce(Option<&[T]>) -> R,
) -> Result<R> {
    match t {
        Some(t) => t.with_contiguous::<T, _>(op, |v| f(Some(v))),
        None => Ok(f(None)),
    }
}

/// `y = conv(x, weight) (+ bias)`, `[n, cout, oh, ow]`, for a recorded forward pass: with
/// `weight_grad` (the weight's gradient will be taken) small layers keep their patch
/// matrices for [`backward_weight`].
pub(super) fn forward(
    g: &Geometry,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    weight_grad: bool,
    op: &'static str,
) -> Result<(Tensor, Option<KeptPatches>)> {
    let algo = choose(g, Pass::Forward { weight_grad }, x.dtype());
    with_float!(x.dtype(), op, T => {
        let (y, patches) = x.with_contiguous::<T, _>(op, |xv| {
            weight.with_contiguous::<T, _>(op, |wv| {
                with_opt::<T, _>(bias, op, |bv| cpu::forward(algo, xv, wv, bv, g))
            })
        })???;
        let kept = patches.map(|p| {
            let len = p.len();
            KeptPatches { patches: Tensor::from_data(p, Shape(vec![len])), chunk: cpu::kept_chunk(g) }
        });
        Ok((Tensor::from_data(y, Shape(vec![g.n, g.cout, g.oh, g.ow])), kept))
    })
}

/// The input gradient `[n, cin, h, w]` from `dy [n, cout, oh, ow]`.
pub(super) fn backward_data(
    g: &Geometry,
    dy: &Tensor,
    weight: &Tensor,
    op: &'static str,
) -> Result<Tensor> {
    let algo = choose(g, Pass::BackwardData, dy.dtype());
    with_float!(dy.dtype(), op, T => {
        let dx = dy.with_contiguous::<T, _>(op, |dyv| {
            weight.with_contiguous::<T, _>(op, |wv| cpu::backward_data(algo, dyv, wv, g))
        })??;
        Ok(Tensor::from_data(dx, Shape(vec![g.n, g.cin, g.h, g.w])))
    })
}

/// The weight gradient `[cout, cin/groups, kh, kw]` from the input `x` and `dy`, reading
/// the forward pass's patch matrices when it kept them.
pub(super) fn backward_weight(
    g: &Geometry,
    x: &Tensor,
    dy: &Tensor,
    kept: Option<&KeptPatches>,
    op: &'static str,
) -> Result<Tensor> {
    let algo = choose(g, Pass::BackwardWeight, x.dtype());
    with_float!(x.dtype(), op, T => {
        let dw = x.with_contiguous::<T, _>(op, |xv| {
            dy.with_contiguous::<T, _>(op, |dyv| {
                with_opt::<T, _>(kept.map(|k| &k.patches), op, |pv| {
                    let kept = pv.zip(kept.map(|k| k.chunk));
                    cpu::backward_weight(algo, xv, dyv, g, kept)
                })
            })
        })???;
        Ok(Tensor::from_data(dw, Shape(vec![g.cout, g.cin_g(), g.kh, g.kw])))
    })
}

/// The bias gradient `[cout]` from `dy`.
pub(super) fn bias_grad(g: &Geometry, dy: &Tensor, op: &'static str) -> Result<Tensor> {
    with_float!(dy.dtype(), op, T => {
        let db = dy.with_contiguous::<T, _>(op, |dyv| cpu::bias_grad(dyv, g))?;
        Ok(Tensor::from_data(db, Shape(vec![g.cout])))
    })
}

/// A forward pass that records nothing: `conv(x, weight) (+ bias)` followed by `affine`
/// when given, through the algorithm [`choose`] picks for inference, with the weight's
/// transforms from the [`weight_cache`].
pub(super) fn infer(
    g: &Geometry,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    affine: Option<ChannelAffine>,
    op: &'static str,
) -> Result<Tensor> {
    let algo = choose(g, Pass::Inference, x.dtype());
    let cache = CachedWeight(weight);
    with_float!(x.dtype(), op, T => {
        let y = x.with_contiguous::<T, _>(op, |xv| {
            weight.with_contiguous::<T, _>(op, |wv| {
                with_opt::<T, _>(bias, op, |bv| {
                    let Some(a) = affine else {
                        return Ok(cpu::infer(algo, xv, wv, Epilogue::bias(bv), g, &cache));
                    };
                    a.scale.with_contiguous::<T, _>(op, |sv| {
                        a.shift.with_contiguous::<T, _>(op, |tv| {
                            with_opt::<T, _>(a.residual, op, |rv| {
                                // The bias goes through the scale too.
                                let shift: Vec<T> = match bv {
                                    Some(b) => tv.iter().zip(sv).zip(b).map(|((&t, &s), &b)| b * s + t).collect(),
                                    None => tv.to_vec(),
                                };
                                let epi = Epilogue { scale: Some(sv), shift: Some(&shift), residual: rv, relu: a.relu };
                                cpu::infer(algo, xv, wv, epi, g, &cache)
                            })
                        })
                    })??
                })
            })
        })????;
        Ok(Tensor::from_data(y, Shape(vec![g.n, g.cout, g.oh, g.ow])))
    })
}
