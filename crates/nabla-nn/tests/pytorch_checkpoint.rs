//! A LeNet-5 initialized and saved by PyTorch (`tools/pytorch_checkpoints.py`) loads strictly
//! into nabla's `lenet5` and gives PyTorch's logits on the first 8 MNIST test images.
//! (The other direction, nabla's checkpoint into PyTorch with the same test accuracy, is
//! checked by the same script.)

use nabla::Device;
use nabla_data::{mnist, transforms::Normalize, DataLoader, Subset};
use nabla_nn::models::{lenet5, ModelConfig};
use nabla_nn::{Module, VarStore};
use std::sync::Arc;

#[test]
fn pytorch_lenet5_weights_give_pytorch_logits() -> Result<(), Box<dyn std::error::Error>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
    let vs = VarStore::new(&Device::Cpu);
    let net = lenet5(&vs.root(), &ModelConfig::mnist())?;
    vs.load(format!("{dir}/pytorch_lenet5.safetensors"))?;

    let first8 = Subset::take(Arc::new(mnist::bundled_test()?), 8);
    let batch = DataLoader::new(Arc::new(first8), 8)?
        .transform(Normalize::mnist())
        .epoch(0)
        .next()
        .ok_or("no batch")??;
    let logits = net.forward(&batch.inputs)?.to_vec::<f32>()?;

    let text = std::fs::read_to_string(format!("{dir}/pytorch_lenet5_logits.json"))?;
    let doc: serde_json::Value = serde_json::from_str(&text)?;
    let want: Vec<f64> = doc["logits"]
        .as_array()
        .ok_or("logits")?
        .iter()
        .flat_map(|r| r.as_array().into_iter().flatten())
        .filter_map(|v| v.as_f64())
        .collect();
    assert_eq!(want.len(), logits.len());
    for (i, (g, w)) in logits.iter().zip(&want).enumerate() {
        assert!(
            (*g as f64 - w).abs() < 1e-4,
            "logit {i}: nabla {g}, PyTorch {w}"
        );
    }
    Ok(())
}

/// BF16 and F16 tensors saved by PyTorch (`tools/pytorch_half_safetensors.py`) read as
/// nabla BF16/F16 tensors with PyTorch's exact values, and survive nabla's own save/load.
#[test]
fn pytorch_bf16_and_f16_tensors_read_exactly() -> Result<(), Box<dyn std::error::Error>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
    let ckpt = nabla_nn::checkpoint::load(format!("{dir}/pytorch_half.safetensors"))?;
    let get = |name: &str| {
        ckpt.tensors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .ok_or(format!("{name} missing"))
    };
    for (name, dtype) in [("bf16", nabla::DType::BF16), ("f16", nabla::DType::F16)] {
        let (t, want) = (get(name)?, get(&format!("{name}_as_f32"))?);
        assert_eq!(t.dtype(), dtype);
        assert_eq!(t.dims(), &[3, 5]);
        assert_eq!(t.to_vec::<f32>()?, want.to_vec::<f32>()?);
        let bytes =
            nabla_nn::checkpoint::to_bytes(&[(name.into(), t.clone())], &Default::default())?;
        let back = nabla_nn::checkpoint::from_bytes(&bytes, "memory")?;
        assert_eq!(back.tensors[0].1.dtype(), dtype);
        assert_eq!(back.tensors[0].1.to_vec::<f32>()?, want.to_vec::<f32>()?);
    }
    Ok(())
}

/// BF16 and F16 weights saved by PyTorch load into an F32 model, converted exactly.
#[test]
fn pytorch_half_weights_load_into_an_f32_model() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/pytorch_half.safetensors"
    );
    let vs = nabla_nn::VarStore::new(&nabla::Device::Cpu);
    for name in ["bf16", "f16", "bf16_as_f32", "f16_as_f32"] {
        vs.root()
            .param(name, &[3, 5], nabla_nn::Init::Constant(0.0))?;
    }
    vs.load(path)?;
    for name in ["bf16", "f16"] {
        let loaded = vs.get(name).ok_or("missing")?.tensor();
        assert_eq!(loaded.dtype(), nabla::DType::F32);
        let want = vs.get(&format!("{name}_as_f32")).ok_or("missing")?.tensor();
        assert_eq!(loaded.to_vec::<f32>()?, want.to_vec::<f32>()?);
    }
    Ok(())
}
