//! Embedding lookup: rows of a weight matrix picked by integer indices.

use crate::{Error, Result, Tensor};

impl Tensor {
    /// Looks up rows of `self` (`[vocab, dim]`) by `indices` (any shape, integer values):
    /// the result is `indices.shape() + [dim]`. The gradient of each row is the sum of the
    /// gradients of its lookups.
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] when `self` is not 2-D; [`Error::IndexOutOfRange`] for an
    /// index outside the vocabulary.
    pub fn embedding(&self, indices: &Tensor) -> Result<Tensor> {
        if self.rank() != 2 {
            return Err(Error::UnexpectedShape {
                op: "embedding",
                expected: "a weight of shape [vocab, dim]".into(),
                got: self.shape().clone(),
            });
        }
        let mut out_dims = indices.dims().to_vec();
        out_dims.push(self.dims()[1]);
        self.index_select(0, &indices.reshape(&[indices.numel()])?)?
            .reshape(&out_dims)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, gradcheck, tensor};
    use crate::{Device, Result, Tensor};

    #[test]
    fn embedding_picks_rows_and_accumulates_gradients() -> Result<()> {
        let w = tensor(&[0.0, 1.0, 10.0, 11.0, 20.0, 21.0], &[3, 2])?.requires_grad();
        let idx = Tensor::from_slice(&[2i64, 0, 2, 1], &[2, 2], &Device::Cpu)?;
        let e = w.embedding(&idx)?;
        assert_eq!(e.dims(), &[2, 2, 2]);
        assert_close(&e, &[20.0, 21.0, 0.0, 1.0, 20.0, 21.0, 10.0, 11.0], 0.0)?;
        let g = e.sum_all()?.backward()?;
        assert_close(g.get(&w).unwrap(), &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0], 0.0)?;
        assert!(w
            .embedding(&Tensor::from_slice(&[3i64], &[1], &Device::Cpu)?)
            .is_err());
        gradcheck(&[&[4, 3]], |x| x[0].embedding(&idx))
    }
}
