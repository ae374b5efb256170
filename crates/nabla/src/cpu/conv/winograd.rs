//! (About 650 lines: the forward transforms, the blocks and the products share private
//! helpers and the tile layout; the weight gradient and F(4×4) live in `winograd/`.)
//!
//! Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions: the forward product, the input
//! gradient (the same convolution with the kernel turned by 180° and its channels swapped)
//! and the weight gradient.
//!
//! Each 2×2 block of outputs ("tile") is computed from the 4×4 input patch `d` under it as
//! `Y = Aᵀ [Σ_c U_c ⊙ V_c] A` with `V = Bᵀ d B` and `U = G g Gᵀ` (Lavin & Gray, 2015). For
//! each of the 16 positions ξ of the 4×4 transformed tile the channel sum is one GEMM,
//! `M[ξ] (cout × tiles) = U[ξ] (cout × cin) · V[ξ] (cin × tiles)`: 16 multiplies per tile
//! and channel pair instead of im2col's 36, and no patch matrix 9 times the input.
//!
//! ```text
//!      ⎡1  0 -1  0⎤        ⎡1   0   0⎤
//! Bᵀ = ⎢0  1  1  0⎥    G = ⎢½   ½   ½⎥    Aᵀ = ⎡1 1  1  0⎤
//!      ⎢0 -1  1  0⎥        ⎢½  -½   ½⎥         ⎣0 1 -1 -1⎦
//!      ⎣0  1  0 -1⎦        ⎣0   0   1⎦
//! ```
//!
//! Forward passes that record no gradient may take F(4×4, 3×3) instead ([`Tile::F4`], the
//! transforms in [`f4`]): the blocks, products and bias below serve both tile sizes.
//!
//! Work is split into blocks of tile rows of one image, one block per task, so that both
//! threads have work at batch 1 and each block's transformed tiles stay in cache between
//! the transforms and the products (16, or 36 in F(4×4)). A single small image runs as one
//! block that all threads share, by ranges of channels.

use super::epilogue::Epilogue;
use super::panels::{panel_at, panel_product};
use crate::autocast::Precision;
use crate::cpu::gemm::{gemm, MatRef};
use crate::cpu::simd::multiversion;
use crate::cpu::skinny::{self, skinny_gemm, Rows};
use crate::cpu::SharedOut;
use crate::dtype::Float;
use crate::storage::{alloc, recycle, same_type_slice, same_type_slice_mut};
use rayon::prelude::*;
use std::ops::Range;

mod f4;
mod weight_grad;
pub(crate) use f4::transform_weights as transform_weights_f4;
pub(crate) use weight_grad::weight_grad3x3;

/// A 3×3, stride-1, dilation-1, ungrouped convolution of `[n, cin, h, w]` with zero padding
/// `pad` on every side, giving `[n, cout, oh, ow]` with `oh = h + 2·pad − 2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub pad: usize,
    /// The output tile: [`Tile::F2`] on every path, [`Tile::F4`] for forward passes that
    /// record no gradient.
    pub tile: Tile,
}

/// The size of the output tiles, `F(m×m, 3×3)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tile {
    /// 2×2 outputs from 4×4 inputs, 16 positions (this module's transforms).
    F2,
    /// 4×4 outputs from 6×6 inputs, 36 positions ([`f4`]'s transforms): 2.25 multiplies
    /// per output and channel pair against F2's 4, with larger rounding errors and a `U`
    /// four times the weight's size. Forward only.
    F4,
}

impl Tile {
    /// Outputs along each side of a tile.
    fn side(self) -> usize {
        match self {
            Tile::F2 => 2,
            Tile::F4 => 4,
        }
    }
    /// Positions ξ of a transformed tile, `(side + 2)²`: the number of products.
    pub(crate) fn positions(self) -> usize {
        (self.side() + 2) * (self.side() + 2)
    }
}

