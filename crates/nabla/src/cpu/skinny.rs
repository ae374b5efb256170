//! Products with few columns, `C (m × n) = A (m × k) · B (k × n)` with `n ≤ 64`, all f32 and
//! row-major: weights applied to a handful of vectors. Winograd's products for one image of
//! ResNet-18's 7×7 and 14×14 layers are such (16 and 49 tiles against 512×512 and 256×256
//! transformed weights). The `gemm` crate runs them in its 16-row edge kernel after packing;
//! here each element of `A` is loaded once, straight from memory, and broadcast against the
//! `n` columns of one row of `B`, held in at most 4 vectors.
//!
//! [`skinny_gemm_tn`] turns that around for column counts that are no multiple of 16: it
//! reads `A` transposed (Winograd's `U` in panels of 64 output channels), runs its vectors
//! along `C`'s rows and broadcasts `B`'s values. ResNet-18's 14×14 layer at batch 1, no
//! gradient, alternating rounds: 0.965 → 0.835 ms; its 28×28 layer (F(4×4)) 0.83 → 0.72 ms.
//!
//! Only with AVX-512 ([`supported`]); callers keep the general GEMM otherwise.

use super::simd::avx512_kernels;

/// Columns up to which [`skinny_gemm`] applies: 4 AVX-512 vectors of f32.
pub(crate) const MAX_COLS: usize = 64;

/// Whether this CPU has the kernels (AVX-512).
pub(crate) fn supported() -> bool {
    avx512_kernels()
}

/// A row-major matrix operand: element `(i, j)` at `data[i·ld + j]`.
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub data: &'a [f32],
    pub ld: usize,
}

/// `c = a · b` for `a` of `m × k`, `b` of `k × n` and `c` of `m × n` (row stride `ldc`,
/// overwritten), `1 ≤ n ≤` [`MAX_COLS`].
///
/// # Panics
/// When [`supported`] is false, `n` is out of range or an operand is too short for its
/// shape.
pub(crate) fn skinny_gemm(
    m: usize,
    n: usize,
    k: usize,
    a: Rows,
    b: Rows,
    c: &mut [f32],
    ldc: usize,
) {
    assert!(supported(), "skinny_gemm needs AVX-512");
    assert!((1..=MAX_COLS).contains(&n), "skinny_gemm: {n} columns");
    if !checked("skinny_gemm", (m, n, k), (a, m, k), b, c, ldc) {
        return;
    }
    // SAFETY: AVX-512 is present (asserted); the kernels read rows 0..m of a (k values
    // each), rows 0..k of b (n values each, the last vector masked) and write rows 0..m of
    // c (n values each, masked), all inside the slices as asserted above.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use avx512::rows;
        let (a, b, c) = (
            (a.data.as_ptr(), a.ld),
            (b.data.as_ptr(), b.ld),
            c.as_mut_ptr(),
        );
        match n.div_ceil(16) {
            1 => rows::<1, 8>(m, n, k, a, b, c, ldc),
            2 => rows::<2, 12>(m, n, k, a, b, c, ldc),
            3 => rows::<3, 8>(m, n, k, a, b, c, ldc),
            _ => rows::<4, 6>(m, n, k, a, b, c, ldc),
        }
    }
}

