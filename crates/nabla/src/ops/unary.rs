//! Element-wise unary math: neg, exp, log, sqrt, abs, recip, sqr, pow, clamp, erf, and
//! arithmetic with a scalar.

use super::kernels::{unary_map, Unary};
use super::rule;
use crate::{Error, Result, Tensor};

impl Tensor {
    /// `-x`.
    pub fn neg(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("neg", self, self, |x| x.neg());
        let y = unary_map(self, Unary::Neg, "neg")?;
        // d(-x)/dx = -1
        Ok(y.record(
            rule("NegBackward", |_, _, g| Ok(vec![Some(g.neg()?)])),
            &[self],
        ))
    }

    /// `e^x`.
    pub fn exp(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("exp", self, self, |x| x.exp());
        let y = unary_map(self, Unary::Exp, "exp")?;
        // d e^x/dx = e^x = y
        Ok(y.record(
            rule("ExpBackward", |_, y, g| Ok(vec![Some(g.mul(y)?)])),
            &[self],
        ))
    }

    /// Natural logarithm `ln x` (NaN for x < 0, -inf at 0).
    pub fn log(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("log", self, self, |x| x.log());
        let y = unary_map(self, Unary::Log, "log")?;
        // d ln x/dx = 1/x
        Ok(y.record(
            rule("LogBackward", |x, _, g| Ok(vec![Some(g.div(&x[0])?)])),
            &[self],
        ))
    }

    /// `√x`.
    pub fn sqrt(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("sqrt", self, self, |x| x.sqrt());
        let y = unary_map(self, Unary::Sqrt, "sqrt")?;
        // d √x/dx = 1 / (2√x) = 0.5 / y
        Ok(y.record(
            rule("SqrtBackward", |_, y, g| {
                Ok(vec![Some(g.div(y)?.mul_scalar(0.5)?)])
            }),
            &[self],
        ))
    }

    /// `|x|`.
    pub fn abs(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("abs", self, self, |x| x.abs());
        let y = unary_map(self, Unary::Abs, "abs")?;
        // d|x|/dx = sign(x) (0 at 0, as PyTorch)
        Ok(y.record(
            rule("AbsBackward", |x, _, g| {
                Ok(vec![Some(g.mul(&x[0].sign()?)?)])
            }),
            &[self],
        ))
    }

    /// `sign(x)`: -1, 0 or 1 (no gradient).
    pub fn sign(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("sign", self, self, |x| x.sign());
        unary_map(self, Unary::Sign, "sign")
    }

    /// `1 / x`.
    pub fn recip(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("recip", self, self, |x| x.recip());
        let y = unary_map(self, Unary::Recip, "recip")?;
        // d(1/x)/dx = -1/x² = -y²
        Ok(y.record(
            rule("RecipBackward", |_, y, g| {
                Ok(vec![Some(g.mul(&y.mul(y)?)?.neg()?)])
            }),
            &[self],
        ))
    }

    /// `x²`.
    pub fn sqr(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("sqr", self, self, |x| x.sqr());
        let y = unary_map(self, Unary::Sqr, "sqr")?;
        // d x²/dx = 2x
        Ok(y.record(
            rule("SqrBackward", |x, _, g| {
                Ok(vec![Some(g.mul(&x[0])?.mul_scalar(2.0)?)])
            }),
            &[self],
        ))
    }

