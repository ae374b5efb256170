//! PPO's actor and critic: a categorical policy over discrete actions or a diagonal
//! Gaussian over continuous ones, and a state-value network.

use crate::dqn::argmax_f32;
use crate::env::{VecEnv, VecStep};
use crate::nets::{Activation, Mlp, Weights};
use crate::{Action, Result};
use nabla::{Device, Rng, Tensor};
use nabla_nn::{Init, Module, Var, VarStore};

/// `ln √(2π)`.
const LN_SQRT_2PI: f32 = 0.918_938_5;

/// The kind and size of a task's actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// One of `n` actions: the actor outputs `n` logits.
    Discrete(usize),
    /// A vector of `k` reals: the actor outputs the `k` means of a Gaussian whose log
    /// standard deviations are `k` learned numbers independent of the state.
    Continuous(usize),
}

/// Separate actor and critic (`[batch, obs] → [batch, 1]`) networks, tanh, orthogonal
/// initialization (hidden gain √2, policy output 0.01, value output 1).
pub struct ActorCritic {
    /// Their variables (`actor.*`, `critic.*`, `log_std`).
    pub vars: VarStore,
    actor: Mlp,
    critic: Mlp,
    log_std: Option<Var>,
    /// Numbers in an observation.
    pub obs_dim: usize,
    /// The actions.
    pub kind: ActionKind,
}

impl ActorCritic {
    /// Fresh networks (drawn from nabla's generator).
    ///
    /// # Errors
    /// When a size is 0.
    pub fn new(obs_dim: usize, kind: ActionKind, hidden: &[usize]) -> Result<Self> {
        // Host memory by design, as the DQN network (`dqn.rs`): small networks fed one host observation per step.
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
        let (outputs, log_std) = match kind {
            ActionKind::Discrete(n) => (n, None),
            ActionKind::Continuous(k) => {
                (k, Some(root.param("log_std", &[k], Init::Constant(0.0))?))
            }
        };
        let actor = Mlp::new(
            &root.sub("actor"),
            &sizes(outputs),
            Activation::Tanh,
            Weights::Orthogonal { output_gain: 0.01 },
        )?;
        Ok(ActorCritic {
            vars,
            actor,
            critic,
            log_std,
            obs_dim,
            kind,
        })
    }

    /// Numbers that describe one action in a rollout (1 for an index, `k` for a vector).
    pub fn action_width(&self) -> usize {
        match self.kind {
            ActionKind::Discrete(_) => 1,
            ActionKind::Continuous(k) => k,
        }
    }

    /// Numbers the actor outputs per observation.
    fn actor_width(&self) -> usize {
        match self.kind {
            ActionKind::Discrete(n) => n,
            ActionKind::Continuous(k) => k,
        }
    }

    /// Observations `[rows × obs_dim]` as a `[rows, obs_dim]` tensor.
    ///
    /// # Errors
    /// When the length is not a multiple of the observation size.
    pub fn input(&self, obs: &[f32]) -> Result<Tensor> {
        let rows = obs.len() / self.obs_dim;
        Ok(Tensor::from_slice(
            obs,
            &[rows, self.obs_dim],
            &Device::Cpu,
        )?)
    }

    /// Actor outputs (logits or means, `[rows, width]`) and values `[rows]`, no gradients.
    ///
    /// # Errors
    /// When the observations do not fit.
    pub fn evaluate(&self, obs: &[f32]) -> Result<(Vec<f32>, Vec<f32>)> {
        let x = self.input(obs)?;
        nabla::no_grad(|| {
            let out = self.actor.forward(&x)?.to_vec::<f32>()?;
            let values = self.critic.forward(&x)?.to_vec::<f32>()?;
            Ok((out, values))
        })
    }

    /// Draws an action for each row of actor outputs; returns the actions
    /// (`[rows, action_width]`) and their log-probabilities.
    ///
    /// # Errors
    /// From the tensor engine (reading the log standard deviations).
    pub fn sample(&self, out: &[f32], rng: &mut Rng) -> Result<(Vec<f32>, Vec<f32>)> {
        let w = self.actor_width();
        let mut actions = Vec::with_capacity(out.len());
        let mut logps = Vec::with_capacity(out.len() / w);
        match self.kind {
            ActionKind::Discrete(_) => {
                for row in out.chunks(w) {
                    let (a, logp) = sample_categorical(row, rng);
                    actions.push(a as f32);
                    logps.push(logp);
                }
            }
            ActionKind::Continuous(_) => {
                let log_std = self.log_std_values()?;
                for row in out.chunks(w) {
                    let mut logp = 0.0;
                    for (mean, ls) in row.iter().zip(&log_std) {
                        let z = rng.normal() as f32;
                        actions.push(mean + ls.exp() * z);
                        logp += -0.5 * z * z - ls - LN_SQRT_2PI;
                    }
                    logps.push(logp);
                }
            }
        }
        Ok((actions, logps))
    }

    fn log_std_values(&self) -> Result<Vec<f32>> {
        let ls = self
            .log_std
            .as_ref()
            .expect("a Gaussian policy has log_std");
        Ok(ls.tensor().to_vec::<f32>()?)
    }

