//! Recurrent models: a character-level language model (many-to-many, and one-to-many when it
//! generates) and a row-by-row image classifier (many-to-one, sequential MNIST).

use crate::export::{Attr, GraphSink, Traced};
use crate::layers::{CellKind, Embedding, Linear, Recurrent, RnnConfig, RnnState};
use crate::optim::{clip_grad_norm, Optimizer};
use crate::{Error, Module, Path, Result, VarStore};
use nabla::{no_grad, Device, Rng, Tensor};

/// Sizes of a [`CharLm`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CharLmConfig {
    /// The recurrence.
    pub kind: CellKind,
    /// Characters in the vocabulary (inputs and outputs).
    pub vocab: usize,
    /// Size of each character's learned embedding.
    pub embed: usize,
    /// Hidden units per layer.
    pub hidden: usize,
    /// Stacked recurrent layers.
    pub layers: usize,
    /// Dropout between recurrent layers and before the output layer, in training.
    pub dropout: f64,
}

impl CharLmConfig {
    /// The `char-lstm` of the zoo: embedding 64, 2 LSTM layers of 256, dropout 0.1.
    pub fn new(kind: CellKind, vocab: usize) -> Self {
        CharLmConfig {
            kind,
            vocab,
            embed: 64,
            hidden: 256,
            layers: 2,
            dropout: 0.1,
        }
    }
}

/// A character-level language model: embedding → recurrent layers → a linear layer giving
/// next-character logits at every step.
///
/// Input `[batch, time]` character indices (any numeric dtype holding integers); output
/// `[batch, time, vocab]` logits. Variables: `embed.weight`, `rnn.weight_ih_l0`, …,
/// `head.weight`, `head.bias`.
pub struct CharLm {
    embed: Embedding,
    rnn: Recurrent,
    head: Linear,
    cfg: CharLmConfig,
}

impl CharLm {
    /// A new model under `p`.
    ///
    /// # Errors
    /// When a size is 0 or the names exist.
    pub fn new(p: &Path, cfg: CharLmConfig) -> Result<Self> {
        if cfg.vocab == 0 {
            return Err(Error::invalid("char model", "the vocabulary is empty"));
        }
        let rnn_cfg = RnnConfig {
            num_layers: cfg.layers,
            batch_first: true,
            dropout: cfg.dropout,
            ..RnnConfig::default()
        };
        Ok(CharLm {
            embed: Embedding::new(&p.sub("embed"), cfg.vocab, cfg.embed)?,
            rnn: Recurrent::new(&p.sub("rnn"), cfg.kind, cfg.embed, cfg.hidden, rnn_cfg)?,
            head: Linear::new(&p.sub("head"), cfg.hidden, cfg.vocab, true)?,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> CharLmConfig {
        self.cfg
    }

    /// Logits `[batch, time, vocab]` for `x [batch, time]`, starting from `state` (zeros
    /// when `None`), and the state after the last step.
    ///
    /// # Errors
    /// When `x` is not `[batch, time]` or holds an index outside the vocabulary.
    pub fn forward_state(
        &self,
        x: &Tensor,
        state: Option<&RnnState>,
        train: bool,
    ) -> Result<(Tensor, RnnState)> {
        if x.rank() != 2 {
            return Err(Error::shape(
                "char model",
                "[batch, time] character indices",
                format!("{:?}", x.dims()),
            ));
        }
        let e = self.embed.forward(x)?;
        let (h, state) = self.rnn.forward_seq(&e, state, None, train)?;
        let h = if train && self.cfg.dropout > 0.0 {
            h.dropout(self.cfg.dropout, true)?
        } else {
            h
        };
        Ok((self.head.forward(&h)?, state))
    }

    /// Generates `length` characters after `prime` (indices, at least one): feeds the
    /// prime, then repeatedly draws the next character from `softmax(logits / temperature)`
    /// and feeds it back. Returns the generated indices (without the prime).
    ///
    /// # Errors
    /// An empty prime, an index outside the vocabulary, or a temperature that is not
    /// positive.
    pub fn sample(
        &self,
        prime: &[i64],
        length: usize,
        temperature: f64,
        rng: &mut Rng,
    ) -> Result<Vec<i64>> {
        if prime.is_empty() {
            return Err(Error::invalid("sample", "the prime text is empty"));
        }
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(Error::out_of_range(
                "sample",
                "the temperature",
                "a positive number",
                temperature,
            ));
        }
        no_grad(|| {
            let to_input =
                |codes: &[i64]| Tensor::from_vec(codes.to_vec(), &[1, codes.len()], &Device::Cpu);
            let (logits, mut state) = self.forward_state(&to_input(prime)?, None, false)?;
            let v = self.cfg.vocab;
            let mut last = logits
                .narrow(1, prime.len() - 1, 1)?
                .reshape(&[v])?
                .to_vec::<f64>()?;
            let mut out = Vec::with_capacity(length);
            for _ in 0..length {
                let next = draw(&last, temperature, rng);
                out.push(next);
                let (logits, s) = self.forward_state(&to_input(&[next])?, Some(&state), false)?;
                state = s;
                last = logits.reshape(&[v])?.to_vec::<f64>()?;
            }
            Ok(out)
        })
    }
}

/// Draws an index from `softmax(logits / temperature)`.
fn draw(logits: &[f64], temperature: f64, rng: &mut Rng) -> i64 {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| ((l - max) / temperature).exp())
        .collect();
    let mut u = rng.next_f64() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i as i64;
        }
        u -= w;
    }
    (weights.len() - 1) as i64
}

