//! Proximal policy optimization (Schulman et al. 2017) for discrete and continuous
//! actions: clipped surrogate objective, clipped value loss, entropy bonus, advantages by
//! GAE over N environments stepped together. The defaults are CleanRL's `ppo.py` for
//! CartPole; [`PpoConfig::continuous`] is the preset for Pendulum.

use crate::gae::gae;
use crate::policy::{ActionKind, ActorCritic};
use crate::{
    error::{invalid, unsupported},
    Env, Result, Space, VecEnv,
};
use nabla::{Device, Rng, Tensor};
use nabla_nn::optim::{clip_grad_norm, Adam, Optimizer};

/// PPO's settings.
#[derive(Clone, Debug)]
pub struct PpoConfig {
    /// Adam's learning rate (at the start, with `anneal_lr`).
    pub lr: f64,
    /// Environments stepped together.
    pub num_envs: usize,
    /// Steps of each environment per rollout.
    pub num_steps: usize,
    /// Lower the learning rate linearly to 0 over the run.
    pub anneal_lr: bool,
    /// Discount γ.
    pub gamma: f64,
    /// GAE's λ.
    pub gae_lambda: f64,
    /// Minibatches per epoch.
    pub num_minibatches: usize,
    /// Passes over each rollout.
    pub update_epochs: usize,
    /// Normalize advantages per minibatch.
    pub norm_adv: bool,
    /// Clip the probability ratio to `1 ± clip_coef` (and the value change to `± clip_coef`).
    pub clip_coef: f64,
    /// Clip the value loss.
    pub clip_vloss: bool,
    /// Weight of the entropy bonus.
    pub ent_coef: f64,
    /// Weight of the value loss.
    pub vf_coef: f64,
    /// Global gradient-norm limit.
    pub max_grad_norm: f64,
    /// Hidden widths of the actor and of the critic.
    pub hidden: Vec<usize>,
    /// Divide rewards by the running standard deviation of the discounted return (and
    /// clip them to ±10), as Gymnasium's `NormalizeReward` does for CleanRL's continuous PPO.
    pub norm_reward: bool,
}

impl Default for PpoConfig {
    fn default() -> Self {
        PpoConfig {
            lr: 2.5e-4,
            num_envs: 4,
            num_steps: 128,
            anneal_lr: true,
            gamma: 0.99,
            gae_lambda: 0.95,
            num_minibatches: 4,
            update_epochs: 4,
            norm_adv: true,
            clip_coef: 0.2,
            clip_vloss: true,
            ent_coef: 0.01,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            hidden: vec![64, 64],
            norm_reward: false,
        }
    }
}

impl PpoConfig {
    /// Settings for continuous control (Pendulum): 4 × 1024 steps per rollout, 10 epochs of
    /// 64 minibatches, γ = 0.9, learning rate 1e-3, no entropy bonus, normalized rewards
    /// (RL Baselines3 Zoo's Pendulum settings, without state-dependent exploration).
    pub fn continuous() -> Self {
        PpoConfig {
            lr: 1e-3,
            num_steps: 1024,
            gamma: 0.9,
            num_minibatches: 64,
            update_epochs: 10,
            ent_coef: 0.0,
            norm_reward: true,
            ..Default::default()
        }
    }
}

/// One rollout: `[T, N]` row-major, observations `[T, N, obs_dim]`, actions
/// `[T, N, action_width]`.
#[derive(Default)]
struct Rollout {
    obs: Vec<f32>,
    actions: Vec<f32>,
    logprobs: Vec<f32>,
    rewards: Vec<f32>,
    dones: Vec<f32>,
    values: Vec<f32>,
}

/// A PPO agent: networks and optimizer.
pub struct Ppo {
    /// Settings.
    pub config: PpoConfig,
    /// The networks (to save and act with).
    pub net: ActorCritic,
    opt: Adam,
}

/// The observation size and the actions of a task with a box of observations.
pub(crate) fn ppo_task(env: &dyn Env) -> Result<(usize, ActionKind)> {
    let obs = env.observation_space();
    if let Space::Discrete(_) = obs {
        return Err(unsupported(
            "ppo",
            env,
            "has discrete observations (use q-learning)",
        ));
    }
    let kind = match env.action_space() {
        Space::Discrete(n) => ActionKind::Discrete(n),
        Space::Box { low, .. } => ActionKind::Continuous(low.len()),
    };
    Ok((obs.dim(), kind))
}

/// Rewards divided by the running standard deviation of each environment's discounted
/// return, clipped to ±10 (Gymnasium's `NormalizeReward` + `TransformReward`).
struct RewardScaler {
    gamma: f64,
    returns: Vec<f64>,
    count: f64,
    mean: f64,
    m2: f64,
}

