//! Pooling over 2-D windows: max_pool2d (indices kept for the gradient when it will be
//! asked for, values only otherwise), avg_pool2d and adaptive_avg_pool2d.
//!
//! Each output pixel pools a rectangle of its input plane; the rectangles are computed once
//! per axis ([`Windows`]) and shared by the forward and backward loops.

use super::rule;
use crate::cpu::phases::split_phases;
use crate::cpu::simd::multiversion;
use crate::dtype::{with_float, Element, Float};
use crate::storage::{alloc, alloc_zeroed, recycle};
use crate::{Error, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Arc;

/// Options of [`Tensor::max_pool2d`] and [`Tensor::avg_pool2d`] (square windows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dConfig {
    /// Window size.
    pub kernel: usize,
    /// Step between windows (PyTorch's default is the window size).
    pub stride: usize,
    /// Implicit padding on each side (-inf for max, 0 for average).
    pub padding: usize,
    /// Round the output size up instead of down, so that a last partial window is kept.
    pub ceil_mode: bool,
    /// Average pooling: count padded positions in the divisor (PyTorch's default `true`).
    pub count_include_pad: bool,
}

impl Pool2dConfig {
    /// Windows of `kernel × kernel` with stride `kernel`, no padding.
    pub fn new(kernel: usize) -> Self {
        Pool2dConfig {
            kernel,
            stride: kernel,
            padding: 0,
            ceil_mode: false,
            count_include_pad: true,
        }
    }
    /// The same with another stride.
    pub fn stride(self, stride: usize) -> Self {
        Pool2dConfig { stride, ..self }
    }
    /// The same with padding.
    pub fn padding(self, padding: usize) -> Self {
        Pool2dConfig { padding, ..self }
    }
    /// The same with ceil mode on.
    pub fn ceil_mode(self, ceil_mode: bool) -> Self {
        Pool2dConfig { ceil_mode, ..self }
    }
}

/// The windows along one axis: for output `i`, input positions `start[i]..end[i]` (inside
/// the input) and the window's length counting padding (`padded[i]`).
#[derive(Clone, Debug)]
struct Windows {
    start: Vec<usize>,
    end: Vec<usize>,
    padded: Vec<usize>,
}

impl Windows {
    fn sliding(input: usize, cfg: &Pool2dConfig) -> Option<Windows> {
        let (k, s, p) = (cfg.kernel, cfg.stride, cfg.padding);
        let span = (input + 2 * p).checked_sub(k)?;
        let mut n = if cfg.ceil_mode {
            span.div_ceil(s) + 1
        } else {
            span / s + 1
        };
        // In ceil mode the last window must start inside the input or the left padding.
        if cfg.ceil_mode && (n - 1) * s >= input + p {
            n -= 1;
        }
        let mut w = Windows {
            start: vec![],
            end: vec![],
            padded: vec![],
        };
        for i in 0..n {
            let lo = (i * s) as isize - p as isize;
            let hi_padded = (lo + k as isize).min((input + p) as isize);
            w.padded.push((hi_padded - lo) as usize);
            w.start.push(lo.max(0) as usize);
            w.end
                .push((lo + k as isize).min(input as isize).max(0) as usize);
        }
        Some(w)
    }

    fn adaptive(input: usize, output: usize) -> Windows {
        let start: Vec<usize> = (0..output).map(|i| i * input / output).collect();
        let end: Vec<usize> = (0..output)
            .map(|i| ((i + 1) * input).div_ceil(output))
            .collect();
        let padded = start.iter().zip(&end).map(|(s, e)| e - s).collect();
        Windows { start, end, padded }
    }

    fn len(&self) -> usize {
        self.start.len()
    }
}

/// Pooling geometry of one call.
#[derive(Clone, Debug)]
struct PoolGeometry {
    planes: usize,
    h: usize,
    w: usize,
    rows: Windows,
    cols: Windows,
}

impl PoolGeometry {
    /// Whether every window is a full `k × k` block of the zero-padded image (ResNet's 3×3
    /// stride-2 pooling with padding 1): no window reaches past the padding.
    fn padded_uniform(&self, k: usize) -> bool {
        self.rows
            .padded
            .iter()
            .chain(&self.cols.padded)
            .all(|&p| p == k)
    }

    fn out_plane(&self) -> usize {
        self.rows.len() * self.cols.len()
    }

