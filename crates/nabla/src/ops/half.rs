//! 16-bit floats (BF16, F16) at the op boundary: an op whose leading input is half precision
//! runs its f32 kernel on upcast copies of its inputs and rounds its result back.
//!
//! This is the one mechanism every op uses for BF16/F16 (each primitive op starts with
//! [`half_via_f32!`]); the kernels under `with_float!` stay f32/f64 only, so the f32 path
//! pays one dtype comparison and nothing else. Accumulation happens in f32 (sums, matmul and
//! convolution run in f32 and are rounded once), which is what "mixed precision" kernels do
//! too; speed (bf16 kernels that skip the copies) is a later kernel's business.
//!
//! Autograd flows through the casts: the upcast and the rounding are recorded `to_dtype`
//! ops, whose gradient rule casts the gradient back, so the op's own f32 backward rule
//! runs unchanged and a half-precision leaf receives a half-precision gradient.

use crate::{DType, Error, Result, Tensor};

/// The inputs of an op, as the adapter sees them: tensors, optional tensors, and tuples of
/// them. `up` gives the same structure with every half-precision tensor cast to f32.
pub(crate) trait Inputs {
    /// The same inputs, owned, in f32.
    type F32;
    /// Checks that every float input has the dtype `half`, then casts them to f32.
    fn up(self, half: DType, op: &'static str) -> Result<Self::F32>;
}

impl Inputs for &Tensor {
    type F32 = Tensor;
    fn up(self, half: DType, op: &'static str) -> Result<Tensor> {
        match self.dtype() {
            d if d == half => self.to_dtype(DType::F32),
            DType::I64 => Ok(self.clone()),
            got => Err(Error::DType {
                op,
                expected: half,
                got,
            }),
        }
    }
}

impl Inputs for Option<&Tensor> {
    type F32 = Option<Tensor>;
    fn up(self, half: DType, op: &'static str) -> Result<Option<Tensor>> {
        self.map(|t| t.up(half, op)).transpose()
    }
}

impl Inputs for &[&Tensor] {
    type F32 = Vec<Tensor>;
    fn up(self, half: DType, op: &'static str) -> Result<Vec<Tensor>> {
        self.iter().map(|t| t.up(half, op)).collect()
    }
}

macro_rules! tuple_inputs {
    ($($name:ident),+) => {
        impl<$($name: Inputs),+> Inputs for ($($name,)+) {
            type F32 = ($($name::F32,)+);
            #[allow(non_snake_case)]
            fn up(self, half: DType, op: &'static str) -> Result<Self::F32> {
                let ($($name,)+) = self;
                Ok(($($name.up(half, op)?,)+))
            }
        }
    };
}
tuple_inputs!(A);
tuple_inputs!(A, B);
tuple_inputs!(A, B, C);
tuple_inputs!(A, B, C, D);
tuple_inputs!(A, B, C, D, E);
tuple_inputs!(A, B, C, D, E, F);

/// An op's result, rounded back to the half dtype: f32 tensors are cast, integer tensors
/// (argmax, indices) and plain values pass through.
pub(crate) trait Rounded: Sized {
    /// The result with its f32 tensors cast to `half`.
    fn round_to(self, half: DType) -> Result<Self>;
}

impl Rounded for Tensor {
    fn round_to(self, half: DType) -> Result<Tensor> {
        if self.dtype() == DType::F32 {
            self.to_dtype(half)
        } else {
            Ok(self)
        }
    }
}

impl Rounded for bool {
    fn round_to(self, _: DType) -> Result<bool> {
        Ok(self)
    }
}

impl<T: Rounded> Rounded for Vec<T> {
    fn round_to(self, half: DType) -> Result<Vec<T>> {
        self.into_iter().map(|t| t.round_to(half)).collect()
    }
}

impl<A: Rounded, B: Rounded> Rounded for (A, B) {
    fn round_to(self, half: DType) -> Result<(A, B)> {
        Ok((self.0.round_to(half)?, self.1.round_to(half)?))
    }
}

/// Runs `op` on f32 copies of `inputs` and rounds the result to `lead`, when `lead` (the
/// op's leading input's dtype) is BF16 or F16; `None` otherwise, and then the caller goes
/// on with its own kernels. Every other float input must have `lead`'s dtype.
#[inline(always)]
pub(crate) fn via_f32<I: Inputs, R: Rounded>(
    name: &'static str,
    lead: DType,
    inputs: I,
    op: impl FnOnce(I::F32) -> Result<R>,
) -> Option<Result<R>> {
    if lead.is_half() {
        Some(run(name, lead, inputs, op))
    } else {
        None
    }
}

#[inline(never)]
fn run<I: Inputs, R: Rounded>(
    name: &'static str,
    half: DType,
    inputs: I,
    op: impl FnOnce(I::F32) -> Result<R>,
) -> Result<R> {
    op(inputs.up(half, name)?)?.round_to(half)
}

/// At the top of an op: when the leading input is BF16/F16, returns the op computed on f32
/// copies and rounded back ([`via_f32`]). `half_via_f32!(name, lead, inputs, |f32 inputs| op)`.
macro_rules! half_via_f32 {
    ($name:expr, $lead:expr, $inputs:expr, $op:expr) => {
        if let Some(result) = $crate::ops::half::via_f32($name, $lead.dtype(), $inputs, $op) {
            return result;
        }
    };
}
pub(crate) use half_via_f32;
