//! # nabla-playground: a network you can watch learn, in the browser
//!
//! The TensorFlow Playground rebuilt on nabla: each browser session owns a small multilayer
//! perceptron trained by nabla-nn on the server; the page (plain HTML, CSS and JavaScript,
//! compiled into the binary) sets it up and draws what the server streams — the output and
//! every neuron over the plane, the weights, and the loss curves — as server-sent events.
//! `nabla playground` starts it; the routes are listed in [`api`].
//!
//! ```
//! use nabla_playground::{Config, Limits, Session};
//! let mut s = Session::new("doc".into(), Config::default(), &Limits::default())?;
//! s.train_epochs(50)?; // the circle, x1 and x2, two tanh layers of 4 and 2
//! assert!(s.losses().1 < 0.1);
//! # Ok::<(), nabla_playground::Error>(())
//! ```
#![warn(missing_docs)]

pub mod api;
mod assets;
pub mod config;
pub mod data;
mod error;
pub mod features;
pub mod frame;
mod json;
pub mod network;
pub mod server;
pub mod session;
pub mod sessions;

pub use config::{Config, Limits};
pub use error::{Error, Result};
pub use session::Session;
pub use sessions::Sessions;

use std::net::SocketAddr;
use std::sync::Arc;

/// Serves the playground on `listener` until the process ends, dropping idle sessions in
/// the background; connections are capped and must send their requests in time
/// ([`server::serve`]).
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(listener: tokio::net::TcpListener, limits: Limits) -> std::io::Result<()> {
    let sessions = Arc::new(Sessions::new(limits.clone()));
    tokio::spawn(sessions.clone().expire_forever());
    server::serve(listener, api::router(sessions), &limits).await
}

/// Binds `addr` (`host:port`), calls `ready` with the bound address, and serves forever on
/// a multi-threaded runtime of its own.
///
/// # Errors
/// When the address cannot be resolved or bound (in use, no permission).
pub fn run(addr: &str, limits: Limits, ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        serve(listener, limits).await
    })
}
