//! Rotation invariance by augmentation, the idea of the Galaxy Zoo winners (Dieleman et al.
//! 2015) shown on digits: LeNet-5 trained on the first 8,000 MNIST training images for 3
//! epochs, once as they are and once with every image turned by a random angle in
//! [-180°, 180°], then tested on the first 5,000 test images turned by 0°, 30°, ..., 180°.
//! Prints a Markdown table of test accuracy per angle and draws it.
//!
//! Run with `cargo run --release -p nabla-nn --example rotated_digits [-- OUTPUT.png]`
//! (default `rotated_digits.png`).

#[path = "common/batches.rs"]
mod batches;
#[path = "common/plot.rs"]
mod plot;

use batches::Batches;
use nabla::Rng;
use nabla_data::transforms::{rotate, Compose, Normalize, RandomRotation};
use nabla_data::{mnist, DataLoader, Sample, Subset, Transform};
use nabla_nn::models::{lenet5, ModelConfig};
use nabla_nn::optim::{Adam, Schedule};
use nabla_nn::{Trainer, TrainerConfig, VarStore};
use plot::{line_charts, Panel, Series};
use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

const TRAIN_IMAGES: usize = 8000;
const TEST_IMAGES: usize = 5000;
const EPOCHS: usize = 3;
const ANGLES: [f64; 7] = [0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0];

/// Turns every image by the same angle (degrees, counter-clockwise).
struct Rotate(f64);

impl Transform for Rotate {
    fn apply(&self, sample: Sample, _rng: &mut Rng) -> nabla_data::Result<Sample> {
        let input = rotate(&sample.input, &sample.shape, self.0)?;
        Ok(Sample { input, ..sample })
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or("rotated_digits.png".into()),
    );
    let first = Arc::new(Subset::take(
        Arc::new(mnist::bundled_train()?),
        TRAIN_IMAGES,
    ));
    let test_set = Arc::new(Subset::take(Arc::new(mnist::bundled_test()?), TEST_IMAGES));
    let mut rows = Vec::new();
    for (name, augment) in [("as they are", false), ("randomly rotated", true)] {
        let mut steps: Vec<Box<dyn Transform>> = Vec::new();
        if augment {
            steps.push(Box::new(RandomRotation::new(180.0)?));
        }
        steps.push(Box::new(Normalize::mnist()));
        let train = Batches(
            DataLoader::new(first.clone(), 64)?
                .shuffle(true)
                .seed(0)
                .transform(Compose(steps)),
        );
        nabla::manual_seed(0);
        let vs = VarStore::new(&nabla::Device::Cpu);
        let net = lenet5(&vs.root(), &ModelConfig::mnist())?;
        let cfg = TrainerConfig {
            epochs: EPOCHS,
            schedule: Schedule::Cosine {
                t_max: EPOCHS,
                eta_min: 0.0,
            },
            progress: false,
            verbose: false,
            ..Default::default()
        };
        let mut trainer = Trainer::new(&net, &vs, Box::new(Adam::new(vs.trainable(), 3e-3)), cfg);
        trainer.fit(&train, None)?;
        let mut accuracies = Vec::new();
        for angle in ANGLES {
            let steps: Vec<Box<dyn Transform>> =
                vec![Box::new(Rotate(angle)), Box::new(Normalize::mnist())];
            let test = Batches(DataLoader::new(test_set.clone(), 1000)?.transform(Compose(steps)));
            accuracies.push(100.0 * trainer.evaluate(&test)?.accuracy.unwrap_or(0.0));
        }
        rows.push((name, accuracies));
    }
    let header: Vec<String> = ANGLES.iter().map(|a| format!("{a}°")).collect();
    println!("| trained on | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(ANGLES.len()));
    for (name, accuracies) in &rows {
        let cells: Vec<String> = accuracies.iter().map(|a| format!("{a:.2}%")).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    let series = rows
        .into_iter()
        .map(|(name, accuracies)| Series {
            name: format!("trained on digits {name}"),
            points: ANGLES.iter().copied().zip(accuracies).collect(),
        })
        .collect();
    let panel = Panel {
        title: "test accuracy (%) on digits turned by an angle".into(),
        x_label: "angle (degrees)".into(),
        series,
    };
    line_charts(&out, &[panel], (600, 340))?;
    println!("wrote {}", out.display());
    Ok(())
}
