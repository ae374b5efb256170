//! The TensorFlow Playground's 2-D data sets: four classification, two regression.
//!
//! Written after the Playground's definitions (`dataset.ts`: `classifyCircleData`,
//! `classifyXORData`, `classifyTwoGaussData`, `classifySpiralData`, `regressPlane`,
//! `regressGaussian`). As there, the noise level runs from 0 to 50 and is used as
//! `noise / 100`; where the Playground labels classes -1 and +1, here they are 0 and 1.
//! Like the Playground, the points come out shuffled, so a first-N split is fair.

use crate::{Error, InMemoryDataset, Result, Targets};
use nabla::Rng;
use std::f64::consts::PI;

/// One of the Playground's data sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Toy {
    /// A disc of class 1 inside a ring of class 0.
    Circle,
    /// Quadrants: class 1 where `x * y >= 0`.
    Xor,
    /// Two Gaussian blobs, class 1 around (2, 2) and class 0 around (-2, -2).
    Gauss,
    /// Two interleaved spiral arms.
    Spiral,
    /// Regression: a plane, target `(x + y) / 10` in about `[-1, 1]`.
    Plane,
    /// Regression: six signed Gaussian bumps, target in `[-1, 1]`.
    MultiGauss,
}

impl Toy {
    /// Every data set, in the Playground's order.
    pub const ALL: [Toy; 6] = [
        Toy::Circle,
        Toy::Xor,
        Toy::Gauss,
        Toy::Spiral,
        Toy::Plane,
        Toy::MultiGauss,
    ];

    /// The data set's name: `circle`, `xor`, `gauss`, `spiral`, `plane`, `multigauss`.
    pub fn name(self) -> &'static str {
        match self {
            Toy::Circle => "circle",
            Toy::Xor => "xor",
            Toy::Gauss => "gauss",
            Toy::Spiral => "spiral",
            Toy::Plane => "plane",
            Toy::MultiGauss => "multigauss",
        }
    }

    /// The data set called `name` (as [`Toy::name`] gives it; `gaussian` and
    /// `multi-gauss` are accepted too).
    ///
    /// # Errors
    /// [`Error::UnknownName`] listing the valid names.
    pub fn from_name(name: &str) -> Result<Toy> {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "gaussian" | "two-gauss" => return Ok(Toy::Gauss),
            "multi-gauss" | "multi-gaussian" => return Ok(Toy::MultiGauss),
            _ => {}
        }
        Toy::ALL
            .into_iter()
            .find(|t| t.name() == lower)
            .ok_or_else(|| {
                let names: Vec<&str> = Toy::ALL.iter().map(|t| t.name()).collect();
                Error::UnknownName {
                    op: "toy data set",
                    what: "name",
                    name: name.to_string(),
                    valid: names.join(", "),
                }
            })
    }

    /// Whether the targets are class labels (0/1) rather than real values.
    pub fn is_classification(self) -> bool {
        !matches!(self, Toy::Plane | Toy::MultiGauss)
    }
}

/// Uniform in `[lo, hi)`.
fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.next_f64()
}

/// Generates `n` points `[2]` (x, y) of `toy` with a noise level in `0..=50`, from `seed`.
///
/// Classification sets give labels 0 and 1 in equal numbers (but for xor, whose labels
/// follow the quadrant of each random point, and noise, which flips labels near the
/// boundary as in the Playground); regression sets give one value per point.
///
/// # Errors
/// [`Error::OutOfRange`] when `noise` is outside `0..=50`.
///
/// # Examples
/// ```
/// use nabla_data::{toy::{generate, Toy}, Dataset};
/// let ds = generate(Toy::Circle, 200, 10.0, 42)?;
/// assert_eq!((ds.len(), ds.input_shape()), (200, &[2][..]));
/// assert_eq!(ds.num_classes(), Some(2));
/// # Ok::<(), nabla_data::Error>(())
/// ```
pub fn generate(toy: Toy, n: usize, noise: f64, seed: u64) -> Result<InMemoryDataset> {
    if !(0.0..=50.0).contains(&noise) {
        return Err(Error::out_of_range(
            "toy data set",
            "the noise level",
            "in 0..=50",
            noise,
        ));
    }
    let noise = noise / 100.0;
    let mut rng = Rng::new(seed);
    let mut points = match toy {
        Toy::Circle => circle(&mut rng, n, noise),
        Toy::Xor => xor(&mut rng, n, noise),
        Toy::Gauss => two_gauss(&mut rng, n, noise),
        Toy::Spiral => spiral(&mut rng, n, noise),
        Toy::Plane => plane(&mut rng, n, noise),
        Toy::MultiGauss => multi_gauss(&mut rng, n, noise),
    };
    rng.shuffle(&mut points);
    let inputs = points
        .iter()
        .flat_map(|&(x, y, _)| [x as f32, y as f32])
        .collect();
    let targets = if toy.is_classification() {
        Targets::Classes {
            labels: points.iter().map(|&(_, _, l)| i64::from(l > 0.0)).collect(),
            num_classes: 2,
        }
    } else {
        Targets::Values {
            values: points.iter().map(|&(_, _, v)| v as f32).collect(),
            width: 1,
        }
    };
    InMemoryDataset::new(inputs, &[2], targets)
}

