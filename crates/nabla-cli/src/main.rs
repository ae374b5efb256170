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
        match &cli.command {
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
