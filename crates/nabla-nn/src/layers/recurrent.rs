//! Recurrent layers unfolded in time: vanilla RNN (tanh or ReLU), LSTM and GRU, with their
//! single-step cells.
//!
//! A recurrent layer applies the same cell at every time step; autograd sees the unrolled
//! graph, so `backward()` is backpropagation through time. Per layer and direction the input
//! projection `x·W_ihᵀ + b_ih` is one matrix product over all time steps, and the time loop
//! is one op, [`Tensor::recurrent_scan`]: one product `h·W_hhᵀ` for all gates per step, and
//! in backward one product `∂W_hh = Σ_t ∂gates_tᵀ·h_{t-1}` over all steps. The single-step
//! cells use the fused point-wise ops [`Tensor::lstm_cell`] and [`Tensor::gru_cell`].
//!
//! Parameter names, shapes, gate order and initialization are PyTorch's (`weight_ih_l0`,
//! `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, `…_reverse` for the backward direction;
//! LSTM gates i, f, g, o; GRU gates r, z, n; every tensor `U(-1/√hidden, 1/√hidden)`), so
//! a PyTorch `state_dict` loads as it is.
//!
//! Over 600 lines because the layer, its single-step cell and the weights and state checks
//! they share are one unit; the ONNX export is apart, in `recurrent/export.rs`.

mod export;

use crate::export::{GraphSink, Traced};
use crate::init::Init;
use crate::{Error, Module, Path, Result, Var};
use nabla::{ScanCell, Tensor};

/// The recurrence a cell computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)` (Elman network).
    RnnTanh,
    /// `h' = relu(W_ih x + b_ih + W_hh h + b_hh)`.
    RnnRelu,
    /// Long short-term memory (Hochreiter & Schmidhuber 1997, with a forget gate).
    Lstm,
    /// Gated recurrent unit (Cho et al. 2014).
    Gru,
}

impl CellKind {
    /// Gate blocks stacked in `W_ih` and `W_hh`: 1, 1, 4 or 3.
    pub fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }
}

/// The state carried between time steps: hidden `h` and, for an LSTM, cell `c`.
///
/// For a [`Recurrent`] layer both are `[layers · directions, batch, hidden]`, PyTorch's
/// `(h_n, c_n)`; for a [`RecurrentCell`] they are `[batch, hidden]`.
#[derive(Clone)]
pub struct RnnState {
    /// Hidden state.
    pub h: Tensor,
    /// Cell state (LSTM only).
    pub c: Option<Tensor>,
}

impl RnnState {
    /// The same values cut from the graph that made them: carrying a detached state into
    /// the next chunk of a sequence is truncated backpropagation through time.
    pub fn detach(&self) -> RnnState {
        RnnState {
            h: self.h.detach(),
            c: self.c.as_ref().map(Tensor::detach),
        }
    }
}

/// The weights of one cell: `W_ih [gates·hidden, input]`, `W_hh [gates·hidden, hidden]` and
/// the two biases `[gates·hidden]`.
struct CellWeights {
    kind: CellKind,
    hidden: usize,
    input: usize,
    w_ih: Var,
    w_hh: Var,
    b_ih: Option<Var>,
    b_hh: Option<Var>,
}

impl CellWeights {
    /// Variables `weight_ih{suffix}`, `weight_hh{suffix}`, `bias_ih{suffix}`,
    /// `bias_hh{suffix}` under `p`.
    fn new(
        p: &Path,
        kind: CellKind,
        input: usize,
        hidden: usize,
        bias: bool,
        suffix: &str,
    ) -> Result<Self> {
        if input == 0 || hidden == 0 {
            return Err(Error::invalid(
                "recurrent layer",
                format!("input size and hidden size must be positive, got {input} and {hidden}"),
            ));
        }
        let k = 1.0 / (hidden as f64).sqrt();
        let init = Init::Uniform { low: -k, high: k };
        let g = kind.gates() * hidden;
        let w_ih = p.param(&format!("weight_ih{suffix}"), &[g, input], init)?;
        let w_hh = p.param(&format!("weight_hh{suffix}"), &[g, hidden], init)?;
        let (b_ih, b_hh) = if bias {
            (
                Some(p.param(&format!("bias_ih{suffix}"), &[g], init)?),
                Some(p.param(&format!("bias_hh{suffix}"), &[g], init)?),
            )
        } else {
            (None, None)
        };
        Ok(CellWeights {
            kind,
            hidden,
            input,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
        })
    }

