//! Deep Q-learning (Mnih et al. 2015) with experience replay, a target network, a linear
//! ε schedule and optionally Double DQN (van Hasselt et al. 2016). The defaults are
//! CleanRL's `dqn.py` for CartPole.

use crate::nets::{Activation, Mlp, Weights};
use crate::replay::{Batch, ReplayBuffer};
use crate::tabular::linear_schedule;
use crate::{
    error::{invalid, unsupported},
    Action, Env, Result, Space,
};
use nabla::{Device, Rng, Tensor};
use nabla_nn::optim::{Adam, Optimizer};
use nabla_nn::{Module, VarStore};

/// DQN's settings.
#[derive(Clone, Debug)]
pub struct DqnConfig {
    /// Adam's learning rate.
    pub lr: f64,
    /// Transitions the replay buffer holds.
    pub buffer_size: usize,
    /// Discount γ.
    pub gamma: f64,
    /// Target update `θ⁻ ← τ θ + (1 − τ) θ⁻` (1: copy).
    pub tau: f64,
    /// Steps between target updates.
    pub target_network_frequency: usize,
    /// Transitions per gradient step.
    pub batch_size: usize,
    /// ε at the start.
    pub start_e: f64,
    /// ε after `exploration_fraction` of the steps.
    pub end_e: f64,
    /// Share of the steps over which ε falls.
    pub exploration_fraction: f64,
    /// Steps of pure exploration before learning starts.
    pub learning_starts: usize,
    /// Steps between gradient steps.
    pub train_frequency: usize,
    /// Double DQN: the online network picks the next action, the target network values it.
    pub double: bool,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
}

impl Default for DqnConfig {
    fn default() -> Self {
        DqnConfig {
            lr: 2.5e-4,
            buffer_size: 10_000,
            gamma: 0.99,
            tau: 1.0,
            target_network_frequency: 500,
            batch_size: 128,
            start_e: 1.0,
            end_e: 0.05,
            exploration_fraction: 0.5,
            learning_starts: 10_000,
            train_frequency: 10,
            double: false,
            hidden: vec![120, 84],
        }
    }
}

/// A Q-network `[batch, obs_dim] → [batch, actions]` and its variables.
pub struct QNetwork {
    /// Its variables (`q.0.weight`, ...).
    pub vars: VarStore,
    net: Mlp,
}

impl QNetwork {
    /// A fresh network with PyTorch's default initialization (from nabla's generator).
    ///
    /// # Errors
    /// When a size is 0.
    pub fn new(obs_dim: usize, actions: usize, hidden: &[usize]) -> Result<Self> {
        // Host memory by design: a classic-control Q-network has a few thousand parameters and each step reads one observation from an environment on the host, so a device would add two copies per step.
        let vars = VarStore::new(&Device::Cpu);
        let sizes: Vec<usize> = std::iter::once(obs_dim)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(actions))
            .collect();
        let net = Mlp::new(
            &vars.root().sub("q"),
            &sizes,
            Activation::Relu,
            Weights::Default,
        )?;
        Ok(QNetwork { vars, net })
    }

    /// Q-values `[rows, actions]` of `rows` observations, without recording gradients.
    ///
    /// # Errors
    /// When `obs.len()` is not a multiple of the observation size.
    pub fn values(&self, obs: &[f32], obs_dim: usize) -> Result<Vec<f32>> {
        // The observations are host values from the environment.
        let x = Tensor::from_slice(obs, &[obs.len() / obs_dim, obs_dim], &Device::Cpu)?;
        Ok(nabla::no_grad(|| self.net.forward(&x))?.to_vec::<f32>()?)
    }

    /// The action of largest Q-value for one observation.
    ///
    /// # Errors
    /// When the observation has the wrong size.
    pub fn greedy(&self, obs: &[f32]) -> Result<usize> {
        let q = self.values(obs, obs.len())?;
        Ok(argmax_f32(&q))
    }
}

