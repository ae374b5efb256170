//! A whole recurrent layer direction as one op: the time loop of an RNN, LSTM or GRU with
//! backpropagation through time written out by hand.
//!
//! Autograd over an unrolled loop records several nodes per step and, in backward, one small
//! weight-gradient product per step plus a sum of them. Here the forward runs the steps
//! with one `h·W_hhᵀ` product each, saving the gate activations; the backward walks the steps
//! in reverse with one `∂gates·W_hh` product each, and finishes with a single large product
//! `∂W_hh = Σ_t ∂gates_tᵀ·h_{t-1}` over all steps at once (as cuDNN does). The loops are
//! the CPU backend's (`cpu::recurrent_scan`); this file holds the API, the checks and the
//! gradient rule.

use super::kernels::recurrent_scan as kernels;
use super::rule;
use crate::autocast::Precision;
use crate::{Error, Result, Tensor};

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
    pub(crate) fn gates(self) -> usize {
        match self {
            ScanCell::Tanh | ScanCell::Relu => 1,
            ScanCell::Lstm => 4,
            ScanCell::Gru => 3,
        }
    }
    /// Values saved per unit per step for the backward pass.
    pub(crate) fn saved(self) -> usize {
        match self {
            ScanCell::Tanh | ScanCell::Relu => 0,
            ScanCell::Lstm | ScanCell::Gru => 4,
        }
    }
    /// Width of the output per unit: `h` and, for the LSTM, `c`.
    pub(crate) fn width(self) -> usize {
        if self == ScanCell::Lstm {
            2
        } else {
            1
        }
    }
}

/// The sizes and options of one scan.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub(crate) cell: ScanCell,
    pub(crate) steps: usize,
    pub(crate) batch: usize,
    pub(crate) hidden: usize,
    pub(crate) reverse: bool,
    /// The precision of the products ([`crate::autocast`]), kept for the backward pass.
    pub(crate) prec: Precision,
}

impl Dims {
    /// The time index of the `s`-th step processed.
    pub(crate) fn t(&self, s: usize) -> usize {
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
        let (y, saved) = kernels::forward(&d, cell, xg, w_hh, b_hh, h0, c0, lengths.as_deref())?;
        let mut inputs = vec![xg, w_hh, h0];
        inputs.extend(c0);
        inputs.extend(b_hh);
        let has_bias = b_hh.is_some();
        Ok(y.record(
            rule("RecurrentScanBackward", move |x, y, g| {
                kernels::backward(&d, cell, x, y, &saved, g, lengths.as_deref(), has_bias)
            }),
            &inputs,
        ))
    }
}

impl Dims {
    pub(crate) fn gates_hidden(&self) -> usize {
        self.cell.gates() * self.hidden
    }
    pub(crate) fn active(&self, lengths: Option<&[usize]>, t: usize, b: usize) -> bool {
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
