//! Gradient descent on the course's loss J = ½ Σ (y − f(x))² for f(x) = wᵀx + b, compared with
//! the closed-form least-squares solution.
//!
//! Run with `cargo run --release --example linear_regression`.

use nabla::{manual_seed, DType, Device, Tensor};
use nabla_nn::{loss, Result};

fn main() -> Result<()> {
    manual_seed(0);
    let dev = Device::Cpu;
    // 200 points of y = 2·x₁ − 3·x₂ + 0.5 + noise, in F64 so the comparison is exact to 1e-4.
    let n = 200;
    let x = Tensor::randn(&[n, 2], DType::F64, &dev)?;
    let true_w = Tensor::from_slice(&[2.0f64, -3.0], &[2, 1], &dev)?;
    let y = x
        .matmul(&true_w)?
        .add_scalar(0.5)?
        .add(&Tensor::randn(&[n, 1], DType::F64, &dev)?.mul_scalar(0.1)?)?;

    // Gradient descent: w ← w − η ∂J/∂w, with ∂J/∂w from backpropagation.
    let mut w = Tensor::zeros(&[2, 1], DType::F64, &dev).requires_grad();
    let mut b = Tensor::zeros(&[1], DType::F64, &dev).requires_grad();
    let lr = 0.002; // J sums over the examples, so the step is scaled by 1/n-ish
    for step in 0..2000 {
        let f = x.matmul(&w)?.add(&b)?;
        let j = loss::half_sse(&f, &y)?;
        let g = j.backward()?;
        let (gw, gb) = (
            g.get(&w).expect("w gradient"),
            g.get(&b).expect("b gradient"),
        );
        w = w.detach().sub(&gw.mul_scalar(lr)?)?.requires_grad();
        b = b.detach().sub(&gb.mul_scalar(lr)?)?.requires_grad();
        if step % 500 == 0 {
            println!("step {step:4}: J = {:.6}", j.to_scalar::<f64>()?);
        }
    }

    // Closed form: append a column of ones, solve (XᵀX) θ = Xᵀy (2×2 + bias → 3×3 system).
    let xs = x.to_vec::<f64>()?;
    let ys = y.to_vec::<f64>()?;
    let mut a = [[0.0f64; 3]; 3];
    let mut r = [0.0f64; 3];
    for i in 0..n {
        let row = [xs[2 * i], xs[2 * i + 1], 1.0];
        for p in 0..3 {
            r[p] += row[p] * ys[i];
            for q in 0..3 {
                a[p][q] += row[p] * row[q];
            }
        }
    }
    let theta = solve3(a, r);
    let (w_gd, b_gd) = (w.to_vec::<f64>()?, b.to_scalar::<f64>()?);
    println!(
        "gradient descent: w = [{:.6}, {:.6}], b = {:.6}",
        w_gd[0], w_gd[1], b_gd
    );
    println!(
        "least squares:    w = [{:.6}, {:.6}], b = {:.6}",
        theta[0], theta[1], theta[2]
    );
    let diff = (w_gd[0] - theta[0])
        .abs()
        .max((w_gd[1] - theta[1]).abs())
        .max((b_gd - theta[2]).abs());
    println!(
        "largest difference: {diff:.2e} ({})",
        if diff < 1e-4 {
            "converged to the closed form"
        } else {
            "NOT converged"
        }
    );
    assert!(diff < 1e-4);
    Ok(())
}

/// Solves a 3×3 linear system by Gaussian elimination with partial pivoting.
fn solve3(mut a: [[f64; 3]; 3], mut r: [f64; 3]) -> [f64; 3] {
    for c in 0..3 {
        let p = (c..3)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, p);
        r.swap(c, p);
        for i in c + 1..3 {
            let f = a[i][c] / a[c][c];
            for k in c..3 {
                a[i][k] -= f * a[c][k];
            }
            r[i] -= f * r[c];
        }
    }
    let mut x = [0.0; 3];
    for i in (0..3).rev() {
        x[i] = (r[i] - (i + 1..3).map(|k| a[i][k] * x[k]).sum::<f64>()) / a[i][i];
    }
    x
}
