//! The course's activation functions and their derivatives: step, sigmoid, tanh, gaussian
//! (σ = 1) and ReLU, each evaluated by nabla on a grid of x in [-4, 4] and differentiated by
//! its backward rule (autograd), printed at a few points and drawn as two plots.
//!
//! Run with `cargo run --release -p nabla-nn --example activations [-- OUTPUT.png]`
//! (default `activations.png`).

#[path = "common/plot.rs"]
mod plot;

use nabla::{Device, Tensor};
use nabla_nn::layers::Activation;
use nabla_nn::Module;
use plot::{line_charts, Panel, Series};
use std::error::Error;
use std::path::PathBuf;

/// Points of the plotted grid over [-4, 4].
const GRID: usize = 401;
/// Where the table prints each function and its derivative.
const TABLE_X: [f32; 5] = [-2.0, -1.0, 0.0, 1.0, 2.0];

/// f(x) and f'(x) for every x, the derivative from autograd (the sum's gradient).
fn value_and_slope(f: Activation, xs: &[f32]) -> nabla_nn::Result<(Vec<f32>, Vec<f32>)> {
    let x = Tensor::from_slice(xs, &[xs.len()], &Device::Cpu)?.requires_grad();
    let y = f.forward(&x)?;
    let slope = if f == Activation::Step {
        // The step records no backward rule: it is flat everywhere but at 0.
        vec![0.0; xs.len()]
    } else {
        let grads = y.sum_all()?.backward()?;
        grads.get(&x).expect("y depends on x").to_vec::<f32>()?
    };
    Ok((y.to_vec::<f32>()?, slope))
}

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or("activations.png".into()));
    let functions = [
        ("step", Activation::Step),
        ("sigmoid", Activation::Sigmoid),
        ("tanh", Activation::Tanh),
        ("gaussian", Activation::Gaussian(1.0)),
        ("relu", Activation::Relu),
    ];
    let grid: Vec<f32> = (0..GRID)
        .map(|i| -4.0 + 8.0 * i as f32 / (GRID - 1) as f32)
        .collect();
    let header: Vec<String> = TABLE_X.iter().map(|x| format!("x = {x}")).collect();
    println!("| f(x), f'(x) | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(TABLE_X.len()));
    let (mut values, mut slopes) = (Vec::new(), Vec::new());
    for (name, f) in functions {
        let (v, d) = value_and_slope(f, &TABLE_X)?;
        let cells: Vec<String> = v
            .iter()
            .zip(&d)
            .map(|(v, d)| format!("{v:.4}, {d:.4}"))
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
        let (v, d) = value_and_slope(f, &grid)?;
        let series = |ys: Vec<f32>| Series {
            name: name.to_string(),
            points: grid
                .iter()
                .zip(ys)
                .map(|(&x, y)| (x as f64, y as f64))
                .collect(),
        };
        values.push(series(v));
        slopes.push(series(d));
    }
    let panel = |title: &str, series| Panel {
        title: title.into(),
        x_label: "x".into(),
        series,
    };
    line_charts(
        &out,
        &[panel("f(x)", values), panel("f'(x) by autograd", slopes)],
        (900, 340),
    )?;
    println!("wrote {}", out.display());
    Ok(())
}
