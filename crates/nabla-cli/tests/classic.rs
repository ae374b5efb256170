//! `nabla classic ...` and `nabla protocol` end to end on small subsets, and their errors.

mod common;

use common::{nabla, percent_after, text, workdir};

#[test]
fn svm_on_1000_mnist_images_beats_88_percent_and_saves_the_model() {
    let dir = workdir("classic-svm");
    let o = nabla(
        &dir,
        &[
            "classic",
            "svm",
            "--data",
            "mnist",
            "--train-size",
            "1000",
            "--test-size",
            "1000",
            "--c",
            "10",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(percent_after(&out, "test accuracy") > 88.0, "{out}");
    assert!(out.contains("confusion matrix"), "{out}");
    assert!(dir.join("runs/classic-svm/model.json").is_file());
    // The linear solver too, with an explicit output path.
    let o = nabla(
        &dir,
        &[
            "classic",
            "svm",
            "--kernel",
            "linear",
            "--solver",
            "dcd",
            "--train-size",
            "1000",
            "--test-size",
            "500",
            "--output",
            "linear.json",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(percent_after(&out, "test accuracy") > 75.0, "{out}");
    assert!(dir.join("linear.json").is_file());
}

#[test]
fn forest_on_1000_mnist_images_beats_80_percent() {
    let dir = workdir("classic-forest");
    let o = nabla(
        &dir,
        &[
            "classic",
            "forest",
            "--train-size",
            "1000",
            "--test-size",
            "1000",
            "--trees",
            "30",
            "--max-depth",
            "12",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(percent_after(&out, "test accuracy") > 80.0, "{out}");
    assert!(percent_after(&out, "out-of-bag accuracy") > 70.0, "{out}");
    assert!(out.contains("most important features"), "{out}");
    assert!(dir.join("runs/classic-forest/model.json").is_file());
}

#[test]
fn hmm_on_a_short_text_beats_the_uniform_code() {
    let dir = workdir("classic-hmm");
    let words = "the cat sat on the mat and the dog ate the hat ".repeat(200);
    std::fs::write(dir.join("t.txt"), &words).unwrap();
    let o = nabla(
        &dir,
        &[
            "classic",
            "hmm",
            "--data",
            "text:t.txt",
            "--states",
            "3",
            "--train-size",
            "8000",
            "--test-size",
            "1000",
            "--iterations",
            "15",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("state 2 emits"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("held-out"))
        .expect("a held-out line");
    let nums: Vec<f64> = line
        .split([',', ' '])
        .filter_map(|w| w.parse().ok())
        .collect();
    // [hmm bits, chain bits, uniform bits]
    assert!(nums[0] < nums[2] && nums[1] < nums[2], "{line}");
    assert!(dir.join("runs/classic-hmm/model.json").is_file());
}

#[test]
fn protocol_prints_one_table_of_the_five_protocols() {
    let dir = workdir("classic-protocol");
    let o = nabla(
        &dir,
        &[
            "protocol",
            "--labelled",
            "200",
            "--unlabelled",
            "3000",
            "--test-size",
            "300",
            "--hidden",
            "64,32",
            "--pretrain-epochs",
            "6",
            "--batch-size",
            "32",
            "--lr",
            "0.003",
            "--epochs",
            "40",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for row in [
        "| SVM (RBF) on raw pixels |",
        "| supervised from random weights |",
        "| pre-training + SVM on the codes |",
        "| pre-training + fine-tuning |",
        "| DBN pre-training (RBMs) + fine-tuning |",
    ] {
        // Ten classes from 200 labels: far better than chance (10%).
        assert!(percent_after(&out, row) > 50.0, "{row}\n{out}");
    }
    let o = nabla(&dir, &["protocol", "--only", "dbn,nope"]);
    assert!(
        !o.status.success() && text(&o).contains("no protocol 'nope'"),
        "{}",
        text(&o)
    );
}

#[test]
fn kmeans_clusters_mnist_digits_far_better_than_chance() {
    let dir = workdir("classic-kmeans");
    let o = nabla(
        &dir,
        &[
            "classic",
            "kmeans",
            "--train-size",
            "1000",
            "--test-size",
            "200",
            "--centroids-png",
            "c.png",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // k-means on MNIST pixels matches about half of the digits to their class; chance is 10%.
    let acc = percent_after(
        &out,
        "clustering accuracy (Hungarian matching of clusters to classes):",
    );
    assert!(acc > 35.0, "{out}");
    assert!(dir.join("c.png").is_file());
    let o = nabla(
        &dir,
        &[
            "classic",
            "kmeans",
            "--codes",
            "runs/none",
            "--train-size",
            "10",
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("runs/none"),
        "{}",
        text(&o)
    );
}

#[test]
fn mrf_removes_most_flipped_pixels_of_mnist_digits() {
    let dir = workdir("classic-mrf");
    let o = nabla(
        &dir,
        &[
            "classic", "mrf", "--flip", "0.1", "--images", "10", "--png", "m.png",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let after = |what: &str| -> f64 {
        let at = out
            .find(what)
            .unwrap_or_else(|| panic!("{what} missing: {out}"));
        let before: &str = &out[..at];
        let start = before.rfind(' ').map_or(0, |i| i + 1);
        before[start..]
            .trim_end_matches('%')
            .parse()
            .expect("a percentage")
    };
    let noisy = after("% noisy");
    assert!((8.0..12.0).contains(&noisy), "{out}");
    assert!(after("% after ICM") < noisy / 2.0, "{out}");
    assert!(after("% after Gibbs") < noisy / 2.0, "{out}");
    assert!(dir.join("m.png").is_file());
    let o = nabla(&dir, &["classic", "mrf", "--flip", "0.7", "--images", "1"]);
    assert!(
        !o.status.success() && text(&o).contains("(0, 0.5)"),
        "{}",
        text(&o)
    );
}

#[test]
fn csv_with_a_missing_value_or_a_word_names_line_and_column() {
    let dir = workdir("classic-csv");
    std::fs::write(dir.join("gap.csv"), "x,y,label\n1,2,0\n3,,1\n").unwrap();
    std::fs::write(dir.join("word.csv"), "x,y,label\n1,2,0\n3,four,1\n").unwrap();
    let o = nabla(&dir, &["classic", "forest", "--data", "csv:gap.csv"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("gap.csv:3:2: missing value (empty cell)"),
        "{}",
        text(&o)
    );
    let o = nabla(&dir, &["classic", "svm", "--data", "csv:word.csv"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("word.csv:3:2: 'four' is not a finite number"),
        "{}",
        text(&o)
    );
}

#[test]
fn bad_options_are_clear_errors() {
    let dir = workdir("classic-bad");
    let cases: [(&[&str], &str); 5] = [
        (&["classic", "svm", "--gamma=-1"], "--gamma '-1'"),
        (
            &["classic", "svm", "--solver", "dcd"],
            "--solver dcd trains linear SVMs only",
        ),
        (
            &["classic", "svm", "--c", "0", "--train-size", "50"],
            "C must be positive",
        ),
        (
            &["classic", "forest", "--max-features", "0"],
            "--max-features '0'",
        ),
        (&["classic", "hmm", "--data", "text:nope.txt"], "nope.txt"),
    ];
    for (args, want) in cases {
        let o = nabla(&dir, args);
        assert!(!o.status.success(), "{args:?}");
        assert!(text(&o).contains(want), "{args:?}: {}", text(&o));
    }
}
