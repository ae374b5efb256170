//! Importing ONNX graphs built in code: values against hand-worked results and nabla's
//! own ops, opset-dependent forms, error messages, corrupt files, and training.

use nabla::testing::assert_close;
use nabla::{DType, Device, Tensor};
use nabla_nn::optim::{Optimizer, Sgd};
use nabla_nn::{Module, VarStore};
use nabla_onnx::builder::{attr_f, attr_i, attr_ints, GraphBuilder};
use nabla_onnx::proto::{Dim, ModelProto};
use nabla_onnx::{Error, OnnxModel};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn dev() -> Device {
    Device::Cpu
}

fn t(v: &[f32], dims: &[usize]) -> Tensor {
    Tensor::from_slice(v, dims, &dev()).unwrap()
}

fn batch(rest: &[i64]) -> Vec<Dim> {
    let mut d = vec![Dim::Param("batch".into())];
    d.extend(rest.iter().map(|&v| Dim::Value(v)));
    d
}

/// Encodes and re-reads `model` (through the wire format) into a fresh store.
fn import(model: &ModelProto) -> Result<(VarStore, OnnxModel)> {
    let vs = VarStore::new(&dev());
    let m = OnnxModel::from_bytes(&model.encode(), &vs)?;
    Ok((vs, m))
}

/// x [n, 4] -> Gemm(8, transB) -> Relu -> Gemm(3) -> output: a two-layer perceptron.
fn mlp(opset: i64) -> Result<ModelProto> {
    nabla::manual_seed(3);
    let mut g = GraphBuilder::new("mlp");
    let x = g.input("x", batch(&[4]));
    let w1 = g.weight("fc1.weight", &Tensor::randn(&[8, 4], DType::F32, &dev())?)?;
    let b1 = g.weight("fc1.bias", &Tensor::randn(&[8], DType::F32, &dev())?)?;
    let w2 = g.weight("fc2.weight", &Tensor::randn(&[3, 8], DType::F32, &dev())?)?;
    let b2 = g.weight("fc2.bias", &Tensor::randn(&[3], DType::F32, &dev())?)?;
    let h = g.node("Gemm", &[&x, &w1, &b1], vec![attr_i("transB", 1)]);
    let h = g.node("Relu", &[&h], vec![]);
    g.node_with(
        "Gemm",
        &[&h, &w2, &b2],
        &["logits"],
        vec![attr_i("transB", 1)],
    );
    g.output("logits", batch(&[3]));
    Ok(g.finish(opset))
}

#[test]
fn an_mlp_graph_computes_what_nabla_layers_compute() -> Result {
    let (vs, m) = import(&mlp(17)?)?;
    let x = Tensor::randn(&[5, 4], DType::F32, &dev())?;
    let get = |n: &str| vs.get(n).unwrap().tensor();
    let want = x
        .linear(&get("fc1.weight"), Some(&get("fc1.bias")))?
        .relu()?
        .linear(&get("fc2.weight"), Some(&get("fc2.bias")))?;
    assert_close(&m.forward(&x)?, &want.to_vec::<f64>()?, 1e-6)?;
    assert_eq!(
        vs.trainable().len(),
        4,
        "every float initializer is a parameter"
    );
    Ok(())
}

#[test]
fn a_hand_worked_conv_and_pool_graph() -> Result {
    // x = 1..16 as a 4x4 image; a 2x2 all-ones kernel, stride 1, no padding: each output is
    // the sum of a 2x2 window, e.g. 1 + 2 + 5 + 6 = 14; then bias 1, then max pool 3x3.
    let mut g = GraphBuilder::new("conv");
    let x = g.input("x", batch(&[1, 4, 4]));
    let w = g.weight("w", &t(&[1.0; 4], &[1, 1, 2, 2]))?;
    let b = g.weight("b", &t(&[1.0], &[1]))?;
    let y = g.node(
        "Conv",
        &[&x, &w, &b],
        vec![attr_ints("kernel_shape", &[2, 2])],
    );
    g.node_with(
        "MaxPool",
        &[&y],
        &["y"],
        vec![attr_ints("kernel_shape", &[3, 3])],
    );
    g.output("y", batch(&[1, 1, 1]));
    let (_, m) = import(&g.finish(13))?;
    let x: Vec<f32> = (1..=16).map(|v| v as f32).collect();
    // windows sums: 14 18 22 / 30 34 38 / 46 50 54; +1; max = 55
    assert_close(&m.forward(&t(&x, &[1, 1, 4, 4]))?, &[55.0], 1e-6)?;
    Ok(())
}

