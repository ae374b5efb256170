//! Which CPU algorithm computes a convolution: one [`choose`] over the geometry, the pass
//! and the dtype, with the thresholds in a [`ConvTuning`] value rather than in constants,
//! so that tests can send small shapes down every path.

use super::{direct, stride_phases, winograd};
use crate::autocast::Precision;
use crate::cpu::skinny;
use crate::ops::conv::Geometry;
use crate::DType;
use std::cell::Cell;

/// Where the CPU algorithms start to pay, in output pixels, channels and taps. The
/// defaults ([`ConvTuning::MEASURED`]) come from timings on the benchmark machines (see
/// each field); [`ConvTuning::EAGER`] sends every shape a path accepts down that path, which
/// is what the unit tests need to check the fast kernels on small inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvTuning {
    /// Channels (in and out) from which 3×3 stride-1 convolutions take Winograd.
    pub(crate) winograd_min_channels: usize,
    /// Output pixels of the whole batch from which a recorded forward pass or an input
    /// gradient takes Winograd: its weight transform (`16·cout·cin` values) is made on
    /// every call and pays off only over enough tiles (ResNet-18's 7×7 layers at batch 8,
    /// 392 pixels: 10–10.8 ms with it, 13.5 ms through im2col).
    pub(crate) winograd_min_pixels: usize,
    /// The same for the weight gradient, which adds each block's 16 products to a
    /// `16 × cout × cin` sum (at 392 pixels the 512-channel layers' backward pass took
    /// 32–37 ms with it against 29 ms without).
    pub(crate) winograd_min_pixels_weight: usize,
    /// The same for inference, whose weight transform is cached between calls
    /// (ResNet-18's 7×7 layers at batch 1, 49 pixels, are faster on it).
    pub(crate) winograd_min_pixels_cached: usize,
    /// Output pixels per image from which inference takes F(4×4, 3×3): ResNet-18's
    /// batch-1 latency is lowest with its 56×56 and 28×28 layers on it, and its 14×14
    /// layers (whose `U` of 9.4 MB is read for 16 tiles) off it.
    pub(crate) f4_min_pixels: usize,
    /// Input times output channels up to which inference takes F(4×4, 3×3): `U` is then at
    /// most 36·128·128 values (2.4 MB of f32), four times the weight.
    pub(crate) f4_max_channel_pairs: usize,
    /// Output pixels below which a forward pass of one image without recording takes the
    /// weight panels ([`super::panels`]). ResNet-18's stride-2 layers at 7×7 gain
    /// (0.885 → 0.665 ms), at 14×14 tie and at 28×28 lose: `gemm` blocks the reduction so
    /// that its packed panels stay in L1, which wide products need.
    pub(crate) panels_max_pixels: usize,
    /// Taps per output (`cin·kh·kw`) from which the direct kernels run: each output pixel
    /// ends with 16 scalar stores per channel block, which few taps do not pay for (a 3×3
    /// stem of 27 taps: 6.3 ms direct against 1.8 ms through im2col; the 7×7 stem's 147
    /// and LeNet's conv2's 150 taps are faster direct).
    pub(crate) direct_min_taps: usize,
    /// Taps per output up to which they run.
    pub(crate) direct_max_taps: usize,
    /// Output channels up to which they run.
    pub(crate) direct_max_cout: usize,
    /// Output channels up to which a recorded forward pass keeps its patch matrices for
    /// the weight gradient (the DCGAN discriminator's 32 → 64 layer at batch 128, 3.2 M
    /// patch values: 100 training steps 9.1 → 8.8 s with 64 here instead of 32).
    pub(crate) keep_patches_max_cout: usize,
    /// Elements of patch matrices a forward pass keeps at most (16 MiB of f32).
    pub(crate) keep_patches_max_len: usize,
}

impl ConvTuning {
    /// The thresholds measured on the benchmark machines.
    pub(crate) const MEASURED: ConvTuning = ConvTuning {
        winograd_min_channels: 16,
        winograd_min_pixels: 256,
        winograd_min_pixels_weight: 512,
        winograd_min_pixels_cached: 49,
        f4_min_pixels: 28 * 28,
        f4_max_channel_pairs: 128 * 128,
        panels_max_pixels: 196,
        direct_min_taps: 100,
        direct_max_taps: 256,
        direct_max_cout: 64,
        keep_patches_max_cout: 64,
        keep_patches_max_len: 1 << 22,
    };

    /// Every fast path from the smallest shape it accepts: Winograd from one pixel, the
    /// direct kernels from one tap.
    #[cfg(test)]
    pub(crate) const EAGER: ConvTuning = ConvTuning {
        winograd_min_pixels: 1,
        winograd_min_pixels_weight: 1,
        direct_min_taps: 1,
        ..ConvTuning::MEASURED
    };

    /// The tuning new convolutions on this thread take (see [`ConvTuning::scoped`]).
    pub(crate) fn current() -> ConvTuning {
        TUNING.with(Cell::get)
    }

