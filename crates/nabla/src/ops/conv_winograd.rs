//! Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions: the forward product and (with the
//! kernel turned by 180° and its channels swapped) the input gradient.
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
//! Work is split into blocks of tile rows of one image, one block per task, so that both
//! threads have work at batch 1 and each block's transformed tiles stay in cache between
//! the transforms and the 16 products.

use super::conv::Out;
use crate::cpu::gemm::{gemm, MatRef};
use crate::dtype::Float;
use crate::storage::{alloc, recycle};
use rayon::prelude::*;

/// A 3×3, stride-1, dilation-1, ungrouped convolution of `[n, cin, h, w]` with zero padding
/// `pad` on every side, giving `[n, cout, oh, ow]` with `oh = h + 2·pad − 2`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub pad: usize,
}

/// Transformed tiles (`cin + cout` values per tile and position) that one block aims at:
/// about 1.5 MiB of f32 scratch, so a block's products run from L2/L3 rather than memory.
const BLOCK_VALUES: usize = 1 << 14;

impl Plan {
    fn oh(&self) -> usize {
        self.h + 2 * self.pad - 2
    }
    fn ow(&self) -> usize {
        self.w + 2 * self.pad - 2
    }
    /// Tile rows and tile columns.
    fn tiles(&self) -> (usize, usize) {
        (self.oh().div_ceil(2), self.ow().div_ceil(2))
    }
    /// Tile rows per block: as many as fit [`BLOCK_VALUES`], but small enough that every
    /// thread gets a block.
    fn rows_per_block(&self) -> usize {
        let (th, tw) = self.tiles();
        let by_size = (BLOCK_VALUES / ((self.cin + self.cout) * tw).max(1)).max(1);
        let threads = rayon::current_num_threads();
        let blocks_wanted = threads.div_ceil(self.n).max(1);
        by_size.min(th.div_ceil(blocks_wanted)).max(1)
    }
}

/// `U[ξ][o][i] = (G g Gᵀ)[ξ]` for the 3×3 kernels `g = wt[o][i]` of a `[cout, cin, 3, 3]`
/// weight. With `flip`, the kernels of the input gradient instead: output channel `o`
/// ranges over `cin`, input `i` over `cout`, and `g[a][b] = wt[i][o][2 − a][2 − b]`.
pub(super) fn transform_weights<T: Float>(wt: &[T], cout: usize, cin: usize, flip: bool) -> Vec<T> {
    let (rows, cols) = if flip { (cin, cout) } else { (cout, cin) };
    let mut u = alloc::<T>(16 * rows * cols);
    let half = T::from_f64(0.5);
    for o in 0..rows {
        for i in 0..cols {
            let g: [T; 9] = if flip {
                let k = &wt[(i * cin + o) * 9..][..9];
                std::array::from_fn(|t| k[8 - t])
            } else {
                wt[(o * cin + i) * 9..][..9].try_into().expect("9 taps")
            };
            // G g: rows g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2 (gN = row N of g).
            let gg: [[T; 3]; 4] = std::array::from_fn(|r| {
                std::array::from_fn(|j| {
                    let (a, b, c) = (g[j], g[3 + j], g[6 + j]);
                    match r {
                        0 => a,
                        1 => (a + b + c) * half,
                        2 => (a - b + c) * half,
                        _ => c,
                    }
                })
            });
            for (r, [a, b, c]) in gg.into_iter().enumerate() {
                let row = [a, (a + b + c) * half, (a - b + c) * half, c];
                for (j, v) in row.into_iter().enumerate() {
                    u[((r * 4 + j) * rows + o) * cols + i] = v;
                }
            }
        }
    }
    u
}

/// `y = conv3x3(x) (+ bias)` with weights already transformed by [`transform_weights`]
/// (`u` is `[16, cout, cin]`); `x` is `[n, cin, h, w]`, contiguous.
pub(super) fn conv3x3<T: Float>(x: &[T], u: &[T], bias: Option<&[T]>, p: &Plan) -> Vec<T> {
    let (oh, ow) = (p.oh(), p.ow());
    let (th, _) = p.tiles();
    let mut y = alloc::<T>(p.n * p.cout * oh * ow);
    let out = Out(y.as_mut_ptr());
    let rows = p.rows_per_block();
    let blocks: Vec<(usize, usize)> = (0..p.n)
        .flat_map(|i| (0..th).step_by(rows).map(move |ty| (i, ty)))
        .collect();
    let run = |&(i, ty0): &(usize, usize)| {
        let ty1 = (ty0 + rows).min(th);
        block(x, u, bias, p, i, ty0, ty1, out);
    };
    if blocks.len() > 1 && rayon::current_num_threads() > 1 {
        blocks.par_iter().for_each(run);
    } else {
        blocks.iter().for_each(run);
    }
    y
}

