//! `Layout`: how a tensor's logical indices map to positions in its storage.

use crate::{Error, Result, Shape};

/// Shape, strides (in elements) and the offset of element `[0, 0, ...]` in the storage.
///
/// A contiguous row-major tensor has strides `[.., d2*d3, d3, 1]`; views (transpose,
/// narrow, broadcast) change strides and offset without touching the data. A broadcast
/// dimension has stride 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Shape,
    strides: Vec<usize>,
    offset: usize,
}

impl Layout {
    /// The layout of a fresh contiguous tensor.
    pub fn contiguous(shape: Shape) -> Self {
        let strides = shape.contiguous_strides();
        Layout {
            shape,
            strides,
            offset: 0,
        }
    }
    /// A layout from its parts (the caller guarantees that it stays inside the storage).
    pub(crate) fn new(shape: Shape, strides: Vec<usize>, offset: usize) -> Self {
        Layout {
            shape,
            strides,
            offset,
        }
    }
    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }
    /// The sizes of the dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.shape.0
    }
    /// Strides in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }
    /// Offset of the first element in the storage.
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }
    /// Whether the elements are laid out row-major without gaps (dims of size 1 may have any
    /// stride).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&d, &s) in self.shape.0.iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }

    /// The layout with dimensions reordered: output dim `i` is input dim `perm[i]`.
    pub(crate) fn permute(&self, perm: &[usize]) -> Layout {
        Layout {
            shape: Shape(perm.iter().map(|&p| self.shape.0[p]).collect()),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        }
    }

    /// The view of `len` elements of dimension `dim` starting at `start`.
    pub(crate) fn narrow(&self, dim: usize, start: usize, len: usize) -> Layout {
        let mut shape = self.shape.0.clone();
        shape[dim] = len;
        Layout {
            shape: Shape(shape),
            strides: self.strides.clone(),
            offset: self.offset + start * self.strides[dim],
        }
    }

    /// The layout broadcast to `target` (which must be a valid broadcast of this shape):
    /// new leading dims and expanded size-1 dims get stride 0.
    pub(crate) fn broadcast_to(&self, target: &Shape, op: &'static str) -> Result<Layout> {
        let rank = target.rank();
        if rank < self.shape.rank() {
            return Err(Error::Broadcast {
                op,
                lhs: self.shape.clone(),
                rhs: target.clone(),
            });
        }
        let lead = rank - self.shape.rank();
        let mut strides = vec![0; rank];
        for i in 0..rank {
            if i < lead {
                continue;
            }
            let (d, s) = (self.shape.0[i - lead], self.strides[i - lead]);
            if d == target.0[i] {
                strides[i] = if d == 1 { 0 } else { s };
            } else if d == 1 {
                strides[i] = 0;
            } else {
                return Err(Error::Broadcast {
                    op,
                    lhs: self.shape.clone(),
                    rhs: target.clone(),
                });
            }
        }
        Ok(Layout {
            shape: target.clone(),
            strides,
            offset: self.offset,
        })
    }

    /// Strides for viewing this layout with a new shape without copying, when possible
    /// (the usual reshape-as-view rule: each group of merged/split dims must be contiguous
    /// among itself).
    pub(crate) fn reshape_strides(&self, to: &Shape) -> Option<Vec<usize>> {
        if self.is_contiguous() {
            return Some(to.contiguous_strides());
        }
        // Drop size-1 dims, then match groups of old dims with groups of new dims.
        let old: Vec<(usize, usize)> = self
            .shape
            .0
            .iter()
            .zip(&self.strides)
            .filter(|(&d, _)| d != 1)
            .map(|(&d, &s)| (d, s))
            .collect();
        let mut new_strides = vec![0usize; to.rank()];
        let mut oi = 0;
        let mut ni = 0;
        let new = &to.0;
        while ni < new.len() {
            if new[ni] == 1 {
                new_strides[ni] = 1;
                ni += 1;
                continue;
            }
            if oi >= old.len() {
                return None;
            }
            // Gather a group of old dims and a group of new dims with equal products.
            let (mut op, mut np) = (old[oi].0, new[ni]);
            let group_old_start = oi;
            let group_new_start = ni;
            while op != np {
                if op < np {
                    oi += 1;
                    if oi >= old.len() {
                        return None;
                    }
                    op *= old[oi].0;
                } else {
                    ni += 1;
                    while ni < new.len() && new[ni] == 1 {
                        ni += 1;
                    }
                    if ni >= new.len() {
                        return None;
                    }
                    np *= new[ni];
                }
            }
            // Old dims in the group must be contiguous with each other.
            for k in group_old_start..oi {
                if old[k].1 != old[k + 1].1 * old[k + 1].0 {
                    return None;
                }
            }
            // Assign strides to new dims from the innermost old stride outward.
            let mut stride = old[oi].1;
            for k in (group_new_start..=ni).rev() {
                if new[k] == 1 {
                    new_strides[k] = stride;
                    continue;
                }
                new_strides[k] = stride;
                stride *= new[k];
            }
            oi += 1;
            ni += 1;
        }
        if oi != old.len() {
            return None;
        }
        Some(new_strides)
    }
}