impl Module for CharLm {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.forward_state(x, None, train)?.0)
    }

    /// The embedding (`Cast`, `Gather`), the recurrent layers (one `LSTM`/`GRU`/`RNN` node
    /// each) and the head (`MatMul`, `Add`): codes `[batch, time]` in, logits
    /// `[batch, time, vocab]` out, as [`CharLm::forward_state`] without a starting state.
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let e = self.embed.export(g, x)?;
        let h = self.rnn.export(g, &e)?;
        self.head.export(g, &h)
    }
}

/// One epoch of truncated backpropagation through time over a long stream.
///
/// `streams [batch, len]` holds `batch` contiguous pieces of a text (row `b` continues
/// where nothing else does: see [`batchify`]). The epoch walks them in chunks of `chunk`
/// steps: inputs `streams[:, s..s+chunk]`, targets one step further on; the state after a
/// chunk starts the next one, detached, so gradients flow back at most `chunk` steps while
/// the state carries information across the whole stream. Gradients are clipped to norm
/// `clip` when given. Returns the mean training loss (nats per character).
///
/// # Errors
/// When `streams` is not `[batch, len ≥ 2]` or a step fails.
pub fn tbptt_epoch(
    model: &CharLm,
    vs: &VarStore,
    opt: &mut dyn Optimizer,
    streams: &Tensor,
    chunk: usize,
    clip: Option<f64>,
) -> Result<f64> {
    if streams.rank() != 2 || streams.dims()[1] < 2 || chunk == 0 {
        return Err(Error::invalid(
            "tbptt",
            format!(
                "need streams [batch, len >= 2] and chunk >= 1, got {:?} and {chunk}",
                streams.dims()
            ),
        ));
    }
    let len = streams.dims()[1];
    let (mut state, mut total, mut count) = (None::<RnnState>, 0.0, 0usize);
    let mut start = 0;
    while start + 1 < len {
        let k = chunk.min(len - 1 - start);
        let x = streams.narrow(1, start, k)?;
        let y = streams.narrow(1, start + 1, k)?;
        let (logits, next) = model.forward_state(&x, state.as_ref(), true)?;
        let loss = crate::trainer::classification_loss(&logits, &y.contiguous()?)?;
        let mut grads = loss.backward()?;
        if let Some(c) = clip {
            clip_grad_norm(&mut grads, &vs.trainable(), c)?;
        }
        opt.step(&grads)?;
        total += loss.to_scalar::<f64>()? * k as f64;
        count += k;
        state = Some(next.detach());
        start += k;
    }
    Ok(total / count.max(1) as f64)
}

/// Cuts a sequence of codes into `batch` contiguous rows of equal length (dropping the
/// remainder), as `[batch, len / batch]` i64: the layout [`tbptt_epoch`] walks.
///
/// # Errors
/// When there are fewer than 2 codes per row.
pub fn batchify(codes: &[i64], batch: usize) -> Result<Tensor> {
    let per_row = codes.len() / batch.max(1);
    if batch == 0 || per_row < 2 {
        return Err(Error::invalid(
            "batchify",
            format!(
                "{} codes cannot make {batch} rows of at least 2",
                codes.len()
            ),
        ));
    }
    Ok(Tensor::from_vec(
        codes[..batch * per_row].to_vec(),
        &[batch, per_row],
        &Device::Cpu,
    )?)
}

/// A many-to-one classifier of images read as sequences: each of the `image_size` rows is
/// one time step of `in_channels · image_size` features; an LSTM reads them in order and a
/// linear layer classifies its last hidden state ("sequential MNIST" read row by row).
///
/// Input `[batch, channels, rows, cols]` (or `[batch, rows, cols]`); output
/// `[batch, classes]`. Variables `rnn.*` and `head.*`.
pub struct RowLstm {
    rnn: Recurrent,
    head: Linear,
}

impl RowLstm {
    /// An LSTM of `hidden` units (one layer) over rows of `features` values, classifying
    /// into `classes`.
    ///
    /// # Errors
    /// When a size is 0 or the names exist.
    pub fn new(p: &Path, features: usize, hidden: usize, classes: usize) -> Result<Self> {
        let cfg = RnnConfig {
            batch_first: true,
            ..RnnConfig::default()
        };
        Ok(RowLstm {
            rnn: Recurrent::lstm(&p.sub("rnn"), features, hidden, cfg)?,
            head: Linear::new(&p.sub("head"), hidden, classes, true)?,
        })
    }
}

