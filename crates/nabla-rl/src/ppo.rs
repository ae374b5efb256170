//! Proximal policy optimization (Schulman et al. 2017) for discrete actions: clipped
//! surrogate objective, clipped value loss, entropy bonus, advantages by GAE over N
//! environments stepped together. The defaults are CleanRL's `ppo.py` for CartPole.

use crate::dqn::{argmax_f32, discrete_task};
use crate::gae::gae;
use crate::nets::{Activation, Mlp, Weights};
use crate::{error::invalid, Action, Env, Result, VecEnv};
use nabla::{Device, Rng, Tensor};
use nabla_nn::optim::{clip_grad_norm, Adam, Optimizer};
use nabla_nn::{Module, VarStore};

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
        }
    }
}

/// Separate actor (`[batch, obs] → [batch, actions]` logits) and critic (`→ [batch, 1]`)
/// networks, tanh, orthogonal initialization.
pub struct ActorCritic {
    /// Their variables (`actor.*`, `critic.*`).
    pub vars: VarStore,
    actor: Mlp,
    critic: Mlp,
    obs_dim: usize,
}

impl ActorCritic {
    /// Fresh networks (drawn from nabla's generator).
    ///
    /// # Errors
    /// When a size is 0.
    pub fn new(obs_dim: usize, actions: usize, hidden: &[usize]) -> Result<Self> {
        let vars = VarStore::new(&Device::Cpu);
        let sizes = |out: usize| -> Vec<usize> {
            std::iter::once(obs_dim)
                .chain(hidden.iter().copied())
                .chain(std::iter::once(out))
                .collect()
        };
        let root = vars.root();
        let critic = Mlp::new(
            &root.sub("critic"),
            &sizes(1),
            Activation::Tanh,
            Weights::Orthogonal { output_gain: 1.0 },
        )?;
        let actor = Mlp::new(
            &root.sub("actor"),
            &sizes(actions),
            Activation::Tanh,
            Weights::Orthogonal { output_gain: 0.01 },
        )?;
        Ok(ActorCritic {
            vars,
            actor,
            critic,
            obs_dim,
        })
    }

    fn input(&self, obs: &[f32]) -> Result<Tensor> {
        let rows = obs.len() / self.obs_dim;
        Ok(Tensor::from_slice(
            obs,
            &[rows, self.obs_dim],
            &Device::Cpu,
        )?)
    }

    /// Logits `[rows, actions]` and values `[rows]` of observations, without gradients.
    ///
    /// # Errors
    /// When `obs.len()` is not a multiple of the observation size.
    pub fn evaluate(&self, obs: &[f32]) -> Result<(Vec<f32>, Vec<f32>)> {
        let x = self.input(obs)?;
        nabla::no_grad(|| {
            let logits = self.actor.forward(&x)?.to_vec::<f32>()?;
            let values = self.critic.forward(&x)?.to_vec::<f32>()?;
            Ok((logits, values))
        })
    }

    /// The most probable action for one observation.
    ///
    /// # Errors
    /// When the observation has the wrong size.
    pub fn greedy(&self, obs: &[f32]) -> Result<usize> {
        let x = self.input(obs)?;
        let logits = nabla::no_grad(|| self.actor.forward(&x))?.to_vec::<f32>()?;
        Ok(argmax_f32(&logits))
    }
}

/// Draws an index from softmax(`logits`); returns it and its log-probability.
fn sample_categorical(logits: &[f32], rng: &mut Rng) -> (usize, f32) {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = logits.iter().map(|l| (l - max).exp()).sum();
    let log_z = max + total.ln();
    let u = rng.next_f32() * total;
    let mut acc = 0.0;
    let mut pick = logits.len() - 1;
    for (i, l) in logits.iter().enumerate() {
        acc += (l - max).exp();
        if u < acc {
            pick = i;
            break;
        }
    }
    (pick, logits[pick] - log_z)
}

/// One rollout: `[T, N]` row-major, observations `[T, N, obs_dim]`.
#[derive(Default)]
struct Rollout {
    obs: Vec<f32>,
    actions: Vec<usize>,
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
    actions: usize,
}

