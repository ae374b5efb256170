//! Products in bf16: f32 operands rounded to bf16 as they are packed, multiplied with the
//! processor's bf16 instructions and summed in f32, into an f32 result. This is what
//! PyTorch's CPU autocast does (through oneDNN) for matmul, linear and convolutions.
//!
//! Three paths, chosen once per process ([`path`]):
//! - [`Path::Amx`]: AMX tiles (`tdpbf16ps`), Intel Sapphire Rapids and later;
//! - [`Path::Avx512Bf16`]: `vdpbf16ps` on AVX-512 registers, AMD Zen 4 and later, Intel
//!   Cooper Lake;
//! - [`Path::Fallback`]: both operands rounded to bf16 values in f32 buffers, then the f32
//!   product. Same inputs to the products, so the same results up to the order of the sums.
//!
//! `NABLA_BF16=avx512|fallback` caps the choice, to compare the paths.

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod convert;
mod pack;

pub(crate) use convert::round_to_bf16;

use super::gemm::MatRef;
use crate::storage::{alloc, recycle};
use std::cell::RefCell;
use std::sync::OnceLock;

/// How this process computes bf16 products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// AMX tiles (`tdpbf16ps`).
    Amx,
    /// AVX-512 BF16 (`vdpbf16ps`).
    Avx512Bf16,
    /// f32 products of operands rounded to bf16.
    Fallback,
}

impl Path {
    /// How benchmark tables name the path.
    pub fn name(self) -> &'static str {
        match self {
            Path::Amx => "AMX",
            Path::Avx512Bf16 => "AVX-512 BF16",
            Path::Fallback => "fallback (f32 products of bf16-rounded operands)",
        }
    }
}

