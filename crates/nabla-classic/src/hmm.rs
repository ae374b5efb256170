//! Hidden Markov models with discrete emissions: the scaled forward-backward algorithm
//! (Rabiner 1989, so sequences of any length stay in floating-point range), Viterbi decoding
//! in log space, and Baum-Welch (EM) training on several sequences.

use crate::markov::{draw, normalize_rows};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An HMM with `n` hidden states emitting symbols `0..m`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hmm {
    /// Hidden states.
    pub n: usize,
    /// Symbols.
    pub m: usize,
    /// `initial[i]`: probability of starting in state `i`.
    pub initial: Vec<f64>,
    /// `transition[i * n + j]`: `P(state j next | state i)`.
    pub transition: Vec<f64>,
    /// `emission[i * m + o]`: `P(symbol o | state i)`.
    pub emission: Vec<f64>,
}

/// The scaled forward pass: `alpha[t * n + i] = P(state i at t | o_0..=o_t)` and the
/// normalisers `c_t = P(o_t | o_0..o_{t-1})`, so `log P(o) = Σ log c_t`.
struct Forward {
    alpha: Vec<f64>,
    scale: Vec<f64>,
}

impl Hmm {
    /// An HMM with the given probabilities (each row is normalised to sum to 1).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when a size does not match `n`, `m`, or a probability is
    /// negative or not finite.
    pub fn new(
        n: usize,
        m: usize,
        initial: Vec<f64>,
        transition: Vec<f64>,
        emission: Vec<f64>,
    ) -> Result<Hmm> {
        let sizes_ok = n > 0
            && m > 0
            && initial.len() == n
            && transition.len() == n * n
            && emission.len() == n * m;
        if !sizes_ok {
            return Err(Error::invalid(
                "hmm",
                format!(
                    "with {n} states and {m} symbols, need {n} initial, {} transition and {} emission probabilities; got {}, {}, {}",
                    n * n,
                    n * m,
                    initial.len(),
                    transition.len(),
                    emission.len()
                ),
            ));
        }
        if let Some(v) = [&initial, &transition, &emission]
            .iter()
            .flat_map(|v| v.iter())
            .find(|v| !(v.is_finite() && **v >= 0.0))
        {
            return Err(Error::invalid(
                "hmm",
                format!("probability {v} is not in [0, ∞)"),
            ));
        }
        let mut h = Hmm {
            n,
            m,
            initial,
            transition,
            emission,
        };
        normalize_rows(&mut h.initial, n);
        normalize_rows(&mut h.transition, n);
        normalize_rows(&mut h.emission, m);
        Ok(h)
    }

    /// A random HMM, the usual start of Baum-Welch: each row drawn from a flat Dirichlet
    /// distribution (normalised `-ln U` values), far enough from uniform that the states
    /// start out different.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero states or symbols.
    pub fn random(n: usize, m: usize, seed: u64) -> Result<Hmm> {
        let mut rng = nabla::Rng::new(seed);
        let mut r = |len: usize| {
            (0..len)
                .map(|_| -(1.0 - rng.next_f64()).ln() + 1e-3)
                .collect::<Vec<_>>()
        };
        let (i, t, e) = (r(n), r(n * n), r(n * m));
        Hmm::new(n, m, i, t, e)
    }

    fn check(&self, obs: &[usize]) -> Result<()> {
        match obs.iter().position(|&o| o >= self.m) {
            Some(t) => Err(Error::data(
                "hmm",
                format!("symbol {} at position {t} is not below {}", obs[t], self.m),
            )),
            None => Ok(()),
        }
    }

    fn forward_pass(&self, obs: &[usize]) -> Forward {
        let (n, m) = (self.n, self.m);
        let mut alpha = vec![0.0; obs.len() * n];
        let mut scale = vec![0.0; obs.len()];
        for (t, &o) in obs.iter().enumerate() {
            for j in 0..n {
                let prior = if t == 0 {
                    self.initial[j]
                } else {
                    (0..n)
                        .map(|i| alpha[(t - 1) * n + i] * self.transition[i * n + j])
                        .sum()
                };
                alpha[t * n + j] = prior * self.emission[j * m + o];
            }
            let c: f64 = alpha[t * n..(t + 1) * n].iter().sum();
            scale[t] = c;
            if c > 0.0 {
                alpha[t * n..(t + 1) * n].iter_mut().for_each(|a| *a /= c);
            }
        }
        Forward { alpha, scale }
    }