/// The first index of the largest value.
pub fn argmax_f32(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// A DQN agent: online and target networks, optimizer, replay buffer.
pub struct Dqn {
    /// Settings.
    pub config: DqnConfig,
    /// The online network (the one to save and act with).
    pub q: QNetwork,
    target: QNetwork,
    opt: Adam,
    obs_dim: usize,
    actions: usize,
}

/// The observation size and number of actions of a task with a box of observations and
/// discrete actions.
pub(crate) fn discrete_task(env: &dyn Env, algo: &'static str) -> Result<(usize, usize)> {
    match (env.observation_space(), env.action_space()) {
        (obs @ Space::Box { .. }, Space::Discrete(n)) => Ok((obs.dim(), n)),
        (_, Space::Box { .. }) => Err(unsupported(algo, env, "has continuous actions (use ppo)")),
        _ => Err(unsupported(
            algo,
            env,
            "has discrete observations (use q-learning)",
        )),
    }
}

impl Dqn {
    /// An agent for `env` (box observations, discrete actions); the networks are drawn from
    /// `seed`.
    ///
    /// # Errors
    /// When the task does not fit DQN or a setting is unusable.
    pub fn new(env: &dyn Env, config: DqnConfig, seed: u64) -> Result<Self> {
        let (obs_dim, actions) = discrete_task(env, "dqn")?;
        if config.batch_size == 0
            || config.train_frequency == 0
            || config.target_network_frequency == 0
        {
            return Err(invalid(
                "dqn",
                "batch size, train and target frequencies must be at least 1",
            ));
        }
        nabla::manual_seed(seed);
        let q = QNetwork::new(obs_dim, actions, &config.hidden)?;
        let target = QNetwork::new(obs_dim, actions, &config.hidden)?;
        copy_vars(&q.vars, &target.vars, 1.0)?;
        let opt = Adam::new(q.vars.trainable(), config.lr);
        Ok(Dqn {
            config,
            q,
            target,
            opt,
            obs_dim,
            actions,
        })
    }

    /// Trains for `steps` environment steps; calls `on_episode(step, return)` after each
    /// episode.
    ///
    /// # Errors
    /// From the tensor engine or the environment.
    pub fn train(
        &mut self,
        env: &mut dyn Env,
        steps: usize,
        seed: u64,
        on_episode: &mut dyn FnMut(usize, f64),
    ) -> Result<()> {
        let c = self.config.clone();
        let mut rng = Rng::new(seed);
        let mut buffer = ReplayBuffer::new(c.buffer_size, self.obs_dim)?;
        let mut obs = env.reset(Some(seed));
        let mut episode_return = 0.0;
        for step in 0..steps {
            let eps = linear_schedule(
                c.start_e,
                c.end_e,
                c.exploration_fraction * steps as f64,
                step,
            );
            let action = if rng.next_f64() < eps {
                rng.below(self.actions as u64) as usize
            } else {
                self.q.greedy(&obs)?
            };
            let s = env.step(&Action::Discrete(action))?;
            episode_return += s.reward;
            buffer.push(&obs, action, s.reward as f32, &s.obs, s.terminated);
            if s.done() {
                on_episode(step + 1, episode_return);
                episode_return = 0.0;
                obs = env.reset(None);
            } else {
                obs = s.obs;
            }
            if step > c.learning_starts {
                if step % c.train_frequency == 0 {
                    let batch = buffer.sample(c.batch_size, &mut rng)?;
                    self.learn(&batch)?;
                }
                if step % c.target_network_frequency == 0 {
                    copy_vars(&self.q.vars, &self.target.vars, c.tau)?;
                }
            }
        }
        Ok(())
    }

    /// One gradient step on the squared TD error of `batch`; returns the loss.
    ///
    /// # Errors
    /// From the tensor engine.
    pub fn learn(&mut self, batch: &Batch) -> Result<f32> {
        let n = batch.actions.len();
        let (d, k) = (self.obs_dim, self.actions);
        let next_target = self.target.values(&batch.next_obs, d)?;
        let next_online = if self.config.double {
            Some(self.q.values(&batch.next_obs, d)?)
        } else {
            None
        };
        let gamma = self.config.gamma as f32;
        let td_target: Vec<f32> = (0..n)
            .map(|i| {
                let row = &next_target[i * k..(i + 1) * k];
                let next_value = match &next_online {
                    Some(online) => row[argmax_f32(&online[i * k..(i + 1) * k])],
                    None => row.iter().cloned().fold(f32::NEG_INFINITY, f32::max),
                };
                batch.rewards[i] + gamma * next_value * (1.0 - batch.dones[i])
            })
            .collect();
        let dev = Device::Cpu;
        let x = Tensor::from_slice(&batch.obs, &[n, d], &dev)?;
        let index: Vec<f32> = batch.actions.iter().map(|&a| a as f32).collect();
        let index = Tensor::from_vec(index, &[n, 1], &dev)?;
        let target = Tensor::from_vec(td_target, &[n, 1], &dev)?;
        let q_taken = self.q.net.forward_t(&x, true)?.gather(1, &index)?;
        let loss = q_taken.sub(&target)?.sqr()?.mean_all()?;
        self.opt.step(&loss.backward()?)?;
        Ok(loss.to_scalar::<f32>()?)
    }
}

/// `to ← τ·from + (1 − τ)·to` for each pair of variables, in order.
fn copy_vars(from: &VarStore, to: &VarStore, tau: f64) -> Result<()> {
    for (src, dst) in from.vars().iter().zip(to.vars()) {
        let value = if tau >= 1.0 {
            src.tensor().detach()
        } else {
            src.tensor()
                .detach()
                .mul_scalar(tau)?
                .add(&dst.tensor().detach().mul_scalar(1.0 - tau)?)?
        };
        dst.set(&value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::evaluate;

    #[test]
    fn dqn_learns_to_balance_longer_than_a_random_policy() {
        // A short run (30k steps, learning from step 2k): the greedy policy must beat the
        // random one's ~22 steps by a wide margin.
        let mut env = crate::make("cartpole").unwrap();
        let config = DqnConfig {
            learning_starts: 2_000,
            lr: 1e-3,
            train_frequency: 4,
            target_network_frequency: 250,
            batch_size: 64,
            exploration_fraction: 0.3,
            ..Default::default()
        };
        let mut agent = Dqn::new(env.as_ref(), config, 0).unwrap();
        agent
            .train(env.as_mut(), 30_000, 0, &mut |_, _| {})
            .unwrap();
        let random = evaluate(env.as_mut(), 20, 5, &mut |_, rng: &mut Rng| {
            Ok(Action::Discrete(rng.below(2) as usize))
        })
        .unwrap();
        let learned = evaluate(env.as_mut(), 20, 5, &mut |obs, _| {
            Ok(Action::Discrete(agent.q.greedy(obs)?))
        })
        .unwrap();
        eprintln!("random {:.1}, dqn {:.1}", random.mean, learned.mean);
        assert!(
            learned.mean > 3.0 * random.mean,
            "{} vs {}",
            learned.mean,
            random.mean
        );
    }

    #[test]
    fn double_dqn_step_lowers_the_td_error_on_a_fixed_batch() {
        let env = crate::make("cartpole").unwrap();
        let config = DqnConfig {
            double: true,
            lr: 1e-2,
            ..Default::default()
        };
        let mut agent = Dqn::new(env.as_ref(), config, 1).unwrap();
        let mut rng = Rng::new(0);
        let mut buf = ReplayBuffer::new(64, 4).unwrap();
        for _ in 0..64 {
            let o: Vec<f32> = (0..4).map(|_| rng.next_f32() - 0.5).collect();
            buf.push(&o, rng.below(2) as usize, 1.0, &o, rng.next_f64() < 0.1);
        }
        let batch = buf.sample(64, &mut rng).unwrap();
        let first = agent.learn(&batch).unwrap();
        let mut last = first;
        for _ in 0..50 {
            last = agent.learn(&batch).unwrap();
        }
        assert!(last < first * 0.5, "{first} -> {last}");
    }

    #[test]
    fn dqn_refuses_tasks_it_cannot_learn() {
        let pendulum = crate::make("pendulum").unwrap();
        let err = Dqn::new(pendulum.as_ref(), DqnConfig::default(), 0)
            .err()
            .unwrap();
        assert!(err.to_string().contains("continuous actions"), "{err}");
        let lake = crate::make("frozenlake").unwrap();
        assert!(Dqn::new(lake.as_ref(), DqnConfig::default(), 0).is_err());
    }
}
