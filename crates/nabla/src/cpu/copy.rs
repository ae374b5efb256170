//! The host side of the copy and cast families: strided views read in row-major order,
//! copies between strided layouts, and dtype conversions.

use crate::dtype::Element;
use crate::layout::{for_each_row, for_each_row2, Layout};
use crate::storage::alloc;
use half::slice::HalfFloatSliceExt;

/// Calls `f` on every element of a strided layout in row-major order.
pub(crate) fn visit_strided<T: Copy>(data: &[T], l: &Layout, mut f: impl FnMut(T)) {
    if l.numel() == 0 {
        return;
    }
    if l.is_contiguous() {
        data[l.offset()..l.offset() + l.numel()]
            .iter()
            .for_each(|&x| f(x));
        return;
    }
    let inner = *l.dims().last().unwrap_or(&1);
    let inner_stride = *l.strides().last().unwrap_or(&1);
    for_each_row(l.dims(), l.strides(), l.offset(), |_, off| {
        for j in 0..inner {
            f(data[off + j * inner_stride]);
        }
    });
}

/// Copies a strided layout's elements into a new row-major vector (from the pool).
pub(crate) fn gather_strided<T: Element>(data: &[T], l: &Layout) -> Vec<T> {
    let n = l.numel();
    let mut out = alloc::<T>(n);
    if n == 0 {
        return out;
    }
    if l.is_contiguous() {
        out.copy_from_slice(&data[l.offset()..l.offset() + n]);
        return out;
    }
    let inner = *l.dims().last().unwrap_or(&1);
    let inner_stride = *l.strides().last().unwrap_or(&1);
    for_each_row(l.dims(), l.strides(), l.offset(), |row, off| {
        let dst = &mut out[row * inner..(row + 1) * inner];
        if inner_stride == 1 {
            dst.copy_from_slice(&data[off..off + inner]);
        } else {
            for (j, d) in dst.iter_mut().enumerate() {
                *d = data[off + j * inner_stride];
            }
        }
    });
    out
}

/// Copies the elements of `src` (layout `ls`) into the positions of `dst` given by `ld`
/// (same shape).
pub(crate) fn copy_into<T: Element>(dst: &mut [T], ld: &Layout, src: &[T], ls: &Layout) {
    if ld.numel() == 0 {
        return;
    }
    let dims = ld.dims();
    let inner = *dims.last().unwrap_or(&1);
    let (sd, ss) = (
        *ld.strides().last().unwrap_or(&1),
        *ls.strides().last().unwrap_or(&1),
    );
    for_each_row2(
        dims,
        ld.strides(),
        ld.offset(),
        ls.strides(),
        ls.offset(),
        |_, od, os| {
            if sd == 1 && ss == 1 {
                dst[od..od + inner].copy_from_slice(&src[os..os + inner]);
            } else {
                for j in 0..inner {
                    dst[od + j * sd] = src[os + j * ss];
                }
            }
        },
    );
}

/// The elements of a strided layout of `src`, row-major, converted to `D` through f64.
pub(crate) fn cast_strided<S: Element, D: Element>(src: &[S], l: &Layout) -> Vec<D> {
    let mut out: Vec<D> = alloc(l.numel());
    let mut i = 0;
    visit_strided(src, l, |v: S| {
        out[i] = D::from_f64(v.to_f64());
        i += 1;
    });
    out
}

/// An f32 slice rounded to a 16-bit float type through `half`'s slice conversion (F16C
/// instructions for f16 where the CPU has them).
pub(crate) fn f32_to_half<H: Element>(src: &[f32]) -> Vec<H>
where
    [H]: HalfFloatSliceExt,
{
    let mut out = vec![H::from_f64(0.0); src.len()];
    out.convert_from_f32_slice(src);
    out
}

/// A 16-bit float slice widened to f32, as [`f32_to_half`] the other way.
pub(crate) fn half_to_f32<H: Element>(src: &[H]) -> Vec<f32>
where
    [H]: HalfFloatSliceExt,
{
    let mut out = alloc::<f32>(src.len());
    src.convert_to_f32_slice(&mut out);
    out
}
