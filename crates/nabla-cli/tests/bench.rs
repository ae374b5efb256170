//! `nabla bench` end to end: its JSON line and its refusal of unknown workloads.

use std::process::{Command, Output};

fn nabla(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .output()
        .expect("the nabla binary runs")
}

#[test]
fn latency_lenet5_prints_one_valid_json_line() {
    let o = nabla(&[
        "--threads",
        "1",
        "bench",
        "--only",
        "latency_lenet5",
        "--repeat",
        "1",
        "--json",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).expect("valid JSON");
    assert_eq!(v["workload"], "latency_lenet5");
    assert_eq!(v["repeat"], 1);
    assert_eq!(v["threads"], 1);
    let median = v["median_s"].as_f64().expect("median_s is a number");
    assert!(median > 0.0 && median < 10.0, "{median}");
    assert!(v["min_s"].as_f64().expect("min_s") <= median);
    let rate = v["examples_per_s"].as_f64().expect("examples_per_s");
    // Batch 1: examples/s is 1 / median, up to the 6 decimals (1 µs) the median is printed with.
    assert!(
        (rate * median - 1.0).abs() <= 1e-6 * rate + 1e-3,
        "batch 1: {rate} × {median}"
    );
    assert!(v["peak_rss_mb"].as_f64().expect("peak_rss_mb on Linux") > 1.0);
}

#[test]
fn an_unknown_workload_is_refused_with_the_names() {
    let o = nabla(&["bench", "--only", "lenet"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown workload 'lenet'"), "{err}");
    for name in [
        "mlp_epoch",
        "lenet5_epoch",
        "resnet18_step_32",
        "resnet18_step_224",
        "latency_lenet5",
        "latency_resnet18",
    ] {
        assert!(err.contains(name), "{name} missing from: {err}");
    }
    assert!(o.stdout.is_empty(), "nothing runs before the check");
}