    /// Runs `f` with `self` as this thread's tuning, restoring the previous one after
    /// (also when `f` panics). A convolution keeps the tuning it was made with for its
    /// backward pass.
    #[cfg(test)]
    pub(crate) fn scoped<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(ConvTuning);
        impl Drop for Restore {
            fn drop(&mut self) {
                TUNING.with(|t| t.set(self.0));
            }
        }
        let _restore = Restore(TUNING.with(|t| t.replace(self)));
        f()
    }
}

thread_local! {
    static TUNING: Cell<ConvTuning> = const { Cell::new(ConvTuning::MEASURED) };
}

/// Which product a kernel call computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    /// A recorded forward pass; `weight_grad` when the weight's gradient will be taken.
    Forward { weight_grad: bool },
    /// A forward pass that records nothing: weight transforms may be cached.
    Inference,
    /// The gradient with respect to the input.
    BackwardData,
    /// The gradient with respect to the weight.
    BackwardWeight,
}

/// The algorithm of one kernel call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ConvAlgo {
    /// Patch matrices and GEMM ([`super::im2col`]), in any dtype and precision.
    Im2col,
    /// [`ConvAlgo::Im2col`] of a forward pass that keeps its patch matrices for the weight
    /// gradient: small ungrouped layers with few output channels (LeNet's), where building
    /// the patches costs about as much as the product.
    Im2colKeepingPatches,
    /// Im2col over bf16 tiles of the weight packed once and cached (inference in bf16).
    Im2colPackedBf16,
    /// Winograd F(2×2, 3×3) or, in inference, F(4×4, 3×3) ([`super::winograd`]); for the
    /// input gradient, the plan of the turned kernels.
    Winograd(winograd::Plan),
    /// The direct f32 kernels ([`super::direct`]).
    Direct(direct::Plan),
    /// The stride-phase f32 kernels of one image in inference ([`super::stride_phases`]).
    StridePhases(direct::Plan),
    /// The patch matrix of one image times the weight in panels of 64 output channels,
    /// in inference ([`super::panels`]).
    Panels,
}

/// The algorithm for `pass` of the convolution `g` on elements of `dtype`, under the
/// tuning `g` was made with. Under bf16 products everything takes im2col: Winograd's
/// transforms would amplify bf16's rounding, and the direct, phase and panel kernels are
/// f32 kernels.
pub(crate) fn choose(g: &Geometry, pass: Pass, dtype: DType) -> ConvAlgo {
    let t = &g.tuning;
    match pass {
        Pass::Inference => {
            if g.prec == Precision::Bf16 {
                ConvAlgo::Im2colPackedBf16
            } else if let Some(plan) = winograd_inference(g, t) {
                ConvAlgo::Winograd(plan)
            } else if let Some(plan) = stride_phases_inference(g, t, dtype) {
                ConvAlgo::StridePhases(plan)
            } else if panels_inference(g, t, dtype) {
                ConvAlgo::Panels
            } else {
                choose(g, Pass::Forward { weight_grad: false }, dtype)
            }
        }
        Pass::Forward { weight_grad } => {
            if let Some(plan) = winograd_from(g, t, t.winograd_min_pixels) {
                ConvAlgo::Winograd(plan)
            } else if let Some(plan) = direct(g, t, dtype) {
                ConvAlgo::Direct(plan)
            } else if weight_grad && keeps_patches(g, t) {
                ConvAlgo::Im2colKeepingPatches
            } else {
                ConvAlgo::Im2col
            }
        }
        Pass::BackwardData => match winograd_from(g, t, t.winograd_min_pixels) {
            // The kernels turned by 180° with their channels swapped, at padding `2 − pad`.
            Some(p) => ConvAlgo::Winograd(winograd::Plan {
                n: g.n,
                cin: g.cout,
                h: g.oh,
                w: g.ow,
                cout: g.cin,
                pad: 2 - p.pad,
                tile: winograd::Tile::F2,
            }),
            None => ConvAlgo::Im2col,
        },
        Pass::BackwardWeight => {
            if let Some(plan) = winograd_from(g, t, t.winograd_min_pixels_weight) {
                ConvAlgo::Winograd(plan)
            } else if let Some(plan) = direct(g, t, dtype) {
                ConvAlgo::Direct(plan)
            } else {
                ConvAlgo::Im2col
            }
        }
    }
}

