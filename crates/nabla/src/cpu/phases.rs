//! Splitting a row into the phases of a stride: max pooling, strided im2col and the
//! stride-phase convolution read every `s`-th value of a row as one contiguous run.

/// Writes `row[i]` to stride phase `(i + p) mod s` of `phases` (`s` phases of `plen`
/// values) at `(i + p) / s`: the padded row `p` columns in, split so that a window tap reads
/// one phase contiguously. Stride 2 deinterleaves pairs, which compiles to vector shuffles
/// (a scalar scatter here was half of the indexed pooling's time). Callers run it inside
/// [`super::simd::vectorized`] or a `multiversion!` function, where the shuffles are
/// AVX-512's.
#[inline(always)]
pub(crate) fn split_phases<T: Copy>(row: &[T], s: usize, p: usize, phases: &mut [T], plen: usize) {
    match s {
        1 => phases[p..p + row.len()].copy_from_slice(row),
        2 => {
            let (even, odd) = phases.split_at_mut(plen);
            let (first, second) = if p.is_multiple_of(2) {
                (even, odd)
            } else {
                (odd, even)
            };
            let (pairs, rest) = row.as_chunks::<2>();
            let (a0, b0) = (p / 2, p.div_ceil(2));
            for ((a, b), c) in first[a0..].iter_mut().zip(&mut second[b0..]).zip(pairs) {
                (*a, *b) = (c[0], c[1]);
            }
            if let Some(&last) = rest.first() {
                first[a0 + pairs.len()] = last;
            }
        }
        _ => {
            for (i, &v) in row.iter().enumerate() {
                phases[(i + p) % s * plen + (i + p) / s] = v;
            }
        }
    }
}
