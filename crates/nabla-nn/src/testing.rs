//! Finite-difference gradient checks of whole layers: the gradients of every parameter of a
//! [`VarStore`] and of every input, against central differences.

use crate::{Error, Result, VarStore};
use nabla::{no_grad, DType, Device, Rng, Tensor};

/// Checks autograd's gradients of `f` with respect to `inputs` and to every trainable
/// variable of `vs` against central finite differences.
///
/// Build the layer in a store made by `VarStore::with_dtype(&Device::Cpu, DType::F64)` and
/// give F64 inputs. `f(xs)` runs the layer; its output is reduced to a scalar with a fixed
/// random projection `L = Σ f(x) ⊙ r`, and `∂L/∂θ` from `backward()` is compared with
/// `(L(θ + h) - L(θ - h)) / 2h`, `h = 1e-6`, within `1e-6 + 1e-4·|numeric|`. Variables are
/// perturbed in place and restored.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the variable or input, the element and both values at
/// the first disagreement; any error of `f`.
pub fn gradcheck_vars(
    vs: &VarStore,
    inputs: &[Tensor],
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
) -> Result<()> {
    const EPS: f64 = 1e-6;
    let tracked: Vec<Tensor> = inputs.iter().map(|x| x.detach().requires_grad()).collect();
    let out = f(&tracked)?;
    let r = Tensor::normal_with(
        &mut Rng::new(0),
        0.0,
        1.0,
        out.dims(),
        DType::F64,
        &Device::Cpu,
    )?;
    let project =
        |y: &Tensor| -> Result<Tensor> { Ok(y.to_dtype(DType::F64)?.mul(&r)?.sum_all()?) };
    let grads = project(&out)?.backward()?;
    let loss =
        |xs: &[Tensor]| -> Result<f64> { no_grad(|| Ok(project(&f(xs)?)?.to_scalar::<f64>()?)) };
    let compare = |what: &str, j: usize, analytic: f64, numeric: f64| -> Result<()> {
        if (analytic - numeric).abs() <= 1e-6 + 1e-4 * numeric.abs() {
            return Ok(());
        }
        Err(Error::invalid(
            "gradcheck",
            format!("{what} element {j}: autograd gives {analytic}, finite differences {numeric}"),
        ))
    };
    let plain: Vec<Tensor> = inputs.iter().map(Tensor::detach).collect();
    for var in vs.trainable() {
        let leaf = var.leaf();
        let analytic = match grads.get(leaf) {
            Some(g) => g.to_vec::<f64>()?,
            None => vec![0.0; leaf.numel()],
        };
        let values = leaf.to_vec::<f64>()?;
        let set = |v: &[f64]| {
            var.set(
                &Tensor::from_vec(v.to_vec(), leaf.dims(), &Device::Cpu)?.to_dtype(leaf.dtype())?,
            )
        };
        let mut v = values.clone();
        for j in 0..values.len() {
            v[j] = values[j] + EPS;
            set(&v)?;
            let plus = loss(&plain)?;
            v[j] = values[j] - EPS;
            set(&v)?;
            let minus = loss(&plain)?;
            v[j] = values[j];
            set(&v)?;
            compare(var.name(), j, analytic[j], (plus - minus) / (2.0 * EPS))?;
        }
    }
    for (i, x) in tracked.iter().enumerate() {
        let analytic = match grads.get(x) {
            Some(g) => g.to_vec::<f64>()?,
            None => vec![0.0; x.numel()],
        };
        let values = x.to_vec::<f64>()?;
        for j in 0..values.len() {
            let at = |d: f64| -> Result<f64> {
                let mut v = values.clone();
                v[j] += d;
                let mut xs = plain.clone();
                xs[i] = Tensor::from_vec(v, x.dims(), &Device::Cpu)?.to_dtype(x.dtype())?;
                loss(&xs)
            };
            compare(
                &format!("input {i}"),
                j,
                analytic[j],
                (at(EPS)? - at(-EPS)?) / (2.0 * EPS),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Linear;
    use crate::Module;

    fn input() -> Result<Tensor> {
        Ok(nabla::testing::randn(&[4, 3], 1)?)
    }

    #[test]
    fn a_correct_layer_passes() -> Result<()> {
        let vs = VarStore::with_dtype(&Device::Cpu, DType::F64);
        let layer = Linear::new(&vs.root(), 3, 2, true)?;
        let x = input()?;
        gradcheck_vars(&vs, &[x], |xs| Ok(layer.forward(&xs[0])?.tanh()?))
    }

    /// A weight whose gradient is lost (detached) is caught and named.
    #[test]
    fn a_lost_weight_gradient_is_caught() -> Result<()> {
        let vs = VarStore::with_dtype(&Device::Cpu, DType::F64);
        let layer = Linear::new(&vs.root(), 3, 2, false)?;
        let x = input()?;
        let err = gradcheck_vars(&vs, &[x], |xs| {
            Ok(xs[0].linear(&layer.weight.tensor().detach(), None)?)
        })
        .unwrap_err();
        assert!(err.to_string().contains("weight element 0"), "{err}");
        Ok(())
    }
}