    /// `x^e` for a scalar exponent.
    pub fn powf(&self, e: f64) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("powf", self, self, |x| x.powf(e));
        let y = unary_map(self, Unary::Powf(e), "powf")?;
        // d x^e/dx = e·x^(e-1)
        Ok(y.record(
            rule("PowBackward", move |x, _, g| {
                Ok(vec![Some(g.mul(&x[0].powf(e - 1.0)?.mul_scalar(e)?)?)])
            }),
            &[self],
        ))
    }

    /// Clamps every element into `[min, max]`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `min > max` or either is NaN.
    pub fn clamp(&self, min: f64, max: f64) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("clamp", self, self, |x| x.clamp(min, max));
        if min.is_nan() || max.is_nan() || min > max {
            return Err(Error::invalid(
                "clamp",
                format!("min {min} must not exceed max {max}"),
            ));
        }
        let y = unary_map(self, Unary::Clamp { min, max }, "clamp")?;
        // The gradient passes where min ≤ x ≤ max and is 0 where the clamp is active.
        Ok(y.record(
            rule("ClampBackward", move |x, _, g| {
                let inside = unary_map(&x[0], Unary::InRange { min, max }, "clamp")?;
                Ok(vec![Some(g.mul(&inside)?)])
            }),
            &[self],
        ))
    }

    /// The error function `erf(x) = 2/√π ∫₀ˣ e^(−t²) dt`.
    pub fn erf(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("erf", self, self, |x| x.erf());
        let y = unary_map(self, Unary::Erf, "erf")?;
        // d erf(x)/dx = 2/√π · e^(−x²)
        Ok(y.record(
            rule("ErfBackward", |x, _, g| {
                let d = unary_map(&x[0], Unary::ErfGrad, "erf")?;
                Ok(vec![Some(g.mul(&d)?)])
            }),
            &[self],
        ))
    }

    /// `x + s`.
    pub fn add_scalar(&self, s: f64) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("add_scalar", self, self, |x| x.add_scalar(s));
        let y = unary_map(self, Unary::AddScalar(s), "add_scalar")?;
        Ok(y.record(
            rule("AddBackward", |_, _, g| Ok(vec![Some(g.clone())])),
            &[self],
        ))
    }

    /// `x - s`.
    pub fn sub_scalar(&self, s: f64) -> Result<Tensor> {
        self.add_scalar(-s)
    }

    /// `x · s`.
    pub fn mul_scalar(&self, s: f64) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("mul_scalar", self, self, |x| x.mul_scalar(s));
        let y = unary_map(self, Unary::MulScalar(s), "mul_scalar")?;
        Ok(y.record(
            rule("MulBackward", move |_, _, g| {
                Ok(vec![Some(g.mul_scalar(s)?)])
            }),
            &[self],
        ))
    }

    /// `x / s`.
    pub fn div_scalar(&self, s: f64) -> Result<Tensor> {
        self.mul_scalar(1.0 / s)
    }

    /// `s - x`.
    pub fn rsub_scalar(&self, s: f64) -> Result<Tensor> {
        self.neg()?.add_scalar(s)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};
    use crate::Result;

    #[test]
    fn unary_ops_match_closed_forms() -> Result<()> {
        let x = tensor(&[0.25, 1.0, 4.0], &[3])?;
        assert_close(
            &x.exp()?,
            &[1.284_025_4, std::f64::consts::E, 54.598_150],
            1e-6,
        )?;
        assert_close(&x.log()?, &[-1.386_294_4, 0.0, 1.386_294_4], 1e-6)?;
        assert_close(&x.sqrt()?, &[0.5, 1.0, 2.0], 1e-6)?;
        assert_close(&x.recip()?, &[4.0, 1.0, 0.25], 1e-6)?;
        assert_close(&x.powf(1.5)?, &[0.125, 1.0, 8.0], 1e-6)?;
        assert_close(&x.neg()?.abs()?, &[0.25, 1.0, 4.0], 1e-6)?;
        assert_close(&x.clamp(0.5, 2.0)?, &[0.5, 1.0, 2.0], 1e-6)?;
        assert_close(&x.erf()?, &[0.276_326_4, 0.842_700_8, 1.0], 1e-6)?;
        assert_close(
            &x.add_scalar(1.0)?
                .mul_scalar(2.0)?
                .div_scalar(4.0)?
                .sub_scalar(1.0)?,
            &[-0.375, 0.0, 1.5],
            1e-6,
        )
    }

    #[test]
    fn clamp_rejects_inverted_bounds() {
        assert!(tensor(&[1.0], &[1]).unwrap().clamp(2.0, 1.0).is_err());
    }

    #[test]
    fn unary_gradients_match_finite_differences() -> Result<()> {
        let pos = GradcheckOpts {
            low: 0.2,
            high: 2.0,
            ..Default::default()
        };
        gradcheck(&[&[3, 4]], |x| x[0].exp())?;
        gradcheck_with(&[&[3, 4]], pos.clone(), |x| x[0].log())?;
        gradcheck_with(&[&[3, 4]], pos.clone(), |x| x[0].sqrt())?;
        gradcheck_with(&[&[3, 4]], pos.clone(), |x| x[0].recip())?;
        gradcheck_with(&[&[3, 4]], pos.clone(), |x| x[0].powf(2.5))?;
        gradcheck_with(&[&[3, 4]], pos, |x| x[0].neg()?.abs())?;
        gradcheck(&[&[3, 4]], |x| {
            x[0].sqr()?.add_scalar(1.0)?.mul_scalar(-3.0)
        })?;
        gradcheck(&[&[3, 4]], |x| x[0].erf())?;
        // Keep inputs off the clamp's kinks at ±0.5.
        gradcheck_with(
            &[&[5, 5]],
            GradcheckOpts {
                avoid: vec![-0.5, 0.5],
                ..Default::default()
            },
            |x| x[0].clamp(-0.5, 0.5),
        )
    }
}