#[test]
fn squeeze_clip_and_split_read_attributes_before_opset_13_and_inputs_from_it() -> Result {
    let x = t(&[-3.0, -1.0, 0.5, 2.0, 4.0, 6.0], &[1, 6]);
    let want = [[-1.0f64, -1.0, 0.5], [2.0, 3.0, 3.0]];
    for opset in [11, 13, 18] {
        let mut g = GraphBuilder::new("forms");
        let xi = g.input("x", vec![Dim::Value(1), Dim::Value(6)]);
        let s = if opset >= 13 {
            let axes = g.ints(&[1], &[0]);
            g.node("Squeeze", &[&xi, &axes], vec![])
        } else {
            g.node("Squeeze", &[&xi], vec![attr_ints("axes", &[0])])
        };
        let lo = g.weight("lo", &t(&[-1.0], &[]))?;
        let hi = g.weight("hi", &t(&[3.0], &[]))?;
        let c = g.node("Clip", &[&s, &lo, &hi], vec![]);
        if opset >= 13 {
            let sizes = g.ints(&[2], &[3, 3]);
            g.node_with("Split", &[&c, &sizes], &["a", "b"], vec![]);
        } else {
            g.node_with(
                "Split",
                &[&c],
                &["a", "b"],
                vec![attr_ints("split", &[3, 3])],
            );
        }
        g.output("a", vec![Dim::Value(3)]);
        g.output("b", vec![Dim::Value(3)]);
        let (_, m) = import(&g.finish(opset))?;
        let out = m.run(std::slice::from_ref(&x), false)?;
        for (v, want) in out.iter().zip(&want) {
            let nabla_onnx::value::Value::Float(v) = v else {
                panic!("float outputs expected")
            };
            assert_close(v, want, 1e-6)?;
        }
    }
    Ok(())
}

#[test]
fn shape_arithmetic_runs_on_host_integers() -> Result {
    // Reshape(x, Concat(Gather(Shape(x), 0), [-1])) flattens [n, 2, 3] to [n, 6].
    let mut g = GraphBuilder::new("shape");
    let x = g.input("x", batch(&[2, 3]));
    let s = g.node("Shape", &[&x], vec![]);
    let zero = g.ints(&[], &[0]);
    let n = g.node("Gather", &[&s, &zero], vec![attr_i("axis", 0)]);
    let axes = g.ints(&[1], &[0]);
    let n = g.node("Unsqueeze", &[&n, &axes], vec![]);
    let minus1 = g.ints(&[1], &[-1]);
    let shape = g.node("Concat", &[&n, &minus1], vec![attr_i("axis", 0)]);
    g.node_with("Reshape", &[&x, &shape], &["y"], vec![]);
    g.output("y", batch(&[6]));
    let (_, m) = import(&g.finish(17))?;
    let y = m.forward(&Tensor::randn(&[4, 2, 3], DType::F32, &dev())?)?;
    assert_eq!(y.dims(), &[4, 6]);
    Ok(())
}

#[test]
fn broadcasting_follows_numpy() -> Result {
    let mut g = GraphBuilder::new("bc");
    let x = g.input("x", vec![Dim::Value(2), Dim::Value(1)]);
    let row = g.weight("row", &t(&[10.0, 20.0, 30.0], &[3]))?;
    g.node_with("Add", &[&x, &row], &["y"], vec![]);
    g.output("y", vec![Dim::Value(2), Dim::Value(3)]);
    let (_, m) = import(&g.finish(17))?;
    let y = m.forward(&t(&[1.0, 2.0], &[2, 1]))?;
    assert_close(&y, &[11.0, 21.0, 31.0, 12.0, 22.0, 32.0], 1e-6)?;
    Ok(())
}