impl Ppo {
    /// An agent for `env` (box observations, discrete actions); networks drawn from `seed`.
    ///
    /// # Errors
    /// When the task does not fit or a setting is unusable.
    pub fn new(env: &dyn Env, config: PpoConfig, seed: u64) -> Result<Self> {
        let (obs_dim, actions) = discrete_task(env, "ppo")?;
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
        let net = ActorCritic::new(obs_dim, actions, &config.hidden)?;
        let opt = Adam::new(net.vars.trainable(), config.lr).eps(1e-5);
        Ok(Ppo {
            config,
            net,
            opt,
            actions,
        })
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
        for iteration in 0..iterations {
            if c.anneal_lr {
                let frac = 1.0 - iteration as f64 / iterations as f64;
                self.opt.set_lr(frac * c.lr);
            }
            let mut r = Rollout::default();
            for _ in 0..c.num_steps {
                let (logits, values) = self.net.evaluate(&obs)?;
                let mut actions = Vec::with_capacity(c.num_envs);
                for i in 0..c.num_envs {
                    let (a, logp) = sample_categorical(
                        &logits[i * self.actions..(i + 1) * self.actions],
                        &mut rng,
                    );
                    actions.push(Action::Discrete(a));
                    r.actions.push(a);
                    r.logprobs.push(logp);
                }
                r.values.extend(values);
                r.obs.extend_from_slice(&obs);
                let s = envs.step(&actions)?;
                global_step += c.num_envs;
                for (ret, _) in &s.finished {
                    on_episode(global_step, *ret);
                }
                r.rewards.extend(s.rewards.iter().map(|&x| x as f32));
                r.dones.extend(
                    s.terminated
                        .iter()
                        .zip(&s.truncated)
                        .map(|(&a, &b)| f32::from(u8::from(a || b))),
                );
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
        let batch = r.actions.len();
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
                let actions: Vec<f32> = chunk.iter().map(|&k| r.actions[k] as f32).collect();
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
        let n = actions.len();
        let dev = Device::Cpu;
        let col = |v: &[f32]| Tensor::from_slice(v, &[n, 1], &dev);
        let x = self.net.input(obs)?;
        let logp_all = self.net.actor.forward_t(&x, true)?.log_softmax(1)?;
        let logp = logp_all.gather(1, &col(actions)?)?;
        let entropy = logp_all
            .exp()?
            .mul(&logp_all)?
            .sum(&[1])?
            .mean_all()?
            .neg()?;
        let ratio = logp.sub(&col(old_logprobs)?)?.exp()?;
        let adv = col(advantages)?;
        let pg1 = adv.mul(&ratio)?.neg()?;
        let pg2 = adv
            .mul(&ratio.clamp(1.0 - c.clip_coef, 1.0 + c.clip_coef)?)?
            .neg()?;
        let pg_loss = pg1.maximum(&pg2)?.mean_all()?;
        let value = self.net.critic.forward_t(&x, true)?;
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
fn normalize(v: &mut [f32]) {
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
        let learned = evaluate(env.as_mut(), 20, 5, &mut |obs, _| {
            Ok(Action::Discrete(agent.net.greedy(obs)?))
        })
        .unwrap();
        eprintln!("random {:.1}, ppo {:.1}", random.mean, learned.mean);
        assert!(
            learned.mean > 3.0 * random.mean,
            "{} vs {}",
            learned.mean,
            random.mean
        );
    }

    #[test]
    fn categorical_samples_follow_the_softmax() {
        // logits ln 1, ln 3: probabilities 1/4, 3/4.
        let logits = [0.0f32, 3f32.ln()];
        let mut rng = Rng::new(0);
        let n = 20_000;
        let ones = (0..n)
            .filter(|_| sample_categorical(&logits, &mut rng).0 == 1)
            .count();
        assert!((ones as f64 / n as f64 - 0.75).abs() < 0.02);
        let (a, logp) = sample_categorical(&logits, &mut rng);
        let want = if a == 1 { 0.75f32.ln() } else { 0.25f32.ln() };
        assert!((logp - want).abs() < 1e-6);
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
