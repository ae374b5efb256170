//! N copies of a task stepped together, each reset as soon as its episode ends.

use super::Env;
use crate::{error::invalid, Action, Result};

/// What one step of all copies returns.
#[derive(Clone, Debug, Default)]
pub struct VecStep {
    /// `[n, obs_dim]` row-major: each copy's next observation, which is the first
    /// observation of a new episode where the copy's episode just ended.
    pub obs: Vec<f32>,
    /// `[n]` rewards.
    pub rewards: Vec<f64>,
    /// `[n]` the task ended.
    pub terminated: Vec<bool>,
    /// `[n]` the time limit cut the episode.
    pub truncated: Vec<bool>,
    /// `[n]` the last observation of an episode that just ended (to bootstrap from on
    /// truncation), `None` elsewhere.
    pub final_obs: Vec<Option<Vec<f32>>>,
    /// `(return, length)` of each episode that ended in this step.
    pub finished: Vec<(f64, usize)>,
}

impl VecStep {
    /// `[n]` 1 where a copy's episode ended (terminated or truncated), 0 elsewhere: the mask
    /// that stops returns and advantages from flowing across episodes.
    pub fn dones(&self) -> Vec<f32> {
        self.terminated
            .iter()
            .zip(&self.truncated)
            .map(|(&t, &c)| f32::from(u8::from(t || c)))
            .collect()
    }
}

/// Copies of one task with automatic resets (Gymnasium's `SyncVectorEnv` with same-step
/// autoreset); it also keeps each copy's running episode return and length.
pub struct VecEnv {
    envs: Vec<Box<dyn Env>>,
    returns: Vec<f64>,
    lengths: Vec<usize>,
}

impl VecEnv {
    /// `n` copies made by `make`.
    ///
    /// # Errors
    /// When `n` is 0 or `make` fails.
    pub fn new(n: usize, make: impl Fn() -> Result<Box<dyn Env>>) -> Result<Self> {
        if n == 0 {
            return Err(invalid("VecEnv::new", "needs at least one environment"));
        }
        let envs = (0..n).map(|_| make()).collect::<Result<Vec<_>>>()?;
        Ok(VecEnv {
            envs,
            returns: vec![0.0; n],
            lengths: vec![0; n],
        })
    }

    /// Number of copies.
    pub fn len(&self) -> usize {
        self.envs.len()
    }

    /// Always false (a `VecEnv` has at least one copy).
    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    /// The first copy (for its spaces and name).
    pub fn first(&self) -> &dyn Env {
        self.envs[0].as_ref()
    }

    /// Resets copy `i` with seed `seed + i`; returns the `[n, obs_dim]` observations.
    pub fn reset(&mut self, seed: u64) -> Vec<f32> {
        self.returns.fill(0.0);
        self.lengths.fill(0);
        self.envs
            .iter_mut()
            .enumerate()
            .flat_map(|(i, e)| e.reset(Some(seed.wrapping_add(i as u64))))
            .collect()
    }

    /// Steps copy `i` with `actions[i]`, resetting the copies whose episode ended.
    ///
    /// # Errors
    /// When the number of actions differs from the number of copies, or an action is invalid.
    pub fn step(&mut self, actions: &[Action]) -> Result<VecStep> {
        if actions.len() != self.envs.len() {
            return Err(invalid(
                "VecEnv::step",
                format!(
                    "{} actions for {} environments",
                    actions.len(),
                    self.envs.len()
                ),
            ));
        }
        let mut out = VecStep::default();
        for (i, (env, action)) in self.envs.iter_mut().zip(actions).enumerate() {
            let s = env.step(action)?;
            self.returns[i] += s.reward;
            self.lengths[i] += 1;
            out.rewards.push(s.reward);
            out.terminated.push(s.terminated);
            out.truncated.push(s.truncated);
            if s.done() {
                out.finished.push((self.returns[i], self.lengths[i]));
                self.returns[i] = 0.0;
                self.lengths[i] = 0;
                out.obs.extend(env.reset(None));
                out.final_obs.push(Some(s.obs));
            } else {
                out.obs.extend(s.obs);
                out.final_obs.push(None);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::make;

    #[test]
    fn vec_env_resets_ended_copies_and_reports_their_returns() {
        let mut v = VecEnv::new(3, || make("cartpole")).unwrap();
        let obs = v.reset(0);
        assert_eq!(obs.len(), 12);
        let mut finished = Vec::new();
        // Always pushing right ends every episode within ~60 steps.
        for _ in 0..100 {
            let s = v.step(&vec![Action::Discrete(1); 3]).unwrap();
            for (i, t) in s.terminated.iter().enumerate() {
                assert_eq!(*t, s.final_obs[i].is_some());
                if *t {
                    // The returned observation is a fresh start near upright.
                    assert!(s.obs[i * 4 + 2].abs() <= 0.05);
                }
            }
            finished.extend(s.finished);
        }
        assert!(finished.len() >= 3);
        assert!(finished.iter().all(|&(r, l)| r == l as f64 && l > 5));
        assert!(v.step(&[Action::Discrete(1)]).is_err());
        assert!(VecEnv::new(0, || make("cartpole")).is_err());
    }
}
