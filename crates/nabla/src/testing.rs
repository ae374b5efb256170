//! Test helpers shared by every crate: `gradcheck` (finite differences against autograd),
//! `assert_close`, `tensor` (an F64 tensor from values) and `randn` (seeded F64 samples).

use crate::rng::Rng;
use crate::{no_grad, DType, Device, Error, Result, Tensor};

/// An `F64` tensor from values and a shape (panics on a length mismatch: test code only).
pub fn tensor(values: &[f64], shape: &[usize]) -> Result<Tensor> {
    Tensor::from_slice(values, shape, &Device::Cpu)
}

/// An `F64` tensor of standard normal samples from a generator seeded with `seed`.
pub fn randn(shape: &[usize], seed: u64) -> Result<Tensor> {
    Tensor::normal_with(
        &mut Rng::new(seed),
        0.0,
        1.0,
        shape,
        DType::F64,
        &Device::Cpu,
    )
}

/// Asserts that a tensor's elements equal `expected` within `tol` (absolute, plus `tol`
/// relative to the expected magnitude). Panics with the first differing element.
pub fn assert_close(t: &Tensor, expected: &[f64], tol: f64) -> Result<()> {
    let got = t.to_vec::<f64>()?;
    assert_eq!(
        got.len(),
        expected.len(),
        "element count: got {} ({}), expected {}",
        got.len(),
        t.shape(),
        expected.len()
    );
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        let ok = (g - e).abs() <= tol * (1.0 + e.abs()) || (g.is_nan() && e.is_nan()) || g == e;
        assert!(
            ok,
            "element {i}: got {g}, expected {e} (tol {tol}); all: {got:?}"
        );
    }
    Ok(())
}

/// Options of [`gradcheck_with`].
#[derive(Clone, Debug)]
pub struct GradcheckOpts {
    /// Inputs are drawn uniformly from `[low, high)`.
    pub low: f64,
    /// Upper bound of the inputs.
    pub high: f64,
    /// Step of the central difference.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (relative to the numeric gradient).
    pub rtol: f64,
    /// Seed of the input and projection draws.
    pub seed: u64,
    /// Pass inputs as non-contiguous (transposed) views to exercise strided code paths.
    pub non_contiguous: bool,
    /// Points (kinks, like relu's 0) that inputs are kept at least 0.05 away from.
    pub avoid: Vec<f64>,
}

impl Default for GradcheckOpts {
    fn default() -> Self {
        GradcheckOpts {
            low: -2.0,
            high: 2.0,
            eps: 1e-6,
            atol: 1e-6,
            rtol: 1e-4,
            seed: 17,
            non_contiguous: false,
            avoid: vec![],
        }
    }
}

/// [`gradcheck_with`] using the default options.
pub fn gradcheck(shapes: &[&[usize]], f: impl Fn(&[Tensor]) -> Result<Tensor>) -> Result<()> {
    gradcheck_with(shapes, GradcheckOpts::default(), f)
}

