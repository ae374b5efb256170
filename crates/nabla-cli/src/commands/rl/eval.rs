//! `nabla rl eval`: the greedy policy of a trained agent over evaluation episodes.

use super::{load_spec, EvalArgs};
use anyhow::{bail, Context, Result};
use nabla_rl::agent::Agent;
use nabla_rl::eval::evaluate;

/// Runs `nabla rl eval`.
pub fn run(a: &EvalArgs) -> Result<()> {
    if !a.weights.is_dir() {
        bail!(
            "--weights must be a run folder of `nabla rl train`, got {}",
            a.weights.display()
        );
    }
    let spec = load_spec(&a.weights)?;
    let file = a.weights.join("weights.safetensors");
    let agent = Agent::load(&spec, &file).with_context(|| format!("loading {}", file.display()))?;
    let mut env = Agent::env(&spec)?;
    let report = evaluate(env.as_mut(), a.episodes as usize, a.seed, &mut |obs, _| {
        agent.act(obs)
    })?;
    let min = report.returns.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = report
        .returns
        .iter()
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    println!(
        "{} on {}: mean return {:.2} ± {:.2} over {} episodes (min {min}, max {max})",
        spec.algo.name(),
        spec.env,
        report.mean,
        report.std,
        a.episodes
    );
    Ok(())
}
