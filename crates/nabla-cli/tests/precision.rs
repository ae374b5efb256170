//! `--precision bf16`: mixed-precision training is recorded in the run's config, kept by
//! `--resume` (and a contradicting flag refused), and eval, predict and bench run with it.

mod common;
use common::{nabla, text, workdir};

#[test]
fn bf16_training_is_recorded_resumed_and_evaluated() {
    let dir = workdir("precision");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--model",
            "mlp",
            "--data",
            "mnist:0-4",
            "--train-size",
            "256",
            "--batch-size",
            "64",
            "--quiet",
            "--out",
            "mixed",
        ];
        args.extend(extra);
        nabla(&dir, &args)
    };
    let o = train(&["--epochs", "1", "--precision", "bf16"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("bf16 products ("),
        "the first line names the bf16 path: {out}"
    );
    let cfg = std::fs::read_to_string(dir.join("runs/mixed/config.json")).expect("config");
    assert!(cfg.contains("\"precision\": \"bf16\""), "{cfg}");

    // --resume keeps bf16 without the flag, and refuses a contradicting one.
    let o = train(&["--resume", "--epochs", "2"]);
    let out = text(&o);
    assert!(
        o.status.success() && out.contains("bf16 products ("),
        "{out}"
    );
    let o = train(&["--resume", "--epochs", "3", "--precision", "f32"]);
    let out = text(&o);
    assert!(
        !o.status.success()
            && out.contains("--precision bf16")
            && out.contains("drop --precision f32"),
        "{out}"
    );

    let x = nabla::Tensor::rand(&[3, 1, 28, 28], nabla::DType::F32, &nabla::Device::Cpu)
        .expect("input");
    x.write_npy(dir.join("x.npy")).expect("write npy");
    for args in [
        &["eval", "--weights", "runs/mixed", "--precision", "bf16"][..],
        &[
            "predict",
            "--weights",
            "runs/mixed",
            "--precision",
            "bf16",
            "x.npy",
        ][..],
        &[
            "bench",
            "--only",
            "latency_lenet5",
            "--repeat",
            "1",
            "--precision",
            "bf16",
        ][..],
    ] {
        let o = nabla(&dir, args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    let o = nabla(
        &dir,
        &["eval", "--weights", "runs/mixed", "--precision", "f16"],
    );
    assert!(
        !o.status.success() && text(&o).contains("f16"),
        "{}",
        text(&o)
    );
}
