//! The AMX kernel: a 32×32 block of `C` as four 16×16 f32 tiles, each k step two `A` tiles
//! and two `B` tiles (from [`super::pack`]) and four `tdpbf16ps`, which each add a 16×32 by
//! 32×16 bf16 product (8,192 multiply-adds) into a tile.
//!
//! The instructions are written as inline assembly: Rust has no stable AMX intrinsics.
//! The tile registers are invisible to the compiler, so they keep their values from one
//! `asm!` block to the next as long as nothing in between is a call.
//!
//! Linux gives a process the (8 KiB) AMX register state only on request
//! (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`); [`request_permission`] asks once.

use super::pack::{T16, TILE};
use std::arch::asm;

/// Asks Linux for the AMX tile state. Returns whether it was granted (false on other
/// systems and old kernels, and then the caller must not use AMX).
pub(crate) fn request_permission() -> bool {
    #[cfg(target_os = "linux")]
    {
        const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
        const XFEATURE_XTILEDATA: i64 = 18;
        const SYS_ARCH_PRCTL: i64 = 158;
        let ret: i64;
        // SAFETY: arch_prctl with this request only changes which register state the
        // kernel keeps for the process; it reads and writes no memory of ours.
        unsafe {
            asm!(
                "syscall",
                inlateout("rax") SYS_ARCH_PRCTL => ret,
                in("rdi") ARCH_REQ_XCOMP_PERM,
                in("rsi") XFEATURE_XTILEDATA,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// The tile configuration: palette 1, all eight tiles 16 rows of 64 bytes.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl TileConfig {
    fn all_full() -> Self {
        let mut cfg = [0u8; 64];
        cfg[0] = 1;
        for t in 0..8 {
            // Bytes per row (u16, little-endian) at 16 + 2t, rows at 48 + t.
            cfg[16 + 2 * t] = 64;
            cfg[48 + t] = T16 as u8;
        }
        TileConfig(cfg)
    }
}

/// Loads the tile configuration on this thread; [`release`] ends the AMX section.
///
/// # Safety
/// The CPU has AMX-BF16 and [`request_permission`] returned true.
pub(crate) unsafe fn configure() {
    let cfg = TileConfig::all_full();
    // SAFETY: a valid 64-byte configuration (caller contract for the CPU).
    unsafe { asm!("ldtilecfg [{0}]", in(reg) cfg.0.as_ptr(), options(nostack, readonly)) };
}

/// Returns the tiles to their initial state, so that the OS need not save them.
///
/// # Safety
/// As [`configure`].
pub(crate) unsafe fn release() {
    // SAFETY: caller contract.
    unsafe { asm!("tilerelease", options(nostack, nomem)) };
}

/// `C[32, 32] (+)= A[32, 32·kts] · B[32·kts, 32]` with `A`'s two row tiles at `a` and
/// `a + a_next` (each `kts` consecutive tiles) and `B`'s two column tiles at `b` and
/// `b + b_next`; `C` at `c` with rows `c_stride` bytes apart, read first when `load`.
///
/// # Safety
/// [`configure`] ran on this thread; the pointers cover the tiles and the 32×32 block.
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
    let (c1, c2) = (c.wrapping_byte_add(64), c.wrapping_byte_add(16 * c_stride));
    let c3 = c2.wrapping_byte_add(64);
    // SAFETY: caller contract; tiles 0–3 hold C.
    unsafe {
        if load {
            asm!(
                "tileloadd tmm0, [{c0} + {s}*1]",
                "tileloadd tmm1, [{c1} + {s}*1]",
                "tileloadd tmm2, [{c2} + {s}*1]",
                "tileloadd tmm3, [{c3} + {s}*1]",
                c0 = in(reg) c, c1 = in(reg) c1, c2 = in(reg) c2, c3 = in(reg) c3,
                s = in(reg) c_stride,
                options(nostack, readonly),
            );
        } else {
            asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                options(nostack, nomem),
            );
        }
        for kt in 0..kts {
            let (a0, b0) = (a.add(kt * TILE), b.add(kt * TILE));
            asm!(
                "tileloadd tmm4, [{a0} + {s}*1]",
                "tileloadd tmm6, [{b0} + {s}*1]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tileloadd tmm7, [{b1} + {s}*1]",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tileloadd tmm5, [{a1} + {s}*1]",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                a0 = in(reg) a0, a1 = in(reg) a0.add(a_next),
                b0 = in(reg) b0, b1 = in(reg) b0.add(b_next),
                s = in(reg) 64usize,
                options(nostack, readonly),
            );
        }
        asm!(
            "tilestored [{c0} + {s}*1], tmm0",
            "tilestored [{c1} + {s}*1], tmm1",
            "tilestored [{c2} + {s}*1], tmm2",
            "tilestored [{c3} + {s}*1], tmm3",
            c0 = in(reg) c, c1 = in(reg) c1, c2 = in(reg) c2, c3 = in(reg) c3,
            s = in(reg) c_stride,
            options(nostack),
        );
    }
}