#[test]
fn unsupported_operators_are_all_listed_with_their_nodes_and_the_opset() -> Result {
    let mut g = GraphBuilder::new("bad");
    let x = g.input("x", batch(&[4]));
    let a = g.node("NonMaxSuppression", &[&x], vec![]);
    let b = g.node("Relu", &[&a], vec![]);
    let c = g.node("TopK", &[&b], vec![]);
    g.node_with("NonMaxSuppression", &[&c], &["y"], vec![]);
    g.output("y", batch(&[4]));
    let err = match import(&g.finish(19)) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("an unsupported graph was imported"),
    };
    assert!(err.contains("opset 19"), "{err}");
    assert!(err.contains("2 operator type(s)"), "{err}");
    assert!(
        err.contains("NonMaxSuppression") && err.contains("TopK"),
        "{err}"
    );
    assert!(
        err.contains("NonMaxSuppression_2") && err.contains("NonMaxSuppression_7"),
        "{err}"
    );
    Ok(())
}

#[test]
fn every_truncation_of_a_model_is_an_error_not_a_panic() -> Result {
    let bytes = mlp(17)?.encode();
    for len in 0..bytes.len() {
        let vs = VarStore::new(&dev());
        assert!(
            OnnxModel::from_bytes(&bytes[..len], &vs).is_err(),
            "a model cut at {len} of {} bytes was accepted",
            bytes.len()
        );
    }
    let err = OnnxModel::from_bytes(b"not an onnx file at all", &VarStore::new(&dev()));
    assert!(matches!(err, Err(Error::Corrupt { .. })));
    Ok(())
}

#[test]
fn an_imported_mlp_trains_and_its_loss_falls() -> Result {
    let (vs, m) = import(&mlp(13)?)?;
    nabla::manual_seed(1);
    let x = Tensor::randn(&[32, 4], DType::F32, &dev())?;
    // Labels from a fixed rule the network can learn: the sign pattern of two features.
    let xs = x.to_vec::<f32>()?;
    let labels: Vec<i64> = xs
        .chunks(4)
        .map(|r| i64::from(r[0] > 0.0) + i64::from(r[1] > 0.0))
        .collect();
    let y = Tensor::from_vec(labels, &[32], &dev())?;
    let mut opt = Sgd::new(vs.trainable(), 0.1);
    let mut losses = vec![];
    for _ in 0..60 {
        let loss = m.forward_t(&x, true)?.cross_entropy(&y, 0.0)?;
        losses.push(loss.to_scalar::<f32>()?);
        opt.step(&loss.backward()?)?;
    }
    assert!(
        losses[59] < 0.6 * losses[0],
        "loss {} -> {}",
        losses[0],
        losses[59]
    );
    Ok(())
}

#[test]
fn an_lstm_node_matches_a_hand_unrolled_step() -> Result {
    // One step, hidden size 1, input size 1, all weights w: gates i, o, f, c.
    // With x = 1, h0 = c0 = 0, W = [0.5, -0.5, 1.0, 2.0], R = 0, B = 0:
    // i = σ(0.5), o = σ(-0.5), f = σ(1), c = tanh(2); C = i·c; H = o·tanh(C).
    let mut g = GraphBuilder::new("lstm");
    let x = g.input("x", vec![Dim::Value(1), Dim::Value(1), Dim::Value(1)]);
    let w = g.weight("W", &t(&[0.5, -0.5, 1.0, 2.0], &[1, 4, 1]))?;
    let r = g.weight("R", &t(&[0.0; 4], &[1, 4, 1]))?;
    g.node_with(
        "LSTM",
        &[&x, &w, &r],
        &["y", "h", ""],
        vec![attr_i("hidden_size", 1)],
    );
    g.output("y", vec![]);
    let (_, m) = import(&g.finish(14))?;
    let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
    let c = sig(0.5) * 2f32.tanh();
    let h = sig(-0.5) * c.tanh();
    let y = m.forward(&t(&[1.0], &[1, 1, 1]))?;
    assert_eq!(y.dims(), &[1, 1, 1, 1]);
    assert_close(&y, &[f64::from(h)], 1e-6)?;
    Ok(())
}

#[test]
fn leaky_relu_uses_its_alpha_attribute() -> Result {
    let mut g = GraphBuilder::new("lr");
    let x = g.input("x", vec![Dim::Value(2)]);
    g.node_with("LeakyRelu", &[&x], &["y"], vec![attr_f("alpha", 0.2)]);
    g.output("y", vec![Dim::Value(2)]);
    let (_, m) = import(&g.finish(13))?;
    assert_close(&m.forward(&t(&[-1.0, 3.0], &[2]))?, &[-0.2, 3.0], 1e-6)?;
    Ok(())
}