    /// `log P(obs)` in nats, by the scaled forward algorithm (`-inf` if impossible).
    ///
    /// # Errors
    /// [`Error::Data`] for a symbol `>= m`, naming its position.
    pub fn log_likelihood(&self, obs: &[usize]) -> Result<f64> {
        self.check(obs)?;
        Ok(self.forward_pass(obs).scale.iter().map(|c| c.ln()).sum())
    }

    /// The filtered state probabilities `P(state at t | o_0..=o_t)`, `[len, n]` row-major.
    ///
    /// # Errors
    /// As [`Hmm::log_likelihood`].
    pub fn forward(&self, obs: &[usize]) -> Result<Vec<f64>> {
        self.check(obs)?;
        Ok(self.forward_pass(obs).alpha)
    }

    /// The posterior state probabilities `P(state at t | all of obs)` (forward-backward),
    /// `[len, n]` row-major.
    ///
    /// # Errors
    /// As [`Hmm::log_likelihood`].
    pub fn posterior(&self, obs: &[usize]) -> Result<Vec<f64>> {
        self.check(obs)?;
        let f = self.forward_pass(obs);
        let beta = self.backward_pass(obs, &f.scale);
        Ok(f.alpha.iter().zip(&beta).map(|(a, b)| a * b).collect())
    }

    /// Scaled backward variables with the forward pass's normalisers, so that
    /// `alpha[t] · beta[t]` is the posterior.
    fn backward_pass(&self, obs: &[usize], scale: &[f64]) -> Vec<f64> {
        let (n, m, len) = (self.n, self.m, obs.len());
        let mut beta = vec![0.0; len * n];
        if len == 0 {
            return beta;
        }
        beta[(len - 1) * n..].fill(1.0);
        for t in (0..len - 1).rev() {
            let o = obs[t + 1];
            let c = scale[t + 1];
            for i in 0..n {
                let s: f64 = (0..n)
                    .map(|j| {
                        self.transition[i * n + j]
                            * self.emission[j * m + o]
                            * beta[(t + 1) * n + j]
                    })
                    .sum();
                beta[t * n + i] = if c > 0.0 { s / c } else { 0.0 };
            }
        }
        beta
    }

    /// The most probable state sequence and its log-probability `log P(states, obs)`
    /// (Viterbi, in log space).
    ///
    /// # Errors
    /// As [`Hmm::log_likelihood`].
    pub fn viterbi(&self, obs: &[usize]) -> Result<(Vec<usize>, f64)> {
        self.check(obs)?;
        let (n, m) = (self.n, self.m);
        if obs.is_empty() {
            return Ok((vec![], 0.0));
        }
        let ln = |p: f64| p.ln();
        let mut delta: Vec<f64> = (0..n)
            .map(|j| ln(self.initial[j]) + ln(self.emission[j * m + obs[0]]))
            .collect();
        let mut back = vec![0usize; obs.len() * n];
        for (t, &o) in obs.iter().enumerate().skip(1) {
            let mut next = vec![f64::NEG_INFINITY; n];
            for j in 0..n {
                let (mut best, mut arg) = (f64::NEG_INFINITY, 0);
                for i in 0..n {
                    let v = delta[i] + ln(self.transition[i * n + j]);
                    if v > best {
                        best = v;
                        arg = i;
                    }
                }
                next[j] = best + ln(self.emission[j * m + o]);
                back[t * n + j] = arg;
            }
            delta = next;
        }
        let (mut state, mut best) = (0, f64::NEG_INFINITY);
        for (j, &v) in delta.iter().enumerate() {
            if v > best {
                best = v;
                state = j;
            }
        }
        let mut path = vec![0; obs.len()];
        for t in (0..obs.len()).rev() {
            path[t] = state;
            state = back[t * n + state];
        }
        Ok((path, best))
    }

    /// `len` (state, symbol) pairs drawn from the model.
    pub fn sample(&self, len: usize, rng: &mut nabla::Rng) -> (Vec<usize>, Vec<usize>) {
        let (mut states, mut obs) = (Vec::with_capacity(len), Vec::with_capacity(len));
        for t in 0..len {
            let s = if t == 0 {
                draw(&self.initial, rng)
            } else {
                draw(&self.transition[states[t - 1] * self.n..][..self.n], rng)
            };
            states.push(s);
            obs.push(draw(&self.emission[s * self.m..][..self.m], rng));
        }
        (states, obs)
    }