/// Visits every innermost "row" of a strided layout: calls `f(row, offset)` where `row` is the
/// row's index in row-major order and `offset` its first element's position in storage. The
/// row has `dims.last()` elements spaced `strides.last()` apart (a rank-0 layout is one row
/// of one element).
pub(crate) fn for_each_row(
    dims: &[usize],
    strides: &[usize],
    offset: usize,
    mut f: impl FnMut(usize, usize),
) {
    let rank = dims.len();
    if rank <= 1 {
        f(0, offset);
        return;
    }
    let outer = &dims[..rank - 1];
    let n_rows: usize = outer.iter().product();
    if n_rows == 0 {
        return;
    }
    let mut idx = vec![0usize; rank - 1];
    let mut off = offset;
    for row in 0..n_rows {
        f(row, off);
        // Increment the multi-index, updating the offset incrementally.
        let mut d = rank - 2;
        loop {
            idx[d] += 1;
            off += strides[d];
            if idx[d] < outer[d] {
                break;
            }
            off -= strides[d] * outer[d];
            idx[d] = 0;
            if d == 0 {
                break;
            }
            d -= 1;
        }
    }
}

/// Like [`for_each_row`] for two layouts of the same shape at once: `f(row, off_a, off_b)`.
pub(crate) fn for_each_row2(
    dims: &[usize],
    strides_a: &[usize],
    off_a: usize,
    strides_b: &[usize],
    off_b: usize,
    mut f: impl FnMut(usize, usize, usize),
) {
    let rank = dims.len();
    if rank <= 1 {
        f(0, off_a, off_b);
        return;
    }
    let outer = &dims[..rank - 1];
    let n_rows: usize = outer.iter().product();
    if n_rows == 0 {
        return;
    }
    let mut idx = vec![0usize; rank - 1];
    let (mut oa, mut ob) = (off_a, off_b);
    for row in 0..n_rows {
        f(row, oa, ob);
        let mut d = rank - 2;
        loop {
            idx[d] += 1;
            oa += strides_a[d];
            ob += strides_b[d];
            if idx[d] < outer[d] {
                break;
            }
            oa -= strides_a[d] * outer[d];
            ob -= strides_b[d] * outer[d];
            idx[d] = 0;
            if d == 0 {
                break;
            }
            d -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_layout_is_not_contiguous() {
        let l = Layout::contiguous(Shape(vec![2, 3]));
        assert!(l.is_contiguous());
        assert!(!l.permute(&[1, 0]).is_contiguous());
    }

    #[test]
    fn reshape_of_a_narrowed_view_keeps_strides() {
        // [4, 6] narrowed to columns 0..6 of rows 1..3 is contiguous rows; split rows.
        let l = Layout::contiguous(Shape(vec![4, 6])).narrow(1, 0, 3); // [4,3] strides [6,1]
        assert_eq!(
            l.reshape_strides(&Shape(vec![4, 3, 1])),
            Some(vec![6, 1, 1])
        );
        assert_eq!(
            l.reshape_strides(&Shape(vec![2, 2, 3])),
            Some(vec![12, 6, 1])
        );
        assert_eq!(l.reshape_strides(&Shape(vec![12])), None);
        let t = Layout::contiguous(Shape(vec![2, 3])).permute(&[1, 0]);
        assert_eq!(t.reshape_strides(&Shape(vec![6])), None);
    }

    #[test]
    fn rows_are_visited_in_order() {
        let l = Layout::contiguous(Shape(vec![2, 3, 4])).permute(&[1, 0, 2]);
        let mut offs = vec![];
        for_each_row(l.dims(), l.strides(), 0, |_, o| offs.push(o));
        assert_eq!(offs, vec![0, 12, 4, 16, 8, 20]);
    }
}