impl Module for RowLstm {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let rows = match x.dims() {
            [b, c, h, w] => x.permute(&[0, 2, 1, 3])?.reshape(&[*b, *h, c * w])?,
            [_, _, _] => x.clone(),
            d => {
                return Err(Error::shape(
                    "row-lstm",
                    "images [batch, channels, rows, cols]",
                    format!("{d:?}"),
                ))
            }
        };
        let (_, state) = self.rnn.forward_seq(&rows, None, None, train)?;
        let h = state.h.narrow(0, 0, 1)?;
        let b = h.dims()[1];
        self.head.forward(&h.reshape(&[b, h.dims()[2]])?)
    }

    /// Rows as a sequence (`Transpose`, `Reshape`), the `LSTM` node, its last hidden state
    /// (`Squeeze`), the head (`Gemm`).
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let rows = if x.example.rank() == 4 {
            let t = g.node(
                "Transpose",
                &[&x.name],
                vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
            );
            let shape = g.ints(&[0, 0, -1]);
            let name = g.node("Reshape", &[&t, &shape], vec![]);
            let d = x.example.dims();
            let example = x
                .example
                .permute(&[0, 2, 1, 3])?
                .reshape(&[d[0], d[2], d[1] * d[3]])?;
            Traced { name, example }
        } else {
            x.clone()
        };
        let (_, last) = self.rnn.export_seq(g, &rows)?;
        let axes = g.ints(&[0]);
        let name = g.node("Squeeze", &[&last, &axes], vec![]);
        let (_, state) = self.rnn.forward_seq(&rows.example, None, None, false)?;
        let h = state.h.narrow(0, 0, 1)?.squeeze(0)?;
        self.head.export(g, &Traced { name, example: h })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Adam;

    #[test]
    fn char_lm_outputs_logits_per_step_and_samples_in_vocabulary() -> Result<()> {
        nabla::manual_seed(0);
        let vs = VarStore::new(&Device::Cpu);
        let mut cfg = CharLmConfig::new(CellKind::Lstm, 7);
        cfg.hidden = 8;
        cfg.embed = 4;
        let m = CharLm::new(&vs.root(), cfg)?;
        let x = Tensor::from_vec(vec![0i64, 1, 2, 3, 4, 5], &[2, 3], &Device::Cpu)?;
        assert_eq!(m.forward(&x)?.dims(), &[2, 3, 7]);
        let out = m.sample(&[1, 2], 20, 0.8, &mut Rng::new(1))?;
        assert_eq!(out.len(), 20);
        assert!(out.iter().all(|&c| (0..7).contains(&c)));
        assert!(m.sample(&[], 5, 1.0, &mut Rng::new(1)).is_err());
        assert!(m.sample(&[1], 5, 0.0, &mut Rng::new(1)).is_err());
        assert!(m.sample(&[9], 5, 1.0, &mut Rng::new(1)).is_err());
        Ok(())
    }

    /// Truncated BPTT learns a stream whose next symbol depends on what came before: a
    /// repeated period-5 pattern, far below the entropy of its symbol frequencies.
    #[test]
    fn tbptt_learns_a_periodic_stream() -> Result<()> {
        nabla::manual_seed(3);
        let vs = VarStore::new(&Device::Cpu);
        let mut cfg = CharLmConfig::new(CellKind::Gru, 3);
        (cfg.hidden, cfg.embed, cfg.layers, cfg.dropout) = (16, 4, 1, 0.0);
        let m = CharLm::new(&vs.root(), cfg)?;
        let pattern = [0i64, 1, 1, 2, 0];
        let codes: Vec<i64> = pattern.iter().copied().cycle().take(4 * 200).collect();
        let streams = batchify(&codes, 4)?;
        let mut opt = Adam::new(vs.trainable(), 0.02);
        let first = tbptt_epoch(&m, &vs, &mut opt, &streams, 10, Some(1.0))?;
        let mut last = first;
        for _ in 0..5 {
            last = tbptt_epoch(&m, &vs, &mut opt, &streams, 10, Some(1.0))?;
        }
        // A model without memory cannot go below ~0.5 nats here (after a 1 comes 1 or 2,
        // after a 0 comes 0 or 1); the first epoch's mean includes its learning.
        assert!(first > 0.3 && last < 0.05, "loss {first} -> {last}");
        Ok(())
    }

    #[test]
    fn row_lstm_reads_images_row_by_row() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let m = RowLstm::new(&vs.root(), 6, 5, 3)?;
        let x = Tensor::zeros(&[2, 1, 4, 6], nabla::DType::F32, &Device::Cpu);
        assert_eq!(m.forward(&x)?.dims(), &[2, 3]);
        assert!(m
            .forward(&Tensor::zeros(&[2, 6], nabla::DType::F32, &Device::Cpu))
            .is_err());
        Ok(())
    }
}
