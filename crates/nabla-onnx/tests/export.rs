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

/// Small models exported by nabla: a convolutional one (Conv, BatchNormalization, Relu,
/// MaxPool, AveragePool, MatMul, Flatten, Gemm), the zoo's row LSTM (Transpose, Reshape,
/// LSTM, Squeeze) and a character GRU (Cast, Gather, GRU, MatMul), each with a zero input.
fn small_exports() -> Result<Vec<(Vec<u8>, Tensor)>> {
    use nabla::{Conv2dConfig, Pool2dConfig};
    use nabla_nn::layers::{
        Activation, AdaptiveAvgPool2d, BatchNorm, CellKind, Conv2d, Flatten, Linear, MaxPool2d,
    };
    use nabla_nn::models::rnn::{CharLm, CharLmConfig, RowLstm};
    let mut out = vec![];
    let vs = VarStore::new(&Device::Cpu);
    let p = vs.root();
    let conv = nabla_nn::seq()
        .add(Conv2d::new(
            &p.sub("conv"),
            1,
            2,
            3,
            Conv2dConfig::default(),
            true,
        )?)
        .add(BatchNorm::new2d(&p.sub("bn"), 2)?)
        .add(Activation::Relu)
        .add(MaxPool2d(Pool2dConfig::new(2)))
        .add(AdaptiveAvgPool2d((2, 2)))
        .add(Flatten)
        .add(Linear::new(&p.sub("fc"), 8, 3, true)?);
    let x = Tensor::zeros(&[2, 1, 6, 6], DType::F32, &Device::Cpu);
    out.push((nabla_onnx::export(&conv, &[1, 6, 6], 17)?.encode(), x));
    let vs = VarStore::new(&Device::Cpu);
    let row = RowLstm::new(&vs.root(), 4, 3, 2)?;
    let x = Tensor::zeros(&[2, 1, 4, 4], DType::F32, &Device::Cpu);
    out.push((nabla_onnx::export(&row, &[1, 4, 4], 17)?.encode(), x));
    let vs = VarStore::new(&Device::Cpu);
    let mut cfg = CharLmConfig::new(CellKind::Gru, 5);
    (cfg.embed, cfg.hidden, cfg.layers) = (2, 3, 1);
    let model = CharLm::new(&vs.root(), cfg)?;
    let x = Tensor::zeros(&[2, 4], DType::F32, &Device::Cpu);
    out.push((nabla_onnx::export(&model, &[4], 17)?.encode(), x));
    Ok(out)
}

/// The deterministic stand-in for the `onnx` fuzz target (fuzz/fuzz_targets/onnx.rs), on
/// models nabla really exports: every truncation, and 2000 seeded mutations of each (bit
/// flips, byte changes, insertions, deletions, copied runs), must import as an error or as a
/// model whose run gives a value or an error: never a panic.
#[test]
fn truncated_and_mutated_exports_are_errors_never_panics() -> Result {
    let mut rng = nabla::Rng::new(11);
    let (mut accepted, mut tried) = (0, 0);
    for (bytes, x) in small_exports()? {
        let mut cases: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
        for _ in 0..2000 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(b.len() as u64) as usize;
                match rng.below(5) {
                    0 => b[i] ^= 1 << rng.below(8),
                    1 => b[i] = rng.below(256) as u8,
                    2 => b.insert(i, rng.below(256) as u8),
                    3 => {
                        b.remove(i);
                    }
                    _ => {
                        let len = (rng.below(16) as usize).min(b.len() - i);
                        let run = b[i..i + len].to_vec();
                        let at = rng.below(b.len() as u64) as usize;
                        b.splice(at..at, run);
                    }
                }
            }
            cases.push(b);
        }
        for b in cases {
            tried += 1;
            let vs = VarStore::new(&Device::Cpu);
            if let Ok(m) = OnnxModel::from_bytes(&b, &vs) {
                accepted += 1;
                let _ = nabla::no_grad(|| m.run(std::slice::from_ref(&x), false));
            }
        }
    }
    // Mutations inside weight data keep a model valid: some must import and run.
    assert!(accepted > 0 && accepted < tried, "{accepted} of {tried}");
    Ok(())
}
