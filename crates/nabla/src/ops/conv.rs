//! Convolutions: conv1d, conv2d (stride, padding, dilation, groups) and conv_transpose2d,
//! lowered to GEMM through im2col, with their gradient rules.
//!
//! Three kernels do all the work, each per image and per group:
//! - forward:       `y[co, l] = Σ_k W[co, k] · col(x)[k, l]`              (W · col)
//! - data grad:     `dx = col2im(Wᵀ · dy)`
//! - weight grad:   `dW += dy · col(x)ᵀ`
//!
//! where `col(x)` is the `[cin/groups · kh · kw, oh · ow]` matrix of input patches.
//! `conv_transpose2d` is the data-grad kernel run forward, so its gradients are the forward
//! and weight-grad kernels. Images are spread across threads when the batch has at least as
//! many images as threads; otherwise each product uses all threads.

use super::conv_winograd::{
    self as winograd, conv3x3, transform_weights, transform_weights_f4, weight_grad3x3, Epilogue,
    Weights,
};
use super::{conv_direct, conv_phases, rule, winograd_cache};
use crate::autocast::Precision;
use crate::cpu::bf16::{gemm_packed, PackedLeft};
use crate::cpu::elementwise::PAR_MIN_LEN;
use crate::cpu::gemm::{gemm, MatRef};
use crate::cpu::phases;
use crate::cpu::reduce::sum_slice;
use crate::cpu::simd::vectorized;
use crate::cpu::skinny::{self, Rows};
use crate::cpu::SharedOut;
use crate::dtype::{with_float, Float};
use crate::storage::{
    alloc, alloc_zeroed, cast_vec, recycle, same_type_slice, same_type_slice_mut,
};
use crate::{Error, Result, Shape, Tensor};
use rayon::prelude::*;
use std::ops::Range;

/// A per-output-channel affine map, an optional residual and an optional ReLU after a
/// convolution ([`Tensor::conv2d_affine`]): evaluation-mode batch norm folded in.
#[derive(Clone, Copy, Debug)]
pub struct ChannelAffine<'a> {
    /// `[c_out]`, multiplies each output channel.
    pub scale: &'a Tensor,
    /// `[c_out]`, added after the scale.
    pub shift: &'a Tensor,
    /// A tensor of the output's shape added after the shift, before the ReLU: the shortcut
    /// of a residual block (`relu(bn(conv(x)) + shortcut)`).
    pub residual: Option<&'a Tensor>,
    /// Whether a ReLU follows.
    pub relu: bool,
}

/// Options of [`Tensor::conv2d`] and [`Tensor::conv1d`] (the same value along each spatial
/// axis).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Step between neighbouring windows.
    pub stride: usize,
    /// Zeros added on each side of each spatial axis.
    pub padding: usize,
    /// Spacing between kernel taps (1 = dense kernel).
    pub dilation: usize,
    /// Channel groups: input and output channels are split into this many independent
    /// convolutions (`groups = cin` is a depthwise convolution).
    pub groups: usize,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig {
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

/// Options of [`Tensor::conv_transpose2d`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2dConfig {
    /// Stride of the convolution this op transposes.
    pub stride: usize,
    /// Padding of the convolution this op transposes (removed from the output).
    pub padding: usize,
    /// Extra rows/columns added to one side of the output to pick among the output sizes
    /// that a strided convolution maps to the same input size.
    pub output_padding: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Channel groups.
    pub groups: usize,
}

impl Default for ConvTranspose2dConfig {
    fn default() -> Self {
        ConvTranspose2dConfig {
            stride: 1,
            padding: 0,
            output_padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

/// The geometry of one convolution, seen from the forward direction (`x` → `y`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    n: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    stride: (usize, usize),
    pad: (usize, usize),
    dil: (usize, usize),
    groups: usize,
    /// The precision of the products ([`crate::autocast`]): in bf16 every convolution
    /// takes im2col and the bf16 GEMM, since Winograd's transforms would amplify bf16's
    /// rounding and the direct, phase and panel kernels are f32 only.
    prec: Precision,
}

impl Geometry {
    /// Multiply-accumulates of the forward convolution: each of the `n·cout·oh·ow` outputs is
    /// a dot product of `cin/groups·kh·kw` terms.
    fn macs(&self) -> usize {
        self.n * self.cout * self.oh * self.ow * (self.cin / self.groups.max(1)) * self.kh * self.kw
    }

    fn cin_g(&self) -> usize {
        self.cin / self.groups
    }
    fn cout_g(&self) -> usize {
        self.cout / self.groups
    }
    /// Rows of the patch matrix: `cin/groups · kh · kw`.
    fn k(&self) -> usize {
        self.cin_g() * self.kh * self.kw
    }
    /// Columns of the patch matrix: output pixels.
    fn l(&self) -> usize {
        self.oh * self.ow
    }
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == (1, 1) && self.pad == (0, 0)
    }
    /// The Winograd plan of the forward convolution, when it takes that path: 3×3 kernels at
    /// stride 1, ungrouped, with enough channels on both sides that the 16 products, not the
    /// transforms, dominate. The padding is at most 2 so that the input gradient (padding
    /// `2 − pad`) is such a convolution too.
    fn winograd(&self) -> Option<winograd::Plan> {
        self.winograd_from(WINOGRAD_MIN_PIXELS)
    }
    /// The Winograd plan of the weight gradient, from more output pixels than the forward
    /// pass: each block of tiles adds its 16 products to a `16 × cout × cin` sum, which at
    /// few tiles per block costs more memory traffic than the products save.
    fn winograd_weight(&self) -> Option<winograd::Plan> {
        self.winograd_from(WINOGRAD_MIN_PIXELS_WEIGHT)
    }
    /// The Winograd plan of a forward pass that records no gradient: its weight transform
    /// is cached between calls ([`winograd_cache`]), so small layers take the path too.
    /// Images of at least [`F4_MIN_PIXELS`] outputs with at most [`F4_MAX_CHANNEL_PAIRS`]
    /// take F(4×4, 3×3).
    fn winograd_inference(&self) -> Option<winograd::Plan> {
        let f4 = self.oh * self.ow >= F4_MIN_PIXELS && self.cin * self.cout <= F4_MAX_CHANNEL_PAIRS;
        let tile = if f4 {
            winograd::Tile::F4
        } else {
            winograd::Tile::F2
        };
        self.winograd_from(WINOGRAD_MIN_PIXELS_CACHED)
            .map(|p| winograd::Plan { tile, ..p })
    }
    fn winograd_from(&self, min_pixels: usize) -> Option<winograd::Plan> {
        let fits = self.prec == Precision::Full
            && (self.kh, self.kw) == (3, 3)
            && self.stride == (1, 1)
            && self.dil == (1, 1)
            && self.groups == 1
            && self.pad.0 == self.pad.1
            && self.pad.0 <= 2
            && self.cin >= WINOGRAD_MIN_CHANNELS
            && self.cout >= WINOGRAD_MIN_CHANNELS
            && self.oh >= 2
            && self.ow >= 2
            && self.n * self.oh * self.ow >= min_pixels;
        fits.then_some(winograd::Plan {
            n: self.n,
            cin: self.cin,
            h: self.h,
            w: self.w,
            cout: self.cout,
            pad: self.pad.0,
            tile: winograd::Tile::F2,
        })
    }
    /// Whether a forward pass in `dtype` that records no gradient runs [`panel_inference`]:
    /// f32 on one image of fewer than [`PANELS_MAX_PIXELS`] output pixels, ungrouped, where
    /// neither Winograd nor the direct kernels apply, on CPUs with the skinny kernels.
    fn panels_inference(&self, dtype: crate::DType) -> bool {
        self.n == 1
            && self.groups == 1
            && dtype == crate::DType::F32
            && self.prec == Precision::Full
            && self.winograd_inference().is_none()
            && self.direct().is_none()
            && skinny::supported()
            && self.l() < PANELS_MAX_PIXELS
    }
    /// The plan of [`conv_phases`] for a forward pass in `dtype` that records no gradient:
    /// f32 on one image, ungrouped, stride 2 on both axes, dilation 1, kernels wider than
    /// 1×1, output channels in blocks of [`conv_phases::BLOCK`], at least
    /// [`PANELS_MAX_PIXELS`] output pixels (below, [`panel_inference`] takes them), on
    /// CPUs with AVX-512. ResNet-18's stem and its stride-2 3×3 layers at 28×28 and 14×14.
    fn phases_inference(&self, dtype: crate::DType) -> Option<conv_phases::Plan> {
        let fits = self.n == 1
            && self.groups == 1
            && dtype == crate::DType::F32
            && self.prec == Precision::Full
            && self.stride == (2, 2)
            && self.dil == (1, 1)
            && self.kh * self.kw > 1
            && self.cout.is_multiple_of(conv_phases::BLOCK)
            && self.l() >= PANELS_MAX_PIXELS
            && conv_phases::Plan::supported();
        fits.then(|| self.direct_plan())
    }
    /// The plan of the direct f32 kernels ([`conv_direct`]): dilation 1, ungrouped, output
    /// channels in blocks of 16 up to [`DIRECT_MAX_COUT`], [`DIRECT_MIN_TAPS`] to
    /// [`DIRECT_MAX_TAPS`] taps per output (LeNet-5's conv2: 16 channels, 150 taps; ResNet's
    /// 7×7 stem: 64 channels, 147 taps), kernels wider than 1×1, on CPUs with AVX-512.
    fn direct(&self) -> Option<conv_direct::Plan> {
        let fits = self.groups == 1
            && self.prec == Precision::Full
            && self.kh * self.kw > 1
            && self.dil == (1, 1)
            && self.cout.is_multiple_of(16)
            && self.cout <= DIRECT_MAX_COUT
            && (DIRECT_MIN_TAPS..=DIRECT_MAX_TAPS).contains(&self.k())
            && self.winograd().is_none()
            && self.oh > 0
            && self.ow > 0
            && conv_direct::Plan::supported();
        fits.then(|| self.direct_plan())
    }
    /// This geometry as [`conv_direct`]'s and [`conv_phases`]' plans describe it (dilation
    /// 1, ungrouped: what their callers check).
    fn direct_plan(&self) -> conv_direct::Plan {
        conv_direct::Plan {
            n: self.n,
            cin: self.cin,
            h: self.h,
            w: self.w,
            cout: self.cout,
            kh: self.kh,
            kw: self.kw,
            ph: self.pad.0,
            pw: self.pad.1,
            sy: self.stride.0,
            sx: self.stride.1,
        }
    }
    /// Whether a recorded forward pass keeps its patch matrices for the weight gradient
    /// instead of the backward pass building them again: for small, ungrouped layers with
    /// few output channels (LeNet's), where building the patches costs about as much as
    /// the product.
    fn keeps_patches(&self) -> bool {
        self.groups == 1
            && !self.pointwise()
            && self.winograd().is_none()
            && self.direct().is_none()
            && self.cout <= KEEP_PATCHES_MAX_COUT
            && self.n * self.k() * self.l() <= KEEP_PATCHES_MAX_LEN
    }
    /// The Winograd plan of the input gradient: the forward plan's convolution of `dy` with
    /// the kernels turned by 180° and their channels swapped, at padding `2 − pad`.
    fn winograd_data(&self) -> Option<winograd::Plan> {
        self.winograd().map(|p| winograd::Plan {
            n: self.n,
            cin: self.cout,
            h: self.oh,
            w: self.ow,
            cout: self.cin,
            pad: 2 - p.pad,
            tile: winograd::Tile::F2,
        })
    }
}

/// Channels (in and out) from which 3×3 stride-1 convolutions take the Winograd path.
const WINOGRAD_MIN_CHANNELS: usize = 16;
/// Output pixels of the whole batch from which they do: the weights are transformed on
/// every call (`16·cout·cin` values), which only pays off over enough tiles. ResNet-18 at
/// batch 1 spent 39% of its time in the weight transform of its 7×7 and 14×14 layers (a
/// scalar transform then). At batch 8, its 7×7 layers (392 pixels) took 10–10.8 ms forward
/// this way against 13.5 ms through im2col. The unit tests lower it to 1 so that their
/// small shapes (and gradient checks) take the Winograd path.
#[cfg(not(test))]
const WINOGRAD_MIN_PIXELS: usize = 256;
#[cfg(test)]
const WINOGRAD_MIN_PIXELS: usize = 1;
/// The same for the weight gradient ([`Geometry::winograd_weight`]): at 392 pixels the
/// 512-channel layers' backward pass took 32–37 ms with it against 29 ms without.
#[cfg(not(test))]
const WINOGRAD_MIN_PIXELS_WEIGHT: usize = 512;
#[cfg(test)]
const WINOGRAD_MIN_PIXELS_WEIGHT: usize = 1;
/// The same for inference, where the weight transform is cached. At first ResNet-18 at
/// batch 1 (2 threads) was fastest with its 7×7 layers (49 pixels) on im2col: each thread
/// read all of the 512×512 layers' transform, 16/9 of the weight's bytes, for its 8 tiles.
/// Since such small batches run as one block whose products split the output channels
/// ([`conv_winograd`]), they take Winograd too: 22.7 → 21.4 ms in three alternating pairs.
const WINOGRAD_MIN_PIXELS_CACHED: usize = 49;
/// Output pixels per image from which inference takes F(4×4, 3×3)
/// ([`Geometry::winograd_inference`]). ResNet-18's batch-1 latency, medians of 40 in
/// alternating rounds: 18.4 → 16.4 ms with its 56×56 and 28×28 layers on F(4×4), 16.8 with
/// the 56×56 ones only, and 17.0 against 16.7 when its 14×14 layers took it too (their `U`,
/// 9.4 MB each, is read from memory for 16 tiles).
const F4_MIN_PIXELS: usize = 28 * 28;
/// Input times output channels up to which it does: `U` is then at most 36·128·128 values
/// (2.4 MB in f32), four times the weight.
const F4_MAX_CHANNEL_PAIRS: usize = 128 * 128;

/// Output pixels below which a forward pass of one image without recording takes
/// [`panel_inference`] ([`Geometry::panels_inference`]). ResNet-18's stride-2 layers, no
/// gradient, batch 1, alternating rounds (ms, im2col + `gemm` → panels): 3×3 256→512 at
/// 7×7 0.885 → 0.665, 1×1 0.135 → 0.11; at 14×14 (196 pixels) 0.79 → 0.77 and 0.11 →
/// 0.12, through the noise; at 28×28 0.775 → 0.835 and 0.13 → 0.14, slower: `gemm`
/// blocks the reduction so that its packed panels stay in L1, which wide products need.
const PANELS_MAX_PIXELS: usize = 196;

/// Taps per output (`cin·kh·kw`) up to which the direct kernels run.
const DIRECT_MAX_TAPS: usize = 256;
/// Taps per output from which they do: each output pixel ends with 16 scalar stores per
/// channel block, which few taps do not pay for. ResNet's 3×3 stem of 32×32 inputs (27
/// taps, 64 channels, batch 64) took 6.3 ms forward direct against 1.8 ms through im2col;
/// the 7×7 stem (147 taps) and LeNet's conv2 (150) are faster direct. The unit tests
/// lower it to 1 so that small kernels exercise the direct path.
#[cfg(not(test))]
const DIRECT_MIN_TAPS: usize = 100;
#[cfg(test)]
const DIRECT_MIN_TAPS: usize = 1;
/// Output channels up to which they do.
const DIRECT_MAX_COUT: usize = 64;

/// Output channels up to which a recorded forward pass keeps its patch matrices.
const KEEP_PATCHES_MAX_COUT: usize = 32;
/// Elements of patch matrices a forward pass keeps at most (16 MiB of f32).
const KEEP_PATCHES_MAX_LEN: usize = 1 << 22;

/// Output size of a convolution along one axis, or `None` when the kernel does not fit.
fn out_size(input: usize, k: usize, stride: usize, pad: usize, dil: usize) -> Option<usize> {
    let span = dil * (k - 1) + 1;
    let padded = input + 2 * pad;
    (padded >= span).then(|| (padded - span) / stride + 1)
}

/// Fills the rows of channels `channels` of the patch matrix of one image's group `x`
/// (`[cin_g, h, w]`) into `col`: row `r` (one kernel tap of one channel, counted from the
/// range's first) occupies `col[r·ld .. r·ld + oh·ow]`. Zeros where a tap falls into the
/// padding. `ld ≥ oh·ow` lets several images share one matrix side by side.
fn im2col<T: Float>(x: &[T], g: &Geometry, channels: Range<usize>, col: &mut [T], ld: usize) {
    let (sh, sw) = g.stride;
    let (ph, pw) = (g.pad.0 as isize, g.pad.1 as isize);
    let (dh, dw) = g.dil;
    let l = g.l();
    // With a column stride, each input row is first split into its `sw` stride phases
    // (phase q holds columns q, q + sw, ...), so that every tap copies a contiguous run of
    // one phase instead of gathering every sw-th value (ResNet's 7×7 stride-2 stem spent
    // two thirds of its time in that gather). Only for kernels wider than the stride: a
    // 1×1 stride-2 kernel reads each input value at most once, so splitting costs more.
    let c0 = channels.start;
    let phased = (sw > 1 && g.kw > sw).then(|| split_phases(x, g, channels.clone()));
    let phase_len = g.w.div_ceil(sw);
    let mut row = 0;
    for c in channels {
        let plane = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let dst = &mut col[row * ld..row * ld + l];
                let col_off = (kj * dw) as isize - pw;
                // Output columns whose input column lies inside the image.
                let (lo, hi) = valid_range(col_off, sw, g.w, g.ow);
                // Input column ox·sw + col_off is entry ox + shift of phase q.
                let (q, shift) = (
                    col_off.rem_euclid(sw as isize),
                    col_off.div_euclid(sw as isize),
                );
                for oy in 0..g.oh {
                    let iy = (oy * sh) as isize + (ki * dh) as isize - ph;
                    let out_row = &mut dst[oy * g.ow..(oy + 1) * g.ow];
                    if iy < 0 || iy >= g.h as isize {
                        out_row.fill(T::ZERO);
                        continue;
                    }
                    out_row[..lo].fill(T::ZERO);
                    out_row[hi..].fill(T::ZERO);
                    // `lo == hi` when the tap never lands inside the image (a kernel wider
                    // than the image plus the padding on that side): nothing to copy.
                    if hi <= lo {
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    if let Some(phases) = &phased {
                        let at = (((c - c0) * g.h + iy as usize) * sw + q as usize) * phase_len;
                        let start = (lo as isize + shift) as usize;
                        copy_short(&mut out_row[lo..hi], &phases[at + start..][..hi - lo]);
                    } else if sw == 1 {
                        let start = (lo as isize + col_off) as usize;
                        copy_short(&mut out_row[lo..hi], &src[start..start + (hi - lo)]);
                    } else {
                        for ox in lo..hi {
                            out_row[ox] = src[((ox * sw) as isize + col_off) as usize];
                        }
                    }
                }
                row += 1;
            }
        }
    }
    if let Some(phases) = phased {
        recycle(phases);
    }
}

