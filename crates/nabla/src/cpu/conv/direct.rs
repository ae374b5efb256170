//! Direct f32 convolution for layers with few output channels and a short reduction
//! (LeNet-5's conv2: 6 → 16 channels, 5×5, 150 taps; ResNet's stem: 3 → 64 channels, 7×7
//! stride 2, 147 taps), dilation 1, ungrouped: the forward product and the weight gradient,
//! with fused multiply-adds and no patch matrix.
//!
//! The output channels are the vector lanes: for a block of [`PIXELS`] output pixels,
//! `acc[pixel] (16 channels) += W[:, tap] · x[tap of pixel]`, one register per pixel, one
//! weight vector and [`PIXELS`] broadcast loads per tap. The weight gradient is the same
//! loop with taps and pixels swapped: `dW[:, tap] += dy[:, pixel] · x[tap of pixel]`. The
//! input is first copied into a zero-padded plane, so every tap of every pixel is in bounds.
//! The kernels exist for CPUs with AVX-512; elsewhere, and for f64, callers keep im2col.
//!
//! ```text
//! y[co][oy][ox]      = b[co] + Σ_{ci,ky,kx} w[co][ci][ky][kx] · xp[ci][sy·oy + ky][sx·ox + kx]
//! dw[co][ci][ky][kx] = Σ_{images,oy,ox} dy[co][oy][ox] · xp[ci][sy·oy + ky][sx·ox + kx]
//! ```

use crate::cpu::simd::avx512_kernels;
use crate::cpu::SharedOut;
use crate::storage::{alloc, alloc_zeroed, recycle};
use rayon::prelude::*;
use std::ops::Range;

/// Output channels per block: one AVX-512 vector of f32.
const LANES: usize = 16;
/// Output pixels (forward) or taps (weight gradient) held in registers at once.
const PIXELS: usize = 8;

/// A dilation-1, ungrouped convolution of `[n, cin, h, w]` with padding `(ph, pw)`, stride
/// `(sy, sx)` and `[cout, cin, kh, kw]` kernels (`cout` a multiple of [`LANES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub ph: usize,
    pub pw: usize,
    pub sy: usize,
    pub sx: usize,
}

impl Plan {
    /// Whether this CPU has the kernels (AVX-512).
    pub(crate) fn supported() -> bool {
        avx512_kernels()
    }
    pub(crate) fn oh(&self) -> usize {
        (self.hp() - self.kh) / self.sy + 1
    }
    pub(crate) fn ow(&self) -> usize {
        (self.wp() - self.kw) / self.sx + 1
    }
    pub(crate) fn hp(&self) -> usize {
        self.h + 2 * self.ph
    }
    pub(crate) fn wp(&self) -> usize {
        self.w + 2 * self.pw
    }
    pub(crate) fn taps(&self) -> usize {
        self.cin * self.kh * self.kw
    }
    fn padded_len(&self) -> usize {
        self.cin * self.hp() * self.wp()
    }
}

/// Where the kernels read the padded image: the offset of each tap `(ci, ky, kx)` in weight
/// order, and of each output pixel's first tap in output order. Both grow monotonically, so
/// the last tap of the last pixel is the farthest read (what the kernels' callers check,
/// once per call instead of scanning the lists).
struct Offsets {
    tap: Vec<usize>,
    pix: Vec<usize>,
}

impl Offsets {
    fn new(p: &Plan) -> Offsets {
        let (hp, wp) = (p.hp(), p.wp());
        let mut tap = Vec::with_capacity(p.taps());
        for ci in 0..p.cin {
            for ky in 0..p.kh {
                for kx in 0..p.kw {
                    tap.push((ci * hp + ky) * wp + kx);
                }
            }
        }
        let pix: Vec<usize> = (0..p.oh())
            .flat_map(|oy| (0..p.ow()).map(move |ox| oy * p.sy * wp + ox * p.sx))
            .collect();
        Offsets { tap, pix }
    }
}

/// Copies one image `[cin, h, w]` into `xp` (`[cin, hp, wp]`, zeros around), writing each
/// value once: the padding rows, then each row's left padding, values and right padding.
fn pad_image(image: &[f32], p: &Plan, xp: &mut [f32]) {
    let (hp, wp) = (p.hp(), p.wp());
    for (src, dst) in image
        .chunks_exact(p.h * p.w)
        .zip(xp.chunks_exact_mut(hp * wp))
        .take(p.cin)
    {
        let (top, rest) = dst.split_at_mut(p.ph * wp);
        let (middle, bottom) = rest.split_at_mut(p.h * wp);
        top.fill(0.0);
        bottom.fill(0.0);
        for (row, padded) in src.chunks_exact(p.w).zip(middle.chunks_exact_mut(wp)) {
            let (left, rest) = padded.split_at_mut(p.pw);
            let (values, right) = rest.split_at_mut(p.w);
            left.fill(0.0);
            values.copy_from_slice(row);
            right.fill(0.0);
        }
    }
}

