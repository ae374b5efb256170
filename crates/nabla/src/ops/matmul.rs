//! Matrix products: `matmul` (2-D and batched with broadcasting of batch dims, 1-D vectors
//! as in NumPy) and the fused `linear` (x·Wᵀ + b).

use super::rule;
use crate::autocast::{self, Precision};
use crate::cpu::gemm::{gemm, MatRef, PAR_MIN_FLOPS};
use crate::cpu::transpose::transpose_add_bias;
use crate::dtype::{with_float, Float};
use crate::layout::Layout;
use crate::shape::broadcast_shape;
use crate::storage::alloc;
use crate::{Error, Result, Shape, Tensor};
use rayon::prelude::*;

/// Per-product size below which a batch of products is split across threads (one product
/// per task) instead of splitting each product.
const SMALL_PRODUCT_FLOPS: usize = 1 << 18;

struct SendPtr<T>(*const T);
// SAFETY: used only to share read-only operands and disjoint output blocks across the
// threads of one matmul call, which outlives them.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

/// Offset of batch element `b` in a layout whose batch dims are `dims[..nb]`.
fn batch_offset(l: &Layout, nb: usize, mut b: usize) -> usize {
    let mut off = l.offset();
    for d in (0..nb).rev() {
        off += (b % l.dims()[d]) * l.strides()[d];
        b /= l.dims()[d];
    }
    off
}

/// `out[b] = lhs[b] · rhs[b]` for broadcast layouts `[batch.., m, k]` and `[batch.., k, n]`.
fn batched_gemm<T: Float>(
    lhs: &[T],
    ll: &Layout,
    rhs: &[T],
    lr: &Layout,
    out_shape: &Shape,
    prec: Precision,
) -> Vec<T> {
    let rank = out_shape.rank();
    let nb = rank - 2;
    let (m, n) = (out_shape.dims()[rank - 2], out_shape.dims()[rank - 1]);
    let k = ll.dims()[rank - 1];
    let batch: usize = out_shape.dims()[..nb].iter().product();
    let mut out = alloc::<T>(out_shape.numel());
    let (lrs, lcs) = (
        ll.strides()[rank - 2] as isize,
        ll.strides()[rank - 1] as isize,
    );
    let (rrs, rcs) = (
        lr.strides()[rank - 2] as isize,
        lr.strides()[rank - 1] as isize,
    );
    let (lp, rp) = (SendPtr(lhs.as_ptr()), SendPtr(rhs.as_ptr()));
    let one = |b: usize, dst: &mut [T], parallel: bool| {
        let (lp, rp) = (&lp, &rp);
        // SAFETY: offsets and strides come from layouts validated against these storages;
        // dst is a distinct m×n block.
        unsafe {
            gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                n as isize,
                false,
                MatRef {
                    ptr: lp.0.add(batch_offset(ll, nb, b)),
                    rs: lrs,
                    cs: lcs,
                },
                MatRef {
                    ptr: rp.0.add(batch_offset(lr, nb, b)),
                    rs: rrs,
                    cs: rcs,
                },
                parallel,
                prec,
            )
        }
    };
    if m * n == 0 {
        return out;
    }
    if batch > 1 && m * n * k < SMALL_PRODUCT_FLOPS {
        out.par_chunks_mut(m * n)
            .enumerate()
            .for_each(|(b, dst)| one(b, dst, false));
    } else {
        for (b, dst) in out.chunks_mut(m * n).enumerate() {
            one(b, dst, true);
        }
    }
    out
}

/// Whether `linear` should compute `y = x·Wᵀ` as `yᵀ = W·xᵀ` and transpose the result.
///
/// The GEMM packs the operand that `y`'s columns come from by gathering it one element per
/// row: `W` (`out × in`) in the direct orientation, `x` (`rows × in`) in the transposed one,
/// which then also pays a `rows × out` transpose. Measured on the MLP 784-512-256-10 at batch
/// 128 (issue 9): the first layer gathers 100 K values of `x` instead of 401 K of `W`.
fn gather_input(rows: usize, in_f: usize, out_f: usize) -> bool {
    rows >= 16 && rows * (in_f + out_f) < in_f * out_f
}

