//! Discrete Markov chains: transition probabilities counted from sequences, sampling, the
//! stationary distribution and the log-likelihood of a sequence.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A first-order Markov chain over states `0..k`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarkovChain {
    /// Number of states.
    pub k: usize,
    /// `initial[i]`: probability of starting in state `i`.
    pub initial: Vec<f64>,
    /// `transition[i * k + j]`: probability of going from `i` to `j` (rows sum to 1).
    pub transition: Vec<f64>,
}

/// A draw from the distribution `p` (summing to 1) with one uniform number.
pub(crate) fn draw(p: &[f64], rng: &mut nabla::Rng) -> usize {
    let u = rng.next_f64();
    let mut acc = 0.0;
    for (i, &q) in p.iter().enumerate() {
        acc += q;
        if u < acc {
            return i;
        }
    }
    p.len() - 1
}

impl MarkovChain {
    /// Counts starts and transitions in `sequences` (states `< k`), adding `smoothing` to
    /// every count (Laplace smoothing; 0 gives the maximum-likelihood estimate). A state never
    /// left gets a uniform row.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `k == 0` or negative smoothing; [`Error::Data`] for a
    /// state `>= k` (naming the sequence and position) or no data.
    pub fn fit(sequences: &[Vec<usize>], k: usize, smoothing: f64) -> Result<MarkovChain> {
        if k == 0 || smoothing.is_nan() || smoothing < 0.0 {
            return Err(Error::invalid(
                "markov",
                format!("need k >= 1 ({k}) and smoothing >= 0 ({smoothing})"),
            ));
        }
        let mut start = vec![smoothing; k];
        let mut counts = vec![smoothing; k * k];
        for (s, seq) in sequences.iter().enumerate() {
            if let Some(t) = seq.iter().position(|&x| x >= k) {
                return Err(Error::data(
                    "markov",
                    format!("sequence {s} position {t}: state {} >= {k}", seq[t]),
                ));
            }
            if let Some(&first) = seq.first() {
                start[first] += 1.0;
            }
            for w in seq.windows(2) {
                counts[w[0] * k + w[1]] += 1.0;
            }
        }
        if start.iter().sum::<f64>() <= 0.0 {
            return Err(Error::data("markov", "no sequence has a state"));
        }
        normalize_rows(&mut start, k);
        normalize_rows(&mut counts, k);
        Ok(MarkovChain {
            k,
            initial: start,
            transition: counts,
        })
    }

    /// Row `i` of the transition matrix.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.transition[i * self.k..(i + 1) * self.k]
    }

    /// `len` states drawn from the chain, starting from `start` or from the initial
    /// distribution.
    pub fn sample(&self, len: usize, start: Option<usize>, rng: &mut nabla::Rng) -> Vec<usize> {
        let mut out = Vec::with_capacity(len);
        if len == 0 {
            return out;
        }
        let mut s = start
            .filter(|&s| s < self.k)
            .unwrap_or_else(|| draw(&self.initial, rng));
        out.push(s);
        while out.len() < len {
            s = draw(self.row(s), rng);
            out.push(s);
        }
        out
    }

    /// The stationary distribution `π = π P`, by power iteration from the uniform
    /// distribution (averaging two successive iterates, so periodic chains converge too).
    pub fn stationary(&self) -> Vec<f64> {
        let k = self.k;
        let mut pi = vec![1.0 / k as f64; k];
        for _ in 0..100_000 {
            let mut next = vec![0.0; k];
            for i in 0..k {
                for j in 0..k {
                    next[j] += pi[i] * self.transition[i * k + j];
                }
            }
            let next: Vec<f64> = next.iter().zip(&pi).map(|(a, b)| 0.5 * (a + b)).collect();
            let change: f64 = next.iter().zip(&pi).map(|(a, b)| (a - b).abs()).sum();
            pi = next;
            if change < 1e-13 {
                break;
            }
        }
        pi
    }

    /// `log P(seq)` in nats (`-inf` for an impossible sequence, 0 for an empty one).
    pub fn log_likelihood(&self, seq: &[usize]) -> f64 {
        let Some(&first) = seq.first() else {
            return 0.0;
        };
        if seq.iter().any(|&s| s >= self.k) {
            return f64::NEG_INFINITY;
        }
        self.initial[first].ln()
            + seq
                .windows(2)
                .map(|w| self.transition[w[0] * self.k + w[1]].ln())
                .sum::<f64>()
    }

    /// Writes the chain as JSON, atomically.
    ///
    /// # Errors
    /// [`Error::Tensor`] wrapping the I/O error.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::save_json(path.as_ref(), self)
    }
}

