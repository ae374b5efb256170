//! Activation functions, element-wise: step, sigmoid, tanh, relu, leaky_relu, elu, gelu,
//! softplus, gaussian, silu. Each is a primitive whose gradient rule reads the saved input
//! or output in one fused pass.

use super::kernels::{binary_map, unary_map, Binary, Unary};
use super::rule;
use crate::{Error, Result, Tensor};

impl Tensor {
    /// Heaviside step: 1 where x > 0, else 0 — the perceptron's activation. Its derivative is
    /// 0 almost everywhere, so no gradient flows through it (the perceptron learns with its
    /// own rule, not by backpropagation).
    pub fn step(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("step", self, self, |x| x.step());
        unary_map(self, Unary::Step, "step")
    }

    /// Binary cross-entropy of these logits against `targets` (probabilities in `[0, 1]`),
    /// element-wise with broadcasting and without reduction:
    /// `max(x, 0) − x·y + ln(1 + e^(−|x|))`, which is `−y ln σ(x) − (1 − y) ln(1 − σ(x))`
    /// without overflow for any `x` (PyTorch's `binary_cross_entropy_with_logits` with
    /// `reduction='none'`). One pass forward and one backward, where the same formula in
    /// tensor ops takes nine.
    ///
    /// # Errors
    /// Devices, dtypes or shapes that do not fit together.
    pub fn bce_with_logits(&self, targets: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("bce_with_logits", self, (self, targets), |(x, y)| x
            .bce_with_logits(&y));
        let loss = binary_map(self, targets, Binary::BceWithLogits, "bce_with_logits")?;
        // ∂/∂x = σ(x) − y, ∂/∂y = −x
        Ok(loss.record(
            rule("BceWithLogitsBackward", |x, _, g| {
                let dx = if x[0].tracks_grad() {
                    let d = binary_map(&x[0], &x[1], Binary::BceWithLogitsGrad, "bce_with_logits")?;
                    Some(g.mul(&d)?)
                } else {
                    None
                };
                let dy = if x[1].tracks_grad() {
                    Some(g.mul(&x[0])?.neg()?)
                } else {
                    None
                };
                Ok(vec![dx, dy])
            }),
            &[self, targets],
        ))
    }

    /// Logistic sigmoid `1 / (1 + e^-x)`.
    pub fn sigmoid(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("sigmoid", self, self, |x| x.sigmoid());
        // Branch-free and vectorized for f32 (Float::sigmoid_fast: its e^-x is clamped, so it
        // never overflows to infinity).
        let y = unary_map(self, Unary::Sigmoid, "sigmoid")?;
        // σ'(x) = σ(x)(1 - σ(x)) = y(1 - y)
        Ok(y.record(
            rule("SigmoidBackward", |_, y, g| {
                Ok(vec![Some(binary_map(
                    g,
                    y,
                    Binary::SigmoidGrad,
                    "sigmoid",
                )?)])
            }),
            &[self],
        ))
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("tanh", self, self, |x| x.tanh());
        // Vectorized for f32 (Float::tanh_fast, absolute error below 3e-7).
        let y = unary_map(self, Unary::Tanh, "tanh")?;
        // tanh'(x) = 1 - tanh²(x) = 1 - y²
        Ok(y.record(
            rule("TanhBackward", |_, y, g| {
                Ok(vec![Some(binary_map(g, y, Binary::TanhGrad, "tanh")?)])
            }),
            &[self],
        ))
    }

    /// Rectified linear unit `max(0, x)`.
    pub fn relu(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("relu", self, self, |x| x.relu());
        let y = unary_map(self, Unary::Relu, "relu")?;
        // relu'(x) = 1 for x > 0, else 0 (0 at the kink, as PyTorch). Read from y: y > 0 ⇔ x > 0.
        Ok(y.record(
            rule("ReluBackward", |_, y, g| {
                Ok(vec![Some(binary_map(g, y, Binary::ReluGrad, "relu")?)])
            }),
            &[self],
        ))
    }

