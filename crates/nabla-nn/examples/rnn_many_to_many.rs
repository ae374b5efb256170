//! Many-to-many: one output per input step, on padded batches of different lengths.
//!
//! The task is a delayed echo: the input is a random sequence of digits 0–9 (one-hot), and
//! at step t the network must output the digit it read at step t − 3 (class 10, "nothing
//! yet", for the first three steps). It needs memory of exactly three steps, which an LSTM
//! learns. Sequences have lengths 5–20 in one padded batch; the layer is given the lengths
//! so padding never reaches the state, and the loss averages over real steps only.
//!
//! Run with `cargo run --release -p nabla-nn --example rnn_many_to_many`.

use nabla::{Device, Rng, Tensor};
use nabla_nn::layers::{Linear, Recurrent, RnnConfig};
use nabla_nn::optim::{Adam, Optimizer};
use nabla_nn::{Module, VarStore};

const DELAY: usize = 3;
const MAX_LEN: usize = 20;

/// A padded batch: one-hot inputs `[batch, MAX_LEN, 10]`, targets `[batch · MAX_LEN]`, a
/// mask `[batch · MAX_LEN]` of real steps, and the lengths.
struct Batch {
    x: Tensor,
    y: Vec<i64>,
    mask: Vec<f32>,
    lengths: Vec<usize>,
}

fn batch(rng: &mut Rng, size: usize) -> nabla::Result<Batch> {
    let mut x = vec![0f32; size * MAX_LEN * 10];
    let (mut y, mut mask, mut lengths) = (
        vec![0i64; size * MAX_LEN],
        vec![0f32; size * MAX_LEN],
        vec![],
    );
    for b in 0..size {
        let len = 5 + (rng.next_f64() * 16.0) as usize;
        lengths.push(len.min(MAX_LEN));
        let digits: Vec<usize> = (0..len)
            .map(|_| (rng.next_f64() * 10.0) as usize % 10)
            .collect();
        for t in 0..len.min(MAX_LEN) {
            x[(b * MAX_LEN + t) * 10 + digits[t]] = 1.0;
            y[b * MAX_LEN + t] = if t >= DELAY {
                digits[t - DELAY] as i64
            } else {
                10
            };
            mask[b * MAX_LEN + t] = 1.0;
        }
    }
    Ok(Batch {
        x: Tensor::from_vec(x, &[size, MAX_LEN, 10], &Device::Cpu)?,
        y,
        mask,
        lengths,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    nabla::manual_seed(0);
    let mut rng = Rng::new(1);
    let vs = VarStore::new(&Device::Cpu);
    let cfg = RnnConfig {
        batch_first: true,
        ..RnnConfig::default()
    };
    let lstm = Recurrent::lstm(&vs.root().sub("lstm"), 10, 64, cfg)?;
    let head = Linear::new(&vs.root().sub("head"), 64, 11, true)?;
    let mut opt = Adam::new(vs.trainable(), 1e-2);
    for step in 1..=300 {
        let Batch {
            x,
            y,
            mask,
            lengths,
        } = batch(&mut rng, 32)?;
        let (h, _) = lstm.forward_seq(&x, None, Some(&lengths), true)?;
        let logits = head.forward(&h)?.reshape(&[32 * MAX_LEN, 11])?;
        // Cross-entropy per step, averaged over the real (unpadded) steps.
        let idx = Tensor::from_vec(y.clone(), &[32 * MAX_LEN, 1], &Device::Cpu)?;
        let nll = logits
            .log_softmax(1)?
            .gather(1, &idx)?
            .neg()?
            .reshape(&[32 * MAX_LEN])?;
        let m = Tensor::from_vec(mask.clone(), &[32 * MAX_LEN], &Device::Cpu)?;
        let real: f32 = mask.iter().sum();
        let loss = nll.mul(&m)?.sum_all()?.mul_scalar(1.0 / real as f64)?;
        opt.step(&loss.backward()?)?;
        if step % 50 == 0 {
            let pred = logits.argmax(1)?.to_vec::<i64>()?;
            let right = pred
                .iter()
                .zip(&y)
                .zip(&mask)
                .filter(|((p, t), &m)| m > 0.0 && p == t)
                .count();
            println!(
                "step {step}: loss {:.4}, per-step accuracy {:.1}% on real steps",
                loss.to_scalar::<f32>()?,
                100.0 * right as f32 / real
            );
        }
    }
    Ok(())
}
