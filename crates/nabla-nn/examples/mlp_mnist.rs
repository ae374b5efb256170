//! A multilayer perceptron (784-512-256-10, ReLU) on MNIST with the Trainer: the course's
//! training loop on real data. Reaches about 98% test accuracy.
//!
//! Run with `cargo run --release -p nabla-nn --example mlp_mnist`.

#[path = "common/batches.rs"]
mod batches;

use batches::Batches;
use nabla_data::{mnist, transforms::Normalize, DataLoader};
use nabla_nn::models::{mlp, MlpConfig, ModelConfig};
use nabla_nn::optim::{Adam, Schedule};
use nabla_nn::{Trainer, TrainerConfig, VarStore};
use std::sync::Arc;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    nabla::manual_seed(0);
    let train = DataLoader::new(Arc::new(mnist::bundled_train()?), 128)?
        .shuffle(true)
        .seed(0)
        .transform(Normalize::mnist());
    let test =
        DataLoader::new(Arc::new(mnist::bundled_test()?), 512)?.transform(Normalize::mnist());
    let vs = VarStore::new(&nabla::Device::Cpu);
    let net = mlp(&vs.root(), &MlpConfig::for_model(&ModelConfig::mnist()))?;
    let epochs = 6;
    let cfg = TrainerConfig {
        epochs,
        schedule: Schedule::Cosine {
            t_max: epochs,
            eta_min: 0.0,
        },
        ..Default::default()
    };
    let mut trainer = Trainer::new(&net, &vs, Box::new(Adam::new(vs.trainable(), 1e-3)), cfg);
    trainer.fit(&Batches(train), Some(&Batches(test.clone())))?;
    let eval = trainer.evaluate(&Batches(test))?;
    let acc = 100.0 * eval.accuracy.unwrap_or(0.0);
    println!("test accuracy {acc:.2}% ({} parameters)", vs.num_params());
    assert!(acc >= 98.0, "expected at least 98% test accuracy");
    Ok(())
}
