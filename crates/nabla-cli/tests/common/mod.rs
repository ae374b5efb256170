//! Helpers shared by the binary's end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn nabla(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the nabla binary runs")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nabla-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The percentage after `label` in the output, e.g. "test accuracy 91.20%".
pub fn percent_after(out: &str, label: &str) -> f64 {
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

/// Runs each `(arguments, expected text)` case and checks that it fails with the text in its
/// output, without a panic or an allocator abort.
pub fn assert_clear_errors(dir: &Path, cases: &[(&[&str], &str)]) {
    for (args, want) in cases {
        let o = nabla(dir, args);
        let out = text(&o);
        assert!(!o.status.success(), "{args:?} succeeded:\n{out}");
        assert!(out.contains(want), "{args:?}: expected '{want}' in:\n{out}");
        assert!(
            !out.contains("panicked") && !out.contains("memory allocation"),
            "{args:?}:\n{out}"
        );
    }
}
