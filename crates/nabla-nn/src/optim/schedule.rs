//! Learning-rate schedules, as functions of the epoch (or step) counter `t`, and the
//! stateful reduce-on-plateau rule.

use std::f64::consts::PI;

/// A learning-rate schedule: `lr(base, t)` gives the rate for epoch (or step) `t ≥ 0`.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// `base · γ^⌊t / step_size⌋` (StepLR).
    Step {
        /// Epochs between decays.
        step_size: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// `base · γ^(number of milestones ≤ t)` (MultiStepLR).
    MultiStep {
        /// Epochs at which the rate decays.
        milestones: Vec<usize>,
        /// Decay factor.
        gamma: f64,
    },
    /// `base · γ^t` (ExponentialLR).
    Exponential {
        /// Decay factor per epoch.
        gamma: f64,
    },
    /// `η_min + (base − η_min)(1 + cos(πt / T)) / 2` (CosineAnnealingLR), constant `η_min`
    /// after `T`.
    Cosine {
        /// Period T.
        t_max: usize,
        /// Final rate.
        eta_min: f64,
    },
    /// Cosine annealing restarted after `T₀`, `T₀·T_mult`, ... epochs (SGDR, Loshchilov &
    /// Hutter 2017; CosineAnnealingWarmRestarts).
    CosineWarmRestarts {
        /// Length of the first period.
        t0: usize,
        /// Growth factor of the period after each restart.
        t_mult: usize,
        /// Minimum rate.
        eta_min: f64,
    },
    /// Linear warm-up from `start_factor · base` to `base` over `warmup` epochs, then `then`
    /// (with its counter starting at 0 when the warm-up ends).
    Warmup {
        /// Warm-up length.
        warmup: usize,
        /// Fraction of the base rate at t = 0.
        start_factor: f64,
        /// The schedule after the warm-up.
        then: Box<Schedule>,
    },
}

impl Schedule {
    /// The learning rate at `t`.
    pub fn lr(&self, base: f64, t: usize) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Step { step_size, gamma } => {
                base * gamma.powi((t / (*step_size).max(1)) as i32)
            }
            Schedule::MultiStep { milestones, gamma } => {
                base * gamma.powi(milestones.iter().filter(|&&m| m <= t).count() as i32)
            }
            Schedule::Exponential { gamma } => base * gamma.powi(t as i32),
            Schedule::Cosine { t_max, eta_min } => {
                let t = t.min(*t_max) as f64;
                eta_min + (base - eta_min) * (1.0 + (PI * t / (*t_max).max(1) as f64).cos()) / 2.0
            }
            Schedule::CosineWarmRestarts {
                t0,
                t_mult,
                eta_min,
            } => {
                let (mut period, mut t_cur) = ((*t0).max(1), t);
                while t_cur >= period {
                    t_cur -= period;
                    period *= (*t_mult).max(1);
                }
                eta_min + (base - eta_min) * (1.0 + (PI * t_cur as f64 / period as f64).cos()) / 2.0
            }
            Schedule::Warmup {
                warmup,
                start_factor,
                then,
            } => {
                if t < *warmup {
                    base * (start_factor + (1.0 - start_factor) * t as f64 / *warmup as f64)
                } else {
                    then.lr(base, t - warmup)
                }
            }
        }
    }
}

/// Divides the learning rate by `1/factor` when a monitored loss has not improved (by more
/// than a relative `threshold`) for `patience` epochs (ReduceLROnPlateau, mode "min").
#[derive(Clone, Debug)]
pub struct ReduceOnPlateau {
    /// Multiplier applied on a plateau (e.g. 0.1).
    pub factor: f64,
    /// Epochs without improvement tolerated.
    pub patience: usize,
    /// Relative improvement needed to count as better.
    pub threshold: f64,
    /// Lower bound of the rate.
    pub min_lr: f64,
    best: f64,
    bad_epochs: usize,
}

impl ReduceOnPlateau {
    /// PyTorch's defaults: factor 0.1, patience 10, threshold 1e-4, min_lr 0.
    pub fn new() -> Self {
        ReduceOnPlateau {
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            min_lr: 0.0,
            best: f64::INFINITY,
            bad_epochs: 0,
        }
    }

    /// The same rule with another patience.
    pub fn patience(self, patience: usize) -> Self {
        ReduceOnPlateau { patience, ..self }
    }

    /// Records the epoch's metric and returns the (possibly reduced) learning rate.
    pub fn step(&mut self, metric: f64, lr: f64) -> f64 {
        if metric < self.best * (1.0 - self.threshold) {
            self.best = metric;
            self.bad_epochs = 0;
            return lr;
        }
        self.bad_epochs += 1;
        if self.bad_epochs > self.patience {
            self.bad_epochs = 0;
            return (lr * self.factor).max(self.min_lr);
        }
        lr
    }
}

impl Default for ReduceOnPlateau {
    fn default() -> Self {
        ReduceOnPlateau::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn schedules_match_pytorch_values() {
        let step = Schedule::Step {
            step_size: 2,
            gamma: 0.5,
        };
        assert_eq!(
            (0..5).map(|t| step.lr(1.0, t)).collect::<Vec<_>>(),
            vec![1.0, 1.0, 0.5, 0.5, 0.25]
        );
        let ms = Schedule::MultiStep {
            milestones: vec![1, 3],
            gamma: 0.1,
        };
        assert!(
            close(ms.lr(1.0, 0), 1.0) && close(ms.lr(1.0, 2), 0.1) && close(ms.lr(1.0, 3), 0.01)
        );
        assert!(close(Schedule::Exponential { gamma: 0.9 }.lr(2.0, 2), 1.62));
        let cos = Schedule::Cosine {
            t_max: 10,
            eta_min: 0.0,
        };
        assert!(
            close(cos.lr(1.0, 0), 1.0) && close(cos.lr(1.0, 5), 0.5) && close(cos.lr(1.0, 10), 0.0)
        );
        let sgdr = Schedule::CosineWarmRestarts {
            t0: 2,
            t_mult: 2,
            eta_min: 0.0,
        };
        // periods [0,2), [2,6): restarts at t = 2 and t = 6
        assert!(
            close(sgdr.lr(1.0, 2), 1.0)
                && close(sgdr.lr(1.0, 4), 0.5)
                && close(sgdr.lr(1.0, 6), 1.0)
        );
        let warm = Schedule::Warmup {
            warmup: 4,
            start_factor: 0.25,
            then: Box::new(Schedule::Constant),
        };
        assert_eq!(
            (0..6).map(|t| warm.lr(1.0, t)).collect::<Vec<_>>(),
            vec![0.25, 0.4375, 0.625, 0.8125, 1.0, 1.0]
        );
    }

    #[test]
    fn plateau_reduces_after_patience() {
        let mut p = ReduceOnPlateau {
            patience: 1,
            ..ReduceOnPlateau::new()
        };
        let mut lr = 1.0;
        for m in [1.0, 0.5, 0.6, 0.6] {
            lr = p.step(m, lr);
        }
        assert!(close(lr, 0.1));
    }
}
