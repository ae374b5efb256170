//! The CPU's convolution kernels behind one typed entry per pass: [`forward`],
//! [`backward_data`], [`backward_weight`], [`bias_grad`] and, for passes that record
//! nothing, [`infer`], whose weight transforms come from the caller's [`Transforms`]. Each
//! takes the algorithm [`choose`] picked for the geometry, pass and dtype; the algorithms
//! live in their own modules:
//!
//! - [`im2col`]: patch matrices and GEMM, any dtype, f32 or bf16 products;
//! - [`winograd`]: F(2×2, 3×3) and F(4×4, 3×3) for 3×3 stride-1 layers;
//! - [`direct`]: f32 kernels with output channels as the vector lanes (AVX-512);
//! - [`stride_phases`]: f32 inference of strided layers over the image's stride phases;
//! - [`panels`]: f32 inference of one small image against the weight cut into panels;
//! - [`epilogue`]: the per-channel affine map, residual and ReLU of the output pass.
//!
//! Inputs are contiguous `[n, cin, h, w]` images and `[cout, cin/groups, kh, kw]` weights.

mod choose;
mod direct;
mod epilogue;
pub(crate) mod im2col;
mod panels;
mod stride_phases;
#[cfg(test)]
mod tests;
pub(crate) mod winograd;

pub(crate) use choose::{choose, ConvAlgo, ConvTuning, Pass};
pub(crate) use epilogue::{apply_epilogue, Epilogue};

use crate::cpu::bf16::PackedLeft;
use crate::cpu::reduce::sum_slice;
use crate::dtype::Float;
use crate::ops::conv::Geometry;
use crate::storage::{alloc_zeroed, cast_vec, recycle, same_type_slice};
use std::any::Any;
use std::sync::Arc;
use winograd::{conv3x3, transform_weights, transform_weights_f4, weight_grad3x3, Weights};

/// Which transform of a weight an inference kernel reads, for a cache to tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TransformKind {
    /// Positions of the transformed tile: 16 for F(2×2, 3×3), 36 for F(4×4, 3×3), 1 for
    /// the weight itself ([`TransformKind::WEIGHT_PANELS`], [`TransformKind::WEIGHT_BLOCKS`])
    /// and 0 for bf16 tiles.
    pub positions: usize,
    /// Whether `U` is laid out in panels ([`Weights::Panels`]).
    pub panels: bool,
}

impl TransformKind {
    /// The untransformed weight `[cout, cin·kh·kw]` in panels, as [`ConvAlgo::Panels`]
    /// reads it.
    pub const WEIGHT_PANELS: TransformKind = TransformKind {
        positions: 1,
        panels: true,
    };
    /// The untransformed weight in blocks of output channels, tap-major, as
    /// [`ConvAlgo::StridePhases`] reads it.
    pub const WEIGHT_BLOCKS: TransformKind = TransformKind {
        positions: 1,
        panels: false,
    };
    /// The weight rounded to bf16 and packed into the bf16 kernels' tiles
    /// ([`PackedLeft`], one per group), as [`ConvAlgo::Im2colPackedBf16`] reads it.
    pub const BF16_TILES: TransformKind = TransformKind {
        positions: 0,
        panels: true,
    };
}

/// Where [`infer`] gets a weight's transforms: the caller keeps them between calls or
/// makes them afresh, since it knows when the weight changes.
pub(crate) trait Transforms {
    /// The transform `kind` of the weight, of `bytes` bytes, made by `make` unless kept.
    fn get<V: Any + Send + Sync>(
        &self,
        kind: TransformKind,
        bytes: impl FnOnce(&V) -> usize,
        make: impl FnOnce() -> V,
    ) -> Arc<V>;
}

/// `y = conv(x, w) (+ bias)` by `algo` (one of [`choose`]'s answers for a recorded
/// forward pass), and with [`ConvAlgo::Im2colKeepingPatches`] the patch matrices of all
/// chunks, for [`backward_weight`] to reuse.
pub(crate) fn forward<T: Float>(
    algo: ConvAlgo,
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    g: &Geometry,
) -> (Vec<T>, Option<Vec<T>>) {
    match algo {
        ConvAlgo::Winograd(plan) => {
            let u = transform_weights(wt, g.cout, g.cin);
            let y = conv3x3(x, Weights::Forward(&u), Epilogue::bias(bias), &plan);
            recycle(u);
            (y, None)
        }
        ConvAlgo::Direct(plan) => {
            let f32s = |v| same_type_slice::<T, f32>(v).expect("the direct kernels run in f32");
            let y = direct::forward(f32s(x), f32s(wt), bias.map(f32s), &plan);
            (cast_vec(y), None)
        }
        ConvAlgo::Im2colKeepingPatches => {
            let mut patches = crate::storage::alloc::<T>(g.n * g.k() * g.l());
            let packed = im2col::packed_weights(wt, g, false);
            let keep = Some(crate::cpu::SharedOut(patches.as_mut_ptr()));
            let y = im2col::forward(x, wt, bias, g, keep, packed.as_deref());
            (y, Some(patches))
        }
        _ => {
            let packed = im2col::packed_weights(wt, g, false);
            (
                im2col::forward(x, wt, bias, g, None, packed.as_deref()),
                None,
            )
        }
    }
}

