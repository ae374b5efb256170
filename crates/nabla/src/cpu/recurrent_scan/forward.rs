//! The forward steps of the scan: `a = h·W_hhᵀ` per step, then the cell's gates row by
//! row, saving what the backward pass needs.

use super::{for_each_range, gate_block, sum_act, times_w_t};
use crate::cpu::simd::multiversion;
use crate::cpu::SharedOut;
use crate::dtype::Float;
use crate::ops::recurrent_scan::{Dims, ScanCell};
use crate::storage::alloc;

/// The forward loop: the state after every step `[steps, batch, width·hidden]` and the
/// saved activations `[steps, batch, saved·hidden]`, each range of batch rows on its own
/// thread.
pub(crate) fn scan_forward<T: Float>(
    d: &Dims,
    ranges: &[(usize, usize)],
    xg: &[T],
    w: &[T],
    b: Option<&[T]>,
    h0: &[T],
    c0: Option<&[T]>,
    lengths: Option<&[usize]>,
) -> (Vec<T>, Vec<T>) {
    let (n, gh) = (d.hidden, d.gates_hidden());
    let rows = d.steps * d.batch;
    let mut y = alloc::<T>(rows * d.cell.width() * n);
    let mut saved = alloc::<T>(rows * d.cell.saved() * n);
    // W_hhᵀ laid out row-major once: the per-step products then read it row by row (with W
    // itself, the product repacked all of it at every step: 20% of an LSTM's time).
    let mut wt = alloc::<T>(gh * n);
    for j in 0..gh {
        for k in 0..n {
            wt[k * gh + j] = w[j * n + k];
        }
    }
    let (y_out, saved_out) = (SharedOut::new(&mut y), SharedOut::new(&mut saved));
    let inputs = ScanInputs {
        xg,
        wt: &wt,
        b,
        h0,
        c0,
        lengths,
    };
    for_each_range(ranges, |r| {
        // SAFETY: each range writes only its own rows of y and saved.
        unsafe { forward_rows(d, r, &inputs, y_out, saved_out) }
    });
    crate::storage::recycle(wt);
    (y, saved)
}

/// The read-only inputs of a forward scan.
struct ScanInputs<'a, T> {
    xg: &'a [T],
    /// W_hhᵀ, `[hidden, gates·hidden]`.
    wt: &'a [T],
    b: Option<&'a [T]>,
    h0: &'a [T],
    c0: Option<&'a [T]>,
    lengths: Option<&'a [usize]>,
}

/// The forward loop over batch rows `b0..b1`.
///
/// # Safety
/// `y` and `saved` point to the whole outputs of [`scan_forward`]; no other thread touches
/// rows `b0..b1` of them.
unsafe fn forward_rows<T: Float>(
    d: &Dims,
    (b0, b1): (usize, usize),
    inp: &ScanInputs<'_, T>,
    y: SharedOut<T>,
    saved: SharedOut<T>,
) {
    let (rows, n) = (b1 - b0, d.hidden);
    let gh = d.gates_hidden();
    let width = d.cell.width() * n;
    let saved_w = d.cell.saved() * n;
    let mut a = alloc::<T>(rows * gh);
    for s in 0..d.steps {
        let t = d.t(s);
        let row0 = t * d.batch + b0;
        // SAFETY: this range's rows of step t, which no other reference covers.
        let (yt, st) = unsafe { (y.rows(row0, rows, width), saved.rows(row0, rows, saved_w)) };
        // The previous state: h0/c0, or this range's rows of the previous step (another
        // block of y, written by this thread one step ago).
        let (hp, hp_rs, cp): (&[T], usize, Option<&[T]>) = if s == 0 {
            (
                &inp.h0[b0 * n..b1 * n],
                n,
                inp.c0.map(|c| &c[b0 * n..b1 * n]),
            )
        } else {
            // SAFETY: rows of step t-1, disjoint from `yt`; read only.
            let block: &[T] = unsafe { y.rows(d.t(s - 1) * d.batch + b0, rows, width) };
            (
                block,
                width,
                (d.cell == ScanCell::Lstm).then(|| &block[n..]),
            )
        };
        // Hidden projection a = h·W_hhᵀ (+ b_hh for the GRU); the input gates are added in
        // the point-wise loops.
        let accumulate = match (d.cell, inp.b) {
            (ScanCell::Gru, Some(b)) => {
                a.chunks_mut(gh).for_each(|r| r.copy_from_slice(b));
                true
            }
            _ => false,
        };
        // SAFETY: hp holds `rows` rows of n at stride hp_rs; a is rows × gh.
        unsafe { times_w_t(d, rows, &mut a, accumulate, hp.as_ptr(), hp_rs, inp.wt) };
        let xt = &inp.xg[row0 * gh..(row0 + rows) * gh];
        for bi in 0..rows {
            let ar = &a[bi * gh..(bi + 1) * gh];
            let xr = &xt[bi * gh..(bi + 1) * gh];
            let yr = &mut yt[bi * width..(bi + 1) * width];
            let sr = &mut st[bi * saved_w..(bi + 1) * saved_w];
            let hpr = &hp[bi * hp_rs..bi * hp_rs + n];
            let cpr = cp.map(|c| &c[bi * hp_rs..bi * hp_rs + n]);
            if !d.active(inp.lengths, t, b0 + bi) {
                yr[..n].copy_from_slice(hpr);
                if let Some(c) = cpr {
                    yr[n..].copy_from_slice(c);
                }
                continue;
            }
            match d.cell {
                ScanCell::Tanh => tanh_forward_row(ar, xr, yr),
                ScanCell::Relu => relu_forward_row(ar, xr, yr),
                ScanCell::Lstm => {
                    let (yh, yc) = yr.split_at_mut(n);
                    let cpr = cpr.expect("an LSTM has a cell state");
                    lstm_forward_row(ar, xr, cpr, sr, yh, yc);
                }
                ScanCell::Gru => gru_forward_row(ar, xr, hpr, sr, yr),
            }
        }
    }
    crate::storage::recycle(a);
}

