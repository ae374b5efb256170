//! The point-wise parts of the LSTM and GRU cells as single fused ops.
//!
//! A recurrent layer computes, at every time step, two gate projections: `xg = x·W_ihᵀ + b_ih`
//! (for all steps at once) and `hg = h·W_hhᵀ + b_hh` (one product per step). Everything after
//! those products — the gate non-linearities, the cell update and the new hidden state — is
//! one op here with its gradient rule beside it, instead of a dozen element-wise ops each
//! allocating and recording a graph node. Gate order and formulas are PyTorch's.

use super::kernels::recurrent_cell as kernels;
use super::rule;
use crate::{Error, Result, Tensor};

impl Tensor {
    /// One LSTM step after the matrix products. `xg` and `hg` are `[batch, 4·hidden]` with the
    /// gates in PyTorch's order input, forget, cell, output; `c` is the previous cell state
    /// `[batch, hidden]`. With `a = xg + hg`:
    ///
    /// `i = σ(a_i)`, `f = σ(a_f)`, `g = tanh(a_g)`, `o = σ(a_o)`,
    /// `c' = f·c + i·g`, `h' = o·tanh(c')`.
    ///
    /// Returns `[batch, 2·hidden]`: `h'` in the first `hidden` columns, `c'` in the rest
    /// (take them apart with `narrow(1, ..)`).
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] when the shapes disagree, [`Error::DType`] when the dtypes do.
    pub fn lstm_cell(xg: &Tensor, hg: &Tensor, c: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("lstm_cell", xg, (xg, hg, c), |(xg, hg, c)| {
            Tensor::lstm_cell(&xg, &hg, &c)
        });
        let (batch, hidden) = check_cell("lstm_cell", xg, hg, c, 4)?;
        let y = kernels::lstm_forward(xg, hg, c, batch, hidden)?;
        Ok(y.record(
            rule("LstmCellBackward", move |x, y, g| {
                let (dgates, dc) = kernels::lstm_backward(x, y, g, batch, hidden)?;
                Ok(vec![Some(dgates.clone()), Some(dgates), Some(dc)])
            }),
            &[xg, hg, c],
        ))
    }

    /// One GRU step after the matrix products. `xg` and `hg` are `[batch, 3·hidden]` with the
    /// gates in PyTorch's order reset, update, new; `h` is the previous hidden state
    /// `[batch, hidden]`. `hg` must include `b_hh`, because the reset gate scales it:
    ///
    /// `r = σ(xg_r + hg_r)`, `z = σ(xg_z + hg_z)`, `n = tanh(xg_n + r·hg_n)`,
    /// `h' = (1 - z)·n + z·h`.
    ///
    /// Returns `h'`, `[batch, hidden]`.
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] when the shapes disagree, [`Error::DType`] when the dtypes do.
    pub fn gru_cell(xg: &Tensor, hg: &Tensor, h: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("gru_cell", xg, (xg, hg, h), |(xg, hg, h)| {
            Tensor::gru_cell(&xg, &hg, &h)
        });
        let (batch, hidden) = check_cell("gru_cell", xg, hg, h, 3)?;
        let y = kernels::gru_forward(xg, hg, h, batch, hidden)?;
        Ok(y.record(
            rule("GruCellBackward", move |x, _, g| {
                let (dxg, dhg, dh) = kernels::gru_backward(x, g, batch, hidden)?;
                Ok(vec![Some(dxg), Some(dhg), Some(dh)])
            }),
            &[xg, hg, h],
        ))
    }
}

