//! The zoo reproduces torchvision: a torchvision state_dict saved as safetensors loads
//! strictly, as it is, and gives the same logits on the same input (max difference within
//! 1e-4 of the largest logit). Needs PyTorch's output, so it is ignored by default:
//!
//! ```text
//! .venv/bin/python tools/torchvision_logits.py /tmp/nabla-torchvision
//! NABLA_TORCHVISION_DIR=/tmp/nabla-torchvision \
//!     cargo test --release -p nabla-nn --test torchvision -- --ignored
//! ```

use nabla::{Device, Tensor};
use nabla_nn::models::{self, GoogLeNet, GoogLeNetVariant, ModelConfig};
use nabla_nn::{checkpoint, Module, VarStore};
use std::path::PathBuf;

fn tensor(file: &checkpoint::Checkpoint, name: &str) -> Tensor {
    file.tensors
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no '{name}' in the io file"))
        .1
        .clone()
}

#[test]
#[ignore = "needs tools/torchvision_logits.py's output in $NABLA_TORCHVISION_DIR"]
fn zoo_models_give_torchvisions_logits() -> nabla_nn::Result<()> {
    let dir = PathBuf::from(
        std::env::var("NABLA_TORCHVISION_DIR").unwrap_or_else(|_| "/tmp/nabla-torchvision".into()),
    );
    for name in [
        "alexnet",
        "vgg11",
        "vgg11_bn",
        "googlenet",
        "googlenet_transform_input",
        "resnet18",
        "resnet50",
    ] {
        let vs = VarStore::new(&Device::Cpu);
        let net: Box<dyn Module> = match name {
            // torchvision's pretrained form: no auxiliary heads, `transform_input=True`.
            "googlenet_transform_input" => Box::new(
                GoogLeNet::new(
                    &vs.root(),
                    &ModelConfig::imagenet(),
                    GoogLeNetVariant::Torchvision,
                    false,
                )?
                .with_transform_input()?,
            ),
            _ => models::build(name, &vs.root(), &ModelConfig::imagenet())?,
        };
        vs.load(dir.join(format!("{name}.safetensors")))?; // strict: every entry, as it is
        let io = checkpoint::load(dir.join(format!("{name}.io.safetensors")))?;
        let (x, want) = (tensor(&io, "input"), tensor(&io, "logits"));
        let got = nabla::no_grad(|| net.forward(&x))?;
        assert_eq!(got.dims(), want.dims(), "{name}");
        let (got, want) = (got.to_vec::<f32>()?, want.to_vec::<f32>()?);
        let largest = want.iter().fold(0f32, |a, v| a.max(v.abs()));
        let diff = got
            .iter()
            .zip(&want)
            .fold(0f32, |a, (g, w)| a.max((g - w).abs()));
        println!("{name}: max |logit| {largest:.4}, max difference {diff:.2e}");
        assert!(
            diff <= 1e-4 * largest,
            "{name}: differs by {diff} (largest logit {largest})"
        );
    }
    Ok(())
}