/// The batch split evenly over the threads (fixed, so that the weight gradient's partial
/// sums are added in a fixed order).
fn image_groups(n: usize) -> Vec<Range<usize>> {
    let parts = rayon::current_num_threads().clamp(1, n.max(1));
    let per = n.div_ceil(parts).max(1);
    (0..n).step_by(per).map(|i| i..(i + per).min(n)).collect()
}

/// `y = conv(x, w) (+ bias)`; `x` is `[n, cin, h, w]`, `wt` `[cout, cin, kh, kw]`.
pub(crate) fn forward(x: &[f32], wt: &[f32], bias: Option<&[f32]>, p: &Plan) -> Vec<f32> {
    let l = p.oh() * p.ow();
    let mut y = alloc::<f32>(p.n * p.cout * l);
    let out = SharedOut::new(&mut y);
    // The weights tap-major, 16 channels per vector: wv[block][tap][lane].
    let taps = p.taps();
    let mut wv = vec![[0.0f32; LANES]; (p.cout / LANES) * taps];
    for co in 0..p.cout {
        for t in 0..taps {
            wv[(co / LANES) * taps + t][co % LANES] = wt[co * taps + t];
        }
    }
    let offsets = Offsets::new(p);
    let image_len = p.cin * p.h * p.w;
    let blocks_of = |i: usize, xp: &[f32], blocks: Range<usize>| {
        for blk in blocks {
            // SAFETY: these channels of image i belong to this task only.
            let yb = unsafe { out.slice((i * p.cout + blk * LANES) * l, LANES * l) };
            let b: [f32; LANES] = std::array::from_fn(|j| bias.map_or(0.0, |b| b[blk * LANES + j]));
            forward_block(xp, &wv[blk * taps..][..taps], &offsets, b, yb);
        }
    };
    let blocks = p.cout / LANES;
    if p.n >= rayon::current_num_threads() {
        // Whole images per task, each padded into the task's buffer.
        let run = |images: Range<usize>| {
            let mut xp = alloc::<f32>(p.padded_len());
            for i in images {
                pad_image(&x[i * image_len..][..image_len], p, &mut xp);
                blocks_of(i, &xp, 0..blocks);
            }
            recycle(xp);
        };
        image_groups(p.n).into_par_iter().for_each(run);
    } else {
        // Fewer images than threads: each image padded once, then one block of 16
        // channels per task.
        let mut xp = alloc::<f32>(p.padded_len());
        for i in 0..p.n {
            pad_image(&x[i * image_len..][..image_len], p, &mut xp);
            (0..blocks)
                .into_par_iter()
                .for_each(|blk| blocks_of(i, &xp, blk..blk + 1));
        }
        recycle(xp);
    }
    y
}

/// The weight gradient `[cout, cin, kh, kw]` from the input `x` and the output gradient
/// `dy` (`[n, cout, oh, ow]`).
pub(crate) fn weight_grad(x: &[f32], dy: &[f32], p: &Plan) -> Vec<f32> {
    let l = p.oh() * p.ow();
    let taps = p.taps();
    let offsets = Offsets::new(p);
    let image_len = p.cin * p.h * p.w;
    let run = |images: &Range<usize>| {
        // dW[block][tap][lane], summed over this task's images.
        let mut acc = vec![[0.0f32; LANES]; (p.cout / LANES) * taps];
        let mut xp = alloc::<f32>(p.padded_len());
        let mut dyt = vec![[0.0f32; LANES]; l];
        for i in images.clone() {
            pad_image(&x[i * image_len..][..image_len], p, &mut xp);
            for blk in 0..p.cout / LANES {
                // dy of the block's 16 channels, pixel-major.
                let g = &dy[(i * p.cout + blk * LANES) * l..][..LANES * l];
                for (px, v) in dyt.iter_mut().enumerate() {
                    for (j, v) in v.iter_mut().enumerate() {
                        *v = g[j * l + px];
                    }
                }
                weight_block(&xp, &dyt, &offsets, &mut acc[blk * taps..][..taps]);
            }
        }
        recycle(xp);
        acc
    };
    let groups = image_groups(p.n);
    let partials: Vec<Vec<[f32; LANES]>> = if groups.len() > 1 {
        groups.par_iter().map(run).collect()
    } else {
        groups.iter().map(run).collect()
    };
    let mut dw = alloc_zeroed::<f32>(p.cout * taps);
    for part in &partials {
        for (bt, v) in part.iter().enumerate() {
            let (blk, t) = (bt / taps, bt % taps);
            for (j, &a) in v.iter().enumerate() {
                dw[(blk * LANES + j) * taps + t] += a;
            }
        }
    }
    dw
}