/// Checks `xg`, `hg`: `[batch, gates·hidden]` and `state`: `[batch, hidden]`, all one float
/// dtype; returns `(batch, hidden)`.
fn check_cell(
    op: &'static str,
    xg: &Tensor,
    hg: &Tensor,
    state: &Tensor,
    gates: usize,
) -> Result<(usize, usize)> {
    if state.rank() != 2 {
        return Err(Error::UnexpectedShape {
            op,
            expected: "a state of shape [batch, hidden]".into(),
            got: state.shape().clone(),
        });
    }
    let (batch, hidden) = (state.dims()[0], state.dims()[1]);
    for t in [xg, hg] {
        if t.dims() != [batch, gates * hidden] {
            return Err(Error::UnexpectedShape {
                op,
                expected: format!("gates of shape [{batch}, {}]", gates * hidden),
                got: t.shape().clone(),
            });
        }
    }
    for t in [hg, state] {
        if t.dtype() != xg.dtype() {
            return Err(Error::DType {
                op,
                expected: xg.dtype(),
                got: t.dtype(),
            });
        }
    }
    Ok((batch, hidden))
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, randn, tensor};
    use crate::{Result, Tensor};

    /// The fused LSTM cell equals the same formulas written with element-wise ops.
    #[test]
    fn lstm_cell_matches_composed_ops() -> Result<()> {
        let (b, h) = (3, 4);
        let (xg, hg, c) = (
            randn(&[b, 4 * h], 1)?,
            randn(&[b, 4 * h], 2)?,
            randn(&[b, h], 3)?,
        );
        let y = Tensor::lstm_cell(&xg, &hg, &c)?;
        let a = xg.add(&hg)?;
        let gate = |k: usize| a.narrow(1, k * h, h);
        let (i, f, g, o) = (
            gate(0)?.sigmoid()?,
            gate(1)?.sigmoid()?,
            gate(2)?.tanh()?,
            gate(3)?.sigmoid()?,
        );
        let cn = f.mul(&c)?.add(&i.mul(&g)?)?;
        let hn = o.mul(&cn.tanh()?)?;
        let want = Tensor::cat(&[&hn, &cn], 1)?;
        assert_close(&y, &want.to_vec::<f64>()?, 1e-12)
    }

    /// The fused GRU cell equals PyTorch's formulas written with element-wise ops.
    #[test]
    fn gru_cell_matches_composed_ops() -> Result<()> {
        let (b, h) = (2, 5);
        let (xg, hg, hp) = (
            randn(&[b, 3 * h], 4)?,
            randn(&[b, 3 * h], 5)?,
            randn(&[b, h], 6)?,
        );
        let y = Tensor::gru_cell(&xg, &hg, &hp)?;
        let (x, hh) = (
            |k: usize| xg.narrow(1, k * h, h),
            |k: usize| hg.narrow(1, k * h, h),
        );
        let r = x(0)?.add(&hh(0)?)?.sigmoid()?;
        let z = x(1)?.add(&hh(1)?)?.sigmoid()?;
        let n = x(2)?.add(&r.mul(&hh(2)?)?)?.tanh()?;
        let want = z.neg()?.add_scalar(1.0)?.mul(&n)?.add(&z.mul(&hp)?)?;
        assert_close(&y, &want.to_vec::<f64>()?, 1e-12)
    }

    #[test]
    fn lstm_cell_gradcheck() -> Result<()> {
        let (b, h) = (2, 3);
        gradcheck(&[&[b, 4 * h], &[b, 4 * h], &[b, h]], |x| {
            Tensor::lstm_cell(&x[0], &x[1], &x[2])
        })
    }

    #[test]
    fn gru_cell_gradcheck() -> Result<()> {
        let (b, h) = (2, 3);
        gradcheck(&[&[b, 3 * h], &[b, 3 * h], &[b, h]], |x| {
            Tensor::gru_cell(&x[0], &x[1], &x[2])
        })
    }

    #[test]
    fn cells_reject_mismatched_shapes() -> Result<()> {
        let c = tensor(&[0.0; 6], &[2, 3])?;
        let bad = tensor(&[0.0; 12], &[2, 6])?;
        let err = Tensor::lstm_cell(&bad, &bad, &c).unwrap_err().to_string();
        assert!(err.contains("[2, 12]"), "{err}");
        assert!(Tensor::gru_cell(&bad, &bad, &c).is_err());
        Ok(())
    }
}
