//! A whole recurrent layer direction as one op: the time loop of an RNN, LSTM or GRU with
//! backpropagation through time written out by hand.
//!
//! Autograd over an unrolled loop records several nodes per step and, in backward, one small
//! weight-gradient product per step plus a sum of them. Here the forward runs the steps
//! with one `h·W_hhᵀ` product each, saving the gate activations; the backward walks the steps
//! in reverse with one `∂gates·W_hh` product each, and finishes with a single large product
//! `∂W_hh = Σ_t ∂gates_tᵀ·h_{t-1}` over all steps at once (as cuDNN does).

use super::rule;
use crate::autocast::Precision;
use crate::cpu::gemm::{gemm, MatRef};
use crate::cpu::simd::multiversion;
use crate::cpu::SharedOut;
use crate::dtype::{with_float, Float};
use crate::storage::alloc;
use crate::{Error, Result, Shape, Tensor};

/// The recurrence of [`Tensor::recurrent_scan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanCell {
    /// `h' = tanh(a)`, `a = xg + h·W_hhᵀ` (biases folded into `xg`).
    Tanh,
    /// `h' = relu(a)`.
    Relu,
    /// LSTM, gates i, f, g, o; `c' = f·c + i·g`, `h' = o·tanh(c')`.
    Lstm,
    /// GRU, gates r, z, n; `n = tanh(xg_n + r·(W_hn h + b_hn))`, `h' = (1 - z)·n + z·h`.
    Gru,
}

impl ScanCell {
    fn gates(self) -> usize {
        match self {
            ScanCell::Tanh | ScanCell::Relu => 1,
            ScanCell::Lstm => 4,
            ScanCell::Gru => 3,
        }
    }
    /// Values saved per unit per step for the backward pass.
    fn saved(self) -> usize {
        match self {
            ScanCell::Tanh | ScanCell::Relu => 0,
            ScanCell::Lstm | ScanCell::Gru => 4,
        }
    }
    /// Width of the output per unit: `h` and, for the LSTM, `c`.
    fn width(self) -> usize {
        if self == ScanCell::Lstm {
            2
        } else {
            1
        }
    }
}

/// The sizes and options of one scan.
#[derive(Clone, Copy)]
struct Dims {
    cell: ScanCell,
    steps: usize,
    batch: usize,
    hidden: usize,
    reverse: bool,
    /// The precision of the products ([`crate::autocast`]), kept for the backward pass.
    prec: Precision,
}

impl Dims {
    /// The time index of the `s`-th step processed.
    fn t(&self, s: usize) -> usize {
        if self.reverse {
            self.steps - 1 - s
        } else {
            s
        }
    }
}

