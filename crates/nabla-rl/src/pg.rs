//! Vanilla policy gradients with a learned baseline: REINFORCE with a baseline (Williams
//! 1992; whole episodes, Monte Carlo returns) and A2C (Mnih et al. 2016; short rollouts of N
//! environments, bootstrapped n-step returns). One gradient step per batch of experience on
//! `−mean(log π(a|s) · A) − c_H · H + c_V · mean((R − V(s))²)`.

use crate::gae::gae;
use crate::policy::ActorCritic;
use crate::ppo::{normalize, ppo_task};
use crate::{error::invalid, Env, Result, VecEnv};
use nabla::{Device, Rng, Tensor};
use nabla_nn::optim::{clip_grad_norm, Adam, Optimizer};

/// Settings of [`PolicyGradient`].
#[derive(Clone, Debug)]
pub struct PgConfig {
    /// Adam's learning rate.
    pub lr: f64,
    /// Environments stepped together.
    pub num_envs: usize,
    /// Steps of each environment per update; 0 = whole episodes (REINFORCE).
    pub num_steps: usize,
    /// With whole episodes: episodes per update.
    pub episodes_per_update: usize,
    /// Discount γ.
    pub gamma: f64,
    /// GAE's λ (1: n-step / Monte Carlo returns minus the baseline).
    pub gae_lambda: f64,
    /// Normalize the advantages of each batch.
    pub norm_adv: bool,
    /// Weight of the entropy bonus.
    pub ent_coef: f64,
    /// Weight of the value loss.
    pub vf_coef: f64,
    /// Global gradient-norm limit.
    pub max_grad_norm: f64,
    /// Hidden widths of the actor and the critic.
    pub hidden: Vec<usize>,
}

impl PgConfig {
    /// A2C with Stable-Baselines3's defaults (4 envs × 5 steps, lr 7e-4, γ 0.99, λ 1,
    /// value 0.5, max grad norm 0.5), Adam in place of its RMSprop.
    pub fn a2c() -> Self {
        PgConfig {
            lr: 7e-4,
            num_envs: 4,
            num_steps: 5,
            episodes_per_update: 0,
            gamma: 0.99,
            gae_lambda: 1.0,
            norm_adv: false,
            ent_coef: 0.0,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            hidden: vec![64, 64],
        }
    }

    /// REINFORCE with a value baseline: 4 whole episodes per update, normalized advantages.
    pub fn reinforce() -> Self {
        PgConfig {
            lr: 1e-3,
            num_envs: 1,
            num_steps: 0,
            episodes_per_update: 4,
            norm_adv: true,
            ..Self::a2c()
        }
    }
}

/// A REINFORCE-with-baseline or A2C agent.
pub struct PolicyGradient {
    /// Settings.
    pub config: PgConfig,
    /// Actor and critic (to save and act with).
    pub net: ActorCritic,
    opt: Adam,
}

/// Experience of one update, `[T, N]` row-major.
#[derive(Default)]
struct Batch {
    obs: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    dones: Vec<f32>,
    values: Vec<f32>,
}

impl PolicyGradient {
    /// An agent for `env`; networks drawn from `seed`.
    ///
    /// # Errors
    /// When the task has discrete observations or a setting is unusable.
    pub fn new(env: &dyn Env, config: PgConfig, seed: u64) -> Result<Self> {
        let (obs_dim, kind) = ppo_task(env)?;
        if config.num_envs == 0 || (config.num_steps == 0 && config.episodes_per_update == 0) {
            return Err(invalid(
                "policy gradient",
                "needs at least one environment and one step or episode per update",
            ));
        }
        nabla::manual_seed(seed);
        let net = ActorCritic::new(obs_dim, kind, &config.hidden)?;
        let opt = Adam::new(net.vars.trainable(), config.lr);
        Ok(PolicyGradient { config, net, opt })
    }

    /// Trains for about `steps` environment steps; `on_episode(step, return)` after each
    /// episode.
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
        let mut global_step = 0;
        while global_step < steps {
            let mut b = Batch::default();
            let mut episodes = 0;
            let mut t = 0;
            loop {
                let acted = self.net.act(&mut envs, &obs, &mut rng)?;
                let s = acted.step;
                b.obs.extend_from_slice(&obs);
                b.actions.extend(acted.sampled);
                b.values.extend(acted.values);
                global_step += c.num_envs;
                t += 1;
                for (ret, _) in &s.finished {
                    on_episode(global_step, *ret);
                }
                episodes += s.finished.len();
                b.rewards.extend(s.rewards.iter().map(|&r| r as f32));
                b.dones.extend(s.dones());
                obs = s.obs;
                let full = if c.num_steps == 0 {
                    episodes >= c.episodes_per_update
                } else {
                    t >= c.num_steps
                };
                if full || global_step >= steps {
                    break;
                }
            }
            let (_, next_values) = self.net.evaluate(&obs)?;
            let (mut adv, returns) = gae(
                &b.rewards,
                &b.values,
                &b.dones,
                &next_values,
                c.gamma as f32,
                c.gae_lambda as f32,
            );
            if c.norm_adv && adv.len() > 1 {
                normalize(&mut adv);
            }
            self.update(&b, &adv, &returns)?;
        }
        Ok(())
    }

    fn update(&mut self, b: &Batch, adv: &[f32], returns: &[f32]) -> Result<()> {
        let c = &self.config;
        let n = adv.len();
        let dev = Device::Cpu;
        let x = self.net.input(&b.obs)?;
        let (logp, entropy) = self.net.log_prob_entropy(&x, &b.actions)?;
        let adv = Tensor::from_slice(adv, &[n, 1], &dev)?;
        let ret = Tensor::from_slice(returns, &[n, 1], &dev)?;
        let pg_loss = logp.mul(&adv)?.mean_all()?.neg()?;
        let v_loss = self.net.value(&x)?.sub(&ret)?.sqr()?.mean_all()?;
        let loss = pg_loss
            .sub(&entropy.mul_scalar(c.ent_coef)?)?
            .add(&v_loss.mul_scalar(c.vf_coef)?)?;
        let mut grads = loss.backward()?;
        clip_grad_norm(&mut grads, &self.net.vars.trainable(), c.max_grad_norm)?;
        self.opt.step(&grads)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::evaluate;
    use crate::Action;

    fn improves_on_random(config: PgConfig, steps: usize) {
        let mut env = crate::make("cartpole").unwrap();
        let mut agent = PolicyGradient::new(env.as_ref(), config, 0).unwrap();
        agent
            .train(&|| crate::make("cartpole"), steps, 0, &mut |_, _| {})
            .unwrap();
        let random = evaluate(env.as_mut(), 20, 5, &mut |_, rng: &mut Rng| {
            Ok(Action::Discrete(rng.below(2) as usize))
        })
        .unwrap();
        let learned = evaluate(env.as_mut(), 20, 5, &mut |obs, _| agent.net.greedy(obs)).unwrap();
        eprintln!("random {:.1}, learned {:.1}", random.mean, learned.mean);
        assert!(
            learned.mean > 3.0 * random.mean,
            "{} vs {}",
            learned.mean,
            random.mean
        );
    }

    #[test]
    fn a2c_learns_to_balance_longer_than_a_random_policy() {
        improves_on_random(PgConfig::a2c(), 40_000);
    }

    #[test]
    fn reinforce_with_baseline_learns_to_balance_longer_than_a_random_policy() {
        improves_on_random(PgConfig::reinforce(), 40_000);
    }
}
