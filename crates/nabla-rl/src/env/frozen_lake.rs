//! FrozenLake (4×4 and 8×8, slippery), as Gymnasium defines it: walk from S to G over
//! frozen tiles F without falling into a hole H. On slippery ice the intended move happens
//! with probability 1/3, and each perpendicular move with 1/3. Reward 1 on reaching G.

use super::Dynamics;
use crate::{invalid_state_kind, Action, Result, Space};
use nabla::Rng;

/// Gymnasium's 4×4 map.
pub const MAP_4X4: [&str; 4] = ["SFFF", "FHFH", "FFFH", "HFFG"];
/// Gymnasium's 8×8 map.
pub const MAP_8X8: [&str; 8] = [
    "SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF", "FFFHFFFF", "FHHFFFHF", "FHFFHFHF", "FFFHFFFG",
];

/// One possible outcome of an action: `(probability, next state, reward, terminated)`.
pub type Transition = (f64, usize, f64, bool);

/// A task whose transition probabilities are known: what value iteration needs.
pub trait TabularModel {
    /// Number of states.
    fn num_states(&self) -> usize;
    /// Number of actions.
    fn num_actions(&self) -> usize;
    /// The outcomes of action `a` in state `s` (probabilities sum to 1). Terminal states
    /// lead to themselves with reward 0.
    fn transitions(&self, s: usize, a: usize) -> Vec<Transition>;
}

/// The cell reached from `(row, col)` by action 0 left, 1 down, 2 right, 3 up; moves into
/// the border leave the agent where it is.
pub fn grid_move(
    row: usize,
    col: usize,
    action: usize,
    rows: usize,
    cols: usize,
) -> (usize, usize) {
    match action {
        0 => (row, col.saturating_sub(1)),
        1 => ((row + 1).min(rows - 1), col),
        2 => (row, (col + 1).min(cols - 1)),
        _ => (row.saturating_sub(1), col),
    }
}

/// Draws one outcome from `transitions`.
pub fn sample_transition(transitions: &[Transition], rng: &mut Rng) -> Transition {
    let u = rng.next_f64();
    let mut acc = 0.0;
    for t in transitions {
        acc += t.0;
        if u < acc {
            return *t;
        }
    }
    *transitions.last().expect("every action has an outcome")
}

/// A FrozenLake map and the agent's cell (`row * cols + col`).
#[derive(Clone, Debug)]
pub struct FrozenLake {
    /// The map's rows, of `S`, `F`, `H`, `G`.
    pub map: Vec<Vec<u8>>,
    /// Whether moves slip.
    pub slippery: bool,
    /// The agent's cell.
    pub state: usize,
}

impl FrozenLake {
    /// A lake from a map of equal-length rows with one `S`.
    pub fn new(map: &[&str], slippery: bool) -> Self {
        FrozenLake {
            map: map.iter().map(|r| r.as_bytes().to_vec()).collect(),
            slippery,
            state: 0,
        }
    }

    /// The 4×4 map, slippery (FrozenLake-v1).
    pub fn four_by_four() -> Self {
        Self::new(&MAP_4X4, true)
    }

    /// The 8×8 map, slippery (FrozenLake8x8-v1).
    pub fn eight_by_eight() -> Self {
        Self::new(&MAP_8X8, true)
    }

    /// Rows and columns.
    pub fn size(&self) -> (usize, usize) {
        (self.map.len(), self.map[0].len())
    }

    /// The letter of a cell.
    pub fn tile(&self, s: usize) -> u8 {
        let cols = self.size().1;
        self.map[s / cols][s % cols]
    }
}

impl TabularModel for FrozenLake {
    fn num_states(&self) -> usize {
        let (rows, cols) = self.size();
        rows * cols
    }

    fn num_actions(&self) -> usize {
        4
    }

    fn transitions(&self, s: usize, a: usize) -> Vec<Transition> {
        if matches!(self.tile(s), b'H' | b'G') {
            return vec![(1.0, s, 0.0, true)];
        }
        let (rows, cols) = self.size();
        let moves: Vec<usize> = if self.slippery {
            vec![(a + 3) % 4, a, (a + 1) % 4]
        } else {
            vec![a]
        };
        let p = 1.0 / moves.len() as f64;
        moves
            .into_iter()
            .map(|m| {
                let (r, c) = grid_move(s / cols, s % cols, m, rows, cols);
                let next = r * cols + c;
                let tile = self.tile(next);
                (
                    p,
                    next,
                    f64::from(tile == b'G'),
                    matches!(tile, b'G' | b'H'),
                )
            })
            .collect()
    }
}

impl Dynamics for FrozenLake {
    const NAME: &'static str = "frozenlake";
    const MAX_EPISODE_STEPS: usize = 100;

    fn observation_space(&self) -> Space {
        Space::Discrete(self.num_states())
    }

    fn action_space(&self) -> Space {
        Space::Discrete(4)
    }

    fn reset(&mut self, _rng: &mut Rng) {
        self.state = (0..self.num_states())
            .find(|&s| self.tile(s) == b'S')
            .unwrap_or(0);
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
    fn frozenlake_same_seed_gives_the_same_episode() {
        check_seeding(|| Box::new(TimeLimited::with_limit(FrozenLake::eight_by_eight(), 200)));
    }

    #[test]
    fn frozenlake_slips_to_each_side_with_probability_one_third() {
        let lake = FrozenLake::four_by_four();
        // From S (0), "down" may go left (stays at 0), down (4) or right (1).
        let t = lake.transitions(0, 1);
        let nexts: Vec<usize> = t.iter().map(|x| x.1).collect();
        assert_eq!(nexts, vec![0, 4, 1]);
        assert!(t.iter().all(|x| (x.0 - 1.0 / 3.0).abs() < 1e-12));
        // Into the hole at 5 from 1 going down: terminated, no reward.
        assert!(lake.transitions(1, 1).contains(&(1.0 / 3.0, 5, 0.0, true)));
        // Next to the goal (14 -> 15 going right): reward 1.
        assert!(lake
            .transitions(14, 2)
            .contains(&(1.0 / 3.0, 15, 1.0, true)));
        // Holes and the goal are absorbing.
        assert_eq!(lake.transitions(5, 0), vec![(1.0, 5, 0.0, true)]);
    }

    #[test]
    fn frozenlake_is_truncated_at_its_time_limit() {
        // A lake with neither holes nor a goal never terminates: the limit ends it at 100.
        let lake = FrozenLake::new(&["SF", "FF"], true);
        let mut env = TimeLimited::with_limit(lake, 100);
        env.reset(Some(0));
        for t in 1..=100 {
            let s = env.step(&Action::Discrete(0)).unwrap();
            assert!(!s.terminated);
            assert_eq!(s.truncated, t == 100);
        }
        assert!(env.reset_to_state(&[1.0]).is_err());
    }
}
