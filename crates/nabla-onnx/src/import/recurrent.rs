//! LSTM, GRU and RNN nodes, unrolled in time with differentiable tensor ops (so they train
//! by backpropagation through time like any other node).
//!
//! ONNX's layout: `X` is `[seq, batch, input]` (`layout = 1`: `[batch, seq, input]`), `W`
//! `[dirs, gates·H, input]`, `R` `[dirs, gates·H, H]`, `B` `[dirs, 2·gates·H]` (input biases
//! then recurrent ones); outputs `Y` `[seq, dirs, batch, H]` and `Y_h` (`Y_c`)
//! `[dirs, batch, H]`. Gate orders: LSTM `i, o, f, c`; GRU `z, r, h`.

use super::ctx::Ctx;
use crate::value::Value;
use crate::Result;
use nabla::{DType, Tensor};

/// Which recurrence a node runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rnn,
    Gru,
    Lstm,
}

impl Kind {
    fn gates(self) -> usize {
        match self {
            Kind::Rnn => 1,
            Kind::Gru => 3,
            Kind::Lstm => 4,
        }
    }
}

/// LSTM (gates `i, o, f, c`; no peepholes, default activations).
pub fn lstm(c: &Ctx) -> Result<Vec<Value>> {
    run(c, Kind::Lstm)
}

/// GRU (gates `z, r, h`; either `linear_before_reset`).
pub fn gru(c: &Ctx) -> Result<Vec<Value>> {
    run(c, Kind::Gru)
}

/// RNN (`tanh` or `relu`).
pub fn rnn(c: &Ctx) -> Result<Vec<Value>> {
    run(c, Kind::Rnn)
}

/// Gate `k` (of width `h`) of `g`, `[batch, gates·h]`.
fn gate(g: &Tensor, k: usize, h: usize) -> Result<Tensor> {
    Ok(g.narrow(1, k * h, h)?)
}

fn check_attrs(c: &Ctx, kind: Kind) -> Result<bool> {
    if c.attr_f("clip", 0.0)? != 0.0 {
        return Err(c.err("the clip attribute is not supported"));
    }
    if c.attr_i("input_forget", 0)? != 0 {
        return Err(c.err("input_forget is not supported"));
    }
    if c.opt(7).is_some() && kind == Kind::Lstm {
        return Err(c.err("peephole weights (input P) are not supported"));
    }
    let mut relu = false;
    if let Some(crate::proto::AttrValue::Strings(acts)) = c.node.attr("activations") {
        let acts: Vec<String> = acts
            .iter()
            .map(|a| String::from_utf8_lossy(a).to_lowercase())
            .collect();
        let default: &[&str] = match kind {
            Kind::Lstm => &["sigmoid", "tanh", "tanh"],
            Kind::Gru => &["sigmoid", "tanh"],
            Kind::Rnn => &["tanh"],
        };
        let per_dir = default.len();
        for chunk in acts.chunks(per_dir) {
            if kind == Kind::Rnn && chunk == ["relu"] {
                relu = true;
            } else if chunk != default {
                return Err(c.err(format!(
                    "activations {acts:?} are not supported (the defaults are)"
                )));
            }
        }
    }
    Ok(relu)
}