/// Transformed tiles (`cin + cout` values per tile and position) that one block aims at:
/// 2 MiB of f32 scratch, so a block's products run from cache rather than memory. Measured
/// on the ResNet 64-channel and VGG 256-channel layers: 2^14 and 2^16 were slower.
const BLOCK_VALUES: usize = 1 << 15;
/// Tiles per block at least, whatever [`BLOCK_VALUES`] allows: with fewer, the products'
/// crate-side kernels are the 32-row ones (`x2x6`, half the accumulators of `x4x6`). Only
/// 512-channel layers are affected (32 tiles by `BLOCK_VALUES`); ResNet-18's at 4×4, batch
/// 64, best of five alternating runs: forward 21.9 → 20.2 ms, backward 69.7 → 55.7 ms.
const MIN_BLOCK_TILES: usize = 64;

/// Tiles of a batch smaller than the thread count up to which the forward pass runs as one
/// block whose products split the output channels between the threads (ResNet-18's 7×7
/// and 14×14 layers at batch 1: 16 and 49 tiles): with a block per thread, each thread
/// would read all of `U` (16.8 MB for 512 channels) to use it on a handful of tiles. Larger
/// batches keep a block per task: the shared block's transforms run on one thread, and
/// ResNet-18's 256-channel layers at 32×32, batch 64 (one tile per image) took 3.4 ms
/// that way against 2.1 ms.
const SHARED_BLOCK_MAX_TILES: usize = 64;

impl Plan {
    fn oh(&self) -> usize {
        self.h + 2 * self.pad - 2
    }
    fn ow(&self) -> usize {
        self.w + 2 * self.pad - 2
    }
    /// Whether the batch runs as one block whose products split the output channels
    /// between the threads ([`SHARED_BLOCK_MAX_TILES`]).
    fn shared_block(&self) -> bool {
        let (th, tw) = self.tiles();
        self.n < rayon::current_num_threads() && self.n * th * tw <= SHARED_BLOCK_MAX_TILES
    }
    /// Tile rows and tile columns.
    fn tiles(&self) -> (usize, usize) {
        let side = self.tile.side();
        (self.oh().div_ceil(side), self.ow().div_ceil(side))
    }
    /// Tiles that one block aims at: as many as [`BLOCK_VALUES`] holds (counted in F2's 16
    /// positions), and at least [`MIN_BLOCK_TILES`].
    fn block_tiles(&self) -> usize {
        let values = BLOCK_VALUES * 16 / self.tile.positions();
        (values / (self.cin + self.cout).max(1)).max(MIN_BLOCK_TILES)
    }
    /// Tile rows per block: as many as fit [`Plan::block_tiles`], but small enough that
    /// every thread gets a block.
    fn rows_per_block(&self) -> usize {
        let (th, tw) = self.tiles();
        let by_size = (self.block_tiles() / tw.max(1)).max(1);
        let threads = rayon::current_num_threads();
        let blocks_wanted = threads.div_ceil(self.n).max(1);
        by_size.min(th.div_ceil(blocks_wanted)).max(1)
    }
    /// The blocks: tile rows of one image, or whole images, several per block when they
    /// are small (ResNet-18 at 32×32 has 4 tiles per image in its 128-channel layers).
    fn blocks(&self) -> Vec<Block> {
        let (th, tw) = self.tiles();
        let rows = self.rows_per_block();
        if rows < th {
            return (0..self.n)
                .flat_map(|i| {
                    (0..th).step_by(rows).map(move |ty0| Block {
                        i,
                        images: 1,
                        ty0,
                        ty1: (ty0 + rows).min(th),
                    })
                })
                .collect();
        }
        let by_size = (self.block_tiles() / (th * tw).max(1)).max(1);
        let images = by_size
            .min(self.n.div_ceil(rayon::current_num_threads()))
            .max(1);
        (0..self.n)
            .step_by(images)
            .map(|i| Block {
                i,
                images: images.min(self.n - i),
                ty0: 0,
                ty1: th,
            })
            .collect()
    }
}

