//! CartPole-v1 (Barto, Sutton & Anderson 1983), as Gymnasium defines it: Euler steps of
//! 0.02 s, ±10 N pushes, the episode ends when the pole leans past 12° or the cart leaves
//! ±2.4 m, +1 per step including the last, 500 steps at most.

use super::Dynamics;
use crate::{Action, Result, Space};
use nabla::Rng;

const GRAVITY: f64 = 9.8;
const MASS_CART: f64 = 1.0;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASS_POLE + MASS_CART;
/// Half the pole's length (m).
const LENGTH: f64 = 0.5;
const POLE_MASS_LENGTH: f64 = MASS_POLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
/// Seconds per step.
const TAU: f64 = 0.02;
/// 12° in radians, computed as Gymnasium does.
const THETA_THRESHOLD: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
const X_THRESHOLD: f64 = 2.4;

/// The cart-pole state `[x, ẋ, θ, θ̇]` (m, m/s, rad, rad/s); observations are the same four
/// numbers as f32. Actions: 0 pushes left, 1 pushes right.
#[derive(Clone, Debug, Default)]
pub struct CartPole {
    /// `[x, x_dot, theta, theta_dot]`.
    pub state: [f64; 4],
}

impl Dynamics for CartPole {
    const NAME: &'static str = "cartpole";
    const MAX_EPISODE_STEPS: usize = 500;

    fn observation_space(&self) -> Space {
        let high = [
            (X_THRESHOLD * 2.0) as f32,
            f32::INFINITY,
            (THETA_THRESHOLD * 2.0) as f32,
            f32::INFINITY,
        ];
        Space::Box {
            low: high.iter().map(|h| -h).collect(),
            high: high.to_vec(),
        }
    }

    fn action_space(&self) -> Space {
        Space::Discrete(2)
    }

    fn reset(&mut self, rng: &mut Rng) {
        for v in &mut self.state {
            *v = -0.05 + 0.1 * rng.next_f64();
        }
    }

    fn advance(&mut self, action: &Action, _rng: &mut Rng) -> (f64, bool) {
        let [x, x_dot, theta, theta_dot] = self.state;
        let force = if *action == Action::Discrete(1) {
            FORCE_MAG
        } else {
            -FORCE_MAG
        };
        let (sin, cos) = theta.sin_cos();
        let temp = (force + POLE_MASS_LENGTH * theta_dot * theta_dot * sin) / TOTAL_MASS;
        let theta_acc = (GRAVITY * sin - cos * temp)
            / (LENGTH * (4.0 / 3.0 - MASS_POLE * cos * cos / TOTAL_MASS));
        let x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS;
        let x = x + TAU * x_dot;
        let x_dot = x_dot + TAU * x_acc;
        let theta = theta + TAU * theta_dot;
        let theta_dot = theta_dot + TAU * theta_acc;
        self.state = [x, x_dot, theta, theta_dot];
        let terminated = !(-X_THRESHOLD..=X_THRESHOLD).contains(&x)
            || !(-THETA_THRESHOLD..=THETA_THRESHOLD).contains(&theta);
        (1.0, terminated)
    }

    fn observe(&self) -> Vec<f32> {
        self.state.iter().map(|&v| v as f32).collect()
    }

    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }

    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        self.state.copy_from_slice(state);
        Ok(())
    }

    fn state_len(&self) -> usize {
        4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::{check_needs_reset, check_seeding};
    use crate::env::{Env, TimeLimited};

    #[test]
    fn cartpole_same_seed_gives_the_same_episode() {
        check_seeding(|| Box::new(TimeLimited::new(CartPole::default())));
    }

    #[test]
    fn cartpole_terminates_when_the_pole_falls() {
        let mut env = TimeLimited::new(CartPole::default());
        env.reset(Some(0));
        // Pushing right forever tips the pole left past 12° within a few dozen steps.
        let mut steps = 0;
        loop {
            let s = env.step(&Action::Discrete(1)).unwrap();
            steps += 1;
            assert_eq!(s.reward, 1.0);
            if s.terminated {
                assert!(!s.truncated);
                assert!(s.obs[2].abs() > 0.2);
                break;
            }
            assert!(steps < 100);
        }
        check_needs_reset(&mut TimeLimited::new(CartPole::default()), 100);
    }

    #[test]
    fn cartpole_is_truncated_at_its_time_limit() {
        // Pushing toward where the pole leans (angle plus a share of its angular velocity)
        // keeps it up for the 500 steps.
        let mut env = TimeLimited::new(CartPole::default());
        let mut obs = env.reset(Some(0));
        for t in 1..=500 {
            let lean = obs[2] + 0.5 * obs[3] + 0.01 * obs[0] + 0.1 * obs[1];
            let s = env
                .step(&Action::Discrete(usize::from(lean > 0.0)))
                .unwrap();
            obs = s.obs.clone();
            assert!(!s.terminated, "fell at step {t}");
            assert_eq!(s.truncated, t == 500);
        }
    }

    #[test]
    fn cartpole_step_matches_hand_computed_euler_step() {
        // From rest, pushing right: temp = 10/1.1, θ̈ = -cos·temp / (0.5·(4/3 - 0.1/1.1)),
        // ẍ = temp - 0.05·θ̈/1.1; Euler moves only the velocities in the first step.
        let mut env = TimeLimited::new(CartPole::default());
        env.reset_to_state(&[0.0; 4]).unwrap();
        let s = env.step(&Action::Discrete(1)).unwrap();
        let temp = 10.0 / 1.1;
        let theta_acc = -temp / (0.5 * (4.0 / 3.0 - 0.1 / 1.1));
        let x_acc = temp - 0.05 * theta_acc / 1.1;
        let want = [0.0, 0.02 * x_acc, 0.0, 0.02 * theta_acc];
        for (g, w) in s.obs.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-6, "{:?} vs {want:?}", s.obs);
        }
    }

    #[test]
    fn cartpole_refuses_an_action_outside_its_space() {
        let mut env = TimeLimited::new(CartPole::default());
        env.reset(Some(0));
        let err = env.step(&Action::Discrete(2)).unwrap_err();
        assert!(err.to_string().contains("Discrete(2)"), "{err}");
    }
}
