//! A Markov random field for binary images: an Ising prior that favours equal neighbours,
//! and a noisy observation of each pixel, denoised by iterated conditional modes (Besag
//! 1986) or by Gibbs sampling (Geman & Geman 1984). An RBM is the same kind of model on a
//! bipartite graph.
//!
//! Pixels are spins `x ∈ {−1, +1}` on a 4-connected `h × w` grid, the observation `y` is `x`
//! with each pixel flipped with probability `p`, and the posterior is
//! `P(x | y) ∝ exp(β Σ_{i~j} x_i x_j + η Σ_i x_i y_i)`, where `η = ½ ln((1 − p) / p)` is the
//! exact weight of the observation under that noise.

use crate::{Error, Result};
use nabla::Rng;

/// The field's two weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ising {
    /// Coupling of neighbouring pixels (the prior's strength).
    pub beta: f64,
    /// Weight of each pixel's observation.
    pub eta: f64,
}

impl Ising {
    /// The field for pixels flipped with probability `flip` (in `(0, 0.5)`), coupling `beta`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a flip rate outside `(0, 0.5)` or a negative or
    /// non-finite `beta`.
    pub fn for_flip_rate(beta: f64, flip: f64) -> Result<Ising> {
        if !(flip > 0.0 && flip < 0.5) {
            return Err(Error::invalid(
                "mrf",
                format!("the flip rate must be in (0, 0.5), got {flip}"),
            ));
        }
        if !(beta >= 0.0 && beta.is_finite()) {
            return Err(Error::invalid(
                "mrf",
                format!("beta must be a non-negative number, got {beta}"),
            ));
        }
        Ok(Ising {
            beta,
            eta: 0.5 * ((1.0 - flip) / flip).ln(),
        })
    }

    /// The local field at pixel `i` of `x`: `β Σ_{j~i} x_j + η y_i`.
    fn field(&self, x: &[i8], y: &[i8], h: usize, w: usize, i: usize) -> f64 {
        let (r, c) = (i / w, i % w);
        let mut s = 0i32;
        if r > 0 {
            s += x[i - w] as i32;
        }
        if r + 1 < h {
            s += x[i + w] as i32;
        }
        if c > 0 {
            s += x[i - 1] as i32;
        }
        if c + 1 < w {
            s += x[i + 1] as i32;
        }
        self.beta * s as f64 + self.eta * y[i] as f64
    }

    /// Iterated conditional modes: sweeps that set each pixel to the value its neighbours
    /// and observation favour, until a sweep changes nothing (or `max_sweeps`). A local
    /// maximum of the posterior, found from `y` itself.
    ///
    /// # Errors
    /// When `y` does not hold `h × w` spins.
    pub fn icm(&self, y: &[i8], h: usize, w: usize, max_sweeps: usize) -> Result<Vec<i8>> {
        check(y, h, w)?;
        let mut x = y.to_vec();
        for _ in 0..max_sweeps {
            let mut changed = false;
            for i in 0..h * w {
                let v = if self.field(&x, y, h, w, i) >= 0.0 {
                    1
                } else {
                    -1
                };
                changed |= v != x[i];
                x[i] = v;
            }
            if !changed {
                break;
            }
        }
        Ok(x)
    }

    /// Gibbs sampling: each sweep draws every pixel from its conditional
    /// `P(x_i = +1 | rest) = σ(2·field)`; after `burn_in` sweeps, the next `sweeps` are
    /// averaged and each pixel takes the sign of its mean (the posterior's marginal mode).
    ///
    /// # Errors
    /// When `y` does not hold `h × w` spins or `sweeps` is 0.
    pub fn gibbs(
        &self,
        y: &[i8],
        h: usize,
        w: usize,
        burn_in: usize,
        sweeps: usize,
        rng: &mut Rng,
    ) -> Result<Vec<i8>> {
        check(y, h, w)?;
        if sweeps == 0 {
            return Err(Error::invalid(
                "mrf",
                "Gibbs sampling needs at least one sweep",
            ));
        }
        let mut x = y.to_vec();
        let mut sum = vec![0i32; h * w];
        for sweep in 0..burn_in + sweeps {
            for i in 0..h * w {
                let p = 1.0 / (1.0 + (-2.0 * self.field(&x, y, h, w, i)).exp());
                x[i] = if rng.next_f64() < p { 1 } else { -1 };
            }
            if sweep >= burn_in {
                sum.iter_mut().zip(&x).for_each(|(s, &v)| *s += v as i32);
            }
        }
        Ok(sum.iter().map(|&s| if s >= 0 { 1 } else { -1 }).collect())
    }
}

