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
    } else if a.rs == 1 {
        // Columns contiguous (a transposed view): each pair of columns (k, k + 1) of a
        // 16-row band, rounded and interleaved, gives the band's 16 pairs of that k; 16 such
        // registers transposed are the tile's 16 rows.
        for t in 0..row_tiles {
            let rows = m.saturating_sub(t * T16).min(T16);
            for kt in 0..kts {
                let mut pairs = [_mm512_setzero_si512(); T16];
                for (p, pair) in pairs.iter_mut().enumerate() {
                    let c = kt * KT + 2 * p;
                    if rows == 0 || c >= kc {
                        break;
                    }
                    // SAFETY: columns k0 + c (and k0 + c + 1 when inside), rows t·16.. of a
                    // column-contiguous view (rs == 1).
                    let col = |c: usize| unsafe {
                        a.ptr.offset((k0 + c) as isize * a.cs + (t * T16) as isize)
                    };
                    *pair = unsafe { interleave(col(c), (c + 1 < kc).then(|| col(c + 1)), rows) };
                }
                transpose16(&mut pairs);
                let tile = &mut out[(t * kts + kt) * TILE..][..TILE];
                for (r, row) in pairs.iter().enumerate() {
                    // SAFETY: row r of the tile, 64 bytes.
                    unsafe { _mm512_storeu_si512(tile[r * KT..].as_mut_ptr().cast(), *row) };
                }
            }
        }
    } else {
        // Neither rows nor columns contiguous: walk each column of a 16-row band.
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
                    let row = interleave(r0.add(t * T16), r1.map(|r| r.add(t * T16)), cols);
                    _mm512_storeu_si512(out[index(kk, t * T16)..].as_mut_ptr().cast(), row)
                };
            }
        }
    } else if b.rs == 1 {
        // Columns contiguous (a transposed view): 32 k of one column are 16 pairs, one
        // 32-bit element in each of a tile's 16 rows. Sixteen columns' pairs are rounded
        // into 16 registers and transposed, so that each becomes one tile row.
        for t in 0..col_tiles {
            let cols = nc.saturating_sub(t * T16).min(T16);
            for kt in 0..kts {
                let len = (kc - kt * KT).min(KT);
                let mut rows = [_mm512_setzero_si512(); T16];
                for (j, row) in rows.iter_mut().enumerate().take(cols) {
                    // SAFETY: column j0 + t·16 + j from row k0 + kt·32: len contiguous
                    // elements (rs == 1).
                    let col = unsafe {
                        b.ptr
                            .offset((j0 + t * T16 + j) as isize * b.cs + (k0 + kt * KT) as isize)
                    };
                    *row = unsafe { round_pairs(col, len) };
                }
                transpose16(&mut rows);
                let tile = &mut out[(t * kts + kt) * TILE..][..TILE];
                for (p, row) in rows.iter().enumerate() {
                    // SAFETY: row p of the tile, 64 bytes.
                    unsafe { _mm512_storeu_si512(tile[p * 2 * T16..].as_mut_ptr().cast(), *row) };
                }
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

/// `n ≤ 16` values of `c0` and of `c1` (zeros when `None`) rounded to bf16 and
/// interleaved, `(c0[i], c1[i])` in 32-bit lane `i`: two rows of `B` become one tile row,
/// two columns of a transposed `A` one register of pairs.
///
/// # Safety
/// The columns hold `rows` values; AVX-512 F, BW and BF16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn interleave(c0: *const f32, c1: Option<*const f32>, n: usize) -> __m512i {
    let m = mask(n);
    // SAFETY: masked loads of n values (caller contract).
    let (v0, v1) = unsafe {
        (
            _mm512_maskz_loadu_ps(m, c0),
            c1.map_or(_mm512_setzero_ps(), |c| _mm512_maskz_loadu_ps(m, c)),
        )
    };
    // SAFETY: the same 64 bytes.
    let halves = unsafe { std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(v1, v0)) };
    _mm512_permutexvar_epi16(interleave_index(), halves)
}

/// `len ≤ 32` values from `src` rounded to bf16: 16 pairs, one per 32-bit lane (zeros
/// past `len`).
///
/// # Safety
/// `src` holds `len` values; AVX-512 F, BW and BF16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn round_pairs(src: *const f32, len: usize) -> __m512i {
    let (lo, hi) = (mask(len), mask(len.saturating_sub(16)));
    // SAFETY: masked loads of len values (caller contract).
    let packed = unsafe {
        _mm512_cvtne2ps_pbh(
            _mm512_maskz_loadu_ps(hi, src.add(16)),
            _mm512_maskz_loadu_ps(lo, src),
        )
    };
    // SAFETY: the same 64 bytes.
    unsafe { std::mem::transmute::<__m512bh, __m512i>(packed) }
}

/// Transposes 16 rows of 16 32-bit elements in registers: element `c` of row `r` becomes
/// element `r` of row `c`. Four rounds, each pairing rows `2^k` apart: 32-bit and 64-bit
/// unpacks within 128-bit lanes, then two rounds of 128-bit lane shuffles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn transpose16(r: &mut [__m512i; 16]) {
    let mut t = [_mm512_setzero_si512(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for i in 0..4 {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for i in 0..2 {
        for j in 0..4 {
            t[8 * i + j] = _mm512_shuffle_i32x4::<0x88>(r[8 * i + j], r[8 * i + j + 4]);
            t[8 * i + j + 4] = _mm512_shuffle_i32x4::<0xdd>(r[8 * i + j], r[8 * i + j + 4]);
        }
    }
    for j in 0..8 {
        r[j] = _mm512_shuffle_i32x4::<0x88>(t[j], t[j + 8]);
        r[j + 8] = _mm512_shuffle_i32x4::<0xdd>(t[j], t[j + 8]);
    }
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

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn transpose16_transposes() {
        if !crate::testing::runs_here(
            std::arch::is_x86_feature_detected!("avx512f"),
            "transpose16_transposes",
            "AVX-512 F",
        ) {
            return;
        }
        let mut m = [0i32; 256];
        for (i, v) in m.iter_mut().enumerate() {
            *v = i as i32;
        }
        // SAFETY: AVX-512 F checked above; 16 rows of 64 bytes.
        let out = unsafe {
            let mut rows = [_mm512_setzero_si512(); 16];
            for (r, row) in rows.iter_mut().enumerate() {
                *row = _mm512_loadu_si512(m[r * 16..].as_ptr().cast());
            }
            transpose16(&mut rows);
            let mut out = [0i32; 256];
            for (r, row) in rows.iter().enumerate() {
                _mm512_storeu_si512(out[r * 16..].as_mut_ptr().cast(), *row);
            }
            out
        };
        for r in 0..16 {
            for c in 0..16 {
                assert_eq!(out[r * 16 + c], m[c * 16 + r], "({r}, {c})");
            }
        }
    }
}
