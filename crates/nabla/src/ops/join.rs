//! Joining and splitting along a dim: cat, stack, split, chunk; constant padding.

use super::kernels::copy as kernels;
use super::rule;
use crate::layout::Layout;
use crate::{Dim, Error, Result, Shape, Tensor};

impl Tensor {
    /// Concatenates tensors along `dim`; all other dims must agree.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty list; [`Error::ShapeMismatch`] or
    /// [`Error::DType`] when the tensors do not fit together.
    pub fn cat<D: Dim>(tensors: &[&Tensor], dim: D) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::invalid("cat", "needs at least one tensor"))?;
        let d = dim.resolve(first.rank(), "cat")?;
        let mut out_dims = first.dims().to_vec();
        out_dims[d] = 0;
        for t in tensors {
            if t.dtype() != first.dtype() {
                return Err(Error::DType {
                    op: "cat",
                    expected: first.dtype(),
                    got: t.dtype(),
                });
            }
            let same_rest = t.rank() == first.rank()
                && (0..t.rank()).all(|i| i == d || t.dims()[i] == first.dims()[i]);
            if !same_rest {
                return Err(Error::ShapeMismatch {
                    op: "cat",
                    lhs: first.shape().clone(),
                    rhs: t.shape().clone(),
                });
            }
            out_dims[d] += t.dims()[d];
        }
        let y = kernels::concat(tensors, d, Shape(out_dims), "cat")?;
        let sizes: Vec<usize> = tensors.iter().map(|t| t.dims()[d]).collect();
        Ok(y.record(
            rule("CatBackward", move |_, _, g| {
                let mut start = 0;
                let mut grads = Vec::with_capacity(sizes.len());
                for &len in &sizes {
                    grads.push(Some(g.narrow(d, start, len)?));
                    start += len;
                }
                Ok(grads)
            }),
            tensors,
        ))
    }

    /// Stacks tensors of one shape along a new dim `dim`.
    pub fn stack<D: Dim>(tensors: &[&Tensor], dim: D) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::invalid("stack", "needs at least one tensor"))?;
        let d = dim.resolve(first.rank() + 1, "stack")?;
        for t in tensors {
            if t.shape() != first.shape() {
                return Err(Error::ShapeMismatch {
                    op: "stack",
                    lhs: first.shape().clone(),
                    rhs: t.shape().clone(),
                });
            }
        }
        let expanded: Vec<Tensor> = tensors
            .iter()
            .map(|t| t.unsqueeze(d))
            .collect::<Result<_>>()?;
        Tensor::cat(&expanded.iter().collect::<Vec<_>>(), d)
    }

    /// Splits along `dim` into pieces of the given sizes (which must sum to the dim's size).
    /// The pieces are views.
    pub fn split<D: Dim>(&self, sizes: &[usize], dim: D) -> Result<Vec<Tensor>> {
        let d = dim.resolve(self.rank(), "split")?;
        if sizes.iter().sum::<usize>() != self.dims()[d] {
            return Err(Error::invalid(
                "split",
                format!(
                    "sizes {sizes:?} do not add up to dim {d} of {}",
                    self.shape()
                ),
            ));
        }
        let mut start = 0;
        let mut out = Vec::with_capacity(sizes.len());
        for &len in sizes {
            out.push(self.narrow(d, start, len)?);
            start += len;
        }
        Ok(out)
    }

    /// Splits along `dim` into `n` pieces of equal size (the last may be smaller).
    pub fn chunk<D: Dim>(&self, n: usize, dim: D) -> Result<Vec<Tensor>> {
        let d = dim.resolve(self.rank(), "chunk")?;
        if n == 0 {
            return Err(Error::out_of_range(
                "chunk",
                "the number of chunks",
                "at least 1",
                n,
            ));
        }
        let size = self.dims()[d];
        let step = size.div_ceil(n).max(1);
        let mut sizes = Vec::new();
        let mut left = size;
        while left > 0 {
            sizes.push(step.min(left));
            left -= step.min(left);
        }
        self.split(&sizes, d)
    }

    /// Pads the trailing dims with a constant: `pads[i] = (before, after)` applies to dim
    /// `rank - pads.len() + i`. `x.pad(&[(1, 1), (2, 2)], 0.0)` pads the last two dims of an
    /// image by 1 row and 2 columns on each side.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when more pads than dims are given.
    pub fn pad(&self, pads: &[(usize, usize)], value: f64) -> Result<Tensor> {
        let rank = self.rank();
        if pads.len() > rank {
            return Err(Error::invalid(
                "pad",
                format!("{} pads given for a tensor of rank {rank}", pads.len()),
            ));
        }
        let first = rank - pads.len();
        let mut out_dims = self.dims().to_vec();
        for (i, &(b, a)) in pads.iter().enumerate() {
            out_dims[first + i] += b + a;
        }
        let out_layout = Layout::contiguous(Shape(out_dims.clone()));
        let mut interior = out_layout.clone();
        for (i, &(b, _)) in pads.iter().enumerate() {
            interior = interior.narrow(first + i, b, self.dims()[first + i]);
        }
        let y = kernels::pad(self, Shape(out_dims), &interior, value, "pad")?;
        let pads = pads.to_vec();
        Ok(y.record(
            rule("ConstantPadBackward", move |x, _, g| {
                let mut gx = g.clone();
                for (i, &(b, _)) in pads.iter().enumerate() {
                    gx = gx.narrow(first + i, b, x[0].dims()[first + i])?;
                }
                Ok(vec![Some(gx)])
            }),
            &[self],
        ))
    }

    /// Pads one dim with zeros: `before` in front, `after` behind.
    pub fn pad_dim<D: Dim>(&self, dim: D, before: usize, after: usize) -> Result<Tensor> {
        let d = dim.resolve(self.rank(), "pad_dim")?;
        let mut pads = vec![(0, 0); self.rank() - d];
        pads[0] = (before, after);
        self.pad(&pads, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};
    use crate::{Result, Tensor};

    #[test]
    fn cat_stack_split_chunk() -> Result<()> {
        let a = tensor(&[1.0, 2.0, 3.0, 4.0], &[2, 2])?;
        let b = tensor(&[5.0, 6.0], &[2, 1])?;
        assert_close(
            &Tensor::cat(&[&a, &b], 1)?,
            &[1.0, 2.0, 5.0, 3.0, 4.0, 6.0],
            0.0,
        )?;
        assert_close(
            &Tensor::cat(&[&a, &a.t()?], 0)?,
            &[1.0, 2.0, 3.0, 4.0, 1.0, 3.0, 2.0, 4.0],
            0.0,
        )?;
        assert!(Tensor::cat(&[&a, &b], 0).is_err());
        let s = Tensor::stack(&[&a, &a], 0)?;
        assert_eq!(s.dims(), &[2, 2, 2]);
        let parts = tensor(&[0.0, 1.0, 2.0, 3.0, 4.0], &[5])?.split(&[2, 3], 0)?;
        assert_close(&parts[1], &[2.0, 3.0, 4.0], 0.0)?;
        let chunks = tensor(&[0.0, 1.0, 2.0, 3.0, 4.0], &[5])?.chunk(2, 0)?;
        assert_eq!(
            chunks.iter().map(|c| c.numel()).collect::<Vec<_>>(),
            vec![3, 2]
        );
        Ok(())
    }

    #[test]
    fn pad_pads_the_trailing_dims() -> Result<()> {
        let a = tensor(&[1.0, 2.0], &[1, 2])?;
        assert_close(
            &a.pad(&[(1, 0), (0, 1)], -1.0)?,
            &[-1.0, -1.0, -1.0, 1.0, 2.0, -1.0],
            0.0,
        )?;
        assert_eq!(a.pad_dim(0, 2, 1)?.dims(), &[4, 2]);
        assert!(a.pad(&[(1, 1); 3], 0.0).is_err());
        Ok(())
    }

    #[test]
    fn join_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[2, 3], &[2, 2]], |x| Tensor::cat(&[&x[0], &x[1]], 1))?;
        gradcheck(&[&[2, 3], &[2, 3]], |x| Tensor::stack(&[&x[0], &x[1]], 2))?;
        gradcheck(&[&[2, 5]], |x| {
            x[0].split(&[2, 3], 1)?[1].mul(&x[0].split(&[2, 3], 1)?[1])
        })?;
        let nc = GradcheckOpts {
            non_contiguous: true,
            ..Default::default()
        };
        gradcheck_with(&[&[2, 3, 4]], nc, |x| x[0].pad(&[(1, 2), (0, 1)], 0.5))
    }
}
