//! Layers against hand-computed references, PyTorch's parameter names/shapes and defaults,
//! train/eval behaviour, freezing, and a network learning XOR.

use nabla::{manual_seed, Conv2dConfig, DType, Device, Pool2dConfig, Tensor};
use nabla_nn::layers::{
    Activation, AdaptiveAvgPool2d, BatchNorm, Conv2d, ConvTranspose2d, Dropout, Embedding, Flatten,
    Linear, LocalResponseNorm, MaxPool2d,
};
use nabla_nn::optim::{Optimizer, Sgd};
use nabla_nn::{loss, seq, Module, Result, VarStore};

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
}

#[test]
fn linear_computes_x_wt_plus_b_with_pytorch_init_bounds() -> Result<()> {
    manual_seed(0);
    let vs = VarStore::new(&Device::Cpu);
    let fc = Linear::new(&vs.root().sub("fc"), 400, 120, true)?;
    let bound = 1.0 / 400f32.sqrt();
    assert!(fc
        .weight
        .leaf()
        .to_vec::<f32>()?
        .iter()
        .all(|w| w.abs() <= bound));
    assert!(fc
        .bias
        .as_ref()
        .unwrap()
        .leaf()
        .to_vec::<f32>()?
        .iter()
        .all(|b| b.abs() <= bound));
    let names: Vec<String> = vs
        .vars()
        .iter()
        .map(|v| format!("{} {}", v.name(), v.leaf().shape()))
        .collect();
    assert_eq!(names, vec!["fc.weight [120, 400]", "fc.bias [120]"]);
    // A hand-set layer: W = [[1, 2], [3, 4]], b = [0.5, -1], x = [1, 1] → [3.5, 6]
    let vs = VarStore::new(&Device::Cpu);
    let fc = Linear::new(&vs.root(), 2, 2, true)?;
    fc.weight.set(&t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]))?;
    fc.bias.as_ref().unwrap().set(&t(&[0.5, -1.0], &[2]))?;
    assert_eq!(
        fc.forward(&t(&[1.0, 1.0], &[1, 2]))?.to_vec::<f32>()?,
        vec![3.5, 6.0]
    );
    Ok(())
}

#[test]
fn conv_pool_flatten_shapes_follow_lenet() -> Result<()> {
    let vs = VarStore::new(&Device::Cpu);
    let r = vs.root().sub("features");
    let net = seq()
        .add(Conv2d::new(
            &r.sub(0),
            1,
            6,
            5,
            Conv2dConfig::default(),
            true,
        )?)
        .add(Activation::Tanh)
        .add(MaxPool2d(Pool2dConfig::new(2)))
        .add(Conv2d::new(
            &r.sub(3),
            6,
            16,
            5,
            Conv2dConfig::default(),
            true,
        )?)
        .add(AdaptiveAvgPool2d((5, 5)))
        .add(Flatten);
    let y = net.forward(&Tensor::zeros(&[2, 1, 32, 32], DType::F32, &Device::Cpu))?;
    assert_eq!(y.dims(), &[2, 400]);
    let w = vs.get("features.3.weight").unwrap();
    assert_eq!(w.leaf().dims(), &[16, 6, 5, 5]);
    assert_eq!(vs.num_params(), 6 * 25 + 6 + 16 * 6 * 25 + 16);
    let up = ConvTranspose2d::new(
        &vs.root().sub("up"),
        16,
        8,
        2,
        nabla::ConvTranspose2dConfig {
            stride: 2,
            ..Default::default()
        },
        true,
    )?;
    assert_eq!(up.weight.leaf().dims(), &[16, 8, 2, 2]);
    assert_eq!(
        up.forward(&Tensor::zeros(&[1, 16, 5, 5], DType::F32, &Device::Cpu))?
            .dims(),
        &[1, 8, 10, 10]
    );
    Ok(())
}

