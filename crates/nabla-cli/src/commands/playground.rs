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
        max_connections: a.max_connections as usize,
        header_timeout_ms: a.header_timeout_secs * 1000,
        body_timeout_ms: a.body_timeout_secs * 1000,
        ..Limits::default()
    };
    nabla_playground::run(&addr, limits, |bound| {
        println!("nabla playground: open http://{bound}/ (Ctrl-C stops it)");
        // Scripts that start the server wait for this line.
        let _ = std::io::stdout().flush();
    })
    .with_context(|| format!("serving the playground on {addr}"))
}