/// Points `(x, y, label)`; classification labels are +1/-1 as in the Playground.
type Points = Vec<(f64, f64, f64)>;

/// The number of points in the first of two halves (the second gets the rest).
fn halves(n: usize) -> [usize; 2] {
    [n.div_ceil(2), n / 2]
}

fn circle(rng: &mut Rng, n: usize, noise: f64) -> Points {
    let radius = 5.0;
    // Positive inside radius / 2, negative in the ring from 0.7 to 1 radius; the label is
    // read at the noisy position, the point kept at the clean one.
    let label = |x: f64, y: f64| if x.hypot(y) < radius * 0.5 { 1.0 } else { -1.0 };
    let mut out = Vec::with_capacity(n);
    for (half, count) in halves(n).into_iter().enumerate() {
        let (r_lo, r_hi) = if half == 0 {
            (0.0, radius * 0.5)
        } else {
            (radius * 0.7, radius)
        };
        for _ in 0..count {
            let r = uniform(rng, r_lo, r_hi);
            let angle = uniform(rng, 0.0, 2.0 * PI);
            let (x, y) = (r * angle.sin(), r * angle.cos());
            let nx = uniform(rng, -radius, radius) * noise;
            let ny = uniform(rng, -radius, radius) * noise;
            out.push((x, y, label(x + nx, y + ny)));
        }
    }
    out
}

fn xor(rng: &mut Rng, n: usize, noise: f64) -> Points {
    let padding = 0.3;
    // Points are pushed `padding` away from the axes so the quadrants are separable.
    let coord = |rng: &mut Rng| {
        let v = uniform(rng, -5.0, 5.0);
        if v > 0.0 {
            v + padding
        } else {
            v - padding
        }
    };
    (0..n)
        .map(|_| {
            let (x, y) = (coord(rng), coord(rng));
            let nx = uniform(rng, -5.0, 5.0) * noise;
            let ny = uniform(rng, -5.0, 5.0) * noise;
            let label = if (x + nx) * (y + ny) >= 0.0 {
                1.0
            } else {
                -1.0
            };
            (x, y, label)
        })
        .collect()
}

fn two_gauss(rng: &mut Rng, n: usize, noise: f64) -> Points {
    // Variance grows linearly from 0.5 at noise 0 to 4 at noise 0.5.
    let variance = 0.5 + noise / 0.5 * 3.5;
    let sd = variance.sqrt();
    let mut out = Vec::with_capacity(n);
    for ((cx, cy, label), count) in [(2.0, 2.0, 1.0), (-2.0, -2.0, -1.0)]
        .into_iter()
        .zip(halves(n))
    {
        for _ in 0..count {
            out.push((cx + sd * rng.normal(), cy + sd * rng.normal(), label));
        }
    }
    out
}

fn spiral(rng: &mut Rng, n: usize, noise: f64) -> Points {
    let mut out = Vec::with_capacity(n);
    for ((delta_t, label), count) in [(0.0, 1.0), (PI, -1.0)].into_iter().zip(halves(n)) {
        for i in 0..count {
            let frac = i as f64 / count as f64;
            let r = frac * 5.0;
            let t = 1.75 * frac * 2.0 * PI + delta_t;
            let x = r * t.sin() + uniform(rng, -1.0, 1.0) * noise;
            let y = r * t.cos() + uniform(rng, -1.0, 1.0) * noise;
            out.push((x, y, label));
        }
    }
    out
}

fn plane(rng: &mut Rng, n: usize, noise: f64) -> Points {
    let radius = 6.0;
    (0..n)
        .map(|_| {
            let (x, y) = (uniform(rng, -radius, radius), uniform(rng, -radius, radius));
            let nx = uniform(rng, -radius, radius) * noise;
            let ny = uniform(rng, -radius, radius) * noise;
            // x + y in [-10, 10] maps linearly to [-1, 1] (unclamped, as in the Playground).
            (x, y, (x + nx + y + ny) / 10.0)
        })
        .collect()
}