impl RewardScaler {
    fn new(n: usize, gamma: f64) -> Self {
        RewardScaler {
            gamma,
            returns: vec![0.0; n],
            count: 0.0,
            mean: 0.0,
            m2: 0.0,
        }
    }

    /// Scales one step's rewards of all environments, in place.
    fn scale(&mut self, rewards: &mut [f32], dones: &[f32]) {
        for (i, r) in rewards.iter_mut().enumerate() {
            self.returns[i] = self.returns[i] * self.gamma + f64::from(*r);
            // Welford's running variance of the returns.
            self.count += 1.0;
            let delta = self.returns[i] - self.mean;
            self.mean += delta / self.count;
            self.m2 += delta * (self.returns[i] - self.mean);
            let var = self.m2 / self.count;
            *r = (f64::from(*r) / (var + 1e-8).sqrt()).clamp(-10.0, 10.0) as f32;
            if dones[i] > 0.0 {
                self.returns[i] = 0.0;
            }
        }
    }
}

impl Ppo {
    /// An agent for `env` (box observations, either kind of actions); networks drawn from
    /// `seed`.
    ///
    /// # Errors
    /// When the task does not fit or a setting is unusable.
    pub fn new(env: &dyn Env, config: PpoConfig, seed: u64) -> Result<Self> {
        let (obs_dim, kind) = ppo_task(env)?;
        let batch = config.num_envs * config.num_steps;
        if batch == 0 || config.num_minibatches == 0 || config.num_minibatches > batch {
            return Err(invalid(
                "ppo",
                format!(
                    "{} envs × {} steps must split into {} minibatches",
                    config.num_envs, config.num_steps, config.num_minibatches
                ),
            ));
        }
        nabla::manual_seed(seed);
        let net = ActorCritic::new(obs_dim, kind, &config.hidden)?;
        let opt = Adam::new(net.vars.trainable(), config.lr).eps(1e-5);
        Ok(Ppo { config, net, opt })
    }

    /// Trains for about `steps` environment steps (whole rollouts of
    /// `num_envs × num_steps`) in copies made by `make`; calls `on_episode(step, return)`
    /// after each episode.
    ///
    /// # Errors
    /// From the tensor engine or the environments.
    pub fn train(
        &mut self,
        make: &dyn Fn() -> Result<Box<dyn Env>>,
        steps: usize,
        seed: u64,
        on_episode: &mut dyn FnMut(usize, f64),
    ) -> Result<()> {
        let c = self.config.clone();
        let mut envs = VecEnv::new(c.num_envs, make)?;
        let mut rng = Rng::new(seed);
        let mut obs = envs.reset(seed);
        let batch = c.num_envs * c.num_steps;
        let iterations = (steps / batch).max(1);
        let mut global_step = 0;
        let mut scaler = RewardScaler::new(c.num_envs, c.gamma);
        for iteration in 0..iterations {
            if c.anneal_lr {
                let frac = 1.0 - iteration as f64 / iterations as f64;
                self.opt.set_lr(frac * c.lr);
            }
            let mut r = Rollout::default();
            for _ in 0..c.num_steps {
                let acted = self.net.act(&mut envs, &obs, &mut rng)?;
                let s = acted.step;
                r.actions.extend(acted.sampled);
                r.logprobs.extend(acted.logps);
                r.values.extend(acted.values);
                r.obs.extend_from_slice(&obs);
                global_step += c.num_envs;
                for (ret, _) in &s.finished {
                    on_episode(global_step, *ret);
                }
                let mut rewards: Vec<f32> = s.rewards.iter().map(|&x| x as f32).collect();
                let dones = s.dones();
                if c.norm_reward {
                    scaler.scale(&mut rewards, &dones);
                }
                r.rewards.extend(rewards);
                r.dones.extend(dones);
                obs = s.obs;
            }
            let (_, next_values) = self.net.evaluate(&obs)?;
            let (advantages, returns) = gae(
                &r.rewards,
                &r.values,
                &r.dones,
                &next_values,
                c.gamma as f32,
                c.gae_lambda as f32,
            );
            self.update(&r, &advantages, &returns, &mut rng)?;
        }
        Ok(())
    }