    /// Whether `b_hh` is added once with the input projection instead of at every step:
    /// true except for the GRU, whose reset gate multiplies `W_hn h + b_hn`.
    fn folds_hidden_bias(&self) -> bool {
        self.kind != CellKind::Gru
    }

    /// `x·W_ihᵀ + b_ih` (plus `b_hh` where it folds) for `x [n, input]`: `[n, gates·hidden]`.
    fn project_input(&self, x: &Tensor) -> Result<Tensor> {
        let bias = match (&self.b_ih, &self.b_hh) {
            (Some(bi), Some(bh)) if self.folds_hidden_bias() => {
                Some(bi.tensor().add(&bh.tensor())?)
            }
            (bi, _) => bi.as_ref().map(Var::tensor),
        };
        Ok(x.linear(&self.w_ih.tensor(), bias.as_ref())?)
    }

    /// One step from the input projection `xg [batch, gates·hidden]` and the state
    /// (`[batch, hidden]` each): the new `(h, c)`.
    fn step(
        &self,
        xg: &Tensor,
        h: &Tensor,
        c: Option<&Tensor>,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let b_hh = if self.folds_hidden_bias() {
            None
        } else {
            self.b_hh.as_ref().map(Var::tensor)
        };
        let hg = h.linear(&self.w_hh.tensor(), b_hh.as_ref())?;
        Ok(match self.kind {
            CellKind::RnnTanh => (xg.add(&hg)?.tanh()?, None),
            CellKind::RnnRelu => (xg.add(&hg)?.relu()?, None),
            CellKind::Gru => (Tensor::gru_cell(xg, &hg, h)?, None),
            CellKind::Lstm => {
                let c =
                    c.ok_or_else(|| Error::invalid("lstm", "an LSTM state needs a cell state c"))?;
                let hc = Tensor::lstm_cell(xg, &hg, c)?;
                let n = self.hidden;
                (hc.narrow(1, 0, n)?, Some(hc.narrow(1, n, n)?))
            }
        })
    }
}

/// A zero state `[lead.., batch, hidden]` (with `c` for an LSTM) on the input `x`'s device.
fn zero_state(kind: CellKind, lead: &[usize], hidden: usize, x: &Tensor) -> Result<RnnState> {
    let shape: Vec<usize> = lead.iter().copied().chain([hidden]).collect();
    let z = || Tensor::zeros(&shape, x.dtype(), &nabla::Device::Cpu).to_device(&x.device());
    Ok(RnnState {
        h: z()?,
        c: (kind == CellKind::Lstm).then(z).transpose()?,
    })
}

/// Checks that a given state has `shape` (and a `c` exactly for an LSTM).
fn check_state(kind: CellKind, state: &RnnState, shape: &[usize]) -> Result<()> {
    let bad = |what: &str, t: &Tensor| {
        Error::shape(
            "recurrent state",
            format!("{what} of shape {shape:?}"),
            format!("{:?}", t.dims()),
        )
    };
    if state.h.dims() != shape {
        return Err(bad("h", &state.h));
    }
    match (&state.c, kind == CellKind::Lstm) {
        (Some(c), true) if c.dims() != shape => Err(bad("c", c)),
        (Some(_), true) | (None, false) => Ok(()),
        (None, true) => Err(Error::invalid(
            "recurrent state",
            "an LSTM state needs both h and c",
        )),
        (Some(_), false) => Err(Error::invalid(
            "recurrent state",
            "only an LSTM state has a cell state c",
        )),
    }
}

/// One recurrent cell applied to one time step, as PyTorch's `nn.RNNCell`, `nn.LSTMCell`
/// and `nn.GRUCell` (variables `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`).
pub struct RecurrentCell {
    w: CellWeights,
}

impl RecurrentCell {
    /// A cell of `kind` mapping `input` features and a `hidden`-sized state to the next
    /// state.
    ///
    /// # Errors
    /// When a size is 0 or the names exist.
    pub fn new(p: &Path, kind: CellKind, input: usize, hidden: usize, bias: bool) -> Result<Self> {
        Ok(RecurrentCell {
            w: CellWeights::new(p, kind, input, hidden, bias, "")?,
        })
    }