/// Checks autograd's gradients of `f` against central finite differences in F64.
///
/// Draws seeded inputs of the given shapes, reduces `f`'s output to a scalar with a fixed
/// random projection `L = Σ f(x) ⊙ r`, and compares `∂L/∂x` from `backward()` with
/// `(L(x + h) - L(x - h)) / 2h` for every element of every input.
///
/// # Errors
/// [`Error::GradientCheck`] naming the input, the element and both values at the first
/// disagreement; any error `f` returns.
pub fn gradcheck_with(
    shapes: &[&[usize]],
    opts: GradcheckOpts,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
) -> Result<()> {
    let mut rng = Rng::new(opts.seed);
    let values: Vec<Vec<f64>> = shapes
        .iter()
        .map(|s| {
            let n: usize = s.iter().product();
            (0..n)
                .map(|_| {
                    let mut v = opts.low + (opts.high - opts.low) * rng.next_f64();
                    for &a in &opts.avoid {
                        if (v - a).abs() < 0.05 {
                            v = a + if v >= a { 0.05 } else { -0.05 };
                        }
                    }
                    v
                })
                .collect()
        })
        .collect();
    let build = |vals: &[Vec<f64>], track: bool| -> Result<Vec<Tensor>> {
        vals.iter()
            .zip(shapes)
            .map(|(v, s)| {
                let t = if opts.non_contiguous && s.len() >= 2 {
                    // Store the data transposed, then view it with the wanted shape.
                    let rev: Vec<usize> = s.iter().rev().copied().collect();
                    let base = tensor(v, s)?;
                    let perm: Vec<usize> = (0..s.len()).rev().collect();
                    let stored = base.permute(&perm)?.contiguous()?;
                    debug_assert_eq!(stored.dims(), &rev[..]);
                    stored.permute(&perm)?
                } else {
                    tensor(v, s)?
                };
                Ok(if track { t.requires_grad() } else { t })
            })
            .collect()
    };
    // The reference: central differences of the loss on the CPU, in F64.
    let probe = f(&build(&values, false)?)?;
    let projection =
        Tensor::normal_with(&mut rng, 0.0, 1.0, probe.dims(), DType::F64, &Device::Cpu)?;
    let loss_on = |xs: &[Tensor], device: &Device| -> Result<Tensor> {
        f(xs)?
            .to_dtype(DType::F64)?
            .mul(&projection.to_device(device)?)?
            .sum_all()
    };
    let numeric: Vec<Vec<f64>> = no_grad(|| -> Result<Vec<Vec<f64>>> {
        let loss =
            |vals: &[Vec<f64>]| loss_on(&build(vals, false)?, &Device::Cpu)?.to_scalar::<f64>();
        (0..values.len())
            .map(|i| {
                (0..values[i].len())
                    .map(|j| {
                        let (mut plus, mut minus) = (values.clone(), values.clone());
                        plus[i][j] += opts.eps;
                        minus[i][j] -= opts.eps;
                        Ok((loss(&plus)? - loss(&minus)?) / (2.0 * opts.eps))
                    })
                    .collect()
            })
            .collect()
    })?;
    // Autograd on every device, against the reference.
    for device in devices() {
        let inputs = build(&values, false)?
            .iter()
            .map(|t| Ok(t.to_device(&device)?.requires_grad()))
            .collect::<Result<Vec<_>>>()?;
        let loss = loss_on(&inputs, &device)?;
        let grads = if loss.tracks_grad() {
            loss.backward()?
        } else {
            crate::Grads::default()
        };
        for (i, input) in inputs.iter().enumerate() {
            let analytic = match grads.get(input) {
                Some(g) => g.to_device(&Device::Cpu)?.to_vec::<f64>()?,
                None => vec![0.0; input.numel()],
            };
            for (j, (&a, &n)) in analytic.iter().zip(&numeric[i]).enumerate() {
                if (a - n).abs() > opts.atol + opts.rtol * n.abs() {
                    return Err(Error::GradientCheck(format!(
                        "input {i} (shape {:?}) element {j} on {device}: autograd gives {a}, \
                         finite differences {n}",
                        shapes[i]
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The devices tests run on: the CPU, and with the `cuda` feature each GPU that is present.
/// Gradient checks compute their finite differences on the CPU and compare every device's
/// autograd with them; other tests take the CPU's results as the reference.
pub fn devices() -> Vec<Device> {
    #[allow(unused_mut)]
    let mut all = vec![Device::Cpu];
    #[cfg(feature = "cuda")]
    {
        let gpu = Device::Cuda(0);
        if gpu.check_available("testing::devices").is_ok() {
            all.push(gpu);
        }
    }
    all
}

/// Whether a test that needs `what` (a CPU feature, a device) can run here. When it
/// cannot, says so on the terminal, past the test harness's capture of `println!`, so
/// that a skipped test does not pass in silence: `test` was skipped and why.
pub fn runs_here(available: bool, test: &str, what: &str) -> bool {
    if !available {
        use std::io::Write;
        // One write, so that lines of tests running in parallel do not interleave.
        let line = format!("skipped: {test}: needs {what}, which this machine lacks\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
    available
}

/// A pool of `threads` threads of its own, for tests that run kernels at a chosen thread
/// count (`pool.install(..)`).
#[cfg(test)]
pub(crate) fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::Backward;

    /// sin with a deliberately wrong gradient rule (claims d sin/dx = sin x).
    fn wrong_sin(x: &Tensor) -> Result<Tensor> {
        struct WrongBackward;
        impl Backward for WrongBackward {
            fn backward(
                &self,
                inputs: &[Tensor],
                y: &Tensor,
                grad: &Tensor,
            ) -> Result<Vec<Option<Tensor>>> {
                let _ = &inputs[0];
                Ok(vec![Some(grad.mul(y)?)])
            }
        }
        let v: Vec<f64> = x.to_vec::<f64>()?.iter().map(|v| v.sin()).collect();
        let y = Tensor::from_vec(v, x.dims(), &Device::Cpu)?;
        Ok(y.record(WrongBackward, &[x]))
    }

    #[test]
    fn gradcheck_catches_a_wrong_backward() {
        let err = gradcheck(&[&[3]], |x| wrong_sin(&x[0])).unwrap_err();
        assert!(matches!(err, Error::GradientCheck(_)), "{err}");
        assert!(err.to_string().contains("input 0"), "{err}");
    }

    #[test]
    fn gradcheck_catches_a_missing_gradient() {
        let err = gradcheck(&[&[3]], |x| {
            x[0].detach().exp()?.add(&x[0].mul_scalar(0.0)?)
        })
        .unwrap_err();
        assert!(matches!(err, Error::GradientCheck(_)));
    }
}
