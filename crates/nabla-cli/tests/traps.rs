//! What users trip on, each reproduced: a run folder shared by two runs, output piped into a
//! reader that goes away, temporaries of killed runs, sizes that cannot be allocated, and
//! numbers that make no sense. Each must be a clear error or a run that completes, never a
//! panic, an abort or a corrupted folder.

mod common;

use common::{assert_clear_errors, nabla, text, workdir};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn spawn(dir: &std::path::Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the nabla binary runs")
}

const SHORT_RUN: &[&str] = &[
    "--threads",
    "1",
    "train",
    "--model",
    "mlp",
    "--train-size",
    "2000",
    "--batch-size",
    "32",
    "--quiet",
];

#[test]
fn a_reader_that_goes_away_does_not_end_training() {
    let dir = workdir("pipe");
    let mut args = SHORT_RUN.to_vec();
    args.extend(["--out", "piped", "--epochs", "2"]);
    let mut child = spawn(&dir, &args);
    // `nabla train | head -1`: read one line, then close the pipe.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("training mlp"), "{first}");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for f in ["model.safetensors", "metrics.csv", "train.log"] {
        assert!(dir.join("runs/piped").join(f).exists(), "missing {f}");
    }
}

#[test]
fn a_second_run_into_a_busy_folder_is_refused_and_a_killed_runs_temporaries_are_cleaned() {
    let dir = workdir("lock");
    let mut first_args = SHORT_RUN.to_vec();
    first_args.extend(["--out", "same", "--epochs", "50"]);
    let mut first = spawn(&dir, &first_args);
    let lock = dir.join("runs/same/.lock");
    let started = Instant::now();
    // The first run holds the lock and has written its config.json (it does so just after
    // taking the lock; on a loaded machine the gap can be long).
    let config = dir.join("runs/same/config.json");
    while std::fs::read_to_string(&lock).map_or(true, |s| s.trim().is_empty()) || !config.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no lock file or config"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "lenet5",
            "--max-steps",
            "5",
            "--out",
            "same",
        ],
    );
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains(&format!("PID {}", first.id())), "{out}");
    let config = std::fs::read_to_string(dir.join("runs/same/config.json")).unwrap();
    assert!(
        config.contains("\"mlp\""),
        "the second run rewrote config.json:\n{config}"
    );

    // kill -9 the first run and leave what an interrupted atomic write leaves behind.
    first.kill().unwrap();
    first.wait().unwrap();
    let stale = dir.join("runs/same/.checkpoint.safetensors.tmp4242");
    std::fs::write(&stale, b"half a checkpoint").unwrap();
    let mut resume = SHORT_RUN.to_vec();
    resume.extend([
        "--out",
        "same",
        "--resume",
        "--epochs",
        "50",
        "--max-steps",
        "3",
    ]);
    let o = nabla(&dir, &resume);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // Ours, and the killed run's own when the kill came in the middle of one of its writes.
    let removed = out
        .split("removed ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok());
    assert!(
        matches!(removed, Some(1 | 2)) && out.contains("temporary file(s) of an interrupted run"),
        "{out}"
    );
    assert!(!stale.exists());
}

#[test]
fn sizes_beyond_the_machine_and_senseless_numbers_are_clear_errors() {
    let dir = workdir("sizes");
    let cases: &[(&[&str], &str)] = &[
        (
            &["train", "--num-classes", "4000000000", "--max-steps", "1"],
            "parameter fc3.weight of shape [4000000000, 84] in F32 needs 1344.0 GB",
        ),
        (
            &[
                "summary",
                "--model",
                "resnet18",
                "--input",
                "3x100000x100000",
            ],
            "--input of shape [1, 3, 100000, 100000] in F32 needs 120.0 GB",
        ),
        (
            &["summary", "--model", "resnet18", "--input", "3x20000x20000"],
            "the largest square input that fits is about",
        ),
        (
            &["train", "--clip-grad-norm", "-5", "--max-steps", "1"],
            "must be a positive number, got -5",
        ),
        (
            &["train", "--clip-grad-norm", "0", "--max-steps", "1"],
            "must be a positive number, got 0",
        ),
        (
            &["train", "--weight-decay=-1", "--max-steps", "1"],
            "must be 0 or a positive number",
        ),
        (
            &["train", "--test-split", "1.5", "--max-steps", "1"],
            "between 0 and 1",
        ),
    ];
    assert_clear_errors(&dir, cases);
}

