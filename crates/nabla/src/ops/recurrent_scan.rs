//! A whole recurrent layer direction as one op: the time loop of an RNN, LSTM or GRU with
//! backpropagation through time written out by hand.
//!
//! Autograd over an unrolled loop records several nodes per step and, in backward, one small
//! weight-gradient product per step plus a sum of them. Here the forward runs the steps
//! with one `h·W_hhᵀ` product each, saving the gate activations; the backward walks the steps
//! in reverse with one `∂gates·W_hh` product each, and finishes with a single large product
//! `∂W_hh = Σ_t ∂gates_tᵀ·h_{t-1}` over all steps at once (as cuDNN does).

use super::rule;
use crate::cpu::gemm::{gemm, MatRef};
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
                scan_forward_split(&d, xg_v, &w, b.as_deref(), &h0v, c0v.as_deref(), lengths.as_deref())
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
                                scan_backward_split(&d, &w, &h0, c0.as_deref(), yv, sv, gv, lengths.as_deref())
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
    })
}

/// `dst[batch, gh] (+)= h[batch, hidden] (row stride h_rs) · W_hhᵀ`.
///
/// # Safety
/// Pointers valid for the shapes.
unsafe fn times_w_t<T: Float>(
    d: &Dims,
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
            d.batch,
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

/// Rows `b0..b1` of every step of `src [steps, batch, width]`, as `[steps, b1 - b0, width]`.
fn gather_rows<T: Copy>(
    src: &[T],
    steps: usize,
    batch: usize,
    width: usize,
    (b0, b1): (usize, usize),
) -> Vec<T> {
    let mut out = Vec::with_capacity(steps * (b1 - b0) * width);
    for t in 0..steps {
        out.extend_from_slice(&src[(t * batch + b0) * width..(t * batch + b1) * width]);
    }
    out
}

/// The inverse of [`gather_rows`]: writes `part` into rows `b0..b1` of `dst`.
fn scatter_rows<T: Copy>(
    dst: &mut [T],
    part: &[T],
    steps: usize,
    batch: usize,
    width: usize,
    (b0, b1): (usize, usize),
) {
    let rows = (b1 - b0) * width;
    for t in 0..steps {
        dst[(t * batch + b0) * width..(t * batch + b1) * width]
            .copy_from_slice(&part[t * rows..(t + 1) * rows]);
    }
}

/// [`scan_forward`] with the batch split by [`batch_ranges`], each part on its own thread.
fn scan_forward_split<T: Float>(
    d: &Dims,
    xg: &[T],
    w: &[T],
    b: Option<&[T]>,
    h0: &[T],
    c0: Option<&[T]>,
    lengths: Option<&[usize]>,
) -> (Vec<T>, Vec<T>) {
    use rayon::prelude::*;
    let ranges = batch_ranges(d.batch);
    if ranges.len() == 1 {
        return scan_forward(d, xg, w, b, h0, c0, lengths);
    }
    let (n, gh) = (d.hidden, d.gates_hidden());
    let parts: Vec<(Vec<T>, Vec<T>)> = ranges
        .par_iter()
        .map(|&r| {
            let dc = Dims {
                batch: r.1 - r.0,
                ..*d
            };
            let xg_c = gather_rows(xg, d.steps, d.batch, gh, r);
            let h0_c = gather_rows(h0, 1, d.batch, n, r);
            let c0_c = c0.map(|c| gather_rows(c, 1, d.batch, n, r));
            let len_c = lengths.map(|l| l[r.0..r.1].to_vec());
            scan_forward(&dc, &xg_c, w, b, &h0_c, c0_c.as_deref(), len_c.as_deref())
        })
        .collect();
    let (width, saved_w) = (d.cell.width() * n, d.cell.saved() * n);
    let mut y = alloc::<T>(d.steps * d.batch * width);
    let mut saved = alloc::<T>(d.steps * d.batch * saved_w);
    for (&r, (yc, sc)) in ranges.iter().zip(parts) {
        scatter_rows(&mut y, &yc, d.steps, d.batch, width, r);
        scatter_rows(&mut saved, &sc, d.steps, d.batch, saved_w, r);
        crate::storage::recycle(yc);
        crate::storage::recycle(sc);
    }
    (y, saved)
}

/// [`scan_backward`] with the batch split as in [`scan_forward_split`]; the parts' weight
/// (and GRU bias) gradients are summed.
#[allow(clippy::too_many_arguments)]
fn scan_backward_split<T: Float>(
    d: &Dims,
    w: &[T],
    h0: &[T],
    c0: Option<&[T]>,
    y: &[T],
    saved: &[T],
    g: &[T],
    lengths: Option<&[usize]>,
) -> ScanGrads<T> {
    use rayon::prelude::*;
    let ranges = batch_ranges(d.batch);
    if ranges.len() == 1 {
        return scan_backward(d, w, h0, c0, y, saved, g, lengths, true);
    }
    let n = d.hidden;
    let (width, saved_w, gh) = (d.cell.width() * n, d.cell.saved() * n, d.gates_hidden());
    let parts: Vec<ScanGrads<T>> = ranges
        .par_iter()
        .map(|&r| {
            let dc = Dims {
                batch: r.1 - r.0,
                ..*d
            };
            let y_c = gather_rows(y, d.steps, d.batch, width, r);
            let s_c = gather_rows(saved, d.steps, d.batch, saved_w, r);
            let g_c = gather_rows(g, d.steps, d.batch, width, r);
            let h0_c = gather_rows(h0, 1, d.batch, n, r);
            let c0_c = c0.map(|c| gather_rows(c, 1, d.batch, n, r));
            let len_c = lengths.map(|l| l[r.0..r.1].to_vec());
            scan_backward(
                &dc,
                w,
                &h0_c,
                c0_c.as_deref(),
                &y_c,
                &s_c,
                &g_c,
                len_c.as_deref(),
                false,
            )
        })
        .collect();
    let mut dxg = alloc::<T>(d.steps * d.batch * gh);
    let mut dh0 = alloc::<T>(d.batch * n);
    let mut dc0 = c0.map(|_| alloc::<T>(d.batch * n));
    let mut dw = vec![T::ZERO; gh * n];
    let mut db = (d.cell == ScanCell::Gru).then(|| vec![T::ZERO; gh]);
    for (&r, p) in ranges.iter().zip(parts) {
        scatter_rows(&mut dxg, &p.dxg, d.steps, d.batch, gh, r);
        scatter_rows(&mut dh0, &p.dh0, 1, d.batch, n, r);
        if let (Some(dst), Some(part)) = (dc0.as_mut(), p.dc0.as_ref()) {
            scatter_rows(dst, part, 1, d.batch, n, r);
        }
        for (a, &v) in dw.iter_mut().zip(&p.dw) {
            *a += v;
        }
        if let (Some(dst), Some(part)) = (db.as_mut(), p.db.as_ref()) {
            for (a, &v) in dst.iter_mut().zip(part) {
                *a += v;
            }
        }
    }
    ScanGrads {
        dxg,
        dw,
        dh0,
        dc0,
        db,
    }
}

/// The forward loop: the state after every step `[steps, batch, width·hidden]` and the
/// saved activations `[steps, batch, saved·hidden]`.
fn scan_forward<T: Float>(
    d: &Dims,
    xg: &[T],
    w: &[T],
    b: Option<&[T]>,
    h0: &[T],
    c0: Option<&[T]>,
    lengths: Option<&[usize]>,
) -> (Vec<T>, Vec<T>) {
    let (bsz, n) = (d.batch, d.hidden);
    let gh = d.gates_hidden();
    let width = d.cell.width() * n;
    let saved_w = d.cell.saved() * n;
    let mut y = alloc::<T>(d.steps * bsz * width);
    let mut saved = alloc::<T>(d.steps * bsz * saved_w);
    let mut a = alloc::<T>(bsz * gh);
    // W_hhᵀ laid out row-major once: the per-step products then read it row by row (with W
    // itself, the product repacked all of it at every step: 20% of an LSTM's time).
    let mut wt = alloc::<T>(gh * n);
    for j in 0..gh {
        for k in 0..n {
            wt[k * gh + j] = w[j * n + k];
        }
    }
    for s in 0..d.steps {
        let t = d.t(s);
        // The previous state: h0/c0, or the last step's output row.
        // This step's block of `y`, and the previous state: h0/c0, or the last step's block
        // (another part of `y`, borrowed beside this one).
        let (cur, len) = (t * bsz * width, bsz * width);
        let (yt, prev): (&mut [T], Option<&[T]>) = if s == 0 {
            (&mut y[cur..cur + len], None)
        } else {
            let p = d.t(s - 1) * bsz * width;
            if p < cur {
                let (lo, hi) = y.split_at_mut(cur);
                (&mut hi[..len], Some(&lo[p..p + len]))
            } else {
                let (lo, hi) = y.split_at_mut(p);
                (&mut lo[cur..cur + len], Some(&hi[..len]))
            }
        };
        let (hp, hp_rs, cp): (&[T], usize, Option<&[T]>) = match prev {
            None => (h0, n, c0),
            Some(block) => (
                block,
                width,
                (d.cell == ScanCell::Lstm).then(|| &block[n..]),
            ),
        };
        // Hidden projection: a = h·W_hhᵀ (+ b_hh for the GRU), plus xg for the others.
        let xt = &xg[t * bsz * gh..(t + 1) * bsz * gh];
        match (d.cell, b) {
            (ScanCell::Gru, Some(b)) => a.chunks_mut(gh).for_each(|r| r.copy_from_slice(b)),
            (ScanCell::Gru, None) => a.fill(T::ZERO),
            _ => a.copy_from_slice(xt),
        }
        // SAFETY: hp holds batch rows of n at stride hp_rs; a is batch × gh.
        unsafe { times_w_t(d, &mut a, true, hp.as_ptr(), hp_rs, &wt) };
        let st = &mut saved[t * bsz * saved_w..(t + 1) * bsz * saved_w];
        for bi in 0..bsz {
            let ar = &mut a[bi * gh..(bi + 1) * gh];
            let yr = &mut yt[bi * width..(bi + 1) * width];
            let sr = &mut st[bi * saved_w..(bi + 1) * saved_w];
            let hpr = &hp[bi * hp_rs..bi * hp_rs + n];
            let cpr = cp.map(|c| &c[bi * hp_rs..bi * hp_rs + n]);
            if !d.active(lengths, t, bi) {
                yr[..n].copy_from_slice(hpr);
                if let Some(c) = cpr {
                    yr[n..].copy_from_slice(c);
                }
                continue;
            }
            // Activations over contiguous gate blocks, so that the loops vectorize.
            match d.cell {
                ScanCell::Tanh => {
                    for (y, &v) in yr.iter_mut().zip(ar.iter()) {
                        *y = v.tanh_fast();
                    }
                }
                ScanCell::Relu => {
                    for (y, &v) in yr.iter_mut().zip(ar.iter()) {
                        *y = T::select(v > T::ZERO, v, T::ZERO);
                    }
                }
                ScanCell::Lstm => {
                    let (ifg, o) = ar.split_at_mut(3 * n);
                    let (if_, g) = ifg.split_at_mut(2 * n);
                    if_.iter_mut()
                        .chain(o.iter_mut())
                        .for_each(|v| *v = v.sigmoid_fast());
                    g.iter_mut().for_each(|v| *v = v.tanh_fast());
                    sr.copy_from_slice(ar);
                    let cpr = cpr.expect("an LSTM has a cell state");
                    let (yh, yc) = yr.split_at_mut(n);
                    for j in 0..n {
                        let c = ar[n + j] * cpr[j] + ar[j] * ar[2 * n + j];
                        yc[j] = c;
                        yh[j] = ar[3 * n + j] * c.tanh_fast();
                    }
                }
                ScanCell::Gru => {
                    let xr = &xt[bi * gh..(bi + 1) * gh];
                    let (rz, hn) = ar.split_at_mut(2 * n);
                    for (v, &x) in rz.iter_mut().zip(&xr[..2 * n]) {
                        *v = (x + *v).sigmoid_fast();
                    }
                    let (sr_rz, rest) = sr.split_at_mut(2 * n);
                    let (sr_n, sr_hn) = rest.split_at_mut(n);
                    sr_rz.copy_from_slice(rz);
                    sr_hn.copy_from_slice(hn);
                    for j in 0..n {
                        let nn = (xr[2 * n + j] + rz[j] * hn[j]).tanh_fast();
                        sr_n[j] = nn;
                        yr[j] = nn + rz[n + j] * (hpr[j] - nn);
                    }
                }
            }
        }
    }
    crate::storage::recycle(a);
    crate::storage::recycle(wt);
    (y, saved)
}

/// Gradients of one scan.
struct ScanGrads<T> {
    dxg: Vec<T>,
    dw: Vec<T>,
    dh0: Vec<T>,
    dc0: Option<Vec<T>>,
    db: Option<Vec<T>>,
}

/// Backpropagation through time over the saved forward pass; `g` is `∂L/∂y`.
#[allow(clippy::too_many_arguments)]
fn scan_backward<T: Float>(
    d: &Dims,
    w: &[T],
    h0: &[T],
    c0: Option<&[T]>,
    y: &[T],
    saved: &[T],
    g: &[T],
    lengths: Option<&[usize]>,
    parallel_dw: bool,
) -> ScanGrads<T> {
    let (bsz, n) = (d.batch, d.hidden);
    let gh = d.gates_hidden();
    let width = d.cell.width() * n;
    let saved_w = d.cell.saved() * n;
    let is_gru = d.cell == ScanCell::Gru;
    // ∂ of the input gates per step, and (GRU) of the hidden projection.
    let mut dxg = alloc::<T>(d.steps * bsz * gh);
    let mut dhg = if is_gru {
        alloc::<T>(d.steps * bsz * gh)
    } else {
        Vec::new()
    };
    // The previous state of every step, [steps, batch, hidden], for the weight gradient.
    let mut hprev_all = alloc::<T>(d.steps * bsz * n);
    let mut dh = alloc::<T>(bsz * n);
    dh.fill(T::ZERO);
    let mut dc = vec![T::ZERO; if d.cell == ScanCell::Lstm { bsz * n } else { 0 }];
    for s in (0..d.steps).rev() {
        let t = d.t(s);
        let prev_block = (s > 0).then(|| d.t(s - 1) * bsz * width);
        for bi in 0..bsz {
            let hpr: &[T] = match prev_block {
                Some(p) => &y[p + bi * width..p + bi * width + n],
                None => &h0[bi * n..(bi + 1) * n],
            };
            hprev_all[(t * bsz + bi) * n..(t * bsz + bi + 1) * n].copy_from_slice(hpr);
            let gy = &g[(t * bsz + bi) * width..(t * bsz + bi + 1) * width];
            let dhr = &mut dh[bi * n..(bi + 1) * n];
            let dxr = &mut dxg[(t * bsz + bi) * gh..(t * bsz + bi + 1) * gh];
            // The total gradient reaching this step's h (and c).
            for j in 0..n {
                dhr[j] += gy[j];
            }
            if d.cell == ScanCell::Lstm {
                for j in 0..n {
                    dc[bi * n + j] += gy[n + j];
                }
            }
            if !d.active(lengths, t, bi) {
                // The state passed through unchanged: its gradient flows on as it is.
                dxr.fill(T::ZERO);
                if is_gru {
                    dhg[(t * bsz + bi) * gh..(t * bsz + bi + 1) * gh].fill(T::ZERO);
                }
                continue;
            }
            let yr = &y[(t * bsz + bi) * width..(t * bsz + bi + 1) * width];
            let sr = &saved[(t * bsz + bi) * saved_w..(t * bsz + bi + 1) * saved_w];
            match d.cell {
                ScanCell::Tanh => {
                    for j in 0..n {
                        dxr[j] = dhr[j] * (T::ONE - yr[j] * yr[j]);
                        dhr[j] = T::ZERO;
                    }
                }
                ScanCell::Relu => {
                    for j in 0..n {
                        dxr[j] = if yr[j] > T::ZERO { dhr[j] } else { T::ZERO };
                        dhr[j] = T::ZERO;
                    }
                }
                ScanCell::Lstm => {
                    let cpr: &[T] = match prev_block {
                        Some(p) => &y[p + bi * width + n..p + (bi + 1) * width],
                        None => &c0.expect("LSTM has c0")[bi * n..(bi + 1) * n],
                    };
                    let dcr = &mut dc[bi * n..(bi + 1) * n];
                    for j in 0..n {
                        let (i, f, gg, o) = (sr[j], sr[n + j], sr[2 * n + j], sr[3 * n + j]);
                        let tc = yr[n + j].tanh_fast();
                        let dcj = dcr[j] + dhr[j] * o * (T::ONE - tc * tc);
                        dxr[j] = dcj * gg * i * (T::ONE - i);
                        dxr[n + j] = dcj * cpr[j] * f * (T::ONE - f);
                        dxr[2 * n + j] = dcj * i * (T::ONE - gg * gg);
                        dxr[3 * n + j] = dhr[j] * tc * o * (T::ONE - o);
                        dcr[j] = dcj * f;
                        dhr[j] = T::ZERO;
                    }
                }
                ScanCell::Gru => {
                    let dhgr = &mut dhg[(t * bsz + bi) * gh..(t * bsz + bi + 1) * gh];
                    for j in 0..n {
                        let (r, z, nn, hn) = (sr[j], sr[n + j], sr[2 * n + j], sr[3 * n + j]);
                        let dn = dhr[j] * (T::ONE - z) * (T::ONE - nn * nn);
                        let dz = dhr[j] * (hpr[j] - nn) * z * (T::ONE - z);
                        let dr = dn * hn * r * (T::ONE - r);
                        (dxr[j], dxr[n + j], dxr[2 * n + j]) = (dr, dz, dn);
                        (dhgr[j], dhgr[n + j], dhgr[2 * n + j]) = (dr, dz, dn * r);
                        dhr[j] *= z;
                    }
                }
            }
        }
        // ∂h_{t-1} += ∂(hidden projection)_t · W_hh
        let src = if is_gru { &dhg } else { &dxg };
        let rows = &src[t * bsz * gh..(t + 1) * bsz * gh];
        // SAFETY: rows is batch × gh, W is gh × hidden, dh is batch × hidden.
        unsafe {
            gemm(
                bsz,
                n,
                gh,
                dh.as_mut_ptr(),
                n as isize,
                true,
                MatRef {
                    ptr: rows.as_ptr(),
                    rs: gh as isize,
                    cs: 1,
                },
                MatRef {
                    ptr: w.as_ptr(),
                    rs: n as isize,
                    cs: 1,
                },
                false,
            )
        };
    }
    // ∂W_hh = Σ_t ∂(hidden projection)_tᵀ · h_{t-1}, one product over all steps.
    let src = if is_gru { &dhg } else { &dxg };
    let rows = d.steps * bsz;
    let mut dw = alloc::<T>(gh * n);
    // SAFETY: src is rows × gh (read transposed), hprev_all rows × hidden, dw gh × hidden.
    unsafe {
        gemm(
            gh,
            n,
            rows,
            dw.as_mut_ptr(),
            n as isize,
            false,
            MatRef {
                ptr: src.as_ptr(),
                rs: 1,
                cs: gh as isize,
            },
            MatRef {
                ptr: hprev_all.as_ptr(),
                rs: n as isize,
                cs: 1,
            },
            parallel_dw,
        )
    };
    let db = is_gru.then(|| {
        let mut db = vec![T::ZERO; gh];
        for row in dhg.chunks(gh) {
            for (a, &v) in db.iter_mut().zip(row) {
                *a += v;
            }
        }
        db
    });
    crate::storage::recycle(hprev_all);
    if is_gru {
        crate::storage::recycle(dhg);
    }
    ScanGrads {
        dxg,
        dw,
        dh0: dh,
        dc0: (d.cell == ScanCell::Lstm).then_some(dc),
        db,
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
        use super::{
            batch_ranges, scan_backward, scan_backward_split, scan_forward, scan_forward_split,
            Dims,
        };
        let mut rng = crate::Rng::new(5);
        let mut r = |n: usize| -> Vec<f64> { (0..n).map(|_| rng.next_f64() - 0.5).collect() };
        let (steps, batch, hidden) = (4, 21, 3);
        assert!(rayon::current_num_threads() < 2 || batch_ranges(batch).len() == 2);
        let lengths: Vec<usize> = (0..batch).map(|b| 1 + b % steps).collect();
        for cell in [ScanCell::Lstm, ScanCell::Gru, ScanCell::Tanh] {
            let d = Dims {
                cell,
                steps,
                batch,
                hidden,
                reverse: cell == ScanCell::Gru,
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
            let one = scan_forward(&d, &xg, &w, b, &h0, c0, l);
            let split = scan_forward_split(&d, &xg, &w, b, &h0, c0, l);
            let close = |a: &[f64], b: &[f64], what: &str| {
                assert_eq!(a.len(), b.len(), "{cell:?} {what}");
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() < 1e-12, "{cell:?} {what}: {x} vs {y}");
                }
            };
            close(&one.0, &split.0, "y");
            close(&one.1, &split.1, "saved");
            let g = r(one.0.len());
            let a = scan_backward(&d, &w, &h0, c0, &one.0, &one.1, &g, l, true);
            let s = scan_backward_split(&d, &w, &h0, c0, &one.0, &one.1, &g, l);
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
