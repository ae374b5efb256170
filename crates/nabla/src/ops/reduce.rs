//! Reductions over any set of dims, with or without keepdim: sum, mean, var, max, min,
//! argmax, argmin, logsumexp; and `sum_to`, which the engine uses to undo broadcasting.

use super::kernels::reduce::{self as kernels, Reduce as Kind};
use super::kernels::{binary_map, unary_map, Binary, Unary};
use super::rule;
use crate::shape::resolve_dims;
use crate::{Dim, Error, Result, Shape, Tensor};

/// The shape after reducing `dims` (sorted), keeping them as size 1 or dropping them.
fn reduced_shape(dims: &[usize], reduce: &[usize], keepdim: bool) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, &d) in dims.iter().enumerate() {
        if reduce.contains(&i) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    out
}

impl Tensor {
    /// Reduces `dims` with `kind`; the result keeps the reduced dims as size 1.
    fn reduce_keepdim(&self, dims: &[usize], kind: Kind, op: &'static str) -> Result<Tensor> {
        let shape = self.dims();
        let kept: Vec<usize> = (0..shape.len()).filter(|d| !dims.contains(d)).collect();
        let r: usize = dims.iter().map(|&d| shape[d]).product();
        let m: usize = kept.iter().map(|&d| shape[d]).product();
        let out_shape = Shape(reduced_shape(shape, dims, true));
        if kind != Kind::Sum && r == 0 {
            return Err(Error::UnexpectedShape {
                op,
                expected: "a non-empty dimension to reduce".into(),
                got: self.shape().clone(),
            });
        }
        let leading = dims.iter().enumerate().all(|(i, &d)| i == d);
        if kind == Kind::Sum && leading && self.is_contiguous() && !dims.is_empty() {
            kernels::sum_leading(self, r, m, out_shape, op)
        } else {
            // Move the reduced dims last, so each output element reduces a contiguous row.
            let perm: Vec<usize> = kept.iter().chain(dims).copied().collect();
            let moved = self.detach().permute(&perm)?;
            kernels::reduce_rows(&moved, kind, r, m, out_shape, op)
        }
    }

    fn reduce<D: Dim>(
        &self,
        dims: &[D],
        keepdim: bool,
        kind: Kind,
        op: &'static str,
    ) -> Result<Tensor> {
        let dims = resolve_dims(dims, self.rank(), op)?;
        self.reduce_resolved(&dims, keepdim, kind, op)
    }

    fn reduce_resolved(
        &self,
        dims: &[usize],
        keepdim: bool,
        kind: Kind,
        op: &'static str,
    ) -> Result<Tensor> {
        crate::ops::half::half_via_f32!(op, self, self, |x| x
            .reduce_resolved(dims, keepdim, kind, op));
        let y = self.reduce_keepdim(dims, kind, op)?;
        let keep_shape = y.dims().to_vec();
        let y = y.record(
            rule(
                match kind {
                    Kind::Sum => "SumBackward",
                    Kind::Max => "AmaxBackward",
                    Kind::Min => "AminBackward",
                },
                move |x, y, g| {
                    let x = &x[0];
                    let g = g.reshape(&keep_shape)?;
                    match kind {
                        // d Σx/dx_i = 1: the gradient broadcasts back over the reduced dims.
                        Kind::Sum => Ok(vec![Some(g.broadcast_to(x.dims())?)]),
                        // The gradient goes to the elements equal to the extremum, split evenly.
                        Kind::Max | Kind::Min => {
                            let y = y.reshape(&keep_shape)?;
                            let hit = binary_map(x, &y, Binary::Eq, "amax")?;
                            let count = hit.reduce_keepdim(
                                &resolved_from(&keep_shape, x.dims()),
                                Kind::Sum,
                                "amax",
                            )?;
                            Ok(vec![Some(hit.mul(&g.div(&count)?)?)])
                        }
                    }
                },
            ),
            &[self],
        );
        if keepdim {
            Ok(y)
        } else {
            y.reshape(&reduced_shape(self.dims(), dims, false))
        }
    }

