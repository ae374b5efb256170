//! Kernel functions k(x, z) for SVMs, computed from dot products, and the dense kernels
//! (dot products, a fast exponential) that evaluate them quickly.
//!
//! Host memory by design, as the whole crate: the data arrive as host slices and the
//! tensors are built on `Device::Cpu`.

use crate::{Error, Result};
use nabla::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// A kernel `k(x, z)`: every one here is a function of `x·z` (and, for RBF, of `|x|²`, `|z|²`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Kernel {
    /// `x·z`.
    Linear,
    /// `(gamma x·z + coef0)^degree`.
    Poly {
        /// Scale of the dot product.
        gamma: f64,
        /// Added constant.
        coef0: f64,
        /// Power, at least 1.
        degree: u32,
    },
    /// `exp(-gamma |x - z|²)`.
    Rbf {
        /// Inverse squared length scale, > 0.
        gamma: f64,
    },
    /// `tanh(gamma x·z + coef0)`.
    Sigmoid {
        /// Scale of the dot product.
        gamma: f64,
        /// Added constant.
        coef0: f64,
    },
}

impl Kernel {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a non-finite or (RBF) non-positive gamma, or degree 0.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::invalid("svm", what));
        match *self {
            Kernel::Linear => Ok(()),
            Kernel::Rbf { gamma } if !(gamma > 0.0 && gamma.is_finite()) => bad(format!(
                "rbf gamma must be positive and finite, got {gamma}"
            )),
            Kernel::Poly { degree: 0, .. } => bad("poly degree must be at least 1".into()),
            Kernel::Poly { gamma, coef0, .. } | Kernel::Sigmoid { gamma, coef0 }
                if !(gamma.is_finite() && coef0.is_finite()) =>
            {
                bad(format!("gamma {gamma} and coef0 {coef0} must be finite"))
            }
            _ => Ok(()),
        }
    }

    /// `k(x, z)` from `dot = x·z`, `sq_x = |x|²` and `sq_z = |z|²`.
    #[inline]
    pub fn from_dot(&self, dot: f32, sq_x: f32, sq_z: f32) -> f32 {
        match *self {
            Kernel::Linear => dot,
            Kernel::Poly {
                gamma,
                coef0,
                degree,
            } => (gamma as f32 * dot + coef0 as f32).powi(degree as i32),
            Kernel::Rbf { gamma } => exp_neg(-(gamma as f32) * (sq_x + sq_z - 2.0 * dot).max(0.0)),
            Kernel::Sigmoid { gamma, coef0 } => (gamma as f32 * dot + coef0 as f32).tanh(),
        }
    }

    /// `k(x, z)` for two feature vectors of the same length.
    pub fn eval(&self, x: &[f32], z: &[f32]) -> f32 {
        self.from_dot(dot(x, z), dot(x, x), dot(z, z))
    }

    /// Turns a block of dot products `dots[r * sq_b.len() + c] = a_r·b_c` into kernel values
    /// in place, given the squared norms of the rows of both sides.
    pub fn apply_block(&self, dots: &mut [f32], sq_a: &[f32], sq_b: &[f32]) {
        let cols = sq_b.len();
        for (row, &sa) in dots.chunks_exact_mut(cols).zip(sq_a) {
            match *self {
                // One loop per kind so that each vectorizes (no match inside the loop).
                Kernel::Linear => {}
                Kernel::Rbf { gamma } => {
                    let g = -(gamma as f32);
                    for (v, &sb) in row.iter_mut().zip(sq_b) {
                        *v = exp_neg(g * (sa + sb - 2.0 * *v).max(0.0));
                    }
                }
                _ => row
                    .iter_mut()
                    .zip(sq_b)
                    .for_each(|(v, &sb)| *v = self.from_dot(*v, sa, sb)),
            }
        }
    }
}

/// The squared norm of each `d`-wide row of `x`.
pub fn squared_norms(x: &[f32], d: usize) -> Vec<f32> {
    x.chunks_exact(d).map(|r| dot(r, r)).collect()
}

/// The kernel values between the rows of `a` (`[na, d]`) and of `b` (`[nb, d]`), row-major
/// `[na, nb]`, through the engine's matrix product (`a · bᵀ`) and then `k` element-wise.
///
/// `sq_a`, `sq_b` are the rows' squared norms ([`squared_norms`]).
///
/// # Errors
/// [`Error::Tensor`] if the product fails (it does not for consistent sizes).
pub fn cross(
    kernel: &Kernel,
    a: &[f32],
    sq_a: &[f32],
    b_t: &Tensor,
    sq_b: &[f32],
) -> Result<Vec<f32>> {
    let d = b_t.dims()[0];
    let at = Tensor::from_slice(a, &[a.len() / d, d], &Device::Cpu)?;
    let mut dots = at.matmul(b_t)?.to_vec::<f32>()?;
    kernel.apply_block(&mut dots, sq_a, sq_b);
    Ok(dots)
}

/// `bᵀ` as a `[d, nb]` tensor view over a copy of `b` (`[nb, d]` row-major), the right-hand
/// side [`cross`] takes.
///
/// # Errors
/// [`Error::Tensor`] if `b.len()` is not a multiple of `d`.
pub fn transposed(b: &[f32], d: usize) -> Result<Tensor> {
    Ok(Tensor::from_slice(b, &[b.len() / d.max(1), d], &Device::Cpu)?.t()?)
}

