//! The weight gradient of Winograd F(2×2, 3×3): `dU[ξ] = Σ_tiles dM[ξ] · V[ξ]ᵀ` per
//! block of tiles, summed in a fixed order, then `dg = Gᵀ dU G`.

use super::{combine, four_rows, transform_input, Block, Plan, Tile};
use crate::autocast::Precision;
use crate::cpu::gemm::{gemm, MatRef};
use crate::cpu::simd::multiversion;
use crate::cpu::SharedOut;
use crate::dtype::Float;
use crate::storage::{alloc, alloc_zeroed, recycle};
use rayon::prelude::*;

/// The weight gradient `[cout, cin, 3, 3]` of the convolution `p` from its input `x`
/// (`[n, cin, h, w]`) and output gradient `dy` (`[n, cout, oh, ow]`): with
/// `y = Aᵀ [Σ_c U_c ⊙ V_c] A` and `U = G g Gᵀ`, `dU[ξ] (cout × cin) = Σ_tiles dM[ξ] · V[ξ]ᵀ`
/// where `dM = A dY Aᵀ`, and `dg = Gᵀ dU G`.
pub(crate) fn weight_grad3x3<T: Float>(x: &[T], dy: &[T], p: &Plan) -> Vec<T> {
    assert_eq!(
        p.tile,
        Tile::F2,
        "the weight gradient runs F(2×2, 3×3) only"
    );
    let blocks = p.blocks();
    let ulen = 16 * p.cout * p.cin;
    let sum_blocks = |group: &[Block]| {
        let mut du = alloc_zeroed::<T>(ulen);
        for &blk in group {
            weight_block(x, dy, p, blk, &mut du);
        }
        du
    };
    // A fixed split of the blocks into one group per thread, summed in group order: the
    // result does not depend on scheduling, so training runs are bitwise reproducible.
    let threads = rayon::current_num_threads().min(blocks.len()).max(1);
    let per_group = blocks.len().div_ceil(threads);
    let partials: Vec<Vec<T>> = if threads > 1 {
        blocks.par_chunks(per_group).map(sum_blocks).collect()
    } else {
        vec![sum_blocks(&blocks)]
    };
    let mut parts = partials.into_iter();
    let mut du = parts.next().unwrap_or_else(|| alloc_zeroed::<T>(ulen));
    for part in parts {
        du.iter_mut().zip(&part).for_each(|(a, b)| *a += *b);
        recycle(part);
    }
    let dw = untransform_weights(&du, p.cout, p.cin);
    recycle(du);
    dw
}

/// Adds one block's `dM[ξ] · V[ξ]ᵀ` to `du` (`[16, cout, cin]`).
fn weight_block<T: Float>(x: &[T], dy: &[T], p: &Plan, blk: Block, du: &mut [T]) {
    let (_, tw) = p.tiles();
    let per_image = blk.per_image(tw);
    let tb = blk.images * per_image;
    let mut v = alloc::<T>(16 * p.cin * tb);
    let mut m = alloc::<T>(16 * p.cout * tb);
    let (len, plane) = (p.cin * p.h * p.w, p.oh() * p.ow());
    let mut scratch = vec![T::ZERO; 8 * per_image];
    for b in 0..blk.images {
        let span = (tb, b * per_image);
        let image = &x[(blk.i + b) * len..][..len];
        transform_input(image, p, blk, span, SharedOut::new(&mut v), 0..p.cin);
        let grad = &dy[(blk.i + b) * p.cout * plane..][..p.cout * plane];
        for co in 0..p.cout {
            transform_grad_output(
                &grad[co * plane..][..plane],
                p,
                co,
                blk,
                span,
                &mut m,
                &mut scratch,
            );
        }
    }
    for xi in 0..16 {
        // SAFETY: dM[ξ] is cout × tb and V[ξ] cin × tb (read transposed), dU[ξ] cout × cin,
        // all inside their buffers.
        unsafe {
            gemm(
                p.cout,
                p.cin,
                tb,
                du[xi * p.cout * p.cin..].as_mut_ptr(),
                p.cin as isize,
                true,
                MatRef {
                    ptr: m[xi * p.cout * tb..].as_ptr(),
                    rs: tb as isize,
                    cs: 1,
                },
                MatRef {
                    ptr: v[xi * p.cin * tb..].as_ptr(),
                    rs: 1,
                    cs: tb as isize,
                },
                false,
                Precision::Full,
            )
        };
    }
    recycle(v);
    recycle(m);
}