#[test]
fn batch_norm_uses_batch_statistics_in_training_and_running_ones_in_eval() -> Result<()> {
    let vs = VarStore::new(&Device::Cpu);
    let bn = BatchNorm::new1d(&vs.root().sub("bn"), 1)?;
    let x = t(&[1.0, 3.0], &[2, 1]);
    // Training: normalized by the batch (mean 2, var 1): [-1, 1] (up to eps)
    let y = bn.forward_t(&x, true)?.to_vec::<f32>()?;
    assert!((y[0] + 1.0).abs() < 1e-4 && (y[1] - 1.0).abs() < 1e-4);
    // Running stats: mean 0.9·0 + 0.1·2 = 0.2, var 0.9·1 + 0.1·2 = 1.1 (unbiased batch var 2)
    assert!((bn.running_mean.leaf().to_vec::<f32>()?[0] - 0.2).abs() < 1e-6);
    assert!((bn.running_var.leaf().to_vec::<f32>()?[0] - 1.1).abs() < 1e-6);
    assert_eq!(bn.num_batches_tracked.leaf().to_vec::<i64>()?, vec![1]);
    // Eval: (x − 0.2) / √(1.1 + 1e-5)
    let e = bn.forward_t(&x, false)?.to_vec::<f32>()?;
    assert!((e[0] - 0.8 / (1.1f32 + 1e-5).sqrt()).abs() < 1e-5);
    assert_eq!(bn.num_batches_tracked.leaf().to_vec::<i64>()?, vec![1]);
    let names: Vec<String> = vs.vars().iter().map(|v| v.name().to_string()).collect();
    assert_eq!(
        names,
        [
            "bn.weight",
            "bn.bias",
            "bn.running_mean",
            "bn.running_var",
            "bn.num_batches_tracked"
        ]
    );
    assert!(bn
        .forward_t(
            &Tensor::zeros(&[2, 1, 2, 2], DType::F32, &Device::Cpu),
            true
        )
        .is_err());
    Ok(())
}

#[test]
fn dropout_is_active_only_in_training() -> Result<()> {
    manual_seed(5);
    let d = Dropout::new(0.5)?;
    let x = Tensor::ones(&[1000], DType::F32, &Device::Cpu);
    assert_eq!(d.forward_t(&x, false)?.to_vec::<f32>()?, vec![1.0; 1000]);
    let y = d.forward_t(&x, true)?.to_vec::<f32>()?;
    assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
    assert!((400..600).contains(&y.iter().filter(|&&v| v == 0.0).count()));
    assert!(Dropout::new(-0.1).is_err());
    Ok(())
}

#[test]
fn activation_layers_and_lookup_layers() -> Result<()> {
    let x = t(&[-1.0, 0.5], &[1, 2]);
    let all: Vec<Activation> = [
        "step",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "gelu",
        "gaussian",
        "softplus",
        "silu",
        "softmax",
        "linear",
    ]
    .iter()
    .map(|s| s.parse())
    .collect::<Result<_>>()?;
    let firsts: Vec<f32> = all
        .iter()
        .map(|a| a.forward(&x).unwrap().to_vec::<f32>().unwrap()[0])
        .collect();
    let want = [
        0.0,
        0.268_941_4,
        -0.761_594_2,
        0.0,
        -0.01,
        -0.632_120_6,
        -0.158_655_3,
        0.367_879_4,
        0.313_261_7,
        -0.268_941_4,
        0.182_425_5,
        -1.0,
    ];
    for (g, w) in firsts.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{firsts:?}");
    }
    assert!("swish2".parse::<Activation>().is_err());
    let vs = VarStore::new(&Device::Cpu);
    let emb = Embedding::new(&vs.root().sub("emb"), 10, 3)?;
    let idx = Tensor::from_slice(&[1i64, 9, 1], &[3], &Device::Cpu)?;
    assert_eq!(emb.forward(&idx)?.dims(), &[3, 3]);
    let lrn = LocalResponseNorm::new(5);
    assert_eq!(
        lrn.forward(&Tensor::ones(&[1, 6, 2, 2], DType::F32, &Device::Cpu))?
            .dims(),
        &[1, 6, 2, 2]
    );
    Ok(())
}

