//! Batch norm's kernels on host memory: per channel, the statistics and the normalized
//! output in one pass while the channel is in cache, and the backward pass in two.

use crate::cpu::elementwise::PAR_MIN_LEN;
use crate::cpu::reduce::{sum_slice, sum_zip};
use crate::cpu::simd::vectorized;
use crate::cpu::SharedOut;
use crate::dtype::Float;
use crate::ops::batch_norm::batch_norm_affine;
use crate::storage::alloc;
use rayon::prelude::*;

/// A contiguous `[n, c, inner]` buffer seen channel by channel: channel `k` is the `n` rows
/// `x[(i·c + k)·inner ..][.. inner]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Channels {
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) inner: usize,
}

impl Channels {
    /// The `n` rows of channel `k`.
    pub(crate) fn rows<T>(self, x: &[T], k: usize) -> impl Iterator<Item = &[T]> {
        (0..self.n).map(move |i| &x[(i * self.c + k) * self.inner..][..self.inner])
    }
    /// Values per channel: `n · inner`.
    pub(crate) fn count(self) -> usize {
        self.n * self.inner
    }
    /// `f(k)` for every channel, on the pool when the tensor is large.
    pub(crate) fn map<R: Send>(self, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
        if self.n * self.c * self.inner >= PAR_MIN_LEN && self.c > 1 {
            (0..self.c).into_par_iter().map(f).collect()
        } else {
            (0..self.c).map(f).collect()
        }
    }
}

/// The normalized output and each channel's `(mean, biased variance)`: the batch's when
/// `stats` is `None`, else `stats` itself.
pub(crate) fn forward<T: Float>(
    x: &[T],
    ch: Channels,
    stats: Option<&[(f64, f64)]>,
    gamma: Option<&[f64]>,
    beta: Option<&[f64]>,
    eps: f64,
) -> (Vec<T>, Vec<(f64, f64)>) {
    let mut y = alloc::<T>(x.len());
    let out = SharedOut::new(&mut y);
    let count = ch.count().max(1) as f64;
    let mean_var = ch.map(|k| {
        let (mean, var) = match stats {
            Some(s) => s[k],
            None => {
                let mean = ch.rows(x, k).map(|r| sum_slice(r).to_f64()).sum::<f64>() / count;
                let m = T::from_f64(mean);
                let var = ch
                    .rows(x, k)
                    .map(|r| sum_sq_dev(r, m).to_f64())
                    .sum::<f64>()
                    / count;
                (mean, var)
            }
        };
        let (scale, shift) = batch_norm_affine(
            mean,
            var,
            gamma.map_or(1.0, |g| g[k]),
            beta.map_or(0.0, |b| b[k]),
            eps,
        );
        let (scale, shift) = (T::from_f64(scale), T::from_f64(shift));
        for (i, row) in ch.rows(x, k).enumerate() {
            // SAFETY: row i of channel k is written by this task only.
            let dst = unsafe { out.slice((i * ch.c + k) * ch.inner, ch.inner) };
            // Compiled for the CPU's vector width (the crate builds for baseline x86-64).
            vectorized(
                #[inline(always)]
                || {
                    for (d, &v) in dst.iter_mut().zip(row) {
                        *d = v * scale + shift;
                    }
                },
            );
        }
        (mean, var)
    });
    (y, mean_var)
}

/// The input gradient (when `want_x`) and each channel's `(∂L/∂γ, ∂L/∂β)`, from the input
/// `x`, the output gradient `g`, each channel's `(μ, s)` and γ. `batch_stats`: whether μ and
/// s were the batch's (then they depend on `x`).
pub(crate) fn backward<T: Float>(
    x: &[T],
    g: &[T],
    ch: Channels,
    mean_inv: &[(f64, f64)],
    gamma: Option<&[f64]>,
    batch_stats: bool,
    want_x: bool,
) -> (Option<Vec<T>>, Vec<(f64, f64)>) {
    let mut dx = want_x.then(|| alloc::<T>(x.len()));
    let out = dx.as_deref_mut().map(SharedOut::new);
    let count = ch.count().max(1) as f64;
    let dgb = ch.map(|k| {
        let (mean, inv) = mean_inv[k];
        let m = T::from_f64(mean);
        let rows = || ch.rows(x, k).zip(ch.rows(g, k));
        // Σg and Σ g·(x − μ); then Σ g·x̂ = s·Σ g·(x − μ).
        let sum_g: f64 = ch.rows(g, k).map(|r| sum_slice(r).to_f64()).sum();
        let sum_gd: f64 = rows()
            .map(|(xr, gr)| sum_prod_dev(gr, xr, m).to_f64())
            .sum();
        let d_gamma = sum_gd * inv;
        if let Some(out) = out {
            // dx = k·g + c1·x + c0 with k = γ·s; with batch statistics
            // c1 = −k·s²·Σg(x − μ)/N and c0 = −k·Σg/N − c1·μ, else c1 = c0 = 0.
            let kg = gamma.map_or(1.0, |g| g[k]) * inv;
            let (c1, c0) = if batch_stats {
                let c1 = -kg * inv * inv * sum_gd / count;
                (c1, -kg * sum_g / count - c1 * mean)
            } else {
                (0.0, 0.0)
            };
            let (kg, c1, c0) = (T::from_f64(kg), T::from_f64(c1), T::from_f64(c0));
            for (i, (xr, gr)) in rows().enumerate() {
                // SAFETY: row i of channel k is written by this task only.
                let dst = unsafe { out.slice((i * ch.c + k) * ch.inner, ch.inner) };
                for ((d, &xv), &gv) in dst.iter_mut().zip(xr).zip(gr) {
                    *d = kg * gv + (c1 * xv + c0);
                }
            }
        }
        (d_gamma, sum_g)
    });
    (dx, dgb)
}

/// Σ (x − m)².
fn sum_sq_dev<T: Float>(x: &[T], m: T) -> T {
    sum_zip(x, x, |v, _| (v - m) * (v - m))
}

/// Σ g·(x − m).
fn sum_prod_dev<T: Float>(g: &[T], x: &[T], m: T) -> T {
    sum_zip(g, x, |gv, xv| gv * (xv - m))
}
