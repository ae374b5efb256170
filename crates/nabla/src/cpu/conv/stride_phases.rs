//! Direct f32 convolution of one image with its output pixels as the vector lanes, for
//! strided layers in inference: ResNet's 7×7 stride-2 stem (3 → 64 channels at 112×112) and
//! its 3×3 stride-2 layers at 28×28 and 14×14, which otherwise build a patch matrix and
//! multiply it by the weight (im2col + GEMM), or broadcast one pixel per multiply-add
//! ([`super::direct`], whose loop is bound by its loads).
//!
//! The zero-padded image is split into its `s × s` stride phases (phase `(py, px)` holds
//! the padded pixels `(s·r + py, s·c + px)`), each a plane of `C = ⌈wp / s⌉` columns. Tap
//! `(ci, ky, kx)` of output pixel `(oy, ox)` then reads phase `(ky mod s, kx mod s)` of
//! channel `ci` at `(oy + ky / s, ox + kx / s)`. Counting the output pixels row-major over
//! rows of `C` columns (the last `C − ow` of each row are computed and dropped), pixel `q`
//! reads that plane at `q + (ky / s)·C + kx / s`: consecutive pixels read consecutive
//! values, for every tap. So a block of [`CHUNK`] pixels and [`BLOCK`] output channels is
//! `acc[co][pixels] += w[co][tap] · plane[tap offset + pixels]` over the taps: per tap
//! [`VECS`] vector loads and [`BLOCK`] broadcasts feed `VECS · BLOCK` multiply-adds. The
//! accumulators are stored through masks that drop the extra columns, with the channel's
//! epilogue (scale, shift, residual, ReLU) applied on the way.
//!
//! ```text
//! y[co][oy][ox] = Σ_{ci,ky,kx} w[co][ci][ky][kx] · xp[ci][s·oy + ky][s·ox + kx]
//!               = Σ_{ci,ky,kx} w[co][ci][ky][kx] · phase[ci][ky % s][kx % s][oy + ky/s][ox + kx/s]
//! ```
//!
//! The kernels exist for CPUs with AVX-512; elsewhere callers keep their other paths.

pub(crate) use super::direct::Plan;
use super::epilogue::Epilogue;
use crate::cpu::SharedOut;
use crate::storage::{alloc, recycle};
use rayon::prelude::*;

/// Output channels per block: the broadcast weights of one tap.
pub(crate) const BLOCK: usize = 8;
/// Vectors of 16 output pixels per block.
const VECS: usize = 3;
/// Output pixels per block (of the rows of `C` columns).
const CHUNK: usize = 16 * VECS;

/// The phase-plane geometry of a [`Plan`] (one image, `cout` a multiple of [`BLOCK`],
/// stride `s = sy = sx`).
impl Plan {
    /// The stride on both axes.
    fn s(&self) -> usize {
        debug_assert_eq!(self.sy, self.sx, "stride_phases: one stride for both axes");
        self.sy
    }
    /// Columns of each phase plane, and of the rows the output pixels are counted in.
    fn cols(&self) -> usize {
        self.wp().div_ceil(self.s())
    }
    /// Rows of each phase plane.
    fn rows(&self) -> usize {
        self.hp().div_ceil(self.s())
    }
    fn plane_len(&self) -> usize {
        self.rows() * self.cols()
    }
    /// Output pixels counted over rows of [`Plan::cols`] columns (the extra ones included).
    fn pixels(&self) -> usize {
        self.oh() * self.cols()
    }
    /// Elements of the phase planes: every plane, and zeros after the last so that the last
    /// block of pixels reads inside the buffer (at most [`CHUNK`] pixels past the output's,
    /// and `kw / s` columns further).
    fn phases_len(&self) -> usize {
        self.cin * self.s() * self.s() * self.plane_len() + CHUNK + self.cols()
    }
    /// Where each tap `(ci, ky, kx)`, in weight order, reads the phase planes for pixel 0.
    fn tap_offsets(&self) -> Vec<usize> {
        let (s, cols, plane) = (self.s(), self.cols(), self.plane_len());
        let mut off = Vec::with_capacity(self.taps());
        for ci in 0..self.cin {
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let phase = (ci * s + ky % s) * s + kx % s;
                    off.push(phase * plane + (ky / s) * cols + kx / s);
                }
            }
        }
        off
    }
}

/// The weight `[cout, taps]` as the kernels read it: `[cout / BLOCK][taps][BLOCK]`, each
/// block's weights one after the other, tap-major.
pub(crate) fn block_weights(w: &[f32], cout: usize, taps: usize) -> Vec<f32> {
    let mut out = alloc::<f32>(cout * taps);
    for (co, row) in w[..cout * taps].chunks_exact(taps).enumerate() {
        let block = &mut out[(co / BLOCK) * taps * BLOCK..][..taps * BLOCK];
        for (t, &v) in row.iter().enumerate() {
            block[t * BLOCK + co % BLOCK] = v;
        }
    }
    out
}

