//! Evaluating a policy: the mean return over episodes.

use crate::{Action, Env, Result};
use nabla::Rng;

/// Returns of evaluation episodes.
#[derive(Clone, Debug)]
pub struct EvalReport {
    /// The return of each episode.
    pub returns: Vec<f64>,
    /// Their mean.
    pub mean: f64,
    /// Their standard deviation.
    pub std: f64,
}

impl EvalReport {
    /// Mean and standard deviation of `returns`.
    pub fn new(returns: Vec<f64>) -> Self {
        let n = returns.len().max(1) as f64;
        let mean = returns.iter().sum::<f64>() / n;
        let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n;
        EvalReport {
            returns,
            mean,
            std: var.sqrt(),
        }
    }
}

/// Plays `episodes` episodes (the first reset with `seed`, the others continuing its
/// sequence) with `policy(observation, rng)`, and reports their returns.
///
/// # Errors
/// When the policy fails or gives an action outside the action space.
pub fn evaluate(
    env: &mut dyn Env,
    episodes: usize,
    seed: u64,
    policy: &mut dyn FnMut(&[f32], &mut Rng) -> Result<Action>,
) -> Result<EvalReport> {
    let mut rng = Rng::new(seed.wrapping_add(0x9e37));
    let mut returns = Vec::with_capacity(episodes);
    for e in 0..episodes {
        let mut obs = env.reset(if e == 0 { Some(seed) } else { None });
        let mut total = 0.0;
        loop {
            let s = env.step(&policy(&obs, &mut rng)?)?;
            total += s.reward;
            if s.done() {
                break;
            }
            obs = s.obs;
        }
        returns.push(total);
    }
    Ok(EvalReport::new(returns))
}
