//! Inference in bf16 (`nabla::autocast`) against f32 on the same weights: the predicted class
//! must agree on at least 99% of inputs. LeNet-5 after a short training run, on the 10,000
//! MNIST test images; ResNet-18 after 12 training steps on the first 512.

#[path = "../examples/common/batches.rs"]
mod batches;

use batches::Batches;
use nabla::{autocast, no_grad, DType, Device, Tensor};
use nabla_data::{mnist, transforms::Normalize, DataLoader};
use nabla_nn::models::{self, ModelConfig};
use nabla_nn::optim::Adam;
use nabla_nn::{Loader, Module, Result, Trainer, TrainerConfig, VarStore};
use std::sync::Arc;

/// The top-1 class of every row of `model(x)`, in f32 and under bf16 autocast.
fn classes(model: &dyn Module, x: &Tensor) -> Result<(Vec<i64>, Vec<i64>)> {
    no_grad(|| {
        let full = model.forward_t(x, false)?.argmax(1)?.to_vec::<i64>()?;
        let mixed = autocast(DType::BF16, || model.forward_t(x, false))??
            .argmax(1)?
            .to_vec::<i64>()?;
        Ok((full, mixed))
    })
}

fn agreement(pairs: &[(Vec<i64>, Vec<i64>)]) -> f64 {
    let (same, all) = pairs.iter().fold((0, 0), |(s, n), (a, b)| {
        (
            s + a.iter().zip(b).filter(|(x, y)| x == y).count(),
            n + a.len(),
        )
    });
    same as f64 / all as f64
}

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Trains `model` on MNIST for `steps` steps of `batch` images with Adam at `lr`, then
/// returns the share of the first `count` test images whose top-1 class is the same in
/// bf16 as in f32, and how many classes f32 predicted.
fn trained_agreement(
    model: &str,
    steps: usize,
    batch: usize,
    lr: f64,
    count: usize,
) -> std::result::Result<(f64, usize), Box<dyn std::error::Error>> {
    nabla::manual_seed(0);
    let vs = VarStore::new(&Device::Cpu);
    let net = models::build(model, &vs.root(), &ModelConfig::mnist())?;
    let train = DataLoader::new(Arc::new(mnist::bundled_train()?), batch)?
        .shuffle(true)
        .seed(0)
        .transform(Normalize::mnist());
    let cfg = TrainerConfig {
        epochs: 1,
        max_steps: Some(steps),
        progress: false,
        verbose: false,
        ..Default::default()
    };
    Trainer::new(
        net.as_ref(),
        &vs,
        Box::new(Adam::new(vs.trainable(), lr)),
        cfg,
    )
    .fit(&Batches(train), None)?;
    let images = nabla_data::Subset::take(Arc::new(mnist::bundled_test()?), count);
    let test = Batches(DataLoader::new(Arc::new(images), 500)?.transform(Normalize::mnist()));
    let pairs = test
        .epoch(0)
        .map(|b| classes(net.as_ref(), &b?.0))
        .collect::<Result<Vec<_>>>()?;
    let mut seen: Vec<i64> = pairs.iter().flat_map(|p| p.0.clone()).collect();
    seen.sort_unstable();
    seen.dedup();
    Ok((agreement(&pairs), seen.len()))
}

#[test]
fn lenet5_on_mnist_predicts_the_same_class_in_bf16() -> TestResult {
    let (share, _) = trained_agreement("lenet5", 150, 64, 3e-3, 10_000)?;
    println!(
        "LeNet-5 after 150 steps, 10,000 MNIST test images: bf16 and f32 agree on {:.2}%",
        100.0 * share
    );
    assert!(share >= 0.99, "only {:.2}% agree", 100.0 * share);
    Ok(())
}

#[test]
fn resnet18_on_mnist_predicts_the_same_class_in_bf16() -> TestResult {
    // 12 training steps of 32 images: enough for the predictions to tell digits apart (a
    // freshly initialized ResNet-18 puts almost every input in one or two classes).
    let (share, classes) = trained_agreement("resnet18", 12, 32, 1e-3, 512)?;
    // Agreement means something only when the network tells the inputs apart.
    assert!(classes >= 5, "f32 predicts only {classes} classes");
    println!("ResNet-18 after 12 steps, 512 MNIST test images ({classes} classes predicted): bf16 and f32 agree on {:.2}%", 100.0 * share);
    assert!(share >= 0.99, "only {:.2}% agree", 100.0 * share);
    Ok(())
}
