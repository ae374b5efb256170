//! The recurrent-scan kernel family at the tensor level, over `cpu::recurrent_scan`: a
//! whole sequence's recurrence forward, and its gradients from the saved gates.

use crate::cpu::recurrent_scan::{batch_ranges, scan_backward, scan_forward, ScanSaved};
use crate::dtype::with_float;
use crate::ops::recurrent_scan::{Dims, ScanCell};
use crate::{Result, Shape, Tensor};

/// The outputs `[steps, batch, width·hidden]` of a scan over the input gates `xg`, and the
/// gates it saved for [`backward`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    d: &Dims,
    cell: ScanCell,
    xg: &Tensor,
    w_hh: &Tensor,
    b_hh: Option<&Tensor>,
    h0: &Tensor,
    c0: Option<&Tensor>,
    lengths: Option<&[usize]>,
) -> Result<(Tensor, Tensor)> {
    with_float!(xg.dtype(), "recurrent_scan", T => {
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
            scan_forward(d, &ranges, xg_v, &w, b.as_deref(), &h0v, c0v.as_deref(), lengths)
        })?;
        for v in [w, h0v].into_iter().chain(b).chain(c0v) {
            crate::storage::recycle(v);
        }
        Ok((
            Tensor::from_data(y, Shape(vec![d.steps, d.batch, cell.width() * d.hidden])),
            Tensor::from_data(saved, Shape(vec![d.steps * d.batch * cell.saved() * d.hidden])),
        ))
    })
}

/// The gradients of a scan's inputs (`xg`, `w_hh`, `h0`, then `c0` for an LSTM and `b_hh`
/// when `has_bias`) from its inputs `x`, its output `y`, the saved gates and the output's
/// gradient `g`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    d: &Dims,
    cell: ScanCell,
    x: &[Tensor],
    y: &Tensor,
    saved: &Tensor,
    g: &Tensor,
    lengths: Option<&[usize]>,
    has_bias: bool,
) -> Result<Vec<Option<Tensor>>> {
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
                        lengths,
                    };
                    scan_backward(d, &batch_ranges(d.batch), &saved)
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
}
