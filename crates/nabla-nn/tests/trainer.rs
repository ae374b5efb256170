//! The Trainer end to end: bitwise resume, NaN detection, outputs on disk, early stopping.

use nabla::{manual_seed, DType, Device, Rng, Tensor};
use nabla_nn::layers::{Activation, BatchNorm, Dropout, Linear};
use nabla_nn::optim::Adam;
use nabla_nn::{seq, Error, Loader, Module, Result, Sequential, Trainer, TrainerConfig, VarStore};
use std::path::{Path, PathBuf};

/// A small two-class problem (points inside/outside a circle) in shuffled batches whose order
/// depends on the epoch, as a real loader's does.
struct Circles {
    x: Vec<f32>,
    y: Vec<i64>,
    batch: usize,
}

impl Circles {
    fn new(n: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let (a, b) = (rng.next_f64() * 2.0 - 1.0, rng.next_f64() * 2.0 - 1.0);
            x.extend([a as f32, b as f32]);
            y.push((a * a + b * b < 0.5) as i64);
        }
        Circles { x, y, batch: 16 }
    }
}

impl Loader for Circles {
    fn epoch(&self, epoch: usize) -> Box<dyn Iterator<Item = Result<(Tensor, Tensor)>> + '_> {
        let mut order: Vec<usize> = (0..self.y.len()).collect();
        Rng::new(1000 + epoch as u64).shuffle(&mut order);
        let batches: Vec<Vec<usize>> = order.chunks(self.batch).map(|c| c.to_vec()).collect();
        Box::new(batches.into_iter().map(move |idx| {
            let xs: Vec<f32> = idx
                .iter()
                .flat_map(|&i| [self.x[2 * i], self.x[2 * i + 1]])
                .collect();
            let ys: Vec<i64> = idx.iter().map(|&i| self.y[i]).collect();
            Ok((
                Tensor::from_vec(xs, &[idx.len(), 2], &Device::Cpu)?,
                Tensor::from_vec(ys, &[idx.len()], &Device::Cpu)?,
            ))
        }))
    }
    fn num_batches(&self) -> usize {
        self.y.len().div_ceil(self.batch)
    }
}

/// An MLP with dropout and batch norm, so that resuming must restore RNG and buffers too.
fn model(vs: &VarStore) -> Result<Sequential> {
    let r = vs.root();
    Ok(seq()
        .add(Linear::new(&r.sub("fc1"), 2, 32, true)?)
        .add(BatchNorm::new1d(&r.sub("bn"), 32)?)
        .add(Activation::Relu)
        .add(Dropout::new(0.2)?)
        .add(Linear::new(&r.sub("fc2"), 32, 2, true)?))
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nabla-trainer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn config(epochs: usize, dir: &Path) -> TrainerConfig {
    TrainerConfig {
        epochs,
        out_dir: Some(dir.to_path_buf()),
        progress: false,
        verbose: false,
        ..Default::default()
    }
}

fn weights(vs: &VarStore) -> Vec<Vec<f64>> {
    vs.state_dict()
        .iter()
        .map(|(_, t)| t.to_vec::<f64>().unwrap())
        .collect()
}

#[test]
fn resuming_a_run_gives_bitwise_the_same_weights() -> Result<()> {
    let data = Circles::new(256, 7);
    // Uninterrupted: 4 epochs.
    manual_seed(42);
    let vs = VarStore::new(&Device::Cpu);
    let net = model(&vs)?;
    let dir = out_dir("straight");
    let mut t = Trainer::new(
        &net,
        &vs,
        Box::new(Adam::new(vs.trainable(), 0.05)),
        config(4, &dir),
    );
    t.fit(&data, Some(&data))?;
    let straight = weights(&vs);

    // Interrupted after 2 epochs, then continued by fresh objects from the checkpoint.
    manual_seed(42);
    let dir = out_dir("resumed");
    {
        let vs = VarStore::new(&Device::Cpu);
        let net = model(&vs)?;
        let mut t = Trainer::new(
            &net,
            &vs,
            Box::new(Adam::new(vs.trainable(), 0.05)),
            config(2, &dir),
        );
        t.fit(&data, Some(&data))?;
    }
    manual_seed(999); // the fresh process's generator differs; resume must restore it
    let vs = VarStore::new(&Device::Cpu);
    let net = model(&vs)?;
    let mut t = Trainer::new(
        &net,
        &vs,
        Box::new(Adam::new(vs.trainable(), 0.05)),
        config(4, &dir),
    );
    assert!(t.resume()?);
    assert_eq!(t.history().len(), 2);
    t.fit(&data, Some(&data))?;
    assert_eq!(t.history().len(), 4);
    assert_eq!(
        weights(&vs),
        straight,
        "resumed weights differ from the uninterrupted run"
    );
    let acc = t.history().last().and_then(|r| r.val_acc).unwrap_or(0.0);
    assert!(acc > 0.8, "accuracy {acc}");
    Ok(())
}

#[test]
fn outputs_are_written_every_epoch() -> Result<()> {
    manual_seed(1);
    let data = Circles::new(64, 3);
    let vs = VarStore::new(&Device::Cpu);
    let net = model(&vs)?;
    let dir = out_dir("outputs");
    let mut t = Trainer::new(
        &net,
        &vs,
        Box::new(Adam::new(vs.trainable(), 0.01)),
        config(2, &dir),
    );
    t.fit(&data, Some(&data))?;
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).map_err(|e| Error::Io {
        path: "metrics.csv".into(),
        source: e,
    })?;
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("epoch,train_loss"));
    let png = std::fs::read(dir.join("curves.png")).map_err(|e| Error::Io {
        path: "curves.png".into(),
        source: e,
    })?;
    assert_eq!(&png[1..4], b"PNG");
    assert!(dir.join("checkpoint.safetensors").exists() && dir.join("model.safetensors").exists());
    assert!(std::fs::read_to_string(dir.join("train.log"))
        .unwrap_or_default()
        .contains("epoch 2/2"));
    // The model file loads strictly into a fresh model.
    let vs2 = VarStore::new(&Device::Cpu);
    model(&vs2)?;
    vs2.load(dir.join("model.safetensors"))?;
    Ok(())
}

