//! One handle over every agent: build for a task, train, act greedily, save and load.

use crate::dqn::{Dqn, DqnConfig};
use crate::pg::{PgConfig, PolicyGradient};
use crate::ppo::{Ppo, PpoConfig};
use crate::tabular::{state_index, QLearning, QLearningConfig};
use crate::{make, Action, Env, Error, Result};
use nabla::{DType, Device, Tensor};
use nabla_nn::VarStore;
use std::path::Path;

/// The learning algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    /// Tabular Q-learning (discrete observations).
    QLearning,
    /// Deep Q-network.
    Dqn,
    /// Proximal policy optimization.
    Ppo,
    /// REINFORCE with a value baseline.
    Reinforce,
    /// Advantage actor-critic.
    A2c,
}

impl Algo {
    /// The names the CLI accepts.
    pub const NAMES: [&'static str; 5] = ["q-learning", "dqn", "ppo", "reinforce", "a2c"];

    /// The algorithm of a name in [`Algo::NAMES`].
    ///
    /// # Errors
    /// [`crate::Error::UnknownName`] naming the known ones.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "q-learning" | "qlearning" => Ok(Algo::QLearning),
            "dqn" => Ok(Algo::Dqn),
            "ppo" => Ok(Algo::Ppo),
            "reinforce" => Ok(Algo::Reinforce),
            "a2c" => Ok(Algo::A2c),
            _ => Err(Error::UnknownName {
                op: "algo",
                what: "algorithm",
                name: name.to_string(),
                valid: Algo::NAMES.join(", "),
            }),
        }
    }

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Algo::QLearning => "q-learning",
            Algo::Dqn => "dqn",
            Algo::Ppo => "ppo",
            Algo::Reinforce => "reinforce",
            Algo::A2c => "a2c",
        }
    }

    /// Environment steps of a run when none are given (CleanRL's 500k for CartPole).
    pub fn default_steps(self) -> usize {
        match self {
            Algo::QLearning => 3_000_000,
            Algo::Dqn | Algo::Ppo | Algo::Reinforce | Algo::A2c => 500_000,
        }
    }
}

/// What a run is: algorithm, task and the few settings the CLI exposes.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The algorithm.
    pub algo: Algo,
    /// The task's name (see [`crate::env::ENV_NAMES`]).
    pub env: String,
    /// Seed of the networks, the exploration and the environments.
    pub seed: u64,
    /// Environment steps.
    pub steps: usize,
    /// PPO: environments stepped together.
    pub num_envs: usize,
    /// DQN: Double DQN targets.
    pub double: bool,
}

/// A trained or training agent.
pub enum Agent {
    /// A Q-table.
    QLearning(QLearning),
    /// A Q-network.
    Dqn(Box<Dqn>),
    /// An actor and a critic trained by PPO.
    Ppo(Box<Ppo>),
    /// An actor and a critic trained by REINFORCE or A2C.
    PolicyGradient(Box<PolicyGradient>),
}

impl Agent {
    /// A fresh agent for the run's task.
    ///
    /// # Errors
    /// When the algorithm does not fit the task.
    pub fn new(spec: &RunSpec) -> Result<Self> {
        let env = make(&spec.env)?;
        Ok(match spec.algo {
            Algo::QLearning => {
                let config = QLearningConfig {
                    gamma: 0.999,
                    ..Default::default()
                };
                Agent::QLearning(QLearning::new(env.as_ref(), config)?)
            }
            Algo::Dqn => {
                let config = DqnConfig {
                    double: spec.double,
                    ..Default::default()
                };
                Agent::Dqn(Box::new(Dqn::new(env.as_ref(), config, spec.seed)?))
            }
            Algo::Ppo => {
                let preset = match env.action_space() {
                    crate::Space::Box { .. } => PpoConfig::continuous(),
                    crate::Space::Discrete(_) => PpoConfig::default(),
                };
                let config = PpoConfig {
                    num_envs: spec.num_envs,
                    ..preset
                };
                Agent::Ppo(Box::new(Ppo::new(env.as_ref(), config, spec.seed)?))
            }
            Algo::Reinforce | Algo::A2c => {
                let config = if spec.algo == Algo::A2c {
                    PgConfig {
                        num_envs: spec.num_envs,
                        ..PgConfig::a2c()
                    }
                } else {
                    PgConfig::reinforce()
                };
                let agent = PolicyGradient::new(env.as_ref(), config, spec.seed)?;
                Agent::PolicyGradient(Box::new(agent))
            }
        })
    }

    /// Trains for the run's steps; `on_episode(step, return)` after each episode.
    ///
    /// # Errors
    /// From the agent or the environment.
    pub fn train(&mut self, spec: &RunSpec, on_episode: &mut dyn FnMut(usize, f64)) -> Result<()> {
        match self {
            Agent::QLearning(a) => {
                a.train(make(&spec.env)?.as_mut(), spec.steps, spec.seed, on_episode)
            }
            Agent::Dqn(a) => a.train(make(&spec.env)?.as_mut(), spec.steps, spec.seed, on_episode),
            Agent::Ppo(a) => a.train(&|| make(&spec.env), spec.steps, spec.seed, on_episode),
            Agent::PolicyGradient(a) => {
                a.train(&|| make(&spec.env), spec.steps, spec.seed, on_episode)
            }
        }
    }

    /// The greedy action for an observation.
    ///
    /// # Errors
    /// When the observation does not fit the agent.
    pub fn act(&self, obs: &[f32]) -> Result<Action> {
        Ok(match self {
            Agent::QLearning(a) => {
                Action::Discrete(a.greedy(state_index(obs).min(a.q.len() / a.num_actions - 1)))
            }
            Agent::Dqn(a) => Action::Discrete(a.q.greedy(obs)?),
            Agent::Ppo(a) => a.net.greedy(obs)?,
            Agent::PolicyGradient(a) => a.net.greedy(obs)?,
        })
    }

    /// The agent's variables (a Q-table is one variable `q`, `[states, actions]`).
    ///
    /// # Errors
    /// From the tensor engine.
    pub fn vars(&self) -> Result<VarStore> {
        Ok(match self {
            Agent::QLearning(a) => {
                // Host memory: the table of a tabular agent, shown as a network's output.
                let vs = VarStore::new(&Device::Cpu);
                let q: Vec<f32> = a.q.iter().map(|&v| v as f32).collect();
                let rows = a.q.len() / a.num_actions;
                let t = Tensor::from_vec(q, &[rows, a.num_actions], &Device::Cpu)?;
                vs.root().buffer("q", t)?;
                vs
            }
            Agent::Dqn(a) => a.q.vars.clone(),
            Agent::Ppo(a) => a.net.vars.clone(),
            Agent::PolicyGradient(a) => a.net.vars.clone(),
        })
    }

    /// Saves the variables as safetensors.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        Ok(self.vars()?.save(path)?)
    }

    /// An agent of the run's shape with the variables of `path`.
    ///
    /// # Errors
    /// When the file is missing, malformed or of another shape.
    pub fn load(spec: &RunSpec, path: &Path) -> Result<Self> {
        let mut agent = Agent::new(spec)?;
        let vs = agent.vars()?;
        vs.load(path)?;
        if let Agent::QLearning(a) = &mut agent {
            let q = vs.get("q").expect("the table was stored as q").tensor();
            a.q = q.to_dtype(DType::F64)?.to_vec::<f64>()?;
        }
        Ok(agent)
    }

    /// A new environment of the run's task.
    ///
    /// # Errors
    /// When the name is unknown.
    pub fn env(spec: &RunSpec) -> Result<Box<dyn Env>> {
        make(&spec.env)
    }
}
