//! Optimizers and learning-rate schedules compared on one task: the same 2-32-32-2 tanh
//! network, from the same initial weights, learns the Playground's two spirals (500 training
//! points, 500 test points, noise 10) for 150 epochs of batches of 16 with each optimizer,
//! once at a constant rate and once with cosine annealing. Prints a Markdown table of the
//! test loss and accuracy at the end — the lowest test loss and the median accuracy of the
//! last 10 epochs: at a constant rate the loss jumps up in single epochs (Nesterov's between
//! 0.02 and 1.4 near the end), and where the jumps land depends on the CPU's rounding — and
//! draws the test loss per epoch of every run.
//!
//! Run with `cargo run --release -p nabla-nn --example optimizers [-- OUTPUT.png]`
//! (default `optimizers.png`).

#[path = "common/batches.rs"]
mod batches;
#[path = "common/plot.rs"]
mod plot;

use batches::Batches;
use nabla_data::toy::{generate, Toy};
use nabla_data::DataLoader;
use nabla_nn::layers::{Activation, Linear};
use nabla_nn::optim::{Adagrad, Adam, AdamW, Optimizer, RmsProp, Schedule, Sgd};
use nabla_nn::{seq, Sequential, Trainer, TrainerConfig, Var, VarStore};
use plot::{line_charts, Panel, Series};
use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

const EPOCHS: usize = 150;
const BATCH: usize = 16;
const HIDDEN: usize = 32;

/// Epochs at the end whose median the table reports.
const LAST: usize = 10;

/// The median of `v` (NaN when empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The optimizers compared, each at the learning rate `nabla train` uses by default.
const OPTIMIZERS: [(&str, f64); 7] = [
    ("sgd", 0.05),
    ("momentum", 0.05),
    ("nesterov", 0.05),
    ("adam", 3e-3),
    ("adamw", 3e-3),
    ("rmsprop", 1e-3),
    ("adagrad", 0.01),
];

fn optimizer(name: &str, vars: Vec<Var>, lr: f64) -> Box<dyn Optimizer> {
    match name {
        "sgd" => Box::new(Sgd::new(vars, lr)),
        "momentum" => Box::new(Sgd::new(vars, lr).momentum(0.9)),
        "nesterov" => Box::new(Sgd::new(vars, lr).momentum(0.9).nesterov(true)),
        "adam" => Box::new(Adam::new(vars, lr)),
        "adamw" => Box::new(AdamW::new(vars, lr).weight_decay(0.01)),
        "rmsprop" => Box::new(RmsProp::new(vars, lr)),
        "adagrad" => Box::new(Adagrad::new(vars, lr)),
        other => unreachable!("no optimizer {other}"),
    }
}

/// The network, with weights drawn from seed 0 every time so every run starts alike.
fn network(vs: &VarStore) -> nabla_nn::Result<Sequential> {
    nabla::manual_seed(0);
    let p = vs.root();
    Ok(seq()
        .add(Linear::new(&p.sub("fc1"), 2, HIDDEN, true)?)
        .add(Activation::Tanh)
        .add(Linear::new(&p.sub("fc2"), HIDDEN, HIDDEN, true)?)
        .add(Activation::Tanh)
        .add(Linear::new(&p.sub("fc3"), HIDDEN, 2, true)?))
}

/// A run's test-loss curve, its lowest test loss and its median accuracy (%) over the last
/// epochs.
type Outcome = (Vec<(f64, f64)>, f64, f64);

/// The [`Outcome`] of one optimizer and schedule.
fn run(
    name: &str,
    lr: f64,
    schedule: Schedule,
    train: &Batches,
    test: &Batches,
) -> Result<Outcome, Box<dyn Error>> {
    let vs = VarStore::new(&nabla::Device::Cpu);
    let net = network(&vs)?;
    let cfg = TrainerConfig {
        epochs: EPOCHS,
        schedule,
        progress: false,
        verbose: false,
        ..Default::default()
    };
    let mut trainer = Trainer::new(&net, &vs, optimizer(name, vs.trainable(), lr), cfg);
    trainer.fit(train, Some(test))?;
    let history = trainer.history();
    let curve = history
        .iter()
        .map(|r| (r.epoch as f64, r.val_loss.unwrap_or(f64::NAN)))
        .collect();
    let last = &history[history.len().saturating_sub(LAST)..];
    let loss = last
        .iter()
        .map(|r| r.val_loss.unwrap_or(f64::NAN))
        .fold(f64::INFINITY, f64::min);
    let acc = median(
        last.iter()
            .map(|r| r.val_acc.unwrap_or(0.0) * 100.0)
            .collect(),
    );
    Ok((curve, loss, acc))
}

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or("optimizers.png".into()));
    let train = Batches(
        DataLoader::new(Arc::new(generate(Toy::Spiral, 500, 10.0, 0)?), BATCH)?
            .shuffle(true)
            .seed(0),
    );
    let test = Batches(DataLoader::new(
        Arc::new(generate(Toy::Spiral, 500, 10.0, 1)?),
        250,
    )?);
    let cosine = Schedule::Cosine {
        t_max: EPOCHS,
        eta_min: 0.0,
    };
    println!("| optimizer | lr | constant: test loss | accuracy | cosine: test loss | accuracy |");
    println!("|---|---|---|---|---|---|");
    let (mut constant_curves, mut cosine_curves) = (Vec::new(), Vec::new());
    for (name, lr) in OPTIMIZERS {
        let mut cells = Vec::new();
        for (schedule, curves) in [
            (Schedule::Constant, &mut constant_curves),
            (cosine.clone(), &mut cosine_curves),
        ] {
            let (curve, loss, acc) = run(name, lr, schedule, &train, &test)?;
            cells.push(format!("{loss:.4} | {acc:.1}%"));
            curves.push(Series {
                name: name.to_string(),
                points: curve,
            });
        }
        println!("| {name} | {lr} | {} |", cells.join(" | "));
    }
    let panel = |title: &str, series| Panel {
        title: title.into(),
        x_label: "epoch".into(),
        series,
    };
    line_charts(
        &out,
        &[
            panel("test loss, constant rate", constant_curves),
            panel("test loss, cosine schedule", cosine_curves),
        ],
        (900, 340),
    )?;
    println!("wrote {}", out.display());
    Ok(())
}
