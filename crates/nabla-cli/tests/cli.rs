//! The `nabla` binary end to end: a short real training run, and the errors a user can trip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nabla(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the nabla binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nabla-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The percentage after `label` in the output, e.g. "test accuracy 91.20%".
fn percent_after(out: &str, label: &str) -> f64 {
    let at = out
        .find(label)
        .unwrap_or_else(|| panic!("no '{label}' in:\n{out}"))
        + label.len();
    out[at..]
        .trim_start()
        .split('%')
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no number after '{label}' in:\n{out}"))
}

#[test]
fn mlp_on_2000_mnist_images_for_one_epoch_beats_85_percent_then_eval_and_predict_work() {
    let dir = workdir("train");
    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "mlp",
            "--data",
            "mnist",
            "--train-size",
            "2000",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--out",
            "mlp2k",
            "--quiet",
            "--threads",
            "2",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let acc = percent_after(&out, "test accuracy");
    assert!(acc > 85.0, "test accuracy {acc}%\n{out}");
    let run = dir.join("runs/mlp2k");
    for f in [
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.csv",
        "curves.png",
        "config.json",
        "train.log",
    ] {
        assert!(run.join(f).exists(), "missing {f}");
    }

    // eval finds the model from the run folder, without repeating the model flags.
    let o = nabla(&dir, &["eval", "--weights", "runs/mlp2k/model.safetensors"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        (percent_after(&out, "top-1 accuracy:") - acc).abs() < 0.01,
        "{out}"
    );
    assert!(
        out.contains("confusion matrix") && run.join("confusion.png").exists(),
        "{out}"
    );

    // predict on a .npy batch writes the logits.
    let x = nabla::Tensor::zeros(&[3, 1, 28, 28], nabla::DType::F32, &nabla::Device::Cpu);
    x.write_npy(dir.join("x.npy")).expect("write npy");
    let o = nabla(
        &dir,
        &[
            "predict",
            "--weights",
            "runs/mlp2k",
            "x.npy",
            "--output",
            "logits.npy",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let logits = nabla::Tensor::read_npy(dir.join("logits.npy")).expect("read logits");
    assert_eq!(logits.dims(), &[3, 10]);
    let o = nabla(&dir, &["predict", "--weights", "runs/mlp2k", "x.npy"]);
    assert!(
        o.status.success() && text(&o).contains("x.npy[2]:"),
        "{}",
        text(&o)
    );

    // A second run without --out gets a fresh folder; --resume of a finished run adds nothing.
    let o = nabla(
        &dir,
        &[
            "train",
            "--out",
            "mlp2k",
            "--model",
            "mlp",
            "--train-size",
            "100",
            "--quiet",
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("--resume"),
        "{}",
        text(&o)
    );
}

#[test]
fn user_errors_are_one_clear_line_and_a_failure_exit() {
    let dir = workdir("errors");
    let cases: &[(&[&str], &str)] = &[
        (
            &["train", "--model", "nosuchnet", "--max-steps", "1"],
            "unknown model 'nosuchnet'; available: mlp, lenet5",
        ),
        (
            &["train", "--data", "nosuch"],
            "unknown dataset 'nosuch'; use one of: mnist, idx:DIR",
        ),
        (&["train", "--data", "idx:/no/such/dir"], "/no/such/dir"),
        (&["train", "--data", "csv:missing.csv"], "missing.csv"),
        (&["train", "--batch-size", "0"], "--batch-size"),
        (&["train", "--epochs", "0"], "--epochs must be at least 1"),
        (
            &["train", "--lr=-1", "--max-steps", "1"],
            "--lr must be a positive number",
        ),
        (&["train", "--data", "toy:moon"], "moon"),
        (
            &["eval", "--weights", "nowhere.safetensors"],
            "nowhere.safetensors does not exist",
        ),
        (&["train", "--threads", "0"], "--threads"),
    ];
    for (args, want) in cases {
        let o = nabla(&dir, args);
        let out = text(&o);
        assert!(!o.status.success(), "{args:?} succeeded:\n{out}");
        assert!(out.contains(want), "{args:?}: expected '{want}' in:\n{out}");
        assert!(!out.contains("panicked"), "{args:?} panicked:\n{out}");
    }
}

#[test]
fn a_checkpoint_of_another_model_is_rejected() {
    let dir = workdir("mismatch");
    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "mlp",
            "--train-size",
            "64",
            "--epochs",
            "1",
            "--out",
            "m",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    // Swap the recorded model: the weights no longer fit.
    let cfg_path = dir.join("runs/m/config.json");
    let cfg = std::fs::read_to_string(&cfg_path)
        .expect("config")
        .replace("\"mlp\"", "\"lenet5\"");
    std::fs::write(&cfg_path, cfg).expect("write config");
    let o = nabla(&dir, &["eval", "--weights", "runs/m"]);
    let out = text(&o);
    assert!(
        !o.status.success() && out.contains("does not fit the model"),
        "{out}"
    );
    // A truncated checkpoint names the problem.
    let w = dir.join("runs/m/model.safetensors");
    let bytes = std::fs::read(&w).expect("weights");
    std::fs::write(&w, &bytes[..bytes.len() / 2]).expect("truncate");
    let o = nabla(
        &dir,
        &[
            "predict",
            "--model",
            "mlp",
            "--weights",
            "runs/m/model.safetensors",
            "x.npy",
        ],
    );
    assert!(!o.status.success(), "{}", text(&o));
}

#[test]
fn threads_flag_sets_the_kernel_pool() {
    let dir = workdir("threads");
    let o = nabla(&dir, &["--threads", "1", "train", "--model", "mlp", "--train-size", "64", "--max-steps", "1", "--out", "t1", "--quiet"]);
    let out = text(&o);
    assert!(o.status.success() && out.contains(", 1 threads"), "{out}");
    let cfg = std::fs::read_to_string(dir.join("runs/t1/config.json")).expect("config");
    assert!(cfg.contains("\"threads\": 1"), "{cfg}");
}

#[test]
fn help_explains_every_subcommand() {
    let dir = workdir("help");
    for sub in ["train", "eval", "predict", "summary", "zoo"] {
        let o = nabla(&dir, &[sub, "--help"]);
        assert!(o.status.success(), "{sub} --help failed");
        assert!(text(&o).contains("Usage: nabla"), "{sub}");
    }
    let o = nabla(&dir, &["summary", "--model", "lenet5"]);
    let out = text(&o);
    assert!(
        o.status.success() && out.contains("parameters: 61706") && out.contains("[1, 10]"),
        "{out}"
    );
}
