//! The transforms of Winograd F(4×4, 3×3), for forward passes that record no gradient.
//!
//! Each 4×4 block of outputs comes from the 6×6 input patch `d` under it as
//! `Y = Aᵀ [Σ_c U_c ⊙ V_c] A` with `V = Bᵀ d B` and `U = G g Gᵀ` (Lavin & Gray, 2015, with
//! the points 0, ±1, ±2 and ∞): 36 multiplies per tile and channel pair for 16 outputs,
//! against F(2×2, 3×3)'s 64 and a direct product's 144. The price is a `U` four times the
//! weight's size and rounding errors a few times F(2×2)'s (in f32 about 3e-6 of the
//! output's scale against 1e-6). The blocks, products and bias are the parent module's.
//!
//! ```text
//!      ⎡4  0 -5  0  1  0⎤        ⎡ 1/4     0     0⎤
//!      ⎢0 -4 -4  1  1  0⎥        ⎢-1/6  -1/6  -1/6⎥         ⎡1  1  1  1  1  0⎤
//! Bᵀ = ⎢0  4 -4 -1  1  0⎥    G = ⎢-1/6   1/6  -1/6⎥    Aᵀ = ⎢0  1 -1  2 -2  0⎥
//!      ⎢0 -2 -1  2  1  0⎥        ⎢1/24  1/12   1/6⎥         ⎢0  1  1  4  4  0⎥
//!      ⎢0  2 -1 -2  1  0⎥        ⎢1/24 -1/12   1/6⎥         ⎣0  1 -1  8 -8  1⎦
//!      ⎣0  4  0 -5  0  1⎦        ⎣   0     0     1⎦
//! ```

use super::{four_rows, Block, Plan};
use crate::cpu::simd::multiversion;
use crate::cpu::SharedOut;
use crate::dtype::Float;
use crate::storage::alloc;
use std::ops::Range;