/// The path of this CPU (detected once; AMX also needs the OS to grant its registers).
pub fn path() -> Path {
    static PATH: OnceLock<Path> = OnceLock::new();
    *PATH.get_or_init(|| {
        let cap = std::env::var("NABLA_BF16").unwrap_or_default();
        let found = detect();
        match (cap.as_str(), found) {
            ("fallback", _) => Path::Fallback,
            ("avx512", Path::Amx) => Path::Avx512Bf16,
            _ => found,
        }
    })
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Path {
    use std::arch::is_x86_feature_detected as has;
    use std::arch::x86_64::__cpuid_count;
    // Both kernels pack with AVX-512 BW and BF16 (every CPU with AMX has them).
    if !(has!("avx512f") && has!("avx512bw") && has!("avx512bf16")) {
        return Path::Fallback;
    }
    // CPUID leaf 7: EDX bit 22 is AMX-BF16 and bit 24 AMX-TILE (no stable feature names).
    let edx = __cpuid_count(7, 0).edx;
    let amx = edx & (1 << 22) != 0 && edx & (1 << 24) != 0;
    if amx && amx::request_permission() {
        Path::Amx
    } else {
        Path::Avx512Bf16
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Path {
    Path::Fallback
}

/// Depth of one packed block. Each block adds its products into `C` once, so shallow blocks
/// cost `C`'s traffic many times: at 1024³ on one thread (AMX) 512-deep blocks ran at 263
/// GFLOP/s and 1024-deep ones at 324. Deeper blocks cost packing memory (`m × 2048` bf16).
const KC: usize = 2048;

thread_local! {
    /// Each thread's packing buffers (`A` block, `B` block), kept between products.
    static SCRATCH: RefCell<(Vec<u16>, Vec<u16>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// One thread's `dst[m, n] = (accumulate ? dst : 0) + bf16(lhs) · bf16(rhs)`, summed in f32.
///
/// # Safety
/// As [`super::gemm::gemm`]; `k > 0`.
pub(crate) unsafe fn gemm_block(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    accumulate: bool,
    lhs: MatRef<f32>,
    rhs: MatRef<f32>,
) {
    match path() {
        // SAFETY: forwarded.
        Path::Fallback => unsafe { fallback(m, n, k, dst, dst_rs, accumulate, lhs, rhs) },
        #[cfg(target_arch = "x86_64")]
        tiled => unsafe {
            packed(
                tiled,
                m,
                n,
                k,
                dst,
                dst_rs,
                accumulate,
                Left::Strided(lhs),
                rhs,
            )
        },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("no bf16 kernels on this architecture"),
    }
}

/// A left operand packed once into the kernels' layout, for many products with it: a
/// convolution's weight, which every chunk of images multiplies.
pub(crate) struct PackedLeft {
    m: usize,
    k: usize,
    row_tiles: usize,
    /// The depth blocks of [`KC`] one after the other, each `row_tiles × kts` tiles.
    tiles: Vec<u16>,
}

impl PackedLeft {
    /// `a [m, k]` packed; `None` on the fallback path, which has no packed layout.
    pub(crate) fn new(a: MatRef<f32>, m: usize, k: usize) -> Option<PackedLeft> {
        #[cfg(target_arch = "x86_64")]
        if path() != Path::Fallback && m > 0 && k > 0 {
            let row_tiles = m.div_ceil(32) * 2;
            let mut tiles = vec![0u16; row_tiles * k.div_ceil(pack::KT) * pack::TILE];
            for k0 in (0..k).step_by(KC) {
                let at = row_tiles * (k0 / pack::KT) * pack::TILE;
                // SAFETY: `a` covers m × k (caller's view); AVX-512 BF16 comes with the path.
                unsafe { pack::pack_a(a, m, k0, (k - k0).min(KC), row_tiles, &mut tiles[at..]) };
            }
            return Some(PackedLeft {
                m,
                k,
                row_tiles,
                tiles,
            });
        }
        let _ = (a, m, k);
        None
    }

    /// Bytes of the packed tiles.
    pub(crate) fn bytes(&self) -> usize {
        self.tiles.len() * 2
    }
}

/// The left operand of [`packed`]: a strided f32 view packed on the way, or packed before.
#[derive(Clone, Copy)]
enum Left<'a> {
    Strided(MatRef<f32>),
    Packed(&'a PackedLeft),
}

/// `dst[m, n] = (accumulate ? dst : 0) + a · bf16(rhs)` with `a` packed before, on the
/// rayon pool when `parallel` (bands of columns).
///
/// # Safety
/// As [`super::gemm::gemm`], with `m` and `k` those of `a`; the path is not the fallback
/// (`a` exists).
pub(crate) unsafe fn gemm_packed(
    a: &PackedLeft,
    n: usize,
    dst: *mut f32,
    dst_rs: isize,
    accumulate: bool,
    rhs: MatRef<f32>,
    parallel: bool,
) {
    #[cfg(target_arch = "x86_64")]
    {
        use rayon::prelude::*;
        let threads = if parallel && a.m * n * a.k >= super::gemm::PAR_MIN_FLOPS && n >= 64 {
            rayon::current_num_threads()
        } else {
            1
        };
        let band = n.div_ceil(threads).next_multiple_of(32);
        let dst = super::SharedOut(dst);
        (0..n.div_ceil(band)).into_par_iter().for_each(|t| {
            let (mut rhs, dst) = (rhs, &dst);
            let (j0, j1) = (t * band, ((t + 1) * band).min(n));
            rhs.ptr = rhs.ptr.wrapping_offset(j0 as isize * rhs.cs);
            // SAFETY: disjoint column bands of dst; the rest as the caller's contract.
            unsafe {
                packed(
                    path(),
                    a.m,
                    j1 - j0,
                    a.k,
                    dst.0.wrapping_add(j0),
                    dst_rs,
                    accumulate,
                    Left::Packed(a),
                    rhs,
                )
            };
        });
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (a, n, dst, dst_rs, accumulate, rhs, parallel);
        unreachable!("no packed operands without the bf16 kernels");
    }
}

/// [`gemm_block`] through the packed layouts and the AMX or AVX-512 BF16 kernel.
///
/// # Safety
/// As [`gemm_block`]; the CPU has `path`'s instructions.
#[cfg(target_arch = "x86_64")]
unsafe fn packed(
    path: Path,
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    accumulate: bool,
    lhs: Left,
    rhs: MatRef<f32>,
) {
    use pack::{pack_a, pack_b, KT, TILE};
    const BLOCK: usize = 32;
    let row_tiles = m.div_ceil(BLOCK) * 2;
    let depth = k.min(KC).next_multiple_of(KT);
    SCRATCH.with(|scratch| {
        let (abuf, bbuf) = &mut *scratch.borrow_mut();
        abuf.resize(abuf.len().max(row_tiles * 16 * depth), 0);
        bbuf.resize(bbuf.len().max(BLOCK * depth), 0);
        if path == Path::Amx {
            // SAFETY: path() found AMX and the OS granted it.
            unsafe { amx::configure() };
        }
        // A block of C that is not whole inside dst goes through here.
        let mut edge = [0f32; BLOCK * BLOCK];
        for k0 in (0..k).step_by(KC) {
            let kc = (k - k0).min(KC);
            let kts = kc.div_ceil(KT);
            // SAFETY: the operand ranges are inside lhs and rhs (caller contract); AVX-512 F,
            // BW and BF16 come with both paths.
            let a_block: &[u16] = match lhs {
                Left::Strided(lhs) => {
                    unsafe { pack_a(lhs, m, k0, kc, row_tiles, abuf) };
                    abuf
                }
                Left::Packed(p) => &p.tiles[p.row_tiles * (k0 / KT) * TILE..],
            };
            let load = accumulate || k0 > 0;
            for j0 in (0..n).step_by(BLOCK) {
                let nc = (n - j0).min(BLOCK);
                unsafe { pack_b(rhs, k0, kc, j0, nc, 2, bbuf) };
                for i0 in (0..m).step_by(BLOCK) {
                    let mr = (m - i0).min(BLOCK);
                    let whole = mr == BLOCK && nc == BLOCK;
                    // SAFETY: (i0, j0) is inside dst.
                    let corner = unsafe { dst.offset(i0 as isize * dst_rs + j0 as isize) };
                    let (c, c_rs) = if whole {
                        (corner, dst_rs as usize)
                    } else {
                        if load {
                            for r in 0..mr {
                                // SAFETY: row r of the block, nc elements inside dst.
                                let src = unsafe {
                                    std::slice::from_raw_parts(
                                        corner.offset(r as isize * dst_rs),
                                        nc,
                                    )
                                };
                                edge[r * BLOCK..][..nc].copy_from_slice(src);
                            }
                        }
                        (edge.as_mut_ptr(), BLOCK)
                    };
                    let a = a_block[(i0 / 16) * kts * TILE..].as_ptr();
                    let next = kts * TILE;
                    if i0 + 2 * BLOCK <= m && j0 + BLOCK <= n {
                        // The next block's rows of C, which its tile loads and stores would
                        // otherwise wait for one by one (rows of a wide C are far apart: a
                        // convolution's weight gradient accumulates into 512 × 4608).
                        for r in 0..BLOCK {
                            let row = corner.wrapping_offset((BLOCK + r) as isize * dst_rs);
                            prefetch_row(row, load);
                        }
                    }
                    // SAFETY: the packed tiles of this block and a 32×32 block of C.
                    unsafe {
                        match path {
                            Path::Amx => {
                                amx::block(a, next, bbuf.as_ptr(), next, kts, c, c_rs * 4, load)
                            }
                            _ => avx512::block(a, next, bbuf.as_ptr(), next, kts, c, c_rs, load),
                        }
                    }
                    if !whole {
                        for r in 0..mr {
                            // SAFETY: as the copy in.
                            let out = unsafe {
                                std::slice::from_raw_parts_mut(
                                    corner.offset(r as isize * dst_rs),
                                    nc,
                                )
                            };
                            out.copy_from_slice(&edge[r * BLOCK..][..nc]);
                        }
                    }
                }
            }
        }
        if path == Path::Amx {
            // SAFETY: configured above.
            unsafe { amx::release() };
        }
    });
}

/// Asks for the 128 bytes (one 32-column row of a block of C) at `row`, to be written
/// (and read first when `read`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch_row(row: *const f32, read: bool) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0, _MM_HINT_T0};
    let (a, b) = (row.cast::<i8>(), row.wrapping_add(16).cast::<i8>());
    // SAFETY: prefetches never fault, whatever the address.
    unsafe {
        if read {
            _mm_prefetch::<_MM_HINT_T0>(a);
            _mm_prefetch::<_MM_HINT_T0>(b);
        } else {
            _mm_prefetch::<_MM_HINT_ET0>(a);
            _mm_prefetch::<_MM_HINT_ET0>(b);
        }
    }
}

/// [`gemm_block`] without bf16 instructions: both operands rounded to bf16 values in f32
/// buffers, then the f32 product.
///
/// # Safety
/// As [`gemm_block`].
unsafe fn fallback(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    accumulate: bool,
    lhs: MatRef<f32>,
    rhs: MatRef<f32>,
) {
    let rounded = |x: MatRef<f32>, rows: usize, cols: usize| {
        let mut out = alloc::<f32>(rows * cols);
        for (i, row) in out.chunks_mut(cols).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                // SAFETY: (i, j) inside the operand (caller contract).
                *v = round_to_bf16(unsafe { *x.ptr.offset(i as isize * x.rs + j as isize * x.cs) });
            }
        }
        out
    };
    let (a, b) = (rounded(lhs, m, k), rounded(rhs, k, n));
    let (ar, br) = (
        MatRef {
            ptr: a.as_ptr(),
            rs: k as isize,
            cs: 1,
        },
        MatRef {
            ptr: b.as_ptr(),
            rs: n as isize,
            cs: 1,
        },
    );
    // SAFETY: the rounded copies have the shapes given; dst as the caller's.
    unsafe { super::gemm::gemm_block(m, n, k, dst, dst_rs, accumulate, ar, br) };
    recycle(a);
    recycle(b);
}

#[cfg(test)]
mod tests;

#[cfg(all(test, target_arch = "x86_64"))]
mod timing;
