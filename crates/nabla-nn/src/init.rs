//! Parameter initializers: constant, uniform, normal, Xavier/Glorot, He/Kaiming, orthogonal.
//!
//! Fans follow PyTorch: for a weight `[out, in, k...]`, `fan_in = in·Πk`, `fan_out = out·Πk`.

use nabla::{DType, Device, Rng, Tensor};

use crate::Result;

/// How to fill a new parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Every element equals the value.
    Constant(f64),
    /// Uniform in `[low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Glorot & Bengio 2010: `U(-b, b)`, `b = gain·√(6 / (fan_in + fan_out))`.
    XavierUniform {
        /// Gain (1 for linear/sigmoid, 5/3 for tanh).
        gain: f64,
    },
    /// `N(0, σ²)`, `σ = gain·√(2 / (fan_in + fan_out))`.
    XavierNormal {
        /// Gain.
        gain: f64,
    },
    /// He et al. 2015 with leaky-ReLU slope `a`: `U(-b, b)`, `b = √(6 / ((1 + a²)·fan_in))`.
    /// PyTorch's default for Linear and Conv weights is `a = √5`.
    KaimingUniform {
        /// Negative slope of the following leaky ReLU (0 for ReLU).
        a: f64,
    },
    /// `N(0, σ²)`, `σ = √(2 / ((1 + a²)·fan_in))`.
    KaimingNormal {
        /// Negative slope of the following leaky ReLU.
        a: f64,
    },
    /// A (semi-)orthogonal matrix scaled by `gain` (Saxe et al. 2013), from the QR
    /// decomposition of a Gaussian matrix; higher-rank weights are flattened to `[out, rest]`.
    Orthogonal {
        /// Gain.
        gain: f64,
    },
}

/// `(fan_in, fan_out)` of a weight shape.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape.len() {
        0 => (1, 1),
        1 => (shape[0], shape[0]),
        _ => {
            let receptive: usize = shape[2..].iter().product();
            (shape[1] * receptive, shape[0] * receptive)
        }
    }
}

impl Init {
    /// A new F32 tensor of `shape` drawn from `rng`.
    ///
    /// # Errors
    /// Engine errors only (shapes are trusted).
    pub fn tensor(&self, shape: &[usize], rng: &mut Rng, device: &Device) -> Result<Tensor> {
        let (fan_in, fan_out) = fans(shape);
        let uniform =
            |rng: &mut Rng, b: f64| Tensor::uniform_with(rng, -b, b, shape, DType::F32, device);
        let normal =
            |rng: &mut Rng, s: f64| Tensor::normal_with(rng, 0.0, s, shape, DType::F32, device);
        Ok(match *self {
            Init::Constant(v) => Tensor::full(v, shape, DType::F32, device),
            Init::Uniform { low, high } => {
                Tensor::uniform_with(rng, low, high, shape, DType::F32, device)?
            }
            Init::Normal { mean, std } => {
                Tensor::normal_with(rng, mean, std, shape, DType::F32, device)?
            }
            Init::XavierUniform { gain } => {
                uniform(rng, gain * (6.0 / (fan_in + fan_out).max(1) as f64).sqrt())?
            }
            Init::XavierNormal { gain } => {
                normal(rng, gain * (2.0 / (fan_in + fan_out).max(1) as f64).sqrt())?
            }
            Init::KaimingUniform { a } => {
                uniform(rng, (6.0 / ((1.0 + a * a) * fan_in.max(1) as f64)).sqrt())?
            }
            Init::KaimingNormal { a } => {
                normal(rng, (2.0 / ((1.0 + a * a) * fan_in.max(1) as f64)).sqrt())?
            }
            Init::Orthogonal { gain } => orthogonal(shape, gain, rng, device)?,
        })
    }
}

/// Orthogonal initialization by modified Gram–Schmidt on the rows (or columns) of a
/// Gaussian matrix, with signs fixed as in QR with a positive diagonal.
fn orthogonal(shape: &[usize], gain: f64, rng: &mut Rng, device: &Device) -> Result<Tensor> {
    let rows = shape.first().copied().unwrap_or(1);
    let cols: usize = shape.iter().skip(1).product::<usize>().max(1);
    // Orthonormalize along the longer side: make the shorter set of vectors orthonormal.
    let (n_vec, dim) = if rows <= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let mut v: Vec<Vec<f64>> = (0..n_vec)
        .map(|_| (0..dim).map(|_| rng.normal()).collect())
        .collect();
    for i in 0..n_vec {
        for j in 0..i {
            let d: f64 = (0..dim).map(|k| v[i][k] * v[j][k]).sum();
            for k in 0..dim {
                v[i][k] -= d * v[j][k];
            }
        }
        let norm = v[i].iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        v[i].iter_mut().for_each(|x| *x /= norm);
    }
    let mut out = vec![0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            let x = if rows <= cols { v[r][c] } else { v[c][r] };
            out[r * cols + c] = (gain * x) as f32;
        }
    }
    Ok(Tensor::from_vec(out, shape, device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans_follow_pytorch() {
        assert_eq!(fans(&[10, 20]), (20, 10));
        assert_eq!(fans(&[16, 6, 5, 5]), (150, 400));
    }

    #[test]
    fn initializers_have_the_right_spread() -> Result<()> {
        let mut rng = Rng::new(0);
        let dev = Device::Cpu;
        let stats = |t: &Tensor| {
            let v = t.to_vec::<f64>().unwrap();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
            (m, var.sqrt(), v.iter().fold(0f64, |a, x| a.max(x.abs())))
        };
        // Kaiming uniform a=√5 on [256, 400]: bound = √(6 / (6·400)) = 1/20
        let (_, _, max) =
            stats(&Init::KaimingUniform { a: 5f64.sqrt() }.tensor(&[256, 400], &mut rng, &dev)?);
        assert!(max <= 0.05 && max > 0.049);
        let (m, s, _) =
            stats(&Init::KaimingNormal { a: 0.0 }.tensor(&[256, 400], &mut rng, &dev)?);
        assert!(m.abs() < 0.005 && (s - (2.0f64 / 400.0).sqrt()).abs() < 0.003);
        let (_, s, _) =
            stats(&Init::XavierNormal { gain: 1.0 }.tensor(&[300, 100], &mut rng, &dev)?);
        assert!((s - (2.0f64 / 400.0).sqrt()).abs() < 0.003);
        let (_, _, max) =
            stats(&Init::XavierUniform { gain: 1.0 }.tensor(&[300, 100], &mut rng, &dev)?);
        assert!(max <= (6.0f64 / 400.0).sqrt());
        assert_eq!(
            Init::Constant(0.5)
                .tensor(&[3], &mut rng, &dev)?
                .to_vec::<f32>()?,
            vec![0.5; 3]
        );
        Ok(())
    }

    #[test]
    fn orthogonal_rows_are_orthonormal() -> Result<()> {
        let w = Init::Orthogonal { gain: 1.0 }.tensor(&[4, 6], &mut Rng::new(1), &Device::Cpu)?;
        let wwt = w.matmul(&w.t()?)?.to_vec::<f32>()?;
        for i in 0..4 {
            for j in 0..4 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((wwt[i * 4 + j] - want).abs() < 1e-5);
            }
        }
        let tall =
            Init::Orthogonal { gain: 2.0 }.tensor(&[6, 3], &mut Rng::new(1), &Device::Cpu)?;
        let wtw = tall.t()?.matmul(&tall)?.to_vec::<f32>()?;
        assert!((wtw[0] - 4.0).abs() < 1e-4 && wtw[1].abs() < 1e-4);
        Ok(())
    }
}
