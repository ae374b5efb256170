//! `nabla train --distributed mpi` under `mpirun` (needs Open MPI; built and run only with
//! `--features distributed`, as `.ci/run` does):
//! `cargo test -p nabla-cli --features distributed --release --test distributed`.
#![cfg(feature = "distributed")]

use nabla_nn::checkpoint;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A fresh working folder (runs go to `runs/` under it).
fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nabla-mpi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `nabla --threads 1 ARGS` in `dir`, as one process (`np == 0`) or under `mpirun -np NP`
/// with `--distributed mpi`, with extra environment variables.
fn nabla(dir: &Path, np: usize, args: &[&str], env: &[(&str, &str)]) -> Output {
    let exe = env!("CARGO_BIN_EXE_nabla");
    let mut cmd = if np == 0 {
        Command::new(exe)
    } else {
        let mut c = Command::new("mpirun");
        // Root in CI containers; more ranks than cores on small machines; no pinning, as the
        // machine is shared.
        c.args([
            "-np",
            &np.to_string(),
            "--oversubscribe",
            "--bind-to",
            "none",
        ])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .arg(exe);
        c
    };
    cmd.args(["--threads", "1", "train", "--quiet"]).args(args);
    if np > 0 {
        cmd.args(["--distributed", "mpi"]);
    }
    let out = cmd
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .expect("mpirun and the nabla binary run (is Open MPI installed?)");
    if out.status.success() {
        // Keep the output of passing runs visible with --nocapture.
        println!("{}", String::from_utf8_lossy(&out.stdout));
    }
    out
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The largest absolute difference between two checkpoints with the same tensors.
fn max_difference(a: &Path, b: &Path) -> f32 {
    let (a, b) = (checkpoint::load(a).unwrap(), checkpoint::load(b).unwrap());
    assert_eq!(a.tensors.len(), b.tensors.len());
    let mut worst = 0.0f32;
    for ((na, ta), (nb, tb)) in a.tensors.iter().zip(&b.tensors) {
        assert_eq!(na, nb);
        let (va, vb) = (ta.to_vec::<f32>().unwrap(), tb.to_vec::<f32>().unwrap());
        for (x, y) in va.iter().zip(&vb) {
            worst = worst.max((x - y).abs());
        }
    }
    worst
}

#[test]
fn two_ranks_with_batch_32_give_the_weights_of_one_process_with_batch_64() {
    let dir = workdir("equivalence");
    // LeNet-5 on 1024 MNIST digits, Adam, 8 steps, the same seed.
    let common = ["--train-size", "1024", "--epochs", "1", "--max-steps", "8"];
    let run = |np, batch: &str, out: &str| {
        let mut args = common.to_vec();
        args.extend(["--batch-size", batch, "--out", out]);
        let o = nabla(&dir, np, &args, &[]);
        assert!(o.status.success(), "{}", text(&o));
        dir.join("runs").join(out).join("model.safetensors")
    };
    let one = run(0, "64", "one");
    let two = run(2, "32", "two");
    let half = run(0, "32", "half");
    // Measured: 5.9e-7 (weights up to 0.21); only the float summation order differs.
    let diff = max_difference(&one, &two);
    assert!(
        diff < 1e-5,
        "2 ranks × 32 vs 1 × 64: largest difference {diff}"
    );
    // The control: one process with batch 32 alone takes other steps.
    let control = max_difference(&half, &two);
    assert!(control > 1e-3, "1 × 32 vs 2 × 32 differ by only {control}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The MLP on the spiral set: 800 examples, batch 16 per rank, 25 steps per epoch; the
/// fault strikes rank 1 at step 35, mid-epoch 2.
const SPIRAL: [&str; 10] = [
    "--model",
    "mlp",
    "--data",
    "toy:spiral",
    "--batch-size",
    "16",
    "--out",
    "run",
    "--dist-timeout",
    "5",
];

/// Starts a 3-epoch run with the fault `fault` and checks that it ends non-zero, in time,
/// with `message` in its output, leaving epoch 1's checkpoint, from which 2 ranks resume.
fn a_fault_ends_the_job(name: &str, fault: &str, message: &str) {
    let dir = workdir(name);
    let mut args = SPIRAL.to_vec();
    args.extend(["--epochs", "3"]);
    let started = Instant::now();
    let o = nabla(&dir, 2, &args, &[("NABLA_DIST_FAULT", fault)]);
    let took = started.elapsed();
    let all = text(&o);
    assert!(!o.status.success(), "{all}");
    // The timeout is 5 s; start-up and the first epoch take about 1 s.
    assert!(took < Duration::from_secs(60), "took {took:?}\n{all}");
    assert!(all.contains(message), "{all}");
    let ckpt = checkpoint::load(dir.join("runs/run/checkpoint.safetensors")).unwrap();
    assert_eq!(ckpt.metadata["epochs_done"], "1", "{all}");
    args = SPIRAL.to_vec();
    args.extend(["--epochs", "2", "--resume"]);
    let o = nabla(&dir, 2, &args, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("after epoch 1") && stdout.contains("epoch 2/2"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_hung_rank_is_named_and_ends_the_job_after_the_timeout() {
    a_fault_ends_the_job(
        "hang",
        "1:hang:35",
        "rank 1 did not reach gradients of step 35",
    );
}

#[test]
fn a_killed_rank_ends_the_job() {
    // mpirun notices the death itself and names the rank.
    a_fault_ends_the_job("kill", "1:kill:35", "process rank 1");
}

#[test]
fn bad_distributed_options_are_refused_before_mpi_starts() {
    let dir = workdir("options");
    let o = nabla(
        &dir,
        0,
        &["--distributed", "mpi", "--dist-timeout", "0"],
        &[],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("--dist-timeout must be a positive number"));
    let o = nabla(&dir, 2, &SPIRAL, &[("NABLA_DIST_FAULT", "rank one")]);
    assert!(!o.status.success());
    assert!(text(&o).contains("RANK:kill:N"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(dir);
}
