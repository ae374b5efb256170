//! Dropout and batch normalization, ablated: the same 784-256-256-10 ReLU network trained on
//! the first 2,000 MNIST training images for 20 epochs (Adam, lr 1e-3, batch 64), plain,
//! with dropout (p = 0.5 after each hidden layer), with batch normalization (before each
//! ReLU), and with both. Each variant starts from weights drawn with the same seed and sees
//! the batches in the same order. Prints a Markdown table (final training loss, test loss
//! and accuracy on the first 5,000 test images, and the best test accuracy of any epoch) and
//! draws the test loss and accuracy per epoch.
//!
//! Run with `cargo run --release -p nabla-nn --example regularization [-- OUTPUT.png]`
//! (default `regularization.png`).

#[path = "common/batches.rs"]
mod batches;
#[path = "common/plot.rs"]
mod plot;

use batches::Batches;
use nabla_data::{mnist, transforms::Normalize, DataLoader, Subset};
use nabla_nn::layers::{Activation, BatchNorm, Dropout, Flatten, Linear};
use nabla_nn::optim::Adam;
use nabla_nn::{seq, Sequential, Trainer, TrainerConfig, VarStore};
use plot::{line_charts, Panel, Series};
use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

const TRAIN_IMAGES: usize = 2000;
const TEST_IMAGES: usize = 5000;
const EPOCHS: usize = 20;
const HIDDEN: usize = 256;

/// 784 → 256 → 256 → 10 with ReLU; `Linear [→ BatchNorm] → ReLU [→ Dropout]` per hidden layer.
fn network(vs: &VarStore, dropout: bool, batch_norm: bool) -> nabla_nn::Result<Sequential> {
    nabla::manual_seed(0);
    let p = vs.root();
    let mut net = seq().add(Flatten);
    let mut width = 28 * 28;
    for n in 1..=2 {
        net = net.add(Linear::new(&p.sub(format!("fc{n}")), width, HIDDEN, true)?);
        if batch_norm {
            net = net.add(BatchNorm::new1d(&p.sub(format!("bn{n}")), HIDDEN)?);
        }
        net = net.add(Activation::Relu);
        if dropout {
            net = net.add(Dropout::new(0.5)?);
        }
        width = HIDDEN;
    }
    Ok(net.add(Linear::new(&p.sub("fc3"), width, 10, true)?))
}

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or("regularization.png".into()),
    );
    let first = Subset::take(Arc::new(mnist::bundled_train()?), TRAIN_IMAGES);
    let train = Batches(
        DataLoader::new(Arc::new(first), 64)?
            .shuffle(true)
            .seed(0)
            .transform(Normalize::mnist()),
    );
    let test = Batches(
        DataLoader::new(
            Arc::new(Subset::take(Arc::new(mnist::bundled_test()?), TEST_IMAGES)),
            1000,
        )?
        .transform(Normalize::mnist()),
    );
    println!("| variant | train loss | test loss | test accuracy | best epoch's accuracy |");
    println!("|---|---|---|---|---|");
    let (mut losses, mut accuracies) = (Vec::new(), Vec::new());
    for (name, dropout, batch_norm) in [
        ("plain", false, false),
        ("dropout", true, false),
        ("batch norm", false, true),
        ("both", true, true),
    ] {
        let vs = VarStore::new(&nabla::Device::Cpu);
        let net = network(&vs, dropout, batch_norm)?;
        let cfg = TrainerConfig {
            epochs: EPOCHS,
            progress: false,
            verbose: false,
            ..Default::default()
        };
        let mut trainer = Trainer::new(&net, &vs, Box::new(Adam::new(vs.trainable(), 1e-3)), cfg);
        let history = trainer.fit(&train, Some(&test))?.to_vec();
        let last = history.last().ok_or("no epoch ran")?;
        let best = history.iter().filter_map(|r| r.val_acc).fold(0.0, f64::max);
        println!(
            "| {name} | {:.4} | {:.4} | {:.2}% | {:.2}% |",
            last.train_loss,
            last.val_loss.unwrap_or(f64::NAN),
            100.0 * last.val_acc.unwrap_or(0.0),
            100.0 * best
        );
        let series = |f: fn(&nabla_nn::trainer::EpochRecord) -> Option<f64>| Series {
            name: name.to_string(),
            points: history
                .iter()
                .filter_map(|r| f(r).map(|v| (r.epoch as f64, v)))
                .collect(),
        };
        losses.push(series(|r| r.val_loss));
        accuracies.push(series(|r| r.val_acc.map(|a| 100.0 * a)));
    }
    let panel = |title: &str, series| Panel {
        title: title.into(),
        x_label: "epoch".into(),
        series,
    };
    line_charts(
        &out,
        &[
            panel("test loss", losses),
            panel("test accuracy (%)", accuracies),
        ],
        (900, 340),
    )?;
    println!("wrote {}", out.display());
    Ok(())
}