/// `c = a · b` as [`skinny_gemm`], with `a` given transposed: `at` is `k × m` (element
/// `(i, p)` of `a` at `at.data[p·at.ld + i]`). The vectors then run along the `m` rows of
/// `c` (Winograd's output channels, a multiple of 16 in most networks) and each `b` value
/// is broadcast, so no lane is wasted when `n` is no multiple of 16: ResNet-18's 14×14
/// layers at batch 1 have 49 tiles, which [`skinny_gemm`] holds in 64 lanes. `n` may be
/// any size.
///
/// `next` (may be empty) is brought into the caches while the product runs, one cache line
/// per step: the operand of the product that follows, which would otherwise come from
/// memory at the speed of the hardware prefetcher (ResNet-18's Winograd panels at batch 1,
/// whose transforms do not all fit the last-level cache).
///
/// # Panics
/// When [`supported`] is false or an operand is too short for its shape.
#[allow(clippy::too_many_arguments)]
pub(crate) fn skinny_gemm_tn(
    m: usize,
    n: usize,
    k: usize,
    at: Rows,
    b: Rows,
    c: &mut [f32],
    ldc: usize,
    next: &[f32],
) {
    assert!(supported(), "skinny_gemm_tn needs AVX-512");
    if !checked("skinny_gemm_tn", (m, n, k), (at, k, m), b, c, ldc) {
        return;
    }
    // SAFETY: AVX-512 is present (asserted); the kernels read rows 0..k of at (m values
    // each, the last vector masked) and of b (n values each), and write rows 0..m of c
    // (n values each), all inside the slices as asserted above.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        let mut ahead = avx512::Prefetch {
            at: next.as_ptr().cast(),
            lines: std::mem::size_of_val(next).div_ceil(64),
        };
        avx512::columns(
            m,
            n,
            k,
            (at.data.as_ptr(), at.ld),
            (b.data.as_ptr(), b.ld),
            c.as_mut_ptr(),
            ldc,
            &mut ahead,
        );
    }
}

