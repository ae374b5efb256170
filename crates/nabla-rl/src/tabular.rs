//! Tabular methods for tasks with a few discrete states: value iteration (planning with the
//! known model) and Q-learning (learning from experience).

use crate::env::frozen_lake::TabularModel;
use crate::{
    error::{invalid, unsupported},
    Action, Env, Result, Space,
};
use nabla::Rng;

/// Optimal state values and a greedy policy, from value iteration.
#[derive(Clone, Debug)]
pub struct ValueIteration {
    /// `V*(s)` for each state.
    pub values: Vec<f64>,
    /// A greedy action for each state.
    pub policy: Vec<usize>,
    /// Sweeps until the largest change fell below the tolerance.
    pub sweeps: usize,
}

/// `Q(s, a) = Σ p · (r + γ · V(s') · [s' not terminal])` for every action of `s`.
fn action_values(model: &dyn TabularModel, values: &[f64], s: usize, gamma: f64) -> Vec<f64> {
    (0..model.num_actions())
        .map(|a| {
            model
                .transitions(s, a)
                .iter()
                .map(|&(p, next, r, terminal)| {
                    p * (r + if terminal { 0.0 } else { gamma * values[next] })
                })
                .sum()
        })
        .collect()
}

/// The first index of the largest value.
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Bellman optimality sweeps `V(s) ← max_a Q(s, a)` until no value moves by more than `tol`.
///
/// # Errors
/// [`crate::Error::InvalidArgument`] unless `0 < gamma <= 1` and `tol > 0`.
pub fn value_iteration(model: &dyn TabularModel, gamma: f64, tol: f64) -> Result<ValueIteration> {
    if !(gamma > 0.0 && gamma <= 1.0) || tol.is_nan() || tol <= 0.0 {
        return Err(invalid(
            "value_iteration",
            format!("needs 0 < gamma <= 1 and tol > 0, got gamma {gamma}, tol {tol}"),
        ));
    }
    let n = model.num_states();
    let mut values = vec![0.0; n];
    let mut sweeps = 0;
    loop {
        sweeps += 1;
        let mut delta: f64 = 0.0;
        for s in 0..n {
            let best = action_values(model, &values, s, gamma)
                .into_iter()
                .fold(f64::NEG_INFINITY, f64::max);
            delta = delta.max((best - values[s]).abs());
            values[s] = best;
        }
        if delta < tol || sweeps >= 100_000 {
            break;
        }
    }
    let policy = (0..n)
        .map(|s| argmax(&action_values(model, &values, s, gamma)))
        .collect();
    Ok(ValueIteration {
        values,
        policy,
        sweeps,
    })
}

/// Settings of [`QLearning`].
#[derive(Clone, Debug)]
pub struct QLearningConfig {
    /// Learning rate α of `Q ← Q + α (r + γ max Q' − Q)`.
    pub lr: f64,
    /// Discount γ.
    pub gamma: f64,
    /// ε at the start of training.
    pub start_epsilon: f64,
    /// ε after `exploration_fraction` of the steps (and from then on).
    pub end_epsilon: f64,
    /// Share of the steps over which ε falls linearly.
    pub exploration_fraction: f64,
}

impl Default for QLearningConfig {
    fn default() -> Self {
        QLearningConfig {
            lr: 0.05,
            gamma: 0.99,
            start_epsilon: 1.0,
            end_epsilon: 0.05,
            exploration_fraction: 0.5,
        }
    }
}

/// ε falling linearly from `start` to `end` over `duration` steps, then constant (CleanRL's
/// `linear_schedule`).
pub fn linear_schedule(start: f64, end: f64, duration: f64, step: usize) -> f64 {
    let slope = (end - start) / duration.max(1.0);
    (slope * step as f64 + start).max(end.min(start))
}

/// A Q-table `[states × actions]` learned by ε-greedy Q-learning (Watkins 1989).
#[derive(Clone, Debug)]
pub struct QLearning {
    /// `q[s * num_actions + a]`.
    pub q: Vec<f64>,
    /// Actions per state.
    pub num_actions: usize,
    /// Settings.
    pub config: QLearningConfig,
}

/// The state index an observation of a discrete space holds.
pub fn state_index(obs: &[f32]) -> usize {
    obs[0] as usize
}

