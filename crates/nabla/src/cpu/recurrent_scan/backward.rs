//! Backpropagation through time: the steps in reverse with one `∂gates·W_hh` product
//! each, then the weight gradient `∂W_hh = Σ_t ∂gates_tᵀ·h_{t-1}` as one product.

use super::{for_each_range, gate_block};
use crate::cpu::gemm::{gemm, MatRef};
use crate::cpu::simd::multiversion;
use crate::cpu::SharedOut;
use crate::dtype::Float;
use crate::ops::recurrent_scan::{Dims, ScanCell};
use crate::storage::alloc;

/// Gradients of one scan.
pub(crate) struct ScanGrads<T> {
    pub(crate) dxg: Vec<T>,
    pub(crate) dw: Vec<T>,
    pub(crate) dh0: Vec<T>,
    pub(crate) dc0: Option<Vec<T>>,
    pub(crate) db: Option<Vec<T>>,
}

/// The saved forward pass and the output gradient that a backward scan reads.
pub(crate) struct ScanSaved<'a, T> {
    pub(crate) w: &'a [T],
    pub(crate) h0: &'a [T],
    pub(crate) c0: Option<&'a [T]>,
    pub(crate) y: &'a [T],
    pub(crate) saved: &'a [T],
    /// `∂L/∂y`.
    pub(crate) g: &'a [T],
    pub(crate) lengths: Option<&'a [usize]>,
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
pub(crate) fn scan_backward<T: Float>(
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