/// The Winograd F(2×2) plan when `g` fits it from `min_pixels` output pixels of the whole
/// batch: 3×3 kernels at stride 1, ungrouped, with enough channels on both sides that the
/// 16 products, not the transforms, dominate. The padding is at most 2 so that the input
/// gradient (padding `2 − pad`) is such a convolution too.
fn winograd_from(g: &Geometry, t: &ConvTuning, min_pixels: usize) -> Option<winograd::Plan> {
    let fits = g.prec == Precision::Full
        && (g.kh, g.kw) == (3, 3)
        && g.stride == (1, 1)
        && g.dil == (1, 1)
        && g.groups == 1
        && g.pad.0 == g.pad.1
        && g.pad.0 <= 2
        && g.cin >= t.winograd_min_channels
        && g.cout >= t.winograd_min_channels
        && g.oh >= 2
        && g.ow >= 2
        && g.n * g.oh * g.ow >= min_pixels;
    fits.then_some(winograd::Plan {
        n: g.n,
        cin: g.cin,
        h: g.h,
        w: g.w,
        cout: g.cout,
        pad: g.pad.0,
        tile: winograd::Tile::F2,
    })
}

/// The Winograd plan of inference, whose weight transform is cached: F(4×4) for images of
/// at least `f4_min_pixels` outputs with at most `f4_max_channel_pairs`, else F(2×2).
fn winograd_inference(g: &Geometry, t: &ConvTuning) -> Option<winograd::Plan> {
    let f4 = g.oh * g.ow >= t.f4_min_pixels && g.cin * g.cout <= t.f4_max_channel_pairs;
    let tile = if f4 {
        winograd::Tile::F4
    } else {
        winograd::Tile::F2
    };
    winograd_from(g, t, t.winograd_min_pixels_cached).map(|p| winograd::Plan { tile, ..p })
}

/// The plan of the direct f32 kernels: dilation 1, ungrouped, output channels in blocks of
/// 16 up to `direct_max_cout`, `direct_min_taps` to `direct_max_taps` taps per output
/// (LeNet-5's conv2: 16 channels, 150 taps; ResNet's 7×7 stem: 64 channels, 147 taps),
/// kernels wider than 1×1, where Winograd does not apply, on CPUs with AVX-512.
fn direct(g: &Geometry, t: &ConvTuning, dtype: DType) -> Option<direct::Plan> {
    let fits = dtype == DType::F32
        && g.groups == 1
        && g.prec == Precision::Full
        && g.kh * g.kw > 1
        && g.dil == (1, 1)
        && g.cout.is_multiple_of(16)
        && g.cout <= t.direct_max_cout
        && (t.direct_min_taps..=t.direct_max_taps).contains(&g.k())
        && winograd_from(g, t, t.winograd_min_pixels).is_none()
        && g.oh > 0
        && g.ow > 0
        && direct::Plan::supported();
    fits.then(|| direct_plan(g))
}

/// `g` as the direct and stride-phase kernels' plans describe it (dilation 1, ungrouped:
/// what their callers check).
fn direct_plan(g: &Geometry) -> direct::Plan {
    direct::Plan {
        n: g.n,
        cin: g.cin,
        h: g.h,
        w: g.w,
        cout: g.cout,
        kh: g.kh,
        kw: g.kw,
        ph: g.pad.0,
        pw: g.pad.1,
        sy: g.stride.0,
        sx: g.stride.1,
    }
}

/// The stride-phase plan of inference: f32 on one image, ungrouped, stride 2 on both axes,
/// dilation 1, kernels wider than 1×1, output channels in blocks of
/// [`stride_phases::BLOCK`], at least `panels_max_pixels` output pixels (below, the panels
/// take them), on CPUs with AVX-512. ResNet-18's stem and its stride-2 3×3 layers at 28×28
/// and 14×14.
fn stride_phases_inference(g: &Geometry, t: &ConvTuning, dtype: DType) -> Option<direct::Plan> {
    let fits = g.n == 1
        && g.groups == 1
        && dtype == DType::F32
        && g.prec == Precision::Full
        && g.stride == (2, 2)
        && g.dil == (1, 1)
        && g.kh * g.kw > 1
        && g.cout.is_multiple_of(stride_phases::BLOCK)
        && g.l() >= t.panels_max_pixels
        && direct::Plan::supported();
    fits.then(|| direct_plan(g))
}

/// Whether inference of one image takes the weight panels: f32, fewer than
/// `panels_max_pixels` output pixels, ungrouped, where neither Winograd nor the direct
/// kernels apply, on CPUs with the skinny kernels.
fn panels_inference(g: &Geometry, t: &ConvTuning, dtype: DType) -> bool {
    g.n == 1
        && g.groups == 1
        && dtype == DType::F32
        && g.prec == Precision::Full
        && winograd_inference(g, t).is_none()
        && direct(g, t, dtype).is_none()
        && skinny::supported()
        && g.l() < t.panels_max_pixels
}

/// Whether a recorded forward pass keeps its patch matrices (see
/// [`ConvAlgo::Im2colKeepingPatches`]).
fn keeps_patches(g: &Geometry, t: &ConvTuning) -> bool {
    g.groups == 1
        && !g.pointwise()
        && g.cout <= t.keep_patches_max_cout
        && g.n * g.k() * g.l() <= t.keep_patches_max_len
}
