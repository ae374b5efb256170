//! `nabla rl train|eval|replay` end to end on short runs, and their errors.

mod common;

use common::{nabla, text, workdir};
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn rl_train_writes_a_run_folder_that_eval_reads() {
    let dir = workdir("rl-train");
    let o = nabla(
        &dir,
        &[
            "rl", "train", "--algo", "ppo", "--env", "cartpole", "--steps", "4096", "--out", "p",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let run = dir.join("runs/p");
    for f in [
        "config.json",
        "metrics.csv",
        "returns.png",
        "weights.safetensors",
    ] {
        assert!(run.join(f).is_file(), "{f} missing: {out}");
    }
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("episode,step,return,mean_return_100\n"));
    assert!(csv.lines().count() > 10, "{csv}");
    let o = nabla(
        &dir,
        &["rl", "eval", "--weights", "runs/p", "--episodes", "5"],
    );
    let out = text(&o);
    assert!(o.status.success() && out.contains("mean return"), "{out}");
    // Q-learning on the lake saves its table and evaluates from it too.
    let o = nabla(
        &dir,
        &[
            "rl",
            "train",
            "--algo",
            "q-learning",
            "--env",
            "frozenlake",
            "--steps",
            "2000",
            "--out",
            "q",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = nabla(
        &dir,
        &["rl", "eval", "--weights", "runs/q", "--episodes", "5"],
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn rl_refuses_bad_input_with_clear_errors() {
    let dir = workdir("rl-errors");
    let cases: [(&[&str], &str); 5] = [
        (
            &["rl", "train", "--env", "nosuchenv"],
            "unknown environment",
        ),
        (&["rl", "train", "--algo", "sarsa"], "unknown algorithm"),
        (
            &["rl", "train", "--algo", "dqn", "--env", "pendulum"],
            "continuous actions",
        ),
        (
            &["rl", "train", "--algo", "q-learning", "--env", "cartpole"],
            "discrete states",
        ),
        (&["rl", "eval", "--weights", "runs/none"], "run folder"),
    ];
    for (args, want) in cases {
        let o = nabla(&dir, args);
        let out = text(&o);
        assert!(!o.status.success(), "{args:?} succeeded: {out}");
        assert!(out.contains(want), "{args:?}: {out}");
        assert!(!out.contains("panicked"), "{out}");
    }
    let o = nabla(&dir, &["rl", "train", "--steps", "0"]);
    assert!(!o.status.success());
}

#[test]
fn rl_replay_steps_from_a_given_state_and_names_bad_lines() {
    let run = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nabla"))
            .args(["rl", "replay", "--env", "cartpole"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let o = run("{\"state\": [0, 0, 0, 0]}\n{\"action\": 1}\n");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "{\"obs\":[0.0,0.0,0.0,0.0]}");
    assert!(lines[1].contains("\"reward\":1.0") && lines[1].contains("\"terminated\":false"));
    let o = run("{\"action\": 7}\n");
    assert!(!o.status.success());
    assert!(text(&o).contains("line 1"), "{}", text(&o));
}
