//! The `nabla` command: train, evaluate and inspect models.

/// `println!` for this crate: writes a line to standard output and ignores a reader that has
/// gone (`nabla train | head -3`), where std's macro panics with "Broken pipe". Output that
/// can no longer be read must not end a run: what a run keeps is in its folder. Defined before
/// the modules so that it replaces std's macro in all of them.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` for this crate, ignoring a closed standard output like [`println!`].
macro_rules! print {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod args;
mod commands;
mod confusion;
mod distributed;
mod gan_metrics;
mod run_config;
mod run_lock;

use args::{Cli, Command};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = (|| -> anyhow::Result<()> {
        if let Some(t) = cli.threads {
            nabla::set_num_threads(t as usize)?;
        }
        commands::set_device(cli.device);
        if runs_on_pool(&cli.command) {
            // Kernels called from a pool thread split their work from inside the pool: the
            // caller takes a part itself and wakes one thread, instead of waking all of them
            // and sleeping until they finish (on 2 cores, an MLP epoch 7% and a LeNet-5
            // epoch up to 15% faster).
            rayon::scope(|_| dispatch(&cli.command))
        } else {
            dispatch(&cli.command)
        }
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// The parsed command line, with the flags `train` was given explicitly (what `--resume`
/// may and may not change); `Err` is the exit code after clap has printed its message.
fn parse_cli() -> Result<Cli, ExitCode> {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    match parsed {
        Ok((mut cli, matches)) => {
            if let (Command::Train(a), Some(m)) =
                (&mut cli.command, matches.subcommand_matches("train"))
            {
                a.given = m
                    .ids()
                    .filter(|id| m.value_source(id.as_str()) == Some(ValueSource::CommandLine))
                    .map(|id| id.to_string())
                    .collect();
            }
            Ok(cli)
        }
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            eprintln!("error: {}", non_utf8_argument());
            Err(ExitCode::from(2))
        }
        Err(e) => e.exit(),
    }
}

/// Runs the command.
fn dispatch(command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Train(a) => commands::train::run(a),
        Command::Eval(a) => {
            commands::with_precision(a.precision.precision, || commands::eval::run(a))
        }
        Command::Predict(a) => {
            commands::with_precision(a.precision.precision, || commands::predict::run(a))
        }
        Command::Summary(a) => commands::summary::run(a),
        Command::Zoo(a) => commands::zoo::run(a),
        Command::Viz(v) => commands::viz::run(v),
        Command::Sample(a) => commands::sample::run(a),
        Command::Playground(a) => commands::playground::run(a),
        Command::Classic(c) => commands::classic::run(c),
        Command::Protocol(a) => commands::protocol::run(a),
        Command::Bench(a) => {
            commands::with_precision(a.precision.precision, || commands::bench::run(a))
        }
        Command::Export(a) => commands::export::run(a),
        Command::GanScore(a) => commands::gan_score::run(a),
        Command::Rl(c) => commands::rl::run(c),
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

/// An error and its causes on one line, `outer: inner: …`, leaving out a cause whose text the
/// line already holds (an I/O error's message names its cause and also chains it).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Names the first command-line argument that is not UTF-8 (clap only says that one is).
fn non_utf8_argument() -> String {
    let args: Vec<OsString> = std::env::args_os().collect();
    match args.iter().position(|a| a.to_str().is_none()) {
        Some(i) => {
            let after = match args.get(i - 1).and_then(|a| a.to_str()) {
                Some(flag) if i > 1 => format!(" (after {flag})"),
                _ => String::new(),
            };
            format!(
                "argument {i} '{}'{after} is not valid UTF-8; nabla takes text and paths in UTF-8",
                args[i].to_string_lossy()
            )
        }
        None => "an argument is not valid UTF-8".to_string(),
    }
}
