//! The `nabla` binary end to end: a short real training run, and the errors a user can trip.

mod common;

use common::{assert_clear_errors, nabla, percent_after, text, workdir, write_grey_png};

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
    // Bare weights (no run folder) with --model give the same outputs.
    std::fs::copy(run.join("model.safetensors"), dir.join("bare.safetensors"))
        .expect("copy weights");
    let o = nabla(
        &dir,
        &[
            "predict",
            "--model",
            "mlp",
            "--weights",
            "bare.safetensors",
            "x.npy",
            "--output",
            "bare.npy",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let bare = nabla::Tensor::read_npy(dir.join("bare.npy")).expect("read bare logits");
    assert_eq!(
        bare.to_vec::<f32>().expect("values"),
        logits.to_vec::<f32>().expect("values")
    );
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
        (
            &["--device", "cuda:0", "train", "--max-steps", "1"],
            "built without CUDA support",
        ),
        (
            &["--device", "gpu", "eval", "--weights", "runs/x"],
            "unknown device 'gpu'; use cpu or cuda:N",
        ),
    ];
    assert_clear_errors(&dir, cases);
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
    let o = nabla(
        &dir,
        &[
            "--threads",
            "1",
            "train",
            "--model",
            "mlp",
            "--train-size",
            "64",
            "--max-steps",
            "1",
            "--out",
            "t1",
            "--quiet",
        ],
    );
    let out = text(&o);
    assert!(o.status.success() && out.contains(", 1 threads"), "{out}");
    let cfg = std::fs::read_to_string(dir.join("runs/t1/config.json")).expect("config");
    assert!(cfg.contains("\"threads\": 1"), "{cfg}");
}

#[test]
fn help_explains_every_subcommand() {
    let dir = workdir("help");
    for sub in [
        "train",
        "eval",
        "predict",
        "summary",
        "zoo",
        "viz",
        "viz filters",
        "viz activations",
    ] {
        let mut args: Vec<&str> = sub.split(' ').collect();
        args.push("--help");
        let o = nabla(&dir, &args);
        assert!(o.status.success(), "{sub} --help failed");
        assert!(text(&o).contains("Usage: nabla"), "{sub}");
    }
    let o = nabla(&dir, &["summary", "--model", "lenet5"]);
    let out = text(&o);
    assert!(
        o.status.success() && out.contains("total parameters: 61,706") && out.contains("[1, 10]"),
        "{out}"
    );
}

