//! Packing f32 operands into the bf16 tile layouts of the AMX and AVX-512 BF16 kernels.
//!
//! Both kernels read the same layouts, those of AMX's tiles (64-byte rows):
//! - the left operand `A [m, k]` as tiles of 16 rows × 32 columns, row-major, stored
//!   `[row tile][k tile][16][32]`: one k step of a 16-row band is 1 KiB contiguous;
//! - the right operand `B [k, n]` in AMX's "VNNI" form: tiles of 32 k × 16 columns whose
//!   row `p` holds, for each of the 16 columns, the pair `(B[2p, j], B[2p + 1, j])`, stored
//!   `[column tile][k tile][16 pairs][16 columns][2]`.
//!
//! `vdpbf16ps` multiplies the same pairs: a 32-bit broadcast of `A[i, 2p..2p + 2]` against
//! row `p` of a `B` tile adds 16 columns' two products each.
//!
//! Padding (rows past `m`, columns past `n`, k past the operand's depth) is zero, so the
//! kernels always compute whole tiles. The operands are strided f32 views ([`MatRef`]);
//! the layouts that occur (row-major, and transposed views, column-major) have loops that
//! read memory in order.

use super::convert::to_bf16;
use crate::cpu::gemm::MatRef;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Depth of one k tile (bf16 values in a 64-byte tile row).
pub(crate) const KT: usize = 32;
/// Rows of an `A` tile and columns of a `B` tile.
pub(crate) const T16: usize = 16;
/// bf16 values in one tile (1 KiB).
pub(crate) const TILE: usize = 512;

/// Packs rows `0..m` (padded with zeros to `row_tiles · 16`) and columns `k0..k0 + kc`
/// (padded to whole k tiles) of `a` into `out` in the `A` layout.
///
/// # Safety
/// `a` is valid for rows `0..m` and columns `k0..k0 + kc`; the CPU has AVX-512 F, BW and
/// BF16;
/// `out` holds `row_tiles · kc.div_ceil(32)` tiles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub(crate) unsafe fn pack_a(
    a: MatRef<f32>,
    m: usize,
    k0: usize,
    kc: usize,
    row_tiles: usize,
    out: &mut [u16],
) {
    let kts = kc.div_ceil(KT);
    let out = &mut out[..row_tiles * kts * TILE];
    // SAFETY: every read below is an element (i, k0 + c) with i < m and c < kc.
    let at =
        |i: usize, c: usize| unsafe { *a.ptr.offset(i as isize * a.rs + (k0 + c) as isize * a.cs) };
    if a.cs == 1 {
        // Rows m.. are padding; the rows below are written whole (64 bytes each).
        for i in m..row_tiles * T16 {
            for kt in 0..kts {
                out[((i / T16) * kts + kt) * TILE + (i % T16) * KT..][..KT].fill(0);
            }
        }
        for i in 0..m {
            // SAFETY: row i, columns k0..k0 + kc are contiguous (cs == 1).
            let row = unsafe { a.ptr.offset(i as isize * a.rs + k0 as isize) };
            let (t, r) = (i / T16, i % T16);
            for kt in 0..kts {
                let len = (kc - kt * KT).min(KT);
                // SAFETY: len elements of the row from kt·32; one 64-byte tile row.
                unsafe {
                    store_pairs(
                        out[(t * kts + kt) * TILE + r * KT..].as_mut_ptr(),
                        row.add(kt * KT),
                        len,
                    )
                };
            }
        }
    } else {
        // Columns are the contiguous direction (a transposed view) or neither: walk each
        // column of a 16-row band.
        out.fill(0);
        for t in 0..m.div_ceil(T16) {
            let rows = (m - t * T16).min(T16);
            for c in 0..kc {
                let (kt, col) = (c / KT, c % KT);
                let tile = &mut out[(t * kts + kt) * TILE..][..TILE];
                for r in 0..rows {
                    tile[r * KT + col] = to_bf16(at(t * T16 + r, c));
                }
            }
        }
    }
}