multiversion! {
    /// One row of an Elman step with tanh: `y = tanh(a + x)`.
    fn tanh_forward_row<T: Float>(a: &[T], x: &[T], y: &mut [T]) {
        sum_act(y, a, x, T::tanh_fast);
    }
}

multiversion! {
    /// One row of an Elman step with ReLU: `y = max(a + x, 0)`.
    fn relu_forward_row<T: Float>(a: &[T], x: &[T], y: &mut [T]) {
        sum_act(y, a, x, |v| T::select(v > T::ZERO, v, T::ZERO));
    }
}

multiversion! {
    /// One row of an LSTM step: gates `i, f, g, o = σ, σ, tanh, σ (a + x)` into `gates`
    /// (`[4·hidden]`), then `c = f·c_prev + i·g` and `h = o·tanh(c)`.
    fn lstm_forward_row<T: Float>(
        a: &[T],
        x: &[T],
        c_prev: &[T],
        gates: &mut [T],
        h: &mut [T],
        c: &mut [T],
    ) {
        let n = h.len();
        let (gi, rest) = gates[..4 * n].split_at_mut(n);
        let (gf, rest) = rest.split_at_mut(n);
        let (gg, go) = rest.split_at_mut(n);
        let block = |v, k| gate_block(v, n, k);
        sum_act(gi, block(a, 0), block(x, 0), T::sigmoid_fast);
        sum_act(gf, block(a, 1), block(x, 1), T::sigmoid_fast);
        sum_act(gg, block(a, 2), block(x, 2), T::tanh_fast);
        sum_act(go, block(a, 3), block(x, 3), T::sigmoid_fast);
        let (c_prev, c) = (&c_prev[..n], &mut c[..n]);
        for j in 0..n {
            let cj = gf[j] * c_prev[j] + gi[j] * gg[j];
            c[j] = cj;
            h[j] = go[j] * cj.tanh_fast();
        }
    }
}

multiversion! {
    /// One row of a GRU step, `a = h·W_hhᵀ + b_hh`: `r, z = σ(x + a)`,
    /// `n = tanh(x_n + r·a_n)`, `h' = n + z·(h - n)`; saves `r, z, n, a_n`.
    fn gru_forward_row<T: Float>(a: &[T], x: &[T], h_prev: &[T], saved: &mut [T], y: &mut [T]) {
        let n = y.len();
        let (rz, rest) = saved[..4 * n].split_at_mut(2 * n);
        let (sn, shn) = rest.split_at_mut(n);
        sum_act(rz, &a[..2 * n], &x[..2 * n], T::sigmoid_fast);
        shn.copy_from_slice(&a[2 * n..3 * n]);
        let (r, z) = rz.split_at(n);
        let (xn, h_prev) = (&x[2 * n..3 * n], &h_prev[..n]);
        for j in 0..n {
            let nn = (xn[j] + r[j] * shn[j]).tanh_fast();
            sn[j] = nn;
            y[j] = nn + z[j] * (h_prev[j] - nn);
        }
    }
}