/// One block: tile rows `ty0..ty1` of image `i`, all channels.
#[allow(clippy::too_many_arguments)]
fn block<T: Float>(
    x: &[T],
    u: &[T],
    bias: Option<&[T]>,
    p: &Plan,
    i: usize,
    ty0: usize,
    ty1: usize,
    out: Out<T>,
) {
    let (_, tw) = p.tiles();
    let tb = (ty1 - ty0) * tw;
    let mut v = alloc::<T>(16 * p.cin * tb);
    let mut m = alloc::<T>(16 * p.cout * tb);
    let image = &x[i * p.cin * p.h * p.w..][..p.cin * p.h * p.w];
    transform_input(image, p, ty0, ty1, &mut v);
    for xi in 0..16 {
        // SAFETY: U[ξ] is cout × cin, V[ξ] cin × tb and M[ξ] cout × tb, all row-major and
        // inside their buffers.
        unsafe {
            gemm(
                p.cout,
                tb,
                p.cin,
                m[xi * p.cout * tb..].as_mut_ptr(),
                tb as isize,
                false,
                MatRef {
                    ptr: u[xi * p.cout * p.cin..].as_ptr(),
                    rs: p.cin as isize,
                    cs: 1,
                },
                MatRef {
                    ptr: v[xi * p.cin * tb..].as_ptr(),
                    rs: tb as isize,
                    cs: 1,
                },
                false,
            )
        };
    }
    let (oh, ow) = (p.oh(), p.ow());
    let (r0, r1) = (2 * ty0, (2 * ty1).min(oh));
    for co in 0..p.cout {
        // SAFETY: rows r0..r1 of channel co of image i belong to this block only.
        let dst = unsafe { out.slice(((i * p.cout + co) * oh + r0) * ow, (r1 - r0) * ow) };
        transform_output(&m, p.cout, co, tb, tw, ow, dst);
        if let Some(b) = bias {
            dst.iter_mut().for_each(|d| *d += b[co]);
        }
    }
    recycle(v);
    recycle(m);
}

/// `V[ξ][c][t] = (Bᵀ d B)[ξ]` for the tiles `t` of tile rows `ty0..ty1`, `d` the 4×4 patch
/// of channel `c` under the tile (zeros in the padding). `v` is `[16, cin, tb]`.
fn transform_input<T: Float>(image: &[T], p: &Plan, ty0: usize, ty1: usize, v: &mut [T]) {
    let (_, tw) = p.tiles();
    let tb = (ty1 - ty0) * tw;
    // Padded input rows: column j holds input column j − pad (0 outside the image).
    let width = 2 * tw + 2;
    let mut rows = vec![T::ZERO; 4 * width];
    let mut d = vec![T::ZERO; 4 * width];
    let cols = p.w.min(width.saturating_sub(p.pad));
    for c in 0..p.cin {
        let plane = &image[c * p.h * p.w..][..p.h * p.w];
        for ty in ty0..ty1 {
            for (r, row) in rows.chunks_exact_mut(width).enumerate() {
                let iy = (2 * ty + r) as isize - p.pad as isize;
                row.fill(T::ZERO);
                if (0..p.h as isize).contains(&iy) {
                    let src = &plane[iy as usize * p.w..][..cols];
                    row[p.pad..p.pad + cols].copy_from_slice(src);
                }
            }
            // Bᵀ d, a whole row of tiles at once: d0 − d2, d1 + d2, d2 − d1, d1 − d3.
            let (r0, rest) = rows.split_at(width);
            let (r1, rest) = rest.split_at(width);
            let (r2, r3) = rest.split_at(width);
            for j in 0..width {
                d[j] = r0[j] - r2[j];
                d[width + j] = r1[j] + r2[j];
                d[2 * width + j] = r2[j] - r1[j];
                d[3 * width + j] = r1[j] - r3[j];
            }
            // (Bᵀ d) B on each tile's four columns 2tx .. 2tx + 4.
            let t0 = (ty - ty0) * tw;
            for (r, dr) in d.chunks_exact(width).enumerate() {
                let at = |xi: usize| ((r * 4 + xi) * p.cin + c) * tb + t0;
                let (a0, rest) = v[at(0)..].split_at_mut(p.cin * tb);
                let (a1, rest) = rest.split_at_mut(p.cin * tb);
                let (a2, a3) = rest.split_at_mut(p.cin * tb);
                for tx in 0..tw {
                    let q = &dr[2 * tx..2 * tx + 4];
                    a0[tx] = q[0] - q[2];
                    a1[tx] = q[1] + q[2];
                    a2[tx] = q[2] - q[1];
                    a3[tx] = q[1] - q[3];
                }
            }
        }
    }
}

/// Writes output channel `co` of a block: `Y = Aᵀ M A` per tile, `m` being `[16, cout, tb]`;
/// `dst` holds the block's output rows (the last tile row or column may be cut off).
fn transform_output<T: Float>(
    m: &[T],
    cout: usize,
    co: usize,
    tb: usize,
    tw: usize,
    ow: usize,
    dst: &mut [T],
) {
    let at = |xi: usize| &m[(xi * cout + co) * tb..][..tb];
    let mm: [&[T]; 16] = std::array::from_fn(at);
    for (tyb, rows2) in dst.chunks_mut(2 * ow).enumerate() {
        for tx in 0..tw {
            let t = tyb * tw + tx;
            // Aᵀ M: s0 = m0 + m1 + m2, s1 = m1 − m2 − m3 (mN = row N of the 4×4 tile).
            let s: [[T; 4]; 2] = [
                std::array::from_fn(|j| mm[j][t] + mm[4 + j][t] + mm[8 + j][t]),
                std::array::from_fn(|j| mm[4 + j][t] - mm[8 + j][t] - mm[12 + j][t]),
            ];
            for (r, sr) in s.iter().enumerate() {
                let Some(row) = rows2.get_mut(r * ow..(r + 1) * ow) else {
                    continue;
                };
                let x0 = 2 * tx;
                row[x0] = sr[0] + sr[1] + sr[2];
                if x0 + 1 < ow {
                    row[x0 + 1] = sr[1] - sr[2] - sr[3];
                }
            }
        }
    }
}