    /// The cell's kind.
    pub fn kind(&self) -> CellKind {
        self.w.kind
    }

    /// The next state from `x [batch, input]` and the state (`[batch, hidden]`; zeros when
    /// `None`).
    ///
    /// # Errors
    /// When the shapes disagree.
    pub fn step(&self, x: &Tensor, state: Option<&RnnState>) -> Result<RnnState> {
        if x.rank() != 2 || x.dims()[1] != self.w.input {
            return Err(Error::shape(
                "recurrent cell",
                format!("an input [batch, {}]", self.w.input),
                format!("{:?}", x.dims()),
            ));
        }
        let shape = [x.dims()[0], self.w.hidden];
        let zero;
        let state = match state {
            Some(s) => {
                check_state(self.w.kind, s, &shape)?;
                s
            }
            None => {
                zero = zero_state(self.w.kind, &shape[..1], self.w.hidden, x)?;
                &zero
            }
        };
        let (h, c) = self
            .w
            .step(&self.w.project_input(x)?, &state.h, state.c.as_ref())?;
        Ok(RnnState { h, c })
    }
}

/// Options of a [`Recurrent`] layer, PyTorch's constructor arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RnnConfig {
    /// Stacked layers; layer `l + 1` reads layer `l`'s outputs.
    pub num_layers: usize,
    /// Also run a second cell from the last step to the first and concatenate its outputs.
    pub bidirectional: bool,
    /// Inputs and outputs are `[batch, time, features]` instead of `[time, batch, features]`.
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last, in training.
    pub dropout: f64,
    /// Whether the cells have biases.
    pub bias: bool,
}

impl Default for RnnConfig {
    fn default() -> Self {
        RnnConfig {
            num_layers: 1,
            bidirectional: false,
            batch_first: false,
            dropout: 0.0,
            bias: true,
        }
    }
}

/// A multi-layer, optionally bidirectional recurrent layer: PyTorch's `nn.RNN`, `nn.LSTM`
/// and `nn.GRU`.
///
/// Input `[time, batch, input]` (`[batch, time, input]` with `batch_first`); output
/// `[time, batch, directions · hidden]`, the last layer's hidden state at every step (both
/// directions concatenated); final state `[layers · directions, batch, hidden]`.
pub struct Recurrent {
    kind: CellKind,
    input: usize,
    hidden: usize,
    cfg: RnnConfig,
    /// Index `layer · directions + direction`.
    cells: Vec<CellWeights>,
}

impl Recurrent {
    /// A recurrent layer of `kind`.
    ///
    /// # Errors
    /// When a size or `num_layers` is 0, `dropout` is outside `[0, 1)`, or a name exists.
    pub fn new(
        p: &Path,
        kind: CellKind,
        input: usize,
        hidden: usize,
        cfg: RnnConfig,
    ) -> Result<Self> {
        if cfg.num_layers == 0 {
            return Err(Error::out_of_range(
                "recurrent layer",
                "num_layers",
                "at least 1",
                cfg.num_layers,
            ));
        }
        if !(0.0..1.0).contains(&cfg.dropout) {
            return Err(Error::out_of_range(
                "recurrent layer",
                "dropout",
                "in [0, 1)",
                cfg.dropout,
            ));
        }
        let dirs = if cfg.bidirectional { 2 } else { 1 };
        let mut cells = Vec::with_capacity(cfg.num_layers * dirs);
        for layer in 0..cfg.num_layers {
            let layer_input = if layer == 0 { input } else { hidden * dirs };
            for dir in 0..dirs {
                let suffix = format!("_l{layer}{}", if dir == 1 { "_reverse" } else { "" });
                cells.push(CellWeights::new(
                    p,
                    kind,
                    layer_input,
                    hidden,
                    cfg.bias,
                    &suffix,
                )?);
            }
        }
        Ok(Recurrent {
            kind,
            input,
            hidden,
            cfg,
            cells,
        })
    }

    /// PyTorch's `nn.LSTM(input, hidden, ...)`.
    ///
    /// # Errors
    /// As [`Recurrent::new`].
    pub fn lstm(p: &Path, input: usize, hidden: usize, cfg: RnnConfig) -> Result<Self> {
        Recurrent::new(p, CellKind::Lstm, input, hidden, cfg)
    }

