//! Measures what one gradient step and one frame cost for Playground-sized networks.
//!
//! `cargo run --release -p nabla-playground --example step_cost`
//!
//! Prints, for a few networks, the mean time of one step (forward, backward, update on a
//! batch of 10), of one epoch of the 250 training points, and of rendering one frame (the
//! 50×50 plane through the whole network under `no_grad`, every neuron's map, JSON), and
//! the engine's `tanh` over one hidden layer's grid outputs.

use nabla::{Device, Tensor};
use nabla_playground::config::{Config, DataSet};
use nabla_playground::features::Feature;
use nabla_playground::{frame, Limits, Session};
use std::time::Instant;

fn main() -> nabla_playground::Result<()> {
    let cases = [
        (
            "x1,x2 → 4 → 2 (default)",
            Feature::ALL[..2].to_vec(),
            vec![4, 2],
        ),
        ("7 features → 8 → 8", Feature::ALL.to_vec(), vec![8, 8]),
        (
            "7 features → 6 × 8 (largest)",
            Feature::ALL.to_vec(),
            vec![8; 6],
        ),
    ];
    for (name, features, hidden) in cases {
        let cfg = Config {
            dataset: DataSet::Spiral,
            features,
            hidden,
            ..Config::default()
        };
        let mut s = Session::new("bench".into(), cfg, &Limits::default())?;
        s.train_epochs(5)?; // warm the buffer pool
        let epochs = 200;
        let t = Instant::now();
        s.train_epochs(epochs)?;
        let per_epoch = t.elapsed().as_secs_f64() / epochs as f64;
        let steps_per_epoch = 25.0; // 250 training points, batch 10
        let frames = 200;
        let t = Instant::now();
        let mut bytes = 0;
        for _ in 0..frames {
            bytes = serde_json::to_string(&frame::render(&s)?)
                .expect("serializes")
                .len();
        }
        let per_frame = t.elapsed().as_secs_f64() / frames as f64;
        println!(
            "{name:32} step {:6.1} µs   epoch {:6.2} ms   frame {:6.2} ms ({} kB)",
            per_epoch / steps_per_epoch * 1e6,
            per_epoch * 1e3,
            per_frame * 1e3,
            bytes / 1000
        );
    }
    // Most of a frame is the element-wise activation over the 2500 grid points.
    let h = Tensor::from_vec(vec![0.3f32; 2500 * 8], &[2500, 8], &Device::Cpu)?;
    let reps = 500;
    let t = Instant::now();
    for _ in 0..reps {
        h.tanh()?;
    }
    println!(
        "tanh of one hidden layer over the grid ([2500, 8]): {:.0} µs",
        t.elapsed().as_secs_f64() / f64::from(reps) * 1e6
    );
    Ok(())
}
