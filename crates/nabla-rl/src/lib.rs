//! # nabla-rl: reinforcement learning
//!
//! Environments with Gymnasium's exact dynamics behind one [`Env`] trait, a vectorized
//! wrapper, tabular agents (Q-learning, value iteration) and deep ones (DQN, PPO) built on
//! `nabla-nn`.
//!
//! ```
//! use nabla_rl::{env, Action};
//! let mut cartpole = env::make("cartpole")?;
//! let obs = cartpole.reset(Some(0));
//! assert_eq!(obs.len(), 4);
//! let step = cartpole.step(&Action::Discrete(1))?;
//! assert_eq!(step.reward, 1.0);
//! # Ok::<(), nabla_rl::Error>(())
//! ```
#![warn(missing_docs)]

pub mod agent;
pub mod curve;
pub mod dqn;
pub mod env;
mod error;
pub mod eval;
pub mod gae;
pub mod nets;
pub mod pg;
pub mod policy;
pub mod ppo;
pub mod render;
pub mod replay;
mod space;
pub mod tabular;

pub use env::{make, Env, Step, VecEnv};
pub use error::{Error, Result};
pub use space::{Action, Space};

/// The error of `reset_to_state` on a task whose state is a cell index.
pub(crate) fn invalid_state_kind(env: &'static str) -> Error {
    Error::Unsupported {
        op: "reset_to_state",
        env: env.to_string(),
        msg: "has no continuous state to set (reset it with a seed)",
    }
}