    /// Baum-Welch: `iterations` EM steps on `sequences`, stopping early when the total
    /// log-likelihood improves by less than `tol`. Returns the total log-likelihood before
    /// each step (non-decreasing, as EM guarantees) and after the last one.
    ///
    /// # Errors
    /// [`Error::Data`] for a symbol `>= m` (naming sequence and position) or no symbols.
    pub fn baum_welch(
        &mut self,
        sequences: &[Vec<usize>],
        iterations: usize,
        tol: f64,
    ) -> Result<Vec<f64>> {
        for (s, seq) in sequences.iter().enumerate() {
            self.check(seq)
                .map_err(|e| Error::data("hmm", format!("sequence {s}: {e}")))?;
        }
        if sequences.iter().all(|s| s.is_empty()) {
            return Err(Error::data("hmm", "no symbols to train on"));
        }
        let mut history = vec![];
        for _ in 0..iterations {
            let ll = self.em_step(sequences);
            if let Some(&prev) = history.last() {
                if ll - prev < tol {
                    history.push(ll);
                    return Ok(history);
                }
            }
            history.push(ll);
        }
        history.push(
            sequences
                .iter()
                .map(|s| {
                    self.forward_pass(s)
                        .scale
                        .iter()
                        .map(|c| c.ln())
                        .sum::<f64>()
                })
                .sum(),
        );
        Ok(history)
    }

    /// One EM step: expected counts under the current model, then their normalised values.
    /// Returns the log-likelihood of the model before the step.
    fn em_step(&mut self, sequences: &[Vec<usize>]) -> f64 {
        let (n, m) = (self.n, self.m);
        let mut init = vec![0.0; n];
        let mut trans = vec![0.0; n * n];
        let mut emit = vec![0.0; n * m];
        let mut total = 0.0;
        for obs in sequences.iter().filter(|s| !s.is_empty()) {
            let f = self.forward_pass(obs);
            total += f.scale.iter().map(|c| c.ln()).sum::<f64>();
            let beta = self.backward_pass(obs, &f.scale);
            for (t, &o) in obs.iter().enumerate() {
                for i in 0..n {
                    let gamma = f.alpha[t * n + i] * beta[t * n + i];
                    if t == 0 {
                        init[i] += gamma;
                    }
                    emit[i * m + o] += gamma;
                }
                if t + 1 < obs.len() {
                    // ξ_t(i, j) = α_t(i) a_ij b_j(o_{t+1}) β_{t+1}(j) / c_{t+1}
                    let (o1, c) = (obs[t + 1], f.scale[t + 1]);
                    if c > 0.0 {
                        for i in 0..n {
                            for j in 0..n {
                                trans[i * n + j] += f.alpha[t * n + i]
                                    * self.transition[i * n + j]
                                    * self.emission[j * m + o1]
                                    * beta[(t + 1) * n + j]
                                    / c;
                            }
                        }
                    }
                }
            }
        }
        // A state with no expected visits keeps its old row instead of becoming uniform.
        keep_or_normalize(&mut self.initial, &init, n);
        keep_or_normalize(&mut self.transition, &trans, n);
        keep_or_normalize(&mut self.emission, &emit, m);
        total
    }

    /// Writes the model as JSON, atomically.
    ///
    /// # Errors
    /// [`Error::Tensor`] wrapping the I/O error.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::save_json(path.as_ref(), self)
    }
}