/// `G`, applied in f64 whatever the weight's type (its entries 1/6, 1/12 and 1/24 have no
/// exact binary form).
const G: [[f64; 3]; 6] = [
    [0.25, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// `U[ξ][o][i] = (G g Gᵀ)[ξ]` for the 3×3 kernels `g = wt[o][i]` of a `[cout, cin, 3, 3]`
/// weight; returns `[36, cout, cin]`. Computed once per weight and cached by inference
/// (`ops::conv::weight_cache`), so it stays a plain loop.
pub(crate) fn transform_weights<T: Float>(wt: &[T], cout: usize, cin: usize) -> Vec<T> {
    let plane = cout * cin;
    let mut u = alloc::<T>(36 * plane);
    // Kernel k = o·cin + i lands at U[ξ][k].
    for (k, g) in wt.chunks_exact(9).take(plane).enumerate() {
        let mut gg = [[0.0; 3]; 6];
        for (grow, row) in gg.iter_mut().zip(&G) {
            for (c, v) in grow.iter_mut().enumerate() {
                *v = (0..3).map(|a| row[a] * g[a * 3 + c].to_f64()).sum();
            }
        }
        for (r, grow) in gg.iter().enumerate() {
            for (s, row) in G.iter().enumerate() {
                let value: f64 = (0..3).map(|c| grow[c] * row[c]).sum();
                u[(r * 6 + s) * plane + k] = T::from_f64(value);
            }
        }
    }
    u
}

/// `Bᵀ q` for one column (or row) `q` of a 6×6 patch.
#[inline(always)]
fn input_transform<T: Float>(q: [T; 6], two: T, four: T, five: T) -> [T; 6] {
    let [q0, q1, q2, q3, q4, q5] = q;
    [
        four * q0 - five * q2 + q4,
        q3 + q4 - four * (q1 + q2),
        q4 - q3 + four * (q1 - q2),
        q4 - q2 + two * (q3 - q1),
        q4 - q2 - two * (q3 - q1),
        four * q1 - five * q3 + q5,
    ]
}

/// `Aᵀ m` for one column (or row) `m` of a transformed tile.
#[inline(always)]
fn output_transform<T: Float>(m: [T; 6], two: T, four: T, eight: T) -> [T; 4] {
    let [m0, m1, m2, m3, m4, m5] = m;
    let (t0, t1, t2, t3) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4);
    [
        m0 + t0 + t2,
        t1 + two * t3,
        t0 + four * t2,
        t1 + eight * t3 + m5,
    ]
}

multiversion! {
    /// `V[ξ][c][toff + t] = (Bᵀ d B)[ξ]` for the tiles `t` of the block's tile rows of one
    /// image, `d` the 6×6 patch of channel `c` under the tile (zeros in the padding), for
    /// the input channels `channels`. `v` is `[36, cin, tb]` with `(tb, toff) = span`; no
    /// other task may write these channels' rows of it meanwhile.
    ///
    /// As F(2×2)'s: the column half `d B` once per input row, kept by the row's place in
    /// its tile row (`r mod 4`; rows 4 and 5 of a tile are rows 0 and 1 of the next), then
    /// the row half over all the block's tiles of the image at once. The row's columns are
    /// first split by `mod 4`, so that every loop runs over zipped slices and vectorizes.
    pub(crate) fn transform_input<T: Float>(
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
        let (two, four, five) = (T::from_f64(2.0), T::from_f64(4.0), T::from_f64(5.0));
        // e[j][r mod 4][r / 4][tx] = (d B)[j] of tile column tx on the block's padded row r.
        let mut e = vec![T::ZERO; 6 * 4 * plane];
        // The zeros on both sides stay; the image columns are overwritten row by row.
        let mut padded = vec![T::ZERO; 4 * (tw + 1)];
        let mut phases = vec![T::ZERO; 4 * (tw + 1)];
        let cols = p.w.min(padded.len() - p.pad);
        for c in channels {
            let chan = &image[c * p.h * p.w..][..p.h * p.w];
            for r in 0..4 * rows + 2 {
                let [e0, e1, e2, e3, e4, e5] =
                    six_rows(&mut e, 4 * plane, (r % 4) * plane + (r / 4) * tw, tw);
                let iy = (4 * blk.ty0 + r) as isize - p.pad as isize;
                if !(0..p.h as isize).contains(&iy) {
                    [e0, e1, e2, e3, e4, e5].into_iter().for_each(|row| row.fill(T::ZERO));
                    continue;
                }
                // Padded column j holds input column j − pad; split by j mod 4.
                padded[p.pad..p.pad + cols].copy_from_slice(&chan[iy as usize * p.w..][..cols]);
                let [f0, f1, f2, f3] = four_rows(&mut phases, tw + 1, 0, tw + 1);
                let split = f0.iter_mut().zip(f1.iter_mut()).zip(f2.iter_mut().zip(f3.iter_mut()));
                for (quad, ((x0, x1), (x2, x3))) in padded.chunks_exact(4).zip(split) {
                    (*x0, *x1, *x2, *x3) = (quad[0], quad[1], quad[2], quad[3]);
                }
                // Tile column tx covers padded columns 4tx .. 4tx + 6.
                let q = f0[..tw]
                    .iter()
                    .zip(&f1[..tw])
                    .zip(f2[..tw].iter().zip(&f3[..tw]))
                    .zip(f0[1..].iter().zip(&f1[1..]));
                let dst = e0
                    .iter_mut()
                    .zip(e1.iter_mut())
                    .zip(e2.iter_mut().zip(e3.iter_mut()))
                    .zip(e4.iter_mut().zip(e5.iter_mut()));
                for ((((d0, d1), (d2, d3)), (d4, d5)), (((&q0, &q1), (&q2, &q3)), (&q4, &q5))) in
                    dst.zip(q)
                {
                    [*d0, *d1, *d2, *d3, *d4, *d5] =
                        input_transform([q0, q1, q2, q3, q4, q5], two, four, five);
                }
            }
            // Bᵀ (d B): tile row ty's rows k = 0..6 are e[j][k mod 4][ty + k / 4].
            for j in 0..6 {
                let ej = &e[j * 4 * plane..][..4 * plane];
                let row = |k: usize| &ej[(k % 4) * plane + (k / 4) * tw..][..n];
                let src = row(0)
                    .iter()
                    .zip(row(1))
                    .zip(row(2).iter().zip(row(3)))
                    .zip(row(4).iter().zip(row(5)));
                // SAFETY: rows (i·6 + j, c) of V, inside the caller's [36, cin, tb] buffer,
                // are written by this task only (channel c is in its range).
                let row = |i: usize| unsafe { v.slice(((i * 6 + j) * p.cin + c) * tb + toff, n) };
                let [v0, v1, v2, v3, v4, v5] = [row(0), row(1), row(2), row(3), row(4), row(5)];
                let dst = v0
                    .iter_mut()
                    .zip(v1.iter_mut())
                    .zip(v2.iter_mut().zip(v3.iter_mut()))
                    .zip(v4.iter_mut().zip(v5.iter_mut()));
                for ((((d0, d1), (d2, d3)), (d4, d5)), (((&q0, &q1), (&q2, &q3)), (&q4, &q5))) in
                    dst.zip(src)
                {
                    [*d0, *d1, *d2, *d3, *d4, *d5] =
                        input_transform([q0, q1, q2, q3, q4, q5], two, four, five);
                }
            }
        }
    }
}

multiversion! {
    /// Writes output channel `co` of one image of a block: `Y = Aᵀ M A` per tile, `m` being
    /// `[36, cout, tb]` and the image's tiles starting at `toff`, with `(tb, toff) = span`;
    /// `dst` holds the block's output rows (the last tile row or column may be cut off).
    /// The row half `Aᵀ M` runs over all the block's tiles of the image at once, into
    /// `scratch` (24 values per tile, reused by the caller across channels).
    pub(crate) fn transform_output<T: Float>(
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
        let n = dst.len().div_ceil(4 * ow) * tw;
        let (two, four, eight) = (T::from_f64(2.0), T::from_f64(4.0), T::from_f64(8.0));
        let mm = |xi: usize| &m[(xi * cout + co) * tb + toff..][..n];
        // s[a][j][t] = (Aᵀ M)[a][j] of tile t.
        let s = &mut scratch[..24 * n];
        for j in 0..6 {
            let src = mm(j)
                .iter()
                .zip(mm(6 + j))
                .zip(mm(12 + j).iter().zip(mm(18 + j)))
                .zip(mm(24 + j).iter().zip(mm(30 + j)));
            let [s0, s1, s2, s3] = four_rows(&mut s[j * n..], 6 * n, 0, n);
            let dst = s0.iter_mut().zip(s1.iter_mut()).zip(s2.iter_mut().zip(s3.iter_mut()));
            for (((d0, d1), (d2, d3)), (((&m0, &m1), (&m2, &m3)), (&m4, &m5))) in dst.zip(src) {
                [*d0, *d1, *d2, *d3] = output_transform([m0, m1, m2, m3, m4, m5], two, four, eight);
            }
        }
        // (Aᵀ M) A: output row y is row y mod 4 of tile row y / 4.
        for (y, row) in dst.chunks_mut(ow).enumerate() {
            let sr = |j: usize| &s[((y % 4) * 6 + j) * n + (y / 4) * tw..][..tw];
            let (quads, rest) = row.split_at_mut(ow / 4 * 4);
            let cols = sr(0)
                .iter()
                .zip(sr(1))
                .zip(sr(2).iter().zip(sr(3)))
                .zip(sr(4).iter().zip(sr(5)));
            for (quad, (((&a, &b), (&c, &d)), (&e, &f))) in quads.chunks_exact_mut(4).zip(cols) {
                quad.copy_from_slice(&output_transform([a, b, c, d, e, f], two, four, eight));
            }
            if !rest.is_empty() {
                let tx = tw - 1;
                let last = [sr(0)[tx], sr(1)[tx], sr(2)[tx], sr(3)[tx], sr(4)[tx], sr(5)[tx]];
                let len = rest.len();
                rest.copy_from_slice(&output_transform(last, two, four, eight)[..len]);
            }
        }
    }
}

/// The slices `[off, off + len)` of the first six planes of `plane` values in `e`, as six
/// disjoint rows (split by hand, like [`four_rows`]).
#[inline(always)]
fn six_rows<T>(e: &mut [T], plane: usize, off: usize, len: usize) -> [&mut [T]; 6] {
    let (p0, rest) = e.split_at_mut(plane);
    let (p1, rest) = rest.split_at_mut(plane);
    let (p2, rest) = rest.split_at_mut(plane);
    let (p3, rest) = rest.split_at_mut(plane);
    let (p4, p5) = rest.split_at_mut(plane);
    [
        &mut p0[off..][..len],
        &mut p1[off..][..len],
        &mut p2[off..][..len],
        &mut p3[off..][..len],
        &mut p4[off..][..len],
        &mut p5[off..][..len],
    ]
}