/// Tile rows `ty0..ty1` of images `i..i + images` (all rows when `images > 1`); tile `t`
/// of the block is tile row `ty0 + t / tw` of image `i + t / ((ty1 − ty0)·tw)`.
#[derive(Clone, Copy, Debug)]
struct Block {
    i: usize,
    images: usize,
    ty0: usize,
    ty1: usize,
}

impl Block {
    /// Tiles of one image in the block.
    fn per_image(&self, tw: usize) -> usize {
        (self.ty1 - self.ty0) * tw
    }
}

/// `U[ξ][o][i] = (G g Gᵀ)[ξ]` for the 3×3 kernels `g = wt[o][i]` of a `[cout, cin, 3, 3]`
/// weight; returns `[16, cout, cin]`. The input gradient reads the same `U` turned (see
/// [`Weights::Turned`]).
pub(crate) fn transform_weights<T: Float>(wt: &[T], cout: usize, cin: usize) -> Vec<T> {
    let mut u = alloc::<T>(16 * cout * cin);
    let out = SharedOut(u.as_mut_ptr());
    // One task per output channel: it writes U[ξ][o][..] for every ξ.
    let row = |scratch: &mut Vec<T>, o: usize| {
        // SAFETY: the 16 rows U[ξ][o] belong to this task only.
        let mut dst: [&mut [T]; 16] =
            std::array::from_fn(|xi| unsafe { out.slice((xi * cout + o) * cin, cin) });
        scratch.resize(21 * cin, T::ZERO);
        transform_kernel_row(&wt[o * cin * 9..][..cin * 9], scratch, &mut dst);
    };
    if cout * cin >= 4096 && rayon::current_num_threads() > 1 {
        (0..cout).into_par_iter().for_each_init(Vec::new, row);
    } else {
        let mut scratch = Vec::new();
        (0..cout).for_each(|o| row(&mut scratch, o));
    }
    u
}

multiversion! {
    /// One output channel of [`transform_weights`]: `kernels` is its `[cin, 3, 3]` weights,
    /// `dst[ξ]` the row `U[ξ][o]` (`cin` values) and `scratch` at least `21·cin` values. The
    /// taps are first laid out tap-major, so that every step below is one loop over the
    /// input channels.
    fn transform_kernel_row<T: Float>(kernels: &[T], scratch: &mut [T], dst: &mut [&mut [T]; 16]) {
        let cin = kernels.len() / 9;
        let (taps, gg) = scratch.split_at_mut(9 * cin);
        for (i, k) in kernels.chunks_exact(9).enumerate() {
            for (t, &v) in k.iter().enumerate() {
                taps[t * cin + i] = v;
            }
        }
        let half = T::from_f64(0.5);
        let tap = |r: usize, c: usize| &taps[(r * 3 + c) * cin..][..cin];
        // G g: rows g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2 (gN = row N of g), per column.
        for c in 0..3 {
            let (g0, g1, g2) = (tap(0, c), tap(1, c), tap(2, c));
            let at = |r: usize| (r * 3 + c) * cin;
            gg[at(0)..][..cin].copy_from_slice(g0);
            gg[at(3)..][..cin].copy_from_slice(g2);
            let (lo, hi) = gg.split_at_mut(at(2));
            for (((a, b), (&x0, &x1)), &x2) in lo[at(1)..][..cin]
                .iter_mut()
                .zip(&mut hi[..cin])
                .zip(g0.iter().zip(g1))
                .zip(g2)
            {
                *a = (x0 + x1 + x2) * half;
                *b = (x0 - x1 + x2) * half;
            }
        }
        // (G g) Gᵀ: the same on the columns of each of those rows.
        for r in 0..4 {
            let h = |c: usize| &gg[(r * 3 + c) * cin..][..cin];
            let (h0, h1, h2) = (h(0), h(1), h(2));
            let [d0, d1, d2, d3] = dst[r * 4..][..4].as_mut() else {
                unreachable!("four columns")
            };
            d0.copy_from_slice(h0);
            d3.copy_from_slice(h2);
            for (((a, b), (&x0, &x1)), &x2) in
                d1.iter_mut().zip(d2.iter_mut()).zip(h0.iter().zip(h1)).zip(h2)
            {
                *a = (x0 + x1 + x2) * half;
                *b = (x0 - x1 + x2) * half;
            }
        }
    }
}

