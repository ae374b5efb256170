//! Rosenblatt's perceptron: it converges on linearly separable data (AND) and cannot learn
//! XOR, which no single line separates; it stops after the epoch limit and says so.
//!
//! Run with `cargo run --release --example perceptron`.

use nabla::{Device, Tensor};
use nabla_nn::{Perceptron, Result};

fn run(name: &str, labels: [f32; 4]) -> Result<()> {
    let x = Tensor::from_slice(
        &[0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        &[4, 2],
        &Device::Cpu,
    )?;
    let y = Tensor::from_slice(&labels, &[4], &Device::Cpu)?;
    let mut p = Perceptron::new(2);
    let report = p.train(&x, &y, 0.1, 50)?;
    let pred = p.predict(&x)?.to_vec::<f32>()?;
    println!("{name}: mistakes per epoch {:?}", report.mistakes);
    if report.converged {
        println!(
            "{name}: converged after {} epochs: w = {:?}, b = {:.2}, predictions {pred:?}",
            report.epochs, p.w, p.b
        );
    } else {
        println!("{name}: did NOT converge in {} epochs (not linearly separable); predictions {pred:?} vs labels {labels:?}", report.epochs);
    }
    Ok(())
}

fn main() -> Result<()> {
    run("AND", [0.0, 0.0, 0.0, 1.0])?;
    run("XOR", [0.0, 1.0, 1.0, 0.0])
}
