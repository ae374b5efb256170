//! The experience replay buffer of DQN: a ring of the last `capacity` transitions.

use crate::{error::invalid, Result};
use nabla::Rng;

/// A batch of transitions, row-major.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// `[batch, obs_dim]`.
    pub obs: Vec<f32>,
    /// `[batch, obs_dim]`: the observation after the action (the real last one where the
    /// episode was truncated).
    pub next_obs: Vec<f32>,
    /// `[batch]`.
    pub actions: Vec<usize>,
    /// `[batch]`.
    pub rewards: Vec<f32>,
    /// `[batch]` 1 where the task terminated after the action (no bootstrap), else 0.
    pub dones: Vec<f32>,
}

/// Transitions `(s, a, r, s', done)` in a ring: once full, each new one replaces the oldest.
pub struct ReplayBuffer {
    capacity: usize,
    obs_dim: usize,
    obs: Vec<f32>,
    next_obs: Vec<f32>,
    actions: Vec<usize>,
    rewards: Vec<f32>,
    dones: Vec<f32>,
    /// Where the next transition goes.
    cursor: usize,
    len: usize,
}

impl ReplayBuffer {
    /// An empty buffer of `capacity` transitions of `obs_dim` numbers each.
    ///
    /// # Errors
    /// When a size is 0 or the buffer would exceed 2³¹ numbers.
    pub fn new(capacity: usize, obs_dim: usize) -> Result<Self> {
        if capacity == 0 || obs_dim == 0 || capacity.saturating_mul(obs_dim) > 1 << 31 {
            return Err(invalid(
                "ReplayBuffer::new",
                format!("capacity {capacity} × observation size {obs_dim} must be in 1..=2^31"),
            ));
        }
        Ok(ReplayBuffer {
            capacity,
            obs_dim,
            obs: vec![0.0; capacity * obs_dim],
            next_obs: vec![0.0; capacity * obs_dim],
            actions: vec![0; capacity],
            rewards: vec![0.0; capacity],
            dones: vec![0.0; capacity],
            cursor: 0,
            len: 0,
        })
    }

    /// Transitions held (at most the capacity).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was added yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds one transition, overwriting the oldest when full.
    pub fn push(&mut self, obs: &[f32], action: usize, reward: f32, next_obs: &[f32], done: bool) {
        let d = self.obs_dim;
        let i = self.cursor;
        self.obs[i * d..(i + 1) * d].copy_from_slice(obs);
        self.next_obs[i * d..(i + 1) * d].copy_from_slice(next_obs);
        self.actions[i] = action;
        self.rewards[i] = reward;
        self.dones[i] = f32::from(u8::from(done));
        self.cursor = (self.cursor + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
    }

    /// `batch` transitions drawn uniformly with replacement.
    ///
    /// # Errors
    /// When the buffer is empty.
    pub fn sample(&self, batch: usize, rng: &mut Rng) -> Result<Batch> {
        if self.len == 0 {
            return Err(invalid("ReplayBuffer::sample", "the buffer is empty"));
        }
        let d = self.obs_dim;
        let mut b = Batch::default();
        for _ in 0..batch {
            let i = rng.below(self.len as u64) as usize;
            b.obs.extend_from_slice(&self.obs[i * d..(i + 1) * d]);
            b.next_obs
                .extend_from_slice(&self.next_obs[i * d..(i + 1) * d]);
            b.actions.push(self.actions[i]);
            b.rewards.push(self.rewards[i]);
            b.dones.push(self.dones[i]);
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_buffer_wraps_and_keeps_the_newest_transitions() {
        let mut buf = ReplayBuffer::new(3, 1).unwrap();
        for t in 0..5 {
            buf.push(&[t as f32], t, t as f32, &[t as f32 + 1.0], t == 4);
        }
        assert_eq!(buf.len(), 3);
        // Slots hold transitions 3, 4, 2 (0 and 1 were overwritten).
        assert_eq!(buf.actions, vec![3, 4, 2]);
        assert_eq!(buf.obs, vec![3.0, 4.0, 2.0]);
        assert_eq!(buf.next_obs, vec![4.0, 5.0, 3.0]);
        assert_eq!(buf.dones, vec![0.0, 1.0, 0.0]);
        let b = buf.sample(100, &mut Rng::new(0)).unwrap();
        assert!(b.actions.iter().all(|a| (2..5).contains(a)));
        for (i, &a) in b.actions.iter().enumerate() {
            assert_eq!(b.obs[i], a as f32);
            assert_eq!(b.rewards[i], a as f32);
        }
        // Every slot gets drawn.
        for a in 2..5 {
            assert!(b.actions.contains(&a));
        }
    }

    #[test]
    fn replay_buffer_refuses_bad_sizes_and_empty_samples() {
        assert!(ReplayBuffer::new(0, 4).is_err());
        assert!(ReplayBuffer::new(usize::MAX, 4).is_err());
        assert!(ReplayBuffer::new(4, 4)
            .unwrap()
            .sample(1, &mut Rng::new(0))
            .is_err());
    }
}