/// Checks the operands of `c (m × n) = a · b` (`b` of `k × n`; `a` given as `rows` rows of
/// `cols` values, `m × k` or transposed) and zeroes `c` when `k == 0`. Returns whether a
/// product is left to compute.
///
/// # Panics
/// When an operand is too short for its shape.
fn checked(
    name: &str,
    (m, n, k): (usize, usize, usize),
    (a, rows, cols): (Rows, usize, usize),
    b: Rows,
    c: &mut [f32],
    ldc: usize,
) -> bool {
    if m == 0 || n == 0 {
        return false;
    }
    let fits = |len: usize, rows: usize, ld: usize, cols: usize| len >= (rows - 1) * ld + cols;
    assert!(fits(c.len(), m, ldc, n) && ldc >= n, "{name}: c too short");
    if k == 0 {
        c.chunks_mut(ldc).take(m).for_each(|row| row[..n].fill(0.0));
        return false;
    }
    assert!(
        fits(a.data.len(), rows, a.ld, cols) && a.ld >= cols,
        "{name}: a too short"
    );
    assert!(
        fits(b.data.len(), k, b.ld, n) && b.ld >= n,
        "{name}: b too short"
    );
    true
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// All rows of `c`, `R` at a time (then one at a time), with `NV` vectors per row.
    ///
    /// # Safety
    /// AVX-512F; the operands hold the rows and columns that [`super::skinny_gemm`] checks.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn rows<const NV: usize, const R: usize>(
        m: usize,
        n: usize,
        k: usize,
        a: (*const f32, usize),
        b: (*const f32, usize),
        c: *mut f32,
        ldc: usize,
    ) {
        // Lanes of the last vector that are inside the n columns.
        let last: __mmask16 = (0xFFFFu32 >> (16 * NV - n)) as __mmask16;
        let mut i = 0;
        // SAFETY: forwarded from the caller's contract; the prefetched rows are rows of a.
        unsafe {
            while i + R <= m {
                // The rows after this block: as many as the next call of block reads.
                let ahead = (m - i - R).min(R);
                let next = (a.0.add((i + R) * a.1), ahead);
                block::<NV, R>(
                    k,
                    (a.0.add(i * a.1), a.1),
                    b,
                    c.add(i * ldc),
                    ldc,
                    last,
                    next,
                );
                i += R;
            }
            while i < m {
                let next = (a.0.add((i + 1).min(m - 1) * a.1), usize::from(i + 1 < m));
                block::<NV, 1>(
                    k,
                    (a.0.add(i * a.1), a.1),
                    b,
                    c.add(i * ldc),
                    ldc,
                    last,
                    next,
                );
                i += 1;
            }
        }
    }

    /// `R` rows of `c`: `acc[r] += a[r][p] · b[p]` over `p`, one broadcast per row and `NV`
    /// loads of `b` per step. Meanwhile the `next.1` rows of `a` from `next.0` (the next
    /// block's) are prefetched into L2, a few cache lines per step: `a` (Winograd's `U`)
    /// streams from memory, and each row is too short for the hardware prefetcher to
    /// reach full speed on its own.
    ///
    /// # Safety
    /// AVX-512F; rows `0..R` of `a` (k values) and of `c` (16·NV values, the last vector
    /// masked by `last`), rows `0..k` of `b` likewise, are readable/writable.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn block<const NV: usize, const R: usize>(
        k: usize,
        a: (*const f32, usize),
        b: (*const f32, usize),
        c: *mut f32,
        ldc: usize,
        last: __mmask16,
        next: (*const f32, usize),
    ) {
        // Cache lines of 16 f32 per row of a, and the next line to prefetch (row, line).
        let per_row = k.div_ceil(16);
        let lines = next.1 * per_row;
        let (mut issued, mut row, mut line) = (0, 0, 0);
        // SAFETY: forwarded from the caller's contract (prefetches do not fault).
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); NV]; R];
            let mut bv = [_mm512_setzero_ps(); NV];
            for p in 0..k {
                // Spread the lines evenly over the k steps.
                while issued * k < (p + 1) * lines {
                    let at = next.0.wrapping_add(row * a.1 + line * 16);
                    _mm_prefetch::<_MM_HINT_T1>(at as *const i8);
                    issued += 1;
                    line += 1;
                    if line == per_row {
                        (row, line) = (row + 1, 0);
                    }
                }
                let row = b.0.add(p * b.1);
                for (v, x) in bv.iter_mut().enumerate() {
                    *x = if v + 1 == NV {
                        _mm512_maskz_loadu_ps(last, row.add(16 * v))
                    } else {
                        _mm512_loadu_ps(row.add(16 * v))
                    };
                }
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*a.0.add(r * a.1 + p));
                    for (s, &x) in acc.iter_mut().zip(&bv) {
                        *s = _mm512_fmadd_ps(av, x, *s);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                for (v, &s) in acc.iter().enumerate() {
                    let dst = c.add(r * ldc + 16 * v);
                    if v + 1 == NV {
                        _mm512_mask_storeu_ps(dst, last, s);
                    } else {
                        _mm512_storeu_ps(dst, s);
                    }
                }
            }
        }
    }
    /// The cache lines still to prefetch, one per step of [`column_block`].
    pub(super) struct Prefetch {
        pub at: *const i8,
        pub lines: usize,
    }

    /// Row blocks of 64 (then fewer) rows of `c` against column blocks of [`TN_COLS`]
    /// columns (then one block of the rest), for [`super::skinny_gemm_tn`].
    ///
    /// # Safety
    /// AVX-512F; the operands hold the rows and columns that [`super::skinny_gemm_tn`]
    /// checks.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn columns(
        m: usize,
        n: usize,
        k: usize,
        at: (*const f32, usize),
        b: (*const f32, usize),
        c: *mut f32,
        ldc: usize,
        ahead: &mut Prefetch,
    ) {
        let mut i = 0;
        while i < m {
            let rows = (m - i).min(64);
            // SAFETY: forwarded from the caller's contract.
            unsafe {
                let (at, c) = ((at.0.add(i), at.1), c.add(i * ldc));
                match rows.div_ceil(16) {
                    1 => column_blocks::<1>(rows, n, k, at, b, c, ldc, ahead),
                    2 => column_blocks::<2>(rows, n, k, at, b, c, ldc, ahead),
                    3 => column_blocks::<3>(rows, n, k, at, b, c, ldc, ahead),
                    _ => column_blocks::<4>(rows, n, k, at, b, c, ldc, ahead),
                }
            }
            i += rows;
        }
    }

    /// Columns of `c` per block in [`columns`]: 6 × 4 accumulators, 4 loads of `at` and 6
    /// broadcasts of `b` per step. With 7 (49 = 7 · 7 tiles of ResNet-18's 14×14 layers)
    /// the 28 accumulators, 4 loads and a broadcast need 33 registers: LLVM spilled and
    /// shuffled 30 registers per step.
    const TN_COLS: usize = 6;

    /// All columns of `rows ≤ 16·NV` rows of `c`.
    ///
    /// # Safety
    /// As [`columns`], for this row block.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn column_blocks<const NV: usize>(
        rows: usize,
        n: usize,
        k: usize,
        at: (*const f32, usize),
        b: (*const f32, usize),
        c: *mut f32,
        ldc: usize,
        ahead: &mut Prefetch,
    ) {
        // Lanes of the last vector that are inside the block's rows.
        let last: __mmask16 = (0xFFFFu32 >> (16 * NV - rows)) as __mmask16;
        let mut j = 0;
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            while j + TN_COLS <= n {
                let b = (b.0.add(j), b.1);
                column_block::<NV, TN_COLS>(rows, k, at, b, c.add(j), ldc, last, ahead);
                j += TN_COLS;
            }
            let b = (b.0.add(j), b.1);
            let c = c.add(j);
            match n - j {
                0 => {}
                1 => column_block::<NV, 1>(rows, k, at, b, c, ldc, last, ahead),
                2 => column_block::<NV, 2>(rows, k, at, b, c, ldc, last, ahead),
                3 => column_block::<NV, 3>(rows, k, at, b, c, ldc, last, ahead),
                4 => column_block::<NV, 4>(rows, k, at, b, c, ldc, last, ahead),
                _ => column_block::<NV, 5>(rows, k, at, b, c, ldc, last, ahead),
            }
        }
    }

    /// Stores 16 rows (the first `rows` of them) of `R ≤ 8` columns of `c`, column `r`
    /// being `acc[r]` (lane `l` is row `l`), through a transpose in registers: two rows of
    /// 8 values per vector after 24 shuffles, each row written by at most 3 stores
    /// ([`store_first`]) instead of `R` scalar ones, each of which also read its value
    /// back from the stack.
    ///
    /// # Safety
    /// AVX-512F and DQ; `R` values of rows `0..rows` of `c` (row stride `ldc`) are writable.
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    unsafe fn store_columns<const R: usize>(
        acc: [__m512; R],
        rows: usize,
        c: *mut f32,
        ldc: usize,
    ) {
        let a: [__m512; 8] =
            std::array::from_fn(|r| if r < R { acc[r] } else { _mm512_setzero_ps() });
        // Per 128-bit block b: t[2q] = (a[2q][4b], a[2q+1][4b], a[2q][4b+1], a[2q+1][4b+1]),
        // t[2q+1] the same for lanes 4b+2 and 4b+3.
        let t: [__m512; 8] = std::array::from_fn(|i| {
            let (x, y) = (a[i / 2 * 2], a[i / 2 * 2 + 1]);
            if i % 2 == 0 {
                _mm512_unpacklo_ps(x, y)
            } else {
                _mm512_unpackhi_ps(x, y)
            }
        });
        // u[j] (j < 4): block b holds columns 0–3 of row 4b + j; u[4 + j] columns 4–7.
        let u: [__m512; 8] = std::array::from_fn(|i| {
            let (h, j) = (i / 4, i % 4);
            let (x, y) = (t[4 * h + j / 2], t[4 * h + 2 + j / 2]);
            if j % 2 == 0 {
                _mm512_shuffle_ps::<0x44>(x, y)
            } else {
                _mm512_shuffle_ps::<0xEE>(x, y)
            }
        });
        // Rows (j, 4 + j) and (8 + j, 12 + j): 8 values each, the low and high halves.
        let first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
        let second =
            _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
        for j in 0..4 {
            for (k, index) in [first, second].into_iter().enumerate() {
                let pair = _mm512_permutex2var_ps(u[j], index, u[4 + j]);
                let (lo, hi) = (8 * k + j, 8 * k + 4 + j);
                // SAFETY: rows lo and hi are written only when below `rows`, R values each.
                unsafe {
                    if lo < rows {
                        store_first::<R>(c.add(lo * ldc), _mm512_castps512_ps256(pair));
                    }
                    if hi < rows {
                        store_first::<R>(c.add(hi * ldc), _mm512_extractf32x8_ps::<1>(pair));
                    }
                }
            }
        }
    }

    /// The first `R ≤ 8` of `x`'s values at `dst`, by unmasked stores of 4, 2 and 1 values.
    ///
    /// # Safety
    /// AVX-512F; `R` values at `dst` are writable.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn store_first<const R: usize>(dst: *mut f32, x: __m256) {
        let (mut part, mut at) = (_mm256_castps256_ps128(x), 0);
        // SAFETY: the stores write values at..R of dst.
        unsafe {
            if R - at >= 4 {
                _mm_storeu_ps(dst, part);
                (part, at) = (_mm256_extractf128_ps::<1>(x), 4);
            }
            if R - at >= 2 {
                _mm_storel_pd(dst.add(at).cast(), _mm_castps_pd(part));
                (part, at) = (_mm_movehl_ps(part, part), at + 2);
            }
            if R > at {
                _mm_store_ss(dst.add(at), part);
            }
        }
    }

    /// `R` columns of `rows` rows of `c`: `acc[r] += at[p] · b[p][r]` over `p`, `NV` loads
    /// of `at` and one broadcast per column per step; then written out row by row
    /// ([`store_columns`]). The transposed stores took
    /// ResNet-18's batch-1 latency from 8.54 to 8.15 ms (10 alternating rounds, a busy
    /// host), its 64 @ 56×56 layer (64 steps per block) from 0.27 to 0.25 ms: 384 scalar
    /// stores, each reading its value back from the stack, against 1536 multiply-adds.
    ///
    /// # Safety
    /// AVX-512F; rows `0..k` of `at` (16·NV values, the last vector masked by `last`) and
    /// of `b` (`R` values), and `R` columns of rows `0..rows` of `c` are readable/writable.
    #[target_feature(enable = "avx512f")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn column_block<const NV: usize, const R: usize>(
        rows: usize,
        k: usize,
        at: (*const f32, usize),
        b: (*const f32, usize),
        c: *mut f32,
        ldc: usize,
        last: __mmask16,
        ahead: &mut Prefetch,
    ) {
        // SAFETY: forwarded from the caller's contract (prefetches do not fault).
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); NV]; R];
            let mut av = [_mm512_setzero_ps(); NV];
            // One step of the reduction: NV loads of `at`, R broadcasts of `b`.
            macro_rules! step {
                ($p:expr) => {{
                    let row = at.0.add($p * at.1);
                    for (v, x) in av.iter_mut().enumerate() {
                        *x = if v + 1 == NV {
                            _mm512_maskz_loadu_ps(last, row.add(16 * v))
                        } else {
                            _mm512_loadu_ps(row.add(16 * v))
                        };
                    }
                    let brow = b.0.add($p * b.1);
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let bv = _mm512_set1_ps(*brow.add(r));
                        for (s, &x) in acc.iter_mut().zip(&av) {
                            *s = _mm512_fmadd_ps(x, bv, *s);
                        }
                    }
                }};
            }
            // The steps that also prefetch a line of `ahead`, then the rest: no test of the
            // line count in the loop that has none left.
            let lines = ahead.lines.min(k);
            for p in 0..lines {
                _mm_prefetch::<_MM_HINT_T1>(ahead.at.wrapping_add(64 * p));
                step!(p);
            }
            for p in lines..k {
                step!(p);
            }
            ahead.at = ahead.at.wrapping_add(64 * lines);
            ahead.lines -= lines;
            // v runs to the constant NV, so that acc stays in registers.
            for v in 0..NV {
                let rows = rows.saturating_sub(16 * v).min(16);
                let acc: [__m512; R] = std::array::from_fn(|r| acc[r][v]);
                store_columns(acc, rows, c.wrapping_add(16 * v * ldc), ldc);
            }
        }
    }
}

#[cfg(test)]
mod tests;
