//! Indexing with index tensors: index_select, gather, scatter_add.

use super::kernels::index::{self as kernels, AroundDim};
use super::rule;
use crate::{Dim, Error, Result, Shape, Tensor};

impl Tensor {
    /// The values as indices into a dimension of size `size`: integral, in `0..size`.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] naming the first bad index.
    pub fn to_indices(&self, size: usize, op: &'static str) -> Result<Vec<usize>> {
        let raw = self.to_vec::<f64>()?;
        raw.iter()
            .map(|&v| {
                if v.fract() != 0.0 || v < 0.0 || v >= size as f64 {
                    Err(Error::IndexOutOfRange {
                        op,
                        index: v as i64,
                        size,
                    })
                } else {
                    Ok(v as usize)
                }
            })
            .collect()
    }

    /// Picks entries `indices` (1-D) along `dim`: `out.dims()[dim] = indices.len()`.
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] when `indices` is not 1-D; [`Error::IndexOutOfRange`].
    pub fn index_select<D: Dim>(&self, dim: D, indices: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("index_select", self, (self, indices), |(x, i)| x
            .index_select(dim, &i));
        let d = dim.resolve(self.rank(), "index_select")?;
        if indices.rank() != 1 {
            return Err(Error::UnexpectedShape {
                op: "index_select",
                expected: "1-D indices".into(),
                got: indices.shape().clone(),
            });
        }
        let idx = indices.to_indices(self.dims()[d], "index_select")?;
        let around = split_at_dim(self.dims(), d);
        let mut out_dims = self.dims().to_vec();
        out_dims[d] = idx.len();
        let y = kernels::index_select(self, &idx, around, Shape(out_dims), "index_select")?;
        // The gradient of a selected row adds into the row it came from (rows picked twice
        // receive both gradients).
        Ok(y.record(
            rule("IndexSelectBackward", move |x, _, g| {
                let shape = x[0].shape().clone();
                let gx = kernels::index_add(g, &idx, around, shape, "index_select")?;
                Ok(vec![Some(gx)])
            }),
            &[self],
        ))
    }

    /// Gathers values along `dim`: `out[i][j][k] = self[i][index[i][j][k]][k]` for `dim = 1`
    /// (as `torch.gather`). `index` has the rank of `self`; its size along each other dim must
    /// not exceed `self`'s. The output has the shape of `index`.
    pub fn gather<D: Dim>(&self, dim: D, index: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("gather", self, (self, index), |(x, i)| x.gather(dim, &i));
        let d = dim.resolve(self.rank(), "gather")?;
        let positions = scatter_positions(self.shape(), d, index, "gather")?;
        let y = kernels::gather(self, &positions, index.shape().clone(), "gather")?;
        let index = index.clone();
        // ∂out/∂self scatters the gradient back to the gathered positions.
        Ok(y.record(
            rule("GatherBackward", move |x, _, g| {
                Ok(vec![Some(x[0].zeros_like().scatter_add(d, &index, g)?)])
            }),
            &[self],
        ))
    }

    /// `self` with `src` added at the positions `index` names along `dim` (as
    /// `torch.scatter_add`): `out[i][index[i][j][k]][k] += src[i][j][k]` for `dim = 1`.
    /// `index` and `src` have the same shape.
    pub fn scatter_add<D: Dim>(&self, dim: D, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        crate::ops::half::half_via_f32!("scatter_add", self, (self, index, src), |(x, i, s)| x
            .scatter_add(dim, &i, &s));
        let d = dim.resolve(self.rank(), "scatter_add")?;
        if index.shape() != src.shape() {
            return Err(Error::ShapeMismatch {
                op: "scatter_add",
                lhs: index.shape().clone(),
                rhs: src.shape().clone(),
            });
        }
        if src.dtype() != self.dtype() {
            return Err(Error::DType {
                op: "scatter_add",
                expected: self.dtype(),
                got: src.dtype(),
            });
        }
        let positions = scatter_positions(self.shape(), d, index, "scatter_add")?;
        let y = kernels::scatter_add(self, &positions, src, "scatter_add")?;
        let index = index.clone();
        Ok(y.record(
            rule("ScatterAddBackward", move |_, _, g| {
                Ok(vec![Some(g.clone()), Some(g.gather(d, &index)?)])
            }),
            &[self, src],
        ))
    }
}

