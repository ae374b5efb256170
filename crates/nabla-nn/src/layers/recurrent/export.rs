//! A recurrent layer as ONNX's `LSTM`, `GRU` or `RNN` nodes, one per stacked layer.
//!
//! The weights keep their variable names: the gate blocks are reordered in the graph
//! (`Split` + `Concat`) from PyTorch's order (LSTM `i, f, g, o`; GRU `r, z, n`) to ONNX's
//! (`i, o, f, c`; `z, r, h`), and GRU runs with `linear_before_reset = 1`, PyTorch's form.

use super::{CellKind, CellWeights, Recurrent};
use crate::export::{Attr, GraphSink, Traced};
use crate::{Result, Var};

/// ONNX's block order as indices into PyTorch's.
fn onnx_order(kind: CellKind) -> &'static [usize] {
    match kind {
        CellKind::Lstm => &[0, 3, 1, 2],
        CellKind::Gru => &[1, 0, 2],
        CellKind::RnnTanh | CellKind::RnnRelu => &[0],
    }
}

/// `var` (gate blocks stacked along dim 0, PyTorch's order) in ONNX's order.
fn reordered(g: &mut dyn GraphSink, var: &Var, kind: CellKind, hidden: usize) -> Result<String> {
    let name = g.var(var)?;
    let order = onnx_order(kind);
    if order.len() == 1 {
        return Ok(name);
    }
    let sizes = g.ints(&vec![hidden as i64; order.len()]);
    let parts = g.node_multi(
        "Split",
        &[&name, &sizes],
        order.len(),
        vec![("axis", Attr::Int(0))],
    );
    let ordered: Vec<&str> = order.iter().map(|&i| parts[i].as_str()).collect();
    Ok(g.node("Concat", &ordered, vec![("axis", Attr::Int(0))]))
}

/// The directions' tensors stacked on a new leading dim (ONNX's `[dirs, ...]`).
fn stacked(g: &mut dyn GraphSink, parts: &[String]) -> String {
    let axes = g.ints(&[0]);
    let ups: Vec<String> = parts
        .iter()
        .map(|p| g.node("Unsqueeze", &[p, &axes], vec![]))
        .collect();
    if ups.len() == 1 {
        return ups[0].clone();
    }
    let refs: Vec<&str> = ups.iter().map(String::as_str).collect();
    g.node("Concat", &refs, vec![("axis", Attr::Int(0))])
}

impl Recurrent {
    /// Writes the layer for `x` (`[time, batch, features]`, or batch first as configured):
    /// returns its outputs (as [`crate::Module::forward`] gives them) and the name of the
    /// last hidden states, `[layers · directions, batch, hidden]`.
    ///
    /// # Errors
    /// When a variable cannot be read or the example does not run.
    pub fn export_seq(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<(Traced, String)> {
        let dirs = if self.cfg.bidirectional { 2 } else { 1 };
        let mut h = if self.cfg.batch_first {
            g.node(
                "Transpose",
                &[&x.name],
                vec![("perm", Attr::Ints(vec![1, 0, 2]))],
            )
        } else {
            x.name.clone()
        };
        let (op, extra) = match self.kind {
            CellKind::Lstm => ("LSTM", vec![]),
            CellKind::Gru => ("GRU", vec![("linear_before_reset", Attr::Int(1))]),
            CellKind::RnnTanh => ("RNN", vec![]),
            CellKind::RnnRelu => (
                "RNN",
                vec![("activations", Attr::Strs(vec!["Relu".into(); dirs]))],
            ),
        };
        let mut finals = vec![];
        for layer in self.cells.chunks(dirs) {
            let (w, r, b) = self.layer_weights(g, layer)?;
            let mut attrs = vec![
                ("hidden_size", Attr::Int(self.hidden as i64)),
                (
                    "direction",
                    Attr::Str(
                        if dirs == 2 {
                            "bidirectional"
                        } else {
                            "forward"
                        }
                        .into(),
                    ),
                ),
            ];
            attrs.extend(extra.iter().cloned());
            let outs = if self.kind == CellKind::Lstm { 3 } else { 2 };
            let ins = [h.as_str(), &w, &r, b.as_deref().unwrap_or("")];
            let ins = if b.is_some() { &ins[..] } else { &ins[..3] };
            let ys = g.node_multi(op, ins, outs, attrs);
            // Y is [time, dirs, batch, hidden]: the next layer reads [time, batch, dirs·hidden].
            let y = g.node(
                "Transpose",
                &[&ys[0]],
                vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
            );
            let shape = g.ints(&[0, 0, -1]);
            h = g.node("Reshape", &[&y, &shape], vec![]);
            finals.push(ys[1].clone());
        }
        if self.cfg.batch_first {
            h = g.node(
                "Transpose",
                &[&h],
                vec![("perm", Attr::Ints(vec![1, 0, 2]))],
            );
        }
        let last = if finals.len() == 1 {
            finals.remove(0)
        } else {
            let refs: Vec<&str> = finals.iter().map(String::as_str).collect();
            g.node("Concat", &refs, vec![("axis", Attr::Int(0))])
        };
        Ok((x.through(self, h)?, last))
    }

    /// `W`, `R` and `B` of one stacked layer's directions, in ONNX's layout.
    fn layer_weights(
        &self,
        g: &mut dyn GraphSink,
        cells: &[CellWeights],
    ) -> Result<(String, String, Option<String>)> {
        let (mut ws, mut rs, mut bs) = (vec![], vec![], vec![]);
        for c in cells {
            ws.push(reordered(g, &c.w_ih, c.kind, c.hidden)?);
            rs.push(reordered(g, &c.w_hh, c.kind, c.hidden)?);
            if let (Some(bi), Some(bh)) = (&c.b_ih, &c.b_hh) {
                let (bi, bh) = (
                    reordered(g, bi, c.kind, c.hidden)?,
                    reordered(g, bh, c.kind, c.hidden)?,
                );
                bs.push(g.node("Concat", &[&bi, &bh], vec![("axis", Attr::Int(0))]));
            }
        }
        let b = (!bs.is_empty()).then(|| stacked(g, &bs));
        Ok((stacked(g, &ws), stacked(g, &rs), b))
    }
}