    /// Whether every window is a full `k × k` block inside the image.
    fn uniform(&self, k: usize) -> bool {
        let full = |w: &Windows| {
            w.start
                .iter()
                .zip(&w.end)
                .zip(&w.padded)
                .all(|((s, e), p)| e - s == k && *p == k)
        };
        full(&self.rows) && full(&self.cols)
    }
}

fn check_4d(op: &'static str, x: &Tensor) -> Result<()> {
    if x.rank() != 4 {
        return Err(Error::UnexpectedShape {
            op,
            expected: "an input of shape [batch, channels, height, width]".into(),
            got: x.shape().clone(),
        });
    }
    Ok(())
}

fn sliding_geometry(op: &'static str, x: &Tensor, cfg: &Pool2dConfig) -> Result<PoolGeometry> {
    check_4d(op, x)?;
    if cfg.kernel == 0 || cfg.stride == 0 {
        return Err(Error::invalid(op, "kernel and stride must be at least 1"));
    }
    if cfg.padding * 2 > cfg.kernel {
        return Err(Error::invalid(
            op,
            format!(
                "padding {} must be at most half the kernel {}",
                cfg.padding, cfg.kernel
            ),
        ));
    }
    let (h, w) = (x.dims()[2], x.dims()[3]);
    let (Some(rows), Some(cols)) = (Windows::sliding(h, cfg), Windows::sliding(w, cfg)) else {
        return Err(Error::invalid(
            op,
            format!(
                "the {0}x{0} window does not fit in the padded input {1}",
                cfg.kernel,
                x.shape()
            ),
        ));
    };
    Ok(PoolGeometry {
        planes: x.dims()[0] * x.dims()[1],
        h,
        w,
        rows,
        cols,
    })
}

/// Runs `f(plane_in, plane_out)` over all planes, in parallel when the work is large.
fn per_plane<T: Float, U: Send>(
    x: &[T],
    in_len: usize,
    out: &mut [U],
    out_len: usize,
    f: impl Fn(&[T], &mut [U]) + Sync,
) {
    if in_len == 0 || out_len == 0 {
        return;
    }
    if x.len() >= crate::cpu::elementwise::PAR_MIN_LEN {
        out.par_chunks_mut(out_len)
            .zip(x.par_chunks(in_len))
            .for_each(|(o, x)| f(x, o));
    } else {
        out.chunks_mut(out_len)
            .zip(x.chunks(in_len))
            .for_each(|(o, x)| f(x, o));
    }
}

/// Max and first argmax of each window, any geometry (padding, partial windows).
fn max_plane_general<T: Float>(x: &[T], g: &PoolGeometry, o: &mut [(T, u32)]) {
    let mut k = 0;
    for oy in 0..g.rows.len() {
        for ox in 0..g.cols.len() {
            let mut best = T::NEG_INFINITY;
            let mut at = g.rows.start[oy] * g.w + g.cols.start[ox];
            for iy in g.rows.start[oy]..g.rows.end[oy] {
                for ix in g.cols.start[ox]..g.cols.end[ox] {
                    let v = x[iy * g.w + ix];
                    if v > best || v.is_nan() {
                        best = v;
                        at = iy * g.w + ix;
                    }
                }
            }
            o[k] = (best, at as u32);
            k += 1;
        }
    }
}

/// The larger of two window entries and its index, the first on ties; NaN wins (PyTorch).
#[inline(always)]
fn pick<T: Float>(a: (T, u32), b: (T, u32)) -> (T, u32) {
    // Branch-free: on random data a branch per comparison mispredicts half the time.
    let take = (b.0 > a.0) | (b.0.is_nan() & !a.0.is_nan());
    let mask = (take as u32).wrapping_neg();
    (T::select(take, b.0, a.0), (b.1 & mask) | (a.1 & !mask))
}

/// 2×2 windows with stride 2 (LeNet, VGG, most CNNs): each output reads its four inputs
/// from two rows directly.
fn max_plane_2x2<T: Float>(x: &[T], g: &PoolGeometry, o: &mut [(T, u32)]) {
    let ow = g.cols.len();
    for (oy, row) in o.chunks_mut(ow.max(1)).enumerate() {
        let (r0, r1) = (2 * oy * g.w, (2 * oy + 1) * g.w);
        for (ox, cell) in row.iter_mut().enumerate() {
            let (i0, i1) = (r0 + 2 * ox, r1 + 2 * ox);
            let top = pick((x[i0], i0 as u32), (x[i0 + 1], i0 as u32 + 1));
            let bottom = pick((x[i1], i1 as u32), (x[i1 + 1], i1 as u32 + 1));
            *cell = pick(top, bottom);
        }
    }
}

