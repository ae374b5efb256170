//! Reductions over contiguous memory: along rows (the reduced elements are adjacent) or down
//! columns (the reduced index is the outermost one).

use crate::dtype::Float;
use crate::storage::alloc;
use rayon::prelude::*;

use super::elementwise::PAR_MIN_LEN;

/// Sum of a slice with 8 independent accumulators (vectorizes, and loses less precision
/// than one running sum).
#[inline]
pub(crate) fn sum_slice<T: Float>(x: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    let mut s = T::ZERO;
    for &r in rest {
        s += r;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + s
}

/// `Σ f(a[i], b[i])` over two slices of one length, with 8 independent partial sums (the
/// per-channel sums of batch normalization).
#[inline]
pub(crate) fn sum_zip<T: Float>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    let mut acc = [T::ZERO; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut tail = T::ZERO;
    for (&x, &y) in ac.remainder().iter().zip(bc.remainder()) {
        tail += f(x, y);
    }
    for (ac, bc) in ac.zip(bc) {
        for j in 0..8 {
            acc[j] += f(ac[j], bc[j]);
        }
    }
    acc.iter().fold(tail, |s, &v| s + v)
}

/// `out[i] = f(x[i*r .. (i+1)*r])` for each of the `x.len() / r` rows, in parallel when large.
pub(crate) fn per_row<T: Float, U: Copy + Send + Sync>(
    x: &[T],
    r: usize,
    f: impl Fn(&[T]) -> U + Sync,
) -> Vec<U> {
    if r == 0 {
        return Vec::new();
    }
    let m = x.len() / r;
    if x.len() >= PAR_MIN_LEN && m > 1 {
        x.par_chunks(r).map(&f).collect()
    } else {
        x.chunks(r).map(f).collect()
    }
}

/// Sum over rows of length `r`: `out[i] = Σ_j x[i*r + j]`.
pub(crate) fn sum_rows<T: Float>(x: &[T], r: usize, m: usize) -> Vec<T> {
    if r == 0 {
        let mut out = alloc::<T>(m);
        out.fill(T::ZERO);
        return out;
    }
    let sums = per_row(x, r, sum_slice);
    let mut out = alloc::<T>(sums.len());
    out.copy_from_slice(&sums);
    out
}

/// Sum down the columns of an `[m, r]` matrix: `out[j] = Σ_i x[i*r + j]`.
pub(crate) fn sum_cols<T: Float>(x: &[T], m: usize, r: usize) -> Vec<T> {
    let mut out = alloc::<T>(r);
    if r == 1 {
        // The sum of every element (`sum_all`): one column of m rows would be one chain of
        // dependent adds (a VAE's summed BCE over 128 × 784 logits: 5% of its training).
        out[0] = sum_slice(&x[..m]);
        return out;
    }
    out.fill(T::ZERO);
    let add_rows = |out: &mut [T], j0: usize| {
        for i in 0..m {
            let row = &x[i * r + j0..i * r + j0 + out.len()];
            for (o, &v) in out.iter_mut().zip(row) {
                *o += v;
            }
        }
    };
    if x.len() >= PAR_MIN_LEN && r >= 64 {
        let chunk = r.div_ceil(rayon::current_num_threads().max(1) * 4).max(16);
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(c, o)| add_rows(o, c * chunk));
    } else {
        add_rows(&mut out, 0);
    }
    out
}

/// Whether every element is finite (no NaN or infinity).
pub(crate) fn all_finite<T: Float>(x: &[T]) -> bool {
    x.iter().all(|v| v.is_finite())
}

/// Max (or min, with `want_max = false`) of each row of length `r` and its first index.
pub(crate) fn extremum_rows<T: Float>(x: &[T], r: usize, want_max: bool) -> (Vec<T>, Vec<i64>) {
    let pairs = per_row(x, r, |row| {
        let mut best = row[0];
        let mut at = 0usize;
        for (j, &v) in row.iter().enumerate().skip(1) {
            let better = if want_max { v > best } else { v < best };
            // NaN wins, as in PyTorch: once NaN, stay NaN.
            if (better || v.is_nan()) && !best.is_nan() {
                best = v;
                at = j;
            }
        }
        (best.to_f64(), at as i64)
    });
    (
        pairs.iter().map(|p| T::from_f64(p.0)).collect(),
        pairs.iter().map(|p| p.1).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_cols_matches_the_plain_sums_for_one_and_many_columns() {
        // Small integers: every order of summation gives the exact value.
        let x: Vec<f32> = (0..3 * 70_001).map(|v| (v % 13) as f32 - 6.0).collect();
        for r in [1, 3, 70_001] {
            let m = x.len() / r;
            let want: Vec<f32> = (0..r).map(|j| (0..m).map(|i| x[i * r + j]).sum()).collect();
            assert_eq!(sum_cols(&x, m, r), want, "{r} columns");
        }
    }
}