/// A tensor of `dims` seen as `[outer, size, inner]` around dim `d`.
fn split_at_dim(dims: &[usize], d: usize) -> AroundDim {
    AroundDim {
        outer: dims[..d].iter().product(),
        size: dims[d],
        inner: dims[d + 1..].iter().product(),
    }
}

/// For each element of `index` (row-major), the flat position in a contiguous tensor of
/// `shape` it addresses along `dim`.
fn scatter_positions(
    shape: &Shape,
    dim: usize,
    index: &Tensor,
    op: &'static str,
) -> Result<Vec<usize>> {
    let dims = shape.dims();
    if index.rank() != dims.len()
        || index
            .dims()
            .iter()
            .zip(dims)
            .enumerate()
            .any(|(i, (&a, &b))| i != dim && a > b)
    {
        return Err(Error::UnexpectedShape {
            op,
            expected: format!(
                "an index of rank {} no larger than {shape} outside dim {dim}",
                dims.len()
            ),
            got: index.shape().clone(),
        });
    }
    let idx = index.to_indices(dims[dim], op)?;
    let strides = shape.contiguous_strides();
    let idims = index.dims();
    let mut out = Vec::with_capacity(idx.len());
    let mut multi = vec![0usize; idims.len()];
    for &i in &idx {
        let mut pos = 0;
        for (k, &m) in multi.iter().enumerate() {
            pos += if k == dim { i } else { m } * strides[k];
        }
        out.push(pos);
        for k in (0..idims.len()).rev() {
            multi[k] += 1;
            if multi[k] < idims[k] {
                break;
            }
            multi[k] = 0;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, tensor};
    use crate::{Device, Error, Result, Tensor};

    fn idx(v: &[i64], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn index_select_gather_scatter_add_match_pytorch_semantics() -> Result<()> {
        let x = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
        assert_close(
            &x.index_select(0, &idx(&[2, 0, 2], &[3]))?,
            &[5.0, 6.0, 1.0, 2.0, 5.0, 6.0],
            0.0,
        )?;
        assert_close(&x.index_select(1, &idx(&[1], &[1]))?, &[2.0, 4.0, 6.0], 0.0)?;
        // torch.gather(x, 1, [[1],[0],[1]]) = [[2],[3],[6]]
        assert_close(
            &x.gather(1, &idx(&[1, 0, 1], &[3, 1]))?,
            &[2.0, 3.0, 6.0],
            0.0,
        )?;
        // zeros(2,3).scatter_add(1, [[0,2,2]], [[1,2,3]]) = [[1,0,5],[0,0,0]]
        let z = tensor(&[0.0; 6], &[2, 3])?;
        let s = z.scatter_add(
            1,
            &idx(&[0, 2, 2], &[1, 3]),
            &tensor(&[1.0, 2.0, 3.0], &[1, 3])?,
        )?;
        assert_close(&s, &[1.0, 0.0, 5.0, 0.0, 0.0, 0.0], 0.0)
    }

    #[test]
    fn out_of_range_indices_are_errors() {
        let x = tensor(&[1.0, 2.0], &[2]).unwrap();
        assert!(matches!(
            x.index_select(0, &idx(&[2], &[1])),
            Err(Error::IndexOutOfRange {
                index: 2,
                size: 2,
                ..
            })
        ));
        assert!(x.gather(0, &idx(&[-1], &[1])).is_err());
    }

    #[test]
    fn index_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[4, 3]], |x| x[0].index_select(0, &idx(&[3, 0, 3], &[3])))?;
        gradcheck(&[&[3, 4]], |x| {
            x[0].gather(1, &idx(&[0, 3, 1, 1, 2, 2], &[3, 2]))
        })?;
        gradcheck(&[&[3, 4], &[3, 2]], |x| {
            x[0].scatter_add(1, &idx(&[0, 3, 1, 1, 2, 2], &[3, 2]), &x[1])
        })
    }
}
