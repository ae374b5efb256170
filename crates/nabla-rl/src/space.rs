//! Observation and action spaces, and actions.

use std::fmt;

/// The set of values an observation or action takes.
#[derive(Clone, Debug, PartialEq)]
pub enum Space {
    /// `{0, 1, .., n - 1}`; an observation of it is one `f32` holding the index.
    Discrete(usize),
    /// A box of `low.len()` real numbers, `low[i] <= x[i] <= high[i]` (bounds may be infinite).
    Box {
        /// Lower bounds.
        low: Vec<f32>,
        /// Upper bounds.
        high: Vec<f32>,
    },
}

impl Space {
    /// Numbers in one observation or action of this space (1 for `Discrete`).
    pub fn dim(&self) -> usize {
        match self {
            Space::Discrete(_) => 1,
            Space::Box { low, .. } => low.len(),
        }
    }

    /// The number of discrete values, or `None` for a box.
    pub fn n(&self) -> Option<usize> {
        match self {
            Space::Discrete(n) => Some(*n),
            Space::Box { .. } => None,
        }
    }

    /// Whether `action` lies in this space.
    pub fn contains(&self, action: &Action) -> bool {
        match (self, action) {
            (Space::Discrete(n), Action::Discrete(a)) => a < n,
            (Space::Box { low, .. }, Action::Continuous(x)) => {
                x.len() == low.len() && x.iter().all(|v| v.is_finite())
            }
            _ => false,
        }
    }

    /// A uniformly random member (boxes with infinite bounds draw from `[-1, 1]` there).
    pub fn sample(&self, rng: &mut nabla::Rng) -> Action {
        match self {
            Space::Discrete(n) => Action::Discrete(rng.below(*n as u64) as usize),
            Space::Box { low, high } => Action::Continuous(
                low.iter()
                    .zip(high)
                    .map(|(&l, &h)| {
                        let (l, h) = if l.is_finite() && h.is_finite() {
                            (l, h)
                        } else {
                            (-1.0, 1.0)
                        };
                        l + (h - l) * rng.next_f32()
                    })
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Space::Discrete(n) => write!(f, "Discrete({n})"),
            Space::Box { low, high } => write!(f, "Box(low={low:?}, high={high:?})"),
        }
    }
}

/// One action: an index for a discrete space, a vector for a box.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// An index in `0..n`.
    Discrete(usize),
    /// A point of the box (environments clip it to the bounds, as Gymnasium's do).
    Continuous(Vec<f32>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discrete_space_contains_only_its_indices() {
        let s = Space::Discrete(3);
        assert!(s.contains(&Action::Discrete(2)));
        assert!(!s.contains(&Action::Discrete(3)));
        assert!(!s.contains(&Action::Continuous(vec![0.0])));
    }

    #[test]
    fn box_space_samples_inside_its_bounds() {
        let s = Space::Box {
            low: vec![-2.0],
            high: vec![2.0],
        };
        let mut rng = nabla::Rng::new(0);
        for _ in 0..100 {
            let Action::Continuous(x) = s.sample(&mut rng) else {
                panic!("a box samples continuous actions")
            };
            assert!((-2.0..=2.0).contains(&x[0]));
        }
        assert!(!s.contains(&Action::Continuous(vec![f32::NAN])));
        assert!(!s.contains(&Action::Continuous(vec![0.0, 1.0])));
    }
}
