//! Environments: the [`Env`] trait, the time limit every task has, and the tasks.
//!
//! The classic-control tasks follow Gymnasium's source line by line (f64 state, f32
//! observations, the same integrators, thresholds, rewards, reset distributions and time
//! limits); `tools/rl_gym_parity.py` checks them against Gymnasium itself.

mod acrobot;
mod cartpole;
pub mod frozen_lake;
mod grid_world;
mod mountain_car;
mod pendulum;
mod vector;

pub use acrobot::Acrobot;
pub use cartpole::CartPole;
pub use frozen_lake::FrozenLake;
pub use grid_world::GridWorld;
pub use mountain_car::MountainCar;
pub use pendulum::Pendulum;
pub use vector::{VecEnv, VecStep};

use crate::{Action, Error, Result, Space};
use nabla::Rng;

/// What one step of an environment returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The observation after the step (`observation_space().dim()` numbers).
    pub obs: Vec<f32>,
    /// The reward of the step.
    pub reward: f64,
    /// The task ended (the pole fell, the goal was reached): no future rewards.
    pub terminated: bool,
    /// The time limit cut the episode: the task itself had not ended.
    pub truncated: bool,
}

impl Step {
    /// Whether the episode is over, either way.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// A task an agent acts in, episode by episode, as Gymnasium's `Env` (with its time limit).
pub trait Env: Send {
    /// The task's name, as the CLI spells it (`cartpole`).
    fn name(&self) -> &'static str;
    /// The observations' space.
    fn observation_space(&self) -> Space;
    /// The actions' space.
    fn action_space(&self) -> Space;
    /// Steps after which an episode is truncated.
    fn max_episode_steps(&self) -> usize;
    /// Starts an episode from the task's reset distribution and returns its first
    /// observation. `Some(seed)` reseeds the environment's generator first (same seed, same
    /// episode for the same actions); `None` continues its sequence.
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32>;
    /// Acts.
    ///
    /// # Errors
    /// [`Error::InvalidAction`] for an action outside the action space,
    /// [`Error::NeedsReset`] before the first reset or after the episode ended.
    fn step(&mut self, action: &Action) -> Result<Step>;
    /// Starts an episode from the given physical state (Gymnasium's `env.unwrapped.state`),
    /// returning its observation: how the parity test follows Gymnasium's resets.
    ///
    /// # Errors
    /// [`Error::InvalidState`] when the state has the wrong length or is not finite;
    /// [`Error::Unsupported`] for tasks without a continuous state.
    fn reset_to_state(&mut self, state: &[f64]) -> Result<Vec<f32>>;
    /// The physical state (for drawing an episode).
    fn state(&self) -> Vec<f64>;
}

/// A task without its time limit: the dynamics alone.
pub trait Dynamics: Send {
    /// The task's name.
    const NAME: &'static str;
    /// Gymnasium's `max_episode_steps` for the task.
    const MAX_EPISODE_STEPS: usize;
    /// The observations' space.
    fn observation_space(&self) -> Space;
    /// The actions' space.
    fn action_space(&self) -> Space;
    /// Draws a start state.
    fn reset(&mut self, rng: &mut Rng);
    /// Applies a valid action; returns the reward and whether the task ended. `rng` drives
    /// stochastic transitions (FrozenLake's slippery ice).
    fn advance(&mut self, action: &Action, rng: &mut Rng) -> (f64, bool);
    /// The observation of the current state.
    fn observe(&self) -> Vec<f32>;
    /// The state as numbers.
    fn state(&self) -> Vec<f64>;
    /// Replaces the state (already checked for length and finiteness).
    ///
    /// # Errors
    /// When the task has no such state (the grids).
    fn set_state(&mut self, state: &[f64]) -> Result<()>;
    /// Numbers in a state.
    fn state_len(&self) -> usize;
}

/// A task with Gymnasium's `TimeLimit` and its own seeded generator: the [`Env`] every
/// task is used through.
pub struct TimeLimited<D> {
    /// The dynamics.
    pub dynamics: D,
    rng: Rng,
    elapsed: usize,
    max_steps: usize,
    /// Whether `step` may be called (reset done, episode not over).
    running: bool,
}

impl<D: Dynamics> TimeLimited<D> {
    /// The task with its standard time limit; call `reset` before stepping.
    pub fn new(dynamics: D) -> Self {
        Self::with_limit(dynamics, D::MAX_EPISODE_STEPS)
    }

    /// The task truncated after `max_steps` steps instead.
    pub fn with_limit(dynamics: D, max_steps: usize) -> Self {
        TimeLimited {
            dynamics,
            rng: Rng::new(0),
            elapsed: 0,
            max_steps: max_steps.max(1),
            running: false,
        }
    }
}

impl<D: Dynamics> Env for TimeLimited<D> {
    fn name(&self) -> &'static str {
        D::NAME
    }
    fn observation_space(&self) -> Space {
        self.dynamics.observation_space()
    }
    fn action_space(&self) -> Space {
        self.dynamics.action_space()
    }
    fn max_episode_steps(&self) -> usize {
        self.max_steps
    }

    fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        if let Some(seed) = seed {
            self.rng = Rng::new(seed);
        }
        self.dynamics.reset(&mut self.rng);
        self.elapsed = 0;
        self.running = true;
        self.dynamics.observe()
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        let space = self.dynamics.action_space();
        if !space.contains(action) {
            return Err(Error::InvalidAction {
                env: D::NAME,
                action: format!("{action:?}"),
                space: space.to_string(),
            });
        }
        if !self.running {
            return Err(Error::NeedsReset(D::NAME));
        }
        let (reward, terminated) = self.dynamics.advance(action, &mut self.rng);
        self.elapsed += 1;
        let truncated = self.elapsed >= self.max_steps;
        self.running = !(terminated || truncated);
        Ok(Step {
            obs: self.dynamics.observe(),
            reward,
            terminated,
            truncated,
        })
    }

    fn reset_to_state(&mut self, state: &[f64]) -> Result<Vec<f32>> {
        if state.len() != self.dynamics.state_len() || !state.iter().all(|v| v.is_finite()) {
            return Err(Error::InvalidState {
                env: D::NAME,
                expected: self.dynamics.state_len(),
                got: state.to_vec(),
            });
        }
        self.dynamics.set_state(state)?;
        self.elapsed = 0;
        self.running = true;
        Ok(self.dynamics.observe())
    }

    fn state(&self) -> Vec<f64> {
        self.dynamics.state()
    }
}

/// The task names `make` knows, as the CLI spells them.
pub const ENV_NAMES: [&str; 7] = [
    "cartpole",
    "acrobot",
    "mountaincar",
    "pendulum",
    "frozenlake",
    "frozenlake8x8",
    "gridworld",
];

/// A task by name (see [`ENV_NAMES`]; Gymnasium's ids such as `CartPole-v1` are accepted too).
///
/// # Errors
/// [`Error::UnknownName`] naming the known tasks.
pub fn make(name: &str) -> Result<Box<dyn Env>> {
    let key: String = name
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    Ok(match key.as_str() {
        "cartpole" | "cartpolev1" => Box::new(TimeLimited::new(CartPole::default())),
        "acrobot" | "acrobotv1" => Box::new(TimeLimited::new(Acrobot::default())),
        "mountaincar" | "mountaincarv0" => Box::new(TimeLimited::new(MountainCar::default())),
        "pendulum" | "pendulumv1" => Box::new(TimeLimited::new(Pendulum::default())),
        "frozenlake" | "frozenlake4x4" | "frozenlakev1" => {
            let lake = FrozenLake::four_by_four();
            Box::new(TimeLimited::with_limit(lake, 100))
        }
        "frozenlake8x8" | "frozenlake8x8v1" => {
            let lake = FrozenLake::eight_by_eight();
            Box::new(TimeLimited::with_limit(lake, 200))
        }
        "gridworld" => Box::new(TimeLimited::new(GridWorld::default())),
        _ => {
            return Err(crate::Error::UnknownName {
                op: "make",
                what: "environment",
                name: name.to_string(),
                valid: ENV_NAMES.join(", "),
            })
        }
    })
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Plays `steps` random actions from `seed`, resetting at episode ends; returns every
    /// step and the resets' observations, to compare runs.
    pub fn random_rollout(env: &mut dyn Env, seed: u64, steps: usize) -> Vec<Step> {
        let mut rng = Rng::new(seed ^ 0x5eed);
        let mut out = Vec::new();
        let obs = env.reset(Some(seed));
        out.push(Step {
            obs,
            reward: 0.0,
            terminated: false,
            truncated: false,
        });
        let space = env.action_space();
        for _ in 0..steps {
            let s = env
                .step(&space.sample(&mut rng))
                .expect("actions are sampled from the space");
            let done = s.done();
            out.push(s);
            if done {
                let obs = env.reset(None);
                out.push(Step {
                    obs,
                    reward: 0.0,
                    terminated: false,
                    truncated: false,
                });
            }
        }
        out
    }

    /// Same seed, same episode; another seed, another one.
    pub fn check_seeding(make: impl Fn() -> Box<dyn Env>) {
        let a = random_rollout(make().as_mut(), 7, 300);
        let b = random_rollout(make().as_mut(), 7, 300);
        let c = random_rollout(make().as_mut(), 8, 300);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// Acting with the episode over is refused until the next reset; a step before any reset
    /// is refused too.
    pub fn check_needs_reset(env: &mut dyn Env, first_done_within: usize) {
        let space = env.action_space();
        let mut rng = Rng::new(1);
        assert!(matches!(
            env.step(&space.sample(&mut rng)),
            Err(Error::NeedsReset(_))
        ));
        env.reset(Some(3));
        for _ in 0..first_done_within {
            if env.step(&space.sample(&mut rng)).unwrap().done() {
                assert!(matches!(
                    env.step(&space.sample(&mut rng)),
                    Err(Error::NeedsReset(_))
                ));
                return;
            }
        }
        panic!("no episode ended within {first_done_within} steps");
    }
}
