//! The copy and cast kernel families at the tensor level: row-major copies of strided
//! views, concatenation, constant padding and dtype conversion, over `cpu::copy`.

use crate::cpu::copy as cpu;
use crate::dtype::{with_any, Element};
use crate::layout::Layout;
use crate::storage::alloc;
use crate::{DType, Result, Shape, Tensor};

/// A row-major copy of `x` (any layout).
pub(crate) fn contiguous(x: &Tensor, op: &'static str) -> Result<Tensor> {
    with_any!(x.dtype(), T => Ok(Tensor::from_data(x.contiguous_vec::<T>(op)?, x.shape().clone())))
}

/// The tensors (one dtype, shapes equal but along `d`) one after another along `d`, as a
/// tensor of `shape`.
pub(crate) fn concat(
    tensors: &[&Tensor],
    d: usize,
    shape: Shape,
    op: &'static str,
) -> Result<Tensor> {
    let layout = Layout::contiguous(shape.clone());
    with_any!(tensors[0].dtype(), T => {
        let mut out = alloc::<T>(shape.numel());
        let mut start = 0;
        for t in tensors {
            let len = t.dims()[d];
            t.with_strided::<T, _>(op, |src, ls| {
                cpu::copy_into(&mut out, &layout.narrow(d, start, len), src, ls)
            })?;
            start += len;
        }
        Ok(Tensor::from_data(out, shape))
    })
}

/// A tensor of `shape` filled with `value` except at `interior` (a view of `shape`'s
/// contiguous layout with `x`'s shape), which holds `x`.
pub(crate) fn pad(
    x: &Tensor,
    shape: Shape,
    interior: &Layout,
    value: f64,
    op: &'static str,
) -> Result<Tensor> {
    with_any!(x.dtype(), T => {
        let mut out = alloc::<T>(shape.numel());
        out.fill(T::from_f64(value));
        x.with_strided::<T, _>(op, |src, ls| cpu::copy_into(&mut out, interior, src, ls))?;
        Ok(Tensor::from_data(out, shape))
    })
}

/// `x` converted to `dtype`, as a new contiguous tensor.
pub(crate) fn cast(x: &Tensor, dtype: DType, op: &'static str) -> Result<Tensor> {
    if let Some(y) = cast_f32_half(x, dtype, op) {
        return y;
    }
    with_any!(x.dtype(), S => with_any!(dtype, D => {
        let out = x.with_strided::<S, _>(op, cpu::cast_strided::<S, D>)?;
        Ok(Tensor::from_data(out, x.shape().clone()))
    }))
}

/// The casts between f32 and a 16-bit float, which every half-precision op makes twice:
/// through `half`'s slice conversions. `None` for other pairs of dtypes (and strided
/// views), which go element by element through f64.
fn cast_f32_half(x: &Tensor, dtype: DType, op: &'static str) -> Option<Result<Tensor>> {
    use half::{bf16, f16};
    if !(x.dtype().is_half() || dtype.is_half()) || !x.is_contiguous() {
        return None;
    }
    let shape = x.shape().clone();
    let y = match (x.dtype(), dtype) {
        (DType::F32, DType::BF16) => x.with_contiguous::<f32, _>(op, |s| {
            Tensor::from_data(cpu::f32_to_half::<bf16>(s), shape)
        }),
        (DType::F32, DType::F16) => x.with_contiguous::<f32, _>(op, |s| {
            Tensor::from_data(cpu::f32_to_half::<f16>(s), shape)
        }),
        (DType::BF16, DType::F32) => {
            x.with_contiguous::<bf16, _>(op, |s| Tensor::from_data(cpu::half_to_f32(s), shape))
        }
        (DType::F16, DType::F32) => {
            x.with_contiguous::<f16, _>(op, |s| Tensor::from_data(cpu::half_to_f32(s), shape))
        }
        _ => return None,
    };
    Some(y)
}