/// 16 output channels of one image: `y` is `[16, l]`, `wv` `[taps][16]`, `xp` the padded
/// image that `off` was made for.
fn forward_block(xp: &[f32], wv: &[[f32; LANES]], off: &Offsets, b: [f32; LANES], y: &mut [f32]) {
    let l = off.pix.len();
    assert!(y.len() >= LANES * l && wv.len() == off.tap.len());
    assert!(l == 0 || xp.len() > off.tap[off.tap.len() - 1] + off.pix[l - 1]);
    // SAFETY: Plan::supported() (checked by `choose` before it picks these kernels) found
    // AVX-512; the loads stay inside `xp` and the stores inside `y` (asserted above).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        avx512::forward(xp, wv, &off.tap, &off.pix, b, y)
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("Plan::supported() is false off x86-64")
}

/// Adds one image's weight gradient for 16 output channels to `acc` (`[taps][16]`), `dyt`
/// being their output gradient pixel-major (`[l][16]`) and `xp` the padded image that `off`
/// was made for.
fn weight_block(xp: &[f32], dyt: &[[f32; LANES]], off: &Offsets, acc: &mut [[f32; LANES]]) {
    let (taps, l) = (off.tap.len(), off.pix.len());
    assert!(dyt.len() == l && acc.len() == taps);
    assert!(taps == 0 || l == 0 || xp.len() > off.tap[taps - 1] + off.pix[l - 1]);
    // SAFETY: as in forward_block.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        avx512::weight(xp, dyt, &off.tap, &off.pix, acc)
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("Plan::supported() is false off x86-64")
}

/// The kernels, with AVX-512 intrinsics: left to the compiler, the pixel loop became
/// gathers.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{LANES, PIXELS};
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX-512F; `pix_off[p] + tap_off[t] < xp.len()` for all p, t (both offset lists grow
    /// monotonically, so their last entries bound it); `y.len() ≥ 16·l`.
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn forward(
        xp: &[f32],
        wv: &[[f32; LANES]],
        tap_off: &[usize],
        pix_off: &[usize],
        b: [f32; LANES],
        y: &mut [f32],
    ) {
        // SAFETY: the caller's contract (see # Safety).
        unsafe {
            let l = pix_off.len();
            let xpp = xp.as_ptr();
            let bias = _mm512_loadu_ps(b.as_ptr());
            let mut lanes = [0.0f32; LANES];
            for p0 in (0..l).step_by(PIXELS) {
                let n = PIXELS.min(l - p0);
                // Pixels past the end repeat the last one (their sums are dropped).
                let mut base = [0usize; PIXELS];
                for (q, b) in base.iter_mut().enumerate() {
                    *b = pix_off[p0 + q.min(n - 1)];
                }
                let mut a = [bias; PIXELS];
                for (w, &off) in wv.iter().zip(tap_off) {
                    fma_broadcasts(&mut a, _mm512_loadu_ps(w.as_ptr()), xpp.add(off), &base);
                }
                for (q, v) in a.iter().enumerate().take(n) {
                    _mm512_storeu_ps(lanes.as_mut_ptr(), *v);
                    for (j, &c) in lanes.iter().enumerate() {
                        *y.get_unchecked_mut(j * l + p0 + q) = c;
                    }
                }
            }
        }
    }

    /// `a[q] += x0[offs[q]] · v` for each of the [`PIXELS`] registers: one step of both
    /// kernels (a tap over 8 pixels, or a pixel over 8 taps).
    ///
    /// # Safety
    /// AVX-512F; `x0.add(offs[q])` readable for every q.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn fma_broadcasts(
        a: &mut [__m512; PIXELS],
        v: __m512,
        x0: *const f32,
        offs: &[usize; PIXELS],
    ) {
        for q in 0..PIXELS {
            // SAFETY: forwarded from the caller.
            a[q] = _mm512_fmadd_ps(_mm512_set1_ps(unsafe { *x0.add(offs[q]) }), v, a[q]);
        }
    }

    /// # Safety
    /// AVX-512F; `pix_off[p] + tap_off[t] < xp.len()` for all p, t; `acc.len() = taps`,
    /// `dyt.len() = l`.
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn weight(
        xp: &[f32],
        dyt: &[[f32; LANES]],
        tap_off: &[usize],
        pix_off: &[usize],
        acc: &mut [[f32; LANES]],
    ) {
        // SAFETY: the caller's contract (see # Safety).
        unsafe {
            let taps = tap_off.len();
            let xpp = xp.as_ptr();
            for t0 in (0..taps).step_by(PIXELS) {
                let n = PIXELS.min(taps - t0);
                // Taps past the end repeat the last one (their sums are dropped).
                let mut off = [0usize; PIXELS];
                for (q, o) in off.iter_mut().enumerate() {
                    *o = tap_off[t0 + q.min(n - 1)];
                }
                let mut a = [_mm512_setzero_ps(); PIXELS];
                for (g, &base) in dyt.iter().zip(pix_off) {
                    fma_broadcasts(&mut a, _mm512_loadu_ps(g.as_ptr()), xpp.add(base), &off);
                }
                for (q, v) in a.iter().enumerate().take(n) {
                    let dst = acc[t0 + q].as_mut_ptr();
                    _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_loadu_ps(dst), *v));
                }
            }
        }
    }
}