/// The rows of channels `channels` of an image group `[cin_g, h, w]` split into the `sw`
/// phases of the column stride: `[channels, h, sw, ⌈w / sw⌉]`, phase `q` of a row holding
/// its columns `q, q + sw, …`
/// (the unused tail of short phases is left as is: no copy reads it).
fn split_phases<T: Float>(x: &[T], g: &Geometry, channels: Range<usize>) -> Vec<T> {
    let sw = g.stride.1;
    let len = g.w.div_ceil(sw);
    let plane = g.h * g.w;
    let mut out = alloc::<T>(channels.len() * g.h * sw * len);
    let rows = x[channels.start * plane..channels.end * plane]
        .chunks_exact(g.w)
        .zip(out.chunks_exact_mut(sw * len));
    // Inside `vectorized`, stride 2's zipped pairs become vector shuffles (storing one value
    // at a time cost a fifth of ResNet-18's stride-2 3×3 layers at batch 1).
    vectorized(
        #[inline(always)]
        || {
            for (src, dst) in rows {
                phases::split_phases(src, sw, 0, dst, len);
            }
        },
    );
    out
}

/// `dst.copy_from_slice(src)` for the short rows of small images (LeNet's are 5 to 28
/// values wide, ResNet-18's stride-2 patches 7 to 28): two copies of a fixed width that
/// overlap in the middle, inline, instead of a `memcpy` call per row (which cost as much as
/// the copy itself in the LeNet profile) or a loop of 4-value moves (half of the stride-2
/// layers' im2col).
#[inline(always)]
fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    /// The first and the last `W` values, `W ≤ len ≤ 2W`.
    #[inline(always)]
    fn overlapping<T: Copy, const W: usize>(dst: &mut [T], src: &[T]) {
        let n = dst.len();
        dst[..W].copy_from_slice(&src[..W]);
        dst[n - W..].copy_from_slice(&src[n - W..n]);
    }
    match dst.len() {
        0 => {}
        1 => dst[0] = src[0],
        2..=3 => overlapping::<T, 2>(dst, src),
        4..=7 => overlapping::<T, 4>(dst, src),
        8..=15 => overlapping::<T, 8>(dst, src),
        16..=32 => overlapping::<T, 16>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Adds the patch matrix `col` (row stride `ld`) back into the image group `x` (the adjoint
/// of [`im2col`]).
fn col2im<T: Float>(col: &[T], g: &Geometry, x: &mut [T], ld: usize) {
    let (sh, sw) = g.stride;
    let (ph, pw) = (g.pad.0 as isize, g.pad.1 as isize);
    let (dh, dw) = g.dil;
    let l = g.l();
    let mut row = 0;
    for c in 0..g.cin_g() {
        let plane = &mut x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let src = &col[row * ld..row * ld + l];
                let col_off = (kj * dw) as isize - pw;
                let (lo, hi) = valid_range(col_off, sw, g.w, g.ow);
                for oy in 0..g.oh {
                    let iy = (oy * sh) as isize + (ki * dh) as isize - ph;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let s = &src[oy * g.ow..(oy + 1) * g.ow];
                    if sw == 1 && hi > lo {
                        // Contiguous on both sides: a slice add the compiler vectorizes.
                        let start = (lo as isize + col_off) as usize;
                        for (d, &v) in dst[start..start + (hi - lo)].iter_mut().zip(&s[lo..hi]) {
                            *d += v;
                        }
                    } else {
                        for ox in lo..hi {
                            dst[((ox * sw) as isize + col_off) as usize] += s[ox];
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// The range `lo..hi` of output positions `o` with `0 ≤ o·stride + off < size`.
fn valid_range(off: isize, stride: usize, size: usize, n_out: usize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if off >= 0 { 0 } else { ((-off) + s - 1) / s };
    let hi = if (size as isize) - off <= 0 {
        0
    } else {
        ((size as isize - off - 1) / s + 1).min(n_out as isize)
    };
    let lo = (lo as usize).min(n_out);
    (lo, (hi.max(lo as isize)) as usize)
}

fn mat<T>(ptr: *const T, rs: usize, cs: usize) -> MatRef<T> {
    MatRef {
        ptr,
        rs: rs as isize,
        cs: cs as isize,
    }
}

/// Each group's weight packed once for the bf16 kernels (as `Wᵀ`, `[k, cout_g]`, when
/// `transposed`: the input gradient's products), when `g` computes in bf16, `T` is f32 and
/// the CPU has the kernels: every chunk of images then reads the same packed tiles instead
/// of rounding and packing the weight again. `None` otherwise.
fn packed_weights<T: Float>(wt: &[T], g: &Geometry, transposed: bool) -> Option<Vec<PackedLeft>> {
    if g.prec != Precision::Bf16 {
        return None;
    }
    let w = same_type_slice::<T, f32>(wt)?;
    let (cout_g, k) = (g.cout_g(), g.k());
    (0..g.groups)
        .map(|grp| {
            let p = w[grp * cout_g * k..].as_ptr();
            if transposed {
                PackedLeft::new(mat(p, 1, k), k, cout_g)
            } else {
                PackedLeft::new(mat(p, k, 1), cout_g, k)
            }
        })
        .collect()
}

/// [`gemm`] of `(m, n, k)` whose left operand is a weight: from `packed` when given (then
/// `T` is f32, see [`packed_weights`]), else `lhs`.
///
/// # Safety
/// As [`gemm`].
unsafe fn weight_product<T: Float>(
    packed: Option<&PackedLeft>,
    (m, n, k): (usize, usize, usize),
    dst: *mut T,
    dst_rs: isize,
    accumulate: bool,
    lhs: MatRef<T>,
    rhs: MatRef<T>,
    par: bool,
    prec: Precision,
) {
    match packed {
        // SAFETY: a packed weight exists only for f32 elements, so the casts change
        // nothing; the rest is the caller's contract.
        Some(p) => unsafe {
            let rhs = MatRef {
                ptr: rhs.ptr.cast::<f32>(),
                rs: rhs.rs,
                cs: rhs.cs,
            };
            gemm_packed(p, n, dst.cast(), dst_rs, accumulate, rhs, par)
        },
        // SAFETY: forwarded.
        None => unsafe { gemm(m, n, k, dst, dst_rs, accumulate, lhs, rhs, par, prec) },
    }
}

/// Patch columns (output pixels) that one task's GEMM aims at: images are batched into one
/// GEMM per task up to this width, so that small convolutions (LeNet) run as a few large
/// products instead of many tiny ones. Measured: LeNet's conv1 (784 pixels per image) is
/// fastest with 1 image per GEMM and conv2 (100 pixels) with 8.
const CHUNK_COLS: usize = 800;
/// Elements of patch matrix that one task builds at most (1 MiB of f32).
const CHUNK_ELEMS: usize = 1 << 18;
/// [`CHUNK_COLS`] and [`CHUNK_ELEMS`] (4 MiB) of bf16 products. 8 MiB made ResNet-18's
/// step at 32×32 no faster and its peak memory 3% above the f32 step's.
const CHUNK_COLS_BF16: usize = 4096;
const CHUNK_ELEMS_BF16: usize = 1 << 20;

/// Splits the batch into chunks of images, each processed as one GEMM by one task. Returns
/// the chunk size and whether chunks run in parallel (otherwise each GEMM is parallel).
fn plan_chunks(g: &Geometry) -> (usize, bool) {
    let per_image = (g.k() * g.l()).max(1);
    let threads = rayon::current_num_threads();
    if g.n < threads || threads == 1 {
        return (1, false);
    }
    // bf16 products take wider chunks: their kernel reads and writes its 32 × 32 blocks of
    // the output once per product, so a weight gradient summed over chunks of few pixels
    // (ResNet-18's 4 × 4 layers: 48 per chunk) spent its time moving the 512 × 4608 sum.
    let (cols, elems) = match g.prec {
        Precision::Full => (CHUNK_COLS, CHUNK_ELEMS),
        Precision::Bf16 => (CHUNK_COLS_BF16, CHUNK_ELEMS_BF16),
    };
    let by_size = (cols / g.l().max(1)).min(elems / per_image).max(1);
    let by_threads = g.n.div_ceil(threads);
    (by_size.min(by_threads), true)
}

/// Runs `f(first_image, count)` over the chunks of the batch, in parallel or not.
fn for_chunks(g: &Geometry, f: impl Fn(usize, usize, bool) + Sync + Send) {
    let (chunk, parallel) = plan_chunks(g);
    let starts: Vec<usize> = (0..g.n).step_by(chunk).collect();
    if parallel {
        starts
            .par_iter()
            .for_each(|&i| f(i, chunk.min(g.n - i), false));
    } else {
        starts.iter().for_each(|&i| f(i, chunk.min(g.n - i), true));
    }
}

/// Builds the patch matrix `[k, nb·l]` of group `grp` for images `i0..i0+nb`. With `par`
/// (the chunk has the threads to itself) a single image's matrix of at least
/// [`PAR_IM2COL_MIN`] values is built by all threads, each taking a range of channels:
/// ResNet-18's stride-2 3×3 layers at batch 1 otherwise left one thread idle for the
/// 0.15–0.2 ms of their im2col.
fn chunk_patches<T: Float>(
    x: &[T],
    g: &Geometry,
    grp: usize,
    i0: usize,
    nb: usize,
    col: &mut [T],
    par: bool,
) {
    let (l, cin) = (g.l(), g.cin_g());
    let image = |b: usize| &x[((i0 + b) * g.cin + grp * cin) * g.h * g.w..][..cin * g.h * g.w];
    let threads = rayon::current_num_threads();
    if par && nb == 1 && threads > 1 && cin >= threads && g.k() * l >= PAR_IM2COL_MIN {
        let per = cin.div_ceil(threads);
        let xg = image(0);
        col[..g.k() * l]
            .par_chunks_mut(per * g.kh * g.kw * l)
            .enumerate()
            .for_each(|(t, rows)| im2col(xg, g, t * per..((t + 1) * per).min(cin), rows, l));
        return;
    }
    for b in 0..nb {
        im2col(image(b), g, 0..cin, &mut col[b * l..], nb * l);
    }
}

/// Values of a single image's patch matrix from which [`chunk_patches`] splits it between
/// the threads.
const PAR_IM2COL_MIN: usize = 1 << 16;

/// Copies `dy` of group `grp`, images `i0..i0+nb`, into `[cout_g, nb·l]` (image blocks side
/// by side), or returns it in place when `nb == 1`.
fn chunk_rows<'a, T: Float>(
    dy: &'a [T],
    g: &Geometry,
    grp: usize,
    i0: usize,
    nb: usize,
    buf: &'a mut [T],
) -> &'a [T] {
    let (l, cout_g) = (g.l(), g.cout_g());
    if nb == 1 {
        return &dy[(i0 * g.cout + grp * cout_g) * l..][..cout_g * l];
    }
    for b in 0..nb {
        for co in 0..cout_g {
            let src = &dy[((i0 + b) * g.cout + grp * cout_g + co) * l..][..l];
            buf[co * nb * l + b * l..][..l].copy_from_slice(src);
        }
    }
    buf
}

/// `y = conv(x, w) (+ bias)`; `x` is `[n, cin, h, w]`, `w` `[cout, cin_g, kh, kw]`, both
/// contiguous.
fn conv_forward<T: Float>(x: &[T], wt: &[T], bias: Option<&[T]>, g: &Geometry) -> Vec<T> {
    if let Some(plan) = g.winograd() {
        let u = transform_weights(wt, g.cout, g.cin);
        let y = conv3x3(x, Weights::Forward(&u), Epilogue::bias(bias), &plan);
        recycle(u);
        return y;
    }
    if let Some(y) = direct_forward(x, wt, bias, g) {
        return y;
    }
    let packed = packed_weights(wt, g, false);
    im2col_forward(x, wt, bias, g, None, packed.as_deref())
}

/// [`conv_forward`] by the direct kernels, when they apply (f32 only).
fn direct_forward<T: Float>(x: &[T], wt: &[T], bias: Option<&[T]>, g: &Geometry) -> Option<Vec<T>> {
    let plan = g.direct()?;
    let (x, wt) = (
        same_type_slice::<T, f32>(x)?,
        same_type_slice::<T, f32>(wt)?,
    );
    let bias = match bias {
        Some(b) => Some(same_type_slice::<T, f32>(b)?),
        None => None,
    };
    Some(cast_vec(conv_direct::forward(x, wt, bias, &plan)))
}

/// [`conv_backward_weight`] by the direct kernels, when they apply (f32 only).
fn direct_weight_grad<T: Float>(x: &[T], dy: &[T], g: &Geometry) -> Option<Vec<T>> {
    let plan = g.direct()?;
    let (x, dy) = (
        same_type_slice::<T, f32>(x)?,
        same_type_slice::<T, f32>(dy)?,
    );
    Some(cast_vec(conv_direct::weight_grad(x, dy, &plan)))
}

/// [`conv_forward`] that also returns the patch matrices of all chunks (see
/// [`Geometry::keeps_patches`]), for the weight gradient to reuse.
fn conv_forward_keeping<T: Float>(
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    g: &Geometry,
) -> (Vec<T>, Vec<T>) {
    let mut patches = alloc::<T>(g.n * g.k() * g.l());
    let packed = packed_weights(wt, g, false);
    let y = im2col_forward(
        x,
        wt,
        bias,
        g,
        Some(SharedOut(patches.as_mut_ptr())),
        packed.as_deref(),
    );
    (y, patches)
}

/// [`conv_forward`] through im2col and one GEMM per chunk of images. With `keep` (groups
/// == 1 only), chunk `i0..i0 + nb` builds its patch matrix at `keep[i0·k·l ..]` instead of
/// in scratch.
fn im2col_forward<T: Float>(
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    g: &Geometry,
    keep: Option<SharedOut<T>>,
    packed: Option<&[PackedLeft]>,
) -> Vec<T> {
    let (k, l, cout_g) = (g.k(), g.l(), g.cout_g());
    let mut y = alloc::<T>(g.n * g.cout * l);
    let out = SharedOut(y.as_mut_ptr());
    for_chunks(g, |i0, nb, par| {
        // Scratch from the pool: the same sizes recur every training step.
        let mut col = alloc::<T>(if (nb == 1 && g.pointwise()) || keep.is_some() {
            0
        } else {
            k * nb * l
        });
        let mut tmp = alloc::<T>(if nb == 1 { 0 } else { cout_g * nb * l });
        for grp in 0..g.groups {
            let direct = nb == 1 && g.pointwise();
            let patches: &[T] = if direct {
                &x[(i0 * g.cin + grp * g.cin_g()) * g.h * g.w..][..k * l]
            } else if let Some(keep) = &keep {
                // SAFETY: each chunk owns the patch columns of its images.
                let col = unsafe { keep.slice(i0 * k * l, k * nb * l) };
                chunk_patches(x, g, grp, i0, nb, col, par);
                col
            } else {
                chunk_patches(x, g, grp, i0, nb, &mut col, par);
                &col
            };
            // With one image the product lands in y directly; otherwise in a [cout_g, nb·l]
            // block that is then scattered to the images.
            // SAFETY: each chunk owns the output rows of its images.
            let dst: &mut [T] = if nb == 1 {
                unsafe { out.slice((i0 * g.cout + grp * cout_g) * l, cout_g * l) }
            } else {
                &mut tmp
            };
            if let Some(b) = bias {
                for (co, row) in dst.chunks_mut((nb * l).max(1)).enumerate() {
                    row.fill(b[grp * cout_g + co]);
                }
            }
            // SAFETY: operand blocks are in bounds of their slices by construction.
            unsafe {
                weight_product(
                    packed.map(|p| &p[grp]),
                    (cout_g, nb * l, k),
                    dst.as_mut_ptr(),
                    (nb * l) as isize,
                    bias.is_some(),
                    mat(wt[grp * cout_g * k..].as_ptr(), k, 1),
                    mat(patches.as_ptr(), nb * l, 1),
                    par,
                    g.prec,
                )
            };
            if nb > 1 {
                for b in 0..nb {
                    for co in 0..cout_g {
                        // SAFETY: rows of this chunk's images only.
                        let row =
                            unsafe { out.slice(((i0 + b) * g.cout + grp * cout_g + co) * l, l) };
                        row.copy_from_slice(&tmp[co * nb * l + b * l..][..l]);
                    }
                }
            }
        }
        recycle(col);
        recycle(tmp);
    });
    y
}

/// `dx = col2im(Wᵀ · dy)`; `dy` is `[n, cout, oh, ow]`; returns `[n, cin, h, w]`.
fn conv_backward_data<T: Float>(dy: &[T], wt: &[T], g: &Geometry) -> Vec<T> {
    if let Some(plan) = g.winograd_data() {
        let u = transform_weights(wt, g.cout, g.cin);
        let dx = conv3x3(dy, Weights::Turned(&u), Epilogue::bias(None), &plan);
        recycle(u);
        return dx;
    }
    im2col_backward_data(dy, wt, g)
}

/// [`conv_backward_data`] through GEMM and col2im.
fn im2col_backward_data<T: Float>(dy: &[T], wt: &[T], g: &Geometry) -> Vec<T> {
    let (k, l, cout_g) = (g.k(), g.l(), g.cout_g());
    let plane = g.cin_g() * g.h * g.w;
    let mut dx = alloc::<T>(g.n * g.cin * g.h * g.w);
    let out = SharedOut(dx.as_mut_ptr());
    let packed = packed_weights(wt, g, true);
    for_chunks(g, |i0, nb, par| {
        let mut rows_buf = alloc::<T>(if nb == 1 { 0 } else { cout_g * nb * l });
        let mut col = alloc::<T>(if nb == 1 && g.pointwise() {
            0
        } else {
            k * nb * l
        });
        for grp in 0..g.groups {
            let dyc = chunk_rows(dy, g, grp, i0, nb, &mut rows_buf);
            let wg = wt[grp * cout_g * k..].as_ptr();
            if nb == 1 && g.pointwise() {
                // SAFETY: this chunk's image group; Wᵀ is read through swapped strides.
                let dxg = unsafe { out.slice((i0 * g.cin + grp * g.cin_g()) * g.h * g.w, plane) };
                unsafe {
                    weight_product(
                        packed.as_ref().map(|p| &p[grp]),
                        (k, l, cout_g),
                        dxg.as_mut_ptr(),
                        l as isize,
                        false,
                        mat(wg, 1, k),
                        mat(dyc.as_ptr(), l, 1),
                        par,
                        g.prec,
                    )
                };
                continue;
            }
            // SAFETY: as above, into the scratch patch matrix.
            unsafe {
                weight_product(
                    packed.as_ref().map(|p| &p[grp]),
                    (k, nb * l, cout_g),
                    col.as_mut_ptr(),
                    (nb * l) as isize,
                    false,
                    mat(wg, 1, k),
                    mat(dyc.as_ptr(), nb * l, 1),
                    par,
                    g.prec,
                )
            };
            for b in 0..nb {
                // SAFETY: this chunk's image group.
                let dxg =
                    unsafe { out.slice(((i0 + b) * g.cin + grp * g.cin_g()) * g.h * g.w, plane) };
                dxg.fill(T::ZERO);
                col2im(&col[b * l..], g, dxg, nb * l);
            }
        }
        recycle(rows_buf);
        recycle(col);
    });
    dx
}

/// `dW = Σ_images dy · col(x)ᵀ`; returns `[cout, cin_g, kh, kw]`.
///
/// `kept` is the patch matrices of the forward pass ([`conv_forward_keeping`]) with the
/// chunk size they were built with; they are used when this call chunks the batch alike.
fn conv_backward_weight<T: Float>(
    x: &[T],
    dy: &[T],
    g: &Geometry,
    kept: Option<(&[T], usize)>,
) -> Vec<T> {
    if let Some(plan) = g.winograd_weight() {
        return weight_grad3x3(x, dy, &plan);
    }
    if let Some(dw) = direct_weight_grad(x, dy, g) {
        return dw;
    }
    let chunk = plan_chunks(g).0;
    let kept = kept.and_then(|(p, c)| (c == chunk && p.len() == g.n * g.k() * g.l()).then_some(p));
    im2col_backward_weight(x, dy, g, kept)
}

/// [`conv_backward_weight`] through im2col and GEMM, reading the patch matrices from
/// `kept` when given (groups == 1).
fn im2col_backward_weight<T: Float>(x: &[T], dy: &[T], g: &Geometry, kept: Option<&[T]>) -> Vec<T> {
    let (k, l, cout_g) = (g.k(), g.l(), g.cout_g());
    let wlen = g.cout * k;
    let chunk_into = |dw: &mut [T], i0: usize, nb: usize, par: bool| {
        let mut rows_buf = alloc::<T>(if nb == 1 { 0 } else { cout_g * nb * l });
        let mut col = alloc::<T>(if (nb == 1 && g.pointwise()) || kept.is_some() {
            0
        } else {
            k * nb * l
        });
        for grp in 0..g.groups {
            let patches: &[T] = if nb == 1 && g.pointwise() {
                &x[(i0 * g.cin + grp * g.cin_g()) * g.h * g.w..][..k * l]
            } else if let Some(kept) = kept {
                &kept[i0 * k * l..][..k * nb * l]
            } else {
                chunk_patches(x, g, grp, i0, nb, &mut col, par);
                &col
            };
            let dyc = chunk_rows(dy, g, grp, i0, nb, &mut rows_buf);
            let dwg = &mut dw[grp * cout_g * k..(grp + 1) * cout_g * k];
            // SAFETY: in-bounds blocks; the patch matrix is read transposed.
            unsafe {
                gemm(
                    cout_g,
                    k,
                    nb * l,
                    dwg.as_mut_ptr(),
                    k as isize,
                    true,
                    mat(dyc.as_ptr(), nb * l, 1),
                    mat(patches.as_ptr(), 1, nb * l),
                    par,
                    g.prec,
                )
            };
        }
        recycle(rows_buf);
        recycle(col);
    };
    let (chunk, parallel) = plan_chunks(g);
    let starts: Vec<usize> = (0..g.n).step_by(chunk).collect();
    if parallel {
        // A fixed split of the chunks into one group per thread, summed in group order: the
        // result does not depend on scheduling, so training runs are bitwise reproducible.
        let threads = rayon::current_num_threads().min(starts.len()).max(1);
        let per_group = starts.len().div_ceil(threads);
        let partials: Vec<Vec<T>> = starts
            .par_chunks(per_group)
            .map(|group| {
                let mut dw = alloc_zeroed::<T>(wlen);
                for &i0 in group {
                    chunk_into(&mut dw, i0, chunk.min(g.n - i0), false);
                }
                dw
            })
            .collect();
        let mut parts = partials.into_iter();
        let mut total = parts.next().unwrap_or_else(|| alloc_zeroed::<T>(wlen));
        for p in parts {
            for (a, b) in total.iter_mut().zip(&p) {
                *a += *b;
            }
            recycle(p);
        }
        total
    } else {
        let mut dw = alloc_zeroed::<T>(wlen);
        for &i0 in &starts {
            chunk_into(&mut dw, i0, chunk.min(g.n - i0), true);
        }
        dw
    }
}

/// `db[c] = Σ_{n, pixels} dy[n, c, ·]`.
fn bias_grad<T: Float>(dy: &[T], g: &Geometry) -> Vec<T> {
    let l = g.l();
    let mut db = alloc_zeroed::<T>(g.cout);
    for i in 0..g.n {
        for (c, d) in db.iter_mut().enumerate() {
            *d += sum_slice(&dy[(i * g.cout + c) * l..(i * g.cout + c + 1) * l]);
        }
    }
    db
}

/// Which kernel computes a tensor in a conv's graph.
#[derive(Clone, Copy)]
enum Kernel {
    Forward,
    /// The forward pass, also returning its patch matrices for the weight gradient.
    ForwardKeepingPatches,
    BackwardData,
    /// The weight gradient; with the chunk size of the kept patch matrices when given.
    BackwardWeight(Option<usize>),
    Bias,
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

/// Runs one of the kernels on tensors (not recorded): inputs per kernel are
/// Forward(x, w[, b]), ForwardKeepingPatches(x, w[, b]), BackwardData(dy, w),
/// BackwardWeight(x, dy[, kept patches]), Bias(dy). Returns the result and, for
/// ForwardKeepingPatches, the patch matrices.
fn run(
    kernel: Kernel,
    g: &Geometry,
    a: &Tensor,
    b: Option<&Tensor>,
    c: Option<&Tensor>,
    op: &'static str,
) -> Result<(Tensor, Option<Tensor>)> {
    with_float!(a.dtype(), op, T => {
        let y_shape = || vec![g.n, g.cout, g.oh, g.ow];
        let (data, shape, kept) = a.with_contiguous::<T, _>(op, |av| {
            with_opt::<T, _>(b, op, |bv| {
                with_opt::<T, _>(c, op, |cv| match kernel {
                    Kernel::Forward => (conv_forward(av, bv.expect("weight"), cv, g), y_shape(), None),
                    Kernel::ForwardKeepingPatches => {
                        let (y, patches) = conv_forward_keeping(av, bv.expect("weight"), cv, g);
                        (y, y_shape(), Some(patches))
                    }
                    Kernel::BackwardData => (conv_backward_data(av, bv.expect("weight"), g), vec![g.n, g.cin, g.h, g.w], None),
                    Kernel::BackwardWeight(chunk) => (
                        conv_backward_weight(av, bv.expect("grad"), g, cv.zip(chunk)),
                        vec![g.cout, g.cin_g(), g.kh, g.kw],
                        None,
                    ),
                    Kernel::Bias => (bias_grad(av, g), vec![g.cout], None),
                })
            })
        })???;
        let kept = kept.map(|p| {
            let len = p.len();
            Tensor::from_data(p, Shape(vec![len]))
        });
        Ok((Tensor::from_data(data, Shape(shape)), kept))
    })
}

/// A forward convolution that records no gradient through a kernel whose weight transform
/// is cached between calls ([`cached_forward`]), or `None` when the geometry takes neither.
fn cached_inference(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: &Geometry,
) -> Result<Option<Tensor>> {
    if g.winograd_inference().is_none()
        && !g.panels_inference(x.dtype())
        && g.phases_inference(x.dtype()).is_none()
        && g.prec == Precision::Full
    {
        return Ok(None);
    }
    let op = "conv2d";
    with_float!(x.dtype(), op, T => {
        let y = x.with_contiguous::<T, _>(op, |xv| {
            weight.with_contiguous::<T, _>(op, |wv| {
                with_opt::<T, _>(bias, op, |bv| {
                    cached_forward(weight, xv, wv, Epilogue::bias(bv), g)
                })
            })
        })???;
        Ok(y.map(|y| Tensor::from_data(y, Shape(vec![g.n, g.cout, g.oh, g.ow]))))
    })
}

/// The forward convolution of `x`'s elements with `weight` (elements `wv`) ending in `epi`,
/// through Winograd ([`cached_winograd`]), stride phases ([`conv_phases`]) or weight panels
/// ([`panel_inference`]) with the weight's transform from the [`winograd_cache`]; `None`
/// when none applies.
fn cached_forward<T: Float>(
    weight: &Tensor,
    xv: &[T],
    wv: &[T],
    epi: Epilogue<T>,
    g: &Geometry,
) -> Option<Vec<T>> {
    if g.prec == Precision::Bf16 && weight.is_contiguous() {
        let kind = winograd_cache::Kind::BF16_TILES;
        let bytes = |p: &Option<Vec<PackedLeft>>| p.iter().flatten().map(PackedLeft::bytes).sum();
        let packed = winograd_cache::cached(weight, kind, bytes, || packed_weights(wv, g, false));
        let mut y = im2col_forward(xv, wv, None, g, None, Some(packed.as_deref()?));
        apply_epilogue(&mut y, &epi, g);
        return Some(y);
    }
    if let Some(plan) = g.winograd_inference() {
        return Some(cached_winograd(weight, xv, wv, epi, plan, g));
    }
    if let Some(plan) = g.phases_inference(T::DTYPE) {
        let kind = winograd_cache::Kind::WEIGHT_BLOCKS;
        let wb = cached_transform(weight, wv, kind, |w| {
            let w = same_type_slice::<T, f32>(w).expect("phases run in f32");
            cast_vec(conv_phases::block_weights(w, g.cout, plan.taps()))
        });
        let (xv, wb, epi) = (
            same_type_slice::<T, f32>(xv)?,
            same_type_slice::<T, f32>(&wb)?,
            epilogue_f32(&epi)?,
        );
        return Some(cast_vec(conv_phases::forward(xv, wb, epi, &plan)));
    }
    if !g.panels_inference(T::DTYPE) {
        return None;
    }
    let kind = winograd_cache::Kind::WEIGHT_PANELS;
    let u = cached_transform(weight, wv, kind, |w| {
        winograd::panel_weights(w, 1, g.cout, g.k())
    });
    panel_inference(xv, &u, epi, g)
}

/// Applies `epi` to the output `y [n, cout, oh, ow]` of a convolution, channel by channel.
fn apply_epilogue<T: Float>(y: &mut [T], epi: &Epilogue<T>, g: &Geometry) {
    let plane = (g.oh * g.ow).max(1);
    let apply = |(i, chan): (usize, &mut [T])| epi.apply(i % g.cout, i * plane, chan);
    if y.len() >= PAR_MIN_LEN {
        y.par_chunks_mut(plane).enumerate().for_each(apply);
    } else {
        y.chunks_mut(plane).enumerate().for_each(apply);
    }
}

/// `epi` for f32 elements; `None` when `T` is not f32.
fn epilogue_f32<'a, T: Float>(epi: &Epilogue<'a, T>) -> Option<Epilogue<'a, f32>> {
    let cast = |s: Option<&'a [T]>| match s {
        None => Some(None),
        Some(s) => same_type_slice::<T, f32>(s).map(Some),
    };
    Some(Epilogue {
        scale: cast(epi.scale)?,
        shift: cast(epi.shift)?,
        residual: cast(epi.residual)?,
        relu: epi.relu,
    })
}

/// The transform `kind` of `weight` (elements `wv`) made by `make`: from the
/// [`winograd_cache`] for a contiguous weight, made afresh for a view.
fn cached_transform<T: Float>(
    weight: &Tensor,
    wv: &[T],
    kind: winograd_cache::Kind,
    make: impl FnOnce(&[T]) -> Vec<T>,
) -> std::sync::Arc<Vec<T>> {
    if weight.is_contiguous() {
        winograd_cache::transformed(weight, wv, kind, make)
    } else {
        std::sync::Arc::new(make(wv))
    }
}

/// The Winograd path of [`cached_forward`]: `plan`'s transform of `weight` (elements `wv`)
/// from the [`winograd_cache`], applied to `x`'s elements (`xv`), ending in `epi`.
fn cached_winograd<T: Float>(
    weight: &Tensor,
    xv: &[T],
    wv: &[T],
    epi: Epilogue<T>,
    plan: winograd::Plan,
    g: &Geometry,
) -> Vec<T> {
    let positions = plan.tile.positions();
    let panels = winograd::wants_panel_weights::<T>(&plan);
    let make = |w: &[T]| {
        let u = match plan.tile {
            winograd::Tile::F2 => transform_weights(w, g.cout, g.cin),
            winograd::Tile::F4 => transform_weights_f4(w, g.cout, g.cin),
        };
        if panels {
            winograd::panel_weights(&u, positions, g.cout, g.cin)
        } else {
            u
        }
    };
    let u = cached_transform(weight, wv, winograd_cache::Kind { positions, panels }, make);
    let u = if panels {
        Weights::Panels(&u)
    } else {
        Weights::Forward(&u)
    };
    conv3x3(xv, u, epi, &plan)
}

/// A forward convolution of one image that records no gradient (where
/// [`Geometry::panels_inference`] holds), through its patch matrix and
/// [`skinny::skinny_gemm_tn`] on the weight cut into panels of 64 output channels (`u`,
/// from [`winograd::panel_weights`]), ending in `epi`, each thread taking a band of output
/// channels. `None` when `T` is not f32.
fn panel_inference<T: Float>(xv: &[T], u: &[T], epi: Epilogue<T>, g: &Geometry) -> Option<Vec<T>> {
    let (k, l, cout) = (g.k(), g.l(), g.cout);
    let mut col = alloc::<T>(if g.pointwise() { 0 } else { k * l });
    let patches: &[T] = if g.pointwise() {
        &xv[..k * l]
    } else {
        chunk_patches(xv, g, 0, 0, 1, &mut col, true);
        &col
    };
    let (u, b) = (
        same_type_slice::<T, f32>(u)?,
        same_type_slice::<T, f32>(patches)?,
    );
    let mut y = alloc::<T>(cout * l);
    // The output as the kernel's f32 and as the epilogue's T: the same memory.
    let out = SharedOut(y.as_mut_ptr());
    let out32 = SharedOut(same_type_slice_mut::<T, f32>(&mut y)?.as_mut_ptr());
    winograd::for_ranges(cout, true, |band| {
        let (at, len) = (band.start * l, band.len() * l);
        // SAFETY: each band owns its output rows; the two views are used one after the
        // other.
        let c = unsafe { out32.slice(at, len) };
        let b = Rows { data: b, ld: l };
        winograd::panel_product(u, (cout, l, k), band.clone(), b, c, l, &[]);
        let c = unsafe { out.slice(at, len) };
        for (co, chan) in band.zip(c.chunks_mut(l.max(1))) {
            epi.apply(co, co * l, chan);
        }
    });
    recycle(col);
    Some(y)
}

fn check_dtypes(op: &'static str, x: &Tensor, others: &[Option<&Tensor>]) -> Result<()> {
    for t in others.iter().flatten() {
        if t.dtype() != x.dtype() {
            return Err(Error::DType {
                op,
                expected: x.dtype(),
                got: t.dtype(),
            });
        }
    }
    Ok(())
}

/// Validates `x [n, cin, h, w]`, `weight [cout, cin/groups, kh, kw]` and `bias [cout]` for a
/// forward convolution and returns its geometry.
fn forward_geometry(
    op: &'static str,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: (usize, usize),
    pad: (usize, usize),
    dil: (usize, usize),
    groups: usize,
) -> Result<Geometry> {
    let shape_err = |expected: String, got: &Tensor| Error::UnexpectedShape {
        op,
        expected,
        got: got.shape().clone(),
    };
    if stride.0 == 0 || stride.1 == 0 || dil.0 == 0 || dil.1 == 0 || groups == 0 {
        return Err(Error::invalid(
            op,
            "stride, dilation and groups must be at least 1",
        ));
    }
    if x.rank() != 4 {
        return Err(shape_err(
            "an input of shape [batch, channels, height, width]".into(),
            x,
        ));
    }
    if weight.rank() != 4 {
        return Err(shape_err(
            "a weight of shape [out_channels, in_channels / groups, kh, kw]".into(),
            weight,
        ));
    }
    let (n, cin, h, w) = (x.dims()[0], x.dims()[1], x.dims()[2], x.dims()[3]);
    let (cout, cin_g, kh, kw) = (
        weight.dims()[0],
        weight.dims()[1],
        weight.dims()[2],
        weight.dims()[3],
    );
    if cin % groups != 0 || cout % groups != 0 {
        return Err(Error::invalid(
            op,
            format!("channels in ({cin}) and out ({cout}) must be divisible by groups ({groups})"),
        ));
    }
    if cin_g != cin / groups || kh == 0 || kw == 0 {
        return Err(shape_err(
            format!(
                "a weight of shape [{cout}, {}, kh, kw] for an input with {cin} channels",
                cin / groups
            ),
            weight,
        ));
    }
    if let Some(b) = bias {
        if b.dims() != [cout] {
            return Err(shape_err(format!("a bias of shape [{cout}]"), b));
        }
    }
    check_dtypes(op, x, &[Some(weight), bias])?;
    let (Some(oh), Some(ow)) = (
        out_size(h, kh, stride.0, pad.0, dil.0),
        out_size(w, kw, stride.1, pad.1, dil.1),
    ) else {
        return Err(Error::invalid(
            op,
            format!(
                "the kernel {kh}x{kw} (dilation {dil:?}) does not fit in the padded input {}",
                x.shape()
            ),
        ));
    };
    Ok(Geometry {
        n,
        cin,
        h,
        w,
        cout,
        kh,
        kw,
        oh,
        ow,
        stride,
        pad,
        dil,
        groups,
        prec: crate::autocast::current(),
    })
}

/// [`forward_geometry`] of a 2-D convolution with `cfg`'s stride, padding and dilation on
/// both axes ([`Tensor::conv2d`], [`Tensor::conv2d_affine`]).
fn square_geometry(
    op: &'static str,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    cfg: Conv2dConfig,
) -> Result<Geometry> {
    let (s, p, d) = (cfg.stride, cfg.padding, cfg.dilation);
    forward_geometry(op, x, weight, bias, (s, s), (p, p), (d, d), cfg.groups)
}

impl Tensor {
    /// 2-D convolution (cross-correlation, as in PyTorch).
    ///
    /// `self` is `[n, c_in, h, w]`; `weight` is `[c_out, c_in / groups, kh, kw]`; `bias` is
    /// `[c_out]`; the output is `[n, c_out, (h + 2p - d(kh - 1) - 1) / s + 1, ...]`.
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] when ranks or channel counts do not fit;
    /// [`Error::InvalidArgument`] for zero strides or a kernel larger than the padded input.
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        cfg: Conv2dConfig,
    ) -> Result<Tensor> {
        super::check_devices("conv2d", self, &[Some(weight), bias])?;
        crate::ops::half::half_via_f32!("conv2d", self, (self, weight, bias), |(x, w, b)| x
            .conv2d(&w, b.as_ref(), cfg));
        let g = square_geometry("conv2d", self, weight, bias, cfg)?;
        self.conv_with_geometry(weight, bias, g)
    }

    /// `conv2d(self, weight, bias)` followed by a per-output-channel affine map, an optional
    /// residual and an optional ReLU: `y[:, c] = relu?(conv[:, c]·scale[c] + shift[c]
    /// (+ residual[:, c]))`. This is how evaluation-mode batch norm folds into the
    /// convolution before it (`scale = γ/√(σ² + eps)`, `shift = β − μ·scale`), and a ResNet
    /// block's shortcut with it.
    ///
    /// Without gradient recording the map runs in the convolution's own output pass where
    /// the kernel allows it (Winograd) and in one pass over the fresh output otherwise,
    /// instead of one pass (and one tensor) per op. With recording it is the same chain of
    /// differentiable ops (`mul`, `add`, `relu`), so gradients flow as usual.
    ///
    /// # Errors
    /// As [`Tensor::conv2d`]; [`Error::UnexpectedShape`] when `scale` or `shift` is not
    /// `[c_out]` or the residual is not of the output's shape, and [`Error::DType`] when
    /// their type differs from `self`'s.
    pub fn conv2d_affine(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        cfg: Conv2dConfig,
        affine: ChannelAffine,
    ) -> Result<Tensor> {
        super::check_devices(
            "conv2d_affine",
            self,
            &[
                Some(weight),
                bias,
                Some(affine.scale),
                Some(affine.shift),
                affine.residual,
            ],
        )?;
        crate::ops::half::half_via_f32!(
            "conv2d_affine",
            self,
            (
                self,
                weight,
                bias,
                affine.scale,
                affine.shift,
                affine.residual
            ),
            |(x, w, b, scale, shift, residual)| {
                let affine = ChannelAffine {
                    scale: &scale,
                    shift: &shift,
                    residual: residual.as_ref(),
                    relu: affine.relu,
                };
                x.conv2d_affine(&w, b.as_ref(), cfg, affine)
            }
        );
        let op = "conv2d_affine";
        let g = square_geometry(op, self, weight, bias, cfg)?;
        check_dtypes(
            op,
            self,
            &[Some(affine.scale), Some(affine.shift), affine.residual],
        )?;
        for t in [affine.scale, affine.shift] {
            if t.dims() != [g.cout] {
                return Err(Error::UnexpectedShape {
                    op,
                    expected: format!("scale and shift of [{}] (one per output channel)", g.cout),
                    got: t.shape().clone(),
                });
            }
        }
        let out_dims = [g.n, g.cout, g.oh, g.ow];
        if let Some(r) = affine.residual {
            if r.dims() != out_dims {
                return Err(Error::UnexpectedShape {
                    op,
                    expected: format!("a residual of the output's shape {out_dims:?}"),
                    got: r.shape().clone(),
                });
            }
        }
        let mut inputs = vec![self, weight, affine.scale, affine.shift];
        inputs.extend(bias);
        inputs.extend(affine.residual);
        if crate::autograd::records(&inputs) {
            let per_channel = [1, g.cout, 1, 1];
            let mut y = self
                .conv_with_geometry(weight, bias, g)?
                .mul(&affine.scale.reshape(&per_channel)?)?
                .add(&affine.shift.reshape(&per_channel)?)?;
            if let Some(r) = affine.residual {
                y = y.add(r)?;
            }
            return if affine.relu { y.relu() } else { Ok(y) };
        }
        crate::macs::add_macs(g.macs());
        with_float!(self.dtype(), op, T => {
            let y = self.with_contiguous::<T, _>(op, |xv| {
                weight.with_contiguous::<T, _>(op, |wv| {
                    with_opt::<T, _>(bias, op, |bv| {
                        affine.scale.with_contiguous::<T, _>(op, |sv| {
                            affine.shift.with_contiguous::<T, _>(op, |tv| {
                              with_opt::<T, _>(affine.residual, op, |rv| {
                                // The bias goes through the scale too.
                                let shift: Vec<T> = match bv {
                                    Some(b) => tv.iter().zip(sv).zip(b).map(|((&t, &s), &b)| b * s + t).collect(),
                                    None => tv.to_vec(),
                                };
                                let epi = Epilogue {
                                    scale: Some(sv),
                                    shift: Some(&shift),
                                    residual: rv,
                                    relu: affine.relu,
                                };
                                if let Some(y) = cached_forward(weight, xv, wv, epi, &g) {
                                    return y;
                                }
                                let mut y = conv_forward(xv, wv, None, &g);
                                apply_epilogue(&mut y, &epi, &g);
                                y
                              })
                            })
                        })
                    })
                })
            })??????;
            Ok(Tensor::from_data(y, Shape(out_dims.to_vec())))
        })
    }

    fn conv_with_geometry(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        g: Geometry,
    ) -> Result<Tensor> {
        crate::macs::add_macs(g.macs());
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        let recording = crate::autograd::records(&inputs);
        if !recording {
            if let Some(y) = cached_inference(self, weight, bias, &g)? {
                return Ok(y);
            }
        }
        if recording {
            winograd_cache::drop_stale();
        }
        let keep = recording && weight.tracks_grad() && g.keeps_patches();
        let kernel = if keep {
            Kernel::ForwardKeepingPatches
        } else {
            Kernel::Forward
        };
        let (y, patches) = run(kernel, &g, self, Some(weight), bias, "conv2d")?;
        let chunk = patches.as_ref().map(|_| plan_chunks(&g).0);
        Ok(y.record(
            rule("ConvolutionBackward", move |x, _, dy| {
                let dx = if x[0].tracks_grad() {
                    Some(run(Kernel::BackwardData, &g, dy, Some(&x[1]), None, "conv2d")?.0)
                } else {
                    None
                };
                let dw = if x[1].tracks_grad() {
                    Some(
                        run(
                            Kernel::BackwardWeight(chunk),
                            &g,
                            &x[0],
                            Some(dy),
                            patches.as_ref(),
                            "conv2d",
                        )?
                        .0,
                    )
                } else {
                    None
                };
                let mut grads = vec![dx, dw];
                if x.len() == 3 {
                    grads.push(if x[2].tracks_grad() {
                        Some(run(Kernel::Bias, &g, dy, None, None, "conv2d")?.0)
                    } else {
                        None
                    });
                }
                Ok(grads)
            }),
            &inputs,
        ))
    }

    /// 1-D convolution: `self` is `[n, c_in, l]`, `weight` `[c_out, c_in / groups, k]`,
    /// `bias` `[c_out]`; the output is `[n, c_out, (l + 2p - d(k - 1) - 1) / s + 1]`.
    pub fn conv1d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        cfg: Conv2dConfig,
    ) -> Result<Tensor> {
        super::check_devices("conv1d", self, &[Some(weight), bias])?;
        crate::ops::half::half_via_f32!("conv1d", self, (self, weight, bias), |(x, w, b)| x
            .conv1d(&w, b.as_ref(), cfg));
        let shape_err = |what: &str, t: &Tensor| Error::UnexpectedShape {
            op: "conv1d",
            expected: what.into(),
            got: t.shape().clone(),
        };
        if self.rank() != 3 {
            return Err(shape_err(
                "an input of shape [batch, channels, length]",
                self,
            ));
        }
        if weight.rank() != 3 {
            return Err(shape_err(
                "a weight of shape [out_channels, in_channels / groups, k]",
                weight,
            ));
        }
        let (x4, w4) = (self.unsqueeze(2)?, weight.unsqueeze(2)?);
        let (s, p, d) = (cfg.stride, cfg.padding, cfg.dilation);
        let g = forward_geometry("conv1d", &x4, &w4, bias, (1, s), (0, p), (1, d), cfg.groups)?;
        x4.conv_with_geometry(&w4, bias, g)?.squeeze(2)
    }

    /// 2-D transposed convolution (the gradient of `conv2d` with respect to its input, run
    /// forward; "deconvolution").
    ///
    /// `self` is `[n, c_in, h, w]`; `weight` is `[c_in, c_out / groups, kh, kw]` (PyTorch's
    /// layout); the output is `[n, c_out, (h - 1)s - 2p + d(kh - 1) + output_padding + 1, ...]`.
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        cfg: ConvTranspose2dConfig,
    ) -> Result<Tensor> {
        super::check_devices("conv_transpose2d", self, &[Some(weight), bias])?;
        crate::ops::half::half_via_f32!(
            "conv_transpose2d",
            self,
            (self, weight, bias),
            |(x, w, b)| x.conv_transpose2d(&w, b.as_ref(), cfg)
        );
        let op = "conv_transpose2d";
        let shape_err = |what: String, t: &Tensor| Error::UnexpectedShape {
            op,
            expected: what,
            got: t.shape().clone(),
        };
        let (s, p, d, groups) = (cfg.stride, cfg.padding, cfg.dilation, cfg.groups);
        if s == 0 || d == 0 || groups == 0 {
            return Err(Error::invalid(
                op,
                "stride, dilation and groups must be at least 1",
            ));
        }
        if cfg.output_padding >= s.max(d) {
            return Err(Error::invalid(
                op,
                format!(
                    "output_padding {} must be smaller than stride or dilation",
                    cfg.output_padding
                ),
            ));
        }
        if self.rank() != 4 || weight.rank() != 4 {
            return Err(shape_err(
                "an input [n, c_in, h, w] and a weight [c_in, c_out / groups, kh, kw]".into(),
                if self.rank() != 4 { self } else { weight },
            ));
        }
        let (n, cin_t, h, w) = (
            self.dims()[0],
            self.dims()[1],
            self.dims()[2],
            self.dims()[3],
        );
        let (wc0, cout_g, kh, kw) = (
            weight.dims()[0],
            weight.dims()[1],
            weight.dims()[2],
            weight.dims()[3],
        );
        if wc0 != cin_t || cin_t % groups != 0 {
            return Err(shape_err(
                format!("a weight with {cin_t} input channels divisible by groups {groups}"),
                weight,
            ));
        }
        let cout = cout_g * groups;
        if let Some(b) = bias {
            if b.dims() != [cout] {
                return Err(shape_err(format!("a bias of shape [{cout}]"), b));
            }
        }
        check_dtypes(op, self, &[Some(weight), bias])?;
        let size = |i: usize, k: usize| {
            ((i as isize - 1) * s as isize - 2 * p as isize
                + (d * (k - 1)) as isize
                + cfg.output_padding as isize
                + 1)
            .max(0) as usize
        };
        let (oh, ow) = (size(h, kh), size(w, kw));
        // The convolution this op transposes maps [n, cout, oh, ow] to [n, cin_t, h, w].
        let g = Geometry {
            n,
            cin: cout,
            h: oh,
            w: ow,
            cout: cin_t,
            kh,
            kw,
            oh: h,
            ow: w,
            stride: (s, s),
            pad: (p, p),
            dil: (d, d),
            groups,
            prec: crate::autocast::current(),
        };
        if out_size(oh, kh, s, p, d) != Some(h) || out_size(ow, kw, s, p, d) != Some(w) {
            return Err(Error::invalid(
                op,
                format!(
                    "input {} does not fit kernel {kh}x{kw} with stride {s}, padding {p}",
                    self.shape()
                ),
            ));
        }
        crate::macs::add_macs(g.macs());
        let mut y = run(Kernel::BackwardData, &g, self, Some(weight), None, op)?.0;
        if let Some(b) = bias {
            y = y.add(&b.detach().reshape(&[1, cout, 1, 1])?)?.detach();
        }
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(y.record(
            rule("ConvTransposeBackward", move |x, _, dy| {
                let dx = if x[0].tracks_grad() {
                    Some(run(Kernel::Forward, &g, dy, Some(&x[1]), None, op)?.0)
                } else {
                    None
                };
                let dw = if x[1].tracks_grad() {
                    Some(run(Kernel::BackwardWeight(None), &g, dy, Some(&x[0]), None, op)?.0)
                } else {
                    None
                };
                let mut grads = vec![dx, dw];
                if x.len() == 3 {
                    grads.push(if x[2].tracks_grad() {
                        Some(dy.sum(&[0, 2, 3])?)
                    } else {
                        None
                    });
                }
                Ok(grads)
            }),
            &inputs,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};

    fn cfg(stride: usize, padding: usize, dilation: usize, groups: usize) -> Conv2dConfig {
        Conv2dConfig {
            stride,
            padding,
            dilation,
            groups,
        }
    }

    #[test]
    fn conv2d_matches_a_hand_computed_case() -> Result<()> {
        // x = 1..16 as a 4x4 image, 2x2 kernel [[1,0],[0,-1]]: y[i,j] = x[i,j] - x[i+1,j+1] = -5
        let x = tensor(
            &(1..=16).map(|v| v as f64).collect::<Vec<_>>(),
            &[1, 1, 4, 4],
        )?;
        let w = tensor(&[1.0, 0.0, 0.0, -1.0], &[1, 1, 2, 2])?;
        let b = tensor(&[0.5], &[1])?;
        assert_close(&x.conv2d(&w, Some(&b), cfg(1, 0, 1, 1))?, &[-4.5; 9], 0.0)?;
        // stride 2, padding 1: windows at rows/cols -1, 1, 3; y = x[r,c] - x[r+1,c+1]
        let y = x.conv2d(&w, None, cfg(2, 1, 1, 1))?;
        assert_eq!(y.dims(), &[1, 1, 3, 3]);
        assert_close(
            &y,
            &[-1.0, -3.0, 0.0, -9.0, -5.0, 8.0, 0.0, 14.0, 16.0],
            0.0,
        )
    }

    #[test]
    fn conv2d_kernel_wider_than_a_1x1_image_sees_only_its_centre_tap() -> Result<()> {
        // A 5×5 kernel with padding 2 on a 1×1 image (GoogLeNet's 5×5 branch on its last
        // 1×1 maps): only the centre tap meets the pixel, y = 2·w[2][2] = 2·12 = 24.
        let x = tensor(&[2.0], &[1, 1, 1, 1])?;
        let w = tensor(
            &(0..25).map(|v| v as f64).collect::<Vec<_>>(),
            &[1, 1, 5, 5],
        )?;
        assert_close(&x.conv2d(&w, None, cfg(1, 2, 1, 1))?, &[24.0], 0.0)?;
        gradcheck(&[&[1, 2, 1, 1], &[3, 2, 5, 5]], |xs| {
            xs[0].conv2d(&xs[1], None, cfg(1, 2, 1, 1))
        })
    }

    #[test]
    fn conv2d_rejects_bad_shapes() -> Result<()> {
        let x = tensor(&[0.0; 16], &[1, 1, 4, 4])?;
        assert!(x
            .conv2d(&tensor(&[0.0; 8], &[1, 2, 2, 2])?, None, cfg(1, 0, 1, 1))
            .is_err());
        assert!(x
            .conv2d(&tensor(&[0.0; 25], &[1, 1, 5, 5])?, None, cfg(1, 0, 1, 1))
            .is_err());
        assert!(x
            .conv2d(&tensor(&[0.0; 4], &[1, 1, 2, 2])?, None, cfg(0, 0, 1, 1))
            .is_err());
        assert!(x
            .reshape(&[4, 4])?
            .conv2d(&tensor(&[0.0; 4], &[1, 1, 2, 2])?, None, cfg(1, 0, 1, 1))
            .is_err());
        Ok(())
    }

    #[test]
    fn conv_transpose2d_is_the_adjoint_of_conv2d() -> Result<()> {
        // <conv(x), y> = <x, conv_transpose(y)> for every x, y.
        crate::manual_seed(3);
        let x = Tensor::randn(&[2, 4, 7, 7], crate::DType::F64, &crate::Device::Cpu)?;
        let w = Tensor::randn(&[6, 2, 3, 3], crate::DType::F64, &crate::Device::Cpu)?;
        let c = x.conv2d(&w, None, cfg(2, 1, 1, 2))?;
        let y = Tensor::randn(c.dims(), crate::DType::F64, &crate::Device::Cpu)?;
        let t = y.conv_transpose2d(
            &w,
            None,
            ConvTranspose2dConfig {
                stride: 2,
                padding: 1,
                groups: 2,
                ..Default::default()
            },
        )?;
        assert_eq!(t.dims(), x.dims());
        let lhs = c.mul(&y)?.sum_all()?.to_scalar::<f64>()?;
        let rhs = x.mul(&t)?.sum_all()?.to_scalar::<f64>()?;
        assert!(
            (lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
        Ok(())
    }

    #[test]
    fn conv2d_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[2, 2, 5, 5], &[3, 2, 3, 3], &[3]], |x| {
            x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 0, 1, 1))
        })?;
        gradcheck(&[&[1, 2, 6, 5], &[2, 2, 3, 2]], |x| {
            x[0].conv2d(&x[1], None, cfg(2, 1, 1, 1))
        })?;
        gradcheck(&[&[1, 1, 7, 7], &[2, 1, 3, 3]], |x| {
            x[0].conv2d(&x[1], None, cfg(1, 2, 2, 1))
        })?;
        gradcheck(&[&[2, 4, 4, 4], &[6, 2, 3, 3], &[6]], |x| {
            x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 1, 1, 2))
        })?;
        gradcheck(&[&[2, 3, 3, 3], &[4, 3, 1, 1]], |x| {
            x[0].conv2d(&x[1], None, cfg(1, 0, 1, 1))
        })?;
        let nc = GradcheckOpts {
            non_contiguous: true,
            ..Default::default()
        };
        gradcheck_with(&[&[1, 2, 4, 4], &[2, 2, 2, 2]], nc, |x| {
            x[0].conv2d(&x[1], None, cfg(1, 1, 1, 1))
        })
    }

    #[test]
    fn batched_chunks_agree_with_one_image_at_a_time() -> Result<()> {
        // A batch larger than the thread count is processed in chunks of several images per
        // GEMM; each image's result must equal convolving it alone.
        crate::manual_seed(9);
        let dev = crate::Device::Cpu;
        let x = Tensor::randn(&[7, 4, 6, 5], crate::DType::F64, &dev)?;
        let w = Tensor::randn(&[6, 2, 3, 3], crate::DType::F64, &dev)?;
        let b = Tensor::randn(&[6], crate::DType::F64, &dev)?;
        let c = cfg(2, 1, 1, 2);
        let all = x.conv2d(&w, Some(&b), c)?;
        for i in 0..7 {
            let one = x.narrow(0, i, 1)?.conv2d(&w, Some(&b), c)?;
            assert_close(&all.narrow(0, i, 1)?, &one.to_vec::<f64>()?, 1e-12)?;
        }
        gradcheck(&[&[5, 2, 4, 4], &[3, 2, 3, 3], &[3]], |x| {
            x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 1, 1, 1))
        })?;
        gradcheck(&[&[5, 4, 3, 3], &[2, 4, 1, 1]], |x| {
            x[0].conv2d(&x[1], None, cfg(1, 0, 1, 1))
        })?;
        // Grouped convolution with several images per chunk (AlexNet's two towers).
        gradcheck(&[&[5, 4, 5, 5], &[6, 2, 3, 3], &[6]], |x| {
            x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 1, 1, 2))
        })?;
        // A large kernel with a large stride and padding (AlexNet's first layer, scaled down).
        gradcheck(&[&[3, 2, 13, 13], &[2, 2, 5, 5]], |x| {
            x[0].conv2d(&x[1], None, cfg(4, 2, 1, 1))
        })
    }

    /// Asserts `|a[i] − b[i]| < tol·(1 + |b[i]|)` for every element, naming `case` and `i`
    /// when one is not.
    fn assert_slices_close<T: Float + std::fmt::Display>(
        a: &[T],
        b: &[T],
        tol: f64,
        case: &dyn std::fmt::Debug,
    ) {
        assert_eq!(a.len(), b.len());
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            let (pf, qf) = (p.to_f64(), q.to_f64());
            assert!(
                (pf - qf).abs() < tol * (1.0 + qf.abs()),
                "{case:?} [{i}] {p} vs {q}"
            );
        }
    }

    /// The direct f32 kernels against im2col: LeNet-5's conv2, padding, 32 and 64 channels,
    /// pixel and tap counts that are no multiple of the register block, batch 1 (one task
    /// per channel block), strides 2 and 3 (ResNet's stem, scaled down), unequal strides.
    #[test]
    fn direct_kernels_agree_with_im2col() -> Result<()> {
        if !conv_direct::Plan::supported() {
            return Ok(());
        }
        crate::manual_seed(13);
        let dev = crate::Device::Cpu;
        // (input dims, cout, kernel, padding, stride)
        let cases = [
            ([5, 6, 14, 14], 16, 5, 1, (1, 1)),
            ([2, 3, 9, 7], 32, 3, 1, (1, 1)),
            ([1, 2, 6, 5], 16, 2, 0, (1, 1)),
            ([3, 7, 5, 6], 16, 3, 0, (1, 1)),
            ([3, 3, 23, 21], 64, 7, 3, (2, 2)),
            ([1, 3, 16, 17], 48, 7, 3, (2, 2)),
            ([2, 4, 13, 11], 16, 4, 1, (3, 2)),
        ];
        for (xs, cout, k, pad, stride) in cases {
            let x = Tensor::randn(&xs, crate::DType::F32, &dev)?;
            let w = Tensor::randn(&[cout, xs[1], k, k], crate::DType::F32, &dev)?;
            let b = Tensor::randn(&[cout], crate::DType::F32, &dev)?;
            let g = forward_geometry("conv2d", &x, &w, Some(&b), stride, (pad, pad), (1, 1), 1)?;
            assert!(g.direct().is_some() && !g.keeps_patches(), "{xs:?}");
            let (xv, wv, bv) = (x.to_vec::<f32>()?, w.to_vec::<f32>()?, b.to_vec::<f32>()?);
            let close = |a: &[f32], b: &[f32]| assert_slices_close(a, b, 1e-4, &xs);
            close(
                &conv_forward(&xv, &wv, Some(&bv), &g),
                &im2col_forward(&xv, &wv, Some(&bv), &g, None, None),
            );
            let dy: Vec<f32> =
                Tensor::randn(&[xs[0], cout, g.oh, g.ow], crate::DType::F32, &dev)?.to_vec()?;
            close(
                &conv_backward_weight(&xv, &dy, &g, None),
                &im2col_backward_weight(&xv, &dy, &g, None),
            );
        }
        Ok(())
    }

    /// Strided kernels wider than the stride take im2col's phase-split path: against a
    /// naive sum (ResNet's 7×7 stride-2 stem, scaled down; stride 3 with dilation 2; groups).
    #[test]
    fn strided_wide_kernels_match_a_naive_sum() -> Result<()> {
        crate::manual_seed(3);
        let dev = crate::Device::Cpu;
        // (input dims, cout, k, stride, padding, dilation, groups)
        let cases = [
            ([2, 3, 17, 19], 4, 7, 2, 3, 1, 1),
            ([1, 2, 16, 15], 3, 5, 3, 1, 2, 1),
            ([1, 4, 11, 12], 4, 3, 2, 0, 1, 2),
        ];
        for (xs, cout, k, st, pad, dil, groups) in cases {
            let x = Tensor::randn(&xs, crate::DType::F64, &dev)?;
            let cin_g = xs[1] / groups;
            let w = Tensor::randn(&[cout, cin_g, k, k], crate::DType::F64, &dev)?;
            let y = x.conv2d(&w, None, cfg(st, pad, dil, groups))?;
            let (xv, wv) = (x.to_vec::<f64>()?, w.to_vec::<f64>()?);
            let (oh, ow) = (y.dims()[2], y.dims()[3]);
            let mut want = vec![0.0; xs[0] * cout * oh * ow];
            for (i, v) in want.iter_mut().enumerate() {
                let (n, co, oy, ox) = (
                    i / (cout * oh * ow),
                    i / (oh * ow) % cout,
                    i / ow % oh,
                    i % ow,
                );
                let grp = co / (cout / groups);
                for c in 0..cin_g {
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (oy * st + ky * dil) as isize - pad as isize;
                            let ix = (ox * st + kx * dil) as isize - pad as isize;
                            if iy < 0 || ix < 0 || iy >= xs[2] as isize || ix >= xs[3] as isize {
                                continue;
                            }
                            let xi = ((n * xs[1] + grp * cin_g + c) * xs[2] + iy as usize) * xs[3]
                                + ix as usize;
                            *v += xv[xi] * wv[((co * cin_g + c) * k + ky) * k + kx];
                        }
                    }
                }
            }
            assert_close(&y, &want, 1e-12)?;
        }
        Ok(())
    }

    /// Inference takes cached weight transforms: the result equals the recorded (uncached)
    /// path's, and stays right after the weight is written in place (a stale transform would
    /// give the old result) and for a second model of the same shape.
    #[test]
    fn cached_winograd_weights_follow_writes_to_the_weight() -> Result<()> {
        crate::manual_seed(9);
        let dev = crate::Device::Cpu;
        let x = Tensor::randn(&[1, 16, 12, 12], crate::DType::F32, &dev)?;
        let w = Tensor::randn(&[16, 16, 3, 3], crate::DType::F32, &dev)?.requires_grad();
        let c = cfg(1, 1, 1, 1);
        let g = forward_geometry("conv2d", &x, &w, None, (1, 1), (1, 1), (1, 1), 1)?;
        assert!(g.winograd_inference().is_some());
        let recorded = |w: &Tensor| x.conv2d(w, None, c)?.detach().to_vec::<f64>();
        let inferred = |w: &Tensor| crate::no_grad(|| x.conv2d(w, None, c))?.to_vec::<f64>();
        for _ in 0..2 {
            assert_close(
                &Tensor::from_vec(inferred(&w)?, &[2304], &dev)?,
                &recorded(&w)?,
                1e-5,
            )?;
        }
        w.update_data::<f32>(|v| v.iter_mut().for_each(|e| *e = -*e * 0.5))?;
        assert_close(
            &Tensor::from_vec(inferred(&w)?, &[2304], &dev)?,
            &recorded(&w)?,
            1e-5,
        )?;
        let w2 = Tensor::randn(&[16, 16, 3, 3], crate::DType::F32, &dev)?;
        assert_close(
            &Tensor::from_vec(inferred(&w2)?, &[2304], &dev)?,
            &recorded(&w2.requires_grad())?,
            1e-5,
        )?;
        Ok(())
    }

    /// The Winograd forward, input-gradient and weight-gradient kernels against the im2col ones, on shapes
    /// with cut-off tiles (odd outputs), paddings 0 to 2, channel counts that are no
    /// multiple of a vector, and batch 1.
    #[test]
    fn winograd_agrees_with_im2col() -> Result<()> {
        crate::manual_seed(5);
        let dev = crate::Device::Cpu;
        let cases = [
            ([1, 17, 7, 7], 16, 1),
            ([3, 16, 6, 9], 19, 0),
            ([2, 16, 5, 5], 16, 2),
            ([1, 20, 2, 3], 18, 1),
            ([2, 33, 12, 11], 17, 1),
            ([4, 16, 10, 10], 16, 1),
        ];
        // Single images of up to 64 tiles (the first and fourth cases) run as one block whose
        // products are split by output channel; the others as one block per task.
        for (xs, cout, pad) in cases {
            let x = Tensor::randn(&xs, crate::DType::F64, &dev)?;
            let w = Tensor::randn(&[cout, xs[1], 3, 3], crate::DType::F64, &dev)?;
            let b = Tensor::randn(&[cout], crate::DType::F64, &dev)?;
            let g = forward_geometry("conv2d", &x, &w, Some(&b), (1, 1), (pad, pad), (1, 1), 1)?;
            assert!(g.winograd().is_some(), "{xs:?} {cout} {pad}");
            let (xv, wv, bv) = (x.to_vec::<f64>()?, w.to_vec::<f64>()?, b.to_vec::<f64>()?);
            let y = conv_forward(&xv, &wv, Some(&bv), &g);
            let y_ref = im2col_forward(&xv, &wv, Some(&bv), &g, None, None);
            let close = |a: &[f64], b: &[f64]| assert_slices_close(a, b, 1e-12, &xs);
            close(&y, &y_ref);
            let dy: Vec<f64> =
                Tensor::randn(&[xs[0], cout, g.oh, g.ow], crate::DType::F64, &dev)?.to_vec()?;
            close(
                &conv_backward_data(&dy, &wv, &g),
                &im2col_backward_data(&dy, &wv, &g),
            );
            close(
                &conv_backward_weight(&xv, &dy, &g, None),
                &im2col_backward_weight(&xv, &dy, &g, None),
            );
        }
        // The gradients of a convolution on the Winograd path.
        gradcheck(&[&[2, 16, 4, 5], &[16, 16, 3, 3], &[16]], |x| {
            x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 1, 1, 1))
        })
    }

    /// Single f32 images on the Winograd path: with AVX-512 and two threads or more, their
    /// products run in `cpu::skinny` (16, 49 and 64 tiles; output channels that split
    /// unevenly between the threads).
    #[test]
    fn single_image_winograd_in_f32_agrees_with_im2col() -> Result<()> {
        crate::manual_seed(17);
        let dev = crate::Device::Cpu;
        for (side, cin, cout) in [(7, 32, 40), (13, 16, 19), (16, 24, 16)] {
            let x = Tensor::randn(&[1, cin, side, side], crate::DType::F32, &dev)?;
            let w = Tensor::randn(&[cout, cin, 3, 3], crate::DType::F32, &dev)?;
            let g = forward_geometry("conv2d", &x, &w, None, (1, 1), (1, 1), (1, 1), 1)?;
            assert!(g.winograd().is_some());
            let (xv, wv) = (x.to_vec::<f32>()?, w.to_vec::<f32>()?);
            assert_slices_close(
                &conv_forward(&xv, &wv, None, &g),
                &im2col_forward(&xv, &wv, None, &g, None, None),
                1e-4,
                &(side, cin, cout),
            );
        }
        Ok(())
    }

    /// A single image's patch matrix built by several threads, each taking a range of
    /// channels (the last one shorter), equals the one built by one thread: stride 2 with
    /// the column phases split per range, stride 1, and 5×5 taps with padding 2.
    #[test]
    fn patches_built_in_parallel_equal_serial_ones() -> Result<()> {
        crate::manual_seed(31);
        let dev = crate::Device::Cpu;
        let pool = crate::testing::pool(3);
        for (xs, k, stride, pad) in [
            ([1, 5, 80, 80], 3, 2, 1),
            ([1, 7, 41, 39], 3, 1, 1),
            ([1, 4, 64, 64], 5, 2, 2),
        ] {
            let x = Tensor::randn(&xs, crate::DType::F32, &dev)?;
            let w = Tensor::randn(&[8, xs[1], k, k], crate::DType::F32, &dev)?;
            let g = forward_geometry(
                "conv2d",
                &x,
                &w,
                None,
                (stride, stride),
                (pad, pad),
                (1, 1),
                1,
            )?;
            assert!(g.k() * g.l() >= PAR_IM2COL_MIN, "{xs:?}");
            let xv = x.to_vec::<f32>()?;
            let build = |par: bool| {
                let mut col = vec![f32::NAN; g.k() * g.l()];
                pool.install(|| chunk_patches(&xv, &g, 0, 0, 1, &mut col, par));
                col
            };
            let (serial, parallel) = (build(false), build(true));
            assert!(serial.iter().all(|v| !v.is_nan()), "{xs:?}");
            assert_eq!(serial, parallel, "{xs:?}");
        }
        Ok(())
    }

    /// F(4×4, 3×3) against im2col, in f64 and f32: cut-off tiles (outputs no multiple of 4,
    /// one tile row or column cut to 1 or 2), paddings 0 to 2, blocks of several images and
    /// blocks of tile rows (the 30×29 and 56×56 images), and single images of at most 64
    /// tiles whose f32 products split by output channel (`cpu::skinny`).
    #[test]
    fn winograd_f4_agrees_with_im2col() -> Result<()> {
        fn check<T: Float + std::fmt::Display>(dtype: crate::DType, tol: f64) -> Result<()> {
            let dev = crate::Device::Cpu;
            let cases = [
                ([1, 17, 7, 7], 16, 1),
                ([3, 16, 6, 9], 19, 0),
                ([2, 16, 5, 5], 16, 2),
                ([1, 20, 2, 3], 18, 1),
                ([2, 33, 30, 29], 17, 1),
                ([1, 16, 56, 56], 16, 1),
                ([1, 24, 28, 28], 40, 1),
                ([4, 16, 10, 10], 16, 1),
            ];
            for (xs, cout, pad) in cases {
                let x = Tensor::randn(&xs, dtype, &dev)?;
                let w = Tensor::randn(&[cout, xs[1], 3, 3], dtype, &dev)?;
                let b = Tensor::randn(&[cout], dtype, &dev)?;
                let g =
                    forward_geometry("conv2d", &x, &w, Some(&b), (1, 1), (pad, pad), (1, 1), 1)?;
                let plan = winograd::Plan {
                    tile: winograd::Tile::F4,
                    ..g.winograd().expect("a Winograd shape")
                };
                let (xv, wv, bv) = (x.to_vec::<T>()?, w.to_vec::<T>()?, b.to_vec::<T>()?);
                let u = transform_weights_f4(&wv, cout, xs[1]);
                let y = conv3x3(&xv, Weights::Forward(&u), Epilogue::bias(Some(&bv)), &plan);
                let want = im2col_forward(&xv, &wv, Some(&bv), &g, None, None);
                // Errors against the outputs' scale: a value near 0 carries the rounding of
                // its large terms.
                let scale = want.iter().fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
                assert_eq!(y.len(), want.len());
                for (i, (a, b)) in y.iter().zip(&want).enumerate() {
                    let err = (a.to_f64() - b.to_f64()).abs();
                    assert!(
                        err <= tol * scale,
                        "{:?} [{i}] {a} vs {b}",
                        (xs, cout, pad, dtype)
                    );
                }
            }
            Ok(())
        }
        crate::manual_seed(23);
        check::<f64>(crate::DType::F64, 1e-13)?;
        // Sums of 150–300 products of unit normals: F(4×4)'s f32 rounding reaches about 5e-6
        // of the largest output (2e-4 of 0.025 in a 33-channel layer whose outputs reach 50).
        check::<f32>(crate::DType::F32, 3e-5)
    }

    /// Single f32 images read `U` in panels of 64 output channels on the inference path
    /// (with AVX-512): against the recorded path, with bands of output channels that cross
    /// panels (200 channels on 2 and 3 threads) and a last panel narrower than 64, in
    /// F(2×2) (7×7 outputs, 16 tiles: column blocks of 6, 6 and 4; 13×13, 49 tiles) and
    /// F(4×4) (28×28, 49 tiles; 40×40, 100 tiles in a block per thread).
    #[test]
    fn inference_with_weight_panels_agrees_with_the_recorded_path() -> Result<()> {
        crate::manual_seed(37);
        let dev = crate::Device::Cpu;
        let c = cfg(1, 1, 1, 1);
        for threads in [2, 3] {
            let pool = crate::testing::pool(threads);
            for (side, cin, cout) in [(13, 24, 200), (28, 16, 72), (7, 32, 40), (40, 16, 72)] {
                let x = Tensor::randn(&[1, cin, side, side], crate::DType::F32, &dev)?;
                let w = Tensor::randn(&[cout, cin, 3, 3], crate::DType::F32, &dev)?;
                let want = x.conv2d(&w.clone().requires_grad(), None, c)?.detach();
                let y = pool.install(|| crate::no_grad(|| x.conv2d(&w, None, c)))?;
                // F(4×4)'s rounding grows with the outputs' scale (up to 40 here).
                let want = want.to_vec::<f64>()?;
                let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert_close(&y, &want, 1e-4f64.max(1e-5 * scale))?;
                let g = forward_geometry("conv2d", &x, &w, None, (1, 1), (1, 1), (1, 1), 1)?;
                let plan = g.winograd_inference().expect("a Winograd shape");
                let panels = pool.install(|| winograd::wants_panel_weights::<f32>(&plan));
                assert_eq!(panels, crate::cpu::skinny::supported(), "{side}");
            }
        }
        Ok(())
    }

    /// One image's inference through weight panels ([`panel_inference`]) where the output
    /// has fewer than [`PANELS_MAX_PIXELS`] pixels, against the recorded path: 3×3 stride 2
    /// and 1×1 stride 2 with bands that cross panels (200 channels on 2 and 3 threads), and a
    /// weight that is a transposed view (transformed afresh, not cached under the storage of
    /// another layout). Larger outputs keep im2col and `gemm`.
    #[test]
    fn one_image_inference_takes_weight_panels_below_its_pixel_bound() -> Result<()> {
        crate::manual_seed(53);
        let dev = crate::Device::Cpu;
        let f32_ = crate::DType::F32;
        for threads in [2, 3] {
            let pool = crate::testing::pool(threads);
            for (side, cin, cout, k, pad) in [(15, 24, 200, 3, 1), (14, 32, 200, 1, 0)] {
                let c = cfg(2, pad, 1, 1);
                let x = Tensor::randn(&[1, cin, side, side], f32_, &dev)?;
                let w = Tensor::randn(&[cout, cin, k, k], f32_, &dev)?;
                let view = w.transpose(0, 1)?.contiguous()?.transpose(0, 1)?;
                assert!(!view.is_contiguous());
                let want = x.conv2d(&w.clone().requires_grad(), None, c)?.detach();
                for w in [&w, &view, &w] {
                    let y = pool.install(|| crate::no_grad(|| x.conv2d(w, None, c)))?;
                    assert_close(&y, &want.to_vec::<f64>()?, 1e-4)?;
                }
                let g = forward_geometry("conv2d", &x, &w, None, (2, 2), (pad, pad), (1, 1), 1)?;
                assert_eq!(g.panels_inference(f32_), skinny::supported());
                assert!(!g.panels_inference(crate::DType::F64));
            }
        }
        let x = Tensor::randn(&[1, 16, 56, 56], f32_, &dev)?;
        let w = Tensor::randn(&[32, 16, 3, 3], f32_, &dev)?;
        let g = forward_geometry("conv2d", &x, &w, None, (2, 2), (1, 1), (1, 1), 1)?;
        assert!(g.l() >= PANELS_MAX_PIXELS && !g.panels_inference(f32_));
        Ok(())
    }

    /// One image at stride 2 with at least [`PANELS_MAX_PIXELS`] outputs runs
    /// [`conv_phases`] in inference (with AVX-512): against the recorded path, for kernels
    /// of 2 to 7 taps a side, paddings 0 to 3, odd and even sides, rows of 5 to 31 columns
    /// (a vector of 16 pixels then meets up to 4 rows), 1 to 3 blocks of channels, on 2
    /// and 3 threads. Smaller outputs, stride 1, 1×1 kernels and f64 do not take it.
    #[test]
    fn strided_inference_over_phases_agrees_with_the_recorded_path() -> Result<()> {
        crate::manual_seed(59);
        let dev = crate::Device::Cpu;
        let f32_ = crate::DType::F32;
        let supported = conv_phases::Plan::supported();
        for threads in [2, 3] {
            let pool = crate::testing::pool(threads);
            for (xs, cout, k, pad) in [
                ([1, 3, 60, 61], 16, 7, 3),
                ([1, 16, 28, 28], 24, 3, 1),
                ([1, 5, 100, 8], 8, 3, 1),
                ([1, 4, 33, 31], 16, 2, 0),
                ([1, 2, 40, 29], 16, 5, 2),
                ([1, 3, 31, 32], 8, 4, 3),
            ] {
                let c = cfg(2, pad, 1, 1);
                let x = Tensor::randn(&xs, f32_, &dev)?;
                let w = Tensor::randn(&[cout, xs[1], k, k], f32_, &dev)?;
                let b = Tensor::randn(&[cout], f32_, &dev)?;
                let want = x.conv2d(&w.clone().requires_grad(), Some(&b), c)?.detach();
                let y = pool.install(|| crate::no_grad(|| x.conv2d(&w, Some(&b), c)))?;
                assert_close(&y, &want.to_vec::<f64>()?, 1e-4)?;
                let g = square_geometry("conv2d", &x, &w, None, c)?;
                assert!(g.l() >= PANELS_MAX_PIXELS);
                assert_eq!(g.phases_inference(f32_).is_some(), supported, "{xs:?}");
                assert!(g.phases_inference(crate::DType::F64).is_none());
            }
        }
        let x = Tensor::randn(&[1, 16, 28, 28], f32_, &dev)?;
        let smaller = Tensor::randn(&[1, 16, 26, 26], f32_, &dev)?;
        for (x, k, stride) in [(&x, 3, 1), (&x, 1, 2), (&smaller, 3, 2)] {
            let w = Tensor::randn(&[16, 16, k, k], f32_, &dev)?;
            let pad = k / 2;
            let g = square_geometry("conv2d", x, &w, None, cfg(stride, pad, 1, 1))?;
            assert!(g.phases_inference(f32_).is_none(), "{k} {stride}");
        }
        Ok(())
    }

    /// `conv2d_affine` against `conv2d` followed by the same map as separate ops, without
    /// recording: Winograd F(4×4), F(2×2) with panels and with a block per image, the stride
    /// phases (7×7 and 3×3 at stride 2) and the weight panels (3×3 stride 2 with a partial
    /// panel, 1×1 at strides 2 and 1), with and without bias, residual and ReLU. With recording, the chain's
    /// gradients; and a scale or residual of the wrong shape is refused.
    #[test]
    fn conv2d_affine_agrees_with_the_chain_of_ops() -> Result<()> {
        crate::manual_seed(41);
        let dev = crate::Device::Cpu;
        let f32_ = crate::DType::F32;
        for (xs, cout, k, stride, pad) in [
            ([1, 16, 28, 28], 32, 3, 1, 1),
            ([1, 24, 13, 13], 40, 3, 1, 1),
            ([2, 16, 9, 9], 16, 3, 1, 1),
            ([1, 3, 40, 40], 64, 7, 2, 3),
            ([1, 16, 28, 28], 24, 3, 2, 1),
            ([1, 16, 20, 20], 32, 3, 2, 1),
            ([1, 24, 15, 15], 72, 3, 2, 1),
            ([1, 32, 14, 14], 64, 1, 2, 0),
            ([1, 32, 8, 8], 48, 1, 1, 0),
        ] {
            let x = Tensor::randn(&xs, f32_, &dev)?;
            let w = Tensor::randn(&[cout, xs[1], k, k], f32_, &dev)?;
            let b = Tensor::randn(&[cout], f32_, &dev)?;
            let (scale, shift) = (
                Tensor::randn(&[cout], f32_, &dev)?,
                Tensor::randn(&[cout], f32_, &dev)?,
            );
            let c = cfg(stride, pad, 1, 1);
            let r = Tensor::randn(x.conv2d(&w, None, c)?.dims(), f32_, &dev)?;
            for (bias, residual, relu) in [
                (None, None, true),
                (Some(&b), None, false),
                (Some(&b), Some(&r), true),
                (None, Some(&r), false),
            ] {
                let per_channel = [1, cout, 1, 1];
                let mut chain = x
                    .conv2d(&w, bias, c)?
                    .mul(&scale.reshape(&per_channel)?)?
                    .add(&shift.reshape(&per_channel)?)?;
                if let Some(r) = residual {
                    chain = chain.add(r)?;
                }
                let want = if relu { chain.relu()? } else { chain };
                let affine = ChannelAffine {
                    scale: &scale,
                    shift: &shift,
                    residual,
                    relu,
                };
                let got = crate::no_grad(|| x.conv2d_affine(&w, bias, c, affine))?;
                assert_eq!(got.dims(), want.dims());
                assert_close(&got, &want.to_vec::<f64>()?, 1e-4)?;
            }
        }
        let shapes: [&[usize]; 6] = [
            &[1, 2, 5, 5],
            &[3, 2, 3, 3],
            &[3],
            &[3],
            &[3],
            &[1, 3, 5, 5],
        ];
        gradcheck(&shapes, |t| {
            let affine = ChannelAffine {
                scale: &t[3],
                shift: &t[4],
                residual: Some(&t[5]),
                relu: false,
            };
            t[0].conv2d_affine(&t[1], Some(&t[2]), cfg(1, 1, 1, 1), affine)
        })?;
        let x = Tensor::randn(&[1, 2, 5, 5], f32_, &dev)?;
        let w = Tensor::randn(&[3, 2, 3, 3], f32_, &dev)?;
        let (short, three) = (
            Tensor::randn(&[2], f32_, &dev)?,
            Tensor::randn(&[3], f32_, &dev)?,
        );
        let bad_residual = Tensor::randn(&[1, 3, 4, 5], f32_, &dev)?;
        for (scale, residual) in [(&short, None), (&three, Some(&bad_residual))] {
            let affine = ChannelAffine {
                scale,
                shift: &three,
                residual,
                relu: true,
            };
            let err = x
                .conv2d_affine(&w, None, cfg(1, 1, 1, 1), affine)
                .unwrap_err();
            assert!(err.to_string().contains("conv2d_affine"), "{err}");
        }
        Ok(())
    }

    /// Inference picks F(4×4, 3×3) for large images with few channels and F(2×2, 3×3)
    /// otherwise; one weight used at both sizes keeps a cached transform for each.
    #[test]
    fn inference_takes_f4_where_it_pays_and_caches_each_transform() -> Result<()> {
        crate::manual_seed(29);
        let dev = crate::Device::Cpu;
        let w = Tensor::randn(&[32, 16, 3, 3], crate::DType::F32, &dev)?;
        let c = cfg(1, 1, 1, 1);
        for (side, tile) in [
            (28, winograd::Tile::F4),
            (8, winograd::Tile::F2),
            (30, winograd::Tile::F4),
        ] {
            let x = Tensor::randn(&[1, 16, side, side], crate::DType::F32, &dev)?;
            let g = forward_geometry("conv2d", &x, &w, None, (1, 1), (1, 1), (1, 1), 1)?;
            assert_eq!(g.winograd_inference().map(|p| p.tile), Some(tile), "{side}");
            let want = x.conv2d(&w.clone().requires_grad(), None, c)?.detach();
            for _ in 0..2 {
                let y = crate::no_grad(|| x.conv2d(&w, None, c))?;
                assert_close(&y, &want.to_vec::<f64>()?, 1e-4)?;
            }
        }
        let wide = Tensor::randn(&[256, 128, 3, 3], crate::DType::F32, &dev)?;
        let x = Tensor::randn(&[1, 128, 28, 28], crate::DType::F32, &dev)?;
        let g = forward_geometry("conv2d", &x, &wide, None, (1, 1), (1, 1), (1, 1), 1)?;
        assert_eq!(
            g.winograd_inference().map(|p| p.tile),
            Some(winograd::Tile::F2)
        );
        Ok(())
    }

    #[test]
    fn kept_patches_give_the_weight_gradient_of_rebuilt_ones() -> Result<()> {
        // A LeNet-like layer keeps its forward patch matrices for the weight gradient.
        crate::manual_seed(11);
        let dev = crate::Device::Cpu;
        let x = Tensor::randn(&[5, 3, 9, 8], crate::DType::F64, &dev)?;
        let w = Tensor::randn(&[4, 3, 5, 5], crate::DType::F64, &dev)?.requires_grad();
        let y = x.conv2d(&w, None, cfg(1, 1, 1, 1))?;
        let dy = Tensor::randn(y.dims(), crate::DType::F64, &dev)?;
        let grads = y.backward_with(&dy)?;
        let g = forward_geometry("conv2d", &x, &w, None, (1, 1), (1, 1), (1, 1), 1)?;
        assert!(g.keeps_patches());
        let rebuilt = im2col_backward_weight(&x.to_vec()?, &dy.to_vec()?, &g, None);
        assert_close(grads.get(&w).expect("weight gradient"), &rebuilt, 1e-12)
    }

    #[test]
    fn conv1d_and_transpose_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[2, 2, 7], &[4, 1, 3], &[4]], |x| {
            x[0].conv1d(&x[1], Some(&x[2]), cfg(2, 1, 1, 2))
        })?;
        let tcfg = ConvTranspose2dConfig {
            stride: 2,
            padding: 1,
            output_padding: 1,
            dilation: 1,
            groups: 1,
        };
        gradcheck(&[&[1, 2, 3, 3], &[2, 3, 3, 3], &[3]], |x| {
            x[0].conv_transpose2d(&x[1], Some(&x[2]), tcfg)
        })?;
        let gcfg = ConvTranspose2dConfig {
            groups: 2,
            ..Default::default()
        };
        gradcheck(&[&[1, 4, 3, 3], &[4, 1, 2, 2]], |x| {
            x[0].conv_transpose2d(&x[1], None, gcfg)
        })
    }

    /// Every length up to past the inline cases, at offsets that are not aligned.
    #[test]
    fn copy_short_copies_every_length() {
        let src: Vec<u32> = (0..50).collect();
        for n in 0..=40 {
            let mut dst = vec![u32::MAX; n + 2];
            copy_short(&mut dst[1..=n], &src[3..3 + n]);
            assert_eq!(dst[1..=n], src[3..3 + n], "length {n}");
            assert_eq!((dst[0], dst[n + 1]), (u32::MAX, u32::MAX), "length {n}");
        }
    }

    #[test]
    fn valid_range_covers_exactly_the_inside_positions() {
        for off in -4..4isize {
            for stride in 1..4 {
                let (lo, hi) = valid_range(off, stride, 5, 6);
                for o in 0..6 {
                    let inside = (0..5).contains(&((o * stride) as isize + off));
                    assert_eq!(
                        inside,
                        (lo..hi).contains(&o),
                        "off {off} stride {stride} o {o}"
                    );
                }
            }
        }
    }
}