impl Tensor {
    /// Runs a recurrent cell over a whole sequence (one layer, one direction).
    ///
    /// - `xg`: `[time, batch, gates·hidden]`, the input projection `x·W_ihᵀ + b_ih` of every
    ///   step (plus `b_hh` except for the GRU);
    /// - `w_hh`: `[gates·hidden, hidden]`; `b_hh`: `[gates·hidden]`, GRU only (optional);
    /// - `h0` (and `c0` for the LSTM): `[batch, hidden]`;
    /// - `lengths`: per sequence, the number of real steps; at `t ≥ lengths[b]` the state of
    ///   sequence `b` is carried unchanged;
    /// - `reverse`: process steps from the last to the first.
    ///
    /// Returns the state after every step, `[time, batch, hidden]` — `[time, batch, 2·hidden]`
    /// with `h` then `c` for the LSTM. Gate orders are PyTorch's.
    ///
    /// # Errors
    /// Shape and dtype mismatches; lengths of the wrong count or above `time`.
    #[allow(clippy::too_many_arguments)]
    pub fn recurrent_scan(
        cell: ScanCell,
        xg: &Tensor,
        w_hh: &Tensor,
        b_hh: Option<&Tensor>,
        h0: &Tensor,
        c0: Option<&Tensor>,
        lengths: Option<&[usize]>,
        reverse: bool,
    ) -> Result<Tensor> {
        crate::ops::half::half_via_f32!(
            "recurrent_scan",
            xg,
            (xg, w_hh, b_hh, h0, c0),
            |(xg, w, b, h0, c0)| Tensor::recurrent_scan(
                cell,
                &xg,
                &w,
                b.as_ref(),
                &h0,
                c0.as_ref(),
                lengths,
                reverse
            )
        );
        let d = check_scan(cell, xg, w_hh, b_hh, h0, c0, lengths, reverse)?;
        let lengths: Option<Vec<usize>> = lengths.map(<[usize]>::to_vec);
        crate::macs::add_macs(d.steps * d.batch * d.gates_hidden() * d.hidden);
        let (y, saved) = with_float!(xg.dtype(), "recurrent_scan", T => {
            let w = w_hh.contiguous_vec::<T>("recurrent_scan")?;
            let b = match b_hh {
                Some(b) => Some(b.contiguous_vec::<T>("recurrent_scan")?),
                None => None,
            };
            let h0v = h0.contiguous_vec::<T>("recurrent_scan")?;
            let c0v = match c0 {
                Some(c) => Some(c.contiguous_vec::<T>("recurrent_scan")?),
                None => None,
            };
            // The input gates are borrowed (they are the largest input), the rest copied.
            let (y, saved) = xg.with_contiguous::<T, _>("recurrent_scan", |xg_v| {
                let ranges = batch_ranges(d.batch);
                scan_forward(&d, &ranges, xg_v, &w, b.as_deref(), &h0v, c0v.as_deref(), lengths.as_deref())
            })?;
            for v in [w, h0v].into_iter().chain(b).chain(c0v) {
                crate::storage::recycle(v);
            }
            (
                Tensor::from_data(y, Shape(vec![d.steps, d.batch, cell.width() * d.hidden])),
                Tensor::from_data(saved, Shape(vec![d.steps * d.batch * cell.saved() * d.hidden])),
            )
        });
        let mut inputs = vec![xg, w_hh, h0];
        inputs.extend(c0);
        inputs.extend(b_hh);
        let has_bias = b_hh.is_some();
        Ok(y.record(
            rule("RecurrentScanBackward", move |x, y, g| {
                with_float!(g.dtype(), "recurrent_scan", T => {
                    let w = x[1].contiguous_vec::<T>("recurrent_scan")?;
                    let h0 = x[2].contiguous_vec::<T>("recurrent_scan")?;
                    let c0 = if cell == ScanCell::Lstm {
                        Some(x[3].contiguous_vec::<T>("recurrent_scan")?)
                    } else {
                        None
                    };
                    let grads = y.with_contiguous::<T, _>("recurrent_scan", |yv| {
                        saved.with_contiguous::<T, _>("recurrent_scan", |sv| {
                            g.with_contiguous::<T, _>("recurrent_scan", |gv| {
                                let saved = ScanSaved {
                                    w: &w,
                                    h0: &h0,
                                    c0: c0.as_deref(),
                                    y: yv,
                                    saved: sv,
                                    g: gv,
                                    lengths: lengths.as_deref(),
                                };
                                scan_backward(&d, &batch_ranges(d.batch), &saved)
                            })
                        })
                    })???;
                    let dims = |s: &[usize]| Shape(s.to_vec());
                    let gh = d.gates_hidden();
                    let mut out = vec![
                        Some(Tensor::from_data(grads.dxg, dims(&[d.steps, d.batch, gh]))),
                        Some(Tensor::from_data(grads.dw, dims(&[gh, d.hidden]))),
                        Some(Tensor::from_data(grads.dh0, dims(&[d.batch, d.hidden]))),
                    ];
                    if let Some(dc0) = grads.dc0 {
                        out.push(Some(Tensor::from_data(dc0, dims(&[d.batch, d.hidden]))));
                    }
                    if has_bias {
                        out.push(grads.db.map(|db| Tensor::from_data(db, dims(&[gh]))));
                    }
                    Ok(out)
                })
            }),
            &inputs,
        ))
    }
}