fn run(c: &Ctx, kind: Kind) -> Result<Vec<Value>> {
    let relu = check_attrs(c, kind)?;
    let batch_first = c.attr_i("layout", 0)? == 1;
    let mut x = c.float(0)?;
    if x.rank() != 3 {
        return Err(c.err(format!("X must be 3-D, got {:?}", x.dims())));
    }
    if batch_first {
        x = x.transpose(0, 1)?;
    }
    let (w, r) = (c.float(1)?, c.float(2)?);
    let ng = kind.gates();
    let h = usize::try_from(c.attr_i("hidden_size", r.dims().last().copied().unwrap_or(0) as i64)?)
        .map_err(|_| c.err("hidden_size must be positive"))?;
    let direction = c.attr_s("direction", "forward")?;
    let dirs = if direction == "bidirectional" { 2 } else { 1 };
    let (seq, batch, input) = (x.dims()[0], x.dims()[1], x.dims()[2]);
    if w.dims() != [dirs, ng * h, input] || r.dims() != [dirs, ng * h, h] {
        return Err(c.err(format!(
            "W {:?} and R {:?} do not fit {dirs} direction(s), hidden size {h} and input size {input}",
            w.dims(),
            r.dims()
        )));
    }
    if let Some(lens) = c.opt_ints(4)? {
        if lens.iter().any(|&l| l != seq as i64) {
            return Err(c.err("sequence_lens shorter than the sequence are not supported"));
        }
    }
    let b = c.opt_float(3)?;
    let h0 = c.opt_float(5)?;
    let c0 = if kind == Kind::Lstm {
        c.opt_float(6)?
    } else {
        None
    };
    let linear_before_reset = c.attr_i("linear_before_reset", 0)? != 0;
    let zeros = Tensor::zeros(&[batch, h], DType::F32, &c.device);
    let state = |t: &Option<Tensor>, d: usize| -> Result<Tensor> {
        match t {
            Some(t) if t.dims() == [dirs, batch, h] => Ok(t.narrow(0, d, 1)?.squeeze(0)?),
            Some(t) => Err(c.err(format!(
                "an initial state of shape {:?}, expected {:?}",
                t.dims(),
                [dirs, batch, h]
            ))),
            None => Ok(zeros.clone()),
        }
    };
    let (mut ys, mut hs, mut cs) = (vec![], vec![], vec![]);
    for d in 0..dirs {
        let reverse = direction == "reverse" || d == 1;
        let wd = w.narrow(0, d, 1)?.squeeze(0)?;
        let rd = r.narrow(0, d, 1)?.squeeze(0)?;
        let (wb, rb) = match &b {
            Some(b) if b.dims() == [dirs, 2 * ng * h] => {
                let bd = b.narrow(0, d, 1)?.squeeze(0)?;
                (
                    Some(bd.narrow(0, 0, ng * h)?),
                    Some(bd.narrow(0, ng * h, ng * h)?),
                )
            }
            Some(b) => {
                return Err(c.err(format!(
                    "B of shape {:?}, expected {:?}",
                    b.dims(),
                    [dirs, 2 * ng * h]
                )))
            }
            None => (None, None),
        };
        // Input products of every step at once: [seq·batch, gates·H].
        let xg = x
            .reshape(&[seq * batch, input])?
            .linear(&wd, wb.as_ref())?
            .reshape(&[seq, batch, ng * h])?;
        let mut ht = state(&h0, d)?;
        let mut ct = state(&c0, d)?;
        let mut outs = vec![None; seq];
        for step in 0..seq {
            let t = if reverse { seq - 1 - step } else { step };
            let xt = xg.narrow(0, t, 1)?.squeeze(0)?;
            match kind {
                Kind::Rnn => {
                    let a = xt.add(&ht.linear(&rd, rb.as_ref())?)?;
                    ht = if relu { a.relu()? } else { a.tanh()? };
                }
                Kind::Lstm => {
                    let g = xt.add(&ht.linear(&rd, rb.as_ref())?)?;
                    let i = gate(&g, 0, h)?.sigmoid()?;
                    let o = gate(&g, 1, h)?.sigmoid()?;
                    let f = gate(&g, 2, h)?.sigmoid()?;
                    let cand = gate(&g, 3, h)?.tanh()?;
                    ct = f.mul(&ct)?.add(&i.mul(&cand)?)?;
                    ht = o.mul(&ct.tanh()?)?;
                }
                Kind::Gru => {
                    let (rz, rh) = (rd.narrow(0, 0, 2 * h)?, rd.narrow(0, 2 * h, h)?);
                    let (rbz, rbh) = match &rb {
                        Some(rb) => (Some(rb.narrow(0, 0, 2 * h)?), Some(rb.narrow(0, 2 * h, h)?)),
                        None => (None, None),
                    };
                    let zr = xt
                        .narrow(1, 0, 2 * h)?
                        .add(&ht.linear(&rz, rbz.as_ref())?)?;
                    let z = gate(&zr, 0, h)?.sigmoid()?;
                    let rg = gate(&zr, 1, h)?.sigmoid()?;
                    let xh = xt.narrow(1, 2 * h, h)?;
                    let cand = if linear_before_reset {
                        xh.add(&rg.mul(&ht.linear(&rh, rbh.as_ref())?)?)?
                    } else {
                        xh.add(&rg.mul(&ht)?.linear(&rh, rbh.as_ref())?)?
                    }
                    .tanh()?;
                    // H = (1 - z)·cand + z·H = cand + z·(H - cand)
                    ht = cand.add(&z.mul(&ht.sub(&cand)?)?)?;
                }
            }
            outs[t] = Some(ht.clone());
        }
        let outs: Vec<Tensor> = outs
            .into_iter()
            .map(|o| o.expect("every step ran"))
            .collect();
        let refs: Vec<&Tensor> = outs.iter().collect();
        ys.push(Tensor::stack(&refs, 0)?); // [seq, batch, H]
        hs.push(ht);
        cs.push(ct);
    }
    let stack = |v: &[Tensor], dim: usize| -> Result<Tensor> {
        let refs: Vec<&Tensor> = v.iter().collect();
        Ok(Tensor::stack(&refs, dim)?)
    };
    let mut y = stack(&ys, 1)?; // [seq, dirs, batch, H]
    let mut y_h = stack(&hs, 0)?;
    let mut y_c = stack(&cs, 0)?;
    if batch_first {
        // layout 1: Y is [batch, seq, dirs, H], Y_h and Y_c [batch, dirs, H].
        y = y.permute(&[2, 0, 1, 3])?.contiguous()?;
        y_h = y_h.transpose(0, 1)?.contiguous()?;
        y_c = y_c.transpose(0, 1)?.contiguous()?;
    }
    let mut out = vec![Value::Float(y), Value::Float(y_h)];
    if kind == Kind::Lstm {
        out.push(Value::Float(y_c));
    }
    Ok(out)
}
