//! MountainCar-v0 (Moore 1990), as Gymnasium defines it: a car in a valley pushes left,
//! not at all or right (0, 1, 2), −1 per step, the episode ends at position ≥ 0.5, 200
//! steps at most.

use super::Dynamics;
use crate::{Action, Result, Space};
use nabla::Rng;

const MIN_POSITION: f64 = -1.2;
const MAX_POSITION: f64 = 0.6;
const MAX_SPEED: f64 = 0.07;
const GOAL_POSITION: f64 = 0.5;
const FORCE: f64 = 0.001;
const GRAVITY: f64 = 0.0025;

/// The state `[position, velocity]`; the hill's height at `x` is `0.45·sin(3x) + 0.55`.
#[derive(Clone, Debug, Default)]
pub struct MountainCar {
    /// `[position, velocity]`.
    pub state: [f64; 2],
}

impl MountainCar {
    /// The hill's height at `x` (for drawing).
    pub fn height(x: f64) -> f64 {
        (3.0 * x).sin() * 0.45 + 0.55
    }
}

impl Dynamics for MountainCar {
    const NAME: &'static str = "mountaincar";
    const MAX_EPISODE_STEPS: usize = 200;

    fn observation_space(&self) -> Space {
        Space::Box {
            low: vec![MIN_POSITION as f32, -MAX_SPEED as f32],
            high: vec![MAX_POSITION as f32, MAX_SPEED as f32],
        }
    }

    fn action_space(&self) -> Space {
        Space::Discrete(3)
    }

    fn reset(&mut self, rng: &mut Rng) {
        self.state = [-0.6 + 0.2 * rng.next_f64(), 0.0];
    }

    fn advance(&mut self, action: &Action, _rng: &mut Rng) -> (f64, bool) {
        let Action::Discrete(a) = *action else {
            unreachable!("the action was checked against Discrete(3)")
        };
        let [position, velocity] = self.state;
        let velocity = velocity + (a as f64 - 1.0) * FORCE + (3.0 * position).cos() * -GRAVITY;
        let mut velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED);
        let position = (position + velocity).clamp(MIN_POSITION, MAX_POSITION);
        if position == MIN_POSITION && velocity < 0.0 {
            velocity = 0.0;
        }
        self.state = [position, velocity];
        (-1.0, position >= GOAL_POSITION && velocity >= 0.0)
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
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::check_seeding;
    use crate::env::{Env, TimeLimited};

    #[test]
    fn mountaincar_same_seed_gives_the_same_episode() {
        check_seeding(|| Box::new(TimeLimited::new(MountainCar::default())));
    }

    #[test]
    fn mountaincar_is_truncated_after_200_steps_of_doing_nothing() {
        let mut env = TimeLimited::new(MountainCar::default());
        let obs = env.reset(Some(0));
        assert!((-0.6..-0.4).contains(&obs[0]) && obs[1] == 0.0);
        for t in 1..=200 {
            let s = env.step(&Action::Discrete(1)).unwrap();
            assert_eq!(s.reward, -1.0);
            assert!(!s.terminated);
            assert_eq!(s.truncated, t == 200);
        }
    }

    #[test]
    fn mountaincar_terminates_at_the_flag_and_stops_at_the_left_wall() {
        // Pushing along the velocity (energy pumping) reaches the goal well within 200 steps.
        let mut env = TimeLimited::new(MountainCar::default());
        env.reset(Some(1));
        let mut reached = false;
        let mut velocity = 0.0f32;
        for _ in 0..200 {
            let s = env
                .step(&Action::Discrete(if velocity >= 0.0 { 2 } else { 0 }))
                .unwrap();
            velocity = s.obs[1];
            if s.terminated {
                assert!(s.obs[0] >= 0.5);
                reached = true;
                break;
            }
        }
        assert!(reached);
        env.reset_to_state(&[-1.19, -0.05]).unwrap();
        let s = env.step(&Action::Discrete(0)).unwrap();
        assert_eq!(s.obs, vec![-1.2, 0.0]);
    }
}