/// How the products of a [`Plan`] (one per position ξ) read its transformed weights,
/// `U[ξ]` being a `cout × cin` matrix of that plan.
#[derive(Clone, Copy)]
pub(crate) enum Weights<'a, T> {
    /// `[16, cout, cin]` from [`transform_weights`] of the plan's own kernels.
    Forward(&'a [T]),
    /// The input gradient's, read from the forward convolution's `U` (`[16, cin, cout]` in
    /// this plan's terms). Its kernels are the forward ones turned by 180° with the channels
    /// swapped, and turning `g` reverses the rows of `G g` as `P G` does, `P` the
    /// permutation swapping 0 and 3 (`G J = P G`). So `U'[ξ] = U[π(ξ)]ᵀ` with
    /// `π(r, c) = (p(r), p(c))`: no second transform, only other strides.
    Turned(&'a [T]),
    /// The forward `U` with each `U[ξ]` transposed and cut into panels of [`PANEL`] output
    /// channels (by [`panel_weights`]), for f32 one-block batches whose tile count wastes
    /// lanes in [`skinny_gemm`] ([`wants_panel_weights`]); their products run in
    /// [`skinny::skinny_gemm_tn`], which reads each panel as one stream.
    Panels(&'a [T]),
}

impl<T> Weights<'_, T> {
    /// `U[ξ]` of plan `p`.
    fn mat(&self, xi: usize, p: &Plan) -> MatRef<T> {
        let size = p.cout * p.cin;
        match *self {
            Weights::Forward(u) => MatRef {
                ptr: u[xi * size..][..size].as_ptr(),
                rs: p.cin as isize,
                cs: 1,
            },
            Weights::Panels(_) => unreachable!("panels run in skinny_products only"),
            Weights::Turned(u) => {
                debug_assert_eq!(p.tile, Tile::F2, "only F(2×2, 3×3)'s U turns");
                let swap = |r: usize| [3, 1, 2, 0][r];
                let src = swap(xi / 4) * 4 + swap(xi % 4);
                MatRef {
                    ptr: u[src * size..][..size].as_ptr(),
                    rs: 1,
                    cs: p.cout as isize,
                }
            }
        }
    }
}

/// `y = conv3x3(x)` then `epi`, with weights already transformed by [`transform_weights`];
/// `x` is `[n, cin, h, w]`, contiguous.
pub(crate) fn conv3x3<T: Float>(x: &[T], u: Weights<T>, epi: Epilogue<T>, p: &Plan) -> Vec<T> {
    let (oh, ow) = (p.oh(), p.ow());
    let mut y = alloc::<T>(p.n * p.cout * oh * ow);
    let out = SharedOut(y.as_mut_ptr());
    let (th, _) = p.tiles();
    if p.shared_block() {
        // One block; each thread computes a band of output channels of every product.
        let all = Block {
            i: 0,
            images: p.n,
            ty0: 0,
            ty1: th,
        };
        block(x, u, epi, p, all, out, true);
        return y;
    }
    let blocks = p.blocks();
    let run = |b: &Block| block(x, u, epi, p, *b, out, false);
    if blocks.len() > 1 && rayon::current_num_threads() > 1 {
        blocks.par_iter().for_each(run);
    } else {
        blocks.iter().for_each(run);
    }
    y
}

/// One block, all channels; `par` splits each product between the threads.
fn block<T: Float>(
    x: &[T],
    u: Weights<T>,
    epi: Epilogue<T>,
    p: &Plan,
    blk: Block,
    out: SharedOut<T>,
    par: bool,
) {
    let (_, tw) = p.tiles();
    let per_image = blk.per_image(tw);
    let tb = blk.images * per_image;
    let positions = p.tile.positions();
    let mut v = alloc::<T>(positions * p.cin * tb);
    let mut m = alloc::<T>(positions * p.cout * tb);
    let len = p.cin * p.h * p.w;
    let vout = SharedOut::new(&mut v);
    // With `par`, each thread transforms a range of input channels (their rows of V are
    // disjoint), then a range of output channels below.
    let inputs = |channels: Range<usize>| {
        for b in 0..blk.images {
            let image = &x[(blk.i + b) * len..][..len];
            let span = (tb, b * per_image);
            match p.tile {
                Tile::F2 => transform_input(image, p, blk, span, vout, channels.clone()),
                Tile::F4 => f4::transform_input(image, p, blk, span, vout, channels.clone()),
            }
        }
    };
    for_ranges(p.cin, par, inputs);
    if !skinny_products(u, &v, &mut m, p, tb, par) {
        for xi in 0..positions {
            // SAFETY: U[ξ] is cout × cin (strides from Weights::mat), V[ξ] cin × tb and M[ξ]
            // cout × tb row-major, all inside their buffers.
            unsafe {
                gemm(
                    p.cout,
                    tb,
                    p.cin,
                    m[xi * p.cout * tb..].as_mut_ptr(),
                    tb as isize,
                    false,
                    u.mat(xi, p),
                    MatRef {
                        ptr: v[xi * p.cin * tb..].as_ptr(),
                        rs: tb as isize,
                        cs: 1,
                    },
                    par,
                    Precision::Full,
                )
            };
        }
    }
    let (oh, ow) = (p.oh(), p.ow());
    let side = p.tile.side();
    let (r0, r1) = (side * blk.ty0, (side * blk.ty1).min(oh));
    let outputs = |channels: Range<usize>| {
        // The output transforms' row halves: side × (side + 2) values per tile.
        let mut scratch = vec![T::ZERO; side * (side + 2) * per_image];
        for b in 0..blk.images {
            for co in channels.clone() {
                // SAFETY: rows r0..r1 of channel co of this block's images belong to this
                // block and this range of channels only.
                let at = ((blk.i + b) * p.cout + co) * oh * ow + r0 * ow;
                let dst = unsafe { out.slice(at, (r1 - r0) * ow) };
                let span = (tb, b * per_image);
                let (m, s) = (&m[..], &mut scratch[..]);
                match p.tile {
                    Tile::F2 => transform_output(m, p.cout, co, span, tw, ow, dst, s),
                    Tile::F4 => f4::transform_output(m, p.cout, co, span, tw, ow, dst, s),
                }
                epi.apply(co, at, dst);
            }
        }
    };
    for_ranges(p.cout, par, outputs);
    recycle(v);
    recycle(m);
}

/// `f` over `0..count` in one call, or with `par` in one range per thread, in parallel.
pub(crate) fn for_ranges(count: usize, par: bool, f: impl Fn(Range<usize>) + Sync) {
    let threads = rayon::current_num_threads();
    if !par || threads < 2 || count < 2 {
        return f(0..count);
    }
    let per = count.div_ceil(threads);
    let starts: Vec<usize> = (0..count).step_by(per).collect();
    starts
        .into_par_iter()
        .for_each(|c0| f(c0..(c0 + per).min(count)));
}

/// Whether a forward pass of `p` in `T` should read `U` as [`Weights::Panels`]: f32, one
/// block or one image, and the skinny kernels. ResNet-18's layers at batch 1: 49 tiles at
/// 14×14 (F(2×2), which [`skinny_gemm`] holds in 64 lanes) and at 28×28 (F(4×4)), and 16
/// at 7×7. There [`skinny_gemm`] wastes no lane, but its 8 broadcasts from 8 rows of `U`
/// per 8 multiply-adds keep the load ports busy, where the panels' kernel loads 4 vectors
/// and broadcasts 6 values of `V` per 24 (session 10, `COLD=4`, alternating rounds:
/// medians 1.34 → 1.21 ms). Its 56×56 layers (196 tiles in F(4×4), a block of 7 tile rows
/// per thread) run each block's products on the panels instead of `gemm`, which packs
/// both operands of 36 small products: 1.025 → 0.76 ms (16 rounds; 1.125 → 0.985 with
/// `COLD=4`).
pub(crate) fn wants_panel_weights<T: Float>(p: &Plan) -> bool {
    T::DTYPE == crate::DType::F32 && (p.shared_block() || p.n == 1) && skinny::supported()
}

/// The products `M[ξ] = U[ξ] · V[ξ]` of a block by [`skinny_gemm`] (at most
/// [`skinny::MAX_COLS`] tiles) or, with `U` transposed, [`skinny::skinny_gemm_tn`]: with
/// `par` (the batch's one block), each thread taking a band of output channels
/// ([`for_ranges`]) for all positions ξ; without (a block per task), `U` in panels only,
/// all channels on the calling thread. f32 and `U` not turned.
/// Returns whether it ran (otherwise the caller runs the GEMMs).
fn skinny_products<T: Float>(
    u: Weights<T>,
    v: &[T],
    m: &mut [T],
    p: &Plan,
    tb: usize,
    par: bool,
) -> bool {
    let (u, panels) = match u {
        Weights::Forward(_) if !par => return false,
        Weights::Forward(u) => (u, false),
        Weights::Panels(u) => (u, true),
        Weights::Turned(_) => return false,
    };
    if tb == 0 || (!panels && tb > skinny::MAX_COLS) || !skinny::supported() {
        return false;
    }
    let (Some(u), Some(v), Some(m)) = (
        same_type_slice::<T, f32>(u),
        same_type_slice::<T, f32>(v),
        same_type_slice_mut::<T, f32>(m),
    ) else {
        return false;
    };
    let (cout, cin) = (p.cout, p.cin);
    let out = SharedOut::new(m);
    let run = |band: Range<usize>| {
        let (o0, rows) = (band.start, band.len());
        for xi in 0..p.tile.positions() {
            let b = Rows {
                data: &v[xi * cin * tb..][..cin * tb],
                ld: tb,
            };
            // SAFETY: rows o0..o0 + rows of M[ξ] belong to this band only.
            let c = unsafe { out.slice((xi * cout + o0) * tb, rows * tb) };
            if panels {
                let size = cin * cout;
                let next = match u.get((xi + 1) * size..(xi + 2) * size) {
                    Some(next) => panel_at(next, (cout, cin), o0),
                    None => &[],
                };
                let u = &u[xi * size..][..size];
                panel_product(u, (cout, tb, cin), band.clone(), b, c, tb, next);
            } else {
                let a = Rows {
                    data: &u[(xi * cout + o0) * cin..][..rows * cin],
                    ld: cin,
                };
                skinny_gemm(rows, tb, cin, a, b, c, tb);
            }
        }
    };
    for_ranges(cout, par, run);
    true
}

multiversion! {
    /// `V[ξ][c][toff + t] = (Bᵀ d B)[ξ]` for the tiles `t` of the block's tile rows of one
    /// image, `d` the 4×4 patch of channel `c` under the tile (zeros in the padding), for
    /// the input channels `channels`. `v` is `[16, cin, tb]` with `(tb, toff) = span`; no
    /// other task may write these channels' rows of it meanwhile.
    ///
    /// The column half `d B` is computed once per input row and shared by the two tile rows
    /// that overlap on it, into even and odd input rows apart; the row half `Bᵀ (d B)` then
    /// runs over all the block's tiles of the image at once (tile row `ty` reads even and
    /// odd rows `ty` and `ty + 1`), so its loops are long enough to vectorize well.
    fn transform_input<T: Float>(
        image: &[T],
        p: &Plan,
        blk: Block,
        span: (usize, usize),
        v: SharedOut<T>,
        channels: Range<usize>,
    ) {
        let (tb, toff) = span;
        let (_, tw) = p.tiles();
        let rows = blk.ty1 - blk.ty0;
        let (n, plane) = (rows * tw, (rows + 1) * tw);
        // e[parity][j][r][tx] = (d B)[j] of tile column tx on padded input row 2(ty0 + r) + parity.
        let mut e = vec![T::ZERO; 2 * 4 * plane];
        let (mut even, mut odd) = (vec![T::ZERO; tw + 1], vec![T::ZERO; tw + 1]);
        // The zeros on both sides stay; the image columns are overwritten row by row.
        let mut padded = vec![T::ZERO; 2 * tw + 2];
        let cols = p.w.min(padded.len() - p.pad);
        for c in channels {
            let chan = &image[c * p.h * p.w..][..p.h * p.w];
            for r in 0..2 * rows + 2 {
                // The four rows (d B)[j] of this input row.
                let [e0, e1, e2, e3] = four_rows(&mut e[(r % 2) * 4 * plane..], plane, (r / 2) * tw, tw);
                let iy = (2 * blk.ty0 + r) as isize - p.pad as isize;
                if !(0..p.h as isize).contains(&iy) {
                    [e0, e1, e2, e3].into_iter().for_each(|row| row.fill(T::ZERO));
                    continue;
                }
                // Padded column j holds input column j − pad; split into even and odd columns.
                padded[p.pad..p.pad + cols].copy_from_slice(&chan[iy as usize * p.w..][..cols]);
                for ((pair, e), o) in padded.chunks_exact(2).zip(&mut even).zip(&mut odd) {
                    *e = pair[0];
                    *o = pair[1];
                }
                // d B per tile: q0 − q2, q1 + q2, q2 − q1, q1 − q3 with q = columns 2tx .. 2tx + 4
                // (zipped slices, so that the loop vectorizes).
                let q = even[..tw]
                    .iter()
                    .zip(&odd[..tw])
                    .zip(even[1..=tw].iter().zip(&odd[1..=tw]));
                let dst = e0.iter_mut().zip(e1.iter_mut()).zip(e2.iter_mut().zip(e3.iter_mut()));
                for (((d0, d1), (d2, d3)), ((&q0, &q1), (&q2, &q3))) in dst.zip(q) {
                    *d0 = q0 - q2;
                    *d1 = q1 + q2;
                    *d2 = q2 - q1;
                    *d3 = q1 - q3;
                }
            }
            // Bᵀ (d B): rows r0 − r2, r1 + r2, r2 − r1, r1 − r3 of each tile, where tile row ty
            // has r0, r2 = even rows ty, ty + 1 and r1, r3 = odd rows ty, ty + 1.
            for j in 0..4 {
                let (ev, od) = (&e[j * plane..][..plane], &e[(4 + j) * plane..][..plane]);
                let (r0, r1, r2, r3) = (&ev[..n], &od[..n], &ev[tw..], &od[tw..]);
                // SAFETY: row (ξ, c) of V, inside the caller's [16, cin, tb] buffer, is
                // written by this task only (channel c is in its range).
                let row = |i: usize| unsafe { v.slice(((i * 4 + j) * p.cin + c) * tb + toff, n) };
                combine(row(0), r0, r2, |a, b| a - b);
                combine(row(1), r1, r2, |a, b| a + b);
                combine(row(2), r2, r1, |a, b| a - b);
                combine(row(3), r1, r3, |a, b| a - b);
            }
        }
    }
}

multiversion! {
    /// Writes output channel `co` of one image of a block: `Y = Aᵀ M A` per tile, `m` being
    /// `[16, cout, tb]` and the image's tiles starting at `toff`, with `(tb, toff) = span`;
    /// `dst` holds the block's output rows (the last tile row or column may be cut off).
    /// The row half `Aᵀ M` runs over all the block's tiles of the image at once, into
    /// `scratch` (8 values per tile, reused by the caller across channels).
    fn transform_output<T: Float>(
        m: &[T],
        cout: usize,
        co: usize,
        span: (usize, usize),
        tw: usize,
        ow: usize,
        dst: &mut [T],
        scratch: &mut [T],
    ) {
        let (tb, toff) = span;
        let n = dst.len().div_ceil(2 * ow) * tw;
        let mm = |xi: usize| &m[(xi * cout + co) * tb + toff..][..n];
        // s[r][j][t]: Aᵀ M over the tiles, s0 = m0 + m1 + m2, s1 = m1 − m2 − m3 (mN = tile row N).
        let s = &mut scratch[..8 * n];
        for j in 0..4 {
            let (m0, m1, m2, m3) = (mm(j), mm(4 + j), mm(8 + j), mm(12 + j));
            let (s0, s1) = s.split_at_mut(4 * n);
            let (s0, s1) = (&mut s0[j * n..][..n], &mut s1[j * n..][..n]);
            let m = m0.iter().zip(m1).zip(m2.iter().zip(m3));
            for ((d0, d1), ((&m0, &m1), (&m2, &m3))) in s0.iter_mut().zip(s1.iter_mut()).zip(m) {
                *d0 = m0 + m1 + m2;
                *d1 = m1 - m2 - m3;
            }
        }
        // (Aᵀ M) A: columns s0 + s1 + s2 and s1 − s2 − s3.
        for (y, row) in dst.chunks_mut(ow).enumerate() {
            let sr = |j: usize| &s[((y % 2) * 4 + j) * n + (y / 2) * tw..][..tw];
            let (a, b, c, d) = (sr(0), sr(1), sr(2), sr(3));
            let (pairs, rest) = row.split_at_mut(ow / 2 * 2);
            let cols = a.iter().zip(b).zip(c.iter().zip(d));
            for (pair, ((&a, &b), (&c, &d))) in pairs.chunks_exact_mut(2).zip(cols) {
                pair[0] = a + b + c;
                pair[1] = b - c - d;
            }
            if let Some(last) = rest.first_mut() {
                let tx = tw - 1;
                *last = a[tx] + b[tx] + c[tx];
            }
        }
    }
}

/// The slices `[off, off + len)` of the first four planes of `plane` values in `e`, as four
/// disjoint rows (what the transforms' column halves write, one row per output of `· B` or
/// `· Aᵀ`, so that their loops run over zipped slices and vectorize).
/// (Split by hand: built with `array::from_fn`, it stayed an out-of-line call, 2% of a
/// ResNet-18 training step.)
#[inline(always)]
fn four_rows<T>(e: &mut [T], plane: usize, off: usize, len: usize) -> [&mut [T]; 4] {
    let (p0, rest) = e.split_at_mut(plane);
    let (p1, rest) = rest.split_at_mut(plane);
    let (p2, p3) = rest.split_at_mut(plane);
    [
        &mut p0[off..][..len],
        &mut p1[off..][..len],
        &mut p2[off..][..len],
        &mut p3[off..][..len],
    ]
}

/// `dst[t] = f(a[t], b[t])` over three slices of one length (a loop the compiler vectorizes).
#[inline(always)]
fn combine<T: Float>(dst: &mut [T], a: &[T], b: &[T], f: impl Fn(T, T) -> T) {
    for ((d, &a), &b) in dst.iter_mut().zip(a).zip(b) {
        *d = f(a, b);
    }
}
