//! LeNet-5's forward pass in BF16 beside F32: the same random weights and input, the largest
//! difference between the two sets of logits. BF16 keeps f32's range with 8 bits of
//! mantissa, so the logits agree to about 2-3 significant digits.
//!
//! Run with `cargo run --release --example bf16_lenet -- cpu` (the device is `cpu`, or
//! `cuda:N`, which this version refuses with an error saying why).

use nabla::{manual_seed, DType, Device, Tensor};
use nabla_nn::models::{lenet5, ModelConfig};
use nabla_nn::{Module, Result, VarStore};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "cpu".into());
    let device: Device = arg.parse()?;
    manual_seed(0);

    // A batch of 8 MNIST-sized images, built in BF16 on the chosen device.
    let x16 = Tensor::randn(&[8, 1, 28, 28], DType::BF16, &device)?;
    let x32 = x16.to_dtype(DType::F32)?;

    // One set of random weights, in F32 and rounded to BF16.
    let config = ModelConfig::mnist();
    let (vs32, vs16) = (
        VarStore::new(&device),
        VarStore::with_dtype(&device, DType::BF16),
    );
    let (net32, net16) = (
        lenet5(&vs32.root(), &config)?,
        lenet5(&vs16.root(), &config)?,
    );
    for v in vs16.vars() {
        let source = vs32.get(v.name()).expect("both stores hold the same model");
        v.set(&source.tensor().to_dtype(DType::BF16)?)?;
    }

    let (y32, y16) =
        nabla::no_grad(|| Ok::<_, nabla_nn::Error>((net32.forward(&x32)?, net16.forward(&x16)?)))?;
    let (a, b) = (y32.to_vec::<f32>()?, y16.to_vec::<f32>()?);
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    let (worst, at) = a
        .iter()
        .zip(&b)
        .map(|(p, q)| (p - q).abs())
        .enumerate()
        .fold(
            (0f32, 0),
            |(w, i), (j, d)| if d > w { (d, j) } else { (w, i) },
        );
    println!(
        "LeNet-5 forward on {device}, batch of 8, logits {:?}",
        y16.dims()
    );
    println!("dtypes: {} vs {}", y32.dtype(), y16.dtype());
    println!(
        "largest |f32 - bf16| logit difference: {worst:.5} (logit {at}: {:.5} vs {:.5}; largest |logit| {scale:.4}, relative {:.2e})",
        a[at],
        b[at],
        worst / scale.max(f32::MIN_POSITIVE)
    );
    let same_class = a
        .chunks(10)
        .zip(b.chunks(10))
        .filter(|(p, q)| argmax(p) == argmax(q))
        .count();
    println!("same predicted class in {same_class} of 8 images");
    Ok(())
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv {
                (i, x)
            } else {
                (bi, bv)
            }
        })
        .0
}
