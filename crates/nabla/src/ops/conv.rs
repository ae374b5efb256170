//! Convolutions: conv1d, conv2d (stride, padding, dilation, groups) and conv_transpose2d,
//! lowered to GEMM through im2col, with their gradient rules.
//!
//! Three kernels do all the work, each per image and per group:
//! - forward:       `y[co, l] = Σ_k W[co, k] · col(x)[k, l]`              (W · col)
//! - data grad:     `dx = col2im(Wᵀ · dy)`
//! - weight grad:   `dW += dy · col(x)ᵀ`
//! where `col(x)` is the `[cin/groups · kh · kw, oh · ow]` matrix of input patches.
//! `conv_transpose2d` is the data-grad kernel run forward, so its gradients are the forward
//! and weight-grad kernels. Images are spread across threads when the batch has at least as
//! many images as threads; otherwise each product uses all threads.

use super::rule;
use crate::cpu::gemm::{gemm, MatRef};
use crate::cpu::reduce::sum_slice;
use crate::dtype::{with_float, Float};
use crate::storage::{alloc, alloc_zeroed};
use crate::{Error, Result, Shape, Tensor};
use rayon::prelude::*;

/// Options of [`Tensor::conv2d`] and [`Tensor::conv1d`] (the same value along each spatial
/// axis).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Step between neighbouring windows.
    pub stride: usize,
    /// Zeros added on each side of each spatial axis.
    pub padding: usize,
    /// Spacing between kernel taps (1 = dense kernel).
    pub dilation: usize,
    /// Channel groups: input and output channels are split into this many independent
    /// convolutions (`groups = cin` is a depthwise convolution).
    pub groups: usize,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig { stride: 1, padding: 0, dilation: 1, groups: 1 }
    }
}

/// Options of [`Tensor::conv_transpose2d`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2dConfig {
    /// Stride of the convolution this op transposes.
    pub stride: usize,
    /// Padding of the convolution this op transposes (removed from the output).
    pub padding: usize,
    /// Extra rows/columns added to one side of the output to pick among the output sizes
    /// that a strided convolution maps to the same input size.
    pub output_padding: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Channel groups.
    pub groups: usize,
}

impl Default for ConvTranspose2dConfig {
    fn default() -> Self {
        ConvTranspose2dConfig { stride: 1, padding: 0, output_padding: 0, dilation: 1, groups: 1 }
    }
}

/// The geometry of one convolution, seen from the forward direction (`x` → `y`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    n: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    stride: (usize, usize),
    pad: (usize, usize),
    dil: (usize, usize),
    groups: usize,
}

impl Geometry {
    fn cin_g(&self) -> usize {
        self.cin / self.groups
    }
    fn cout_g(&self) -> usize {
        self.cout / self.groups
    }
    /// Rows of the patch matrix: `cin/groups · kh · kw`.
    fn k(&self) -> usize {
        self.cin_g() * self.kh * self.kw
    }
    /// Columns of the patch matrix: output pixels.
    fn l(&self) -> usize {
        self.oh * self.ow
    }
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == (1, 1) && self.pad == (0, 0)
    }
    fn batch_parallel(&self) -> bool {
        self.n >= rayon::current_num_threads() && self.n > 1
    }
}

/// Output size of a convolution along one axis, or `None` when the kernel does not fit.
fn out_size(input: usize, k: usize, stride: usize, pad: usize, dil: usize) -> Option<usize> {
    let span = dil * (k - 1) + 1;
    let padded = input + 2 * pad;
    (padded >= span).then(|| (padded - span) / stride + 1)
}

