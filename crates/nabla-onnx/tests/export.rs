//! Exported zoo models read back by nabla's own importer give the model's outputs, with the
//! parameter names as initializer names and a free batch dimension.

use nabla::{DType, Device, Tensor};
use nabla_nn::models::{self, ModelConfig};
use nabla_nn::{Module, VarStore};
use nabla_onnx::proto::{Dim, ModelProto};
use nabla_onnx::OnnxModel;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Builds `name`, exports it, imports the bytes again and compares outputs on a batch of 3.
fn round_trip(name: &str, cfg: &ModelConfig, input: &[usize]) -> Result<ModelProto> {
    nabla::manual_seed(0);
    let vs = VarStore::new(&Device::Cpu);
    let model = models::build(name, &vs.root(), cfg)?;
    let onnx = nabla_onnx::export(model.as_ref(), input, 17)?;
    let vs2 = VarStore::new(&Device::Cpu);
    let back = OnnxModel::from_bytes(&onnx.encode(), &vs2)?;
    let mut dims = vec![3];
    dims.extend_from_slice(input);
    let x = Tensor::randn(&dims, DType::F32, &Device::Cpu)?;
    let want = model.forward(&x)?.to_vec::<f32>()?;
    let got = back.forward(&x)?.to_vec::<f32>()?;
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    let err = want
        .iter()
        .zip(&got)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
        / scale;
    assert!(err <= 1e-5, "{name}: relative error {err}");
    // Every variable but batch norm's step counter, which inference does not read.
    for v in vs
        .vars()
        .iter()
        .filter(|v| !v.name().ends_with("num_batches_tracked"))
    {
        assert!(
            vs2.get(v.name()).is_some(),
            "{name}: {} is not an initializer",
            v.name()
        );
    }
    Ok(onnx)
}

#[test]
fn mlp_and_lenets_round_trip_through_onnx() -> Result {
    let onnx = round_trip("mlp", &ModelConfig::mnist(), &[1, 28, 28])?;
    assert_eq!(
        onnx.graph.inputs[0].shape.as_ref().map(|s| s[0].clone()),
        Some(Dim::Param("batch".into()))
    );
    round_trip("lenet5", &ModelConfig::mnist(), &[1, 28, 28])?;
    round_trip("lenet5_classic", &ModelConfig::mnist(), &[1, 28, 28])?;
    Ok(())
}

#[test]
fn small_resnet_and_row_lstm_round_trip_through_onnx() -> Result {
    let cifar = ModelConfig {
        num_classes: 4,
        in_channels: 3,
        image_size: 32,
    };
    round_trip("resnet18", &cifar, &[3, 32, 32])?;
    let small = ModelConfig {
        num_classes: 4,
        in_channels: 1,
        image_size: 12,
    };
    round_trip("row-lstm", &small, &[1, 12, 12])?;
    Ok(())
}

#[test]
fn a_layer_without_a_graph_form_is_named_in_the_error() -> Result {
    let net = nabla_nn::seq().add_fn(|x| x.relu());
    let err = nabla_onnx::export(&net, &[4], 17).unwrap_err().to_string();
    assert!(err.contains("Func"), "{err}");
    let err = nabla_onnx::export(&net, &[4], 9).unwrap_err().to_string();
    assert!(err.contains("opset 9"), "{err}");
    Ok(())
}

/// The largest difference between `a` and `b`, relative to the largest `|a|`.
fn rel_err(a: &Tensor, b: &Tensor) -> Result<f32> {
    let (a, b) = (a.to_vec::<f32>()?, b.to_vec::<f32>()?);
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    Ok(a.iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale)
}

#[test]
fn adaptive_pooling_with_uneven_or_growing_windows_round_trips() -> Result {
    use nabla_nn::layers::AdaptiveAvgPool2d;
    // 5 -> 3 (overlapping windows), 3 -> 7 (outputs repeat inputs), 6 -> 4 x 6 -> 2.
    for (input, out) in [
        ([2, 5, 5], (3, 3)),
        ([2, 3, 3], (7, 7)),
        ([1, 6, 6], (4, 2)),
    ] {
        let pool = AdaptiveAvgPool2d(out);
        let onnx = nabla_onnx::export(&pool, &input, 17)?;
        let back = OnnxModel::from_bytes(&onnx.encode(), &VarStore::new(&Device::Cpu))?;
        let mut dims = vec![2];
        dims.extend_from_slice(&input);
        let x = Tensor::randn(&dims, DType::F32, &Device::Cpu)?;
        let err = rel_err(&pool.forward(&x)?, &back.forward(&x)?)?;
        assert!(err <= 1e-6, "{input:?} -> {out:?}: relative error {err}");
    }
    Ok(())
}

#[test]
fn character_models_round_trip_with_their_embedding() -> Result {
    use nabla_nn::layers::CellKind;
    use nabla_nn::models::rnn::{CharLm, CharLmConfig};
    for kind in [CellKind::Lstm, CellKind::Gru, CellKind::RnnTanh] {
        nabla::manual_seed(1);
        let vs = VarStore::new(&Device::Cpu);
        let mut cfg = CharLmConfig::new(kind, 11);
        (cfg.embed, cfg.hidden) = (5, 6);
        let model = CharLm::new(&vs.root(), cfg)?;
        let onnx = nabla_onnx::export(&model, &[7], 17)?;
        let vs2 = VarStore::new(&Device::Cpu);
        let back = OnnxModel::from_bytes(&onnx.encode(), &vs2)?;
        assert!(vs2.get("embed.weight").is_some() && vs2.get("rnn.weight_hh_l1").is_some());
        // Character codes as floats, as `nabla predict` reads them from a .npy batch.
        let codes: Vec<f32> = (0..21).map(|i| ((i * 7) % 11) as f32).collect();
        let x = Tensor::from_vec(codes, &[3, 7], &Device::Cpu)?;
        let want = model.forward(&x)?;
        assert_eq!(want.dims(), &[3, 7, 11]);
        let err = rel_err(&want, &back.forward(&x)?)?;
        assert!(err <= 1e-5, "{kind:?}: relative error {err}");
    }
    Ok(())
}
