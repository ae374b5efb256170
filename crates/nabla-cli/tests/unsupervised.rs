//! `nabla train --model ae|dae|vae|conv-vae|rbm`, `nabla sample` of VAEs and an RBM, `nabla viz
//! reconstructions|interpolate` and `nabla viz filters` of an RBM, end to end on a slice of the
//! bundled MNIST.

mod common;

use common::{nabla, text, workdir};
use std::path::Path;

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[1..4], b"PNG", "{} is not a PNG", path.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The validation loss of each epoch in a run's metrics.csv.
fn val_losses(run: &Path) -> Vec<f64> {
    let csv = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn vae_trains_lowers_its_loss_samples_and_reconstructs() {
    let dir = workdir("vae");
    let train = [
        "train",
        "--model",
        "vae",
        "--train-size",
        "768",
        "--batch-size",
        "64",
        "--epochs",
        "2",
        "--out",
        "vae",
        "--quiet",
    ];
    let o = nabla(&dir, &train);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("nats per image"), "{out}");
    let run = dir.join("runs/vae");
    for f in [
        "model.safetensors",
        "metrics.csv",
        "curves.png",
        "config.json",
    ] {
        assert!(run.join(f).exists(), "{f} missing\n{out}");
    }
    let losses = val_losses(&run);
    assert!(losses.len() == 2 && losses[1] < losses[0], "{losses:?}");
    // 260 nats is well under the ~545 of an untrained decoder (784 · ln 2).
    assert!(losses[1] < 260.0, "{losses:?}");

    let o = nabla(
        &dir,
        &[
            "sample",
            "--weights",
            "runs/vae",
            "--grid",
            "5x2",
            "--out",
            "s.png",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    // 5 × (28·3 + 2) + 2 by 2 × (28·3 + 2) + 2 pixels.
    assert_eq!(png_size(&dir.join("s.png")), (432, 174));
    let o = nabla(&dir, &["sample", "--weights", "runs/vae", "--grid", "0x4"]);
    assert!(
        !o.status.success() && text(&o).contains("--grid"),
        "{}",
        text(&o)
    );

    let o = nabla(
        &dir,
        &[
            "viz",
            "reconstructions",
            "--weights",
            "runs/vae",
            "--pca",
            "0",
            "--test-size",
            "200",
            "--count",
            "4",
            "--output",
            "r.png",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("mean squared reconstruction error"), "{out}");
    assert_eq!(png_size(&dir.join("r.png")), (4 * 86 + 2, 2 * 86 + 2));

    let o = nabla(
        &dir,
        &[
            "viz",
            "interpolate",
            "--weights",
            "runs/vae",
            "--pairs",
            "2",
            "--steps",
            "5",
            "--output",
            "i.png",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("20-d codes"), "{}", text(&o));
    assert_eq!(png_size(&dir.join("i.png")), (5 * 86 + 2, 2 * 86 + 2));
}

#[test]
fn autoencoder_trains_and_cannot_sample() {
    let dir = workdir("ae");
    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "ae",
            "--train-size",
            "256",
            "--batch-size",
            "64",
            "--epochs",
            "1",
            "--out",
            "ae",
            "--quiet",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "dae",
            "--train-size",
            "256",
            "--batch-size",
            "64",
            "--epochs",
            "1",
            "--out",
            "dae",
            "--quiet",
        ],
    );
    let out = text(&o);
    assert!(
        o.status.success() && out.contains("uncorrupted inputs"),
        "{out}"
    );
    let o = nabla(&dir, &["sample", "--weights", "runs/ae"]);
    let err = text(&o);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("cannot generate") && err.contains("vae") && err.contains("rbm"),
        "{err}"
    );
    let o = nabla(&dir, &["train", "--model", "ae", "--persistent"]);
    assert!(
        !o.status.success() && text(&o).contains("--model rbm"),
        "{}",
        text(&o)
    );
    let o = nabla(
        &dir,
        &["train", "--model", "ae", "--augment", "--max-steps", "1"],
    );
    assert!(
        !o.status.success() && text(&o).contains("--augment"),
        "{}",
        text(&o)
    );
}

#[test]
fn rbm_lowers_its_reconstruction_error_samples_by_gibbs_and_draws_its_filters() {
    let dir = workdir("rbm");
    let train = [
        "train",
        "--model",
        "rbm",
        "--train-size",
        "1024",
        "--batch-size",
        "64",
        "--epochs",
        "2",
        "--persistent",
        "--out",
        "rbm",
        "--quiet",
    ];
    let o = nabla(&dir, &train);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("persistent CD-1"), "{out}");
    let run = dir.join("runs/rbm");
    let errors = val_losses(&run);
    // An untrained RBM reconstructs every pixel as about 0.5: roughly 784 · 0.2 ≈ 160.
    assert!(
        errors.len() == 2 && errors[1] < errors[0] && errors[1] < 60.0,
        "{errors:?}"
    );
    let o = nabla(
        &dir,
        &[
            "sample",
            "--weights",
            "runs/rbm",
            "--grid",
            "3x2",
            "--gibbs-steps",
            "20",
            "--out",
            "s.png",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("20 Gibbs steps"), "{}", text(&o));
    assert_eq!(png_size(&dir.join("s.png")), (3 * 86 + 2, 2 * 86 + 2));
    let o = nabla(
        &dir,
        &[
            "viz",
            "filters",
            "--weights",
            "runs/rbm",
            "--count",
            "100",
            "--output",
            "f.png",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("100 filters of W (500x1x28x28)"),
        "{}",
        text(&o)
    );
    // 10 columns of 28·2 + 2 pixels, plus 2.
    assert_eq!(png_size(&dir.join("f.png")), (10 * 58 + 2, 10 * 58 + 2));
    let o = nabla(
        &dir,
        &["train", "--model", "rbm", "--out", "rbm", "--resume"],
    );
    assert!(
        !o.status.success() && text(&o).contains("resume"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_two_dimensional_conv_vae_samples_and_draws_its_manifold_and_test_codes() {
    let dir = workdir("vae2");
    let train = [
        "train",
        "--model",
        "conv-vae",
        "--latent",
        "2",
        "--train-size",
        "512",
        "--batch-size",
        "64",
        "--epochs",
        "1",
        "--out",
        "vae2",
        "--quiet",
    ];
    let o = nabla(&dir, &train);
    assert!(o.status.success(), "{}", text(&o));
    let o = nabla(
        &dir,
        &[
            "viz",
            "latent",
            "--weights",
            "runs/vae2",
            "--grid",
            "4",
            "--test-size",
            "200",
            "--manifold",
            "m.png",
            "--scatter",
            "l.png",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("codes of 200 test images"),
        "{}",
        text(&o)
    );
    // 4 tiles of 28·2 + 2 pixels, plus 2.
    assert_eq!(png_size(&dir.join("m.png")), (4 * 58 + 2, 4 * 58 + 2));
    assert_eq!(png_size(&dir.join("l.png")), (720, 640));
    let o = nabla(
        &dir,
        &[
            "sample",
            "--weights",
            "runs/vae2",
            "--grid",
            "2x2",
            "--out",
            "s.png",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(png_size(&dir.join("s.png")), (2 * 86 + 2, 2 * 86 + 2));
    // A 20-d VAE cannot be drawn so, and says how to train one that can.
    let twenty = [
        "train",
        "--model",
        "vae",
        "--train-size",
        "128",
        "--epochs",
        "1",
    ];
    let o = nabla(
        &dir,
        &[&twenty[..], &["--out", "vae20", "--quiet"]].concat(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = nabla(&dir, &["viz", "latent", "--weights", "runs/vae20"]);
    assert!(
        !o.status.success() && text(&o).contains("--latent 2"),
        "{}",
        text(&o)
    );
}

/// With --patience, early stopping selects on a split held out of the training images,
/// never on the test set, and the run says so; the test set gives the final line only.
#[test]
fn early_stopping_selects_on_held_out_training_images_not_the_test_set() {
    let dir = workdir("ae-patience");
    let o = nabla(
        &dir,
        &[
            "train",
            "--model",
            "ae",
            "--train-size",
            "320",
            "--val-split",
            "0.2",
            "--patience",
            "1",
            "--batch-size",
            "64",
            "--epochs",
            "2",
            "--out",
            "ae",
            "--quiet",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("256 training / 64 validation (--val-split 0.2, for --patience)"),
        "{out}"
    );
    assert!(out.contains("test loss"), "{out}");
}
