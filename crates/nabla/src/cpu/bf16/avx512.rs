//! The AVX-512 BF16 kernel, for CPUs without AMX (AMD Zen 4 and later, Intel Cooper
//! Lake): a 32×32 block of `C` as four bands of 8 rows × 32 columns, each held in 16
//! registers. Per pair of k, one `vdpbf16ps` per row and 16 columns adds
//! `A[i, 2p]·B[2p, j] + A[i, 2p + 1]·B[2p + 1, j]` in f32: twice the multiply-adds of an
//! f32 FMA per instruction.
//!
//! It reads the same packed layouts as the AMX kernel ([`super::pack`]): a row's pair
//! `A[i, 2p..2p + 2]` is one 32-bit broadcast, and row `p` of a `B` tile is one vector.

use super::pack::{KT, T16, TILE};
use std::arch::x86_64::*;

/// Rows of `C` per register band.
const BAND: usize = 8;

/// As [`super::amx::block`], with `C`'s rows `c_stride` *elements* apart.
///
/// # Safety
/// The CPU has AVX-512 F and BF16; the pointers cover the tiles and the 32×32 block.
#[target_feature(enable = "avx512f,avx512bf16")]
pub(crate) unsafe fn block(
    a: *const u16,
    a_next: usize,
    b: *const u16,
    b_next: usize,
    kts: usize,
    c: *mut f32,
    c_stride: usize,
    load: bool,
) {
    for band in 0..2 * T16 / BAND {
        // Rows band·8.. of the 32: in A's first or second row tile.
        let tile = if band < 2 { a } else { a.wrapping_add(a_next) };
        let first_row = (band % 2) * BAND;
        let mut acc = [[_mm512_setzero_ps(); 2]; BAND];
        if load {
            for (i, row) in acc.iter_mut().enumerate() {
                // SAFETY: the block's rows (caller contract).
                let src = unsafe { c.add((band * BAND + i) * c_stride) };
                row[0] = unsafe { _mm512_loadu_ps(src) };
                row[1] = unsafe { _mm512_loadu_ps(src.add(T16)) };
            }
        }
        for kt in 0..kts {
            let (at, b0) = (tile.wrapping_add(kt * TILE), b.wrapping_add(kt * TILE));
            let b1 = b0.wrapping_add(b_next);
            for p in 0..KT / 2 {
                // SAFETY: row p of the two B tiles, 64 bytes each.
                let (v0, v1): (__m512bh, __m512bh) = unsafe {
                    (
                        as_bh(_mm512_loadu_si512(b0.add(p * 2 * T16).cast())),
                        as_bh(_mm512_loadu_si512(b1.add(p * 2 * T16).cast())),
                    )
                };
                for (i, row) in acc.iter_mut().enumerate() {
                    // SAFETY: the pair (2p, 2p + 1) of row first_row + i of the A tile.
                    let pair = unsafe {
                        (at.add((first_row + i) * KT + 2 * p) as *const i32).read_unaligned()
                    };
                    let va = as_bh(_mm512_set1_epi32(pair));
                    row[0] = _mm512_dpbf16_ps(row[0], va, v0);
                    row[1] = _mm512_dpbf16_ps(row[1], va, v1);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            // SAFETY: as the loads.
            let dst = unsafe { c.add((band * BAND + i) * c_stride) };
            unsafe {
                _mm512_storeu_ps(dst, row[0]);
                _mm512_storeu_ps(dst.add(T16), row[1]);
            }
        }
    }
}

/// 32 bf16 values seen as the bf16 vector type (the same 64 bytes).
#[inline(always)]
fn as_bh(v: __m512i) -> __m512bh {
    // SAFETY: both are 64 bytes of plain data.
    unsafe { std::mem::transmute::<__m512i, __m512bh>(v) }
}