fn keep_or_normalize(old: &mut [f64], counts: &[f64], k: usize) {
    for (row, c) in old.chunks_exact_mut(k).zip(counts.chunks_exact(k)) {
        let s: f64 = c.iter().sum();
        if s > 0.0 {
            row.iter_mut().zip(c).for_each(|(r, v)| *r = v / s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "healthy / fever" doctor example: states Healthy (0), Fever (1); symbols normal
    /// (0), cold (1), dizzy (2).
    fn doctor() -> Hmm {
        Hmm::new(
            2,
            3,
            vec![0.6, 0.4],
            vec![0.7, 0.3, 0.4, 0.6],
            vec![0.5, 0.4, 0.1, 0.1, 0.3, 0.6],
        )
        .unwrap()
    }

    #[test]
    fn forward_matches_the_hand_worked_example() -> Result<()> {
        // Observations normal, cold, dizzy. Unscaled forward variables, by hand:
        // t0: αH = 0.6·0.5 = 0.3,      αF = 0.4·0.1 = 0.04
        // t1: αH = (0.3·0.7 + 0.04·0.4)·0.4 = 0.226·0.4 = 0.0904
        //     αF = (0.3·0.3 + 0.04·0.6)·0.3 = 0.114·0.3 = 0.0342
        // t2: αH = (0.0904·0.7 + 0.0342·0.4)·0.1 = 0.07696·0.1 = 0.007696
        //     αF = (0.0904·0.3 + 0.0342·0.6)·0.6 = 0.04764·0.6 = 0.028584
        // P(obs) = 0.007696 + 0.028584 = 0.03628
        let h = doctor();
        let obs = [0, 1, 2];
        assert!((h.log_likelihood(&obs)? - 0.03628f64.ln()).abs() < 1e-12);
        let f = h.forward(&obs)?;
        assert!((f[4] - 0.007696 / 0.03628).abs() < 1e-12);
        assert!((f[0] - 0.3 / 0.34).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn viterbi_matches_the_hand_worked_example() -> Result<()> {
        // δ0 = (H 0.3, F 0.04)
        // δ1: H = max(0.3·0.7, 0.04·0.4)·0.4 = 0.084 (from H); F = max(0.3·0.3, 0.04·0.6)·0.3 = 0.027 (H)
        // δ2: H = max(0.084·0.7, 0.027·0.4)·0.1 = 0.00588; F = max(0.084·0.3, 0.027·0.6)·0.6 = 0.01512 (H)
        // Best: Healthy, Healthy, Fever with probability 0.01512.
        let (path, lp) = doctor().viterbi(&[0, 1, 2])?;
        assert_eq!(path, vec![0, 0, 1]);
        assert!((lp - 0.01512f64.ln()).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn forward_and_posterior_agree_with_brute_force_enumeration() -> Result<()> {
        let h = Hmm::random(3, 4, 7)?;
        let obs = [0, 3, 1, 1, 2];
        // Sum over all 3^5 state paths of P(path, obs), and each path's share per state.
        let (mut total, mut post) = (0.0, vec![0.0; 15]);
        for code in 0..243usize {
            let path: Vec<usize> = (0..5).map(|t| code / 3usize.pow(t as u32) % 3).collect();
            let mut p = h.initial[path[0]] * h.emission[path[0] * 4 + obs[0]];
            for t in 1..5 {
                p *= h.transition[path[t - 1] * 3 + path[t]] * h.emission[path[t] * 4 + obs[t]];
            }
            total += p;
            for t in 0..5 {
                post[t * 3 + path[t]] += p;
            }
        }
        assert!((h.log_likelihood(&obs)? - total.ln()).abs() < 1e-12);
        for (a, b) in h.posterior(&obs)?.iter().zip(&post) {
            assert!((a - b / total).abs() < 1e-12);
        }
        Ok(())
    }

    #[test]
    fn long_sequences_stay_finite() -> Result<()> {
        let h = doctor();
        let (_, obs) = h.sample(100_000, &mut nabla::Rng::new(2));
        let ll = h.log_likelihood(&obs)?;
        // Unscaled, the probability would underflow f64 long before 100,000 steps.
        assert!(ll.is_finite() && ll < -50_000.0, "{ll}");
        Ok(())
    }

    #[test]
    fn baum_welch_increases_the_likelihood_monotonically() -> Result<()> {
        let truth = doctor();
        let mut rng = nabla::Rng::new(11);
        let seqs: Vec<Vec<usize>> = (0..20).map(|_| truth.sample(200, &mut rng).1).collect();
        let mut h = Hmm::random(2, 3, 5)?;
        let history = h.baum_welch(&seqs, 50, 0.0)?;
        assert!(history.len() > 10);
        for w in history.windows(2) {
            assert!(w[1] >= w[0] - 1e-9, "likelihood fell: {} -> {}", w[0], w[1]);
        }
        assert!(history.last().unwrap() > &(history[0] + 10.0));
        // It ends near the likelihood of the true model.
        let true_ll: f64 = seqs.iter().map(|s| truth.log_likelihood(s).unwrap()).sum();
        assert!(*history.last().unwrap() > true_ll - 20.0);
        Ok(())
    }

    #[test]
    fn bad_sizes_and_symbols_are_errors() {
        assert!(Hmm::new(2, 2, vec![1.0], vec![1.0; 4], vec![1.0; 4]).is_err());
        assert!(Hmm::new(1, 1, vec![-1.0], vec![1.0], vec![1.0]).is_err());
        let e = doctor().log_likelihood(&[0, 5]).unwrap_err();
        assert_eq!(e.to_string(), "hmm: symbol 5 at position 1 is not below 3");
        let e = doctor()
            .baum_welch(&[vec![0], vec![1, 9]], 3, 0.0)
            .unwrap_err();
        assert!(e.to_string().contains("sequence 1"));
    }
}