/// Packs columns `j0..j0 + nc` (padded with zeros to `col_tiles · 16`) and rows
/// `k0..k0 + kc` (padded to whole k tiles) of `b` into `out` in the `B` layout.
///
/// # Safety
/// `b` is valid for rows `k0..k0 + kc` and columns `j0..j0 + nc`; the CPU has AVX-512 F,
/// BW and BF16; `out` holds `col_tiles · kc.div_ceil(32)` tiles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub(crate) unsafe fn pack_b(
    b: MatRef<f32>,
    k0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    col_tiles: usize,
    out: &mut [u16],
) {
    let kts = kc.div_ceil(KT);
    let out = &mut out[..col_tiles * kts * TILE];
    // Element (k0 + kk, j0 + j) of b.
    // SAFETY: every read below has kk < kc and j < nc.
    let at = |kk: usize, j: usize| unsafe {
        *b.ptr
            .offset((k0 + kk) as isize * b.rs + (j0 + j) as isize * b.cs)
    };
    // Where element (kk, j) goes.
    let index = |kk: usize, j: usize| {
        let (t, jj) = (j / T16, j % T16);
        let (kt, p, e) = (kk / KT, (kk % KT) / 2, kk % 2);
        (t * kts + kt) * TILE + p * 2 * T16 + jj * 2 + e
    };
    if b.cs == 1 {
        // Padding: whole column tiles past nc, and the pair rows past kc of the last k
        // tile; the other tile rows are written whole (64 bytes each) below.
        let written = nc.div_ceil(T16);
        out[written * kts * TILE..].fill(0);
        let last_rows = kc.div_ceil(2) - (kts - 1) * T16;
        for t in 0..written {
            out[(t * kts + kts - 1) * TILE + last_rows * 2 * T16..][..(T16 - last_rows) * 2 * T16]
                .fill(0);
        }
        // Rows contiguous: two rows at a time fill one tile row, interleaved.
        for kk in (0..kc).step_by(2) {
            // SAFETY: rows k0 + kk (and k0 + kk + 1 when inside) from column j0.
            let (r0, r1) = unsafe {
                let r0 = b.ptr.offset((k0 + kk) as isize * b.rs + j0 as isize);
                (r0, (kk + 1 < kc).then(|| r0.offset(b.rs)))
            };
            for t in 0..nc.div_ceil(T16) {
                let cols = (nc - t * T16).min(T16);
                // SAFETY: cols elements of each row from t·16; one 64-byte tile row.
                unsafe {
                    interleave_rows(
                        out[index(kk, t * T16)..].as_mut_ptr(),
                        r0.add(t * T16),
                        r1.map(|r| r.add(t * T16)),
                        cols,
                    )
                };
            }
        }
    } else if b.rs == 1 {
        out.fill(0);
        // Columns contiguous (a transposed view): 32 k of one column are 16 pairs, one
        // 32-bit element in each of a tile's 16 rows.
        for j in 0..nc {
            // SAFETY: column j0 + j from row k0 is kc contiguous elements (rs == 1).
            let col = unsafe { b.ptr.offset((j0 + j) as isize * b.cs + k0 as isize) };
            for kt in 0..kts {
                let len = (kc - kt * KT).min(KT);
                // SAFETY: len elements from kt·32; the pairs go to column j of the tile's
                // 16 rows, 64 bytes apart.
                unsafe {
                    scatter_pairs(out[index(kt * KT, j)..].as_mut_ptr(), col.add(kt * KT), len)
                };
            }
        }
    } else {
        out.fill(0);
        // Neither rows nor columns contiguous: walk each column.
        for j in 0..nc {
            for kk in 0..kc {
                out[index(kk, j)] = to_bf16(at(kk, j));
            }
        }
    }
}

/// `len ≤ 32` f32 values from `src` rounded to bf16 into 64 bytes at `dst` (the rest
/// zero).
///
/// # Safety
/// `src` holds `len` values; `dst` 32 u16; AVX-512 F, BW and BF16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn store_pairs(dst: *mut u16, src: *const f32, len: usize) {
    let (lo, hi) = (mask(len), mask(len.saturating_sub(16)));
    // SAFETY: masked loads read only the len values (caller contract).
    let packed = unsafe {
        _mm512_cvtne2ps_pbh(
            _mm512_maskz_loadu_ps(hi, src.add(16)),
            _mm512_maskz_loadu_ps(lo, src),
        )
    };
    // SAFETY: 64 bytes at dst.
    unsafe { _mm512_storeu_si512(dst.cast(), std::mem::transmute::<__m512bh, __m512i>(packed)) };
}

/// Rounds `cols ≤ 16` values of `r0` and of `r1` (zeros when `None`) to bf16 and stores
/// them interleaved, `(r0[j], r1[j])` for each j, as 64 bytes at `dst`.
///
/// # Safety
/// The rows hold `cols` values; `dst` 32 u16; AVX-512 F, BW and BF16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn interleave_rows(dst: *mut u16, r0: *const f32, r1: Option<*const f32>, cols: usize) {
    let m = mask(cols);
    // SAFETY: masked loads of cols values (caller contract).
    let (v0, v1) = unsafe {
        (
            _mm512_maskz_loadu_ps(m, r0),
            r1.map_or(_mm512_setzero_ps(), |r| _mm512_maskz_loadu_ps(m, r)),
        )
    };
    // Lanes 0..16 hold r0's bf16s, 16..32 r1's; the permutation pairs lane j with 16 + j.
    let halves: __m512i = unsafe { std::mem::transmute(_mm512_cvtne2ps_pbh(v1, v0)) };
    let pairs = _mm512_permutexvar_epi16(interleave_index(), halves);
    // SAFETY: 64 bytes at dst.
    unsafe { _mm512_storeu_si512(dst.cast(), pairs) };
}

/// `len ≤ 32` values of a column rounded to bf16 as 16 pairs, pair p stored as the 32-bit
/// element at `dst + p · 32` (one row of a `B` tile further each).
///
/// # Safety
/// `src` holds `len` values; `dst` is column j of a `B` tile; AVX-512 F, BW and BF16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn scatter_pairs(dst: *mut u16, src: *const f32, len: usize) {
    let (lo, hi) = (mask(len), mask(len.saturating_sub(16)));
    // SAFETY: masked loads of len values (caller contract).
    let packed = unsafe {
        _mm512_cvtne2ps_pbh(
            _mm512_maskz_loadu_ps(hi, src.add(16)),
            _mm512_maskz_loadu_ps(lo, src),
        )
    };
    // Pair p (u32 lane p) goes 2·T16 u16 = 64 bytes further than pair p − 1.
    let offsets = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32(64),
    );
    // SAFETY: the 16 rows of the tile's column (caller contract).
    unsafe {
        _mm512_i32scatter_epi32::<1>(
            dst.cast(),
            offsets,
            std::mem::transmute::<__m512bh, __m512i>(packed),
        )
    };
}

/// The u16 lane order `0, 16, 1, 17, ..., 15, 31`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn interleave_index() -> __m512i {
    let mut idx = [0i16; 32];
    for j in 0..16 {
        idx[2 * j] = j as i16;
        idx[2 * j + 1] = 16 + j as i16;
    }
    // SAFETY: 64 bytes.
    unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
}

/// The mask of the first `len.min(16)` lanes.
#[inline(always)]
fn mask(len: usize) -> u16 {
    if len >= 16 {
        u16::MAX
    } else {
        (1u16 << len) - 1
    }
}
