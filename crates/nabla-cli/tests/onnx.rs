//! ONNX end to end through the binary: a trained run exported, run from the file, fine-tuned
//! from the file and evaluated; bad files and flags are clear errors.

mod common;
use common::{assert_clear_errors, nabla, text, workdir};
use nabla::{DType, Device, Tensor};

/// The train losses per epoch in a run's metrics.csv.
fn train_losses(run: &std::path::Path) -> Vec<f64> {
    let csv = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
    csv.lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .nth(1)
                .and_then(|v| v.parse().ok())
                .expect("a loss")
        })
        .collect()
}

#[test]
fn a_run_exports_runs_from_the_file_and_fine_tunes_from_it() {
    let dir = workdir("onnx");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            "mnist",
            "--train-size",
            "512",
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--optimizer",
            "sgd",
            "--lr",
            "0.05",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let o = nabla(&dir, &args);
        assert!(o.status.success(), "{}", text(&o));
    };
    train(&["--model", "lenet5", "--out", "le"]);
    let o = nabla(
        &dir,
        &[
            "export",
            "--weights",
            "runs/le",
            "--format",
            "onnx",
            "--out",
            "le.onnx",
        ],
    );
    assert!(
        o.status.success() && text(&o).contains("initializers"),
        "{}",
        text(&o)
    );

    // The file computes what the run computes.
    nabla::manual_seed(0);
    let x = Tensor::randn(&[4, 1, 28, 28], DType::F32, &Device::Cpu).unwrap();
    x.write_npy(dir.join("x.npy")).unwrap();
    for (args, out) in [
        (["predict", "--weights", "runs/le"], "a.npy"),
        (["predict", "--model", "le.onnx"], "b.npy"),
    ] {
        let mut args = args.to_vec();
        args.extend_from_slice(&["x.npy", "--output", out]);
        let o = nabla(&dir, &args);
        assert!(o.status.success(), "{}", text(&o));
    }
    let read = |f: &str| {
        Tensor::read_npy(dir.join(f))
            .unwrap()
            .to_vec::<f32>()
            .unwrap()
    };
    let (a, b) = (read("a.npy"), read("b.npy"));
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (p, q)| m.max((p - q).abs()))
        / scale;
    assert!(a.len() == 40 && err < 1e-5, "relative error {err}");

    // Fine-tuning the file: its initializers are the parameters; the loss falls.
    train(&["--init", "le.onnx", "--out", "ft"]);
    let losses = train_losses(&dir.join("runs/ft"));
    assert!(losses.len() == 2 && losses[1] < losses[0], "{losses:?}");
    let o = nabla(&dir, &["eval", "--weights", "runs/ft"]);
    assert!(
        o.status.success() && text(&o).contains("top-1 accuracy"),
        "{}",
        text(&o)
    );

    std::fs::write(
        dir.join("cut.onnx"),
        &std::fs::read(dir.join("le.onnx")).unwrap()[..300],
    )
    .unwrap();
    assert_clear_errors(
        &dir,
        &[
            (
                &[
                    "export",
                    "--weights",
                    "runs/le",
                    "--format",
                    "tflite",
                    "--out",
                    "m",
                ],
                "onnx",
            ),
            (
                &[
                    "export",
                    "--weights",
                    "runs/le",
                    "--out",
                    "m.onnx",
                    "--opset",
                    "9",
                ],
                "opset 9",
            ),
            (&["predict", "--model", "cut.onnx", "x.npy"], "truncated"),
            (
                &[
                    "predict",
                    "--model",
                    "le.onnx",
                    "--weights",
                    "runs/le",
                    "x.npy",
                ],
                "--weights",
            ),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}
