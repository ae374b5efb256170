//! The host side of the recurrent-cell family: the point-wise parts of one LSTM or GRU
//! step after its matrix products, forward and backward, one pass over each row. Gate
//! order and formulas are PyTorch's.

use crate::dtype::Float;
use crate::storage::alloc;

/// One LSTM step: `[h' | c']` per row, `[batch, 2·hidden]`, from the gate projections
/// `xg`, `hg` (`[batch, 4·hidden]`) and the cell state `c` (`[batch, hidden]`).
pub(crate) fn lstm_forward<T: Float>(
    xg: &[T],
    hg: &[T],
    c: &[T],
    batch: usize,
    hidden: usize,
) -> Vec<T> {
    let mut out = alloc::<T>(batch * 2 * hidden);
    for b in 0..batch {
        let (xr, hr) = (&xg[b * 4 * hidden..], &hg[b * 4 * hidden..]);
        let cr = &c[b * hidden..];
        let (ho, co) = out[b * 2 * hidden..(b + 1) * 2 * hidden].split_at_mut(hidden);
        for j in 0..hidden {
            let [i, f, g, o] = lstm_gates(xr, hr, hidden, j);
            let cn = f * cr[j] + i * g;
            co[j] = cn;
            ho[j] = o * cn.tanh_fast();
        }
    }
    out
}

/// One GRU step: `h'`, `[batch, hidden]`, from the gate projections `xg`, `hg`
/// (`[batch, 3·hidden]`) and the hidden state `h`.
pub(crate) fn gru_forward<T: Float>(
    xg: &[T],
    hg: &[T],
    h: &[T],
    batch: usize,
    hidden: usize,
) -> Vec<T> {
    let mut out = alloc::<T>(batch * hidden);
    for b in 0..batch {
        let (xr, hr) = (&xg[b * 3 * hidden..], &hg[b * 3 * hidden..]);
        for j in 0..hidden {
            let [_, z, n] = gru_gates(xr, hr, hidden, j);
            out[b * hidden + j] = n + z * (h[b * hidden + j] - n);
        }
    }
    out
}

/// `[i, f, g, o]` of hidden unit `j` from one row of each gate projection.
#[inline]
fn lstm_gates<T: Float>(xr: &[T], hr: &[T], hidden: usize, j: usize) -> [T; 4] {
    let a = |k: usize| xr[k * hidden + j] + hr[k * hidden + j];
    [
        a(0).sigmoid_fast(),
        a(1).sigmoid_fast(),
        a(2).tanh_fast(),
        a(3).sigmoid_fast(),
    ]
}

/// `[r, z, n]` of hidden unit `j`.
#[inline]
fn gru_gates<T: Float>(xr: &[T], hr: &[T], hidden: usize, j: usize) -> [T; 3] {
    let r = (xr[j] + hr[j]).sigmoid_fast();
    let z = (xr[hidden + j] + hr[hidden + j]).sigmoid_fast();
    let n = (xr[2 * hidden + j] + r * hr[2 * hidden + j]).tanh_fast();
    [r, z, n]
}

/// Gradients of one LSTM step: `(∂L/∂gates [batch, 4·hidden], ∂L/∂c [batch, hidden])` from
/// the output gradient `g = [∂L/∂h' | ∂L/∂c']`. Gates are recomputed from the inputs, `c'`
/// is read from the output `y`.
pub(crate) fn lstm_backward<T: Float>(
    xg: &[T],
    hg: &[T],
    c: &[T],
    y: &[T],
    g: &[T],
    batch: usize,
    hidden: usize,
) -> (Vec<T>, Vec<T>) {
    let mut dgates = alloc::<T>(batch * 4 * hidden);
    let mut dc = alloc::<T>(batch * hidden);
    for b in 0..batch {
        let (xr, hr) = (&xg[b * 4 * hidden..], &hg[b * 4 * hidden..]);
        let (gh, gc) = g[b * 2 * hidden..(b + 1) * 2 * hidden].split_at(hidden);
        let cn = &y[b * 2 * hidden + hidden..];
        let dg = &mut dgates[b * 4 * hidden..(b + 1) * 4 * hidden];
        for j in 0..hidden {
            let [i, f, gg, o] = lstm_gates(xr, hr, hidden, j);
            let tc = cn[j].tanh_fast();
            // c' feeds h' = o·tanh(c') and the next step directly.
            let dcn = gc[j] + gh[j] * o * (T::ONE - tc * tc);
            dg[j] = dcn * gg * i * (T::ONE - i);
            dg[hidden + j] = dcn * c[b * hidden + j] * f * (T::ONE - f);
            dg[2 * hidden + j] = dcn * i * (T::ONE - gg * gg);
            dg[3 * hidden + j] = gh[j] * tc * o * (T::ONE - o);
            dc[b * hidden + j] = dcn * f;
        }
    }
    (dgates, dc)
}

/// Gradients of one GRU step: `(∂L/∂xg, ∂L/∂hg, ∂L/∂h)` from `g = ∂L/∂h'`.
pub(crate) fn gru_backward<T: Float>(
    xg: &[T],
    hg: &[T],
    h: &[T],
    g: &[T],
    batch: usize,
    hidden: usize,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let mut dxg = alloc::<T>(batch * 3 * hidden);
    let mut dhg = alloc::<T>(batch * 3 * hidden);
    let mut dh = alloc::<T>(batch * hidden);
    for b in 0..batch {
        let (xr, hr) = (&xg[b * 3 * hidden..], &hg[b * 3 * hidden..]);
        let row = b * 3 * hidden;
        for j in 0..hidden {
            let [r, z, n] = gru_gates(xr, hr, hidden, j);
            let k = b * hidden + j;
            let gy = g[k];
            // h' = n + z·(h - n)
            let dn = gy * (T::ONE - z) * (T::ONE - n * n);
            let dz = gy * (h[k] - n) * z * (T::ONE - z);
            let dr = dn * hr[2 * hidden + j] * r * (T::ONE - r);
            dxg[row + j] = dr;
            dxg[row + hidden + j] = dz;
            dxg[row + 2 * hidden + j] = dn;
            dhg[row + j] = dr;
            dhg[row + hidden + j] = dz;
            dhg[row + 2 * hidden + j] = dn * r;
            dh[k] = gy * z;
        }
    }
    (dxg, dhg, dh)
}
