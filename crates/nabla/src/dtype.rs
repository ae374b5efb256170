//! Element types: `DType` at run time, the `Element` and `Float` traits for generic kernels.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float: the working type.
    F32,
    /// 64-bit float: for gradient checks and reference computations.
    F64,
    /// 64-bit signed integer: indices and class labels (argmax, gather, index_select).
    I64,
    /// bfloat16: f32's 8-bit exponent with a 7-bit mantissa (about 3 significant digits).
    /// Ops run their f32 kernels on upcast inputs and round the result (see `ops/half.rs`).
    BF16,
    /// IEEE half precision: 5-bit exponent (largest value 65504), 10-bit mantissa. Computed
    /// like `BF16`.
    F16,
}

impl DType {
    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::BF16 | DType::F16 => 2,
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }
    /// Whether the dtype is a floating point type (and so can carry gradients).
    pub fn is_float(self) -> bool {
        !matches!(self, DType::I64)
    }
    /// Whether the dtype is a 16-bit float, computed through f32 kernels.
    #[inline(always)]
    pub fn is_half(self) -> bool {
        matches!(self, DType::BF16 | DType::F16)
    }
    /// The short lower-case name PyTorch prints (`f32`, `bf16`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I64 => "i64",
            DType::BF16 => "bf16",
            DType::F16 => "f16",
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DType {
    type Err = crate::Error;
    /// Parses `f32`, `f64`, `i64`, `bf16` or `f16` (as [`DType::name`] prints them).
    fn from_str(s: &str) -> crate::Result<DType> {
        [DType::F32, DType::F64, DType::I64, DType::BF16, DType::F16]
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| crate::Error::UnknownName {
                op: "dtype",
                what: "dtype",
                name: s.to_string(),
                valid: "f32, f64, i64, bf16 or f16",
            })
    }
}

/// A type that can be stored in a tensor.
pub trait Element: Copy + Send + Sync + Debug + PartialOrd + 'static {
    /// The run-time tag of this type.
    const DTYPE: DType;
    /// Converts from `f64` (rounding, or truncating toward zero for integers).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64`.
    fn to_f64(self) -> f64;
}

/// A floating point element: the types every differentiable kernel is written for.
pub trait Float:
    Element
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Negative infinity (the identity of `max`).
    const NEG_INFINITY: Self;
    /// Positive infinity (the identity of `min`).
    const INFINITY: Self;
    /// e^x.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// `self^e`.
    fn powf(self, e: Self) -> Self;
    /// The larger of two values (NaN-propagating like PyTorch's `maximum`).
    fn max(self, o: Self) -> Self;
    /// The smaller of two values (NaN-propagating).
    fn min(self, o: Self) -> Self;
    /// ln(1 + x), accurate near 0.
    fn ln_1p(self) -> Self;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
    /// Whether the value is finite.
    fn is_finite(self) -> bool;
    /// `if take { yes } else { no }` without a branch (a bit mask): for loops over data whose
    /// comparisons the CPU cannot predict.
    fn select(take: bool, yes: Self, no: Self) -> Self;
    /// e^x by a branch-free polynomial that vectorizes (f32: relative error below 2e-7, see
    /// [`crate::cpu::math::exp_f32`]); `exp` itself for f64.
    fn exp_fast(self) -> Self;
    /// The logistic sigmoid `1 / (1 + e^-x)` from [`Float::exp_fast`].
    #[inline(always)]
    fn sigmoid_fast(self) -> Self {
        Self::ONE / (Self::ONE + (-self).exp_fast())
    }
    /// tanh from [`Float::exp_fast`]: `1 - 2 / (e^{2x} + 1)`, and its Taylor series near 0
    /// where that form cancels (f32: absolute error below 3e-7); `tanh` itself for f64.
    fn tanh_fast(self) -> Self;
    /// ln(1 + x) for `x > −1` by a branch-free polynomial that vectorizes (f32: relative
    /// error below 3e-7, see [`crate::cpu::math::ln_1p_f32`]; NaN stays NaN, other values
    /// outside the domain give no meaningful result); `ln_1p` itself for f64.
    fn ln_1p_fast(self) -> Self;
    /// The error function.
    fn erf_value(self) -> Self {
        Self::from_f64(crate::cpu::math::erf(self.to_f64()))
    }
}

macro_rules! impl_element {
    ($t:ty, $variant:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    };
}
impl_element!(f32, F32);
impl_element!(f64, F64);
impl_element!(i64, I64);

macro_rules! impl_half_element {
    ($t:ty, $variant:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
        }
    };
}
impl_half_element!(half::bf16, BF16);
impl_half_element!(half::f16, F16);

macro_rules! impl_float {
    ($t:ident, $bits:ty, $exp_fast:path, $tanh_fast:path, $ln_1p_fast:path) => {
        impl Float for $t {
            #[inline(always)]
            fn exp_fast(self) -> Self {
                $exp_fast(self)
            }
            #[inline(always)]
            fn ln_1p_fast(self) -> Self {
                $ln_1p_fast(self)
            }
            #[inline(always)]
            fn tanh_fast(self) -> Self {
                $tanh_fast(self)
            }
            #[inline(always)]
            fn select(take: bool, yes: Self, no: Self) -> Self {
                let m = (take as $bits).wrapping_neg();
                $t::from_bits((yes.to_bits() & m) | (no.to_bits() & !m))
            }
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = $t::NEG_INFINITY;
            const INFINITY: Self = $t::INFINITY;
            #[inline(always)]
            fn exp(self) -> Self {
                $t::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $t::tanh(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn powf(self, e: Self) -> Self {
                $t::powf(self, e)
            }
            #[inline(always)]
            fn max(self, o: Self) -> Self {
                if self.is_nan() || self > o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn min(self, o: Self) -> Self {
                if self.is_nan() || self < o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
        }
    };
}
impl_float!(
    f32,
    u32,
    crate::cpu::math::exp_f32,
    crate::cpu::math::tanh_f32,
    crate::cpu::math::ln_1p_f32
);
impl_float!(f64, u64, f64::exp, f64::tanh, f64::ln_1p);

/// Runs `$body` with `$T` bound to the Rust type of `F32` or `F64`, or returns
/// [`crate::Error::UnsupportedDType`] for other dtypes. The kernels under it are written for
/// f32/f64 only: half-precision tensors reach them through `ops::half::via_f32` at the op
/// boundary, so a `BF16`/`F16` that gets here means an op lacks that adapter, and the error
/// says which.
macro_rules! with_float {
    ($dtype:expr, $op:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            dtype => return Err($crate::Error::UnsupportedDType { op: $op, dtype }),
        }
    };
}
/// Runs `$body` with `$T` bound to the Rust type of any `DType`.
macro_rules! with_any {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            $crate::DType::F16 => {
                type $T = half::f16;
                $body
            }
        }
    };
}
pub(crate) use with_any;
pub(crate) use with_float;
