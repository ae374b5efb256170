//! Packing tensors into all-reduce buckets.

use std::ops::Range;

/// Splits tensors of `sizes` elements (in order) into consecutive groups of at most
/// `capacity` elements each, greedily; a tensor larger than `capacity` is a group of its
/// own. Returns index ranges into `sizes`; every index is in exactly one range. Empty
/// `sizes` give no range.
///
/// # Examples
/// ```
/// use nabla_nn::distributed::buckets;
/// assert_eq!(buckets(&[3, 3, 3, 10, 1], 6), vec![0..2, 2..3, 3..4, 4..5]);
/// ```
pub fn buckets(sizes: &[usize], capacity: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut filled) = (0, 0);
    for (i, &n) in sizes.iter().enumerate() {
        if i > start && filled + n > capacity {
            out.push(start..i);
            (start, filled) = (i, 0);
        }
        filled += n;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_fits_in_one_bucket() {
        assert_eq!(buckets(&[5, 6, 7], 100), vec![0..3]);
    }

    #[test]
    fn oversized_tensors_get_their_own_bucket() {
        assert_eq!(buckets(&[50, 1, 1, 50], 10), vec![0..1, 1..3, 3..4]);
    }

    #[test]
    fn buckets_cover_every_tensor_once_and_respect_the_capacity() {
        let sizes = [4, 4, 4, 1, 7, 8, 2, 2, 9];
        let ranges = buckets(&sizes, 8);
        let mut next = 0;
        for r in &ranges {
            assert_eq!(r.start, next);
            assert!(r.end > r.start);
            let total: usize = sizes[r.clone()].iter().sum();
            assert!(total <= 8 || r.len() == 1, "{r:?} holds {total}");
            next = r.end;
        }
        assert_eq!(next, sizes.len());
        assert!(buckets(&[], 8).is_empty());
    }
}
