//! Weights cut into panels of [`PANEL`] output channels, each `k` rows as wide as the
//! panel, and the products that stream them ([`skinny_gemm_tn`]): Winograd's `U[ξ]` of
//! one-block batches ([`super::winograd::Weights::Panels`]) and, in inference of one small
//! image, the plain weight against the image's patch matrix ([`panel_inference`]).

use super::epilogue::Epilogue;
use super::im2col::chunk_patches;
use super::winograd::for_ranges;
use crate::cpu::skinny::{skinny_gemm_tn, Rows};
use crate::cpu::SharedOut;
use crate::dtype::Float;
use crate::ops::conv::Geometry;
use crate::storage::{alloc, recycle, same_type_slice, same_type_slice_mut};
use std::ops::Range;

/// Output channels per panel of [`Weights::Panels`](super::winograd::Weights::Panels): the 4 vectors of
/// [`skinny_gemm_tn`]'s row blocks.
pub(crate) const PANEL: usize = 64;

/// `[positions, cout, cin]` → [`Weights::Panels`](super::winograd::Weights::Panels): for each ξ, the panels of [`PANEL`]
/// output channels one after the other, panel `q` holding `U[ξ][64q + j][i]` at row `i`,
/// column `j` (`cin` rows as wide as the panel).
pub(crate) fn panel_weights<T: Float>(
    u: &[T],
    positions: usize,
    cout: usize,
    cin: usize,
) -> Vec<T> {
    let size = cout * cin;
    let mut t = alloc::<T>(positions * size);
    for (src, dst) in u[..positions * size]
        .chunks_exact(size)
        .zip(t.chunks_exact_mut(size))
    {
        for o0 in (0..cout).step_by(PANEL) {
            let width = PANEL.min(cout - o0);
            let panel = &mut dst[o0 * cin..][..width * cin];
            for (j, row) in src[o0 * cin..][..width * cin].chunks_exact(cin).enumerate() {
                for (i, &value) in row.iter().enumerate() {
                    panel[i * width + j] = value;
                }
            }
        }
    }
    t
}

/// Rows `band` of `C = A · B` for `A` (`m × k`) given as the panels of [`panel_weights`]
/// (`u`, `k` rows per panel as wide as the panel) and `B` (`k × n`): `c` holds the band's
/// rows (row stride `ldc`). Runs [`skinny_gemm_tn`] on the band's part of each panel it
/// overlaps, each bringing the next panel into the caches, and the last one `next`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn panel_product(
    u: &[f32],
    (m, n, k): (usize, usize, usize),
    band: Range<usize>,
    b: Rows,
    c: &mut [f32],
    ldc: usize,
    next: &[f32],
) {
    let mut o = band.start;
    while o < band.end {
        let q0 = o / PANEL * PANEL;
        let (width, end) = (PANEL.min(m - q0), (q0 + PANEL).min(band.end));
        let at = Rows {
            data: &u[q0 * k + (o - q0)..][..(k - 1) * width + end - o],
            ld: width,
        };
        let ahead = if end < band.end {
            panel_at(u, (m, k), end)
        } else {
            next
        };
        let c = &mut c[(o - band.start) * ldc..];
        skinny_gemm_tn(end - o, n, k, at, b, c, ldc, ahead);
        o = end;
    }
}

/// The panel of `u` (as [`panel_product`] reads it, `m × k`) that holds row `o`.
pub(crate) fn panel_at(u: &[f32], (m, k): (usize, usize), o: usize) -> &[f32] {
    let q0 = o / PANEL * PANEL;
    &u[q0 * k..][..PANEL.min(m - q0) * k]
}

/// A forward convolution of one image that records no gradient (where
/// [`ConvAlgo::Panels`](super::ConvAlgo::Panels) holds), through its patch matrix and
/// [`skinny_gemm_tn`] on the weight cut into panels of 64 output channels (`u`,
/// from [`panel_weights`]), ending in `epi`, each thread taking a band of output
/// channels. `None` when `T` is not f32.
pub(crate) fn panel_inference<T: Float>(
    xv: &[T],
    u: &[T],
    epi: Epilogue<T>,
    g: &Geometry,
) -> Option<Vec<T>> {
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
    for_ranges(cout, true, |band| {
        let (at, len) = (band.start * l, band.len() * l);
        // SAFETY: each band owns its output rows; the two views are used one after the
        // other.
        let c = unsafe { out32.slice(at, len) };
        let b = Rows { data: b, ld: l };
        panel_product(u, (cout, l, k), band.clone(), b, c, l, &[]);
        let c = unsafe { out.slice(at, len) };
        for (co, chan) in band.zip(c.chunks_mut(l.max(1))) {
            epi.apply(co, co * l, chan);
        }
    });
    recycle(col);
    Some(y)
}
