//! Many-to-one: sequential MNIST. Each image is read row by row — 28 time steps of 28
//! pixels — by an LSTM whose last hidden state a linear layer classifies. The training loop
//! is the course's: get a batch, forward, loss, backpropagate, update; then test.
//!
//! Run with `cargo run --release -p nabla-nn --example rnn_many_to_one [TRAIN_IMAGES]`
//! (default 10000 images, 2 epochs; about 97% test accuracy). The full run of the README,
//! `nabla train --model row-lstm --data mnist`, uses all 60,000.

use nabla::no_grad;
use nabla_data::{mnist, transforms::Normalize, DataLoader, Subset};
use nabla_nn::models::rnn::RowLstm;
use nabla_nn::optim::{clip_grad_norm, Adam, Optimizer};
use nabla_nn::{loss, Module, VarStore};
use std::sync::Arc;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .map_err(|_| format!("TRAIN_IMAGES must be a number, got '{a}'"))?,
        None => 10_000,
    };
    nabla::manual_seed(0);
    let train = Arc::new(Subset::take(Arc::new(mnist::bundled_train()?), n));
    let train = DataLoader::new(train, 64)?
        .shuffle(true)
        .seed(0)
        .transform(Normalize::mnist());
    let test =
        DataLoader::new(Arc::new(mnist::bundled_test()?), 500)?.transform(Normalize::mnist());
    let vs = VarStore::new(&nabla::Device::Cpu);
    let model = RowLstm::new(&vs.root(), 28, 128, 10)?;
    let mut opt = Adam::new(vs.trainable(), 2e-3);
    let started = Instant::now();
    for epoch in 0..2 {
        let (mut sum, mut count) = (0.0, 0);
        for batch in train.epoch(epoch) {
            let batch = batch?;
            let logits = model.forward_t(&batch.inputs, true)?;
            let l = loss::cross_entropy(&logits, &batch.targets)?;
            let mut grads = l.backward()?;
            clip_grad_norm(&mut grads, &vs.trainable(), 5.0)?;
            opt.step(&grads)?;
            sum += l.to_scalar::<f64>()?;
            count += 1;
        }
        println!(
            "epoch {}: mean training loss {:.4} ({:.0} s)",
            epoch + 1,
            sum / count as f64,
            started.elapsed().as_secs_f64()
        );
    }
    let (mut right, mut total) = (0, 0);
    no_grad(|| -> Result<(), Box<dyn std::error::Error>> {
        for batch in test.epoch(0) {
            let batch = batch?;
            let pred = model.forward(&batch.inputs)?.argmax(1)?.to_vec::<i64>()?;
            let want = batch.targets.to_vec::<i64>()?;
            right += pred.iter().zip(&want).filter(|(p, w)| p == w).count();
            total += want.len();
        }
        Ok(())
    })?;
    println!(
        "test accuracy {:.2}% on {total} images, trained on {n}",
        100.0 * right as f64 / total as f64
    );
    Ok(())
}