fn multi_gauss(rng: &mut Rng, n: usize, noise: f64) -> Points {
    const BUMPS: [(f64, f64, f64); 6] = [
        (-4.0, 2.5, 1.0),
        (0.0, 2.5, -1.0),
        (4.0, 2.5, 1.0),
        (-4.0, -2.5, -1.0),
        (0.0, -2.5, 1.0),
        (4.0, -2.5, -1.0),
    ];
    // Each bump contributes sign * (1 - d / 2) clamped to [0, 1] at distance d from its
    // centre; the strongest contribution (by magnitude) is the label.
    let label = |x: f64, y: f64| {
        BUMPS.iter().fold(0.0f64, |best, &(cx, cy, sign)| {
            let v = sign * (1.0 - (x - cx).hypot(y - cy) / 2.0).clamp(0.0, 1.0);
            if v.abs() > best.abs() {
                v
            } else {
                best
            }
        })
    };
    let radius = 6.0;
    (0..n)
        .map(|_| {
            let (x, y) = (uniform(rng, -radius, radius), uniform(rng, -radius, radius));
            let nx = uniform(rng, -radius, radius) * noise;
            let ny = uniform(rng, -radius, radius) * noise;
            (x, y, label(x + nx, y + ny))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dataset, Target};

    fn class_counts(ds: &InMemoryDataset) -> [usize; 2] {
        let mut counts = [0; 2];
        for &l in ds.labels().unwrap() {
            counts[l as usize] += 1;
        }
        counts
    }

    #[test]
    fn generators_are_deterministic_for_a_seed() -> Result<()> {
        for toy in Toy::ALL {
            let a = generate(toy, 50, 20.0, 9)?;
            let b = generate(toy, 50, 20.0, 9)?;
            let c = generate(toy, 50, 20.0, 10)?;
            assert_eq!(a.get(17)?, b.get(17)?, "{toy:?}");
            assert_ne!(a.get(17)?, c.get(17)?, "{toy:?}");
            assert_eq!(a.len(), 50);
        }
        Ok(())
    }

    #[test]
    fn classification_sets_are_balanced_without_noise() -> Result<()> {
        for toy in [Toy::Circle, Toy::Gauss, Toy::Spiral] {
            assert_eq!(
                class_counts(&generate(toy, 200, 0.0, 3)?),
                [100, 100],
                "{toy:?}"
            );
        }
        let [a, b] = class_counts(&generate(Toy::Xor, 1000, 0.0, 3)?);
        assert!(a.abs_diff(b) < 150, "xor {a} vs {b}");
        Ok(())
    }

    #[test]
    fn labels_follow_the_geometry_without_noise() -> Result<()> {
        let ds = generate(Toy::Circle, 100, 0.0, 1)?;
        for i in 0..ds.len() {
            let s = ds.get(i)?;
            let r = f32::hypot(s.input[0], s.input[1]);
            assert_eq!(s.target, Target::Class(i64::from(r < 2.5)), "r = {r}");
        }
        let ds = generate(Toy::Xor, 100, 0.0, 1)?;
        for i in 0..ds.len() {
            let s = ds.get(i)?;
            assert!(s.input[0].abs() >= 0.3 && s.input[1].abs() >= 0.3);
            assert_eq!(
                s.target,
                Target::Class(i64::from(s.input[0] * s.input[1] >= 0.0))
            );
        }
        let ds = generate(Toy::Plane, 20, 0.0, 1)?;
        let s = ds.get(0)?;
        assert_eq!(
            s.target,
            Target::Values(vec![(s.input[0] + s.input[1]) / 10.0])
        );
        let ds = generate(Toy::MultiGauss, 200, 0.0, 1)?;
        for i in 0..ds.len() {
            let Target::Values(v) = ds.get(i)?.target else {
                panic!("regression")
            };
            assert!((-1.0..=1.0).contains(&v[0]));
        }
        Ok(())
    }

    #[test]
    fn names_and_noise_are_checked() {
        assert_eq!(Toy::from_name("Spiral").unwrap(), Toy::Spiral);
        assert_eq!(Toy::from_name("multi-gauss").unwrap(), Toy::MultiGauss);
        let err = Toy::from_name("moons").unwrap_err().to_string();
        assert!(
            err.contains("valid: circle, xor, gauss, spiral, plane, multigauss"),
            "{err}"
        );
        assert!(generate(Toy::Circle, 10, 51.0, 0).is_err());
        assert!(generate(Toy::Circle, 10, -1.0, 0).is_err());
    }
}
