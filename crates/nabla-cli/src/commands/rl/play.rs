//! `nabla rl play`: one episode of a trained agent's greedy policy, drawn as an animated GIF.

use super::{load_spec, PlayArgs};
use anyhow::{bail, Context, Result};
use nabla_rl::agent::Agent;
use nabla_rl::render;

/// Runs `nabla rl play`.
pub fn run(a: &PlayArgs) -> Result<()> {
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
    let name = env.name().to_string();
    // The 8×8 lake shares the task name of the 4×4 one; its picture needs the bigger map.
    let picture = if env.observation_space().n() == Some(64) {
        "frozenlake8x8".to_string()
    } else {
        name.clone()
    };
    let mut obs = env.reset(Some(a.seed));
    let mut frames = vec![render::draw(&picture, &env.state())?];
    let mut total = 0.0;
    let mut steps = 0;
    loop {
        let s = env.step(&agent.act(&obs)?)?;
        total += s.reward;
        steps += 1;
        frames.push(render::draw(&picture, &env.state())?);
        if s.done() {
            break;
        }
        obs = s.obs;
    }
    let every = a.every.max(1) as usize;
    let kept: Vec<_> = frames.into_iter().step_by(every).collect();
    let gif = render::to_gif(&kept, (2 * every).min(u16::MAX as usize) as u16);
    std::fs::write(&a.out, gif).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "{} on {name}: return {total} in {steps} steps; {} frames written to {}",
        spec.algo.name(),
        kept.len(),
        a.out.display()
    );
    Ok(())
}