#[test]
fn randomly_corrupted_models_give_errors_or_models_never_panics() -> Result {
    // A cheap stand-in for the fuzz target (fuzz/fuzz_targets/onnx.rs): 3000 seeded
    // mutations (byte flips, insertions, deletions) of a valid model.
    let bytes = mlp(17)?.encode();
    let mut rng = nabla::Rng::new(7);
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len() as u64) as usize;
            match rng.below(3) {
                0 => b[i] = rng.below(256) as u8,
                1 => b.insert(i, rng.below(256) as u8),
                _ => {
                    b.remove(i);
                }
            }
        }
        let vs = VarStore::new(&dev());
        if let Ok(m) = OnnxModel::from_bytes(&b, &vs) {
            let x = Tensor::zeros(&[2, 4], DType::F32, &dev());
            let _ = m.run(&[x], false);
        }
    }
    Ok(())
}

#[test]
fn a_1d_conv_pads_its_length_only() -> Result {
    // x = 1..5, kernel [1, 1, 1], pads [1, 1]: sums of three neighbours with zeros outside:
    // 0+1+2, 1+2+3, 2+3+4, 3+4+5, 4+5+0.
    let mut g = GraphBuilder::new("conv1d");
    let x = g.input("x", batch(&[1, 5]));
    let w = g.weight("w", &t(&[1.0; 3], &[1, 1, 3]))?;
    g.node_with("Conv", &[&x, &w], &["y"], vec![attr_ints("pads", &[1, 1])]);
    g.output("y", batch(&[1, 5]));
    let (_, m) = import(&g.finish(13))?;
    let y = m.forward(&t(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1, 1, 5]))?;
    assert_eq!(y.dims(), &[1, 1, 5]);
    assert_close(&y, &[3.0, 6.0, 9.0, 12.0, 9.0], 1e-6)?;
    Ok(())
}

#[test]
fn a_stride_2_conv_transpose_spreads_each_input_over_a_block() -> Result {
    // A 2x2 all-ones kernel at stride 2 copies each input value into its own 2x2 block.
    let mut g = GraphBuilder::new("deconv");
    let x = g.input("x", batch(&[1, 2, 2]));
    let w = g.weight("w", &t(&[1.0; 4], &[1, 1, 2, 2]))?;
    g.node_with(
        "ConvTranspose",
        &[&x, &w],
        &["y"],
        vec![attr_ints("strides", &[2, 2])],
    );
    g.output("y", batch(&[1, 4, 4]));
    let (_, m) = import(&g.finish(17))?;
    let y = m.forward(&t(&[1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]))?;
    #[rustfmt::skip]
    let want = [
        1.0, 1.0, 2.0, 2.0,
        1.0, 1.0, 2.0, 2.0,
        3.0, 3.0, 4.0, 4.0,
        3.0, 3.0, 4.0, 4.0,
    ];
    assert_close(&y, &want, 1e-6)?;
    Ok(())
}

#[test]
fn an_integer_graph_input_feeds_gather_as_host_indices() -> Result {
    // codes int64 [n, 3] -> Gather(table [5, 2], codes): an embedding as PyTorch exports it.
    let mut g = GraphBuilder::new("embedding");
    let x = g.input("codes", batch(&[3]));
    let table: Vec<f32> = (0..10).map(|v| v as f32).collect();
    let w = g.weight("embed.weight", &t(&table, &[5, 2]))?;
    g.node_with("Gather", &[&w, &x], &["y"], vec![attr_i("axis", 0)]);
    g.output("y", batch(&[3, 2]));
    let mut model = g.finish(17);
    model.graph.inputs[0].elem_type = 7; // INT64
    let (vs, m) = import(&model)?;
    // nabla's batches are float: the codes arrive as floats holding integers.
    let y = m.forward(&t(&[4.0, 0.0, 2.0, 1.0, 1.0, 3.0], &[2, 3]))?;
    assert_eq!(y.dims(), &[2, 3, 2]);
    assert_close(
        &y,
        &[8.0, 9.0, 0.0, 1.0, 4.0, 5.0, 2.0, 3.0, 2.0, 3.0, 6.0, 7.0],
        0.0,
    )?;
    // The table is a parameter: gradients reach the rows that were read.
    let grads = y.sum_all()?.backward()?;
    let table = vs.get("embed.weight").expect("the table is a variable");
    let grad = grads
        .get(&table.tensor())
        .expect("a gradient for the table");
    assert_close(
        grad,
        &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        0.0,
    )?;
    Ok(())
}