#[test]
fn frozen_layers_get_no_updates() -> Result<()> {
    manual_seed(3);
    let vs = VarStore::new(&Device::Cpu);
    let net = seq()
        .add(Linear::new(&vs.root().sub("features"), 2, 3, true)?)
        .add(Activation::Relu)
        .add(Linear::new(&vs.root().sub("head"), 3, 2, true)?);
    vs.freeze("features");
    let before = vs.get("features.weight").unwrap().leaf().to_vec::<f32>()?;
    let head_before = vs.get("head.weight").unwrap().leaf().to_vec::<f32>()?;
    let mut opt = Sgd::new(vs.trainable(), 0.5);
    let l = net
        .forward_t(&t(&[1.0, -1.0, 0.5, 2.0], &[2, 2]), true)?
        .cross_entropy(&Tensor::from_slice(&[0i64, 1], &[2], &Device::Cpu)?, 0.0)?;
    let grads = l.backward()?;
    assert!(grads
        .get(vs.get("features.weight").unwrap().leaf())
        .is_none());
    opt.step(&grads)?;
    assert_eq!(
        vs.get("features.weight").unwrap().leaf().to_vec::<f32>()?,
        before
    );
    assert_ne!(
        vs.get("head.weight").unwrap().leaf().to_vec::<f32>()?,
        head_before
    );
    Ok(())
}

#[test]
fn a_two_layer_network_learns_xor() -> Result<()> {
    manual_seed(1);
    let x = t(&[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2]);
    let y = t(&[0.0, 1.0, 1.0, 0.0], &[4, 1]);
    let vs = VarStore::new(&Device::Cpu);
    let net = seq()
        .add(Linear::new(&vs.root().sub("h"), 2, 4, true)?)
        .add(Activation::Tanh)
        .add(Linear::new(&vs.root().sub("o"), 4, 1, true)?)
        .add(Activation::Sigmoid);
    let mut opt = Sgd::new(vs.trainable(), 0.5).momentum(0.9);
    for _ in 0..2000 {
        let l = loss::half_sse(&net.forward_t(&x, true)?, &y)?;
        opt.step(&l.backward()?)?;
    }
    let l = loss::half_sse(&net.forward(&x)?, &y)?.to_scalar::<f32>()?;
    let out = net.forward(&x)?.to_vec::<f32>()?;
    assert!(l < 0.01, "loss {l}");
    assert_eq!(
        out.iter().map(|&p| (p > 0.5) as i32).collect::<Vec<_>>(),
        vec![0, 1, 1, 0]
    );
    Ok(())
}

#[test]
fn errors_say_what_kind_of_mistake_was_made() -> Result<()> {
    use nabla_nn::models::{build, ModelConfig};
    use nabla_nn::Error;
    let vs = VarStore::new(&Device::Cpu);
    let unknown = build("resnet19", &vs.root(), &ModelConfig::mnist()).err();
    assert!(
        matches!(&unknown, Some(Error::UnknownName { name, valid, .. }) if name == "resnet19" && valid.contains("resnet18")),
        "{unknown:?}"
    );
    let p = Dropout::new(1.5).err();
    assert!(
        matches!(&p, Some(Error::OutOfRange { what: "p", .. })),
        "{p:?}"
    );
    let (a, b) = (t(&[1.0, 2.0], &[2]), t(&[1.0, 2.0, 3.0], &[3]));
    let shape = loss::mse(&a, &b, loss::Reduction::Mean).err();
    assert!(
        matches!(&shape, Some(Error::Shape { got, .. }) if got == "[2] and [3]"),
        "{shape:?}"
    );
    let delta = loss::huber(&a, &a, -1.0, loss::Reduction::Mean).err();
    let text = delta.as_ref().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(text, "huber: delta must be positive, got -1");
    Ok(())
}
