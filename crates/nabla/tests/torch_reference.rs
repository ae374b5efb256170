//! Compares every op's forward values and gradients with PyTorch's, on the inputs and
//! results that `tools/torch_reference.py` saved in `testdata/torch_reference.json`
//! (PyTorch is not needed to run this test; only to regenerate the file).
//!
//! Each case holds inputs, PyTorch's output, a random projection `r`, and PyTorch's
//! gradients of `Σ output ⊙ r` with respect to each input. All in F32; the tolerance is
//! `1e-5` relative (plus `1e-5` absolute for values near zero). Every case runs on each of
//! `nabla::testing::devices()`, its inputs moved there and its results moved back.

use nabla::{Conv2dConfig, ConvTranspose2dConfig, DType, Device, Pool2dConfig, Result, Tensor};
use serde_json::Value;

const RTOL: f64 = 1e-5;
const ATOL: f64 = 1e-5;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn dims(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("size") as usize)
        .collect()
}

fn tensor_of(v: &Value) -> Result<Tensor> {
    let shape = dims(&v["shape"]);
    let data = floats(&v["data"]);
    match v.get("dtype").and_then(Value::as_str) {
        Some("i64") => Tensor::from_vec(
            data.iter().map(|&x| x as i64).collect(),
            &shape,
            &Device::Cpu,
        ),
        _ => Tensor::from_vec(
            data.iter().map(|&x| x as f32).collect(),
            &shape,
            &Device::Cpu,
        ),
    }
}

fn p_usize(params: &Value, key: &str) -> usize {
    params[key]
        .as_u64()
        .unwrap_or_else(|| panic!("param {key}")) as usize
}
fn p_f64(params: &Value, key: &str) -> f64 {
    params[key]
        .as_f64()
        .unwrap_or_else(|| panic!("param {key}"))
}
fn p_bool(params: &Value, key: &str) -> bool {
    params[key]
        .as_bool()
        .unwrap_or_else(|| panic!("param {key}"))
}
fn p_dims(params: &Value, key: &str) -> Vec<i64> {
    params[key]
        .as_array()
        .unwrap_or_else(|| panic!("param {key}"))
        .iter()
        .map(|v| v.as_i64().expect("dim"))
        .collect()
}
fn p_dim(params: &Value) -> i64 {
    params["dim"].as_i64().expect("param dim")
}

/// Runs one case's op in nabla.
fn run(op: &str, p: &Value, x: &[Tensor]) -> Result<Tensor> {
    let conv = || Conv2dConfig {
        stride: p_usize(p, "stride"),
        padding: p_usize(p, "padding"),
        dilation: p_usize(p, "dilation"),
        groups: p_usize(p, "groups"),
    };
    let pool = || Pool2dConfig {
        kernel: p_usize(p, "kernel"),
        stride: p_usize(p, "stride"),
        padding: p_usize(p, "padding"),
        ceil_mode: p_bool(p, "ceil_mode"),
        count_include_pad: p
            .get("count_include_pad")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    };
    let keep = p.get("keepdim").and_then(Value::as_bool).unwrap_or(false);
    Ok(match op {
        "neg" => x[0].neg()?,
        "exp" => x[0].exp()?,
        "log" => x[0].log()?,
        "sqrt" => x[0].sqrt()?,
        "abs" => x[0].abs()?,
        "recip" => x[0].recip()?,
        "sqr" => x[0].sqr()?,
        "erf" => x[0].erf()?,
        "sigmoid" => x[0].sigmoid()?,
        "tanh" => x[0].tanh()?,
        "relu" => x[0].relu()?,
        "gelu" => x[0].gelu()?,
        "softplus" => x[0].softplus()?,
        "silu" => x[0].silu()?,
        "step" => x[0].step()?,
        "powf" => x[0].powf(p_f64(p, "e"))?,
        "clamp" => x[0].clamp(p_f64(p, "min"), p_f64(p, "max"))?,
        "leaky_relu" => x[0].leaky_relu(p_f64(p, "slope"))?,
        "elu" => x[0].elu(p_f64(p, "alpha"))?,
        "gaussian" => x[0].gaussian(p_f64(p, "sigma"))?,
        "add" => x[0].add(&x[1])?,
        "sub" => x[0].sub(&x[1])?,
        "mul" => x[0].mul(&x[1])?,
        "div" => x[0].div(&x[1])?,
        "pow" => x[0].pow(&x[1])?,
        "maximum" => x[0].maximum(&x[1])?,
        "minimum" => x[0].minimum(&x[1])?,
        "matmul" => x[0].matmul(&x[1])?,
        "linear" => x[0].linear(&x[1], x.get(2))?,
        "sum" if keep => x[0].sum_keepdim(&p_dims(p, "dims"))?,
        "sum" => x[0].sum(&p_dims(p, "dims"))?,
        "mean" if keep => x[0].mean_keepdim(&p_dims(p, "dims"))?,
        "mean" => x[0].mean(&p_dims(p, "dims"))?,
        "var" => x[0].var(&p_dims(p, "dims"), p_bool(p, "unbiased"))?,
        "max" if keep => x[0].max_keepdim(&p_dims(p, "dims"))?,
        "max" => x[0].max(&p_dims(p, "dims"))?,
        "min" if keep => x[0].min_keepdim(&p_dims(p, "dims"))?,
        "min" => x[0].min(&p_dims(p, "dims"))?,
        "logsumexp" if keep => x[0].logsumexp_keepdim(&p_dims(p, "dims"))?,
        "logsumexp" => x[0].logsumexp(&p_dims(p, "dims"))?,
        "argmax" => x[0].argmax(p_dim(p))?.to_dtype(DType::F32)?,
        "reshape" => x[0].reshape(&dims(&p["shape"]))?,
        "permute" => x[0].permute(&p_dims(p, "perm"))?,
        "cat" => Tensor::cat(&x.iter().collect::<Vec<_>>(), p_dim(p))?,
        "stack" => Tensor::stack(&x.iter().collect::<Vec<_>>(), p_dim(p))?,
        "pad" => {
            let pads: Vec<(usize, usize)> = p["pads"]
                .as_array()
                .expect("pads")
                .iter()
                .map(|b| {
                    (
                        b[0].as_u64().expect("pad") as usize,
                        b[1].as_u64().expect("pad") as usize,
                    )
                })
                .collect();
            x[0].pad(&pads, p_f64(p, "value"))?
        }
        "index_select" => x[0].index_select(p_dim(p), &x[1])?,
        "gather" => x[0].gather(p_dim(p), &x[1])?,
        "scatter_add" => x[0].scatter_add(p_dim(p), &x[1], &x[2])?,
        "embedding" => x[0].embedding(&x[1])?,
        "softmax" => x[0].softmax(p_dim(p))?,
        "log_softmax" => x[0].log_softmax(p_dim(p))?,
        "cross_entropy" => x[0].cross_entropy(&x[1], p_f64(p, "label_smoothing"))?,
        "conv1d" => x[0].conv1d(&x[1], x.get(2), conv())?,
        "conv2d" => x[0].conv2d(&x[1], x.get(2), conv())?,
        "conv_transpose2d" => x[0].conv_transpose2d(
            &x[1],
            x.get(2),
            ConvTranspose2dConfig {
                stride: p_usize(p, "stride"),
                padding: p_usize(p, "padding"),
                output_padding: p_usize(p, "output_padding"),
                dilation: p_usize(p, "dilation"),
                groups: p_usize(p, "groups"),
            },
        )?,
        "max_pool2d" => x[0].max_pool2d(pool())?,
        "avg_pool2d" => x[0].avg_pool2d(pool())?,
        "adaptive_avg_pool2d" => {
            let o = dims(&p["output"]);
            x[0].adaptive_avg_pool2d((o[0], o[1]))?
        }
        "local_response_norm" => x[0].local_response_norm(
            p_usize(p, "size"),
            p_f64(p, "alpha"),
            p_f64(p, "beta"),
            p_f64(p, "k"),
        )?,
        "batch_norm_train" => x[0].batch_norm(None, x.get(1), x.get(2), true, p_f64(p, "eps"))?,
        other => panic!("the reference file has an op this test does not know: {other}"),
    })
}