    /// Sum over `dims`, dropping them. `x.sum(&[0, 2])`, `x.sum(&[-1])`.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`] for a dim the tensor does not have.
    pub fn sum<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        self.reduce(dims, false, Kind::Sum, "sum")
    }
    /// Sum over `dims`, keeping them as size 1.
    pub fn sum_keepdim<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        self.reduce(dims, true, Kind::Sum, "sum")
    }
    /// Sum of all elements (a rank-0 tensor).
    pub fn sum_all(&self) -> Result<Tensor> {
        let all: Vec<usize> = (0..self.rank()).collect();
        self.reduce_resolved(&all, false, Kind::Sum, "sum_all")
    }

    /// Mean over `dims`, dropping them.
    pub fn mean<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        let n = self.count(dims, "mean")?;
        self.sum(dims)?.div_scalar(n as f64)
    }
    /// Mean over `dims`, keeping them as size 1.
    pub fn mean_keepdim<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        let n = self.count(dims, "mean")?;
        self.sum_keepdim(dims)?.div_scalar(n as f64)
    }
    /// Mean of all elements.
    pub fn mean_all(&self) -> Result<Tensor> {
        self.sum_all()?.div_scalar(self.numel() as f64)
    }

    fn count<D: Dim>(&self, dims: &[D], op: &'static str) -> Result<usize> {
        Ok(resolve_dims(dims, self.rank(), op)?
            .iter()
            .map(|&d| self.dims()[d])
            .product())
    }

    /// Variance over `dims` (dropping them): `Σ(x - mean)² / (n - 1)` when `unbiased`,
    /// `/ n` otherwise.
    pub fn var<D: Dim>(&self, dims: &[D], unbiased: bool) -> Result<Tensor> {
        let v = self.var_keepdim(dims, unbiased)?;
        let d = resolve_dims(dims, self.rank(), "var")?;
        v.reshape(&reduced_shape(self.dims(), &d, false))
    }
    /// Variance over `dims`, keeping them as size 1.
    pub fn var_keepdim<D: Dim>(&self, dims: &[D], unbiased: bool) -> Result<Tensor> {
        let n = self.count(dims, "var")?;
        let centered = self.sub(&self.mean_keepdim(dims)?)?;
        let denom = if unbiased { n.saturating_sub(1) } else { n };
        centered.sqr()?.sum_keepdim(dims)?.div_scalar(denom as f64)
    }

    /// Maximum over `dims`, dropping them (PyTorch's `amax`; ties share the gradient).
    pub fn max<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        self.reduce(dims, false, Kind::Max, "max")
    }
    /// Maximum over `dims`, keeping them as size 1.
    pub fn max_keepdim<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        self.reduce(dims, true, Kind::Max, "max")
    }
    /// Minimum over `dims`, dropping them.
    pub fn min<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        self.reduce(dims, false, Kind::Min, "min")
    }
    /// Minimum over `dims`, keeping them as size 1.
    pub fn min_keepdim<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        self.reduce(dims, true, Kind::Min, "min")
    }
    /// The largest element.
    pub fn max_all(&self) -> Result<Tensor> {
        let all: Vec<usize> = (0..self.rank()).collect();
        self.reduce_resolved(&all, false, Kind::Max, "max_all")
    }
    /// The smallest element.
    pub fn min_all(&self) -> Result<Tensor> {
        let all: Vec<usize> = (0..self.rank()).collect();
        self.reduce_resolved(&all, false, Kind::Min, "min_all")
    }

    /// Index of the largest element along `dim` (the first on ties), as `I64`, dim dropped.
    pub fn argmax<D: Dim>(&self, dim: D) -> Result<Tensor> {
        self.arg_extremum(dim, true)
    }
    /// Index of the smallest element along `dim`, as `I64`, dim dropped.
    pub fn argmin<D: Dim>(&self, dim: D) -> Result<Tensor> {
        self.arg_extremum(dim, false)
    }

    fn arg_extremum<D: Dim>(&self, dim: D, want_max: bool) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("argmax", self, self, |x| x.arg_extremum(dim, want_max));
        let op = if want_max { "argmax" } else { "argmin" };
        let d = dim.resolve(self.rank(), op)?;
        let r = self.dims()[d];
        if r == 0 {
            return Err(Error::UnexpectedShape {
                op,
                expected: format!("a non-empty dimension {d}"),
                got: self.shape().clone(),
            });
        }
        let mut perm: Vec<usize> = (0..self.rank()).filter(|&i| i != d).collect();
        perm.push(d);
        let moved = self.detach().permute(&perm)?;
        let shape = Shape(reduced_shape(self.dims(), &[d], false));
        kernels::arg_extremum_rows(&moved, r, want_max, shape, op)
    }

    /// `log Σ exp(x)` over `dims` (dropping them), computed stably by subtracting the max.
    pub fn logsumexp<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        let d = resolve_dims(dims, self.rank(), "logsumexp")?;
        self.logsumexp_keepdim(dims)?
            .reshape(&reduced_shape(self.dims(), &d, false))
    }
    /// `log Σ exp(x)` over `dims`, keeping them as size 1.
    pub fn logsumexp_keepdim<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("logsumexp", self, self, |x| x.logsumexp_keepdim(dims));
        // The shift m cancels mathematically, so it is taken without gradient; infinite
        // maxima (all -inf rows) are replaced by 0 to avoid inf - inf.
        let m = self.detach().max_keepdim(dims)?;
        let m = unary_map(&m, Unary::FiniteOrZero, "logsumexp")?;
        self.sub(&m)?.exp()?.sum_keepdim(dims)?.log()?.add(&m)
    }

    /// Sums a (broadcast) gradient back to `shape`: over leading dims the shape lacks and
    /// over dims where `shape` has size 1. The inverse of `broadcast_to`.
    ///
    /// # Errors
    /// [`Error::Broadcast`] when `shape` does not broadcast to this tensor's shape.
    pub fn sum_to(&self, shape: &Shape) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let (rank, target_rank) = (self.rank(), shape.rank());
        if target_rank > rank {
            return Err(Error::Broadcast {
                op: "sum_to",
                lhs: self.shape().clone(),
                rhs: shape.clone(),
            });
        }
        let lead = rank - target_rank;
        let mut dims: Vec<usize> = (0..lead).collect();
        for i in 0..target_rank {
            let (have, want) = (self.dims()[lead + i], shape.dims()[i]);
            if have != want {
                if want != 1 {
                    return Err(Error::Broadcast {
                        op: "sum_to",
                        lhs: self.shape().clone(),
                        rhs: shape.clone(),
                    });
                }
                dims.push(lead + i);
            }
        }
        self.reduce_resolved(&dims, true, Kind::Sum, "sum_to")?
            .reshape(shape.dims())
    }

    /// Whether every element is finite (no NaN or infinity).
    pub fn all_finite(&self) -> Result<bool> {
        crate::ops::half::half_via_f32!("all_finite", self, self, |x| x.all_finite());
        kernels::all_finite(self, "all_finite")
    }
}

