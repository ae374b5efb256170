//! `nabla rl train`: trains an agent with a progress bar showing the mean return of the
//! last 100 episodes, and leaves config.json, metrics.csv, returns.png and
//! weights.safetensors in the run folder.

use super::{spec_json, TrainArgs};
use crate::run_config::new_run_dir;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use nabla_rl::agent::{Agent, Algo, RunSpec};
use nabla_rl::curve::{ReturnCurve, CSV_HEADER};
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

/// Writes the run folder's `config.json` and opens its `metrics.csv` with the header.
fn open_run_folder(dir: &Path, spec: &RunSpec) -> Result<BufWriter<std::fs::File>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let config = serde_json::to_string_pretty(&spec_json(spec))?;
    std::fs::write(dir.join("config.json"), config + "\n")
        .with_context(|| format!("writing {}", dir.join("config.json").display()))?;
    let csv_path = dir.join("metrics.csv");
    let mut csv = BufWriter::new(
        std::fs::File::create(&csv_path)
            .with_context(|| format!("creating {}", csv_path.display()))?,
    );
    writeln!(csv, "{CSV_HEADER}")?;
    Ok(csv)
}

/// A bar over the run's steps on a terminal (none with `--quiet` or when stderr is not one).
fn progress_bar(a: &TrainArgs, spec: &RunSpec) -> Option<ProgressBar> {
    (!a.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(spec.steps as u64);
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30.cyan/blue}] {pos}/{len} steps {msg} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar.set_prefix(format!("{} {}", spec.algo.name(), spec.env));
        bar
    })
}

/// Runs `nabla rl train`.
pub fn run(a: &TrainArgs) -> Result<()> {
    let algo = Algo::parse(&a.algo)?;
    let spec = RunSpec {
        algo,
        env: a.env.clone(),
        seed: a.seed,
        steps: a.steps.map_or(algo.default_steps(), |s| s as usize),
        num_envs: a.envs as usize,
        double: a.double,
    };
    let mut agent = Agent::new(&spec)?;
    let dir = new_run_dir(
        a.out.as_deref(),
        &format!("rl-{}-{}", algo.name(), a.env),
        false,
    )?;
    let csv_path = dir.join("metrics.csv");
    let mut csv = open_run_folder(&dir, &spec)?;
    let bar = progress_bar(a, &spec);
    let mut curve = ReturnCurve::new(100);
    let mut write_error = None;
    let start = Instant::now();
    agent.train(&spec, &mut |step, episode_return| {
        let line = curve.push(step, episode_return);
        if let Err(e) = writeln!(csv, "{line}") {
            write_error.get_or_insert(e);
        }
        if let Some(bar) = &bar {
            bar.set_position(step as u64);
            let mean = curve.recent_mean().unwrap_or(f64::NAN);
            bar.set_message(format!("mean return (last 100) {mean:.1}"));
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(e) = write_error {
        return Err(e).with_context(|| format!("writing {}", csv_path.display()));
    }
    csv.flush()?;
    let seconds = start.elapsed().as_secs_f64();
    agent.save(&dir.join("weights.safetensors"))?;
    let title = format!("{} on {}, seed {}", algo.name(), spec.env, spec.seed);
    curve.write_png(&dir.join("returns.png"), &title)?;
    println!(
        "{} episodes in {} steps, {seconds:.1} s ({:.0} steps/s); mean return of the last 100: {:.2}",
        curve.episodes.len(),
        spec.steps,
        spec.steps as f64 / seconds.max(1e-9),
        curve.recent_mean().unwrap_or(f64::NAN)
    );
    println!("saved {}", dir.display());
    Ok(())
}
