//! Transposing a row-major block while adding a per-column bias: the last step of a product
//! computed in the transposed orientation (`linear`'s `yᵀ = W·xᵀ`).
//!
//! With AVX-512 and f32, full 16 × 16 tiles go through registers: 16 row loads, 64 shuffles
//! and 16 row stores, where the scalar loop makes 256 loads and 256 stores. Edges and other
//! element types take the scalar tiles.

use super::simd::avx512_kernels;
use crate::dtype::Float;
use crate::storage::{same_type_slice, same_type_slice_mut};

/// Tile side: one AVX-512 vector of f32.
const TILE: usize = 16;

/// `dst[r][o] = src[o][r] + bias[o]`: `src` is `width × rows` and `dst` `rows × width`, both
/// row-major, `rows = dst.len() / width`. Without a bias, a plain transpose.
///
/// # Panics
/// When `src` is shorter than `dst`, or `bias` is shorter than `width`.
pub(crate) fn transpose_add_bias<T: Float>(
    src: &[T],
    bias: Option<&[T]>,
    dst: &mut [T],
    width: usize,
) {
    if width == 0 {
        return;
    }
    let rows = dst.len() / width;
    assert!(
        src.len() >= rows * width,
        "transpose_add_bias: source too short"
    );
    assert!(
        bias.is_none_or(|b| b.len() >= width),
        "transpose_add_bias: bias too short"
    );
    let (full_rows, full_cols) = (rows / TILE * TILE, width / TILE * TILE);
    let mut done = false;
    #[cfg(target_arch = "x86_64")]
    if avx512_kernels() {
        if let (Some(s), Some(d)) = (
            same_type_slice::<T, f32>(src),
            same_type_slice_mut::<T, f32>(dst),
        ) {
            let b = bias.map(|b| same_type_slice::<T, f32>(b).expect("same type as src"));
            // SAFETY: the CPU has AVX-512 (checked above); the bounds were checked above.
            unsafe { avx512::tiles(s, b, d, width, full_rows, full_cols) };
            done = true;
        }
    }
    let scalar =
        |r_range: std::ops::Range<usize>, o_range: std::ops::Range<usize>, dst: &mut [T]| {
            for rt in r_range.clone().step_by(TILE) {
                for ot in o_range.clone().step_by(TILE) {
                    for r in rt..(rt + TILE).min(r_range.end) {
                        let row = &mut dst[r * width..(r + 1) * width];
                        for o in ot..(ot + TILE).min(o_range.end) {
                            row[o] = src[o * rows + r] + bias.map_or(T::ZERO, |b| b[o]);
                        }
                    }
                }
            }
        };
    if done {
        // The right edge of the full rows, then the bottom rows.
        scalar(0..full_rows, full_cols..width, dst);
        scalar(full_rows..rows, 0..width, dst);
    } else {
        scalar(0..rows, 0..width, dst);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::TILE;
    use std::arch::x86_64::*;

    /// The full 16 × 16 tiles of [`super::transpose_add_bias`]: rows `0..rows` of `dst`,
    /// columns `0..cols` (both multiples of 16).
    ///
    /// # Safety
    /// AVX-512F; the bounds checked by the caller.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tiles(
        src: &[f32],
        bias: Option<&[f32]>,
        dst: &mut [f32],
        width: usize,
        rows: usize,
        cols: usize,
    ) {
        // Values per row of src: all of dst's rows, not only the full tiles' ones.
        let src_cols = dst.len() / width;
        for rt in (0..rows).step_by(TILE) {
            for ot in (0..cols).step_by(TILE) {
                let mut v = [_mm512_setzero_ps(); TILE];
                for (i, v) in v.iter_mut().enumerate() {
                    let at = (ot + i) * src_cols + rt;
                    // SAFETY: the slice holds the 16 values read.
                    *v = unsafe { _mm512_loadu_ps(src[at..at + TILE].as_ptr()) };
                }
                let v = transpose16(v);
                let b = match bias {
                    // SAFETY: as above.
                    Some(b) => unsafe { _mm512_loadu_ps(b[ot..ot + TILE].as_ptr()) },
                    None => _mm512_setzero_ps(),
                };
                for (j, v) in v.iter().enumerate() {
                    let at = (rt + j) * width + ot;
                    let row = dst[at..at + TILE].as_mut_ptr();
                    // SAFETY: the slice holds the 16 values written.
                    unsafe { _mm512_storeu_ps(row, _mm512_add_ps(*v, b)) };
                }
            }
        }
    }

    /// The transpose of 16 rows of 16 values: element `j` of output `i` is element `i` of
    /// input `j`.
    ///
    /// Three steps on 4 × 4 blocks: pairs of rows interleaved (`unpack`), then 4 × 4 blocks
    /// within each 128-bit lane (`shuffle_ps`), then the lanes exchanged between four rows
    /// (`shuffle_f32x4`, twice).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn transpose16(r: [__m512; TILE]) -> [__m512; TILE] {
        let mut t = [_mm512_setzero_ps(); TILE];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        // u[4g + c], lane L: column 4L + c of rows 4g..4g + 4.
        let mut u = [_mm512_setzero_ps(); TILE];
        for g in 0..4 {
            let (a, b, c, d) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
            u[4 * g] = _mm512_shuffle_ps::<0x44>(a, c);
            u[4 * g + 1] = _mm512_shuffle_ps::<0xEE>(a, c);
            u[4 * g + 2] = _mm512_shuffle_ps::<0x44>(b, d);
            u[4 * g + 3] = _mm512_shuffle_ps::<0xEE>(b, d);
        }
        let mut out = [_mm512_setzero_ps(); TILE];
        for c in 0..4 {
            // Lanes 0 and 2 (even) or 1 and 3 (odd) of row groups 0, 1 and of 2, 3.
            let even_lo = _mm512_shuffle_f32x4::<0x88>(u[c], u[4 + c]);
            let odd_lo = _mm512_shuffle_f32x4::<0xDD>(u[c], u[4 + c]);
            let even_hi = _mm512_shuffle_f32x4::<0x88>(u[8 + c], u[12 + c]);
            let odd_hi = _mm512_shuffle_f32x4::<0xDD>(u[8 + c], u[12 + c]);
            out[c] = _mm512_shuffle_f32x4::<0x88>(even_lo, even_hi);
            out[8 + c] = _mm512_shuffle_f32x4::<0xDD>(even_lo, even_hi);
            out[4 + c] = _mm512_shuffle_f32x4::<0x88>(odd_lo, odd_hi);
            out[12 + c] = _mm512_shuffle_f32x4::<0xDD>(odd_lo, odd_hi);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::simd::{with_level, Level};

    fn check<T: Float + std::fmt::Debug>(level: Level) {
        for (rows, width) in [(16, 16), (37, 50), (128, 512), (5, 3), (0, 7)] {
            let src: Vec<T> = (0..width * rows)
                .map(|i| T::from_f64(i as f64 * 0.5 - 7.0))
                .collect();
            let bias: Vec<T> = (0..width).map(|o| T::from_f64(o as f64 * 100.0)).collect();
            for with_bias in [false, true] {
                let mut dst = vec![T::from_f64(-1.0); rows * width];
                let b = with_bias.then_some(&bias[..]);
                with_level(level, || transpose_add_bias(&src, b, &mut dst, width));
                for r in 0..rows {
                    for o in 0..width {
                        let want = src[o * rows + r] + b.map_or(T::ZERO, |b| b[o]);
                        assert_eq!(
                            dst[r * width + o],
                            want,
                            "{level:?} {rows}x{width} at ({r}, {o})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn transposes_match_the_definition_at_every_level() {
        for level in [Level::Baseline, Level::Avx2, Level::Avx512] {
            check::<f32>(level);
            check::<f64>(level);
        }
    }
}
