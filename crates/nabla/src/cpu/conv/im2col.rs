//! Convolution as GEMM: the patch matrix `col(x)` (`[cin/groups · kh · kw, oh · ow]`, one
//! row per kernel tap and channel, one column per output pixel) turns each pass into one
//! product per image and group:
//! - forward:       `y[co, l] = Σ_k W[co, k] · col(x)[k, l]`              (W · col)
//! - data grad:     `dx = col2im(Wᵀ · dy)`
//! - weight grad:   `dW += dy · col(x)ᵀ`
//!
//! Images are batched into chunks, one GEMM per chunk, spread across threads when the batch
//! has at least as many images as threads; otherwise each product uses all threads. Works in
//! every float dtype and, under bf16 autocast, with the weight packed once into bf16 tiles.

use crate::autocast::Precision;
use crate::cpu::bf16::{gemm_packed, PackedLeft};
use crate::cpu::gemm::{gemm, MatRef};
use crate::cpu::phases;
use crate::cpu::simd::vectorized;
use crate::cpu::SharedOut;
use crate::dtype::Float;
use crate::ops::conv::Geometry;
use crate::storage::{alloc, alloc_zeroed, recycle, same_type_slice};
use rayon::prelude::*;
use std::ops::Range;

/// Fills the rows of channels `channels` of the patch matrix of one image's group `x`
/// (`[cin_g, h, w]`) into `col`: row `r` (one kernel tap of one channel, counted from the
/// range's first) occupies `col[r·ld .. r·ld + oh·ow]`. Zeros where a tap falls into the
/// padding. `ld ≥ oh·ow` lets several images share one matrix side by side.
fn im2col<T: Float>(x: &[T], g: &Geometry, channels: Range<usize>, col: &mut [T], ld: usize) {
    let (sh, sw) = g.stride;
    let (ph, pw) = (g.pad.0 as isize, g.pad.1 as isize);
    let (dh, dw) = g.dil;
    let l = g.l();
    // With a column stride, each input row is first split into its `sw` stride phases
    // (phase q holds columns q, q + sw, ...), so that every tap copies a contiguous run of
    // one phase instead of gathering every sw-th value (ResNet's 7×7 stride-2 stem spent
    // two thirds of its time in that gather). Only for kernels wider than the stride: a
    // 1×1 stride-2 kernel reads each input value at most once, so splitting costs more.
    let c0 = channels.start;
    let phased = (sw > 1 && g.kw > sw).then(|| split_phases(x, g, channels.clone()));
    let phase_len = g.w.div_ceil(sw);
    let mut row = 0;
    for c in channels {
        let plane = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let dst = &mut col[row * ld..row * ld + l];
                let col_off = (kj * dw) as isize - pw;
                // Output columns whose input column lies inside the image.
                let (lo, hi) = valid_range(col_off, sw, g.w, g.ow);
                // Input column ox·sw + col_off is entry ox + shift of phase q.
                let (q, shift) = (
                    col_off.rem_euclid(sw as isize),
                    col_off.div_euclid(sw as isize),
                );
                for oy in 0..g.oh {
                    let iy = (oy * sh) as isize + (ki * dh) as isize - ph;
                    let out_row = &mut dst[oy * g.ow..(oy + 1) * g.ow];
                    if iy < 0 || iy >= g.h as isize {
                        out_row.fill(T::ZERO);
                        continue;
                    }
                    out_row[..lo].fill(T::ZERO);
                    out_row[hi..].fill(T::ZERO);
                    // `lo == hi` when the tap never lands inside the image (a kernel wider
                    // than the image plus the padding on that side): nothing to copy.
                    if hi <= lo {
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    if let Some(phases) = &phased {
                        let at = (((c - c0) * g.h + iy as usize) * sw + q as usize) * phase_len;
                        let start = (lo as isize + shift) as usize;
                        copy_short(&mut out_row[lo..hi], &phases[at + start..][..hi - lo]);
                    } else if sw == 1 {
                        let start = (lo as isize + col_off) as usize;
                        copy_short(&mut out_row[lo..hi], &src[start..start + (hi - lo)]);
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
    if let Some(phases) = phased {
        recycle(phases);
    }
}

/// The rows of channels `channels` of an image group `[cin_g, h, w]` split into the `sw`
/// phases of the column stride: `[channels, h, sw, ⌈w / sw⌉]`, phase `q` of a row holding
/// its columns `q, q + sw, …`
/// (the unused tail of short phases is left as is: no copy reads it).
fn split_phases<T: Float>(x: &[T], g: &Geometry, channels: Range<usize>) -> Vec<T> {
    let sw = g.stride.1;
    let len = g.w.div_ceil(sw);
    let plane = g.h * g.w;
    let mut out = alloc::<T>(channels.len() * g.h * sw * len);
    let rows = x[channels.start * plane..channels.end * plane]
        .chunks_exact(g.w)
        .zip(out.chunks_exact_mut(sw * len));
    // Inside `vectorized`, stride 2's zipped pairs become vector shuffles (storing one value
    // at a time cost a fifth of ResNet-18's stride-2 3×3 layers at batch 1).
    vectorized(
        #[inline(always)]
        || {
            for (src, dst) in rows {
                phases::split_phases(src, sw, 0, dst, len);
            }
        },
    );
    out
}

/// `dst.copy_from_slice(src)` for the short rows of small images (LeNet's are 5 to 28
/// values wide, ResNet-18's stride-2 patches 7 to 28): two copies of a fixed width that
/// overlap in the middle, inline, instead of a `memcpy` call per row (which cost as much as
/// the copy itself in the LeNet profile) or a loop of 4-value moves (half of the stride-2
/// layers' im2col).
#[inline(always)]
pub(crate) fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    /// The first and the last `W` values, `W ≤ len ≤ 2W`.
    #[inline(always)]
    fn overlapping<T: Copy, const W: usize>(dst: &mut [T], src: &[T]) {
        let n = dst.len();
        dst[..W].copy_from_slice(&src[..W]);
        dst[n - W..].copy_from_slice(&src[n - W..n]);
    }
    match dst.len() {
        0 => {}
        1 => dst[0] = src[0],
        2..=3 => overlapping::<T, 2>(dst, src),
        4..=7 => overlapping::<T, 4>(dst, src),
        8..=15 => overlapping::<T, 8>(dst, src),
        16..=32 => overlapping::<T, 16>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Adds the patch matrix `col` (row stride `ld`) back into the image group `x` (the adjoint
/// of [`im2col`]).
fn col2im<T: Float>(col: &[T], g: &Geometry, x: &mut [T], ld: usize) {
    let (sh, sw) = g.stride;
    let (ph, pw) = (g.pad.0 as isize, g.pad.1 as isize);
    let (dh, dw) = g.dil;
    let l = g.l();
    let mut row = 0;
    for c in 0..g.cin_g() {
        let plane = &mut x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let src = &col[row * ld..row * ld + l];
                let col_off = (kj * dw) as isize - pw;
                let (lo, hi) = valid_range(col_off, sw, g.w, g.ow);
                for oy in 0..g.oh {
                    let iy = (oy * sh) as isize + (ki * dh) as isize - ph;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let s = &src[oy * g.ow..(oy + 1) * g.ow];
                    if sw == 1 && hi > lo {
                        // Contiguous on both sides: a slice add the compiler vectorizes.
                        let start = (lo as isize + col_off) as usize;
                        for (d, &v) in dst[start..start + (hi - lo)].iter_mut().zip(&s[lo..hi]) {
                            *d += v;
                        }
                    } else {
                        for ox in lo..hi {
                            dst[((ox * sw) as isize + col_off) as usize] += s[ox];
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// The range `lo..hi` of output positions `o` with `0 ≤ o·stride + off < size`.
pub(crate) fn valid_range(off: isize, stride: usize, size: usize, n_out: usize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if off >= 0 { 0 } else { ((-off) + s - 1) / s };
    let hi = if (size as isize) - off <= 0 {
        0
    } else {
        ((size as isize - off - 1) / s + 1).min(n_out as isize)
    };
    let lo = (lo as usize).min(n_out);
    (lo, (hi.max(lo as isize)) as usize)
}

fn mat<T>(ptr: *const T, rs: usize, cs: usize) -> MatRef<T> {
    MatRef {
        ptr,
        rs: rs as isize,
        cs: cs as isize,
    }
}

/// Each group's weight packed once for the bf16 kernels (as `Wᵀ`, `[k, cout_g]`, when
/// `transposed`: the input gradient's products), when `g` computes in bf16, `T` is f32 and
/// the CPU has the kernels: every chunk of images then reads the same packed tiles instead
/// of rounding and packing the weight again. `None` otherwise.
pub(crate) fn packed_weights<T: Float>(
    wt: &[T],
    g: &Geometry,
    transposed: bool,
) -> Option<Vec<PackedLeft>> {
    if g.prec != Precision::Bf16 {
        return None;
    }
    let w = same_type_slice::<T, f32>(wt)?;
    let (cout_g, k) = (g.cout_g(), g.k());
    (0..g.groups)
        .map(|grp| {
            let p = w[grp * cout_g * k..].as_ptr();
            if transposed {
                PackedLeft::new(mat(p, 1, k), k, cout_g)
            } else {
                PackedLeft::new(mat(p, k, 1), cout_g, k)
            }
        })
        .collect()
}

/// [`gemm`] of `(m, n, k)` whose left operand is a weight: from `packed` when given (then
/// `T` is f32, see [`packed_weights`]), else `lhs`.
///
/// # Safety
/// As [`gemm`].
unsafe fn weight_product<T: Float>(
    packed: Option<&PackedLeft>,
    (m, n, k): (usize, usize, usize),
    dst: *mut T,
    dst_rs: isize,
    accumulate: bool,
    lhs: MatRef<T>,
    rhs: MatRef<T>,
    par: bool,
    prec: Precision,
) {
    match packed {
        // SAFETY: a packed weight exists only for f32 elements, so the casts change
        // nothing; the rest is the caller's contract.
        Some(p) => unsafe {
            let rhs = MatRef {
                ptr: rhs.ptr.cast::<f32>(),
                rs: rhs.rs,
                cs: rhs.cs,
            };
            gemm_packed(p, n, dst.cast(), dst_rs, accumulate, rhs, par)
        },
        // SAFETY: forwarded.
        None => unsafe { gemm(m, n, k, dst, dst_rs, accumulate, lhs, rhs, par, prec) },
    }
}

/// Patch columns (output pixels) that one task's GEMM aims at: images are batched into one
/// GEMM per task up to this width, so that small convolutions (LeNet) run as a few large
/// products instead of many tiny ones. Measured: LeNet's conv1 (784 pixels per image) is
/// fastest with 1 image per GEMM and conv2 (100 pixels) with 8.
const CHUNK_COLS: usize = 800;
/// Elements of patch matrix that one task builds at most (1 MiB of f32).
const CHUNK_ELEMS: usize = 1 << 18;
/// [`CHUNK_COLS`] and [`CHUNK_ELEMS`] (4 MiB) of bf16 products. 8 MiB made ResNet-18's
/// step at 32×32 no faster and its peak memory 3% above the f32 step's.
const CHUNK_COLS_BF16: usize = 4096;
const CHUNK_ELEMS_BF16: usize = 1 << 20;

/// Splits the batch into chunks of images, each processed as one GEMM by one task. Returns
/// the chunk size and whether chunks run in parallel (otherwise each GEMM is parallel).
pub(crate) fn plan_chunks(g: &Geometry) -> (usize, bool) {
    let per_image = (g.k() * g.l()).max(1);
    let threads = rayon::current_num_threads();
    if g.n < threads || threads == 1 {
        return (1, false);
    }
    // bf16 products take wider chunks: their kernel reads and writes its 32 × 32 blocks of
    // the output once per product, so a weight gradient summed over chunks of few pixels
    // (ResNet-18's 4 × 4 layers: 48 per chunk) spent its time moving the 512 × 4608 sum.
    let (cols, elems) = match g.prec {
        Precision::Full => (CHUNK_COLS, CHUNK_ELEMS),
        Precision::Bf16 => (CHUNK_COLS_BF16, CHUNK_ELEMS_BF16),
    };
    let by_size = (cols / g.l().max(1)).min(elems / per_image).max(1);
    let by_threads = g.n.div_ceil(threads);
    (by_size.min(by_threads), true)
}

/// Runs `f(first_image, count)` over the chunks of the batch, in parallel or not.
fn for_chunks(g: &Geometry, f: impl Fn(usize, usize, bool) + Sync + Send) {
    let (chunk, parallel) = plan_chunks(g);
    let starts: Vec<usize> = (0..g.n).step_by(chunk).collect();
    if parallel {
        starts
            .par_iter()
            .for_each(|&i| f(i, chunk.min(g.n - i), false));
    } else {
        starts.iter().for_each(|&i| f(i, chunk.min(g.n - i), true));
    }
}

/// Builds the patch matrix `[k, nb·l]` of group `grp` for images `i0..i0+nb`. With `par`
/// (the chunk has the threads to itself) a single image's matrix of at least
/// [`PAR_IM2COL_MIN`] values is built by all threads, each taking a range of channels:
/// ResNet-18's stride-2 3×3 layers at batch 1 otherwise left one thread idle for the
/// 0.15–0.2 ms of their im2col.
pub(crate) fn chunk_patches<T: Float>(
    x: &[T],
    g: &Geometry,
    grp: usize,
    i0: usize,
    nb: usize,
    col: &mut [T],
    par: bool,
) {
    let (l, cin) = (g.l(), g.cin_g());
    let image = |b: usize| &x[((i0 + b) * g.cin + grp * cin) * g.h * g.w..][..cin * g.h * g.w];
    let threads = rayon::current_num_threads();
    if par && nb == 1 && threads > 1 && cin >= threads && g.k() * l >= PAR_IM2COL_MIN {
        let per = cin.div_ceil(threads);
        let xg = image(0);
        col[..g.k() * l]
            .par_chunks_mut(per * g.kh * g.kw * l)
            .enumerate()
            .for_each(|(t, rows)| im2col(xg, g, t * per..((t + 1) * per).min(cin), rows, l));
        return;
    }
    for b in 0..nb {
        im2col(image(b), g, 0..cin, &mut col[b * l..], nb * l);
    }
}

/// Values of a single image's patch matrix from which [`chunk_patches`] splits it between
/// the threads.
pub(crate) const PAR_IM2COL_MIN: usize = 1 << 16;

/// Copies `dy` of group `grp`, images `i0..i0+nb`, into `[cout_g, nb·l]` (image blocks side
/// by side), or returns it in place when `nb == 1`.
fn chunk_rows<'a, T: Float>(
    dy: &'a [T],
    g: &Geometry,
    grp: usize,
    i0: usize,
    nb: usize,
    buf: &'a mut [T],
) -> &'a [T] {
    let (l, cout_g) = (g.l(), g.cout_g());
    if nb == 1 {
        return &dy[(i0 * g.cout + grp * cout_g) * l..][..cout_g * l];
    }
    for b in 0..nb {
        for co in 0..cout_g {
            let src = &dy[((i0 + b) * g.cout + grp * cout_g + co) * l..][..l];
            buf[co * nb * l + b * l..][..l].copy_from_slice(src);
        }
    }
    buf
}

/// The forward convolution through im2col and one GEMM per chunk of images. With `keep` (groups
/// == 1 only), chunk `i0..i0 + nb` builds its patch matrix at `keep[i0·k·l ..]` instead of
/// in scratch.
pub(crate) fn forward<T: Float>(
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    g: &Geometry,
    keep: Option<SharedOut<T>>,
    packed: Option<&[PackedLeft]>,
) -> Vec<T> {
    let (k, l, cout_g) = (g.k(), g.l(), g.cout_g());
    let mut y = alloc::<T>(g.n * g.cout * l);
    let out = SharedOut(y.as_mut_ptr());
    for_chunks(g, |i0, nb, par| {
        // Scratch from the pool: the same sizes recur every training step.
        let mut col = alloc::<T>(if (nb == 1 && g.pointwise()) || keep.is_some() {
            0
        } else {
            k * nb * l
        });
        let mut tmp = alloc::<T>(if nb == 1 { 0 } else { cout_g * nb * l });
        for grp in 0..g.groups {
            let direct = nb == 1 && g.pointwise();
            let patches: &[T] = if direct {
                &x[(i0 * g.cin + grp * g.cin_g()) * g.h * g.w..][..k * l]
            } else if let Some(keep) = &keep {
                // SAFETY: each chunk owns the patch columns of its images.
                let col = unsafe { keep.slice(i0 * k * l, k * nb * l) };
                chunk_patches(x, g, grp, i0, nb, col, par);
                col
            } else {
                chunk_patches(x, g, grp, i0, nb, &mut col, par);
                &col
            };
            // With one image the product lands in y directly; otherwise in a [cout_g, nb·l]
            // block that is then scattered to the images.
            // SAFETY: each chunk owns the output rows of its images.
            let dst: &mut [T] = if nb == 1 {
                unsafe { out.slice((i0 * g.cout + grp * cout_g) * l, cout_g * l) }
            } else {
                &mut tmp
            };
            if let Some(b) = bias {
                for (co, row) in dst.chunks_mut((nb * l).max(1)).enumerate() {
                    row.fill(b[grp * cout_g + co]);
                }
            }
            // SAFETY: operand blocks are in bounds of their slices by construction.
            unsafe {
                weight_product(
                    packed.map(|p| &p[grp]),
                    (cout_g, nb * l, k),
                    dst.as_mut_ptr(),
                    (nb * l) as isize,
                    bias.is_some(),
                    mat(wt[grp * cout_g * k..].as_ptr(), k, 1),
                    mat(patches.as_ptr(), nb * l, 1),
                    par,
                    g.prec,
                )
            };
            if nb > 1 {
                for b in 0..nb {
                    for co in 0..cout_g {
                        // SAFETY: rows of this chunk's images only.
                        let row =
                            unsafe { out.slice(((i0 + b) * g.cout + grp * cout_g + co) * l, l) };
                        row.copy_from_slice(&tmp[co * nb * l + b * l..][..l]);
                    }
                }
            }
        }
        recycle(col);
        recycle(tmp);
    });
    y
}

/// The input gradient `dx = col2im(Wᵀ · dy)` (`dy` is `[n, cout, oh, ow]`, `dx`
/// `[n, cin, h, w]`) through GEMM and col2im.
pub(crate) fn backward_data<T: Float>(dy: &[T], wt: &[T], g: &Geometry) -> Vec<T> {
    let (k, l, cout_g) = (g.k(), g.l(), g.cout_g());
    let plane = g.cin_g() * g.h * g.w;
    let mut dx = alloc::<T>(g.n * g.cin * g.h * g.w);
    let out = SharedOut(dx.as_mut_ptr());
    let packed = packed_weights(wt, g, true);
    for_chunks(g, |i0, nb, par| {
        let mut rows_buf = alloc::<T>(if nb == 1 { 0 } else { cout_g * nb * l });
        let mut col = alloc::<T>(if nb == 1 && g.pointwise() {
            0
        } else {
            k * nb * l
        });
        for grp in 0..g.groups {
            let dyc = chunk_rows(dy, g, grp, i0, nb, &mut rows_buf);
            let wg = wt[grp * cout_g * k..].as_ptr();
            if nb == 1 && g.pointwise() {
                // SAFETY: this chunk's image group; Wᵀ is read through swapped strides.
                let dxg = unsafe { out.slice((i0 * g.cin + grp * g.cin_g()) * g.h * g.w, plane) };
                unsafe {
                    weight_product(
                        packed.as_ref().map(|p| &p[grp]),
                        (k, l, cout_g),
                        dxg.as_mut_ptr(),
                        l as isize,
                        false,
                        mat(wg, 1, k),
                        mat(dyc.as_ptr(), l, 1),
                        par,
                        g.prec,
                    )
                };
                continue;
            }
            // SAFETY: as above, into the scratch patch matrix.
            unsafe {
                weight_product(
                    packed.as_ref().map(|p| &p[grp]),
                    (k, nb * l, cout_g),
                    col.as_mut_ptr(),
                    (nb * l) as isize,
                    false,
                    mat(wg, 1, k),
                    mat(dyc.as_ptr(), nb * l, 1),
                    par,
                    g.prec,
                )
            };
            for b in 0..nb {
                // SAFETY: this chunk's image group.
                let dxg =
                    unsafe { out.slice(((i0 + b) * g.cin + grp * g.cin_g()) * g.h * g.w, plane) };
                dxg.fill(T::ZERO);
                col2im(&col[b * l..], g, dxg, nb * l);
            }
        }
        recycle(rows_buf);
        recycle(col);
    });
    dx
}

/// The weight gradient `dW = Σ_images dy · col(x)ᵀ` (`[cout, cin_g, kh, kw]`) through
/// im2col and GEMM, reading the patch matrices from `kept` when given (groups == 1).
pub(crate) fn backward_weight<T: Float>(
    x: &[T],
    dy: &[T],
    g: &Geometry,
    kept: Option<&[T]>,
) -> Vec<T> {
    let (k, l, cout_g) = (g.k(), g.l(), g.cout_g());
    let wlen = g.cout * k;
    let chunk_into = |dw: &mut [T], i0: usize, nb: usize, par: bool| {
        let mut rows_buf = alloc::<T>(if nb == 1 { 0 } else { cout_g * nb * l });
        let mut col = alloc::<T>(if (nb == 1 && g.pointwise()) || kept.is_some() {
            0
        } else {
            k * nb * l
        });
        for grp in 0..g.groups {
            let patches: &[T] = if nb == 1 && g.pointwise() {
                &x[(i0 * g.cin + grp * g.cin_g()) * g.h * g.w..][..k * l]
            } else if let Some(kept) = kept {
                &kept[i0 * k * l..][..k * nb * l]
            } else {
                chunk_patches(x, g, grp, i0, nb, &mut col, par);
                &col
            };
            let dyc = chunk_rows(dy, g, grp, i0, nb, &mut rows_buf);
            let dwg = &mut dw[grp * cout_g * k..(grp + 1) * cout_g * k];
            // SAFETY: in-bounds blocks; the patch matrix is read transposed.
            unsafe {
                gemm(
                    cout_g,
                    k,
                    nb * l,
                    dwg.as_mut_ptr(),
                    k as isize,
                    true,
                    mat(dyc.as_ptr(), nb * l, 1),
                    mat(patches.as_ptr(), 1, nb * l),
                    par,
                    g.prec,
                )
            };
        }
        recycle(rows_buf);
        recycle(col);
    };
    let (chunk, parallel) = plan_chunks(g);
    let starts: Vec<usize> = (0..g.n).step_by(chunk).collect();
    if parallel {
        // A fixed split of the chunks into one group per thread, summed in group order: the
        // result does not depend on scheduling, so training runs are bitwise reproducible.
        let threads = rayon::current_num_threads().min(starts.len()).max(1);
        let per_group = starts.len().div_ceil(threads);
        let partials: Vec<Vec<T>> = starts
            .par_chunks(per_group)
            .map(|group| {
                let mut dw = alloc_zeroed::<T>(wlen);
                for &i0 in group {
                    chunk_into(&mut dw, i0, chunk.min(g.n - i0), false);
                }
                dw
            })
            .collect();
        let mut parts = partials.into_iter();
        let mut total = parts.next().unwrap_or_else(|| alloc_zeroed::<T>(wlen));
        for p in parts {
            for (a, b) in total.iter_mut().zip(&p) {
                *a += *b;
            }
            recycle(p);
        }
        total
    } else {
        let mut dw = alloc_zeroed::<T>(wlen);
        for &i0 in &starts {
            chunk_into(&mut dw, i0, chunk.min(g.n - i0), true);
        }
        dw
    }
}