/// `x·Wᵀ + b` computed as `yᵀ = W·xᵀ` (see [`gather_input`]), then transposed into a
/// `rows × out_f` row-major result with the bias added on the way.
///
/// With enough rows each thread takes a band of them (a multiple of 16) and transposes
/// its own product right away: one fork of the pool per call, and the band's `yᵀ` stays in
/// that thread's cache. With few (an LSTM's batch of 32), the product splits `W`'s rows
/// between the threads and the transpose, a few microseconds, runs on this thread.
///
/// # Safety
/// `x` (`rows × in_f`) and `w` (`out_f × in_f`) must be valid strided views.
unsafe fn linear_transposed<T: Float>(
    rows: usize,
    in_f: usize,
    out_f: usize,
    x: MatRef<T>,
    w: MatRef<T>,
    bias: Option<&[T]>,
    prec: Precision,
) -> Vec<T> {
    let mut out = alloc::<T>(rows * out_f);
    // Rows r0.. of x, seen as columns of xᵀ.
    let xt = |r0: usize| {
        // A whole-value capture: the raw pointer field alone is not Sync.
        let x = &x;
        MatRef {
            ptr: x.ptr.wrapping_offset(r0 as isize * x.rs),
            rs: x.cs,
            cs: x.rs,
        }
    };
    let threads = rayon::current_num_threads();
    let band_product = |r0: usize, dst: &mut [T], parallel: bool| {
        let n = dst.len() / out_f;
        let mut yt = alloc::<T>(out_f * n);
        // SAFETY: forwarded from the caller (rows r0..r0 + n of x); `yt` is out_f × n.
        unsafe {
            gemm(
                out_f,
                n,
                in_f,
                yt.as_mut_ptr(),
                n as isize,
                false,
                w,
                xt(r0),
                parallel,
                prec,
            )
        };
        transpose_add_bias(&yt, bias, dst, out_f);
        crate::storage::recycle(yt);
    };
    if threads > 1 && rows * in_f * out_f >= PAR_MIN_FLOPS && rows >= 16 * threads {
        let band = rows.div_ceil(threads).next_multiple_of(16);
        out.par_chunks_mut(band * out_f)
            .enumerate()
            .for_each(|(t, dst)| band_product(t * band, dst, false));
    } else {
        band_product(0, &mut out, true);
    }
    out
}

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
        let y = with_float!(self.dtype(), "matmul", T => {
            let (sl, sr) = (self.read_storage(), rhs.read_storage());
            let out = batched_gemm(sl.host_slice::<T>().expect("dtype checked"), &ll, sr.host_slice::<T>().expect("dtype checked"), &rl, &out_shape, prec);
            Tensor::from_data(out, out_shape)
        });
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
        let y = with_float!(self.dtype(), "linear", T => {
            // A pooled copy taken first: no lock on the bias is held with those on x and W.
            let bias = bias.map(|b| b.contiguous_vec::<T>("linear")).transpose()?;
            let (sx, sw) = (x2.read_storage(), weight.read_storage());
            let (lx, lw) = (x2.layout(), weight.layout());
            let x = MatRef { ptr: sx.host_slice::<T>().expect("dtype checked")[lx.offset()..].as_ptr(), rs: lx.strides()[0] as isize, cs: lx.strides()[1] as isize };
            let w = MatRef { ptr: sw.host_slice::<T>().expect("dtype checked")[lw.offset()..].as_ptr(), rs: lw.strides()[0] as isize, cs: lw.strides()[1] as isize };
            let out = if gather_input(rows, in_f, out_f) {
                // SAFETY: x and w describe valid regions of these storages.
                unsafe { linear_transposed(rows, in_f, out_f, x, w, bias.as_deref(), prec) }
            } else {
                let mut out = alloc::<T>(rows * out_f);
                match &bias {
                    Some(bv) => out.chunks_mut(out_f.max(1)).for_each(|row| row.copy_from_slice(bv)),
                    None => out.fill(T::ZERO),
                }
                // SAFETY: as above; `out` is rows×out_f. Wᵀ's element (i, j) is W[j, i].
                unsafe {
                    gemm(rows, out_f, in_f, out.as_mut_ptr(), out_f as isize, true, x, MatRef { ptr: w.ptr, rs: w.cs, cs: w.rs }, true, prec);
                }
                out
            };
            if let Some(b) = bias {
                crate::storage::recycle(b);
            }
            Tensor::from_data(out, Shape(out_dims))
        });
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
    use super::gather_input;
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