#[test]
fn weights_are_read_from_a_run_folder_its_model_file_or_its_checkpoint() {
    let dir = workdir("forms");
    let mut args = SHORT_RUN.to_vec();
    args.extend(["--out", "forms", "--epochs", "1", "--max-steps", "5"]);
    let o = nabla(&dir, &args);
    assert!(o.status.success(), "{}", text(&o));
    let mut accuracies = Vec::new();
    for weights in [
        "runs/forms",
        "runs/forms/model.safetensors",
        "runs/forms/checkpoint.safetensors",
    ] {
        let o = nabla(&dir, &["eval", "--weights", weights]);
        let out = text(&o);
        assert!(o.status.success(), "{weights}:\n{out}");
        accuracies.push(common::percent_after(&out, "top-1 accuracy:"));
    }
    assert!(
        accuracies.windows(2).all(|w| w[0] == w[1]),
        "{accuracies:?}"
    );

    // A class subset keeps the model's labels: digits 5-9 are scored as 5-9, not as 0-4.
    let o = nabla(
        &dir,
        &["eval", "--weights", "runs/forms", "--data", "mnist:5-9"],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let row = |class: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{class}:")))
            .unwrap_or_else(|| panic!("no row for {class}:\n{out}"))
            .to_string()
    };
    assert!(row("4").contains("no examples"), "{out}");
    assert!(!row("9").contains("no examples"), "{out}");
}

#[test]
fn small_messages_say_what_is_wrong_once() {
    use std::os::unix::ffi::OsStrExt;
    let dir = workdir("messages");
    let o = nabla(
        &dir,
        &["train", "--data", "idx:/no/such", "--max-steps", "1"],
    );
    let out = text(&o);
    assert!(
        out.contains("/no/such: no such folder") && !out.contains("no such folder: no such folder"),
        "{out}"
    );
    assert_clear_errors(
        &dir,
        &[(
            &["predict", "--weights", "runs/none", "--topk", "0", "x.npy"],
            "--topk must be at least 1",
        )],
    );
    let o = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(["train", "--out"])
        .arg(std::ffi::OsStr::from_bytes(b"r\xff"))
        .current_dir(&dir)
        .output()
        .unwrap();
    let out = text(&o);
    assert!(!o.status.success());
    assert!(
        out.contains("argument 3 'r\u{FFFD}' (after --out) is not valid UTF-8"),
        "{out}"
    );
}

#[test]
fn resume_continues_the_run_as_recorded_and_refuses_contradictions() {
    let dir = workdir("resume");
    let mut args = SHORT_RUN.to_vec();
    args.extend(["--out", "r", "--epochs", "1"]);
    let o = nabla(&dir, &args);
    assert!(o.status.success(), "{}", text(&o));
    assert_clear_errors(
        &dir,
        &[
            (
                &["train", "--out", "r", "--resume", "--optimizer", "sgd"],
                "--resume continues runs/r as it was trained, with --optimizer adam",
            ),
            (
                &["train", "--out", "r", "--resume", "--model", "lenet5"],
                "with --model mlp; drop --model lenet5",
            ),
        ],
    );
    // The README's `train --out NAME --resume`: the model, data and optimizer come from the run.
    let o = nabla(
        &dir,
        &[
            "--threads",
            "1",
            "train",
            "--out",
            "r",
            "--resume",
            "--epochs",
            "2",
            "--train-size",
            "2000",
            "--quiet",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("extending runs/r from 1 to 2 epochs") && out.contains("training mlp"),
        "{out}"
    );
}

/// The last `val_loss` of a run's metrics.csv.
fn last_val_loss(dir: &std::path::Path) -> f64 {
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let last = csv.lines().last().unwrap().to_string();
    last.split(',').nth(3).unwrap().parse().unwrap()
}

/// The number after "test loss " in a run's output.
fn test_loss(out: &str) -> f64 {
    let at = out.find("test loss ").unwrap_or_else(|| panic!("{out}")) + 10;
    out[at..]
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{out}"))
}

#[test]
fn validation_is_held_out_of_the_training_set_not_the_test_set() {
    let dir = workdir("val-split");
    let mut args = SHORT_RUN.to_vec();
    args.extend(["--out", "v", "--epochs", "1"]);
    let o = nabla(&dir, &args);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("1800 training / 200 validation (--val-split 0.1) / 10000 test examples")
            && out.contains(", 1 epoch, "),
        "{out}"
    );
    let config = std::fs::read_to_string(dir.join("runs/v/config.json")).unwrap();
    assert!(
        config.contains("\"val_split\": 0.1") && config.contains("\"val_size\": 200"),
        "{config}"
    );
    // The epoch's "val" numbers come from the 200 held-out examples, the final line from the
    // test set: they differ.
    let (val, test) = (last_val_loss(&dir.join("runs/v")), test_loss(&out));
    assert!(
        (val - test).abs() > 1e-4,
        "val {val} and test {test}\n{out}"
    );

    // --val-split 0: the test set stands in, and the run says so.
    args.extend(["--val-split", "0"]);
    *args.iter_mut().find(|a| **a == "v").unwrap() = "none";
    let o = nabla(&dir, &args);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("the test set stands in"), "{out}");
    let (val, test) = (last_val_loss(&dir.join("runs/none")), test_loss(&out));
    assert!(
        (val - test).abs() < 1e-4,
        "val {val} and test {test}\n{out}"
    );

    assert_clear_errors(
        &dir,
        &[
            (
                &["train", "--val-split", "1", "--max-steps", "1"],
                "must be 0 (no validation set) or a fraction between 0 and 1, got 1",
            ),
            (
                &[
                    "train",
                    "--train-size",
                    "3",
                    "--val-split",
                    "0.1",
                    "--max-steps",
                    "1",
                ],
                "--val-split 0.1 of 3 training examples leaves 0 for validation",
            ),
        ],
    );
}

