//! `nabla train --model dcgan`, `nabla sample` of a DCGAN and `nabla gan-score`, end to end on
//! a slice of the bundled MNIST.

mod common;

use common::{assert_clear_errors, nabla, text, workdir};
use std::path::Path;

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[1..4], b"PNG", "{} is not a PNG", path.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The number after `label` in the output.
fn number_after(out: &str, label: &str) -> f64 {
    let at = out
        .find(label)
        .unwrap_or_else(|| panic!("no '{label}' in:\n{out}"))
        + label.len();
    out[at..]
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no number after '{label}' in:\n{out}"))
}

#[test]
fn dcgan_trains_samples_and_is_scored_by_a_classifier() {
    let dir = workdir("dcgan");
    let train = [
        "train",
        "--model",
        "dcgan",
        "--train-size",
        "256",
        "--batch-size",
        "64",
        "--epochs",
        "2",
        "--out",
        "gan",
        "--quiet",
    ];
    let o = nabla(&dir, &train);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let run = dir.join("runs/gan");
    let csv = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0], "epoch,d_loss,g_loss,d_real,d_fake,seconds",
        "{csv}"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    for line in &lines[1..] {
        let v: Vec<f64> = line.split(',').map(|x| x.parse().unwrap()).collect();
        assert!(v[1] > 0.0 && v[2] > 0.0, "{line}");
        assert!(
            (0.0..=1.0).contains(&v[3]) && (0.0..=1.0).contains(&v[4]),
            "{line}"
        );
    }
    // Two panels of 600 × 450: losses, and D(x) with D(G(z)).
    assert_eq!(png_size(&run.join("curves.png")), (1200, 450));
    assert!(out.contains("D(G(z))"), "{out}");

    let o = nabla(
        &dir,
        &[
            "sample",
            "--weights",
            "runs/gan",
            "--grid",
            "8x8",
            "--out",
            "s.png",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    // 8 × (28·3 + 2) + 2 pixels a side.
    assert_eq!(png_size(&dir.join("s.png")), (690, 690));

    let o = nabla(
        &dir,
        &[
            "train",
            "--train-size",
            "3000",
            "--epochs",
            "2",
            "--out",
            "lenet",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = nabla(
        &dir,
        &[
            "gan-score",
            "--classifier",
            "runs/lenet",
            "--weights",
            "runs/gan",
            "--count",
            "300",
            "--save-samples",
            "g.npy",
        ],
    );
    let drawn = text(&o);
    assert!(o.status.success(), "{drawn}");
    let score = number_after(&drawn, "classifier score");
    let fid = number_after(&drawn, "Frechet distance");
    assert!((1.0..=10.0).contains(&score), "{drawn}");
    assert!(fid > 0.0, "{drawn}");
    // The score's two parts: ln score = H(classes drawn) - mean H(per image).
    let h_drawn = number_after(&drawn, "(entropy");
    let h_image = number_after(&drawn, "mean entropy");
    assert!(
        ((h_drawn - h_image).exp() - score).abs() < 2e-3 * score,
        "{drawn}"
    );
    // The saved samples score the same through --samples.
    let o = nabla(
        &dir,
        &[
            "gan-score",
            "--classifier",
            "runs/lenet",
            "--samples",
            "g.npy",
        ],
    );
    let read = text(&o);
    assert!(o.status.success(), "{read}");
    assert!(
        (number_after(&read, "classifier score") - score).abs() < 1e-3,
        "{read}"
    );
    assert!(
        (number_after(&read, "Frechet distance") - fid).abs() < 1e-2,
        "{read}"
    );
    // The reference: real digits score far better than two epochs of a GAN on 256 images
    // (this small LeNet is far less sure of itself than the main job's, whose test set scores
    // 9.73).
    let o = nabla(
        &dir,
        &["gan-score", "--classifier", "runs/lenet", "--count", "1000"],
    );
    let reference = text(&o);
    assert!(o.status.success(), "{reference}");
    assert!(
        number_after(&reference, "the test set's classifier score") > 3.0,
        "{reference}"
    );
    assert!(
        number_after(&reference, "Frechet distance") < fid,
        "{reference}"
    );

    std::fs::write(dir.join("bad.npy"), b"not an npy").unwrap();
    assert_clear_errors(
        &dir,
        &[
            (&["gan-score", "--classifier", "runs/gan"], "classify"),
            (
                &[
                    "gan-score",
                    "--classifier",
                    "runs/lenet",
                    "--weights",
                    "runs/lenet",
                ],
                "cannot draw images",
            ),
            (
                &[
                    "gan-score",
                    "--classifier",
                    "runs/lenet",
                    "--samples",
                    "bad.npy",
                ],
                "bad.npy",
            ),
            (
                &["train", "--model", "dcgan", "--resume", "--out", "gan"],
                "no checkpoint",
            ),
        ],
    );
}

#[test]
fn gan_width_sets_both_networks_and_is_kept_for_sampling() {
    let dir = workdir("dcgan-width");
    let train = |out: &str, hidden: &str| {
        let o = nabla(
            &dir,
            &[
                "train",
                "--model",
                "dcgan",
                "--gan-width",
                "16",
                "--gan-hidden",
                hidden,
                "--train-size",
                "128",
                "--batch-size",
                "64",
                "--epochs",
                "1",
                "--out",
                out,
                "--quiet",
            ],
        );
        let text = text(&o);
        assert!(o.status.success(), "{text}");
        text
    };
    let out = train("narrow", "8");
    // Generator: hidden 100 → 8, bn_hidden (2·8), fc 8 → 16·49, bn0 (2·16), deconv1 16 → 8
    // (4×4), bn1 (2·8), deconv2 8 → 1 (4×4, bias); discriminator: conv1 1 → 8 (+8), conv2
    // 8 → 16, bn2 (2·16), hidden 16·49 → 8, bn_hidden (2·8), fc 8 → 1.
    let g = 100 * 8 + 2 * 8 + 8 * 16 * 49 + 2 * 16 + 16 * 8 * 16 + 2 * 8 + 8 * 16 + 1;
    let d = 8 * 16 + 8 + 8 * 16 * 16 + 2 * 16 + 16 * 49 * 8 + 2 * 8 + 8 + 1;
    assert!(
        out.contains(&format!("generator {g}, discriminator {d}")),
        "{out}"
    );
    let cfg = std::fs::read_to_string(dir.join("runs/narrow/config.json")).expect("config");
    assert!(cfg.contains("\"gan_width\": 16"), "{cfg}");
    assert!(cfg.contains("\"gan_hidden\": 8"), "{cfg}");
    // Sampling rebuilds the generator at the run's width (the default would not load).
    let sample = |run: &str| {
        let weights = format!("runs/{run}");
        nabla(
            &dir,
            &[
                "sample",
                "--weights",
                &weights,
                "--grid",
                "2x2",
                "--out",
                "n.png",
            ],
        )
    };
    let o = sample("narrow");
    assert!(o.status.success(), "{}", text(&o));

    // An edited config.json with an absurd width or hidden size is refused before anything
    // is allocated.
    let cfg_path = dir.join("runs/narrow/config.json");
    for (field, from, to) in [
        (
            "gan_width",
            "\"gan_width\": 16",
            "\"gan_width\": 4000000000",
        ),
        ("gan_hidden", "\"gan_hidden\": 8", "\"gan_hidden\": 1e12"),
    ] {
        std::fs::write(&cfg_path, cfg.replace(from, to)).expect("write config");
        let o = sample("narrow");
        let out = text(&o);
        assert!(!o.status.success() && out.contains(field), "{out}");
    }

    // Without hidden layers: the paper's layout, fc 100 → 16·49 and fc 16·49 → 1. A run
    // from before --gan-hidden (no gan_hidden in its config.json) is read as one.
    let out = train("plain", "0");
    let g = 100 * 16 * 49 + 2 * 16 + 16 * 8 * 16 + 2 * 8 + 8 * 16 + 1;
    let d = 8 * 16 + 8 + 8 * 16 * 16 + 2 * 16 + 16 * 49 + 1;
    assert!(
        out.contains(&format!("generator {g}, discriminator {d}")),
        "{out}"
    );
    let plain = dir.join("runs/plain/config.json");
    let cfg = std::fs::read_to_string(&plain).expect("config");
    assert!(cfg.contains("\"gan_hidden\": 0,"), "{cfg}");
    std::fs::write(&plain, cfg.replace("\"gan_hidden\": 0,", "")).expect("write config");
    let o = sample("plain");
    assert!(o.status.success(), "{}", text(&o));

    for (args, says) in [
        (
            &[
                "train",
                "--model",
                "vae",
                "--gan-width",
                "16",
                "--epochs",
                "1",
            ][..],
            "--gan-width is for --model dcgan",
        ),
        (
            &[
                "train",
                "--model",
                "ae",
                "--gan-hidden",
                "16",
                "--epochs",
                "1",
            ][..],
            "--gan-hidden is for --model dcgan",
        ),
        (
            &[
                "train",
                "--model",
                "dcgan",
                "--gan-width",
                "15",
                "--epochs",
                "1",
            ][..],
            "--gan-width must be even",
        ),
    ] {
        let o = nabla(&dir, args);
        let out = text(&o);
        assert!(!o.status.success() && out.contains(says), "{args:?}: {out}");
    }
}
