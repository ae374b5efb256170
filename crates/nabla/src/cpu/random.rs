//! The host side of the random-fill family: draws from the engine's generator, one value
//! per element in row-major order (so a seed gives the same tensor on every run).

use crate::dtype::Float;
use crate::ops::kernels::random::Distribution;
use crate::rng::Rng;

/// `n` draws of `dist` from `rng`.
pub(crate) fn sample<T: Float>(rng: &mut Rng, n: usize, dist: Distribution) -> Vec<T> {
    match dist {
        Distribution::Uniform { low, high } => (0..n)
            .map(|_| T::from_f64(low + (high - low) * rng.next_f64()))
            .collect(),
        Distribution::Normal { mean, std } => (0..n)
            .map(|_| T::from_f64(mean + std * rng.normal()))
            .collect(),
        Distribution::Bernoulli { keep, value } => (0..n)
            .map(|_| {
                if rng.next_f64() < keep {
                    T::from_f64(value)
                } else {
                    T::from_f64(0.0)
                }
            })
            .collect(),
    }
}
