//! `Shape` (the sizes of a tensor's dimensions), dimension indexing and broadcasting rules.

use crate::{Error, Result};
use std::fmt;

/// The sizes of a tensor's dimensions, outermost first. Displays as `[64, 3, 32, 32]`.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    /// Number of elements (1 for a scalar of rank 0).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }
    /// The sizes as a slice.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }
    /// The element count of `dims`, or `None` when the sizes multiply past `usize` even with
    /// the zeros left out: strides are such products, so `[0, 2^40, 2^40]`, empty as it is,
    /// cannot be laid out. Readers of untrusted headers check shapes with this.
    pub fn checked_numel(dims: &[usize]) -> Option<usize> {
        let nonzero = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d.max(1)))?;
        Some(if dims.contains(&0) { 0 } else { nonzero })
    }

    /// Row-major (C order) strides of a contiguous tensor of this shape.
    pub fn contiguous_strides(&self) -> Vec<usize> {
        let mut strides = vec![1; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * self.0[i + 1];
        }
        strides
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape(d.to_vec())
    }
}
impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Self {
        Shape(d)
    }
}
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape(d.to_vec())
    }
}
impl<const N: usize> From<&[usize; N]> for Shape {
    fn from(d: &[usize; N]) -> Self {
        Shape(d.to_vec())
    }
}

/// A dimension index: `usize` counts from the front, negative `i32`/`i64`/`isize` from the
/// back as in PyTorch (`-1` is the last dimension).
pub trait Dim: Copy {
    /// Resolves the index against a rank, or fails with [`Error::DimOutOfRange`].
    fn resolve(self, rank: usize, op: &'static str) -> Result<usize>;
}

fn resolve_signed(d: i64, rank: usize, op: &'static str) -> Result<usize> {
    let r = rank as i64;
    let idx = if d < 0 { d + r } else { d };
    if idx < 0 || idx >= r {
        return Err(Error::DimOutOfRange { op, dim: d, rank });
    }
    Ok(idx as usize)
}

impl Dim for usize {
    fn resolve(self, rank: usize, op: &'static str) -> Result<usize> {
        resolve_signed(self as i64, rank, op)
    }
}
impl Dim for i32 {
    fn resolve(self, rank: usize, op: &'static str) -> Result<usize> {
        resolve_signed(self as i64, rank, op)
    }
}
impl Dim for i64 {
    fn resolve(self, rank: usize, op: &'static str) -> Result<usize> {
        resolve_signed(self, rank, op)
    }
}
impl Dim for isize {
    fn resolve(self, rank: usize, op: &'static str) -> Result<usize> {
        resolve_signed(self as i64, rank, op)
    }
}

/// Resolves a list of dimensions, rejecting duplicates; the result is sorted.
pub(crate) fn resolve_dims<D: Dim>(
    dims: &[D],
    rank: usize,
    op: &'static str,
) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let r = d.resolve(rank, op)?;
        if out.contains(&r) {
            return Err(Error::invalid(op, format!("dimension {r} given twice")));
        }
        out.push(r);
    }
    out.sort_unstable();
    Ok(out)
}

/// The shape two shapes broadcast to under NumPy rules (align from the right; sizes must be
/// equal or one of them 1).
pub fn broadcast_shape(lhs: &Shape, rhs: &Shape, op: &'static str) -> Result<Shape> {
    let rank = lhs.rank().max(rhs.rank());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let l = if i < rank - lhs.rank() {
            1
        } else {
            lhs.0[i - (rank - lhs.rank())]
        };
        let r = if i < rank - rhs.rank() {
            1
        } else {
            rhs.0[i - (rank - rhs.rank())]
        };
        out[i] = match (l, r) {
            (a, b) if a == b => a,
            (1, b) => b,
            (a, 1) => a,
            _ => {
                return Err(Error::Broadcast {
                    op,
                    lhs: lhs.clone(),
                    rhs: rhs.clone(),
                })
            }
        };
    }
    Ok(Shape(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_is_symmetric_and_follows_numpy() {
        let a = Shape(vec![8, 1, 6, 1]);
        let b = Shape(vec![7, 1, 5]);
        let ab = broadcast_shape(&a, &b, "t").unwrap();
        assert_eq!(ab, Shape(vec![8, 7, 6, 5]));
        assert_eq!(broadcast_shape(&b, &a, "t").unwrap(), ab);
        assert!(broadcast_shape(&Shape(vec![3]), &Shape(vec![4]), "t").is_err());
        assert_eq!(broadcast_shape(&Shape(vec![]), &b, "t").unwrap(), b);
    }

    #[test]
    fn negative_dims_count_from_the_back() {
        assert_eq!((-1i32).resolve(4, "t").unwrap(), 3);
        assert!((-5i32).resolve(4, "t").is_err());
        assert!(4usize.resolve(4, "t").is_err());
        assert!(resolve_dims(&[1, -3], 4, "t").is_err());
    }

    #[test]
    fn shape_displays_like_a_list() {
        assert_eq!(Shape(vec![64, 3, 32, 32]).to_string(), "[64, 3, 32, 32]");
        assert_eq!(Shape(vec![2, 3, 4]).contiguous_strides(), vec![12, 4, 1]);
    }
}