/// The input gradient `dx [n, cin, h, w]` from `dy [n, cout, oh, ow]` by `algo`
/// ([`choose`] for [`Pass::BackwardData`]).
pub(crate) fn backward_data<T: Float>(algo: ConvAlgo, dy: &[T], wt: &[T], g: &Geometry) -> Vec<T> {
    match algo {
        ConvAlgo::Winograd(plan) => {
            let u = transform_weights(wt, g.cout, g.cin);
            let dx = conv3x3(dy, Weights::Turned(&u), Epilogue::bias(None), &plan);
            recycle(u);
            dx
        }
        _ => im2col::backward_data(dy, wt, g),
    }
}

/// The weight gradient `[cout, cin_g, kh, kw]` by `algo` ([`choose`] for
/// [`Pass::BackwardWeight`]). `kept` is the patch matrices of the forward pass with the
/// chunk size they were built with; im2col reads them when it chunks the batch alike.
pub(crate) fn backward_weight<T: Float>(
    algo: ConvAlgo,
    x: &[T],
    dy: &[T],
    g: &Geometry,
    kept: Option<(&[T], usize)>,
) -> Vec<T> {
    match algo {
        ConvAlgo::Winograd(plan) => weight_grad3x3(x, dy, &plan),
        ConvAlgo::Direct(plan) => {
            let f32s = |v| same_type_slice::<T, f32>(v).expect("the direct kernels run in f32");
            cast_vec(direct::weight_grad(f32s(x), f32s(dy), &plan))
        }
        _ => {
            let chunk = im2col::plan_chunks(g).0;
            let whole = g.n * g.k() * g.l();
            let kept = kept.and_then(|(p, c)| (c == chunk && p.len() == whole).then_some(p));
            im2col::backward_weight(x, dy, g, kept)
        }
    }
}

/// The chunk size of the patch matrices that [`forward`] keeps, as [`backward_weight`]
/// expects it back.
pub(crate) fn kept_chunk(g: &Geometry) -> usize {
    im2col::plan_chunks(g).0
}

/// The bias gradient `db[c] = Σ_{n, pixels} dy[n, c, ·]`.
pub(crate) fn bias_grad<T: Float>(dy: &[T], g: &Geometry) -> Vec<T> {
    let l = g.l();
    let mut db = alloc_zeroed::<T>(g.cout);
    for i in 0..g.n {
        for (c, d) in db.iter_mut().enumerate() {
            *d += sum_slice(&dy[(i * g.cout + c) * l..(i * g.cout + c + 1) * l]);
        }
    }
    db
}

/// A forward pass that records nothing, ending in `epi`, by `algo` ([`choose`] for
/// [`Pass::Inference`]), reading the weight's transforms from `transforms`.
pub(crate) fn infer<T: Float>(
    algo: ConvAlgo,
    xv: &[T],
    wv: &[T],
    epi: Epilogue<T>,
    g: &Geometry,
    transforms: &impl Transforms,
) -> Vec<T> {
    let vec_bytes = |u: &Vec<T>| u.len() * size_of::<T>();
    match algo {
        ConvAlgo::Im2colPackedBf16 => {
            let bytes =
                |p: &Option<Vec<PackedLeft>>| p.iter().flatten().map(PackedLeft::bytes).sum();
            let make = || im2col::packed_weights(wv, g, false);
            let packed = transforms.get(TransformKind::BF16_TILES, bytes, make);
            let mut y = im2col::forward(xv, wv, None, g, None, packed.as_deref());
            apply_epilogue(&mut y, &epi, g);
            y
        }
        ConvAlgo::Winograd(plan) => {
            let positions = plan.tile.positions();
            let panels = winograd::wants_panel_weights::<T>(&plan);
            let make = || {
                let u = match plan.tile {
                    winograd::Tile::F2 => transform_weights(wv, g.cout, g.cin),
                    winograd::Tile::F4 => transform_weights_f4(wv, g.cout, g.cin),
                };
                if panels {
                    panels::panel_weights(&u, positions, g.cout, g.cin)
                } else {
                    u
                }
            };
            let u = transforms.get(TransformKind { positions, panels }, vec_bytes, make);
            let u = if panels {
                Weights::Panels(&u)
            } else {
                Weights::Forward(&u)
            };
            conv3x3(xv, u, epi, &plan)
        }
        ConvAlgo::StridePhases(plan) => {
            let f32s = |v| same_type_slice::<T, f32>(v).expect("stride phases run in f32");
            let make = || cast_vec(stride_phases::block_weights(f32s(wv), g.cout, plan.taps()));
            let wb = transforms.get(TransformKind::WEIGHT_BLOCKS, vec_bytes, make);
            let epi = epilogue::epilogue_f32(&epi).expect("stride phases run in f32");
            cast_vec(stride_phases::forward(f32s(xv), f32s(&wb), epi, &plan))
        }
        ConvAlgo::Panels => {
            let make = || panels::panel_weights(wv, 1, g.cout, g.k());
            let u = transforms.get(TransformKind::WEIGHT_PANELS, vec_bytes, make);
            panels::panel_inference(xv, &u, epi, g).expect("the panels run in f32")
        }
        ConvAlgo::Im2col | ConvAlgo::Im2colKeepingPatches | ConvAlgo::Direct(_) => {
            match epi.bias_only() {
                Some(bias) => forward(algo, xv, wv, bias, g).0,
                None => {
                    let mut y = forward(algo, xv, wv, None, g).0;
                    apply_epilogue(&mut y, &epi, g);
                    y
                }
            }
        }
    }
}
