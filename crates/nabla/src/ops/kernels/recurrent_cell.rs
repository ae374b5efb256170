//! The recurrent-cell kernel family at the tensor level (the fused LSTM and GRU steps of
//! `ops/recurrent.rs`), over `cpu::recurrent_cell`.

use crate::cpu::recurrent_cell as cpu;
use crate::dtype::with_float;
use crate::{Element, Result, Shape, Tensor};

/// Calls `f` with the row-major elements of three tensors of dtype `T`.
fn with3<T: Element, R>(
    op: &'static str,
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    f: impl FnOnce(&[T], &[T], &[T]) -> R,
) -> Result<R> {
    a.with_contiguous::<T, _>(op, |a| {
        b.with_contiguous::<T, _>(op, |b| c.with_contiguous::<T, _>(op, |c| f(a, b, c)))
    })?
    .and_then(|r| r)
}

/// One LSTM step's `[h' | c']`, `[batch, 2·hidden]`.
pub(crate) fn lstm_forward(
    xg: &Tensor,
    hg: &Tensor,
    c: &Tensor,
    batch: usize,
    hidden: usize,
) -> Result<Tensor> {
    let op = "lstm_cell";
    with_float!(xg.dtype(), op, T => {
        let out = with3::<T, _>(op, xg, hg, c, |xg, hg, c| cpu::lstm_forward(xg, hg, c, batch, hidden))?;
        Ok(Tensor::from_data(out, Shape(vec![batch, 2 * hidden])))
    })
}

/// One LSTM step's gradients `(∂L/∂gates, ∂L/∂c)` from its inputs, its output `y` and the
/// output's gradient `g`.
pub(crate) fn lstm_backward(
    x: &[Tensor],
    y: &Tensor,
    g: &Tensor,
    batch: usize,
    hidden: usize,
) -> Result<(Tensor, Tensor)> {
    let op = "lstm_cell";
    with_float!(g.dtype(), op, T => {
        let (dgates, dc) = with3::<T, _>(op, &x[0], &x[1], &x[2], |xg, hg, c| {
            y.with_contiguous::<T, _>(op, |y| {
                g.with_contiguous::<T, _>(op, |g| cpu::lstm_backward(xg, hg, c, y, g, batch, hidden))
            })
        })???;
        Ok((
            Tensor::from_data(dgates, Shape(vec![batch, 4 * hidden])),
            Tensor::from_data(dc, Shape(vec![batch, hidden])),
        ))
    })
}

/// One GRU step's `h'`, `[batch, hidden]`.
pub(crate) fn gru_forward(
    xg: &Tensor,
    hg: &Tensor,
    h: &Tensor,
    batch: usize,
    hidden: usize,
) -> Result<Tensor> {
    let op = "gru_cell";
    with_float!(xg.dtype(), op, T => {
        let out = with3::<T, _>(op, xg, hg, h, |xg, hg, h| cpu::gru_forward(xg, hg, h, batch, hidden))?;
        Ok(Tensor::from_data(out, Shape(vec![batch, hidden])))
    })
}

/// One GRU step's gradients `(∂L/∂xg, ∂L/∂hg, ∂L/∂h)` from its inputs and `g = ∂L/∂h'`.
pub(crate) fn gru_backward(
    x: &[Tensor],
    g: &Tensor,
    batch: usize,
    hidden: usize,
) -> Result<(Tensor, Tensor, Tensor)> {
    let op = "gru_cell";
    with_float!(g.dtype(), op, T => {
        let (dxg, dhg, dh) = with3::<T, _>(op, &x[0], &x[1], &x[2], |xg, hg, h| {
            g.with_contiguous::<T, _>(op, |g| cpu::gru_backward(xg, hg, h, g, batch, hidden))
        })??;
        let gates = Shape(vec![batch, 3 * hidden]);
        Ok((
            Tensor::from_data(dxg, gates.clone()),
            Tensor::from_data(dhg, gates),
            Tensor::from_data(dh, Shape(vec![batch, hidden])),
        ))
    })
}