/// Found by the `onnx` fuzz target: a Reshape target whose sizes multiply past `usize`
/// overflowed while inferring its -1; integer broadcasting to an absurd size must not
/// allocate. Both are errors naming the node.
#[test]
fn absurd_reshape_targets_and_broadcasts_are_errors() -> Result {
    let huge = 1i64 << 40;
    let mut g = GraphBuilder::new("reshape");
    let x = g.input("x", batch(&[4]));
    let shape = g.ints(&[3], &[-1, huge, huge]);
    g.node_with("Reshape", &[&x, &shape], &["y"], vec![]);
    g.output("y", vec![]);
    let (_, m) = import(&g.finish(17))?;
    let err = m.forward(&t(&[0.0; 8], &[2, 4])).unwrap_err().to_string();
    assert!(err.contains("cannot reshape"), "{err}");

    let mut g = GraphBuilder::new("broadcast");
    let x = g.input("x", batch(&[4]));
    let rows = g.ints(&[1 << 15, 1], &vec![1; 1 << 15]);
    let cols = g.ints(&[1, 1 << 15], &vec![2; 1 << 15]);
    let sum = g.node("Add", &[&rows, &cols], vec![]);
    let shape = g.node("Shape", &[&sum], vec![]);
    let y = g.node("Reshape", &[&x, &shape], vec![]);
    g.node_with("Identity", &[&y], &["y"], vec![]);
    g.output("y", vec![]);
    let (_, m) = import(&g.finish(17))?;
    let err = m.forward(&t(&[0.0; 8], &[2, 4])).unwrap_err().to_string();
    assert!(err.contains("too large"), "{err}");
    Ok(())
}

/// Found by the `onnx` fuzz target: Concat of scalars indexed a dim they lack. Host integers
/// transpose exactly, past f32's 2^24 too.
#[test]
fn concat_of_scalars_is_an_error_and_integers_transpose_exactly() -> Result {
    let mut g = GraphBuilder::new("concat");
    let x = g.input("x", batch(&[4]));
    let a = g.ints(&[], &[1]);
    let cat = g.node("Concat", &[&a, &a], vec![attr_i("axis", 0)]);
    let y = g.node("Reshape", &[&x, &cat], vec![]);
    g.node_with("Identity", &[&y], &["y"], vec![]);
    g.output("y", vec![]);
    let (_, m) = import(&g.finish(17))?;
    let err = m.forward(&t(&[0.0; 8], &[2, 4])).unwrap_err().to_string();
    assert!(err.contains("scalars"), "{err}");

    let big = (1i64 << 40) + 1;
    let mut g = GraphBuilder::new("transpose");
    let x = g.input("x", batch(&[4]));
    let ints = g.ints(&[2, 1], &[big, 2]);
    let tr = g.node("Transpose", &[&ints], vec![attr_ints("perm", &[1, 0])]);
    // Reshape [n, 4] by [2^40 + 1, 2] is refused with the exact target in the message.
    let two = g.ints(&[1], &[2]);
    let flat = g.node("Reshape", &[&tr, &two], vec![]);
    let y = g.node("Reshape", &[&x, &flat], vec![]);
    g.node_with("Identity", &[&y], &["y"], vec![]);
    g.output("y", vec![]);
    let (_, m) = import(&g.finish(17))?;
    let err = m.forward(&t(&[0.0; 8], &[2, 4])).unwrap_err().to_string();
    assert!(err.contains(&format!("[{big}, 2]")), "{err}");
    Ok(())
}

#[test]
fn hard_swish_is_x_times_a_clamped_ramp() -> Result {
    // x · clamp(x / 6 + 1/2, 0, 1): 0 below -3, x above 3, x (x + 3) / 6 between.
    let mut g = GraphBuilder::new("hardswish");
    let x = g.input("x", vec![Dim::Value(5)]);
    g.node_with("HardSwish", &[&x], &["y"], vec![]);
    g.output("y", vec![Dim::Value(5)]);
    let (_, m) = import(&g.finish(14))?;
    let y = m.forward(&t(&[-4.0, -1.0, 0.0, 1.0, 4.0], &[5]))?;
    assert_close(&y, &[0.0, -1.0 / 3.0, 0.0, 2.0 / 3.0, 4.0], 1e-6)?;
    Ok(())
}
