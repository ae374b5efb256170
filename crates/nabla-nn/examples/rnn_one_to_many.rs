//! One-to-many: generation from a seed. A character-level GRU language model is trained on
//! the bundled Shakespeare with truncated backpropagation through time (the text is cut into
//! 32 parallel streams; each chunk of 50 characters starts from the previous chunk's
//! detached state), then continues a prime text one sampled character at a time.
//!
//! Run with `cargo run --release -p nabla-nn --example rnn_one_to_many [EPOCHS]` (default 1
//! epoch, a few minutes). For the full model use `nabla train --model char-lstm` and
//! `nabla sample`.

use nabla::{Device, Rng};
use nabla_data::readers::text::{self, Vocab};
use nabla_nn::layers::CellKind;
use nabla_nn::models::rnn::{batchify, tbptt_epoch, CharLm, CharLmConfig};
use nabla_nn::optim::Adam;
use nabla_nn::VarStore;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs: usize = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .map_err(|_| format!("EPOCHS must be a number, got '{a}'"))?,
        None => 1,
    };
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/shakespeare/tragedies.txt"
    );
    let content = text::read_file(corpus)?;
    let vocab = Vocab::from_text(&content);
    let streams = batchify(&vocab.encode(&content)?, 32)?;
    nabla::manual_seed(0);
    let vs = VarStore::new(&Device::Cpu);
    let mut cfg = CharLmConfig::new(CellKind::Gru, vocab.len());
    (cfg.hidden, cfg.layers) = (256, 1);
    let model = CharLm::new(&vs.root(), cfg)?;
    let mut opt = Adam::new(vs.trainable(), 3e-3);
    let started = Instant::now();
    for epoch in 1..=epochs {
        let loss = tbptt_epoch(&model, &vs, &mut opt, &streams, 50, Some(5.0))?;
        println!(
            "epoch {epoch}: training loss {loss:.3} nats per character ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let prime = "ROMEO.\n";
    let out = model.sample(&vocab.encode(prime)?, 300, 0.8, &mut Rng::new(0))?;
    println!("{prime}{}", vocab.decode(&out)?);
    Ok(())
}
