//! Matrix products: `matmul` (2-D and batched with broadcasting of batch dims, 1-D vectors
//! as in NumPy) and the fused `linear` (x·Wᵀ + b).

use super::kernels::matmul as kernels;
use super::rule;
use crate::autocast;
use crate::shape::broadcast_shape;
use crate::{Error, Result, Shape, Tensor};

impl Tensor {
    /// Matrix product with NumPy semantics: `[.., m, k] @ [.., k, n] -> [.., m, n]`, batch
    /// dims broadcast; a 1-D left operand is a row vector and a 1-D right operand a column
    /// vector (their dim is removed from the result).
    ///
    /// # Errors
    /// [`Error::MatmulInner`] when the inner sizes differ; [`Error::Broadcast`] when the batch
    /// dims do not broadcast; [`Error::UnexpectedShape`] for rank-0 operands.
    ///
    /// # Examples
    /// ```
    /// # use nabla::{Device, Tensor};
    /// let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2], &Device::Cpu)?;
    /// let b = Tensor::from_slice(&[5.0f32, 6.0], &[2, 1], &Device::Cpu)?;
    /// assert_eq!(a.matmul(&b)?.to_vec::<f32>()?, vec![17.0, 39.0]);
    /// # Ok::<(), nabla::Error>(())
    /// ```
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        super::check_devices("matmul", self, &[Some(rhs)])?;
        crate::ops::half::half_via_f32!("matmul", self, (self, rhs), |(a, b)| a.matmul(&b));
        for t in [self, rhs] {
            if t.rank() == 0 {
                return Err(Error::UnexpectedShape {
                    op: "matmul",
                    expected: "at least 1 dim".into(),
                    got: t.shape().clone(),
                });
            }
        }
        if self.rank() == 1 {
            return self.unsqueeze(0)?.matmul(rhs)?.squeeze(-2);
        }
        if rhs.rank() == 1 {
            return self.matmul(&rhs.unsqueeze(1)?)?.squeeze(-1);
        }
        if self.dtype() != rhs.dtype() {
            return Err(Error::DType {
                op: "matmul",
                expected: self.dtype(),
                got: rhs.dtype(),
            });
        }
        let (lr, rr) = (self.rank(), rhs.rank());
        let (m, k) = (self.dims()[lr - 2], self.dims()[lr - 1]);
        let (k2, n) = (rhs.dims()[rr - 2], rhs.dims()[rr - 1]);
        if k != k2 {
            return Err(Error::MatmulInner {
                lhs: self.shape().clone(),
                rhs: rhs.shape().clone(),
                k_lhs: k,
                k_rhs: k2,
            });
        }
        let batch = broadcast_shape(
            &Shape::from(&self.dims()[..lr - 2]),
            &Shape::from(&rhs.dims()[..rr - 2]),
            "matmul",
        )
        .map_err(|_| Error::Broadcast {
            op: "matmul",
            lhs: self.shape().clone(),
            rhs: rhs.shape().clone(),
        })?;
        let with_tail = |a: usize, b: usize| {
            let mut d = batch.dims().to_vec();
            d.extend([a, b]);
            Shape(d)
        };
        let ll = self.layout().broadcast_to(&with_tail(m, k), "matmul")?;
        let rl = rhs.layout().broadcast_to(&with_tail(k, n), "matmul")?;
        let out_shape = with_tail(m, n);
        crate::macs::add_macs(batch.dims().iter().product::<usize>() * m * k * n);
        let prec = autocast::current();
        let y = kernels::batched(self, &ll, rhs, &rl, out_shape, prec)?;
        // ∂L/∂A = G·Bᵀ, ∂L/∂B = Aᵀ·G (batch dims are summed back by the engine).
        Ok(y.record(
            rule("MmBackward", move |x, _, g| {
                autocast::within(prec, || {
                    let da = if x[0].tracks_grad() {
                        Some(g.matmul(&x[1].t()?)?)
                    } else {
                        None
                    };
                    let db = if x[1].tracks_grad() {
                        Some(x[0].t()?.matmul(g)?)
                    } else {
                        None
                    };
                    Ok(vec![da, db])
                })
            }),
            &[self, rhs],
        ))
    }

    /// A fully connected layer's map `x · Wᵀ + b` as one fused op: `x` is `[.., in]`,
    /// `weight` is `[out, in]` (PyTorch's layout), `bias` is `[out]`; the result is `[.., out]`.
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] when the shapes do not fit together.
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        super::check_devices("linear", self, &[Some(weight), bias])?;
        crate::ops::half::half_via_f32!("linear", self, (self, weight, bias), |(x, w, b)| x
            .linear(&w, b.as_ref()));
        let bad = |what: &str, got: &Tensor| Error::UnexpectedShape {
            op: "linear",
            expected: what.to_string(),
            got: got.shape().clone(),
        };
        if weight.rank() != 2 {
            return Err(bad("a weight of shape [out, in]", weight));
        }
        let (out_f, in_f) = (weight.dims()[0], weight.dims()[1]);
        if self.rank() == 0 || self.dims()[self.rank() - 1] != in_f {
            return Err(bad(&format!("an input of shape [.., {in_f}]"), self));
        }
        if let Some(b) = bias {
            if b.dims() != [out_f] {
                return Err(bad(&format!("a bias of shape [{out_f}]"), b));
            }
        }
        for t in std::iter::once(weight).chain(bias) {
            if t.dtype() != self.dtype() {
                return Err(Error::DType {
                    op: "linear",
                    expected: self.dtype(),
                    got: t.dtype(),
                });
            }
        }
        let rows = self.numel() / in_f.max(1);
        crate::macs::add_macs(rows * in_f * out_f);
        let mut out_dims = self.dims().to_vec();
        *out_dims.last_mut().expect("rank checked above") = out_f;
        let x2 = self.detach().reshape(&[rows, in_f])?;
        let prec = autocast::current();
        let y = kernels::linear(&x2, weight, bias, Shape(out_dims), prec)?;
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        // ∂L/∂x = G·W, ∂L/∂W = Gᵀ·x, ∂L/∂b = Σ_rows G
        Ok(y.record(
            rule("AddmmBackward", move |x, _, g| {
                autocast::within(prec, || {
                    let g2 = g.reshape(&[rows, out_f])?;
                    let dx = if x[0].tracks_grad() {
                        Some(g.matmul(&x[1])?)
                    } else {
                        None
                    };
                    let dw = if x[1].tracks_grad() {
                        Some(g2.t()?.matmul(&x[0].reshape(&[rows, in_f])?)?)
                    } else {
                        None
                    };
                    let mut grads = vec![dx, dw];
                    if x.len() == 3 {
                        grads.push(if x[2].tracks_grad() {
                            Some(g2.sum(&[0])?)
                        } else {
                            None
                        });
                    }
                    Ok(grads)
                })
            }),
            &inputs,
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::cpu::matmul::gather_input;
    use crate::testing::{assert_close, gradcheck, gradcheck_with, randn, tensor, GradcheckOpts};
    use crate::{DType, Error, Result, Tensor};

    #[test]
    fn matmul_matches_hand_products() -> Result<()> {
        let a = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
        let b = tensor(&[7.0, 8.0, 9.0, 10.0, 11.0, 12.0], &[3, 2])?;
        // [[1,2,3],[4,5,6]] @ [[7,8],[9,10],[11,12]] = [[58,64],[139,154]]
        assert_close(&a.matmul(&b)?, &[58.0, 64.0, 139.0, 154.0], 0.0)?;
        assert_close(&b.t()?.matmul(&a.t()?)?, &[58.0, 139.0, 64.0, 154.0], 0.0)?;
        let v = tensor(&[1.0, 1.0, 1.0], &[3])?;
        assert_close(&a.matmul(&v)?, &[6.0, 15.0], 0.0)?;
        assert_close(&v.matmul(&b)?, &[27.0, 30.0], 0.0)
    }

    #[test]
    fn matmul_broadcasts_batch_dims() -> Result<()> {
        let a = tensor(&(0..12).map(|v| v as f64).collect::<Vec<_>>(), &[2, 2, 3])?;
        let b = tensor(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2])?;
        let c = a.matmul(&b)?;
        assert_eq!(c.dims(), &[2, 2, 2]);
        assert_close(&c, &[2.0, 3.0, 8.0, 9.0, 14.0, 15.0, 20.0, 21.0], 0.0)?;
        assert_eq!(
            a.unsqueeze(0)?
                .matmul(&b.unsqueeze(0)?.unsqueeze(0)?)?
                .dims(),
            &[1, 2, 2, 2]
        );
        Ok(())
    }

    #[test]
    fn matmul_rejects_mismatched_inner_dims() -> Result<()> {
        let err = tensor(&[0.0; 6], &[2, 3])?
            .matmul(&tensor(&[0.0; 8], &[4, 2])?)
            .unwrap_err();
        assert!(matches!(
            err,
            Error::MatmulInner {
                k_lhs: 3,
                k_rhs: 4,
                ..
            }
        ));
        Ok(())
    }

    #[test]
    fn linear_equals_matmul_plus_bias() -> Result<()> {
        let x = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
        let w = tensor(&[1.0, 0.0, -1.0, 0.5, 0.5, 0.5], &[2, 3])?;
        let b = tensor(&[10.0, 20.0], &[2])?;
        assert_close(&x.linear(&w, Some(&b))?, &[8.0, 23.0, 8.0, 27.5], 1e-12)?;
        assert_close(&x.linear(&w, None)?, &[-2.0, 3.0, -2.0, 7.5], 1e-12)?;
        assert!(x.linear(&w.t()?, None).is_err());
        Ok(())
    }

    #[test]
    fn linear_agrees_with_matmul_in_both_orientations() -> Result<()> {
        // (rows, in, out): the first three take yᵀ = W·xᵀ (the third, with two threads or
        // more, in bands of rows whose last is narrower), the last the direct product.
        for (rows, in_f, out_f, transposed) in [
            (20, 40, 50, true),
            (35, 70, 90, true),
            (40, 200, 200, true),
            (20, 4, 5, false),
        ] {
            assert_eq!(gather_input(rows, in_f, out_f), transposed);
            let (x, w, b) = (
                randn(&[rows, in_f], 1)?,
                randn(&[out_f, in_f], 2)?,
                randn(&[out_f], 3)?,
            );
            let want = x.matmul(&w.t()?)?.add(&b)?;
            assert_close(&x.linear(&w, Some(&b))?, &want.to_vec::<f64>()?, 1e-12)?;
            assert_close(
                &x.linear(&w, None)?,
                &x.matmul(&w.t()?)?.to_vec::<f64>()?,
                1e-12,
            )?;
            // Strided operands: x and W as transposed views of their transposes.
            let (xs, ws) = (x.t()?.contiguous()?.t()?, w.t()?.contiguous()?.t()?);
            assert_close(&xs.linear(&ws, Some(&b))?, &want.to_vec::<f64>()?, 1e-12)?;
            // f32 (the AVX-512 transpose).
            let f = |t: &Tensor| t.to_dtype(DType::F32);
            assert_close(
                &f(&x)?.linear(&f(&w)?, Some(&f(&b)?))?,
                &want.to_vec::<f64>()?,
                1e-4,
            )?;
        }
        gradcheck(&[&[16, 40], &[40, 40], &[40]], |x| {
            x[0].linear(&x[1], Some(&x[2]))
        })
    }

    #[test]
    fn matmul_and_linear_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[3, 4], &[4, 2]], |x| x[0].matmul(&x[1]))?;
        gradcheck(&[&[2, 3, 4], &[4, 2]], |x| x[0].matmul(&x[1]))?;
        gradcheck(&[&[2, 1, 3, 4], &[3, 4, 2]], |x| x[0].matmul(&x[1]))?;
        gradcheck(&[&[4], &[4, 3]], |x| x[0].matmul(&x[1]))?;
        gradcheck(&[&[2, 3, 4], &[5, 4], &[5]], |x| {
            x[0].linear(&x[1], Some(&x[2]))
        })?;
        let nc = GradcheckOpts {
            non_contiguous: true,
            ..Default::default()
        };
        gradcheck_with(&[&[3, 4], &[4, 5]], nc.clone(), |x| x[0].matmul(&x[1]))?;
        gradcheck_with(&[&[3, 4], &[5, 4], &[5]], nc, |x| {
            x[0].linear(&x[1], Some(&x[2]))
        })
    }
}
