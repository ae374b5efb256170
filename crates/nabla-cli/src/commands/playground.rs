//! `nabla playground`: serves the web playground until interrupted.

use crate::args::PlaygroundArgs;
use anyhow::{Context, Result};
use nabla_playground::Limits;
use std::io::Write;

/// Binds `host:port`, prints the URL, and serves.
pub fn run(a: &PlaygroundArgs) -> Result<()> {
    // An IPv6 literal needs brackets in `host:port`.
    let host = if a.host.contains(':') && !a.host.starts_with('[') {
        format!("[{}]", a.host)
    } else {
        a.host.clone()
    };
    let addr = format!("{host}:{}", a.port);
    let limits = Limits {
        max_sessions: usize::from(a.max_sessions),
        idle_secs: a.idle_secs,
        ..Limits::default()
    };
    nabla_playground::run(&addr, limits, |bound| {
        println!("nabla playground: open http://{bound}/ (Ctrl-C stops it)");
        // Scripts that start the server wait for this line.
        let _ = std::io::stdout().flush();
    })
    .with_context(|| format!("serving the playground on {addr}"))
}