multiversion! {
    /// The same for windows that all lie inside the image (no padding, no partial window), `w`
    /// the image width and `ow` the output width. Separable: each input row is first reduced
    /// over the `k` taps of every window column (read from the row split into its `s` stride
    /// phases, so the loads are contiguous and the loops vectorize), then each output row over
    /// the `k` row results. Both passes compare in window order with branch-free selects (random
    /// data makes a branch per comparison mispredict half the time), so ties go to the first
    /// entry in row-major order and the first NaN wins, as in [`pick`].
    fn max_plane_uniform<T: Float>(
        x: &[T],
        w: usize,
        ow: usize,
        k: usize,
        s: usize,
        o: &mut [(T, u32)],
    ) {
        if ow == 0 {
            return;
        }
        let oh = o.len() / ow;
        let (rows, span) = ((oh - 1) * s + k, (ow - 1) * s + k);
        let plen = ow + (k - 1) / s;
        let mut phase = vec![T::ZERO; s * plen];
        let (mut hb, mut ha) = (vec![T::ZERO; rows * ow], vec![0u32; rows * ow]);
        for r in 0..rows {
            split_phases(&x[r * w..][..span], s, 0, &mut phase, plen);
            let (b, a) = (&mut hb[r * ow..][..ow], &mut ha[r * ow..][..ow]);
            // Tap 0 (phase 0 from column 0) starts each window column.
            b.copy_from_slice(&phase[..ow]);
            for (ox, a) in a.iter_mut().enumerate() {
                *a = (r * w + ox * s) as u32;
            }
            for kx in 1..k {
                let src = &phase[(kx % s) * plen + kx / s..][..ow];
                let base = (r * w + kx) as u32;
                for (ox, ((b, a), &v)) in b.iter_mut().zip(a.iter_mut()).zip(src).enumerate() {
                    (*b, *a) = pick((*b, *a), (v, base + (ox * s) as u32));
                }
            }
        }
        let (mut b, mut a) = (vec![T::ZERO; ow], vec![0u32; ow]);
        for (oy, out) in o.chunks_mut(ow).enumerate() {
            b.copy_from_slice(&hb[oy * s * ow..][..ow]);
            a.copy_from_slice(&ha[oy * s * ow..][..ow]);
            for ky in 1..k {
                let r = (oy * s + ky) * ow;
                for (((b, a), &v), &i) in b
                    .iter_mut()
                    .zip(&mut a)
                    .zip(&hb[r..][..ow])
                    .zip(&ha[r..][..ow])
                {
                    (*b, *a) = pick((*b, *a), (v, i));
                }
            }
            for ((cell, &b), &a) in out.iter_mut().zip(&b).zip(&a) {
                *cell = (b, a);
            }
        }
    }
}

/// Output columns per block of [`max_plane_values`]: one AVX-512 vector of f32.
const LANES: usize = 16;

/// The scratch lengths [`max_plane_values`] needs for a plane of `h` rows pooled to `ow`
/// columns with window `k` and stride `s`: the stride phases of one padded row, and the
/// rows' window maxima (rows padded to whole blocks).
fn max_values_scratch(h: usize, ow: usize, k: usize, s: usize) -> (usize, usize) {
    let blocks = ow.div_ceil(LANES) * LANES;
    (s * (blocks + k / s + 1), h * blocks)
}