#[test]
fn a_nan_loss_stops_training_naming_the_step() -> Result<()> {
    manual_seed(2);
    let data = Circles::new(64, 3);
    let vs = VarStore::new(&Device::Cpu);
    let net = model(&vs)?;
    let cfg = TrainerConfig {
        epochs: 3,
        progress: false,
        verbose: false,
        ..Default::default()
    };
    // A loss that turns NaN at the third step.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let mut t = Trainer::new(&net, &vs, Box::new(Adam::new(vs.trainable(), 0.01)), cfg).with_loss(
        Box::new(move |out, y| {
            let l = out.cross_entropy(y, 0.0)?;
            let k = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(if k == 2 { l.mul_scalar(f64::NAN)? } else { l })
        }),
    );
    let err = t.fit(&data, None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFiniteLoss {
                epoch: 1,
                step: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("epoch 1, step 3"));
    Ok(())
}

#[test]
fn early_stopping_ends_a_run_without_progress() -> Result<()> {
    manual_seed(3);
    let data = Circles::new(64, 3);
    let vs = VarStore::new(&Device::Cpu);
    let net = model(&vs)?;
    // A learning rate of 0 never improves after the first epoch.
    let cfg = TrainerConfig {
        epochs: 20,
        early_stopping: Some(2),
        progress: false,
        verbose: false,
        ..Default::default()
    };
    let mut t = Trainer::new(&net, &vs, Box::new(Adam::new(vs.trainable(), 0.0)), cfg);
    let n = t.fit(&data, Some(&data))?.len();
    assert!(n < 20, "ran {n} epochs");
    Ok(())
}

#[test]
fn evaluation_does_not_change_the_model() -> Result<()> {
    manual_seed(4);
    let data = Circles::new(32, 3);
    let vs = VarStore::new(&Device::Cpu);
    let net = model(&vs)?;
    let before = weights(&vs);
    let t = Trainer::new(
        &net,
        &vs,
        Box::new(Adam::new(vs.trainable(), 0.01)),
        TrainerConfig {
            progress: false,
            verbose: false,
            ..Default::default()
        },
    );
    let e = t.evaluate(&data)?;
    assert_eq!(e.n, 32);
    assert!(e.accuracy.is_some());
    assert_eq!(weights(&vs), before);
    let x = Tensor::zeros(&[3, 2], DType::F32, &Device::Cpu);
    assert_eq!(net.forward(&x)?.dims(), &[3, 2]);
    Ok(())
}