/// Copies one image `[cin, h, w]` into its zero-padded stride phases
/// `[cin][s][s][rows][cols]` (`planes`, [`Plan::phases_len`] long, zeros after the last
/// plane), writing each value once, one channel per task. Plane row by plane row: built
/// from image rows with `cpu::phases::split_phases` (as im2col and pooling do), ResNet's
/// 3×3/2 64→128 layer took 0.78–0.85 ms against 0.73–0.75 (14 alternating rounds).
fn split_phases(x: &[f32], p: &Plan, planes: &mut [f32]) {
    let (s, cols, rows) = (p.s(), p.cols(), p.rows());
    let per_channel = s * s * rows * cols;
    let (planes, tail) = planes.split_at_mut(p.cin * per_channel);
    tail.fill(0.0);
    let channel = |(ci, dst): (usize, &mut [f32])| {
        for (i, row) in dst.chunks_exact_mut(cols).enumerate() {
            let (phase, r) = (i / rows, i % rows);
            let (py, px) = (phase / s, phase % s);
            // The padded row s·r + py is image row y, when inside.
            let y = (s * r + py).wrapping_sub(p.ph);
            // The first plane column inside the image, its image column, and how many follow.
            let c0 = p.pw.saturating_sub(px).div_ceil(s);
            let first = (c0 * s + px) - p.pw;
            if y >= p.h || first >= p.w {
                row.fill(0.0);
                continue;
            }
            let count = ((p.w - 1 - first) / s + 1).min(cols - c0);
            let src = &x[(ci * p.h + y) * p.w + first..][..(count - 1) * s + 1];
            row[..c0].fill(0.0);
            row[c0 + count..].fill(0.0);
            let row = &mut row[c0..c0 + count];
            if s == 2 {
                // Every other value as zipped pairs, which the compiler turns into vector
                // shuffles; the last value may have no pair.
                let pairs = src.chunks_exact(2);
                if let [last] = pairs.remainder() {
                    row[count - 1] = *last;
                }
                for (d, pair) in row.iter_mut().zip(pairs) {
                    *d = pair[0];
                }
            } else {
                for (d, &v) in row.iter_mut().zip(src.iter().step_by(s)) {
                    *d = v;
                }
            }
        }
    };
    planes
        .par_chunks_mut(per_channel)
        .enumerate()
        .for_each(channel);
}