/// Fills `col` (`[cin_g·kh·kw, oh·ow]`) with the patches of one image's group `x`
/// (`[cin_g, h, w]`), zeros where a tap falls into the padding.
fn im2col<T: Float>(x: &[T], g: &Geometry, col: &mut [T]) {
    let (sh, sw) = g.stride;
    let (ph, pw) = (g.pad.0 as isize, g.pad.1 as isize);
    let (dh, dw) = g.dil;
    let l = g.l();
    let mut row = 0;
    for c in 0..g.cin_g() {
        let plane = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let dst = &mut col[row * l..(row + 1) * l];
                let col_off = (kj * dw) as isize - pw;
                // Output columns whose input column lies inside the image.
                let (lo, hi) = valid_range(col_off, sw, g.w, g.ow);
                for oy in 0..g.oh {
                    let iy = (oy * sh) as isize + (ki * dh) as isize - ph;
                    let out_row = &mut dst[oy * g.ow..(oy + 1) * g.ow];
                    if iy < 0 || iy >= g.h as isize {
                        out_row.fill(T::ZERO);
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    out_row[..lo].fill(T::ZERO);
                    out_row[hi..].fill(T::ZERO);
                    if sw == 1 {
                        let start = (lo as isize + col_off) as usize;
                        out_row[lo..hi].copy_from_slice(&src[start..start + (hi - lo)]);
                    } else {
                        for ox in lo..hi {
                            out_row[ox] = src[((ox * sw) as isize + col_off) as usize];
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// Adds the patch matrix `col` back into the image group `x` (the adjoint of [`im2col`]).
fn col2im<T: Float>(col: &[T], g: &Geometry, x: &mut [T]) {
    let (sh, sw) = g.stride;
    let (ph, pw) = (g.pad.0 as isize, g.pad.1 as isize);
    let (dh, dw) = g.dil;
    let l = g.l();
    let mut row = 0;
    for c in 0..g.cin_g() {
        let plane = &mut x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let src = &col[row * l..(row + 1) * l];
                let col_off = (kj * dw) as isize - pw;
                let (lo, hi) = valid_range(col_off, sw, g.w, g.ow);
                for oy in 0..g.oh {
                    let iy = (oy * sh) as isize + (ki * dh) as isize - ph;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let s = &src[oy * g.ow..(oy + 1) * g.ow];
                    for ox in lo..hi {
                        dst[((ox * sw) as isize + col_off) as usize] += s[ox];
                    }
                }
                row += 1;
            }
        }
    }
}

/// The range `lo..hi` of output positions `o` with `0 ≤ o·stride + off < size`.
fn valid_range(off: isize, stride: usize, size: usize, n_out: usize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if off >= 0 { 0 } else { ((-off) + s - 1) / s };
    let hi = if (size as isize) - off <= 0 { 0 } else { ((size as isize - off - 1) / s + 1).min(n_out as isize) };
    let lo = (lo as usize).min(n_out);
    (lo, (hi.max(lo as isize)) as usize)
}

fn mat<T>(ptr: *const T, rs: usize, cs: usize) -> MatRef<T> {
    MatRef { ptr, rs: rs as isize, cs: cs as isize }
}

/// `y = conv(x, w) (+ bias)`; `x` is `[n, cin, h, w]`, `w` `[cout, cin_g, kh, kw]`, both
/// contiguous.
fn conv_forward<T: Float>(x: &[T], wt: &[T], bias: Option<&[T]>, g: &Geometry) -> Vec<T> {
    let (k, l, cout_g) = (g.k(), g.l(), g.cout_g());
    let image = |i: usize, y: &mut [T], col: &mut Vec<T>, par: bool| {
        if let Some(b) = bias {
            for (co, row) in y.chunks_mut(l.max(1)).enumerate() {
                row.fill(b[co]);
            }
        }
        for grp in 0..g.groups {
            let xg = &x[(i * g.cin + grp * g.cin_g()) * g.h * g.w..][..g.cin_g() * g.h * g.w];
            let patches: &[T] = if g.pointwise() {
                xg
            } else {
                col.resize(k * l, T::ZERO);
                im2col(xg, g, col);
                col
            };
            let yg = &mut y[grp * cout_g * l..(grp + 1) * cout_g * l];
            // SAFETY: all three blocks are in bounds of their slices by construction.
            unsafe {
                gemm(cout_g, l, k, yg.as_mut_ptr(), l as isize, bias.is_some(), mat(wt[grp * cout_g * k..].as_ptr(), k, 1), mat(patches.as_ptr(), l, 1), par)
            };
        }
    };
    let mut y = alloc::<T>(g.n * g.cout * l);
    if g.batch_parallel() {
        y.par_chunks_mut(g.cout * l).enumerate().for_each_init(Vec::new, |col, (i, yi)| image(i, yi, col, false));
    } else {
        let mut col = Vec::new();
        for (i, yi) in y.chunks_mut((g.cout * l).max(1)).enumerate() {
            image(i, yi, &mut col, true);
        }
    }
    y
}

/// `dx = col2im(Wᵀ · dy)`; `dy` is `[n, cout, oh, ow]`; returns `[n, cin, h, w]`.
fn conv_backward_data<T: Float>(dy: &[T], wt: &[T], g: &Geometry) -> Vec<T> {
    let (k, l, cout_g) = (g.k(), g.l(), g.cout_g());
    let image = |i: usize, dx: &mut [T], col: &mut Vec<T>, par: bool| {
        for grp in 0..g.groups {
            let dyg = &dy[(i * g.cout + grp * cout_g) * l..][..cout_g * l];
            let dxg = &mut dx[grp * g.cin_g() * g.h * g.w..(grp + 1) * g.cin_g() * g.h * g.w];
            let wg = wt[grp * cout_g * k..].as_ptr();
            if g.pointwise() {
                // SAFETY: in-bounds blocks; Wᵀ is read through swapped strides.
                unsafe { gemm(k, l, cout_g, dxg.as_mut_ptr(), l as isize, false, mat(wg, 1, k), mat(dyg.as_ptr(), l, 1), par) };
            } else {
                col.resize(k * l, T::ZERO);
                // SAFETY: as above, into the scratch patch matrix.
                unsafe { gemm(k, l, cout_g, col.as_mut_ptr(), l as isize, false, mat(wg, 1, k), mat(dyg.as_ptr(), l, 1), par) };
                dxg.fill(T::ZERO);
                col2im(col, g, dxg);
            }
        }
    };
    let mut dx = alloc::<T>(g.n * g.cin * g.h * g.w);
    let per = g.cin * g.h * g.w;
    if g.batch_parallel() {
        dx.par_chunks_mut(per).enumerate().for_each_init(Vec::new, |col, (i, d)| image(i, d, col, false));
    } else {
        let mut col = Vec::new();
        for (i, d) in dx.chunks_mut(per.max(1)).enumerate() {
            image(i, d, &mut col, true);
        }
    }
    dx
}

/// `dW = Σ_images dy · col(x)ᵀ`; returns `[cout, cin_g, kh, kw]`.
fn conv_backward_weight<T: Float>(x: &[T], dy: &[T], g: &Geometry) -> Vec<T> {
    let (k, l, cout_g) = (g.k(), g.l(), g.cout_g());
    let wlen = g.cout * k;
    let image = |i: usize, dw: &mut [T], col: &mut Vec<T>, par: bool| {
        for grp in 0..g.groups {
            let xg = &x[(i * g.cin + grp * g.cin_g()) * g.h * g.w..][..g.cin_g() * g.h * g.w];
            let patches: &[T] = if g.pointwise() {
                xg
            } else {
                col.resize(k * l, T::ZERO);
                im2col(xg, g, col);
                col
            };
            let dyg = &dy[(i * g.cout + grp * cout_g) * l..][..cout_g * l];
            let dwg = &mut dw[grp * cout_g * k..(grp + 1) * cout_g * k];
            // SAFETY: in-bounds blocks; col(x)ᵀ is read through swapped strides.
            unsafe { gemm(cout_g, k, l, dwg.as_mut_ptr(), k as isize, true, mat(dyg.as_ptr(), l, 1), mat(patches.as_ptr(), 1, l), par) };
        }
    };
    if g.batch_parallel() {
        let threads = rayon::current_num_threads();
        let per_task = g.n.div_ceil(threads);
        let partials: Vec<Vec<T>> = (0..threads)
            .into_par_iter()
            .map(|t| {
                let mut dw = alloc_zeroed::<T>(wlen);
                let mut col = Vec::new();
                for i in t * per_task..((t + 1) * per_task).min(g.n) {
                    image(i, &mut dw, &mut col, false);
                }
                dw
            })
            .collect();
        let mut parts = partials.into_iter();
        let mut total = parts.next().expect("at least one thread");
        for p in parts {
            for (a, b) in total.iter_mut().zip(&p) {
                *a += *b;
            }
            crate::storage::recycle(p);
        }
        total
    } else {
        let mut dw = alloc_zeroed::<T>(wlen);
        let mut col = Vec::new();
        for i in 0..g.n {
            image(i, &mut dw, &mut col, true);
        }
        dw
    }
}

/// `db[c] = Σ_{n, pixels} dy[n, c, ·]`.
fn bias_grad<T: Float>(dy: &[T], g: &Geometry) -> Vec<T> {
    let l = g.l();
    let mut db = alloc_zeroed::<T>(g.cout);
    for i in 0..g.n {
        for (c, d) in db.iter_mut().enumerate() {
            *d += sum_slice(&dy[(i * g.cout + c) * l..(i * g.cout + c + 1) * l]);
        }
    }
    db
}

/// Which kernel computes a tensor in a conv's graph.
#[derive(Clone, Copy)]
enum Kernel {
    Forward,
    BackwardData,
    BackwardWeight,
    Bias,
}

/// Runs one of the kernels on tensors (not recorded): inputs per kernel are
/// Forward(x, w[, b]), BackwardData(dy, w), BackwardWeight(x, dy), Bias(dy).
fn run(kernel: Kernel, g: &Geometry, a: &Tensor, b: Option<&Tensor>, c: Option<&Tensor>, op: &'static str) -> Result<Tensor> {
    with_float!(a.dtype(), op, T => {
        let av = a.contiguous_vec::<T>(op)?;
        let bv = b.map(|t| t.contiguous_vec::<T>(op)).transpose()?;
        let cv = c.map(|t| t.contiguous_vec::<T>(op)).transpose()?;
        let (data, shape) = match kernel {
            Kernel::Forward => (conv_forward(&av, bv.as_deref().expect("weight"), cv.as_deref(), g), vec![g.n, g.cout, g.oh, g.ow]),
            Kernel::BackwardData => (conv_backward_data(&av, bv.as_deref().expect("weight"), g), vec![g.n, g.cin, g.h, g.w]),
            Kernel::BackwardWeight => (conv_backward_weight(&av, bv.as_deref().expect("grad"), g), vec![g.cout, g.cin_g(), g.kh, g.kw]),
            Kernel::Bias => (bias_grad(&av, g), vec![g.cout]),
        };
        for v in [Some(av), bv, cv].into_iter().flatten() {
            crate::storage::recycle(v);
        }
        Ok(Tensor::from_data(data, Shape(shape)))
    })
}

fn check_dtypes(op: &'static str, x: &Tensor, others: &[Option<&Tensor>]) -> Result<()> {
    for t in others.iter().flatten() {
        if t.dtype() != x.dtype() {
            return Err(Error::DType { op, expected: x.dtype(), got: t.dtype() });
        }
    }
    Ok(())
}

/// Validates `x [n, cin, h, w]`, `weight [cout, cin/groups, kh, kw]` and `bias [cout]` for a
/// forward convolution and returns its geometry.
fn forward_geometry(op: &'static str, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, stride: (usize, usize), pad: (usize, usize), dil: (usize, usize), groups: usize) -> Result<Geometry> {
    let shape_err = |expected: String, got: &Tensor| Error::UnexpectedShape { op, expected, got: got.shape().clone() };
    if stride.0 == 0 || stride.1 == 0 || dil.0 == 0 || dil.1 == 0 || groups == 0 {
        return Err(Error::invalid(op, "stride, dilation and groups must be at least 1"));
    }
    if x.rank() != 4 {
        return Err(shape_err("an input of shape [batch, channels, height, width]".into(), x));
    }
    if weight.rank() != 4 {
        return Err(shape_err("a weight of shape [out_channels, in_channels / groups, kh, kw]".into(), weight));
    }
    let (n, cin, h, w) = (x.dims()[0], x.dims()[1], x.dims()[2], x.dims()[3]);
    let (cout, cin_g, kh, kw) = (weight.dims()[0], weight.dims()[1], weight.dims()[2], weight.dims()[3]);
    if cin % groups != 0 || cout % groups != 0 {
        return Err(Error::invalid(op, format!("channels in ({cin}) and out ({cout}) must be divisible by groups ({groups})")));
    }
    if cin_g != cin / groups || kh == 0 || kw == 0 {
        return Err(shape_err(format!("a weight of shape [{cout}, {}, kh, kw] for an input with {cin} channels", cin / groups), weight));
    }
    if let Some(b) = bias {
        if b.dims() != [cout] {
            return Err(shape_err(format!("a bias of shape [{cout}]"), b));
        }
    }
    check_dtypes(op, x, &[Some(weight), bias])?;
    let (Some(oh), Some(ow)) = (out_size(h, kh, stride.0, pad.0, dil.0), out_size(w, kw, stride.1, pad.1, dil.1)) else {
        return Err(Error::invalid(op, format!("the kernel {kh}x{kw} (dilation {dil:?}) does not fit in the padded input {}", x.shape())));
    };
    Ok(Geometry { n, cin, h, w, cout, kh, kw, oh, ow, stride, pad, dil, groups })
}

impl Tensor {
    /// 2-D convolution (cross-correlation, as in PyTorch).
    ///
    /// `self` is `[n, c_in, h, w]`; `weight` is `[c_out, c_in / groups, kh, kw]`; `bias` is
    /// `[c_out]`; the output is `[n, c_out, (h + 2p - d(kh - 1) - 1) / s + 1, ...]`.
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] when ranks or channel counts do not fit;
    /// [`Error::InvalidArgument`] for zero strides or a kernel larger than the padded input.
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, cfg: Conv2dConfig) -> Result<Tensor> {
        let s = cfg.stride;
        let (p, d) = (cfg.padding, cfg.dilation);
        let g = forward_geometry("conv2d", self, weight, bias, (s, s), (p, p), (d, d), cfg.groups)?;
        self.conv_with_geometry(weight, bias, g)
    }

    fn conv_with_geometry(&self, weight: &Tensor, bias: Option<&Tensor>, g: Geometry) -> Result<Tensor> {
        let y = run(Kernel::Forward, &g, self, Some(weight), bias, "conv2d")?;
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(y.record(
            rule("ConvolutionBackward", move |x, _, dy| {
                let dx = if x[0].tracks_grad() { Some(run(Kernel::BackwardData, &g, dy, Some(&x[1]), None, "conv2d")?) } else { None };
                let dw = if x[1].tracks_grad() { Some(run(Kernel::BackwardWeight, &g, &x[0], Some(dy), None, "conv2d")?) } else { None };
                let mut grads = vec![dx, dw];
                if x.len() == 3 {
                    grads.push(if x[2].tracks_grad() { Some(run(Kernel::Bias, &g, dy, None, None, "conv2d")?) } else { None });
                }
                Ok(grads)
            }),
            &inputs,
        ))
    }

    /// 1-D convolution: `self` is `[n, c_in, l]`, `weight` `[c_out, c_in / groups, k]`,
    /// `bias` `[c_out]`; the output is `[n, c_out, (l + 2p - d(k - 1) - 1) / s + 1]`.
    pub fn conv1d(&self, weight: &Tensor, bias: Option<&Tensor>, cfg: Conv2dConfig) -> Result<Tensor> {
        let shape_err = |what: &str, t: &Tensor| Error::UnexpectedShape { op: "conv1d", expected: what.into(), got: t.shape().clone() };
        if self.rank() != 3 {
            return Err(shape_err("an input of shape [batch, channels, length]", self));
        }
        if weight.rank() != 3 {
            return Err(shape_err("a weight of shape [out_channels, in_channels / groups, k]", weight));
        }
        let (x4, w4) = (self.unsqueeze(2)?, weight.unsqueeze(2)?);
        let (s, p, d) = (cfg.stride, cfg.padding, cfg.dilation);
        let g = forward_geometry("conv1d", &x4, &w4, bias, (1, s), (0, p), (1, d), cfg.groups)?;
        x4.conv_with_geometry(&w4, bias, g)?.squeeze(2)
    }

    /// 2-D transposed convolution (the gradient of `conv2d` with respect to its input, run
    /// forward; "deconvolution").
    ///
    /// `self` is `[n, c_in, h, w]`; `weight` is `[c_in, c_out / groups, kh, kw]` (PyTorch's
    /// layout); the output is `[n, c_out, (h - 1)s - 2p + d(kh - 1) + output_padding + 1, ...]`.
    pub fn conv_transpose2d(&self, weight: &Tensor, bias: Option<&Tensor>, cfg: ConvTranspose2dConfig) -> Result<Tensor> {
        let op = "conv_transpose2d";
        let shape_err = |what: String, t: &Tensor| Error::UnexpectedShape { op, expected: what, got: t.shape().clone() };
        let (s, p, d, groups) = (cfg.stride, cfg.padding, cfg.dilation, cfg.groups);
        if s == 0 || d == 0 || groups == 0 {
            return Err(Error::invalid(op, "stride, dilation and groups must be at least 1"));
        }
        if cfg.output_padding >= s.max(d) {
            return Err(Error::invalid(op, format!("output_padding {} must be smaller than stride or dilation", cfg.output_padding)));
        }
        if self.rank() != 4 || weight.rank() != 4 {
            return Err(shape_err("an input [n, c_in, h, w] and a weight [c_in, c_out / groups, kh, kw]".into(), if self.rank() != 4 { self } else { weight }));
        }
        let (n, cin_t, h, w) = (self.dims()[0], self.dims()[1], self.dims()[2], self.dims()[3]);
        let (wc0, cout_g, kh, kw) = (weight.dims()[0], weight.dims()[1], weight.dims()[2], weight.dims()[3]);
        if wc0 != cin_t || cin_t % groups != 0 {
            return Err(shape_err(format!("a weight with {cin_t} input channels divisible by groups {groups}"), weight));
        }
        let cout = cout_g * groups;
        if let Some(b) = bias {
            if b.dims() != [cout] {
                return Err(shape_err(format!("a bias of shape [{cout}]"), b));
            }
        }
        check_dtypes(op, self, &[Some(weight), bias])?;
        let size = |i: usize, k: usize| ((i as isize - 1) * s as isize - 2 * p as isize + (d * (k - 1)) as isize + cfg.output_padding as isize + 1).max(0) as usize;
        let (oh, ow) = (size(h, kh), size(w, kw));
        // The convolution this op transposes maps [n, cout, oh, ow] to [n, cin_t, h, w].
        let g = Geometry { n, cin: cout, h: oh, w: ow, cout: cin_t, kh, kw, oh: h, ow: w, stride: (s, s), pad: (p, p), dil: (d, d), groups };
        if out_size(oh, kh, s, p, d) != Some(h) || out_size(ow, kw, s, p, d) != Some(w) {
            return Err(Error::invalid(op, format!("input {} does not fit kernel {kh}x{kw} with stride {s}, padding {p}", self.shape())));
        }
        let mut y = run(Kernel::BackwardData, &g, self, Some(weight), None, op)?;
        if let Some(b) = bias {
            y = y.add(&b.detach().reshape(&[1, cout, 1, 1])?)?.detach();
        }
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(y.record(
            rule("ConvTransposeBackward", move |x, _, dy| {
                let dx = if x[0].tracks_grad() { Some(run(Kernel::Forward, &g, dy, Some(&x[1]), None, op)?) } else { None };
                let dw = if x[1].tracks_grad() { Some(run(Kernel::BackwardWeight, &g, dy, Some(&x[0]), None, op)?) } else { None };
                let mut grads = vec![dx, dw];
                if x.len() == 3 {
                    grads.push(if x[2].tracks_grad() { Some(dy.sum(&[0, 2, 3])?) } else { None });
                }
                Ok(grads)
            }),
            &inputs,
        ))
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, gradcheck, gradcheck_with, tensor, GradcheckOpts};

    fn cfg(stride: usize, padding: usize, dilation: usize, groups: usize) -> Conv2dConfig {
        Conv2dConfig { stride, padding, dilation, groups }
    }

    #[test]
    fn conv2d_matches_a_hand_computed_case() -> Result<()> {
        // x = 1..16 as a 4x4 image, 2x2 kernel [[1,0],[0,-1]]: y[i,j] = x[i,j] - x[i+1,j+1] = -5
        let x = tensor(&(1..=16).map(|v| v as f64).collect::<Vec<_>>(), &[1, 1, 4, 4])?;
        let w = tensor(&[1.0, 0.0, 0.0, -1.0], &[1, 1, 2, 2])?;
        let b = tensor(&[0.5], &[1])?;
        assert_close(&x.conv2d(&w, Some(&b), cfg(1, 0, 1, 1))?, &[-4.5; 9], 0.0)?;
        // stride 2, padding 1: windows at rows/cols -1, 1, 3; y = x[r,c] - x[r+1,c+1]
        let y = x.conv2d(&w, None, cfg(2, 1, 1, 1))?;
        assert_eq!(y.dims(), &[1, 1, 3, 3]);
        assert_close(&y, &[-1.0, -3.0, 0.0, -9.0, -5.0, 8.0, 0.0, 14.0, 16.0], 0.0)
    }

    #[test]
    fn conv2d_rejects_bad_shapes() -> Result<()> {
        let x = tensor(&[0.0; 16], &[1, 1, 4, 4])?;
        assert!(x.conv2d(&tensor(&[0.0; 8], &[1, 2, 2, 2])?, None, cfg(1, 0, 1, 1)).is_err());
        assert!(x.conv2d(&tensor(&[0.0; 25], &[1, 1, 5, 5])?, None, cfg(1, 0, 1, 1)).is_err());
        assert!(x.conv2d(&tensor(&[0.0; 4], &[1, 1, 2, 2])?, None, cfg(0, 0, 1, 1)).is_err());
        assert!(x.reshape(&[4, 4])?.conv2d(&tensor(&[0.0; 4], &[1, 1, 2, 2])?, None, cfg(1, 0, 1, 1)).is_err());
        Ok(())
    }

    #[test]
    fn conv_transpose2d_is_the_adjoint_of_conv2d() -> Result<()> {
        // <conv(x), y> = <x, conv_transpose(y)> for every x, y.
        crate::manual_seed(3);
        let x = Tensor::randn(&[2, 4, 7, 7], crate::DType::F64, &crate::Device::Cpu)?;
        let w = Tensor::randn(&[6, 2, 3, 3], crate::DType::F64, &crate::Device::Cpu)?;
        let c = x.conv2d(&w, None, cfg(2, 1, 1, 2))?;
        let y = Tensor::randn(c.dims(), crate::DType::F64, &crate::Device::Cpu)?;
        let t = y.conv_transpose2d(&w, None, ConvTranspose2dConfig { stride: 2, padding: 1, groups: 2, ..Default::default() })?;
        assert_eq!(t.dims(), x.dims());
        let lhs = c.mul(&y)?.sum_all()?.to_scalar::<f64>()?;
        let rhs = x.mul(&t)?.sum_all()?.to_scalar::<f64>()?;
        assert!((lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
        Ok(())
    }

    #[test]
    fn conv2d_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[2, 2, 5, 5], &[3, 2, 3, 3], &[3]], |x| x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 0, 1, 1)))?;
        gradcheck(&[&[1, 2, 6, 5], &[2, 2, 3, 2]], |x| x[0].conv2d(&x[1], None, cfg(2, 1, 1, 1)))?;
        gradcheck(&[&[1, 1, 7, 7], &[2, 1, 3, 3]], |x| x[0].conv2d(&x[1], None, cfg(1, 2, 2, 1)))?;
        gradcheck(&[&[2, 4, 4, 4], &[6, 2, 3, 3], &[6]], |x| x[0].conv2d(&x[1], Some(&x[2]), cfg(1, 1, 1, 2)))?;
        gradcheck(&[&[2, 3, 3, 3], &[4, 3, 1, 1]], |x| x[0].conv2d(&x[1], None, cfg(1, 0, 1, 1)))?;
        let nc = GradcheckOpts { non_contiguous: true, ..Default::default() };
        gradcheck_with(&[&[1, 2, 4, 4], &[2, 2, 2, 2]], nc, |x| x[0].conv2d(&x[1], None, cfg(1, 1, 1, 1)))
    }

    #[test]
    fn conv1d_and_transpose_gradients_match_finite_differences() -> Result<()> {
        gradcheck(&[&[2, 2, 7], &[4, 1, 3], &[4]], |x| x[0].conv1d(&x[1], Some(&x[2]), cfg(2, 1, 1, 2)))?;
        let tcfg = ConvTranspose2dConfig { stride: 2, padding: 1, output_padding: 1, dilation: 1, groups: 1 };
        gradcheck(&[&[1, 2, 3, 3], &[2, 3, 3, 3], &[3]], |x| x[0].conv_transpose2d(&x[1], Some(&x[2]), tcfg))?;
        let gcfg = ConvTranspose2dConfig { groups: 2, ..Default::default() };
        gradcheck(&[&[1, 4, 3, 3], &[4, 1, 2, 2]], |x| x[0].conv_transpose2d(&x[1], None, gcfg))
    }

    #[test]
    fn valid_range_covers_exactly_the_inside_positions() {
        for off in -4..4isize {
            for stride in 1..4 {
                let (lo, hi) = valid_range(off, stride, 5, 6);
                for o in 0..6 {
                    let inside = (0..5).contains(&((o * stride) as isize + off));
                    assert_eq!(inside, (lo..hi).contains(&o), "off {off} stride {stride} o {o}");
                }
            }
        }
    }
}