/// The dims along which `keep_shape` (keepdim result) has size 1 but `full` does not.
fn resolved_from(keep_shape: &[usize], full: &[usize]) -> Vec<usize> {
    (0..full.len())
        .filter(|&i| keep_shape[i] == 1 && full[i] != 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, tensor};
    use crate::{Result, Shape};

    #[test]
    fn sums_over_any_dims() -> Result<()> {
        // x = [[[0,1,2],[3,4,5]],[[6,7,8],[9,10,11]]]
        let x = tensor(&(0..12).map(|v| v as f64).collect::<Vec<_>>(), &[2, 2, 3])?;
        assert_close(&x.sum(&[0])?, &[6.0, 8.0, 10.0, 12.0, 14.0, 16.0], 0.0)?;
        assert_close(&x.sum(&[1])?, &[3.0, 5.0, 7.0, 15.0, 17.0, 19.0], 0.0)?;
        assert_close(&x.sum(&[-1])?, &[3.0, 12.0, 21.0, 30.0], 0.0)?;
        assert_close(&x.sum(&[0, 2])?, &[24.0, 42.0], 0.0)?;
        assert_eq!(x.sum_keepdim(&[0, 2])?.dims(), &[1, 2, 1]);
        assert_close(&x.sum_all()?, &[66.0], 0.0)?;
        assert_close(&x.mean(&[2])?, &[1.0, 4.0, 7.0, 10.0], 0.0)?;
        assert_close(
            &x.permute(&[0, 2, 1])?.sum(&[2])?,
            &[3.0, 5.0, 7.0, 15.0, 17.0, 19.0],
            0.0,
        )
    }

    #[test]
    fn var_max_argmax_logsumexp_match_hand_values() -> Result<()> {
        let x = tensor(&[1.0, 5.0, 3.0, 4.0, 2.0, 2.0], &[2, 3])?;
        // row 0: mean 3, squared deviations 4+4+0 = 8 → var 4 (unbiased), 8/3 (biased)
        assert_close(&x.var(&[1], true)?, &[4.0, 4.0 / 3.0], 1e-12)?;
        assert_close(&x.var(&[1], false)?, &[8.0 / 3.0, 8.0 / 9.0], 1e-12)?;
        assert_close(&x.max(&[1])?, &[5.0, 4.0], 0.0)?;
        assert_close(&x.min(&[0])?, &[1.0, 2.0, 2.0], 0.0)?;
        assert_eq!(x.argmax(1)?.to_vec::<i64>()?, vec![1, 0]);
        assert_eq!(x.argmin(-1)?.to_vec::<i64>()?, vec![0, 1]);
        assert_close(&x.max_all()?, &[5.0], 0.0)?;
        let lse = (1f64.exp() + 5f64.exp() + 3f64.exp()).ln();
        assert_close(&x.logsumexp(&[1])?.narrow(0, 0, 1)?, &[lse], 1e-12)?;
        // Stable for large values where exp overflows.
        let big = tensor(&[1000.0, 1000.0], &[2])?;
        assert_close(&big.logsumexp(&[0])?, &[1000.0 + 2f64.ln()], 1e-9)
    }

    #[test]
    fn sum_to_undoes_broadcast() -> Result<()> {
        let g = tensor(&[1.0; 24], &[2, 3, 4])?;
        assert_close(&g.sum_to(&Shape(vec![3, 1]))?, &[8.0, 8.0, 8.0], 0.0)?;
        assert!(g.sum_to(&Shape(vec![2, 4])).is_err());
        Ok(())
    }

    #[test]
    fn reduction_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[3, 4, 5]], |x| x[0].sum(&[0, 2]))?;
        gradcheck(&[&[3, 4, 5]], |x| x[0].mean_keepdim(&[1]))?;
        gradcheck(&[&[3, 4, 5]], |x| x[0].var(&[2], true))?;
        gradcheck(&[&[3, 4, 5]], |x| x[0].max(&[1]))?;
        gradcheck(&[&[3, 4, 5]], |x| x[0].min(&[0, 1]))?;
        gradcheck(&[&[3, 4, 5]], |x| x[0].logsumexp(&[-1]))?;
        gradcheck(&[&[3, 4]], |x| x[0].max_all())
    }
}
