//! The 4×4 grid world of Sutton & Barto's Example 4.1: the two opposite corners are
//! terminal, every move costs −1, moves into the border leave the agent in place. Episodes
//! start in a uniformly random non-terminal cell.

use super::frozen_lake::{grid_move, sample_transition, TabularModel, Transition};
use super::Dynamics;
use crate::{invalid_state_kind, Action, Result, Space};
use nabla::Rng;

/// Cells per side.
pub const SIDE: usize = 4;

/// The agent's cell (`row * 4 + col`); cells 0 and 15 are terminal.
#[derive(Clone, Debug, Default)]
pub struct GridWorld {
    /// The agent's cell.
    pub state: usize,
}

fn is_terminal(s: usize) -> bool {
    s == 0 || s == SIDE * SIDE - 1
}

impl TabularModel for GridWorld {
    fn num_states(&self) -> usize {
        SIDE * SIDE
    }

    fn num_actions(&self) -> usize {
        4
    }

    fn transitions(&self, s: usize, a: usize) -> Vec<Transition> {
        if is_terminal(s) {
            return vec![(1.0, s, 0.0, true)];
        }
        let (r, c) = grid_move(s / SIDE, s % SIDE, a, SIDE, SIDE);
        let next = r * SIDE + c;
        vec![(1.0, next, -1.0, is_terminal(next))]
    }
}

impl Dynamics for GridWorld {
    const NAME: &'static str = "gridworld";
    const MAX_EPISODE_STEPS: usize = 100;

    fn observation_space(&self) -> Space {
        Space::Discrete(SIDE * SIDE)
    }

    fn action_space(&self) -> Space {
        Space::Discrete(4)
    }

    fn reset(&mut self, rng: &mut Rng) {
        self.state = 1 + rng.below((SIDE * SIDE - 2) as u64) as usize;
    }

    fn advance(&mut self, action: &Action, rng: &mut Rng) -> (f64, bool) {
        let Action::Discrete(a) = *action else {
            unreachable!("the action was checked against Discrete(4)")
        };
        let (_, next, reward, terminated) =
            sample_transition(&self.transitions(self.state, a), rng);
        self.state = next;
        (reward, terminated)
    }

    fn observe(&self) -> Vec<f32> {
        vec![self.state as f32]
    }

    fn state(&self) -> Vec<f64> {
        vec![self.state as f64]
    }

    fn set_state(&mut self, _state: &[f64]) -> Result<()> {
        Err(invalid_state_kind(Self::NAME))
    }

    fn state_len(&self) -> usize {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::check_seeding;
    use crate::env::{Env, TimeLimited};

    #[test]
    fn gridworld_same_seed_gives_the_same_episode() {
        check_seeding(|| Box::new(TimeLimited::new(GridWorld::default())));
    }

    #[test]
    fn gridworld_walks_to_the_corner_and_truncates_when_stuck() {
        let mut env = TimeLimited::new(GridWorld::default());
        let start = env.reset(Some(0))[0] as usize;
        assert!(!is_terminal(start));
        // Left along the row, then up the column, reaches cell 0.
        let mut total = 0.0;
        let mut done = false;
        for a in std::iter::repeat_n(0, SIDE).chain(std::iter::repeat(3)) {
            let s = env.step(&Action::Discrete(a)).unwrap();
            total += s.reward;
            if s.terminated {
                assert_eq!(s.obs, vec![0.0]);
                done = true;
                break;
            }
        }
        assert!(done && total <= -1.0);
        env.reset(Some(0));
        // Walking down forever ends in corner 15 or stuck against the bottom wall, where the
        // time limit ends the episode: either way within 100 steps.
        let mut last = None;
        for _ in 0..100 {
            let s = env.step(&Action::Discrete(1)).unwrap();
            let done = s.done();
            last = Some(s);
            if done {
                break;
            }
        }
        assert!(last.unwrap().done());
    }
}
