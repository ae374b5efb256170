//! Pooling kernels on host memory, one image plane at a time: max pooling with the first
//! argmax of each window (for the gradient) or values only, average pooling, and their
//! gradients. The windows come from the op's [`PoolGeometry`].

use crate::cpu::phases::split_phases;
use crate::cpu::simd::multiversion;
use crate::dtype::Float;
use crate::ops::pool::{Pool2dConfig, PoolGeometry};
use crate::storage::{alloc, alloc_zeroed, recycle};
use rayon::prelude::*;

/// Runs `f(plane_in, plane_out)` over all planes, in parallel when the work is large.
pub(crate) fn per_plane<T: Float, U: Send>(
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
pub(crate) fn max_plane_general<T: Float>(x: &[T], g: &PoolGeometry, o: &mut [(T, u32)]) {
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
pub(crate) fn max_plane_2x2<T: Float>(x: &[T], g: &PoolGeometry, o: &mut [(T, u32)]) {
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
    pub(crate) fn max_plane_uniform<T: Float>(
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
pub(crate) fn max_values_scratch(h: usize, ow: usize, k: usize, s: usize) -> (usize, usize) {
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
    pub(crate) fn max_plane_values<T: Float>(
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
pub(crate) fn max_plane_padded<T: Float>(
    x: &[T],
    g: &PoolGeometry,
    cfg: &Pool2dConfig,
    o: &mut [(T, u32)],
) {
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

/// The max of each window and its first argmax in the plane, `[planes, oh, ow]` both: the
/// fastest rule that fits the windows (2×2 stride 2, full blocks, full blocks of the padded
/// image, or any window).
pub(crate) fn max_with_indices<T: Float>(
    x: &[T],
    g: &PoolGeometry,
    cfg: &Pool2dConfig,
) -> (Vec<T>, Vec<u32>) {
    let (in_len, out_len) = (g.h * g.w, g.out_plane());
    let uniform = g.uniform(cfg.kernel);
    let padded_uniform = g.padded_uniform(cfg.kernel);
    let mut pairs: Vec<(T, u32)> = vec![(T::ZERO, 0); g.planes * out_len];
    per_plane(x, in_len, &mut pairs, out_len, |x, o| {
        if uniform && cfg.kernel == 2 && cfg.stride == 2 {
            max_plane_2x2(x, g, o);
        } else if uniform {
            max_plane_uniform(x, g.w, g.cols.len(), cfg.kernel, cfg.stride, o);
        } else if padded_uniform {
            max_plane_padded(x, g, cfg, o);
        } else {
            max_plane_general(x, g, o);
        }
    });
    let mut y = alloc::<T>(pairs.len());
    for (d, p) in y.iter_mut().zip(&pairs) {
        *d = p.0;
    }
    (y, pairs.iter().map(|p| p.1).collect())
}

/// The max of each window without its argmax (nothing will be recorded): on ResNet-18's
/// 3×3 stride-2 pooling of a 112×112 plane (padding 1), one thread: 4.2 µs against 27 µs
/// with indices.
pub(crate) fn max_values<T: Float>(x: &[T], g: &PoolGeometry, cfg: &Pool2dConfig) -> Vec<T> {
    let (in_len, out_len, ow) = (g.h * g.w, g.out_plane(), g.cols.len());
    let (k, s) = (cfg.kernel, cfg.stride);
    let (phase_len, hm_len) = max_values_scratch(g.h, ow, k, s);
    let mut y = alloc::<T>(g.planes * out_len);
    if in_len == 0 {
        // No input to pool (only padding): zeros, as the indexed path gives.
        y.fill(T::ZERO);
    }
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
    });
    y
}

/// The gradient of max pooling: each output's gradient added at its window's argmax
/// (`idx`, per plane), zeros elsewhere; `[planes, h, w]`.
pub(crate) fn max_backward<T: Float>(dy: &[T], idx: &[u32], g: &PoolGeometry) -> Vec<T> {
    let (in_len, out_len) = (g.h * g.w, g.out_plane());
    let mut gx = alloc::<T>(g.planes * in_len);
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
            gx.par_chunks_mut(in_len)
                .zip(dy.par_chunks(out_len))
                .enumerate()
                .for_each(scatter);
        } else {
            gx.chunks_mut(in_len)
                .zip(dy.chunks(out_len))
                .enumerate()
                .for_each(scatter);
        }
    }
    gx
}

/// Average pooling: each output the mean of its window, the divisor counting padded
/// positions with `count_pad` (PyTorch's default) or only the inside ones.
pub(crate) fn avg_forward<T: Float>(x: &[T], g: &PoolGeometry, count_pad: bool) -> Vec<T> {
    let (in_len, out_len) = (g.h * g.w, g.out_plane());
    let mut y = alloc::<T>(g.planes * out_len);
    per_plane(x, in_len, &mut y, out_len, |x, o| {
        for oy in 0..g.rows.len() {
            for ox in 0..g.cols.len() {
                let mut s = T::ZERO;
                for iy in g.rows.start[oy]..g.rows.end[oy] {
                    for &v in &x[iy * g.w + g.cols.start[ox]..iy * g.w + g.cols.end[ox]] {
                        s += v;
                    }
                }
                o[oy * g.cols.len() + ox] = s / T::from_f64(g.divisor(oy, ox, count_pad));
            }
        }
    });
    y
}

/// The gradient of [`avg_forward`]: each output's gradient shared evenly over its window.
pub(crate) fn avg_backward<T: Float>(dy: &[T], g: &PoolGeometry, count_pad: bool) -> Vec<T> {
    let (in_len, out_len) = (g.h * g.w, g.out_plane());
    let mut gx = alloc_zeroed::<T>(g.planes * in_len);
    for (gp, dyp) in gx.chunks_mut(in_len.max(1)).zip(dy.chunks(out_len.max(1))) {
        for oy in 0..g.rows.len() {
            for ox in 0..g.cols.len() {
                let share = dyp[oy * g.cols.len() + ox] / T::from_f64(g.divisor(oy, ox, count_pad));
                for iy in g.rows.start[oy]..g.rows.end[oy] {
                    for v in &mut gp[iy * g.w + g.cols.start[ox]..iy * g.w + g.cols.end[ox]] {
                        *v += share;
                    }
                }
            }
        }
    }
    gx
}
