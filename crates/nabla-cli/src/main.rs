//! The `nabla` command: train, evaluate and inspect models.

mod args;
mod commands;
mod confusion;
mod data_spec;
mod distributed;
mod run_config;

use args::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = (|| -> anyhow::Result<()> {
        if let Some(t) = cli.threads {
            nabla::set_num_threads(t as usize)?;
        }
        let run = || match &cli.command {
            Command::Train(a) => commands::train::run(a),
            Command::Eval(a) => commands::eval::run(a),
            Command::Predict(a) => commands::predict::run(a),
            Command::Summary(a) => commands::summary::run(a),
            Command::Zoo(a) => commands::zoo::run(a),
            Command::Viz(v) => commands::viz::run(v),
            Command::Sample(a) => commands::sample::run(a),
            Command::Playground(a) => commands::playground::run(a),
            Command::Classic(c) => commands::classic::run(c),
            Command::Protocol(a) => commands::protocol::run(a),
            Command::Bench(a) => commands::bench::run(a),
            Command::Rl(c) => commands::rl::run(c),
        };
        if runs_on_pool(&cli.command) {
            // Kernels called from a pool thread split their work from inside the pool: the
            // caller takes a part itself and wakes one thread, instead of waking all of them
            // and sleeping until they finish. Measured on the idle 2-core machine, 2026-11-27:
            // MLP epoch 1.17 -> 1.09 s, LeNet-5 epoch 3.2-3.3 -> 2.7-3.1 s.
            rayon::scope(|_| run())
        } else {
            run()
        }
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether a command runs on a thread of the kernels' pool (see `main`). Not with one thread
/// (the data loader's prefetch thread may need the pool while the command waits for it), not
/// for the playground (its server would hold a pool thread for its whole life) and not for
/// MPI training (MPI calls stay on the thread that initialized MPI).
fn runs_on_pool(command: &Command) -> bool {
    if nabla::num_threads() < 2 {
        return false;
    }
    match command {
        Command::Playground(_) => false,
        Command::Train(a) => a.distributed.is_none(),
        _ => true,
    }
}
