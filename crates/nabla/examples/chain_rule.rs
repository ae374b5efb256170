//! The course's first backpropagation example: f(x, y, z) = (x + y)·z at x = −2, y = 5,
//! z = −4. Forward: q = x + y = 3, f = q·z = −12. Backward by the chain rule:
//! ∂f/∂z = q = 3, ∂f/∂q = z = −4, and ∂f/∂x = ∂f/∂q · ∂q/∂x = −4 (likewise ∂f/∂y = −4).
//!
//! Run with `cargo run --release --example chain_rule`.

use nabla::{Device, Result, Tensor};

fn main() -> Result<()> {
    let dev = Device::Cpu;
    let x = Tensor::from_slice(&[-2.0f32], &[1], &dev)?.requires_grad();
    let y = Tensor::from_slice(&[5.0f32], &[1], &dev)?.requires_grad();
    let z = Tensor::from_slice(&[-4.0f32], &[1], &dev)?.requires_grad();

    let q = x.add(&y)?;
    let f = q.mul(&z)?;
    let grads = f.backward()?;

    let grad = |t: &Tensor| -> Result<f32> {
        grads
            .get(t)
            .expect("f depends on every input")
            .to_scalar::<f32>()
    };
    println!("f = (x + y) * z at x = -2, y = 5, z = -4");
    println!("f     = {}", f.to_scalar::<f32>()?);
    println!("df/dx = {}", grad(&x)?);
    println!("df/dy = {}", grad(&y)?);
    println!("df/dz = {}", grad(&z)?);
    Ok(())
}