impl Dims {
    fn gates_hidden(&self) -> usize {
        self.cell.gates() * self.hidden
    }
    fn active(&self, lengths: Option<&[usize]>, t: usize, b: usize) -> bool {
        match lengths {
            Some(l) => t < l[b],
            None => true,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_scan(
    cell: ScanCell,
    xg: &Tensor,
    w_hh: &Tensor,
    b_hh: Option<&Tensor>,
    h0: &Tensor,
    c0: Option<&Tensor>,
    lengths: Option<&[usize]>,
    reverse: bool,
) -> Result<Dims> {
    let op = "recurrent_scan";
    let bad = |expected: String, got: &Tensor| Error::UnexpectedShape {
        op,
        expected,
        got: got.shape().clone(),
    };
    if h0.rank() != 2 {
        return Err(bad("h0 of shape [batch, hidden]".into(), h0));
    }
    let (batch, hidden) = (h0.dims()[0], h0.dims()[1]);
    let gh = cell.gates() * hidden;
    if xg.rank() != 3 || xg.dims()[1..] != [batch, gh] {
        return Err(bad(
            format!("input gates of shape [time, {batch}, {gh}]"),
            xg,
        ));
    }
    if w_hh.dims() != [gh, hidden] {
        return Err(bad(format!("w_hh of shape [{gh}, {hidden}]"), w_hh));
    }
    if let Some(b) = b_hh {
        if cell != ScanCell::Gru || b.dims() != [gh] {
            return Err(bad(format!("b_hh of shape [{gh}] (GRU only)"), b));
        }
    }
    match (cell == ScanCell::Lstm, c0) {
        (true, Some(c)) if c.dims() != h0.dims() => {
            return Err(bad(format!("c0 of shape [{batch}, {hidden}]"), c))
        }
        (true, None) => return Err(Error::invalid(op, "an LSTM needs c0")),
        (false, Some(_)) => return Err(Error::invalid(op, "only an LSTM has c0")),
        _ => {}
    }
    for t in [w_hh, h0].into_iter().chain(b_hh).chain(c0) {
        if t.dtype() != xg.dtype() {
            return Err(Error::DType {
                op,
                expected: xg.dtype(),
                got: t.dtype(),
            });
        }
    }
    let steps = xg.dims()[0];
    if let Some(l) = lengths {
        if l.len() != batch || l.iter().any(|&n| n > steps) {
            return Err(Error::invalid(
                op,
                format!("need {batch} lengths of at most {steps}, got {l:?}"),
            ));
        }
    }
    Ok(Dims {
        cell,
        steps,
        batch,
        hidden,
        reverse,
        prec: crate::autocast::current(),
    })
}

/// `dst[rows, gh] (+)= h[rows, hidden] (row stride h_rs) · W_hhᵀ`.
///
/// # Safety
/// Pointers valid for the shapes.
unsafe fn times_w_t<T: Float>(
    d: &Dims,
    rows: usize,
    dst: &mut [T],
    accumulate: bool,
    h: *const T,
    h_rs: usize,
    wt: &[T],
) {
    let gh = d.gates_hidden();
    // SAFETY: caller's contract; `wt` is W_hhᵀ, row-major [hidden, gh].
    unsafe {
        gemm(
            rows,
            gh,
            d.hidden,
            dst.as_mut_ptr(),
            gh as isize,
            accumulate,
            MatRef {
                ptr: h,
                rs: h_rs as isize,
                cs: 1,
            },
            MatRef {
                ptr: wt.as_ptr(),
                rs: gh as isize,
                cs: 1,
            },
            false,
            d.prec,
        )
    }
}

/// Ranges of batch rows that run their recurrences on separate threads: the rows of a
/// batch are independent until the weight gradient, so splitting them avoids a thread
/// hand-off at every step (measured: the per-step products are too small to split).
/// At least 8 rows per range.
fn batch_ranges(batch: usize) -> Vec<(usize, usize)> {
    let k = rayon::current_num_threads().min(batch / 8).max(1);
    (0..k)
        .map(|c| (c * batch / k, (c + 1) * batch / k))
        .collect()
}

/// Runs `part` for every range, on separate threads when there are several.
fn for_each_range(ranges: &[(usize, usize)], part: impl Fn((usize, usize)) + Sync) {
    use rayon::prelude::*;
    if let [r] = ranges {
        part(*r);
    } else {
        ranges.par_iter().for_each(|&r| part(r));
    }
}

/// The forward loop: the state after every step `[steps, batch, width·hidden]` and the
/// saved activations `[steps, batch, saved·hidden]`, each range of batch rows on its own
/// thread.
fn scan_forward<T: Float>(
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

/// Gate block `k` (of width `n`) of a row of gates.
#[inline(always)]
fn gate_block<T>(row: &[T], n: usize, k: usize) -> &[T] {
    &row[k * n..(k + 1) * n]
}

/// `out = f(a + x)` element by element.
#[inline(always)]
fn sum_act<T: Float>(out: &mut [T], a: &[T], x: &[T], f: impl Fn(T) -> T) {
    for ((o, &a), &x) in out.iter_mut().zip(a).zip(x) {
        *o = f(a + x);
    }
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

/// Gradients of one scan.
struct ScanGrads<T> {
    dxg: Vec<T>,
    dw: Vec<T>,
    dh0: Vec<T>,
    dc0: Option<Vec<T>>,
    db: Option<Vec<T>>,
}

/// The saved forward pass and the output gradient that a backward scan reads.
struct ScanSaved<'a, T> {
    w: &'a [T],
    h0: &'a [T],
    c0: Option<&'a [T]>,
    y: &'a [T],
    saved: &'a [T],
    /// `∂L/∂y`.
    g: &'a [T],
    lengths: Option<&'a [usize]>,
}

/// The outputs that the threads of a backward scan write together.
#[derive(Clone, Copy)]
struct BackwardOut<T> {
    dxg: SharedOut<T>,
    /// GRU: ∂ of the hidden projection per step.
    dhg: SharedOut<T>,
    dh0: SharedOut<T>,
    dc0: SharedOut<T>,
}

/// Backpropagation through time over the saved forward pass, each range of batch rows on
/// its own thread, then one product over all steps for `∂W_hh` (as cuDNN does).
fn scan_backward<T: Float>(
    d: &Dims,
    ranges: &[(usize, usize)],
    sv: &ScanSaved<'_, T>,
) -> ScanGrads<T> {
    let (bsz, n) = (d.batch, d.hidden);
    let gh = d.gates_hidden();
    let is_gru = d.cell == ScanCell::Gru;
    let is_lstm = d.cell == ScanCell::Lstm;
    let mut dxg = alloc::<T>(d.steps * bsz * gh);
    let mut dhg = if is_gru {
        alloc::<T>(d.steps * bsz * gh)
    } else {
        Vec::new()
    };
    let mut dh0 = alloc::<T>(bsz * n);
    let mut dc0 = if is_lstm {
        alloc::<T>(bsz * n)
    } else {
        Vec::new()
    };
    let out = BackwardOut {
        dxg: SharedOut::new(&mut dxg),
        dhg: SharedOut::new(&mut dhg),
        dh0: SharedOut::new(&mut dh0),
        dc0: SharedOut::new(&mut dc0),
    };
    for_each_range(ranges, |r| {
        // SAFETY: each range writes only its own rows of the outputs.
        unsafe { backward_rows(d, r, sv, out) }
    });
    let src = if is_gru { &dhg } else { &dxg };
    let dw = weight_gradient(d, src, sv.y, sv.h0);
    let db = is_gru.then(|| {
        let mut db = vec![T::ZERO; gh];
        for row in dhg.chunks(gh) {
            for (a, &v) in db.iter_mut().zip(row) {
                *a += v;
            }
        }
        db
    });
    if is_gru {
        crate::storage::recycle(dhg);
    }
    ScanGrads {
        dxg,
        dw,
        dh0,
        dc0: is_lstm.then_some(dc0),
        db,
    }
}

/// `∂W_hh = Σ_t ∂(hidden projection)_tᵀ · h_{t-1}` over all steps and rows, as two products
/// that read the previous states in place: the step that starts from `h0`, and every other
/// step against the `h` part of the previous step's output.
fn weight_gradient<T: Float>(d: &Dims, src: &[T], y: &[T], h0: &[T]) -> Vec<T> {
    let (bsz, n, gh) = (d.batch, d.hidden, d.gates_hidden());
    let width = d.cell.width() * n;
    let mut dw = alloc::<T>(gh * n);
    if d.steps == 0 {
        dw.fill(T::ZERO);
        return dw;
    }
    // The source rows from step `step` on, read transposed: [gh, rows].
    let src_t = |step: usize| MatRef {
        ptr: src[step * bsz * gh..].as_ptr(),
        rs: 1,
        cs: gh as isize,
    };
    // SAFETY: src is [steps·batch, gh], h0 [batch, hidden], dw [gh, hidden].
    unsafe {
        gemm(
            gh,
            n,
            bsz,
            dw.as_mut_ptr(),
            n as isize,
            false,
            src_t(d.t(0)),
            MatRef {
                ptr: h0.as_ptr(),
                rs: n as isize,
                cs: 1,
            },
            true,
            d.prec,
        )
    };
    if d.steps > 1 {
        // Forward in time, step t pairs with the output of step t - 1; reversed, with t + 1.
        let (src_step, y_step) = if d.reverse { (0, 1) } else { (1, 0) };
        // SAFETY: (steps - 1)·batch rows of src from src_step and of y (stride width) from
        // y_step are in bounds.
        unsafe {
            gemm(
                gh,
                n,
                (d.steps - 1) * bsz,
                dw.as_mut_ptr(),
                n as isize,
                true,
                src_t(src_step),
                MatRef {
                    ptr: y[y_step * bsz * width..].as_ptr(),
                    rs: width as isize,
                    cs: 1,
                },
                true,
                d.prec,
            )
        };
    }
    dw
}

/// The backward loop over batch rows `b0..b1`.
///
/// # Safety
/// The outputs are those of [`scan_backward`]; no other thread touches rows `b0..b1`.
unsafe fn backward_rows<T: Float>(
    d: &Dims,
    (b0, b1): (usize, usize),
    sv: &ScanSaved<'_, T>,
    out: BackwardOut<T>,
) {
    let (rows, n, bsz) = (b1 - b0, d.hidden, d.batch);
    let gh = d.gates_hidden();
    let width = d.cell.width() * n;
    let saved_w = d.cell.saved() * n;
    let is_gru = d.cell == ScanCell::Gru;
    // The gradient reaching the state of the step being processed: ∂h (and ∂c).
    let mut dh = alloc::<T>(rows * n);
    dh.fill(T::ZERO);
    let mut dc = vec![
        T::ZERO;
        if d.cell == ScanCell::Lstm {
            rows * n
        } else {
            0
        }
    ];
    for s in (0..d.steps).rev() {
        let t = d.t(s);
        let row0 = t * bsz + b0;
        let prev_row0 = (s > 0).then(|| d.t(s - 1) * bsz + b0);
        // SAFETY: this range's rows of step t.
        let dxt = unsafe { out.dxg.rows(row0, rows, gh) };
        // SAFETY: as above (GRU only; empty otherwise).
        let mut dht = is_gru.then(|| unsafe { out.dhg.rows(row0, rows, gh) });
        for bi in 0..rows {
            let gy = &sv.g[(row0 + bi) * width..(row0 + bi + 1) * width];
            let dhr = &mut dh[bi * n..(bi + 1) * n];
            let dxr = &mut dxt[bi * gh..(bi + 1) * gh];
            let dhgr = dht.as_mut().map(|v| &mut v[bi * gh..(bi + 1) * gh]);
            let yr = &sv.y[(row0 + bi) * width..(row0 + bi + 1) * width];
            let sr = &sv.saved[(row0 + bi) * saved_w..(row0 + bi + 1) * saved_w];
            let (hpr, cpr): (&[T], Option<&[T]>) = match prev_row0 {
                Some(p) => {
                    let prev = &sv.y[(p + bi) * width..(p + bi + 1) * width];
                    (&prev[..n], Some(&prev[n..]))
                }
                None => (
                    &sv.h0[(b0 + bi) * n..(b0 + bi + 1) * n],
                    sv.c0.map(|c| &c[(b0 + bi) * n..(b0 + bi + 1) * n]),
                ),
            };
            if !d.active(sv.lengths, t, b0 + bi) {
                // The state passed through unchanged: its gradient flows on as it is.
                for (a, &v) in dhr.iter_mut().zip(gy) {
                    *a += v;
                }
                if d.cell == ScanCell::Lstm {
                    for (a, &v) in dc[bi * n..(bi + 1) * n].iter_mut().zip(&gy[n..]) {
                        *a += v;
                    }
                }
                dxr.fill(T::ZERO);
                if let Some(r) = dhgr {
                    r.fill(T::ZERO);
                }
                continue;
            }
            match d.cell {
                ScanCell::Tanh => tanh_backward_row(yr, gy, dhr, dxr),
                ScanCell::Relu => relu_backward_row(yr, gy, dhr, dxr),
                ScanCell::Lstm => {
                    let c_prev = cpr.expect("an LSTM has a cell state");
                    let dcr = &mut dc[bi * n..(bi + 1) * n];
                    lstm_backward_row(sr, &yr[n..], c_prev, gy, dhr, dcr, dxr);
                }
                ScanCell::Gru => {
                    let dhgr = dhgr.expect("a GRU has hidden-projection gradients");
                    gru_backward_row(sr, hpr, gy, dhr, dxr, dhgr);
                }
            }
        }
        // ∂h_{t-1} += ∂(hidden projection)_t · W_hh
        let src: &[T] = match &dht {
            Some(v) => &v[..],
            None => &dxt[..],
        };
        // SAFETY: src is rows × gh, W is gh × hidden, dh is rows × hidden.
        unsafe {
            gemm(
                rows,
                n,
                gh,
                dh.as_mut_ptr(),
                n as isize,
                true,
                MatRef {
                    ptr: src.as_ptr(),
                    rs: gh as isize,
                    cs: 1,
                },
                MatRef {
                    ptr: sv.w.as_ptr(),
                    rs: n as isize,
                    cs: 1,
                },
                false,
                d.prec,
            )
        };
    }
    // SAFETY: this range's rows of dh0 (and dc0).
    unsafe { out.dh0.rows(b0, rows, n) }.copy_from_slice(&dh);
    if d.cell == ScanCell::Lstm {
        // SAFETY: as above.
        unsafe { out.dc0.rows(b0, rows, n) }.copy_from_slice(&dc);
    }
    crate::storage::recycle(dh);
}

multiversion! {
    /// Backward of one row of a tanh step: `∂a = (∂h + g)·(1 - y²)`; `∂h` is reset for the
    /// product with W_hh to fill.
    fn tanh_backward_row<T: Float>(y: &[T], g: &[T], dh: &mut [T], dx: &mut [T]) {
        let n = dh.len();
        let (y, g, dx) = (&y[..n], &g[..n], &mut dx[..n]);
        for j in 0..n {
            dx[j] = (dh[j] + g[j]) * (T::ONE - y[j] * y[j]);
            dh[j] = T::ZERO;
        }
    }
}

multiversion! {
    /// Backward of one row of a ReLU step.
    fn relu_backward_row<T: Float>(y: &[T], g: &[T], dh: &mut [T], dx: &mut [T]) {
        let n = dh.len();
        let (y, g, dx) = (&y[..n], &g[..n], &mut dx[..n]);
        for j in 0..n {
            dx[j] = T::select(y[j] > T::ZERO, dh[j] + g[j], T::ZERO);
            dh[j] = T::ZERO;
        }
    }
}

multiversion! {
    /// Backward of one row of an LSTM step, from its gates `i, f, g, o`, its new cell state
    /// `c`, the previous `c_prev`, the output gradient `gy = [∂h, ∂c]` and the carried `dh`,
    /// `dc`: writes the gate gradients `dx` (`[4·hidden]`), leaves `∂c_prev` in `dc` and
    /// resets `dh`.
    fn lstm_backward_row<T: Float>(
        gates: &[T],
        c: &[T],
        c_prev: &[T],
        gy: &[T],
        dh: &mut [T],
        dc: &mut [T],
        dx: &mut [T],
    ) {
        let n = dh.len();
        let block = |v, k| gate_block(v, n, k);
        let (i, f, g, o) = (block(gates, 0), block(gates, 1), block(gates, 2), block(gates, 3));
        let (gh, gc) = (block(gy, 0), block(gy, 1));
        let (c, c_prev, dc) = (&c[..n], &c_prev[..n], &mut dc[..n]);
        let (dxi, rest) = dx[..4 * n].split_at_mut(n);
        let (dxf, rest) = rest.split_at_mut(n);
        let (dxg, dxo) = rest.split_at_mut(n);
        for j in 0..n {
            let dhj = dh[j] + gh[j];
            let tc = c[j].tanh_fast();
            let dcj = dc[j] + gc[j] + dhj * o[j] * (T::ONE - tc * tc);
            dxi[j] = dcj * g[j] * i[j] * (T::ONE - i[j]);
            dxf[j] = dcj * c_prev[j] * f[j] * (T::ONE - f[j]);
            dxg[j] = dcj * i[j] * (T::ONE - g[j] * g[j]);
            dxo[j] = dhj * tc * o[j] * (T::ONE - o[j]);
            dc[j] = dcj * f[j];
            dh[j] = T::ZERO;
        }
    }
}

multiversion! {
    /// Backward of one row of a GRU step from its saved `r, z, n, a_n`: writes the input-gate
    /// gradients `dx` and the hidden-projection gradients `dhg` (`[3·hidden]` each) and
    /// leaves in `dh` the part of `∂h_prev` that bypasses W_hh (`∂h'·z`).
    fn gru_backward_row<T: Float>(
        saved: &[T],
        h_prev: &[T],
        gy: &[T],
        dh: &mut [T],
        dx: &mut [T],
        dhg: &mut [T],
    ) {
        let n = dh.len();
        let block = |v, k| gate_block(v, n, k);
        let (r, z, nn, hn) = (block(saved, 0), block(saved, 1), block(saved, 2), block(saved, 3));
        let (h_prev, gy) = (&h_prev[..n], &gy[..n]);
        let (dxr, rest) = dx[..3 * n].split_at_mut(n);
        let (dxz, dxn) = rest.split_at_mut(n);
        let (dhr, rest) = dhg[..3 * n].split_at_mut(n);
        let (dhz, dhn) = rest.split_at_mut(n);
        for j in 0..n {
            let dhj = dh[j] + gy[j];
            let dn = dhj * (T::ONE - z[j]) * (T::ONE - nn[j] * nn[j]);
            let dz = dhj * (h_prev[j] - nn[j]) * z[j] * (T::ONE - z[j]);
            let dr = dn * hn[j] * r[j] * (T::ONE - r[j]);
            (dxr[j], dxz[j], dxn[j]) = (dr, dz, dn);
            (dhr[j], dhz[j], dhn[j]) = (dr, dz, dn * r[j]);
            dh[j] = dhj * z[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ScanCell;
    use crate::testing::{gradcheck_with, GradcheckOpts};
    use crate::{Result, Tensor};

    /// The scan equals the per-step cell ops chained by hand.
    #[test]
    fn scan_matches_the_step_by_step_cells() -> Result<()> {
        let (t, b, h) = (4, 2, 3);
        let x = crate::testing::randn;
        let (xg, w, h0, c0) = (
            x(&[t, b, 4 * h], 1)?,
            x(&[4 * h, h], 2)?,
            x(&[b, h], 3)?,
            x(&[b, h], 4)?,
        );
        let y = Tensor::recurrent_scan(ScanCell::Lstm, &xg, &w, None, &h0, Some(&c0), None, true)?;
        let (mut hh, mut cc) = (h0.clone(), c0.clone());
        for s in (0..t).rev() {
            let hg = hh.linear(&w, None)?;
            let hc = Tensor::lstm_cell(&xg.narrow(0, s, 1)?.reshape(&[b, 4 * h])?, &hg, &cc)?;
            let want = hc.to_vec::<f64>()?;
            let got = y.narrow(0, s, 1)?.to_vec::<f64>()?;
            for (a, w) in got.iter().zip(&want) {
                assert!((a - w).abs() < 1e-12, "step {s}: {a} vs {w}");
            }
            (hh, cc) = (hc.narrow(1, 0, h)?, hc.narrow(1, h, h)?);
        }
        Ok(())
    }

    fn check(cell: ScanCell, lengths: Option<&'static [usize]>, reverse: bool) -> Result<()> {
        let (t, b, h) = (3, 2, 2);
        let g = match cell {
            ScanCell::Lstm => 4,
            ScanCell::Gru => 3,
            _ => 1,
        } * h;
        let mut shapes: Vec<Vec<usize>> = vec![vec![t, b, g], vec![g, h], vec![b, h]];
        match cell {
            ScanCell::Lstm => shapes.push(vec![b, h]),
            ScanCell::Gru => shapes.push(vec![g]),
            _ => {}
        }
        let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
        let opts = GradcheckOpts {
            avoid: vec![0.0],
            ..GradcheckOpts::default()
        };
        gradcheck_with(&refs, opts, |x| {
            let (c0, b_hh) = match cell {
                ScanCell::Lstm => (Some(&x[3]), None),
                ScanCell::Gru => (None, Some(&x[3])),
                _ => (None, None),
            };
            Tensor::recurrent_scan(cell, &x[0], &x[1], b_hh, &x[2], c0, lengths, reverse)
        })
    }

    #[test]
    fn every_cell_scan_passes_a_gradient_check() -> Result<()> {
        for cell in [
            ScanCell::Tanh,
            ScanCell::Relu,
            ScanCell::Lstm,
            ScanCell::Gru,
        ] {
            for (lengths, reverse) in [
                (None, false),
                (None, true),
                (Some(&[3usize, 1][..]), false),
                (Some(&[2usize, 3][..]), true),
            ] {
                check(cell, lengths, reverse)
                    .unwrap_or_else(|e| panic!("{cell:?} {lengths:?} reverse={reverse}: {e}"));
            }
        }
        Ok(())
    }

    /// Splitting the batch across threads changes nothing but the order of the weight
    /// gradient's sums.
    #[test]
    fn the_batch_split_gives_the_unsplit_results() {
        use super::{scan_backward, scan_forward, Dims, ScanSaved};
        let mut rng = crate::Rng::new(5);
        let mut r = |n: usize| -> Vec<f64> { (0..n).map(|_| rng.next_f64() - 0.5).collect() };
        let (steps, batch, hidden) = (4, 21, 3);
        let (whole, split) = ([(0, batch)], [(0, 8), (8, 13), (13, batch)]);
        let lengths: Vec<usize> = (0..batch).map(|b| 1 + b % steps).collect();
        for cell in [
            ScanCell::Lstm,
            ScanCell::Gru,
            ScanCell::Tanh,
            ScanCell::Relu,
        ] {
            let d = Dims {
                cell,
                steps,
                batch,
                hidden,
                reverse: matches!(cell, ScanCell::Gru | ScanCell::Relu),
                prec: crate::autocast::Precision::Full,
            };
            let gh = d.gates_hidden();
            let (xg, w, b, h0, c0) = (
                r(steps * batch * gh),
                r(gh * hidden),
                r(gh),
                r(batch * hidden),
                r(batch * hidden),
            );
            let b = (cell == ScanCell::Gru).then_some(&b[..]);
            let c0 = (cell == ScanCell::Lstm).then_some(&c0[..]);
            let l = Some(&lengths[..]);
            let one = scan_forward(&d, &whole, &xg, &w, b, &h0, c0, l);
            let parts = scan_forward(&d, &split, &xg, &w, b, &h0, c0, l);
            let close = |a: &[f64], b: &[f64], what: &str| {
                assert_eq!(a.len(), b.len(), "{cell:?} {what}");
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() < 1e-12, "{cell:?} {what}: {x} vs {y}");
                }
            };
            close(&one.0, &parts.0, "y");
            let g = r(one.0.len());
            let saved = ScanSaved {
                w: &w,
                h0: &h0,
                c0,
                y: &one.0,
                saved: &one.1,
                g: &g,
                lengths: l,
            };
            let a = scan_backward(&d, &whole, &saved);
            let s = scan_backward(&d, &split, &saved);
            close(&a.dxg, &s.dxg, "dxg");
            close(&a.dw, &s.dw, "dw");
            close(&a.dh0, &s.dh0, "dh0");
            close(
                a.dc0.as_deref().unwrap_or(&[]),
                s.dc0.as_deref().unwrap_or(&[]),
                "dc0",
            );
            close(
                a.db.as_deref().unwrap_or(&[]),
                s.db.as_deref().unwrap_or(&[]),
                "db",
            );
        }
    }

    /// The gate loops give the same results compiled for every instruction set (the
    /// variant a CPU runs is chosen at run time; this one may differ from CI's).
    #[test]
    fn every_simd_variant_gives_the_same_scan() {
        use super::{scan_backward, scan_forward, Dims, ScanSaved};
        use crate::cpu::simd::{with_level, Level};
        let mut rng = crate::Rng::new(9);
        let mut r =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.next_f64() as f32 - 0.5).collect() };
        let (steps, batch, hidden) = (5, 3, 37);
        let whole = [(0, batch)];
        for cell in [
            ScanCell::Lstm,
            ScanCell::Gru,
            ScanCell::Tanh,
            ScanCell::Relu,
        ] {
            let d = Dims {
                cell,
                steps,
                batch,
                hidden,
                reverse: false,
                prec: crate::autocast::Precision::Full,
            };
            let gh = d.gates_hidden();
            let (xg, w, b, h0, c0) = (
                r(steps * batch * gh),
                r(gh * hidden),
                r(gh),
                r(batch * hidden),
                r(batch * hidden),
            );
            let g = r(steps * batch * hidden * if cell == ScanCell::Lstm { 2 } else { 1 });
            let b = (cell == ScanCell::Gru).then_some(&b[..]);
            let c0 = (cell == ScanCell::Lstm).then_some(&c0[..]);
            // One range: the loops run on this thread, where the level is forced.
            let run = |level| {
                with_level(level, || {
                    let (y, saved) = scan_forward(&d, &whole, &xg, &w, b, &h0, c0, None);
                    let sv = ScanSaved {
                        w: &w,
                        h0: &h0,
                        c0,
                        y: &y,
                        saved: &saved,
                        g: &g,
                        lengths: None,
                    };
                    let grads = scan_backward(&d, &whole, &sv);
                    (y, grads.dxg, grads.dh0)
                })
            };
            let base = run(Level::Baseline);
            for level in [Level::Avx2, Level::Avx512] {
                let other = run(level);
                for (what, a, b) in [
                    ("y", &base.0, &other.0),
                    ("dxg", &base.1, &other.1),
                    ("dh0", &base.2, &other.2),
                ] {
                    for (x, y) in a.iter().zip(b.iter()) {
                        assert!(
                            (x - y).abs() < 1e-5,
                            "{cell:?} {level:?} {what}: {x} vs {y}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn mismatched_inputs_are_errors() -> Result<()> {
        let z = |s: &[usize]| Tensor::zeros(s, crate::DType::F32, &crate::Device::Cpu);
        // An LSTM without c0, a GRU with LSTM-sized gates, more lengths than steps allow.
        let cases: [(ScanCell, usize, Option<&[usize]>); 3] = [
            (ScanCell::Lstm, 8, None),
            (ScanCell::Gru, 8, None),
            (ScanCell::Tanh, 2, Some(&[3])),
        ];
        for (cell, gates, lengths) in cases {
            let (xg, w) = (z(&[2, 1, gates]), z(&[gates, 2]));
            let r = Tensor::recurrent_scan(cell, &xg, &w, None, &z(&[1, 2]), None, lengths, false);
            assert!(r.is_err(), "{cell:?}");
        }
        Ok(())
    }
}