    /// Leaky ReLU: `x` for x > 0, `slope · x` otherwise.
    pub fn leaky_relu(&self, slope: f64) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("leaky_relu", self, self, |x| x.leaky_relu(slope));
        let y = unary_map(self, Unary::LeakyRelu(slope), "leaky_relu")?;
        // derivative 1 for x > 0, slope otherwise
        Ok(y.record(
            rule("LeakyReluBackward", move |x, _, g| {
                Ok(vec![Some(binary_map(
                    g,
                    &x[0],
                    Binary::LeakyReluGrad(slope),
                    "leaky_relu",
                )?)])
            }),
            &[self],
        ))
    }

    /// Exponential linear unit: `x` for x > 0, `alpha (e^x - 1)` otherwise.
    pub fn elu(&self, alpha: f64) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("elu", self, self, |x| x.elu(alpha));
        let y = unary_map(self, Unary::Elu(alpha), "elu")?;
        // derivative 1 for x > 0, alpha·e^x = y + alpha otherwise
        Ok(y.record(
            rule("EluBackward", move |x, y, g| {
                let d = binary_map(&x[0], y, Binary::EluGrad(alpha), "elu")?;
                Ok(vec![Some(g.mul(&d)?)])
            }),
            &[self],
        ))
    }

    /// Gaussian error linear unit, exact form `x · Φ(x) = x/2 · (1 + erf(x/√2))` (PyTorch's
    /// default `gelu`).
    pub fn gelu(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("gelu", self, self, |x| x.gelu());
        let y = unary_map(self, Unary::Gelu, "gelu")?;
        // gelu'(x) = Φ(x) + x·φ(x), φ(x) = e^(-x²/2)/√(2π)
        Ok(y.record(
            rule("GeluBackward", |x, _, g| {
                let d = unary_map(&x[0], Unary::GeluGrad, "gelu")?;
                Ok(vec![Some(g.mul(&d)?)])
            }),
            &[self],
        ))
    }

    /// Softplus `ln(1 + e^x)`, a smooth ReLU (linear above x = 20, as PyTorch's threshold).
    pub fn softplus(&self) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("softplus", self, self, |x| x.softplus());
        let y = unary_map(self, Unary::Softplus, "softplus")?;
        // softplus'(x) = σ(x)
        Ok(y.record(
            rule("SoftplusBackward", |x, _, g| {
                Ok(vec![Some(g.mul(&x[0].detach().sigmoid()?)?)])
            }),
            &[self],
        ))
    }

    /// Gaussian bump `exp(-x² / σ²)`, the course's radial activation.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when `sigma` is not positive.
    pub fn gaussian(&self, sigma: f64) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("gaussian", self, self, |x| x.gaussian(sigma));
        if sigma.is_nan() || sigma <= 0.0 {
            return Err(Error::out_of_range("gaussian", "sigma", "positive", sigma));
        }
        let inv = 1.0 / (sigma * sigma);
        let y = unary_map(self, Unary::Gaussian { inv }, "gaussian")?;
        // d/dx exp(-x²/σ²) = -2x/σ² · y
        Ok(y.record(
            rule("GaussianBackward", move |x, y, g| {
                let d = binary_map(&x[0], y, Binary::GaussianGrad { inv }, "gaussian")?;
                Ok(vec![Some(g.mul(&d)?)])
            }),
            &[self],
        ))
    }

    /// SiLU (swish) `x · σ(x)`.
    pub fn silu(&self) -> Result<Tensor> {
        self.mul(&self.sigmoid()?)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};
    use crate::Result;

    #[test]
    fn bce_with_logits_matches_pytorch_and_finite_differences() -> Result<()> {
        // torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction='none') and
        // the gradient of its sum in x, in float64 (PyTorch 2.15).
        let x = tensor(&[-2.0, 0.0, 1.0, 30.0, -30.0], &[5])?.requires_grad();
        let y = tensor(&[0.3, 0.5, 1.0, 0.0, 1.0], &[5])?;
        let loss = x.bce_with_logits(&y)?;
        let want = [
            0.726_928_011_043,
            std::f64::consts::LN_2,
            0.313_261_687_518,
            30.0,
            30.0,
        ];
        assert_close(&loss, &want, 1e-10)?;
        let grads = loss.sum_all()?.backward()?;
        let dx = grads.get(&x).expect("x's gradient");
        assert_close(
            dx,
            &[-0.180_797_077_978, 0.0, -0.268_941_421_37, 1.0, -1.0],
            1e-10,
        )?;
        // Both inputs, broadcast: the targets' gradient is -x.
        gradcheck(&[&[3, 4], &[4]], |v| v[0].bce_with_logits(&v[1].sigmoid()?))
    }

    #[test]
    fn activations_match_reference_values() -> Result<()> {
        let x = tensor(&[-2.0, 0.0, 1.0], &[3])?;
        assert_close(&x.step()?, &[0.0, 0.0, 1.0], 0.0)?;
        assert_close(&x.sigmoid()?, &[0.119_202_922, 0.5, 0.731_058_579], 1e-8)?;
        assert_close(&x.tanh()?, &[-0.964_027_580, 0.0, 0.761_594_156], 1e-8)?;
        assert_close(&x.relu()?, &[0.0, 0.0, 1.0], 0.0)?;
        assert_close(&x.leaky_relu(0.1)?, &[-0.2, 0.0, 1.0], 1e-12)?;
        assert_close(&x.elu(1.0)?, &[-0.864_664_717, 0.0, 1.0], 1e-8)?;
        // torch.nn.functional.gelu(torch.tensor([-2., 0., 1.], dtype=torch.float64))
        assert_close(
            &x.gelu()?,
            &[-0.045_500_263_896_358_4, 0.0, 0.841_344_746_068_542_9],
            1e-12,
        )?;
        assert_close(
            &x.softplus()?,
            &[0.126_928_011, std::f64::consts::LN_2, 1.313_261_687],
            1e-8,
        )?;
        assert_close(
            &x.gaussian(1.0)?,
            &[(-4f64).exp(), 1.0, (-1f64).exp()],
            1e-12,
        )?;
        // sigmoid does not overflow for large negative inputs
        assert_close(&tensor(&[-800.0], &[1])?.sigmoid()?, &[0.0], 0.0)
    }

    #[test]
    fn step_has_no_gradient() -> Result<()> {
        let x = tensor(&[1.0], &[1])?.requires_grad();
        assert!(!x.step()?.tracks_grad());
        Ok(())
    }

    #[test]
    fn activation_gradients_match_finite_differences() -> Result<()> {
        let off_kink = GradcheckOpts {
            avoid: vec![0.0],
            ..Default::default()
        };
        gradcheck(&[&[3, 4]], |x| x[0].sigmoid())?;
        gradcheck(&[&[3, 4]], |x| x[0].tanh())?;
        gradcheck_with(&[&[3, 4]], off_kink.clone(), |x| x[0].relu())?;
        gradcheck_with(&[&[3, 4]], off_kink.clone(), |x| x[0].leaky_relu(0.01))?;
        gradcheck_with(&[&[3, 4]], off_kink, |x| x[0].elu(0.7))?;
        gradcheck(&[&[3, 4]], |x| x[0].gelu())?;
        gradcheck(&[&[3, 4]], |x| x[0].softplus())?;
        gradcheck(&[&[3, 4]], |x| x[0].gaussian(0.8))?;
        gradcheck(&[&[3, 4]], |x| x[0].silu())
    }
}
