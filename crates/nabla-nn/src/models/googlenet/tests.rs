use super::*;
use crate::models::testing::{assert_torchvision_layout, count};
use crate::{loss, VarStore};
use nabla::{DType, Device};

#[test]
fn googlenet_matches_torchvision_with_and_without_aux() -> Result<()> {
    let vs = VarStore::new(&Device::Cpu);
    googlenet(&vs.root(), &ModelConfig::imagenet())?;
    assert_torchvision_layout(&vs, "googlenet");
    let vs = VarStore::new(&Device::Cpu);
    GoogLeNet::new(
        &vs.root(),
        &ModelConfig::imagenet(),
        GoogLeNetVariant::Torchvision,
        false,
    )?;
    assert_torchvision_layout(&vs, "googlenet_no_aux");
    Ok(())
}

#[test]
fn googlenet_paper_has_5x5_branches_and_biases() -> Result<()> {
    let (n, names) = count(|p| googlenet_paper(p, &ModelConfig::imagenet()))?;
    assert!(names.contains(&"inception3a.branch3.1.conv.bias".to_string()));
    assert!(!names.iter().any(|n| n.contains(".bn.")));
    // Without the auxiliary classifiers, 6,998,552 (the column of Table 1 of the paper,
    // rounded per layer, sums to about 6.8M; torchvision's, with 3×3 branches, 6,624,904).
    // Each auxiliary classifier adds 128·c + 128 + 2048·1024 + 1024 + 1024·1000 + 1000.
    let aux = |c: usize| 128 * c + 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000;
    assert_eq!(n - aux(512) - aux(528), 6_998_552);
    assert_eq!(n, 13_378_280);
    Ok(())
}

#[test]
fn both_googlenets_take_cifar_and_mnist_and_train_with_aux() -> Result<()> {
    let dev = Device::Cpu;
    nabla::manual_seed(1);
    for build in [googlenet, googlenet_paper] {
        let vs = VarStore::new(&dev);
        let net = build(&vs.root(), &ModelConfig::cifar10())?;
        let x = Tensor::randn(&[2, 3, 32, 32], DType::F32, &dev)?;
        assert_eq!(net.forward(&x)?.dims(), &[2, 10]);
        let (y, a1, a2) = net.forward_with_aux(&x, true)?;
        let (a1, a2) = (a1.expect("aux1 in training"), a2.expect("aux2 in training"));
        assert_eq!(
            (y.dims(), a1.dims(), a2.dims()),
            (&[2, 10][..], &[2, 10][..], &[2, 10][..])
        );
        let labels = Tensor::from_slice(&[1i64, 4], &[2], &dev)?;
        let total = loss::cross_entropy(&y, &labels)?
            .add(&loss::cross_entropy(&a1, &labels)?.mul_scalar(0.3)?)?
            .add(&loss::cross_entropy(&a2, &labels)?.mul_scalar(0.3)?)?;
        let grads = total.backward()?;
        let aux_w = vs.get("aux1.fc2.weight").expect("aux1 head");
        assert!(grads.get(aux_w.leaf()).is_some());
        let (_, none1, none2) = net.forward_with_aux(&x, false)?;
        assert!(none1.is_none() && none2.is_none());
    }
    assert_eq!(GoogLeNet::min_image_size(GoogLeNetVariant::Torchvision), 31);
    assert_eq!(GoogLeNet::min_image_size(GoogLeNetVariant::Paper), 47);
    let vs = VarStore::new(&dev);
    let net = googlenet(&vs.root(), &ModelConfig::mnist())?;
    let y = net.forward(&Tensor::randn(&[1, 1, 28, 28], DType::F32, &dev)?)?;
    assert_eq!(y.dims(), &[1, 10]);
    Ok(())
}

#[test]
fn transform_input_is_torchvisions_formula() -> Result<()> {
    // torchvision's GoogLeNet._transform_input:
    //   x_ch0 = x[:, 0] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
    //   x_ch1 = x[:, 1] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
    //   x_ch2 = x[:, 2] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
    // so the transformed model on x must give the plain model's logits on that x'.
    let dev = Device::Cpu;
    nabla::manual_seed(3);
    let vs = VarStore::new(&dev);
    let plain = googlenet(&vs.root(), &ModelConfig::cifar10())?;
    // He-initialized convolutions keep activations of order 1 under fresh batch-norm
    // statistics (torchvision's N(0, 0.01) makes every input give the same logits).
    for v in vs.vars() {
        let dims = v.leaf().dims().to_vec();
        if let [_, cin, kh, kw] = dims[..] {
            let scale = (2.0 / (cin * kh * kw) as f64).sqrt();
            v.set(&Tensor::randn(&dims, DType::F32, &dev)?.mul_scalar(scale)?)?;
        }
    }
    let (n, hw) = (2, 32 * 32);
    let x = Tensor::randn(&[n, 3, 32, 32], DType::F32, &dev)?;
    let (std, mean) = ([0.229f32, 0.224, 0.225], [0.485f32, 0.456, 0.406]);
    let by_formula: Vec<f32> = x
        .to_vec::<f32>()?
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = i / hw % 3;
            v * (std[c] / 0.5) + (mean[c] - 0.5) / 0.5
        })
        .collect();
    let x_formula = Tensor::from_vec(by_formula, &[n, 3, 32, 32], &dev)?;
    let want = plain.forward(&x_formula)?.to_vec::<f32>()?;
    let plain_on_x = plain.forward(&x)?.to_vec::<f32>()?;
    let transformed = plain.with_transform_input()?;
    let got = transformed.forward(&x)?.to_vec::<f32>()?;
    let worst = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max)
    };
    assert!(worst(&want, &got) < 1e-4, "{}", worst(&want, &got));
    assert!(
        worst(&plain_on_x, &got) > 1e-2,
        "the transform changed nothing"
    );
    // Grey models have no ImageNet channels to re-normalize.
    let vs = VarStore::new(&dev);
    let grey = googlenet(&vs.root(), &ModelConfig::mnist())?;
    assert!(grey.with_transform_input().is_err());
    Ok(())
}