#[test]
fn summary_prints_layers_and_torchvision_totals() {
    let dir = workdir("summary");
    let o = nabla(
        &dir,
        &[
            "summary",
            "--model",
            "resnet18",
            "--input",
            "3x224x224",
            "--classes",
            "1000",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("total parameters: 11,689,512"), "{out}");
    for layer in ["conv1", "layer4", "fc"] {
        assert!(
            out.lines().any(|l| l.starts_with(layer)),
            "no row {layer}:\n{out}"
        );
    }
    assert!(
        out.contains("[1, 512, 7, 7]") && out.contains("[1, 1000]"),
        "{out}"
    );
    // 1.81 GMACs, as torchinfo reports for resnet18 at 224×224.
    assert!(out.contains("(1.81G)"), "{out}");

    // LeNet-5 on MNIST: every layer's parameters and MACs by hand.
    let o = nabla(&dir, &["summary", "--model", "lenet5", "--data", "mnist"]);
    let out = text(&o);
    let row = |name: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row {name}:\n{out}"))
            .split("  ")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    // conv1: 6·(25+1) parameters; 6·28·28·25 MACs.
    assert_eq!(row("conv1"), ["conv1", "[1, 6, 28, 28]", "156", "117,600"]);
    // conv2: 16·(6·25+1); 16·10·10·150.
    assert_eq!(
        row("conv2"),
        ["conv2", "[1, 16, 10, 10]", "2,416", "240,000"]
    );
    assert_eq!(row("fc3"), ["fc3", "[1, 10]", "850", "840"]);
    assert!(out.contains("total parameters: 61,706"), "{out}");
    assert!(out.contains("multiply-accumulates: 416,520"), "{out}");

    // GoogLeNet: the auxiliary classifiers are listed apart, the total is torchvision's.
    let o = nabla(
        &dir,
        &[
            "summary",
            "--model",
            "googlenet",
            "--input",
            "3x64x64",
            "--classes",
            "1000",
        ],
    );
    let out = text(&o);
    assert!(
        o.status.success() && out.contains("total parameters: 13,004,888"),
        "{out}"
    );
    assert!(out.contains("aux1, aux2"), "{out}");

    let o = nabla(&dir, &["summary", "--model", "lenet5", "--input", "3xq"]);
    assert!(
        !o.status.success() && text(&o).contains("--input"),
        "{}",
        text(&o)
    );
}

#[test]
fn zoo_lists_models_with_their_papers() {
    let dir = workdir("zoo");
    let o = nabla(&dir, &["zoo"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let lenet = out
        .lines()
        .find(|l| l.starts_with("lenet5 "))
        .expect("lenet5 row");
    assert!(
        lenet.contains("61,706") && lenet.contains("416.5K"),
        "{lenet}"
    );
    let vgg16 = out
        .lines()
        .find(|l| l.starts_with("vgg16 "))
        .expect("vgg16 row");
    assert!(
        vgg16.contains("138,357,544") && vgg16.contains("15.47G"),
        "{vgg16}"
    );
    assert!(
        out.contains("LeCun, Bottou, Bengio & Haffner 1998"),
        "{out}"
    );
    assert!(out.contains("He, Zhang, Ren & Sun 2015"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("vgg19_bn")), "{out}");
}

#[test]
fn transfer_from_digits_0_4_to_5_9_loads_the_backbone_and_freezes_it() {
    let dir = workdir("transfer");
    let common = [
        "--model",
        "lenet5",
        "--epochs",
        "1",
        "--quiet",
        "--batch-size",
        "32",
    ];
    let mut pre = vec![
        "train",
        "--data",
        "mnist:0-4",
        "--train-size",
        "256",
        "--max-steps",
        "4",
        "--out",
        "pre",
    ];
    pre.extend(common);
    let o = nabla(&dir, &pre);
    assert!(o.status.success(), "{}", text(&o));
    let cfg = std::fs::read_to_string(dir.join("runs/pre/config.json")).expect("config");
    assert!(cfg.contains("\"outputs\": 5"), "{cfg}");

    let mut tr = vec![
        "train",
        "--data",
        "mnist:5-9",
        "--train-size",
        "64",
        "--max-steps",
        "2",
        "--out",
        "tr",
        "--init",
        "runs/pre",
        "--freeze",
        "conv1",
        "--freeze",
        "conv2",
        "--backbone-lr-scale",
        "0.1",
    ];
    tr.extend(common);
    let o = nabla(&dir, &tr);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // 8 variables loaded (conv1, conv2, fc1, fc2), the head fc3 skipped and new.
    assert!(
        out.contains("loaded 8 variables") && out.contains("new: fc3.weight, fc3.bias"),
        "{out}"
    );
    // Frozen: conv1 (156) and conv2 (2416) of 61,706 − 10·84 − 10 + 5·84 + 5 = 61,281.
    assert!(
        out.contains("58709 of 61281 parameters are trained"),
        "{out}"
    );
    let pre_w = std::fs::read(dir.join("runs/pre/model.safetensors")).expect("weights");
    let tr_w = std::fs::read(dir.join("runs/tr/model.safetensors")).expect("weights");
    assert_ne!(pre_w, tr_w);

    // --num-classes: more outputs than the data's classes are fine, fewer are not.
    let mut wide = vec![
        "train",
        "--data",
        "mnist:5-9",
        "--train-size",
        "32",
        "--max-steps",
        "1",
        "--out",
        "wide",
        "--num-classes",
        "10",
    ];
    wide.extend(common);
    let o = nabla(&dir, &wide);
    assert!(o.status.success(), "{}", text(&o));
    let o = nabla(&dir, &["eval", "--weights", "runs/wide"]);
    assert!(o.status.success(), "{}", text(&o));
    let mut narrow = vec![
        "train",
        "--data",
        "mnist:5-9",
        "--out",
        "narrow",
        "--num-classes",
        "3",
    ];
    narrow.extend(common);
    let o = nabla(&dir, &narrow);
    assert!(
        !o.status.success() && text(&o).contains("--num-classes 3"),
        "{}",
        text(&o)
    );

    // Errors: a prefix that names nothing, a checkpoint of another model.
    let mut bad = vec![
        "train",
        "--data",
        "mnist:5-9",
        "--out",
        "bad",
        "--freeze",
        "conv9",
    ];
    bad.extend(common);
    let o = nabla(&dir, &bad);
    assert!(
        !o.status.success() && text(&o).contains("conv1, conv2"),
        "{}",
        text(&o)
    );
    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "mlp",
            "--data",
            "mnist:5-9",
            "--out",
            "bad2",
            "--init",
            "runs/pre",
            "--quiet",
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("--init"),
        "{}",
        text(&o)
    );
}

#[test]
fn viz_draws_filters_and_activations_as_png() {
    let dir = workdir("viz");
    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "lenet5",
            "--train-size",
            "64",
            "--max-steps",
            "1",
            "--out",
            "v",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = nabla(
        &dir,
        &["viz", "filters", "--weights", "runs/v", "--output", "f.png"],
    );
    let out = text(&o);
    assert!(
        o.status.success() && out.contains("6 filters of conv1.weight"),
        "{out}"
    );
    let png = std::fs::read(dir.join("f.png")).expect("png");
    assert_eq!(&png[1..4], b"PNG");
    let o = nabla(
        &dir,
        &[
            "viz",
            "filters",
            "--weights",
            "runs/v/model.safetensors",
            "--layer",
            "conv2",
            "--output",
            "f2.png",
        ],
    );
    assert!(
        o.status.success() && text(&o).contains("one row per filter"),
        "{}",
        text(&o)
    );
    let o = nabla(
        &dir,
        &["viz", "filters", "--weights", "runs/v", "--layer", "fc1"],
    );
    assert!(
        !o.status.success() && text(&o).contains("conv1, conv2"),
        "{}",
        text(&o)
    );

    // A digit as a PNG: write one with the bundled data through `predict`'s image path.
    let img = dir.join("digit.png");
    write_grey_png(&img, 28, 28);
    let o = nabla(
        &dir,
        &[
            "viz",
            "activations",
            "--weights",
            "runs/v",
            "--input",
            "digit.png",
            "--layer",
            "pool2",
            "--output",
            "a.png",
        ],
    );
    let out = text(&o);
    assert!(
        o.status.success() && out.contains("16 feature maps (5x5) of pool2"),
        "{out}"
    );
    assert!(dir.join("a.png").exists());
    let o = nabla(
        &dir,
        &[
            "viz",
            "activations",
            "--weights",
            "runs/v",
            "--input",
            "digit.png",
            "--layer",
            "fc1",
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("not feature maps"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_text_file_trains_a_next_character_model() {
    // 16 one-hot characters in, the next character out (a character n-gram MLP). Always
    // guessing the most frequent character (the space) scores about 16%.
    let dir = workdir("text");
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/shakespeare/tragedies.txt"
    );
    let spec = format!("text:{corpus}");
    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "mlp",
            "--data",
            &spec,
            "--max-steps",
            "100",
            "--out",
            "chars",
            "--quiet",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let acc = percent_after(&out, "test accuracy");
    assert!(acc > 22.0, "next-character accuracy {acc}%\n{out}");
}

#[test]
fn char_lstm_trains_on_text_and_samples_from_a_prime() {
    let dir = workdir("charlm");
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/shakespeare/tragedies.txt"
    );
    let head: String = std::fs::read_to_string(corpus)
        .expect("corpus")
        .chars()
        .take(30_000)
        .collect();
    std::fs::write(dir.join("small.txt"), head).expect("write text");
    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "char-lstm",
            "--data",
            "text:small.txt",
            "--seq-len",
            "50",
            "--batch-size",
            "32",
            "--max-steps",
            "30",
            "--out",
            "lm",
            "--quiet",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // Uniform guessing over ~60 characters costs ln 60 ≈ 4.1 nats; 30 steps learn the
    // character frequencies at least.
    let at = out.find("test loss ").expect("test loss line") + 10;
    let loss: f64 = out[at..]
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("a number");
    assert!(loss < 3.4, "test loss {loss}\n{out}");
    let o = nabla(
        &dir,
        &[
            "sample",
            "--weights",
            "runs/lm",
            "--prime",
            "ROMEO",
            "--length",
            "80",
            "--seed",
            "3",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.starts_with("ROMEO") && out.trim_end().chars().count() >= 60,
        "{out}"
    );
    // The same seed gives the same text.
    let again = text(&nabla(
        &dir,
        &[
            "sample",
            "--weights",
            "runs/lm",
            "--prime",
            "ROMEO",
            "--length",
            "80",
            "--seed",
            "3",
        ],
    ));
    assert_eq!(out, again);
    let o = nabla(
        &dir,
        &["sample", "--weights", "runs/lm", "--prime", "ROMEO\u{263a}"],
    );
    assert!(
        !o.status.success() && text(&o).contains("never occurs in the training text"),
        "{}",
        text(&o)
    );
}

#[test]
fn bad_text_files_and_foreign_checkpoints_are_clear_errors() {
    let dir = workdir("badtext");
    std::fs::write(dir.join("empty.txt"), "").expect("write");
    std::fs::write(dir.join("binary.bin"), [0x7fu8, b'E', b'L', b'F', 0, 1, 2]).expect("write");
    std::fs::write(dir.join("latin1.txt"), [b'c', b'a', b'f', 0xe9]).expect("write");
    std::fs::write(dir.join("short.txt"), "To be, or not to be").expect("write");
    for (file, msg) in [
        ("empty.txt", "is empty"),
        ("binary.bin", "looks binary"),
        ("latin1.txt", "not UTF-8"),
        ("short.txt", "too short for sequences of 100"),
    ] {
        let spec = format!("text:{file}");
        let o = nabla(
            &dir,
            &["train", "--model", "char-lstm", "--data", &spec, "--quiet"],
        );
        let out = text(&o);
        assert!(!o.status.success() && out.contains(msg), "{file}: {out}");
        assert!(!out.contains("panicked"), "{out}");
    }
    let o = nabla(
        &dir,
        &[
            "train", "--model", "mlp", "--data", "toy:xor", "--epochs", "1", "--out", "xor",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = nabla(&dir, &["sample", "--weights", "runs/xor"]);
    let out = text(&o);
    assert!(
        !o.status.success()
            && out.contains("model 'mlp'")
            && out.contains("cannot generate")
            && out.contains("char-lstm, char-gru, char-rnn, vae, conv-vae, rbm or dcgan"),
        "{out}"
    );
}

#[test]
#[cfg(not(feature = "distributed"))]
fn distributed_training_without_the_feature_says_how_to_build_it() {
    let dir = workdir("no-mpi");
    let o = nabla(&dir, &["train", "--distributed", "mpi"]);
    assert!(!o.status.success());
    let out = text(&o);
    assert!(
        out.contains("--features distributed") && out.contains("libopenmpi-dev"),
        "{out}"
    );
    assert!(!dir.join("runs").exists(), "a run folder was created");
    let _ = std::fs::remove_dir_all(dir);
}
