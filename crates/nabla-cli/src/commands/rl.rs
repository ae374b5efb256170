//! `nabla rl train|eval|play|replay`: reinforcement learning on the tasks of `nabla-rl`.

mod eval;
mod play;
mod replay;
mod train;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use nabla_rl::agent::{Algo, RunSpec};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The `nabla rl` subcommands.
#[derive(Subcommand, Debug)]
pub enum RlCommand {
    /// Train an agent; the run folder gets config.json, metrics.csv (one line per episode),
    /// returns.png and weights.safetensors.
    Train(TrainArgs),
    /// Evaluate a trained agent's greedy policy: mean and spread of the returns.
    Eval(EvalArgs),
    /// Draw one episode of a trained agent as an animated GIF.
    Play(PlayArgs),
    /// Play actions read as JSON lines from stdin and print each step as a JSON line (how
    /// tools/rl_gym_parity.py compares the physics with Gymnasium).
    Replay(ReplayArgs),
}

/// `nabla rl train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Algorithm: dqn (cartpole, acrobot, mountaincar), ppo, reinforce, a2c (those and
    /// pendulum) or q-learning (frozenlake, frozenlake8x8, gridworld).
    #[arg(long, default_value = "dqn")]
    pub algo: String,
    /// Environment: cartpole, acrobot, mountaincar, pendulum, frozenlake, frozenlake8x8,
    /// gridworld.
    #[arg(long, default_value = "cartpole")]
    pub env: String,
    /// Environment steps (default: 500000 for dqn and ppo, 3000000 for q-learning).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub steps: Option<u64>,
    /// Seed of the networks, exploration and environments.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// PPO and A2C: environments stepped together.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub envs: u64,
    /// DQN: Double DQN (the online network picks the next action, the target values it).
    #[arg(long)]
    pub double: bool,
    /// Run name: results go to runs/NAME (default: rl-ALGO-ENV, numbered if it exists).
    #[arg(long)]
    pub out: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `nabla rl eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A run folder of `nabla rl train`.
    #[arg(long)]
    pub weights: PathBuf,
    /// Evaluation episodes.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub episodes: u64,
    /// Seed of the evaluation episodes.
    #[arg(long, default_value_t = 12345)]
    pub seed: u64,
}

/// `nabla rl play`.
#[derive(Args, Debug)]
pub struct PlayArgs {
    /// A run folder of `nabla rl train`.
    #[arg(long)]
    pub weights: PathBuf,
    /// The GIF to write.
    #[arg(long, default_value = "episode.gif")]
    pub out: PathBuf,
    /// Seed of the episode.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep one frame in this many (smaller files for long episodes).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub every: u64,
}

/// `nabla rl replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Environment: cartpole, acrobot, mountaincar, pendulum (or Gymnasium's id).
    #[arg(long)]
    pub env: String,
}

/// Runs `nabla rl ...`.
pub fn run(cmd: &RlCommand) -> Result<()> {
    match cmd {
        RlCommand::Train(a) => train::run(a),
        RlCommand::Eval(a) => eval::run(a),
        RlCommand::Play(a) => play::run(a),
        RlCommand::Replay(a) => replay::run(a),
    }
}

/// The run's description as written to config.json.
fn spec_json(spec: &RunSpec) -> Value {
    json!({
        "kind": "rl",
        "algo": spec.algo.name(),
        "env": spec.env,
        "seed": spec.seed,
        "steps": spec.steps,
        "envs": spec.num_envs,
        "double": spec.double,
    })
}

/// Reads the config.json of a run folder.
fn load_spec(dir: &Path) -> Result<RunSpec> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (is {} a run folder of `nabla rl train`?)",
            path.display(),
            dir.display()
        )
    })?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if v["kind"] != "rl" {
        bail!(
            "{} is not the config of a `nabla rl train` run",
            path.display()
        );
    }
    let field = |k: &str| {
        v[k].as_u64()
            .with_context(|| format!("{}: \"{k}\" must be a non-negative integer", path.display()))
    };
    Ok(RunSpec {
        algo: Algo::parse(v["algo"].as_str().unwrap_or_default())?,
        env: v["env"]
            .as_str()
            .with_context(|| format!("{}: \"env\" is missing", path.display()))?
            .to_string(),
        seed: field("seed")?,
        steps: field("steps")? as usize,
        num_envs: field("envs")? as usize,
        double: v["double"].as_bool().unwrap_or(false),
    })
}