/// `x·z` over the common length, with AVX2 when the CPU has it (16 partial sums, so the
/// loop vectorizes without reassociating one sum).
#[inline]
pub fn dot(x: &[f32], z: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { dot_avx2(x, z) };
        }
    }
    dot_portable(x, z)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(x: &[f32], z: &[f32]) -> f32 {
    dot_portable(x, z)
}

#[inline(always)]
fn dot_portable(x: &[f32], z: &[f32]) -> f32 {
    const L: usize = 16;
    let n = x.len().min(z.len());
    let (x, z) = (&x[..n], &z[..n]);
    let mut acc = [0f32; L];
    let (xc, zc) = (x.chunks_exact(L), z.chunks_exact(L));
    let (xr, zr) = (xc.remainder(), zc.remainder());
    for (a, b) in xc.zip(zc) {
        for k in 0..L {
            acc[k] += a[k] * b[k];
        }
    }
    let tail: f32 = xr.iter().zip(zr).map(|(a, b)| a * b).sum();
    acc.iter().sum::<f32>() + tail
}

/// `e^x` for `x <= 0` (0 below -87), within 3e-7 relative; written without calls so that
/// loops over it vectorize (RBF kernels take billions of them).
///
/// `e^x = 2^i · e^f` with `i = round(x log2 e)` and `f = x - i ln 2` (ln 2 split in two parts,
/// so `f` is exact to f32 rounding), `|f| <= ln2 / 2`; `e^f` by its Taylor series to degree 7
/// (remainder below `(ln2 / 2)^8 / 8! ≈ 5e-9`).
#[inline(always)]
pub fn exp_neg(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4; // 0.693359375, few mantissa bits: i * LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    let xc = x.max(-87.0);
    let i = (xc * std::f32::consts::LOG2_E - 0.5) as i32; // rounds a value <= 0 to nearest
    let f = (xc - i as f32 * LN2_HI) - i as f32 * LN2_LO;
    let p = 1.0
        + f * (1.0
            + f * (0.5
                + f * (1.0 / 6.0
                    + f * (1.0 / 24.0
                        + f * (1.0 / 120.0 + f * (1.0 / 720.0 + f * (1.0 / 5040.0)))))));
    let scale = f32::from_bits(((i + 127) as u32) << 23);
    if x < -87.0 {
        0.0
    } else {
        p * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_neg_matches_std_exp() {
        let mut x = 0.0f32;
        while x > -87.0 {
            let (got, want) = (exp_neg(x), x.exp());
            assert!(
                ((got - want) / want).abs() < 3e-7,
                "exp({x}) = {want}, got {got}"
            );
            x -= 0.0137;
        }
        assert_eq!(exp_neg(-200.0), 0.0);
        assert_eq!(exp_neg(0.0), 1.0);
    }

    #[test]
    fn dot_matches_a_plain_sum_for_every_tail_length() {
        for n in [0, 1, 15, 16, 17, 100] {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let z: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let want: f64 = x.iter().zip(&z).map(|(a, b)| *a as f64 * *b as f64).sum();
            assert!((dot(&x, &z) as f64 - want).abs() < 1e-5, "n = {n}");
        }
    }

    #[test]
    fn kernels_match_their_formulas() {
        // x = (1, 2), z = (3, -1): x·z = 1, |x - z|² = 4 + 9 = 13
        let (x, z) = ([1.0f32, 2.0], [3.0f32, -1.0]);
        assert_eq!(Kernel::Linear.eval(&x, &z), 1.0);
        let rbf = Kernel::Rbf { gamma: 0.1 }.eval(&x, &z);
        assert!((rbf - (-1.3f32).exp()).abs() < 1e-6);
        let poly = Kernel::Poly {
            gamma: 2.0,
            coef0: 1.0,
            degree: 3,
        };
        assert_eq!(poly.eval(&x, &z), 27.0); // (2·1 + 1)³
        let sig = Kernel::Sigmoid {
            gamma: 0.5,
            coef0: -0.25,
        };
        assert!((sig.eval(&x, &z) - 0.25f32.tanh()).abs() < 1e-7);
    }

    #[test]
    fn cross_equals_pairwise_eval() -> Result<()> {
        let d = 3;
        let a: Vec<f32> = (0..12).map(|i| (i as f32 * 0.3).sin()).collect();
        let b: Vec<f32> = (0..9).map(|i| (i as f32 * 0.7).cos()).collect();
        for k in [
            Kernel::Linear,
            Kernel::Rbf { gamma: 0.7 },
            Kernel::Poly {
                gamma: 0.5,
                coef0: 1.0,
                degree: 2,
            },
        ] {
            let got = cross(
                &k,
                &a,
                &squared_norms(&a, d),
                &transposed(&b, d)?,
                &squared_norms(&b, d),
            )?;
            for r in 0..4 {
                for c in 0..3 {
                    let want = k.eval(&a[r * d..(r + 1) * d], &b[c * d..(c + 1) * d]);
                    assert!((got[r * 3 + c] - want).abs() < 1e-5, "{k:?} ({r}, {c})");
                }
            }
        }
        Ok(())
    }

    #[test]
    fn validate_rejects_bad_parameters() {
        assert!(Kernel::Rbf { gamma: 0.0 }.validate().is_err());
        assert!(Kernel::Rbf { gamma: f64::NAN }.validate().is_err());
        let p = Kernel::Poly {
            gamma: 1.0,
            coef0: 0.0,
            degree: 0,
        };
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "svm: poly degree must be at least 1"
        );
        assert!(Kernel::Linear.validate().is_ok());
    }
}