impl QLearning {
    /// A zero table for an environment with discrete observations and actions.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] when a space is not discrete.
    pub fn new(env: &dyn Env, config: QLearningConfig) -> Result<Self> {
        let (Space::Discrete(states), Space::Discrete(actions)) =
            (env.observation_space(), env.action_space())
        else {
            return Err(unsupported(
                "QLearning",
                env,
                "does not have discrete states and actions (use dqn or ppo)",
            ));
        };
        Ok(QLearning {
            q: vec![0.0; states * actions],
            num_actions: actions,
            config,
        })
    }

    /// The Q-values of state `s`.
    pub fn row(&self, s: usize) -> &[f64] {
        &self.q[s * self.num_actions..(s + 1) * self.num_actions]
    }

    /// The greedy action in state `s`.
    pub fn greedy(&self, s: usize) -> usize {
        argmax(self.row(s))
    }

    /// Learns for `steps` environment steps from `seed`; calls `on_episode(step, return)` at
    /// the end of each episode.
    ///
    /// # Errors
    /// When the environment refuses an action (it cannot: actions come from its space).
    pub fn train(
        &mut self,
        env: &mut dyn Env,
        steps: usize,
        seed: u64,
        on_episode: &mut dyn FnMut(usize, f64),
    ) -> Result<()> {
        let c = self.config.clone();
        let mut rng = Rng::new(seed);
        let mut s = state_index(&env.reset(Some(seed)));
        let mut episode_return = 0.0;
        let explore = c.exploration_fraction * steps as f64;
        for step in 0..steps {
            let eps = linear_schedule(c.start_epsilon, c.end_epsilon, explore, step);
            let a = if rng.next_f64() < eps {
                rng.below(self.num_actions as u64) as usize
            } else {
                self.greedy(s)
            };
            let out = env.step(&Action::Discrete(a))?;
            let next = state_index(&out.obs);
            let bootstrap = if out.terminated {
                0.0
            } else {
                self.row(next)
                    .iter()
                    .cloned()
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            let i = s * self.num_actions + a;
            self.q[i] += c.lr * (out.reward + c.gamma * bootstrap - self.q[i]);
            episode_return += out.reward;
            s = next;
            if out.done() {
                on_episode(step + 1, episode_return);
                episode_return = 0.0;
                s = state_index(&env.reset(None));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{FrozenLake, GridWorld, TimeLimited};
    use crate::eval::evaluate;

    #[test]
    fn value_iteration_solves_the_grid_world() {
        // Sutton & Barto's Figure 4.1: with γ = 1 the optimal value of a cell is minus its
        // distance (in moves) to the nearer terminal corner.
        let vi = value_iteration(&GridWorld::default(), 1.0, 1e-9).unwrap();
        for s in 0..16 {
            let (r, c) = (s / 4, s % 4);
            let dist = (r + c).min(6 - r - c);
            assert!(
                (vi.values[s] + dist as f64).abs() < 1e-9,
                "cell {s}: {}",
                vi.values[s]
            );
        }
        assert!(value_iteration(&GridWorld::default(), 1.5, 1e-9).is_err());
    }

    #[test]
    fn q_learning_learns_the_grid_world_to_optimal_returns() {
        let mut env = TimeLimited::new(GridWorld::default());
        let mut agent = QLearning::new(&env, QLearningConfig::default()).unwrap();
        let random = evaluate(&mut env, 200, 1, &mut |_, rng: &mut Rng| {
            Ok(Action::Discrete(rng.below(4) as usize))
        })
        .unwrap();
        agent.train(&mut env, 20_000, 0, &mut |_, _| {}).unwrap();
        let learned = evaluate(&mut env, 200, 1, &mut |obs, _| {
            Ok(Action::Discrete(agent.greedy(state_index(obs))))
        })
        .unwrap();
        // Optimal: −(mean distance to the nearer corner) ≈ −2.1 from a uniform start.
        assert!(
            learned.mean > -2.5 && learned.mean > random.mean + 10.0,
            "{learned:?} {random:?}"
        );
    }

    #[test]
    fn q_learning_refuses_continuous_tasks() {
        let env = crate::make("cartpole").unwrap();
        assert!(QLearning::new(env.as_ref(), QLearningConfig::default()).is_err());
        let lake = TimeLimited::new(FrozenLake::four_by_four());
        assert!(QLearning::new(&lake, QLearningConfig::default()).is_ok());
    }
}
