//! Hot loops compiled for the widest vectors the CPU has, chosen at run time.
//!
//! nabla builds for baseline x86-64 (SSE2, 4 lanes of f32, no FMA), so that one binary runs
//! everywhere. [`multiversion!`] compiles a loop body three times — for AVX-512, for
//! AVX2 with FMA and for the baseline — and calls the best one the CPU supports. The body is
//! plain Rust that the compiler vectorizes (no intrinsics), so all three give the same
//! results up to the rounding of fused multiply-adds.

use std::sync::OnceLock;

/// The instruction sets a [`multiversion!`] function may be compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// AVX-512 F/DQ with AVX2 and FMA.
    Avx512,
    /// AVX2 with FMA.
    Avx2,
    /// Whatever the build targets (baseline x86-64, or another architecture).
    Baseline,
}

/// The best level this CPU supports (detected once). `NABLA_SIMD=baseline|avx2` caps it, to
/// compare the variants.
pub(crate) fn level() -> Level {
    #[cfg(test)]
    if let Some(forced) = FORCED.with(std::cell::Cell::get) {
        return forced.min_with(detected());
    }
    detected()
}

/// Whether kernels written with AVX-512 intrinsics (not [`multiversion!`]) may run: an
/// x86-64 CPU at [`Level::Avx512`], which `NABLA_SIMD` can lower. Callers keep a portable
/// path for when it is false.
pub(crate) fn avx512_kernels() -> bool {
    cfg!(target_arch = "x86_64") && level() == Level::Avx512
}

fn detected() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = std::env::var("NABLA_SIMD").unwrap_or_default();
        let found = detect();
        match (cap.as_str(), found) {
            ("baseline", _) => Level::Baseline,
            ("avx2", Level::Avx512) => Level::Avx2,
            _ => found,
        }
    })
}

impl Level {
    /// The lower of two levels (what a CPU with `other` can run of `self`).
    #[cfg(test)]
    fn min_with(self, other: Level) -> Level {
        let rank = |l: Level| match l {
            Level::Baseline => 0,
            Level::Avx2 => 1,
            Level::Avx512 => 2,
        };
        if rank(self) <= rank(other) {
            self
        } else {
            other
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Tests run a multiversioned function at a chosen level on this thread.
    static FORCED: std::cell::Cell<Option<Level>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with [`multiversion!`] functions called on this thread capped at `level`.
#[cfg(test)]
pub(crate) fn with_level<R>(level: Level, f: impl FnOnce() -> R) -> R {
    let before = FORCED.with(|c| c.replace(Some(level)));
    let out = f();
    FORCED.with(|c| c.set(before));
    out
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    use std::arch::is_x86_feature_detected as has;
    if has!("avx512f") && has!("avx512dq") && has!("avx2") && has!("fma") {
        Level::Avx512
    } else if has!("avx2") && has!("fma") {
        Level::Avx2
    } else {
        Level::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Baseline
}

/// Runs `f` compiled for the best [`Level`] the CPU supports: `f` (and what it calls, once
/// the compiler inlines it) is compiled into one copy per level, like a [`multiversion!`]
/// body. For loops written as closures over a caller's closure (the element-wise maps),
/// which a `multiversion!` function cannot take.
///
/// Mark the closure `#[inline(always)]`: without it LLVM may leave a larger closure out of
/// line, compiled for the baseline, and the dispatch buys nothing.
///
/// ```
/// let (w, g) = (vec![1.0f32; 1000], vec![0.5f32; 1000]);
/// let mut out = vec![0.0f32; 1000];
/// nabla::vectorized(
///     #[inline(always)]
///     || {
///         for ((o, &w), &g) in out.iter_mut().zip(&w).zip(&g) {
///             *o = w - 0.1 * g;
///         }
///     },
/// );
/// assert_eq!(out[999], 0.95);
/// ```
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
        unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        match level() {
            // SAFETY: level() checked that the CPU has these features.
            Level::Avx512 => return unsafe { avx512(f) },
            // SAFETY: as above.
            Level::Avx2 => return unsafe { avx2(f) },
            Level::Baseline => {}
        }
    }
    f()
}

/// Defines `fn name<T: Float>(args)` whose body is compiled for each [`Level`] and
/// dispatched at run time. The body must be safe code; arguments are passed by value.
///
/// ```ignore
/// multiversion! {
///     /// Doc comment.
///     fn scale<T: Float>(x: &mut [T], k: T) {
///         x.iter_mut().for_each(|v| *v = *v * k);
///     }
/// }
/// ```
macro_rules! multiversion {
    ($(#[$attr:meta])* $vis:vis fn $name:ident<$t:ident: Float>($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$attr])*
        $vis fn $name<$t: $crate::dtype::Float>($($arg: $ty),*) {
            #[inline(always)]
            fn body<$t: $crate::dtype::Float>($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
                unsafe fn avx512<$t: $crate::dtype::Float>($($arg: $ty),*) {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<$t: $crate::dtype::Float>($($arg: $ty),*) {
                    body($($arg),*)
                }
                match $crate::cpu::simd::level() {
                    // SAFETY: level() checked that the CPU has these features.
                    $crate::cpu::simd::Level::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::cpu::simd::Level::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::cpu::simd::Level::Baseline => {}
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use multiversion;

#[cfg(test)]
mod tests {
    use super::{with_level, Level};

    multiversion! {
        /// A loop with a transcendental function, as the recurrent cells have.
        fn sigmoid_all<T: Float>(x: &[T], out: &mut [T]) {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = v.sigmoid_fast();
            }
        }
    }

    #[test]
    fn every_variant_computes_correct_values() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.037).collect();
        for level in [Level::Baseline, Level::Avx2, Level::Avx512] {
            let mut out = vec![0.0f32; x.len()];
            with_level(level, || sigmoid_all(&x, &mut out));
            for (&v, &o) in x.iter().zip(&out) {
                let want = 1.0 / (1.0 + (-(v as f64)).exp());
                assert!(
                    (o as f64 - want).abs() < 1e-6,
                    "{level:?}: sigmoid({v}) = {o}, want {want}"
                );
            }
        }
    }
}