multiversion! {
    /// `dM[ξ][co][toff + t] = (A dY Aᵀ)[ξ]` for the tiles `t` of the block's tile rows of one
    /// image's output channel gradient `grad` (`[oh, ow]`), zeros for cut-off outputs; `m` is
    /// `[16, cout, tb]` with `(tb, toff) = span`. As [`transform_input`]: rows first, then
    /// the columns over all the block's tiles at once; `scratch` holds 8 values per tile
    /// (reused by the caller across channels).
    fn transform_grad_output<T: Float>(
        grad: &[T],
        p: &Plan,
        co: usize,
        blk: Block,
        span: (usize, usize),
        m: &mut [T],
        scratch: &mut [T],
    ) {
        let (tb, toff) = span;
        let (oh, ow) = (p.oh(), p.ow());
        let (_, tw) = p.tiles();
        let n = (blk.ty1 - blk.ty0) * tw;
        // e[parity][j][t]: (g Aᵀ)[j] = g0, g0 + g1, g0 − g1, −g1 of output row 2·ty + parity.
        let e = &mut scratch[..2 * 4 * n];
        for ty in blk.ty0..blk.ty1 {
            for parity in 0..2 {
                let oy = 2 * ty + parity;
                // The four rows (g Aᵀ)[j] of this output row.
                let [e0, e1, e2, e3] = four_rows(&mut e[parity * 4 * n..], n, (ty - blk.ty0) * tw, tw);
                if oy >= oh {
                    [e0, e1, e2, e3].into_iter().for_each(|row| row.fill(T::ZERO));
                    continue;
                }
                let src = &grad[oy * ow..][..ow];
                // Whole tiles as zipped slices (so that the loop vectorizes), then the cut-off
                // last column of an odd width, whose g1 is zero.
                let whole = ow / 2;
                let dst = e0.iter_mut().zip(e1.iter_mut()).zip(e2.iter_mut().zip(e3.iter_mut()));
                for (((d0, d1), (d2, d3)), pair) in dst.zip(src.chunks_exact(2)) {
                    let (g0, g1) = (pair[0], pair[1]);
                    *d0 = g0;
                    *d1 = g0 + g1;
                    *d2 = g0 - g1;
                    *d3 = -g1;
                }
                if whole < tw {
                    let g0 = src[2 * whole];
                    (e0[whole], e1[whole], e2[whole], e3[whole]) = (g0, g0, g0, T::ZERO);
                }
            }
        }
        // A (g Aᵀ): rows r0, r0 + r1, r0 − r1, −r1.
        for j in 0..4 {
            let (r0, r1) = (&e[j * n..][..n], &e[(4 + j) * n..][..n]);
            let at = |i: usize| ((i * 4 + j) * p.cout + co) * tb + toff;
            combine(&mut m[at(0)..][..n], r0, r1, |a, _| a);
            combine(&mut m[at(1)..][..n], r0, r1, |a, b| a + b);
            combine(&mut m[at(2)..][..n], r0, r1, |a, b| a - b);
            combine(&mut m[at(3)..][..n], r0, r1, |_, b| -b);
        }
    }
}

/// `dg = Gᵀ dU G` for every `[16, cout, cin]` entry: the 3×3 weight gradient from the
/// gradient of the transformed weights. `Gᵀ` maps rows `x0..x3` of a 4×4 to
/// `x0 + (x1 + x2)/2`, `(x1 − x2)/2`, `(x1 + x2)/2 + x3`.
fn untransform_weights<T: Float>(du: &[T], cout: usize, cin: usize) -> Vec<T> {
    let mut dw = alloc::<T>(cout * cin * 9);
    let half = T::from_f64(0.5);
    let gt = |x: [T; 4]| -> [T; 3] {
        [
            x[0] + (x[1] + x[2]) * half,
            (x[1] - x[2]) * half,
            (x[1] + x[2]) * half + x[3],
        ]
    };
    for o in 0..cout {
        for i in 0..cin {
            let at = |xi: usize| du[(xi * cout + o) * cin + i];
            // Gᵀ on the columns of each row, then on the rows.
            let row = |r: usize| gt([at(r * 4), at(r * 4 + 1), at(r * 4 + 2), at(r * 4 + 3)]);
            let rows = [row(0), row(1), row(2), row(3)];
            for b in 0..3 {
                let col = gt([rows[0][b], rows[1][b], rows[2][b], rows[3][b]]);
                for a in 0..3 {
                    dw[(o * cin + i) * 9 + a * 3 + b] = col[a];
                }
            }
        }
    }
    dw
}