/// Scales each `k`-wide row of `m` to sum to 1 (a zero row becomes uniform).
pub(crate) fn normalize_rows(m: &mut [f64], k: usize) {
    for row in m.chunks_exact_mut(k) {
        let s: f64 = row.iter().sum();
        if s > 0.0 {
            row.iter_mut().for_each(|v| *v /= s);
        } else {
            row.fill(1.0 / k as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_counts_transitions() -> Result<()> {
        // 0→1, 1→1, 1→0, 0→1: from 0 always to 1; from 1 half to 0, half to 1.
        let m = MarkovChain::fit(&[vec![0, 1, 1, 0, 1]], 2, 0.0)?;
        assert_eq!(m.row(0), &[0.0, 1.0]);
        assert_eq!(m.row(1), &[0.5, 0.5]);
        assert_eq!(m.initial, vec![1.0, 0.0]);
        // log P = log 1 (start 0) + log 1 (0→1) + log ½ (1→0) = -ln 2
        assert!((m.log_likelihood(&[0, 1, 0]) + std::f64::consts::LN_2).abs() < 1e-12);
        assert_eq!(m.log_likelihood(&[1, 0]), f64::NEG_INFINITY); // never starts in 1
        let smooth = MarkovChain::fit(&[vec![0, 1]], 2, 1.0)?;
        assert_eq!(smooth.row(0), &[1.0 / 3.0, 2.0 / 3.0]);
        assert_eq!(smooth.row(1), &[0.5, 0.5]);
        Ok(())
    }

    #[test]
    fn stationary_distribution_solves_pi_p_equals_pi() -> Result<()> {
        // P = [[0.9, 0.1], [0.5, 0.5]]: π = (5/6, 1/6) since 0.1 π0 = 0.5 π1.
        let m = MarkovChain {
            k: 2,
            initial: vec![0.5, 0.5],
            transition: vec![0.9, 0.1, 0.5, 0.5],
        };
        let pi = m.stationary();
        assert!((pi[0] - 5.0 / 6.0).abs() < 1e-9 && (pi[1] - 1.0 / 6.0).abs() < 1e-9);
        // A periodic chain 0 ⇄ 1 still gives (½, ½).
        let flip = MarkovChain {
            transition: vec![0.0, 1.0, 1.0, 0.0],
            ..m
        };
        assert!((flip.stationary()[0] - 0.5).abs() < 1e-9);
        Ok(())
    }

    #[test]
    fn samples_follow_the_transition_frequencies() -> Result<()> {
        let m = MarkovChain {
            k: 2,
            initial: vec![1.0, 0.0],
            transition: vec![0.9, 0.1, 0.5, 0.5],
        };
        let s = m.sample(100_000, None, &mut nabla::Rng::new(1));
        assert_eq!(s[0], 0);
        let refit = MarkovChain::fit(&[s], 2, 0.0)?;
        assert!((refit.row(0)[1] - 0.1).abs() < 0.01 && (refit.row(1)[0] - 0.5).abs() < 0.01);
        Ok(())
    }

    #[test]
    fn bad_states_are_errors_naming_the_position() {
        let e = MarkovChain::fit(&[vec![0], vec![1, 3]], 2, 0.0).unwrap_err();
        assert_eq!(e.to_string(), "markov: sequence 1 position 1: state 3 >= 2");
        assert!(MarkovChain::fit(&[], 2, 0.0).is_err());
    }
}
