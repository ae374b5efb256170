//! Views and casts: reshape, permute, transpose, narrow, broadcast_to, squeeze, unsqueeze,
//! flatten, contiguous, to_dtype. Views share storage with their source.

use super::kernels::copy as kernels;
use super::rule;
use crate::layout::Layout;
use crate::shape::resolve_dims;
use crate::{DType, Dim, Error, Result, Shape, Tensor};

impl Tensor {
    /// The same elements with a new shape (same element count). A view when the layout
    /// allows it, a copy otherwise.
    ///
    /// # Errors
    /// [`Error::Reshape`] when the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let to = Shape::from(shape);
        if to.numel() != self.numel() {
            return Err(Error::Reshape {
                from: self.shape().clone(),
                from_len: self.numel(),
                to: to.clone(),
                to_len: to.numel(),
            });
        }
        if to == *self.shape() {
            return Ok(self.clone());
        }
        let y = match self.layout().reshape_strides(&to) {
            Some(strides) => self.view_with(Layout::new(to, strides, self.layout().offset())),
            None => self.detach().contiguous()?.reshape(shape)?,
        };
        let from = self.dims().to_vec();
        Ok(y.record(
            rule("ReshapeBackward", move |_, _, g| {
                Ok(vec![Some(g.reshape(&from)?)])
            }),
            &[self],
        ))
    }

    /// Reorders dimensions: output dim `i` is input dim `perm[i]`. A view.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `perm` is not a permutation of `0..rank`.
    pub fn permute<D: Dim>(&self, perm: &[D]) -> Result<Tensor> {
        let rank = self.rank();
        let p: Vec<usize> = perm
            .iter()
            .map(|&d| d.resolve(rank, "permute"))
            .collect::<Result<_>>()?;
        let mut seen = vec![false; rank];
        if p.len() != rank || p.iter().any(|&d| std::mem::replace(&mut seen[d], true)) {
            return Err(Error::invalid(
                "permute",
                format!(
                    "{p:?} is not a permutation of the {rank} dims of {}",
                    self.shape()
                ),
            ));
        }
        let y = self.view_with(self.layout().permute(&p));
        let mut inverse = vec![0usize; rank];
        for (i, &d) in p.iter().enumerate() {
            inverse[d] = i;
        }
        Ok(y.record(
            rule("PermuteBackward", move |_, _, g| {
                Ok(vec![Some(g.permute(&inverse)?)])
            }),
            &[self],
        ))
    }

    /// Swaps two dimensions. A view.
    pub fn transpose<D: Dim>(&self, d0: D, d1: D) -> Result<Tensor> {
        let (a, b) = (
            d0.resolve(self.rank(), "transpose")?,
            d1.resolve(self.rank(), "transpose")?,
        );
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// The transpose of a matrix (swaps the last two dims).
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] for tensors of rank < 2.
    pub fn t(&self) -> Result<Tensor> {
        if self.rank() < 2 {
            return Err(Error::UnexpectedShape {
                op: "t",
                expected: "at least 2 dims".into(),
                got: self.shape().clone(),
            });
        }
        self.transpose(-2, -1)
    }

    /// `len` elements of dimension `dim` starting at `start`. A view.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] when `start + len` exceeds the dimension.
    pub fn narrow<D: Dim>(&self, dim: D, start: usize, len: usize) -> Result<Tensor> {
        let d = dim.resolve(self.rank(), "narrow")?;
        let size = self.dims()[d];
        if start + len > size {
            return Err(Error::IndexOutOfRange {
                op: "narrow",
                index: (start + len) as i64,
                size,
            });
        }
        let y = self.view_with(self.layout().narrow(d, start, len));
        Ok(y.record(
            rule("NarrowBackward", move |x, _, g| {
                Ok(vec![Some(g.pad_dim(
                    d,
                    start,
                    x[0].dims()[d] - start - len,
                )?)])
            }),
            &[self],
        ))
    }

    /// The tensor expanded to `shape` by NumPy broadcasting (size-1 and missing leading dims
    /// repeat). A view with stride 0 along the expanded dims.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        let target = Shape::from(shape);
        if target == *self.shape() {
            return Ok(self.clone());
        }
        let y = self.view_with(self.layout().broadcast_to(&target, "broadcast_to")?);
        // The engine sums the gradient back to the input's shape.
        Ok(y.record(
            rule("ExpandBackward", |_, _, g| Ok(vec![Some(g.clone())])),
            &[self],
        ))
    }

    /// Inserts a dimension of size 1 at `dim` (which may equal the rank, to append).
    pub fn unsqueeze<D: Dim>(&self, dim: D) -> Result<Tensor> {
        let d = dim.resolve(self.rank() + 1, "unsqueeze")?;
        let mut dims = self.dims().to_vec();
        dims.insert(d, 1);
        self.reshape(&dims)
    }

    /// Removes dimension `dim` if its size is 1 (otherwise returns the tensor unchanged, as
    /// PyTorch does).
    pub fn squeeze<D: Dim>(&self, dim: D) -> Result<Tensor> {
        let d = dim.resolve(self.rank(), "squeeze")?;
        if self.dims()[d] != 1 {
            return Ok(self.clone());
        }
        let mut dims = self.dims().to_vec();
        dims.remove(d);
        self.reshape(&dims)
    }

    /// Removes every dimension of size 1.
    pub fn squeeze_all(&self) -> Result<Tensor> {
        let dims: Vec<usize> = self.dims().iter().copied().filter(|&d| d != 1).collect();
        self.reshape(&dims)
    }

    /// Merges dims `start..=end` into one.
    pub fn flatten<D: Dim>(&self, start: D, end: D) -> Result<Tensor> {
        if self.rank() == 0 {
            return self.reshape(&[1]);
        }
        let dims = resolve_dims(&[start, end], self.rank(), "flatten").or_else(|e| match e {
            // flatten(d, d) is allowed and is a no-op.
            Error::InvalidArgument { .. } => Ok(vec![start.resolve(self.rank(), "flatten")?; 2]),
            e => Err(e),
        })?;
        let (s, e) = (dims[0], dims[1]);
        let mut shape: Vec<usize> = self.dims()[..s].to_vec();
        shape.push(self.dims()[s..=e].iter().product());
        shape.extend_from_slice(&self.dims()[e + 1..]);
        self.reshape(&shape)
    }

    /// A row-major copy if the tensor is not contiguous already (otherwise itself).
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        let y = kernels::contiguous(self, "contiguous")?;
        Ok(y.record(
            rule("CloneBackward", |_, _, g| Ok(vec![Some(g.clone())])),
            &[self],
        ))
    }

    /// The tensor converted to another dtype (differentiable between float types).
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let y = self.to_dtype_untracked(dtype)?;
        if !dtype.is_float() || !self.dtype().is_float() {
            return Ok(y);
        }
        let from = self.dtype();
        Ok(y.record(
            rule("ToCopyBackward", move |_, _, g| {
                Ok(vec![Some(g.to_dtype(from)?)])
            }),
            &[self],
        ))
    }

    pub(crate) fn to_dtype_untracked(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.detach());
        }
        kernels::cast(self, dtype, "to_dtype")
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};
    use crate::{DType, Result};

    #[test]
    fn views_share_storage() -> Result<()> {
        let x = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
        assert!(x.reshape(&[3, 2])?.same_storage(&x));
        assert!(x.t()?.same_storage(&x));
        assert!(x.narrow(1, 1, 2)?.same_storage(&x));
        assert!(x.unsqueeze(0)?.broadcast_to(&[4, 2, 3])?.same_storage(&x));
        assert_close(&x.narrow(1, 1, 2)?, &[2.0, 3.0, 5.0, 6.0], 0.0)?;
        assert_close(&x.t()?.contiguous()?, &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], 0.0)?;
        // A transposed view cannot be flattened in place: reshape copies.
        assert_close(&x.t()?.reshape(&[6])?, &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], 0.0)
    }

    #[test]
    fn shape_helpers_agree_with_pytorch() -> Result<()> {
        let x = tensor(&[0.0; 24], &[2, 1, 3, 4])?;
        assert_eq!(x.squeeze(1)?.dims(), &[2, 3, 4]);
        assert_eq!(x.squeeze(0)?.dims(), &[2, 1, 3, 4]);
        assert_eq!(x.unsqueeze(-1)?.dims(), &[2, 1, 3, 4, 1]);
        assert_eq!(x.flatten(1, -1)?.dims(), &[2, 12]);
        assert_eq!(x.permute(&[3, 0, 2, 1])?.dims(), &[4, 2, 3, 1]);
        assert!(x.permute(&[0, 0, 1, 2]).is_err());
        assert!(x.reshape(&[5, 5]).is_err());
        assert!(x.narrow(2, 2, 2).is_err());
        assert_eq!(x.to_dtype(DType::I64)?.dtype(), DType::I64);
        Ok(())
    }

    #[test]
    fn to_dtype_passes_gradient_back_in_the_source_dtype() -> Result<()> {
        let x = tensor(&[1.0, 2.0], &[2])?.requires_grad();
        let g = x
            .to_dtype(DType::F32)?
            .mul_scalar(3.0)?
            .sum_all()?
            .backward()?;
        let gx = g.get(&x).unwrap();
        assert_eq!(gx.dtype(), DType::F64);
        assert_close(gx, &[3.0, 3.0], 0.0)
    }

    #[test]
    fn transpose_twice_is_identity() -> Result<()> {
        let x = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
        assert_eq!(x.t()?.t()?.to_vec::<f64>()?, x.to_vec::<f64>()?);
        Ok(())
    }

    #[test]
    fn view_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[2, 3, 4]], |x| x[0].reshape(&[6, 4]))?;
        gradcheck(&[&[2, 3, 4]], |x| x[0].permute(&[2, 0, 1]))?;
        gradcheck(&[&[2, 3, 4]], |x| x[0].narrow(2, 1, 2))?;
        gradcheck(&[&[3, 1]], |x| x[0].broadcast_to(&[2, 3, 4]))?;
        let nc = GradcheckOpts {
            non_contiguous: true,
            ..Default::default()
        };
        gradcheck_with(&[&[3, 4]], nc, |x| x[0].reshape(&[12])?.narrow(0, 2, 5))
    }
}