multiversion! {
    /// Max of each window of one plane, values only: the forward when no gradient will be
    /// asked for (inference, `no_grad`), which needs no argmax. Separable, for any window
    /// geometry. Each input row, between −∞ pads, is split into its `s` stride phases
    /// (`phases[q][j]` = padded column `j·s + q`), so that window tap `kx` of output column
    /// `ox` is `phases[kx mod s][ox + kx / s]`: contiguous in `ox`. Each row's window maxima
    /// go to a row of `hm`, and each output row is the max of the `hm` rows its window
    /// covers. Both passes work on blocks of [`LANES`] output columns held in registers
    /// and stored once: folding into memory tap by tap compiled to masked stores that the
    /// next tap's loads had to wait for (store forwarding fails), 20× slower than the
    /// arithmetic. NaN wins, as in PyTorch. `phases` and `hm` have the lengths
    /// [`max_values_scratch`] gives.
    fn max_plane_values<T: Float>(
        x: &[T],
        w: usize,
        rows: (&[usize], &[usize]),
        ow: usize,
        ksp: (usize, usize, usize),
        phases: &mut [T],
        hm: &mut [T],
        o: &mut [T],
    ) {
        if ow == 0 || w == 0 {
            return;
        }
        let ((k, s, p), h) = (ksp, x.len() / w);
        let blocks = ow.div_ceil(LANES);
        let plen = phases.len() / s;
        // Where each tap starts in `phases` (a division per tap and block cost more than
        // the maxima).
        let taps: Vec<usize> = (0..k).map(|kx| kx % s * plen + kx / s).collect();
        phases.fill(T::NEG_INFINITY);
        for (xr, hr) in x.chunks_exact(w).zip(hm.chunks_exact_mut(blocks * LANES)) {
            // Padded column i + p holds xr[i]; columns past the last window are not needed.
            split_phases(&xr[..w.min(plen * s - p)], s, p, phases, plen);
            let (out_blocks, _) = hr.as_chunks_mut::<LANES>();
            for (b, out) in out_blocks.iter_mut().enumerate() {
                let mut acc = [T::NEG_INFINITY; LANES];
                for &tap in &taps {
                    for (a, &v) in acc.iter_mut().zip(&phases[tap + b * LANES..][..LANES]) {
                        *a = nan_max(*a, v);
                    }
                }
                *out = acc;
            }
        }
        let (hm_blocks, _) = hm.as_chunks::<LANES>();
        for (oy, out) in o.chunks_exact_mut(ow).enumerate() {
            let covered = rows.0[oy]..rows.1[oy].min(h);
            let (full, rest) = out.as_chunks_mut::<LANES>();
            let block_max = |b: usize| {
                let mut acc = [T::NEG_INFINITY; LANES];
                for iy in covered.clone() {
                    for (a, &v) in acc.iter_mut().zip(&hm_blocks[iy * blocks + b]) {
                        *a = nan_max(*a, v);
                    }
                }
                acc
            };
            for (b, out) in full.iter_mut().enumerate() {
                *out = block_max(b);
            }
            if !rest.is_empty() {
                let n = rest.len();
                rest.copy_from_slice(&block_max(full.len())[..n]);
            }
        }
    }
}

/// The larger of two values, NaN winning (PyTorch's max pooling).
#[inline(always)]
fn nan_max<T: Float>(a: T, b: T) -> T {
    T::select((b > a) | b.is_nan(), b, a)
}

/// Windows that are full `k × k` blocks of the padded image: the plane is copied into a
/// buffer padded with −∞, pooled there as [`max_plane_uniform`], and the indices are mapped
/// back to the image. A window whose maximum is −∞ may have picked a padding cell; those few
/// are redone by [`max_plane_general`]'s rule.
fn max_plane_padded<T: Float>(x: &[T], g: &PoolGeometry, cfg: &Pool2dConfig, o: &mut [(T, u32)]) {
    let (k, s, p) = (cfg.kernel, cfg.stride, cfg.padding);
    let (oh, ow) = (g.rows.len(), g.cols.len());
    let (ph, pw) = ((oh - 1) * s + k, (ow - 1) * s + k);
    let mut buf = alloc::<T>(ph * pw);
    buf.fill(T::NEG_INFINITY);
    let cols = g.w.min(pw - p);
    for iy in 0..g.h.min(ph - p) {
        buf[(iy + p) * pw + p..][..cols].copy_from_slice(&x[iy * g.w..][..cols]);
    }
    max_plane_uniform(&buf, pw, ow, k, s, o);
    recycle(buf);
    for (cell_at, cell) in o.iter_mut().enumerate() {
        let (py, px) = (cell.1 as usize / pw, cell.1 as usize % pw);
        let inside = (p..p + g.h).contains(&py) && (p..p + g.w).contains(&px);
        if inside {
            cell.1 = ((py - p) * g.w + px - p) as u32;
        } else {
            let (oy, ox) = (cell_at / ow, cell_at % ow);
            let mut at = g.rows.start[oy] * g.w + g.cols.start[ox];
            'window: for iy in g.rows.start[oy]..g.rows.end[oy] {
                for ix in g.cols.start[ox]..g.cols.end[ox] {
                    if x[iy * g.w + ix] == cell.0 {
                        at = iy * g.w + ix;
                        break 'window;
                    }
                }
            }
            cell.1 = at as u32;
        }
    }
}