    /// One rollout step of every copy in `envs` from observations `obs`: the policy samples
    /// an action per copy and the copies step. Returns the sampled actions
    /// (`[n, action_width]`), their log-probabilities and values (`[n]`) and the step.
    ///
    /// # Errors
    /// From the tensor engine or the environments.
    pub fn act(&self, envs: &mut VecEnv, obs: &[f32], rng: &mut Rng) -> Result<Acted> {
        let (out, values) = self.evaluate(obs)?;
        let (sampled, logps) = self.sample(&out, rng)?;
        let actions: Vec<Action> = sampled
            .chunks(self.action_width())
            .map(|a| self.to_action(a))
            .collect();
        let step = envs.step(&actions)?;
        Ok(Acted {
            sampled,
            logps,
            values,
            step,
        })
    }

    /// The environment action of one rollout action.
    pub fn to_action(&self, a: &[f32]) -> Action {
        match self.kind {
            ActionKind::Discrete(_) => Action::Discrete(a[0] as usize),
            ActionKind::Continuous(_) => Action::Continuous(a.to_vec()),
        }
    }

    /// The most probable action (the Gaussian's mean) for one observation.
    ///
    /// # Errors
    /// When the observation has the wrong size.
    pub fn greedy(&self, obs: &[f32]) -> Result<Action> {
        let x = self.input(obs)?;
        let out = nabla::no_grad(|| self.actor.forward(&x))?.to_vec::<f32>()?;
        Ok(match self.kind {
            ActionKind::Discrete(_) => Action::Discrete(argmax_f32(&out)),
            ActionKind::Continuous(_) => Action::Continuous(out),
        })
    }

    /// Log-probabilities `[rows, 1]` of rollout actions (`[rows × action_width]`) under the
    /// current policy, and the mean entropy (a scalar), both recording gradients.
    ///
    /// # Errors
    /// From the tensor engine.
    pub fn log_prob_entropy(&self, x: &Tensor, actions: &[f32]) -> Result<(Tensor, Tensor)> {
        let out = self.actor.forward_t(x, true)?;
        let rows = x.dims()[0];
        let dev = Device::Cpu;
        match self.kind {
            ActionKind::Discrete(_) => {
                let logp_all = out.log_softmax(1)?;
                let index = Tensor::from_slice(actions, &[rows, 1], &dev)?;
                let logp = logp_all.gather(1, &index)?;
                let entropy = logp_all
                    .exp()?
                    .mul(&logp_all)?
                    .sum(&[1])?
                    .mean_all()?
                    .neg()?;
                Ok((logp, entropy))
            }
            ActionKind::Continuous(k) => {
                let log_std = self
                    .log_std
                    .as_ref()
                    .expect("a Gaussian policy has log_std")
                    .tensor();
                let a = Tensor::from_slice(actions, &[rows, k], &dev)?;
                // log N(a; μ, σ) = −(a − μ)² / (2σ²) − ln σ − ln √(2π), summed over dims.
                let inv_var = log_std.mul_scalar(-2.0)?.exp()?;
                let logp = a
                    .sub(&out)?
                    .sqr()?
                    .mul(&inv_var)?
                    .mul_scalar(-0.5)?
                    .sub(&log_std)?
                    .add_scalar(-f64::from(LN_SQRT_2PI))?
                    .sum(&[1])?
                    .reshape(&[rows, 1])?;
                // Entropy of a Gaussian: ln σ + ½ + ln √(2π) per dimension.
                let entropy = log_std
                    .add_scalar(0.5 + f64::from(LN_SQRT_2PI))?
                    .sum_all()?;
                Ok((logp, entropy))
            }
        }
    }

    /// Values `[rows, 1]`, recording gradients.
    ///
    /// # Errors
    /// From the tensor engine.
    pub fn value(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.critic.forward_t(x, true)?)
    }
}

/// Draws an index from softmax(`logits`); returns it and its log-probability.
pub fn sample_categorical(logits: &[f32], rng: &mut Rng) -> (usize, f32) {
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

/// What [`ActorCritic::act`] did in one step of all copies.
pub struct Acted {
    /// `[n, action_width]` the sampled actions as the policy sees them.
    pub sampled: Vec<f32>,
    /// `[n]` their log-probabilities.
    pub logps: Vec<f32>,
    /// `[n]` the critic's values of the observations acted on.
    pub values: Vec<f32>,
    /// What the copies returned.
    pub step: VecStep,
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn gaussian_log_prob_matches_the_sampler_and_the_closed_form() {
        // The sampler's log-probability of an action equals the tensor formula's; with
        // log σ = 0 and a = μ + 1 it is −½ − ln √(2π) per dimension.
        nabla::manual_seed(0);
        let net = ActorCritic::new(3, ActionKind::Continuous(2), &[8]).unwrap();
        let obs = [0.1f32, -0.2, 0.3];
        let (means, _) = net.evaluate(&obs).unwrap();
        let (a, logp) = net.sample(&means, &mut Rng::new(1)).unwrap();
        let x = net.input(&obs).unwrap();
        let (t_logp, entropy) = net.log_prob_entropy(&x, &a).unwrap();
        assert!((t_logp.to_vec::<f32>().unwrap()[0] - logp[0]).abs() < 1e-5);
        let shifted: Vec<f32> = means.iter().map(|m| m + 1.0).collect();
        let (t_logp, _) = net.log_prob_entropy(&x, &shifted).unwrap();
        let want = 2.0 * (-0.5 - LN_SQRT_2PI);
        assert!((t_logp.to_vec::<f32>().unwrap()[0] - want).abs() < 1e-5);
        let want_entropy = 2.0 * (0.5 + LN_SQRT_2PI);
        assert!((entropy.to_scalar::<f32>().unwrap() - want_entropy).abs() < 1e-5);
    }
}