fn compare(what: &str, got: &Tensor, want: &Value) -> std::result::Result<(), String> {
    let want_shape = dims(&want["shape"]);
    if got.dims() != want_shape.as_slice() {
        return Err(format!(
            "{what}: shape {:?}, PyTorch {:?}",
            got.dims(),
            want_shape
        ));
    }
    let g = got.to_vec::<f64>().map_err(|e| e.to_string())?;
    for (i, (a, b)) in g.iter().zip(floats(&want["data"])).enumerate() {
        if (a - b).abs() > ATOL + RTOL * b.abs() {
            return Err(format!("{what}[{i}]: nabla {a}, PyTorch {b}"));
        }
    }
    Ok(())
}

#[test]
fn every_op_matches_pytorch() -> Result<()> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/torch_reference.json"
    ))?;
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    let cases = doc["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    for device in nabla::testing::devices() {
        for case in cases {
            if let Err(e) = check_case(case, &device) {
                let name = case["name"].as_str().expect("name");
                failures.push(format!("{name} on {device}: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from PyTorch:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        cases.len() >= 100,
        "expected the full reference set, found {} cases",
        cases.len()
    );
    Ok(())
}

/// One reference case on `device`: its output, then each input's gradient.
fn check_case(case: &Value, device: &Device) -> std::result::Result<(), String> {
    let e = |e: nabla::Error| e.to_string();
    let on = |v: &Value| tensor_of(v).and_then(|t| t.to_device(device)).map_err(e);
    let back = |t: &Tensor| t.to_device(&Device::Cpu).map_err(e);
    let inputs: Vec<Tensor> = case["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|i| {
            let t = on(i)?;
            Ok(if i["requires_grad"].as_bool() == Some(true) {
                t.requires_grad()
            } else {
                t
            })
        })
        .collect::<std::result::Result<_, String>>()?;
    let y = run(case["op"].as_str().expect("op"), &case["params"], &inputs).map_err(e)?;
    compare("output", &back(&y)?, &case["output"])?;
    if !y.tracks_grad() {
        return Ok(());
    }
    let proj = on(&case["proj"])?;
    let grads = y
        .mul(&proj)
        .and_then(|l| l.sum_all()?.backward())
        .map_err(e)?;
    let mut failures = Vec::new();
    for (k, (input, want)) in inputs
        .iter()
        .zip(case["grads"].as_array().expect("grads"))
        .enumerate()
    {
        if want.is_null() {
            continue;
        }
        let Some(g) = grads.get(input) else {
            failures.push(format!("no gradient for input {k}"));
            continue;
        };
        if let Err(err) = compare(&format!("grad {k}"), &back(g)?, want) {
            failures.push(err);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}