fn out_shape(x: &Tensor, g: &PoolGeometry) -> Shape {
    Shape(vec![x.dims()[0], x.dims()[1], g.rows.len(), g.cols.len()])
}

impl Tensor {
    /// Max pooling over `kernel × kernel` windows of each channel. `self` is `[n, c, h, w]`.
    /// The gradient goes to the position of each window's maximum (the first on ties).
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] for a non-4-D input; [`Error::InvalidArgument`] for a
    /// window that does not fit or a zero stride.
    pub fn max_pool2d(&self, cfg: Pool2dConfig) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("max_pool2d", self, self, |x| x.max_pool2d(cfg));
        let g = sliding_geometry("max_pool2d", self, &cfg)?;
        let (in_len, out_len) = (g.h * g.w, g.out_plane());
        if !crate::autograd::records(&[self]) {
            return self.max_pool2d_values(&g, &cfg);
        }
        let uniform = g.uniform(cfg.kernel);
        let padded_uniform = g.padded_uniform(cfg.kernel);
        let (y, idx) = with_float!(self.dtype(), "max_pool2d", T => {
            let mut pairs: Vec<(T, u32)> = vec![(T::ZERO, 0); g.planes * out_len];
            self.with_contiguous::<T, _>("max_pool2d", |x| {
                per_plane(x, in_len, &mut pairs, out_len, |x, o| {
                    if uniform && cfg.kernel == 2 && cfg.stride == 2 {
                        max_plane_2x2(x, &g, o);
                    } else if uniform {
                        max_plane_uniform(x, g.w, g.cols.len(), cfg.kernel, cfg.stride, o);
                    } else if padded_uniform {
                        max_plane_padded(x, &g, &cfg, o);
                    } else {
                        max_plane_general(x, &g, o);
                    }
                })
            })?;
            let mut y = alloc::<T>(pairs.len());
            for (d, p) in y.iter_mut().zip(&pairs) {
                *d = p.0;
            }
            (Tensor::from_data(y, out_shape(self, &g)), Arc::new(pairs.iter().map(|p| p.1).collect::<Vec<u32>>()))
        });
        Ok(y.record(
            rule("MaxPool2DWithIndicesBackward", move |x, _, dy| {
                let gx = with_float!(dy.dtype(), "max_pool2d", T => {
                    let mut gx = alloc::<T>(x[0].numel());
                    dy.with_contiguous::<T, _>("max_pool2d", |dy| {
                        // Each plane zeroes and fills its own gradient: parallel over planes.
                        let scatter = |(p, (gp, dyp)): (usize, (&mut [T], &[T]))| {
                            gp.fill(T::ZERO);
                            for (k, &d) in dyp.iter().enumerate() {
                                gp[idx[p * out_len + k] as usize] += d;
                            }
                        };
                        if out_len == 0 {
                            gx.fill(T::ZERO);
                        } else if in_len > 0 {
                            if gx.len() >= crate::cpu::elementwise::PAR_MIN_LEN {
                                gx.par_chunks_mut(in_len).zip(dy.par_chunks(out_len)).enumerate().for_each(scatter);
                            } else {
                                gx.chunks_mut(in_len).zip(dy.chunks(out_len)).enumerate().for_each(scatter);
                            }
                        }
                    })?;
                    Tensor::from_data(gx, x[0].shape().clone())
                });
                Ok(vec![Some(gx)])
            }),
            &[self],
        ))
    }

    /// [`Tensor::max_pool2d`]'s values without the argmax the gradient needs: the path when
    /// nothing will be recorded. On ResNet-18's 3×3 stride-2 pooling of a 112×112 plane
    /// (padding 1), one thread: 4.2 µs against 27 µs with indices; the whole 1×64×112×112
    /// layer took 1.5 ms on 2 threads before, 7% of ResNet-18's batch-1 latency.
    fn max_pool2d_values(&self, g: &PoolGeometry, cfg: &Pool2dConfig) -> Result<Tensor> {
        let (in_len, out_len, ow) = (g.h * g.w, g.out_plane(), g.cols.len());
        let (k, s) = (cfg.kernel, cfg.stride);
        let (phase_len, hm_len) = max_values_scratch(g.h, ow, k, s);
        with_float!(self.dtype(), "max_pool2d", T => {
            let mut y = alloc::<T>(g.planes * out_len);
            if in_len == 0 {
                // No input to pool (only padding): zeros, as the indexed path gives.
                y.fill(T::ZERO);
            }
            self.with_contiguous::<T, _>("max_pool2d", |x| {
                per_plane(x, in_len, &mut y, out_len, |x, o| {
                    let (mut phases, mut hm) = (alloc::<T>(phase_len), alloc::<T>(hm_len));
                    max_plane_values(
                        x,
                        g.w,
                        (&g.rows.start, &g.rows.end),
                        ow,
                        (k, s, cfg.padding),
                        &mut phases,
                        &mut hm,
                        o,
                    );
                    recycle(phases);
                    recycle(hm);
                })
            })?;
            Ok(Tensor::from_data(y, out_shape(self, g)))
        })
    }

    /// Average pooling over `kernel × kernel` windows. With `count_include_pad` the divisor
    /// counts padded positions (PyTorch's default).
    pub fn avg_pool2d(&self, cfg: Pool2dConfig) -> Result<Tensor> {
        let g = sliding_geometry("avg_pool2d", self, &cfg)?;
        self.average_pool(g, cfg.count_include_pad, "avg_pool2d")
    }

    /// Average pooling to a fixed output size `(oh, ow)`: output pixel `i` averages input rows
    /// `⌊i·h/oh⌋ .. ⌈(i+1)·h/oh⌉` (and likewise for columns), as PyTorch.
    pub fn adaptive_avg_pool2d(&self, output: (usize, usize)) -> Result<Tensor> {
        check_4d("adaptive_avg_pool2d", self)?;
        let (h, w) = (self.dims()[2], self.dims()[3]);
        if output.0 == 0 || output.1 == 0 || (h == 0 || w == 0) {
            return Err(Error::invalid(
                "adaptive_avg_pool2d",
                format!("cannot pool {} to {output:?}", self.shape()),
            ));
        }
        let g = PoolGeometry {
            planes: self.dims()[0] * self.dims()[1],
            h,
            w,
            rows: Windows::adaptive(h, output.0),
            cols: Windows::adaptive(w, output.1),
        };
        self.average_pool(g, false, "adaptive_avg_pool2d")
    }

    fn average_pool(&self, g: PoolGeometry, count_pad: bool, op: &'static str) -> Result<Tensor> {
        crate::ops::half::half_via_f32!(op, self, self, |x| x.average_pool(
            g.clone(),
            count_pad,
            op
        ));
        let (in_len, out_len) = (g.h * g.w, g.out_plane());
        let divisor = move |g: &PoolGeometry, oy: usize, ox: usize| -> f64 {
            if count_pad {
                (g.rows.padded[oy] * g.cols.padded[ox]) as f64
            } else {
                ((g.rows.end[oy] - g.rows.start[oy]) * (g.cols.end[ox] - g.cols.start[ox])).max(1)
                    as f64
            }
        };
        let y = with_float!(self.dtype(), op, T => {
            let mut y = alloc::<T>(g.planes * out_len);
            self.with_contiguous::<T, _>(op, |x| {
                per_plane(x, in_len, &mut y, out_len, |x, o| {
                    for oy in 0..g.rows.len() {
                        for ox in 0..g.cols.len() {
                            let mut s = T::ZERO;
                            for iy in g.rows.start[oy]..g.rows.end[oy] {
                                for &v in &x[iy * g.w + g.cols.start[ox]..iy * g.w + g.cols.end[ox]] {
                                    s += v;
                                }
                            }
                            o[oy * g.cols.len() + ox] = s / T::from_f64(divisor(&g, oy, ox));
                        }
                    }
                })
            })?;
            Tensor::from_data(y, out_shape(self, &g))
        });
        Ok(y.record(
            rule("AvgPool2DBackward", move |x, _, dy| {
                let gx = with_float!(dy.dtype(), op, T => {
                    let mut gx = alloc_zeroed::<T>(x[0].numel());
                    dy.with_contiguous::<T, _>(op, |dy| {
                        for (gp, dyp) in gx.chunks_mut(in_len).zip(dy.chunks(out_len)) {
                            for oy in 0..g.rows.len() {
                                for ox in 0..g.cols.len() {
                                    let share = dyp[oy * g.cols.len() + ox] / T::from_f64(divisor(&g, oy, ox));
                                    for iy in g.rows.start[oy]..g.rows.end[oy] {
                                        for v in &mut gp[iy * g.w + g.cols.start[ox]..iy * g.w + g.cols.end[ox]] {
                                            *v += share;
                                        }
                                    }
                                }
                            }
                        }
                    })?;
                    Tensor::from_data(gx, x[0].shape().clone())
                });
                Ok(vec![Some(gx)])
            }),
            &[self],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};

    fn img() -> Tensor {
        // 4x4 image with values 1..16
        tensor(
            &(1..=16).map(|v| v as f64).collect::<Vec<_>>(),
            &[1, 1, 4, 4],
        )
        .unwrap()
    }

    #[test]
    fn pooling_matches_hand_values() -> Result<()> {
        assert_close(
            &img().max_pool2d(Pool2dConfig::new(2))?,
            &[6.0, 8.0, 14.0, 16.0],
            0.0,
        )?;
        assert_close(
            &img().avg_pool2d(Pool2dConfig::new(2))?,
            &[3.5, 5.5, 11.5, 13.5],
            0.0,
        )?;
        // 3x3 windows, stride 2, padding 1: windows start at rows/cols -1 and 1; the top-left
        // one covers {1,2,5,6}, the next {2,3,4,6,7,8}; every window counts 9 with padding.
        let c = Pool2dConfig::new(3).stride(2).padding(1);
        assert_close(&img().max_pool2d(c)?, &[6.0, 8.0, 14.0, 16.0], 0.0)?;
        assert_close(
            &img().avg_pool2d(c)?,
            &[14.0 / 9.0, 30.0 / 9.0, 57.0 / 9.0, 99.0 / 9.0],
            1e-12,
        )?;
        let no_pad = Pool2dConfig {
            count_include_pad: false,
            ..c
        };
        assert_close(
            &img().avg_pool2d(no_pad)?,
            &[14.0 / 4.0, 30.0 / 6.0, 57.0 / 6.0, 99.0 / 9.0],
            1e-12,
        )?;
        // ceil mode keeps a partial last window: 3x3 stride 2 on 4x4 → 2x2 instead of 1x1
        assert_eq!(
            img().max_pool2d(Pool2dConfig::new(3).stride(2))?.dims(),
            &[1, 1, 1, 1]
        );
        assert_close(
            &img().max_pool2d(Pool2dConfig::new(3).stride(2).ceil_mode(true))?,
            &[11.0, 12.0, 15.0, 16.0],
            0.0,
        )?;
        assert_close(&img().adaptive_avg_pool2d((1, 1))?, &[8.5], 0.0)?;
        // 4 → 3 adaptive: windows 0..2, 1..3, 2..4
        let a = img().adaptive_avg_pool2d((3, 3))?;
        assert_close(&a.narrow(2, 0, 1)?, &[3.5, 4.5, 5.5], 1e-12)
    }

    /// The separable and padded fast paths against the general per-window rule: values and first argmax,
    /// with whole windows of −∞ and NaNs planted.
    #[test]
    fn padded_windows_agree_with_the_general_rule() -> Result<()> {
        let (h, w) = (7, 6);
        let mut x: Vec<f64> = (0..h * w).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
        x[..w + 2].iter_mut().for_each(|v| *v = f64::NEG_INFINITY);
        x[3 * w + 4] = f64::NAN;
        x[5 * w + 1] = 40.0;
        x[5 * w + 2] = 40.0;
        let t = tensor(&x, &[1, 1, h, w])?;
        let padded = [(3, 2, 1), (2, 2, 1), (3, 1, 1), (5, 2, 2), (4, 3, 2)];
        let unpadded = [(3, 2, 0), (3, 1, 0), (2, 1, 0), (4, 3, 0), (1, 1, 0)];
        for (k, s, p) in padded.into_iter().chain(unpadded) {
            let cfg = Pool2dConfig::new(k).stride(s).padding(p);
            let g = super::sliding_geometry("test", &t, &cfg)?;
            assert!(g.padded_uniform(k) && g.uniform(k) == (p == 0), "{cfg:?}");
            let n = g.out_plane();
            let (mut fast, mut slow) = (vec![(0.0, 0); n], vec![(0.0, 0); n]);
            if p == 0 {
                super::max_plane_uniform(&x, w, g.cols.len(), k, s, &mut fast);
            } else {
                super::max_plane_padded(&x, &g, &cfg, &mut fast);
            }
            super::max_plane_general(&x, &g, &mut slow);
            for (i, (f, s)) in fast.iter().zip(&slow).enumerate() {
                let same = f.1 == s.1 && (f.0 == s.0 || (f.0.is_nan() && s.0.is_nan()));
                assert!(same, "{cfg:?} output {i}: fast {f:?}, general {s:?}");
            }
        }
        Ok(())
    }

    /// The values-only forward (nothing recorded) against the indexed one, for strides 1–3
    /// (the three phase layouts), paddings 0–2, ceil mode, rows wider than one block of
    /// lanes, and planted NaNs and −∞ windows, in f32 and f64.
    #[test]
    fn values_only_pooling_agrees_with_the_indexed_forward() -> Result<()> {
        let (h, w) = (9, 37);
        let mut x: Vec<f64> = (0..2 * h * w)
            .map(|i| ((i * 7919) % 23) as f64 - 11.0)
            .collect();
        x[..w + 3].iter_mut().for_each(|v| *v = f64::NEG_INFINITY);
        x[4 * w + 17] = f64::NAN;
        x[h * w + 2 * w + 30] = f64::NAN;
        use crate::cpu::simd::{with_level, Level};
        for (dtype, level) in [
            (crate::DType::F64, Level::Avx512),
            (crate::DType::F32, Level::Avx512),
            (crate::DType::F32, Level::Baseline),
        ] {
            let t = tensor(&x, &[1, 2, h, w])?.to_dtype(dtype)?;
            for (k, s, p) in [
                (3, 2, 1),
                (2, 2, 0),
                (3, 1, 1),
                (1, 1, 0),
                (5, 3, 2),
                (4, 2, 2),
            ] {
                for ceil in [false, true] {
                    let cfg = Pool2dConfig::new(k).stride(s).padding(p).ceil_mode(ceil);
                    // Small enough to run on this thread, where the level applies.
                    let fast = with_level(level, || t.max_pool2d(cfg))?;
                    let indexed = t.clone().requires_grad().max_pool2d(cfg)?;
                    assert_eq!(fast.dims(), indexed.dims(), "{cfg:?}");
                    let (a, b) = (fast.to_vec::<f64>()?, indexed.to_vec::<f64>()?);
                    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
                        let same = a == b || (a.is_nan() && b.is_nan());
                        assert!(
                            same,
                            "{dtype:?} {level:?} {cfg:?} output {i}: {a} against {b}"
                        );
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn pooling_rejects_bad_configs() -> Result<()> {
        assert!(img().max_pool2d(Pool2dConfig::new(5)).is_err());
        assert!(img().max_pool2d(Pool2dConfig::new(2).stride(0)).is_err());
        assert!(img().max_pool2d(Pool2dConfig::new(2).padding(2)).is_err());
        assert!(img()
            .reshape(&[4, 4])?
            .avg_pool2d(Pool2dConfig::new(2))
            .is_err());
        assert!(img().adaptive_avg_pool2d((0, 1)).is_err());
        Ok(())
    }

    #[test]
    fn pooling_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[2, 2, 5, 5]], |x| x[0].max_pool2d(Pool2dConfig::new(2)))?;
        gradcheck(&[&[1, 2, 5, 5]], |x| {
            x[0].max_pool2d(Pool2dConfig::new(3).stride(2).padding(1))
        })?;
        gradcheck(&[&[1, 2, 6, 6]], |x| {
            x[0].max_pool2d(Pool2dConfig::new(3).stride(2).ceil_mode(true))
        })?;
        gradcheck(&[&[2, 2, 5, 5]], |x| {
            x[0].avg_pool2d(Pool2dConfig::new(3).stride(2).padding(1))
        })?;
        gradcheck(&[&[1, 2, 5, 5]], |x| {
            x[0].avg_pool2d(Pool2dConfig {
                count_include_pad: false,
                ..Pool2dConfig::new(3).stride(2).padding(1)
            })
        })?;
        gradcheck(&[&[1, 2, 7, 5]], |x| x[0].adaptive_avg_pool2d((3, 2)))?;
        let nc = GradcheckOpts {
            non_contiguous: true,
            ..Default::default()
        };
        gradcheck_with(&[&[2, 2, 4, 4]], nc, |x| {
            x[0].max_pool2d(Pool2dConfig::new(2))
        })
    }
}