    /// PyTorch's `nn.GRU(input, hidden, ...)`.
    ///
    /// # Errors
    /// As [`Recurrent::new`].
    pub fn gru(p: &Path, input: usize, hidden: usize, cfg: RnnConfig) -> Result<Self> {
        Recurrent::new(p, CellKind::Gru, input, hidden, cfg)
    }

    /// PyTorch's `nn.RNN(input, hidden, nonlinearity='tanh', ...)`.
    ///
    /// # Errors
    /// As [`Recurrent::new`].
    pub fn rnn(p: &Path, input: usize, hidden: usize, cfg: RnnConfig) -> Result<Self> {
        Recurrent::new(p, CellKind::RnnTanh, input, hidden, cfg)
    }

    /// The cell kind.
    pub fn kind(&self) -> CellKind {
        self.kind
    }

    /// Hidden size per direction.
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Output features per step: `directions · hidden`.
    pub fn output_size(&self) -> usize {
        self.directions() * self.hidden
    }

    fn directions(&self) -> usize {
        if self.cfg.bidirectional {
            2
        } else {
            1
        }
    }

    /// Runs the layer over a sequence.
    ///
    /// - `x`: `[time, batch, input]`, or `[batch, time, input]` with `batch_first`.
    /// - `state`: the initial `(h_0, c_0)`, `[layers · directions, batch, hidden]` each;
    ///   zeros when `None`.
    /// - `lengths`: the true length of each sequence of the batch (`1..=time`) when the
    ///   batch is padded. Steps past a sequence's end leave its state unchanged and output
    ///   zeros, so padding never reaches the results: the final state is the state after
    ///   each sequence's last real step, and the backward direction starts at that step,
    ///   as with PyTorch's packed sequences.
    ///
    /// Returns the outputs (see [`Recurrent`]) and the final state.
    ///
    /// # Errors
    /// When the shapes or lengths disagree with the layer.
    pub fn forward_seq(
        &self,
        x: &Tensor,
        state: Option<&RnnState>,
        lengths: Option<&[usize]>,
        train: bool,
    ) -> Result<(Tensor, RnnState)> {
        let expect = if self.cfg.batch_first {
            "[batch, time, input]"
        } else {
            "[time, batch, input]"
        };
        if x.rank() != 3 || x.dims()[2] != self.input {
            return Err(Error::shape(
                "recurrent layer",
                format!("an input {expect} with input = {}", self.input),
                format!("{:?}", x.dims()),
            ));
        }
        let xs = if self.cfg.batch_first {
            x.transpose(0, 1)?.contiguous()?
        } else {
            x.clone()
        };
        let (steps, batch) = (xs.dims()[0], xs.dims()[1]);
        let mask = match lengths {
            Some(l) => Some((l, padding_mask(l, steps, batch, x)?)),
            None => None,
        };
        let dirs = self.directions();
        let state_shape = [self.cfg.num_layers * dirs, batch, self.hidden];
        let zero;
        let init = match state {
            Some(s) => {
                check_state(self.kind, s, &state_shape)?;
                s
            }
            None => {
                zero = zero_state(self.kind, &state_shape[..2], self.hidden, x)?;
                &zero
            }
        };
        let (mut final_h, mut final_c) = (Vec::new(), Vec::new());
        let mut input = xs;
        for layer in 0..self.cfg.num_layers {
            let mut outputs = Vec::with_capacity(dirs);
            for dir in 0..dirs {
                let k = layer * dirs + dir;
                let start = (
                    init.h.narrow(0, k, 1)?.reshape(&[batch, self.hidden])?,
                    match &init.c {
                        Some(c) => Some(c.narrow(0, k, 1)?.reshape(&[batch, self.hidden])?),
                        None => None,
                    },
                );
                let (out, (h, c)) = self.run_direction(
                    &self.cells[k],
                    &input,
                    start,
                    dir == 1,
                    mask.as_ref().map(|(l, m)| (*l, m)),
                )?;
                outputs.push(out);
                final_h.push(h);
                final_c.extend(c);
            }
            input = if dirs == 2 {
                Tensor::cat(&[&outputs[0], &outputs[1]], 2)?
            } else {
                outputs.pop().expect("one direction")
            };
            if layer + 1 < self.cfg.num_layers && train && self.cfg.dropout > 0.0 {
                input = input.dropout(self.cfg.dropout, true)?;
            }
        }
        let output = if self.cfg.batch_first {
            input.transpose(0, 1)?
        } else {
            input
        };
        let stack = |v: &[Tensor]| -> Result<Tensor> {
            let refs: Vec<&Tensor> = v.iter().collect();
            Ok(Tensor::stack(&refs, 0)?)
        };
        let c = if final_c.is_empty() {
            None
        } else {
            Some(stack(&final_c)?)
        };
        Ok((
            output,
            RnnState {
                h: stack(&final_h)?,
                c,
            },
        ))
    }