fn check(y: &[i8], h: usize, w: usize) -> Result<()> {
    if y.len() != h * w || y.iter().any(|&v| v != 1 && v != -1) {
        return Err(Error::data(
            "mrf",
            format!("expected {h} × {w} spins of ±1, got {} values", y.len()),
        ));
    }
    Ok(())
}

/// Spins of pixels: `+1` where the intensity is above `threshold`, `−1` elsewhere.
pub fn binarize(pixels: &[f32], threshold: f32) -> Vec<i8> {
    pixels
        .iter()
        .map(|&v| if v > threshold { 1 } else { -1 })
        .collect()
}

/// A copy of `x` with each spin flipped with probability `p`.
pub fn flip(x: &[i8], p: f64, rng: &mut Rng) -> Vec<i8> {
    x.iter()
        .map(|&v| if rng.next_f64() < p { -v } else { v })
        .collect()
}

/// The share of pixels where `a` and `b` differ.
pub fn pixel_error(a: &[i8], b: &[i8]) -> f64 {
    let wrong = a.iter().zip(b).filter(|(x, y)| x != y).count();
    wrong as f64 / a.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 24 × 24 image: a filled square and a thick bar on a background.
    fn shapes() -> Vec<i8> {
        (0..24 * 24)
            .map(|i| {
                let (r, c) = (i / 24, i % 24);
                let square = (4..12).contains(&r) && (4..12).contains(&c);
                let bar = (16..20).contains(&r) && (2..22).contains(&c);
                if square || bar {
                    1
                } else {
                    -1
                }
            })
            .collect()
    }

    #[test]
    fn icm_and_gibbs_remove_most_flipped_pixels() -> Result<()> {
        let clean = shapes();
        let mut rng = Rng::new(9);
        let noisy = flip(&clean, 0.1, &mut rng);
        let before = pixel_error(&noisy, &clean);
        assert!((0.07..0.13).contains(&before), "{before}");
        let field = Ising::for_flip_rate(1.0, 0.1)?;
        let icm = pixel_error(&field.icm(&noisy, 24, 24, 20)?, &clean);
        let gibbs = pixel_error(&field.gibbs(&noisy, 24, 24, 10, 40, &mut rng)?, &clean);
        assert!(icm < 0.3 * before, "ICM {before} -> {icm}");
        assert!(gibbs < 0.3 * before, "Gibbs {before} -> {gibbs}");
        Ok(())
    }

    #[test]
    fn the_observation_weight_is_the_log_odds_of_the_noise() -> Result<()> {
        // p = 0.1: η = ½ ln 9 = 1.0986123
        assert!((Ising::for_flip_rate(1.0, 0.1)?.eta - 1.098_612_3).abs() < 1e-6);
        assert!(Ising::for_flip_rate(1.0, 0.5).is_err());
        assert!(Ising::for_flip_rate(-1.0, 0.1).is_err());
        let f = Ising::for_flip_rate(1.0, 0.2)?;
        assert!(f.icm(&[1, -1, 1], 2, 2, 5).is_err());
        assert!(f.icm(&[1, 0, 1, 1], 2, 2, 5).is_err());
        // With no coupling, ICM keeps the observation.
        let y = vec![1, -1, -1, 1];
        assert_eq!(Ising::for_flip_rate(0.0, 0.2)?.icm(&y, 2, 2, 5)?, y);
        Ok(())
    }
}
