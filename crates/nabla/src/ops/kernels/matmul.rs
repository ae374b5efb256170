//! The matmul kernel family at the tensor level: batched products of broadcast strided
//! operands and the fused `x·Wᵀ + b`, over `cpu::matmul` (which reads the operands in
//! place through their strides: transposed views cost no copy).

use crate::autocast::Precision;
use crate::cpu::gemm::MatRef;
use crate::cpu::matmul as cpu;
use crate::dtype::with_float;
use crate::layout::Layout;
use crate::{Result, Shape, Tensor};

/// `out[b] = lhs[b] · rhs[b]`, where `ll` and `rl` are the operands' layouts broadcast to
/// `[batch.., m, k]` and `[batch.., k, n]`, as a tensor of `out_shape` (`[batch.., m, n]`).
pub(crate) fn batched(
    lhs: &Tensor,
    ll: &Layout,
    rhs: &Tensor,
    rl: &Layout,
    out_shape: Shape,
    prec: Precision,
) -> Result<Tensor> {
    with_float!(lhs.dtype(), "matmul", T => {
        let out = lhs.with_strided::<T, _>("matmul", |a, _| {
            rhs.with_strided::<T, _>("matmul", |b, _| cpu::batched_gemm(a, ll, b, rl, &out_shape, prec))
        })??;
        Ok(Tensor::from_data(out, out_shape))
    })
}

/// `x · Wᵀ + b` for a 2-D `x` (`[rows, in]`), `weight` (`[out, in]`) and `bias` (`[out]`),
/// as a tensor of `shape` (`rows × out` elements).
pub(crate) fn linear(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    shape: Shape,
    prec: Precision,
) -> Result<Tensor> {
    let (rows, in_f, out_f) = (x.dims()[0], x.dims()[1], weight.dims()[0]);
    let mat = |l: &Layout| (l.strides()[0] as isize, l.strides()[1] as isize);
    with_float!(x.dtype(), "linear", T => {
        // A pooled copy taken first: no lock on the bias is held with those on x and W.
        let bias = bias.map(|b| b.contiguous_vec::<T>("linear")).transpose()?;
        let out = x.with_strided::<T, _>("linear", |xs, lx| {
            weight.with_strided::<T, _>("linear", |ws, lw| {
                let ((xr, xc), (wr, wc)) = (mat(lx), mat(lw));
                let x = MatRef { ptr: xs[lx.offset()..].as_ptr(), rs: xr, cs: xc };
                let w = MatRef { ptr: ws[lw.offset()..].as_ptr(), rs: wr, cs: wc };
                // SAFETY: x and w describe valid regions of these storages.
                unsafe { cpu::linear(rows, in_f, out_f, x, w, bias.as_deref(), prec) }
            })
        })??;
        if let Some(b) = bias {
            crate::storage::recycle(b);
        }
        Ok(Tensor::from_data(out, shape))
    })
}