    /// One direction of one layer over `input [time, batch, features]`: the outputs
    /// `[time, batch, hidden]` and the final `(h, c)`.
    fn run_direction(
        &self,
        cell: &CellWeights,
        input: &Tensor,
        start: (Tensor, Option<Tensor>),
        reverse: bool,
        lengths: Option<(&[usize], &Tensor)>,
    ) -> Result<(Tensor, (Tensor, Option<Tensor>))> {
        let (steps, batch, features) = (input.dims()[0], input.dims()[1], input.dims()[2]);
        let gh = self.kind.gates() * self.hidden;
        let xg = cell
            .project_input(&input.reshape(&[steps * batch, features])?)?
            .reshape(&[steps, batch, gh])?;
        let b_hh = match (&cell.b_hh, cell.folds_hidden_bias()) {
            (Some(b), false) => Some(b.tensor()),
            _ => None,
        };
        let y = Tensor::recurrent_scan(
            scan_cell(self.kind),
            &xg,
            &cell.w_hh.tensor(),
            b_hh.as_ref(),
            &start.0,
            start.1.as_ref(),
            lengths.map(|l| l.0),
            reverse,
        )?;
        let n = self.hidden;
        let width = y.dims()[2];
        let last = y
            .narrow(0, if reverse { 0 } else { steps - 1 }, 1)?
            .reshape(&[batch, width])?;
        let (out, h, c) = if self.kind == CellKind::Lstm {
            (
                y.narrow(2, 0, n)?,
                last.narrow(1, 0, n)?,
                Some(last.narrow(1, n, n)?),
            )
        } else {
            (y, last, None)
        };
        // Past its end a sequence outputs zeros (its state is carried unchanged).
        let out = match lengths {
            Some((_, mask)) => out.mul(mask)?,
            None => out,
        };
        Ok((out, (h, c)))
    }
}

/// The engine's scan op for a cell kind.
fn scan_cell(kind: CellKind) -> ScanCell {
    match kind {
        CellKind::RnnTanh => ScanCell::Tanh,
        CellKind::RnnRelu => ScanCell::Relu,
        CellKind::Lstm => ScanCell::Lstm,
        CellKind::Gru => ScanCell::Gru,
    }
}

/// Checks `lengths` and gives the `[time, batch, 1]` mask: 1 where `t < lengths[b]`, else 0.
fn padding_mask(lengths: &[usize], steps: usize, batch: usize, x: &Tensor) -> Result<Tensor> {
    if lengths.len() != batch {
        return Err(Error::shape(
            "recurrent layer",
            format!("{batch} lengths, one per sequence"),
            format!("{}", lengths.len()),
        ));
    }
    if let Some((b, &l)) = lengths
        .iter()
        .enumerate()
        .find(|(_, &l)| l == 0 || l > steps)
    {
        return Err(Error::out_of_range(
            "recurrent layer",
            "a sequence length",
            format!("in 1..={steps} (sequence {b})"),
            l,
        ));
    }
    let m: Vec<f64> = (0..steps)
        .flat_map(|t| lengths.iter().map(move |&l| f64::from(u8::from(t < l))))
        .collect();
    // Built from the lengths on the host, then moved to `x`'s device once.
    let mask = Tensor::from_vec(m, &[steps, batch, 1], &nabla::Device::Cpu)?;
    Ok(mask.to_dtype(x.dtype())?.to_device(&x.device())?)
}

impl Module for Recurrent {
    /// The outputs at every step, from a zero state (see [`Recurrent::forward_seq`]).
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.forward_seq(x, None, None, train)?.0)
    }

    /// ONNX's `LSTM`/`GRU`/`RNN` nodes, one per stacked layer (see `recurrent/export.rs`).
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        Ok(self.export_seq(g, x)?.0)
    }
}
