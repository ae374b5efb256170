//! A two-layer perceptron learns XOR, which a single perceptron cannot: 2 inputs → 4 tanh
//! hidden units → 1 sigmoid output, trained by backpropagation on J = ½ Σ (y − f)².
//!
//! Run with `cargo run --release --example xor_mlp`.

use nabla::{manual_seed, Device, Tensor};
use nabla_nn::layers::{Activation, Linear};
use nabla_nn::optim::{Optimizer, Sgd};
use nabla_nn::{loss, seq, Module, Result, VarStore};

fn main() -> Result<()> {
    manual_seed(1);
    let dev = Device::Cpu;
    let x = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2], &dev)?;
    let y = Tensor::from_slice(&[0.0f32, 1.0, 1.0, 0.0], &[4, 1], &dev)?;
    let vs = VarStore::new(&dev);
    let net = seq()
        .add(Linear::new(&vs.root().sub("hidden"), 2, 4, true)?)
        .add(Activation::Tanh)
        .add(Linear::new(&vs.root().sub("out"), 4, 1, true)?)
        .add(Activation::Sigmoid);
    let mut opt = Sgd::new(vs.trainable(), 0.5).momentum(0.9);
    let mut j = f32::INFINITY;
    for epoch in 0..2000 {
        let f = net.forward_t(&x, true)?;
        let l = loss::half_sse(&f, &y)?;
        j = l.to_scalar::<f32>()?;
        if epoch % 250 == 0 {
            println!("epoch {epoch:4}: J = {j:.6}");
        }
        if j < 1e-3 {
            break;
        }
        opt.step(&l.backward()?)?;
    }
    let f = net.forward(&x)?.to_vec::<f32>()?;
    let correct = f
        .iter()
        .zip([0.0, 1.0, 1.0, 0.0])
        .filter(|(p, t)| ((**p > 0.5) as i32 as f32) == *t)
        .count();
    println!("final loss {j:.6}; outputs {f:.3?}; {correct}/4 correct");
    assert!(j < 0.01 && correct == 4);
    Ok(())
}
