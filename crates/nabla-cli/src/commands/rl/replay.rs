//! `nabla rl replay`: steps an environment through commands read from stdin, one JSON
//! object per line, and writes one JSON object per line to stdout:
//!
//! - `{"state": [..]}` starts an episode from that physical state → `{"obs": [..]}`;
//! - `{"seed": S}` starts an episode from seed `S` → `{"obs": [..]}`;
//! - `{"action": A}` (an index, or a list for continuous actions) →
//!   `{"obs": [..], "reward": R, "terminated": B, "truncated": B}`.
//!
//! Observations are written as the exact f64 values of their f32 numbers.

use super::ReplayArgs;
use anyhow::{bail, Context, Result};
use nabla_rl::{Action, Env};
use serde_json::{json, Value};
use std::io::{BufRead, BufWriter, Write};

/// Runs `nabla rl replay`.
pub fn run(a: &ReplayArgs) -> Result<()> {
    let mut env = nabla_rl::make(&a.env)?;
    let stdin = std::io::stdin();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = answer(env.as_mut(), &line).with_context(|| format!("stdin line {}", i + 1))?;
        writeln!(out, "{reply}")?;
    }
    out.flush()?;
    Ok(())
}

fn obs_json(obs: &[f32]) -> Value {
    Value::from(obs.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>())
}

/// The reply to one command line.
fn answer(env: &mut dyn Env, line: &str) -> Result<Value> {
    let cmd: Value = serde_json::from_str(line).context("not a JSON object")?;
    if let Some(state) = cmd.get("state") {
        let state: Vec<f64> =
            serde_json::from_value(state.clone()).context("\"state\" must be a list of numbers")?;
        return Ok(json!({ "obs": obs_json(&env.reset_to_state(&state)?) }));
    }
    if let Some(seed) = cmd.get("seed") {
        let seed = seed
            .as_u64()
            .context("\"seed\" must be a non-negative integer")?;
        return Ok(json!({ "obs": obs_json(&env.reset(Some(seed))) }));
    }
    let Some(action) = cmd.get("action") else {
        bail!("expected a \"state\", \"seed\" or \"action\" key, got {line}");
    };
    let action = match action {
        Value::Number(n) => Action::Discrete(
            n.as_u64()
                .context("a discrete action must be a non-negative integer")? as usize,
        ),
        Value::Array(_) => Action::Continuous(
            serde_json::from_value(action.clone())
                .context("a continuous action must be a list of numbers")?,
        ),
        _ => bail!("\"action\" must be an integer or a list of numbers"),
    };
    let s = env.step(&action)?;
    Ok(json!({
        "obs": obs_json(&s.obs),
        "reward": s.reward,
        "terminated": s.terminated,
        "truncated": s.truncated,
    }))
}