    /// `update_epochs` passes of minibatch gradient steps on the clipped objective.
    fn update(&mut self, r: &Rollout, adv: &[f32], returns: &[f32], rng: &mut Rng) -> Result<()> {
        let c = &self.config;
        let d = self.net.obs_dim;
        let width = self.net.action_width();
        let batch = r.logprobs.len();
        let mb = batch / c.num_minibatches;
        let mut order: Vec<usize> = (0..batch).collect();
        for _ in 0..c.update_epochs {
            rng.shuffle(&mut order);
            for chunk in order.chunks(mb) {
                let pick = |v: &[f32]| chunk.iter().map(|&k| v[k]).collect::<Vec<f32>>();
                let obs: Vec<f32> = chunk
                    .iter()
                    .flat_map(|&k| r.obs[k * d..(k + 1) * d].iter().copied())
                    .collect();
                let mut mb_adv = pick(adv);
                if c.norm_adv {
                    normalize(&mut mb_adv);
                }
                let actions: Vec<f32> = chunk
                    .iter()
                    .flat_map(|&k| r.actions[k * width..(k + 1) * width].iter().copied())
                    .collect();
                let loss = self.loss(
                    &obs,
                    &actions,
                    &pick(&r.logprobs),
                    &mb_adv,
                    &pick(returns),
                    &pick(&r.values),
                )?;
                let mut grads = loss.backward()?;
                clip_grad_norm(&mut grads, &self.net.vars.trainable(), c.max_grad_norm)?;
                self.opt.step(&grads)?;
            }
        }
        Ok(())
    }

    /// The PPO loss of one minibatch: clipped surrogate − entropy bonus + value loss.
    fn loss(
        &self,
        obs: &[f32],
        actions: &[f32],
        old_logprobs: &[f32],
        advantages: &[f32],
        returns: &[f32],
        old_values: &[f32],
    ) -> Result<Tensor> {
        let c = &self.config;
        let n = old_logprobs.len();
        let dev = Device::Cpu;
        let col = |v: &[f32]| Tensor::from_slice(v, &[n, 1], &dev);
        let x = self.net.input(obs)?;
        let (logp, entropy) = self.net.log_prob_entropy(&x, actions)?;
        let ratio = logp.sub(&col(old_logprobs)?)?.exp()?;
        let adv = col(advantages)?;
        let pg1 = adv.mul(&ratio)?.neg()?;
        let pg2 = adv
            .mul(&ratio.clamp(1.0 - c.clip_coef, 1.0 + c.clip_coef)?)?
            .neg()?;
        let pg_loss = pg1.maximum(&pg2)?.mean_all()?;
        let value = self.net.value(&x)?;
        let ret = col(returns)?;
        let unclipped = value.sub(&ret)?.sqr()?;
        let v_loss = if c.clip_vloss {
            let old = col(old_values)?;
            let clipped = old.add(&value.sub(&old)?.clamp(-c.clip_coef, c.clip_coef)?)?;
            unclipped.maximum(&clipped.sub(&ret)?.sqr()?)?.mean_all()?
        } else {
            unclipped.mean_all()?
        }
        .mul_scalar(0.5)?;
        Ok(pg_loss
            .sub(&entropy.mul_scalar(c.ent_coef)?)?
            .add(&v_loss.mul_scalar(c.vf_coef)?)?)
    }
}

/// `(x − mean) / (std + 1e-8)` with the unbiased standard deviation (as `torch.std`).
pub(crate) fn normalize(v: &mut [f32]) {
    let n = v.len() as f32;
    let mean = v.iter().sum::<f32>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / (n - 1.0).max(1.0);
    let std = var.sqrt();
    for x in v.iter_mut() {
        *x = (*x - mean) / (std + 1e-8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::evaluate;
    use crate::Action;

    #[test]
    fn ppo_learns_to_balance_longer_than_a_random_policy() {
        let mut env = crate::make("cartpole").unwrap();
        let config = PpoConfig {
            lr: 1e-3,
            ..Default::default()
        };
        let mut agent = Ppo::new(env.as_ref(), config, 0).unwrap();
        agent
            .train(&|| crate::make("cartpole"), 25_000, 0, &mut |_, _| {})
            .unwrap();
        let random = evaluate(env.as_mut(), 20, 5, &mut |_, rng: &mut Rng| {
            Ok(Action::Discrete(rng.below(2) as usize))
        })
        .unwrap();
        let learned = evaluate(env.as_mut(), 20, 5, &mut |obs, _| agent.net.greedy(obs)).unwrap();
        eprintln!("random {:.1}, ppo {:.1}", random.mean, learned.mean);
        assert!(
            learned.mean > 3.0 * random.mean,
            "{} vs {}",
            learned.mean,
            random.mean
        );
    }

    #[test]
    fn ppo_refuses_unsplittable_batches() {
        let env = crate::make("cartpole").unwrap();
        let config = PpoConfig {
            num_minibatches: 1000,
            ..Default::default()
        };
        assert!(Ppo::new(env.as_ref(), config, 0).is_err());
    }
}