/// The lines a `predict` run prints for `name` (its class probabilities).
fn prediction_of(out: &str, name: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no prediction for {name}:\n{out}"))
        .to_string()
}

#[test]
fn bare_weights_evaluate_and_predict_images_with_model() {
    let dir = workdir("bare");
    let o = nabla(
        &dir,
        &[
            "--threads",
            "1",
            "train",
            "--train-size",
            "2000",
            "--max-steps",
            "20",
            "--out",
            "b",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    // The model file alone, as a PyTorch user would have it: no config.json beside it.
    std::fs::create_dir_all(dir.join("bare")).unwrap();
    std::fs::copy(
        dir.join("runs/b/model.safetensors"),
        dir.join("bare/lenet.safetensors"),
    )
    .unwrap();
    let o = nabla(&dir, &["eval", "--weights", "runs/b"]);
    assert!(o.status.success(), "{}", text(&o));
    let run = common::percent_after(&text(&o), "top-1 accuracy:");
    let o = nabla(
        &dir,
        &[
            "eval",
            "--model",
            "lenet5",
            "--weights",
            "bare/lenet.safetensors",
            "--data",
            "mnist",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert_eq!(common::percent_after(&out, "top-1 accuracy:"), run, "{out}");

    common::write_grey_png(&dir.join("digit.png"), 28, 28);
    let o = nabla(&dir, &["predict", "--weights", "runs/b", "digit.png"]);
    assert!(o.status.success(), "{}", text(&o));
    let from_run = prediction_of(&text(&o), "digit.png");
    let o = nabla(
        &dir,
        &[
            "predict",
            "--model",
            "lenet5",
            "--weights",
            "bare/lenet.safetensors",
            "digit.png",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("images resized to 1x28x28 (the native input of lenet5)"),
        "{out}"
    );
    assert_eq!(prediction_of(&out, "digit.png"), from_run, "{out}");

    assert_clear_errors(
        &dir,
        &[
            (
                &["eval", "--weights", "bare/lenet.safetensors"],
                "pass --model NAME and --data SPEC",
            ),
            (
                &[
                    "predict",
                    "--model",
                    "lenet5",
                    "--weights",
                    "bare/lenet.safetensors",
                    "--transform-input",
                    "digit.png",
                ],
                "--transform-input is the input re-normalization of torchvision's GoogLeNet",
            ),
        ],
    );
}

#[test]
fn googlenet_transform_input_maps_imagenet_normalization_as_torchvision() {
    use nabla::{DType, Device, Tensor};
    use nabla_nn::models::{googlenet, ModelConfig};
    let dir = workdir("transform");
    let dev = Device::Cpu;
    // A GoogLeNet state_dict without the auxiliary heads, as torchvision's pretrained one.
    nabla::manual_seed(5);
    let vs = nabla_nn::VarStore::new(&dev);
    let config = ModelConfig {
        num_classes: 10,
        in_channels: 3,
        image_size: 32,
    };
    googlenet(&vs.root(), &config).unwrap();
    // torchvision's initialization (N(0, 0.01) convolutions) with fresh batch-norm statistics
    // shrinks activations to nothing within a few layers, and every input gives the same
    // logits: He-initialized convolutions keep them of order 1, as trained weights do.
    for v in vs.vars() {
        let dims = v.leaf().dims().to_vec();
        if let [_, cin, kh, kw] = dims[..] {
            let scale = (2.0 / (cin * kh * kw) as f64).sqrt();
            let w = Tensor::randn(&dims, DType::F32, &dev).unwrap();
            v.set(&w.mul_scalar(scale).unwrap()).unwrap();
        }
    }
    vs.save(dir.join("all.safetensors")).unwrap();
    let file = nabla_nn::checkpoint::load(dir.join("all.safetensors")).unwrap();
    let main: Vec<(String, Tensor)> = file
        .tensors
        .into_iter()
        .filter(|(n, _)| !n.starts_with("aux"))
        .collect();
    nabla_nn::checkpoint::save(dir.join("g.safetensors"), &main, &Default::default()).unwrap();
    // x, and x' = torchvision's transform of x, written out by the formula.
    let x = Tensor::randn(&[2, 3, 32, 32], DType::F32, &dev).unwrap();
    x.write_npy(dir.join("x.npy")).unwrap();
    let (std, mean) = ([0.229f32, 0.224, 0.225], [0.485f32, 0.456, 0.406]);
    let moved: Vec<f32> = x
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = i / (32 * 32) % 3;
            v * (std[c] / 0.5) + (mean[c] - 0.5) / 0.5
        })
        .collect();
    Tensor::from_vec(moved, &[2, 3, 32, 32], &dev)
        .unwrap()
        .write_npy(dir.join("x_moved.npy"))
        .unwrap();
    let logits = |extra: &[&str], input: &str, output: &str| {
        let mut args = vec![
            "predict",
            "--model",
            "googlenet",
            "--weights",
            "g.safetensors",
        ];
        args.extend(extra);
        args.extend([input, "--output", output]);
        let o = nabla(&dir, &args);
        assert!(o.status.success(), "{}", text(&o));
        Tensor::read_npy(dir.join(output))
            .unwrap()
            .to_vec::<f32>()
            .unwrap()
    };
    let transformed = logits(&["--transform-input"], "x.npy", "a.npy");
    let by_formula = logits(&[], "x_moved.npy", "b.npy");
    let plain = logits(&[], "x.npy", "c.npy");
    let worst = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max)
    };
    let (formula_gap, flag_effect) = (
        worst(&transformed, &by_formula),
        worst(&transformed, &plain),
    );
    assert!(formula_gap < 1e-4, "{formula_gap}");
    assert!(
        flag_effect > 1e-2,
        "the flag changed the logits by {flag_effect} only"
    );
}

#[test]
fn an_image_folder_of_class_subfolders_trains_lenet5_at_its_native_size() {
    let dir = workdir("folder");
    // One folder per class, no train/ or val/: split by --test-split. Bars on the left are
    // class "left", bars on the right class "right"; 40×40 images, resized to LeNet's 28.
    for (class, bar) in [("left", 4..12), ("right", 28..36)] {
        let d = dir.join("shapes").join(class);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..10 {
            common::write_grey_png_bar(&d.join(format!("{i}.png")), 40, 40, bar.clone());
        }
    }
    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "lenet5",
            "--data",
            "folder:shapes",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--out",
            "f",
            "--quiet",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // 20 images: 4 for testing (--test-split 0.2), 2 of the other 16 for validation.
    assert!(
        out.contains("14 training / 2 validation (--val-split 0.1) / 4 test examples"),
        "{out}"
    );
    let config = std::fs::read_to_string(dir.join("runs/f/config.json")).unwrap();
    let compact: String = config.split_whitespace().collect();
    assert!(compact.contains("\"input_shape\":[1,28,28]"), "{config}");
    // The run evaluates on the same images, decoded the same way.
    let o = nabla(&dir, &["eval", "--weights", "runs/f"]);
    assert!(o.status.success(), "{}", text(&o));
    // --image-size chooses another side; the ImageNet layout (train/ and val/) still reads.
    for part in ["train", "val"] {
        for (class, bar) in [("left", 4..12), ("right", 28..36)] {
            let d = dir.join("split").join(part).join(class);
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..3 {
                common::write_grey_png_bar(&d.join(format!("{i}.png")), 40, 40, bar.clone());
            }
        }
    }
    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "lenet5",
            "--data",
            "folder:split",
            "--image-size",
            "32",
            "--val-split",
            "0",
            "--max-steps",
            "1",
            "--out",
            "s",
            "--quiet",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("6 training / 6 test examples"), "{out}");
    let config = std::fs::read_to_string(dir.join("runs/s/config.json")).unwrap();
    let compact: String = config.split_whitespace().collect();
    assert!(compact.contains("\"input_shape\":[1,32,32]"), "{config}");
}