/// `y = epi(conv(x, w))` for one image `x` (`[cin, h, w]`), `wb` the weight as
/// [`block_weights`] lays it out; `y` is `[cout, oh, ow]`. Each thread takes a range of
/// the blocks of output channels, for all pixels.
///
/// # Panics
/// When [`Plan::supported`] is false or an operand is shorter than the plan.
pub(crate) fn forward(x: &[f32], wb: &[f32], epi: Epilogue<f32>, p: &Plan) -> Vec<f32> {
    assert!(Plan::supported(), "stride_phases needs AVX-512");
    assert!(
        p.cout.is_multiple_of(BLOCK),
        "stride_phases: {} channels",
        p.cout
    );
    let taps = p.taps();
    assert!(x.len() >= p.cin * p.h * p.w && wb.len() >= p.cout * taps);
    let mut planes = alloc::<f32>(p.phases_len());
    split_phases(x, p, &mut planes);
    let offsets = p.tap_offsets();
    debug_assert!(
        offsets.last().map_or(0, |&o| o) + p.pixels().div_ceil(CHUNK) * CHUNK <= planes.len()
    );
    let (oh, ow) = (p.oh(), p.ow());
    let mut y = alloc::<f32>(p.cout * oh * ow);
    let out = SharedOut::new(&mut y);
    let blocks = |range: std::ops::Range<usize>| {
        for b in range {
            let w = &wb[b * taps * BLOCK..][..taps * BLOCK];
            // SAFETY: these output channels belong to this task only.
            let y = unsafe { out.slice(b * BLOCK * oh * ow, BLOCK * oh * ow) };
            // SAFETY: AVX-512 is present (asserted); every tap offset plus every block's
            // pixels lies inside `planes` (phases_len), `w` holds taps × BLOCK values and `y`
            // BLOCK channels of oh × ow.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                avx512::channel_block(&planes, &offsets, w, p, &epi, b * BLOCK, y);
            }
        }
    };
    super::winograd::for_ranges(p.cout / BLOCK, true, blocks);
    recycle(planes);
    y
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Epilogue, Plan, BLOCK, CHUNK, VECS};
    use std::arch::x86_64::*;

    /// All pixels of the [`BLOCK`] output channels from `co0`: `y` holds them
    /// (`[BLOCK, oh, ow]`), `w` their weights (`[taps][BLOCK]`).
    ///
    /// # Safety
    /// AVX-512F; `offsets[t] + q` is inside `planes` for every tap and every pixel `q` of
    /// the blocks (up to the pixels rounded up to [`CHUNK`]).
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn channel_block(
        planes: &[f32],
        offsets: &[usize],
        w: &[f32],
        p: &Plan,
        epi: &Epilogue<f32>,
        co0: usize,
        y: &mut [f32],
    ) {
        let pixels = p.pixels();
        let mut q0 = 0;
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            while q0 < pixels {
                let x = planes.as_ptr().add(q0);
                match (pixels - q0).div_ceil(16) {
                    1 => store(&block::<1>(x, offsets, w), p, epi, co0, q0, y),
                    2 => store(&block::<2>(x, offsets, w), p, epi, co0, q0, y),
                    _ => store(&block::<VECS>(x, offsets, w), p, epi, co0, q0, y),
                }
                q0 += CHUNK;
            }
        }
    }

    /// `acc[r][v] = Σ_t w[t][r] · x[offsets[t] + 16v ..][..16]`: [`BLOCK`] channels of
    /// `16·NV` pixels, `x` pointing at the block's first pixel.
    ///
    /// # Safety
    /// AVX-512F; `x + offsets[t]` readable for `16·NV` values for every tap, `w` holds
    /// `offsets.len()` taps of [`BLOCK`] values.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn block<const NV: usize>(
        x: *const f32,
        offsets: &[usize],
        w: &[f32],
    ) -> [[__m512; NV]; BLOCK] {
        let mut acc = [[_mm512_setzero_ps(); NV]; BLOCK];
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            for (&off, wt) in offsets.iter().zip(w.chunks_exact(BLOCK)) {
                let at = x.add(off);
                let xv: [__m512; NV] = std::array::from_fn(|v| _mm512_loadu_ps(at.add(16 * v)));
                for (acc, &wr) in acc.iter_mut().zip(wt) {
                    let wr = _mm512_set1_ps(wr);
                    for (a, &xv) in acc.iter_mut().zip(&xv) {
                        *a = _mm512_fmadd_ps(wr, xv, *a);
                    }
                }
            }
        }
        acc
    }

    /// Writes the block of pixels from `q0` (counted over rows of `cols` columns) into `y`
    /// (`[BLOCK, oh, ow]`), dropping the columns past `ow` and the pixels past the last
    /// row, each channel's epilogue applied: `relu?(acc·scale + shift (+ residual))`.
    ///
    /// # Safety
    /// AVX-512F; `y` holds [`BLOCK`] channels of `oh × ow`, the epilogue's slices the
    /// output's channels.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn store<const NV: usize>(
        acc: &[[__m512; NV]; BLOCK],
        p: &Plan,
        epi: &Epilogue<f32>,
        co0: usize,
        q0: usize,
        y: &mut [f32],
    ) {
        let (oh, ow, cols) = (p.oh(), p.ow(), p.cols());
        let (plane, pixels) = (oh * ow, p.pixels());
        let zero = _mm512_setzero_ps();
        // SAFETY: every store and residual load is masked to the lanes whose pixel lies in
        // the output (column < ow, row < oh), at its place in the channel's plane.
        unsafe {
            for (r, acc) in acc.iter().enumerate() {
                let co = co0 + r;
                let (scale, shift) = epi.channel(co);
                let (scale, shift) = (_mm512_set1_ps(scale), _mm512_set1_ps(shift));
                let dst = y.as_mut_ptr().add(r * plane);
                let residual = epi.residual.map(|res| res.as_ptr().add(co * plane));
                for (v, &a) in acc.iter().enumerate() {
                    let q = q0 + 16 * v;
                    let value = _mm512_add_ps(_mm512_mul_ps(a, scale), shift);
                    // The lanes of each output row this vector meets.
                    let mut lane = 0;
                    while lane < 16 && q + lane < pixels {
                        let (oy, ox) = ((q + lane) / cols, (q + lane) % cols);
                        let run = (16 - lane).min(cols - ox);
                        let valid = run.min(ow.saturating_sub(ox));
                        if valid > 0 {
                            let mask = (((1u32 << valid) - 1) << lane) as __mmask16;
                            // Lane `lane` goes to (oy, ox); the others follow it.
                            let at = (oy * ow + ox).wrapping_sub(lane);
                            let mut out = value;
                            if let Some(res) = residual {
                                let add = _mm512_maskz_loadu_ps(mask, res.wrapping_add(at));
                                out = _mm512_add_ps(out, add);
                            }
                            if epi.relu {
                                // max(0, v) keeps NaN as NaN, as `relu` does.
                                out = _mm512_max_ps(zero, out);
                            }
                            _mm512_mask_storeu_ps(dst.wrapping_add(at), mask, out);
                        }
                        lane += run;
                    }
                }
            }
        }
    }
}
