//! Pendulum-v1, as Gymnasium defines it: swing a pendulum up with a torque in [−2, 2],
//! reward −(θ² + 0.1·θ̇² + 0.001·u²) with θ normalized to [−π, π), 200 steps, no termination.

use super::Dynamics;
use crate::{Action, Result, Space};
use nabla::Rng;
use std::f64::consts::PI;

const MAX_SPEED: f64 = 8.0;
const MAX_TORQUE: f32 = 2.0;
/// Seconds per step.
const DT: f64 = 0.05;
const G: f64 = 10.0;
const M: f64 = 1.0;
const L: f64 = 1.0;

/// The state `[θ, θ̇]` (θ = 0 is upright); observations are `[cos θ, sin θ, θ̇]`.
#[derive(Clone, Debug, Default)]
pub struct Pendulum {
    /// `[theta, theta_dot]`.
    pub state: [f64; 2],
}

/// `θ` wrapped into `[−π, π)` the way NumPy's `%` does (the result has the divisor's sign).
fn angle_normalize(x: f64) -> f64 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

impl Dynamics for Pendulum {
    const NAME: &'static str = "pendulum";
    const MAX_EPISODE_STEPS: usize = 200;

    fn observation_space(&self) -> Space {
        Space::Box {
            low: vec![-1.0, -1.0, -MAX_SPEED as f32],
            high: vec![1.0, 1.0, MAX_SPEED as f32],
        }
    }

    fn action_space(&self) -> Space {
        Space::Box {
            low: vec![-MAX_TORQUE],
            high: vec![MAX_TORQUE],
        }
    }

    fn reset(&mut self, rng: &mut Rng) {
        self.state = [-PI + 2.0 * PI * rng.next_f64(), -1.0 + 2.0 * rng.next_f64()];
    }

    fn advance(&mut self, action: &Action, _rng: &mut Rng) -> (f64, bool) {
        let Action::Continuous(u) = action else {
            unreachable!("the action was checked against a box")
        };
        let [th, thdot] = self.state;
        // Gymnasium keeps the torque in f32, and NumPy evaluates `0.001 * u**2` and
        // `3.0 / (m * l**2) * u` in f32 too (a Python float does not widen an f32 scalar).
        let u = u[0].clamp(-MAX_TORQUE, MAX_TORQUE);
        let torque_cost = (0.001f32 * (u * u)) as f64;
        let costs = angle_normalize(th).powi(2) + 0.1 * thdot * thdot + torque_cost;
        let push = ((3.0 / (M * L * L)) as f32 * u) as f64;
        let newthdot = thdot + (3.0 * G / (2.0 * L) * th.sin() + push) * DT;
        let newthdot = newthdot.clamp(-MAX_SPEED, MAX_SPEED);
        self.state = [th + newthdot * DT, newthdot];
        (-costs, false)
    }

    fn observe(&self) -> Vec<f32> {
        let [th, thdot] = self.state;
        vec![th.cos() as f32, th.sin() as f32, thdot as f32]
    }

    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }

    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        self.state.copy_from_slice(state);
        Ok(())
    }

    fn state_len(&self) -> usize {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::check_seeding;
    use crate::env::{Env, TimeLimited};

    #[test]
    fn pendulum_same_seed_gives_the_same_episode() {
        check_seeding(|| Box::new(TimeLimited::new(Pendulum::default())));
    }

    #[test]
    fn pendulum_never_terminates_and_is_truncated_at_200() {
        let mut env = TimeLimited::new(Pendulum::default());
        env.reset(Some(0));
        for t in 1..=200 {
            let s = env.step(&Action::Continuous(vec![5.0])).unwrap();
            assert!(!s.terminated);
            assert_eq!(s.truncated, t == 200);
            assert!(s.obs[2].abs() <= 8.0);
        }
    }

    #[test]
    fn pendulum_reward_matches_hand_computed_cost() {
        // Hanging down at rest (θ = π, normalized to −π), torque 2 (10 clipped):
        // cost = π² + 0 + 0.001·4.
        let mut env = TimeLimited::new(Pendulum::default());
        env.reset_to_state(&[PI, 0.0]).unwrap();
        let s = env.step(&Action::Continuous(vec![10.0])).unwrap();
        assert!((s.reward + (PI * PI + 0.004)).abs() < 1e-9, "{}", s.reward);
        assert!((angle_normalize(3.0 * PI) + PI).abs() < 1e-12);
        assert!((angle_normalize(-0.5) + 0.5).abs() < 1e-12);
    }
}
