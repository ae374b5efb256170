//! `nabla viz`: pictures of what a trained network has learned: the first layer's filters
//! and a layer's feature maps for one image, as PNG grids.

use super::build_model;
use crate::args::{VizActivationsArgs, VizCommand, VizFiltersArgs};
use crate::run_config::{resolve_weights, RunConfig};
use anyhow::{anyhow, bail, Context, Result};
use nabla::Tensor;
use nabla_nn::checkpoint;
use plotters::prelude::*;
use std::path::Path;

/// Runs a `nabla viz` subcommand.
pub fn run(cmd: &VizCommand) -> Result<()> {
    match cmd {
        VizCommand::Filters(a) => filters(a),
        VizCommand::Activations(a) => activations(a),
        VizCommand::Reconstructions(a) => super::reconstructions::run(a),
        VizCommand::Interpolate(a) => super::interpolate::run(a),
        VizCommand::Latent(a) => super::latent::run(a),
    }
}

/// A tile of the grid: `h × w` pixels, RGB in `[0, 1]`, row-major.
pub(crate) struct Tile {
    pub h: usize,
    pub w: usize,
    pub rgb: Vec<[f32; 3]>,
}

impl Tile {
    /// A grey tile drawing `plane` (`h × w` intensities in `[0, 1]`, clamped) as it is.
    pub(crate) fn intensities(plane: &[f32], h: usize, w: usize) -> Tile {
        Tile {
            h,
            w,
            rgb: plane
                .iter()
                .map(|v| {
                    let v = v.clamp(0.0, 1.0);
                    [v, v, v]
                })
                .collect(),
        }
    }
}

/// Scales `values` to `[0, 1]` by their own minimum and maximum (all 0.5 when constant), so
/// each filter or map shows its own pattern whatever its magnitude.
fn normalize(values: &[f32]) -> Vec<f32> {
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    // A constant (or empty, or NaN) filter has no range to stretch: draw it mid-grey.
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![0.5; values.len()];
    }
    values.iter().map(|v| (v - lo) / (hi - lo)).collect()
}

/// A grey tile from one `h × w` plane.
fn grey(plane: &[f32], h: usize, w: usize) -> Tile {
    Tile {
        h,
        w,
        rgb: normalize(plane).into_iter().map(|v| [v, v, v]).collect(),
    }
}

/// Draws `tiles` in a grid of `cols` columns, each pixel of a tile `scale × scale` screen
/// pixels, 2-pixel gaps; writes the PNG.
pub(crate) fn save_grid(
    tiles: &[Tile],
    cols: usize,
    scale: usize,
    path: &Path,
) -> Result<(u32, u32)> {
    let (th, tw) = (
        tiles.iter().map(|t| t.h).max().unwrap_or(1),
        tiles.iter().map(|t| t.w).max().unwrap_or(1),
    );
    let gap = 2;
    let cols = cols.clamp(1, tiles.len().max(1));
    let rows = tiles.len().div_ceil(cols);
    let width = gap + cols * (tw * scale + gap);
    let height = gap + rows * (th * scale + gap);
    if width > 16_384 || height > 16_384 {
        bail!("the grid would be {width}x{height} pixels; too large to draw");
    }
    let size = (width as u32, height as u32);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("drawing {}: {e:?}", path.display());
    root.fill(&RGBColor(40, 40, 40)).map_err(err)?;
    for (i, t) in tiles.iter().enumerate() {
        let (x0, y0) = (
            gap + (i % cols) * (tw * scale + gap),
            gap + (i / cols) * (th * scale + gap),
        );
        for y in 0..t.h * scale {
            for x in 0..t.w * scale {
                let [r, g, b] = t.rgb[(y / scale) * t.w + x / scale];
                let c = RGBColor((r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8);
                root.draw_pixel(((x0 + x) as i32, (y0 + y) as i32), &c)
                    .map_err(err)?;
            }
        }
    }
    root.present().map_err(err)?;
    Ok(size)
}

/// The columns of a near-square grid of `n` tiles.
fn square_cols(n: usize) -> usize {
    (n as f64).sqrt().ceil().max(1.0) as usize
}

/// A fully connected weight `[out, in]` over square images (`in` = s², e.g. an RBM's `W`
/// or an MLP's first layer over 28 × 28 pixels), as `out` one-channel `s × s` filters.
fn as_image_filters(t: &Tensor) -> Option<Tensor> {
    let [out, inputs] = t.dims()[..] else {
        return None;
    };
    let side = (inputs as f64).sqrt().round() as usize;
    (side > 1 && side * side == inputs)
        .then(|| t.reshape(&[out, 1, side, side]).ok())
        .flatten()
}

/// The weight to draw: `LAYER.weight` (or `LAYER.W`), or the checkpoint's first 4-D weight,
/// or, in a checkpoint without any, its first fully connected weight over square images; as
/// filters `[out, c, h, w]`.
fn conv_weight(tensors: &[(String, Tensor)], layer: Option<&str>) -> Result<(String, Tensor)> {
    let is_weight = |n: &str| n.ends_with("weight") || n == "W" || n.ends_with(".W");
    let mut convs: Vec<(String, Tensor)> = tensors
        .iter()
        .filter(|(n, t)| is_weight(n) && t.rank() == 4)
        .cloned()
        .collect();
    // Only a network without convolutions (an MLP over pixels, an RBM) has its first
    // fully connected layer looking at the image; in a CNN the classifier's inputs are
    // feature maps, whose count may happen to be a square.
    if convs.is_empty() {
        convs.extend(
            tensors
                .iter()
                .filter(|(n, _)| is_weight(n))
                .filter_map(|(n, t)| Some((n.clone(), as_image_filters(t)?))),
        );
    }
    let names = || {
        convs
            .iter()
            .map(|(n, _)| n.trim_end_matches(".weight"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let found = match layer {
        None => convs.first(),
        Some(l) => {
            let (name, w) = (format!("{l}.weight"), format!("{l}.W"));
            convs.iter().find(|(n, _)| *n == name || *n == w || n == l)
        }
    };
    found.cloned().ok_or_else(|| match layer {
        Some(l) => anyhow!(
            "no convolution '{l}' in the checkpoint; its convolutions are: {}",
            names()
        ),
        None => anyhow!(
            "the checkpoint has no convolution weight (a 4-D tensor) nor a fully connected weight over square images"
        ),
    })
}

/// `nabla viz filters`.
fn filters(args: &VizFiltersArgs) -> Result<()> {
    let (file, _) = resolve_weights(&args.weights)?;
    let ckpt = checkpoint::load(&file).with_context(|| format!("reading {}", file.display()))?;
    let (name, w) = conv_weight(&ckpt.tensors, args.layer.as_deref())?;
    let [all, cin, kh, kw] = w.dims()[..] else {
        unreachable!("conv_weight returns 4-D tensors")
    };
    let cout = args.count.map_or(all, |n| all.min(n as usize));
    let mut values = w.to_dtype(nabla::DType::F32)?.to_vec::<f32>()?;
    values.truncate(cout * cin * kh * kw);
    let per_filter = cin * kh * kw;
    let plane = kh * kw;
    let (tiles, cols): (Vec<Tile>, usize) = if cin == 3 {
        // One RGB tile per filter, normalized over its three channels together.
        let tiles = values
            .chunks(per_filter)
            .map(|f| {
                let n = normalize(f);
                Tile {
                    h: kh,
                    w: kw,
                    rgb: (0..plane)
                        .map(|p| [n[p], n[plane + p], n[2 * plane + p]])
                        .collect(),
                }
            })
            .collect();
        (tiles, square_cols(cout))
    } else if cin == 1 {
        (
            values.chunks(plane).map(|f| grey(f, kh, kw)).collect(),
            square_cols(cout),
        )
    } else {
        // One row per filter, one grey tile per input channel.
        (values.chunks(plane).map(|f| grey(f, kh, kw)).collect(), cin)
    };
    let scale = (60 / kh.max(kw)).max(1);
    let (pw, ph) = save_grid(&tiles, cols, scale, &args.output)?;
    println!(
        "wrote {} filters of {name} ({all}x{cin}x{kh}x{kw}{}) to {} ({pw}x{ph} pixels)",
        cout,
        if cin == 3 {
            ", as RGB"
        } else if cin > 1 {
            ", one row per filter"
        } else {
            ""
        },
        args.output.display()
    );
    Ok(())
}

/// `nabla viz activations`.
fn activations(args: &VizActivationsArgs) -> Result<()> {
    let (file, dir) = resolve_weights(&args.weights)?;
    let cfg = RunConfig::load(&dir)?;
    let x = super::predict::images(std::slice::from_ref(&args.input), &cfg)?;
    let (vs, model) = build_model(&cfg)?;
    super::load_weights(&vs, &file, &cfg.model, true)?;
    let children = model.children();
    if children.is_empty() {
        bail!(
            "{} does not list its layers; activations need a chain of layers",
            cfg.model
        );
    }
    let names = || {
        children
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let target = match &args.layer {
        Some(l) => l.clone(),
        None => children[0].0.clone(),
    };
    if !children.iter().any(|(n, _)| *n == target) {
        bail!(
            "{} has no layer '{target}'; its layers are: {}",
            cfg.model,
            names()
        );
    }
    let mut h = x;
    for (name, layer) in &children {
        h = nabla::no_grad(|| layer.forward(&h))?;
        if *name == target {
            break;
        }
    }
    let [1, c, mh, mw] = h.dims()[..] else {
        bail!(
            "layer {target} outputs {}, not feature maps [1, channels, h, w]; choose one of the convolutional part: {}",
            h.shape(),
            names()
        );
    };
    let values = h.to_vec::<f32>()?;
    let tiles: Vec<Tile> = values.chunks(mh * mw).map(|m| grey(m, mh, mw)).collect();
    let scale = (56 / mh.max(mw)).max(1);
    let (pw, ph) = save_grid(&tiles, square_cols(c), scale, &args.output)?;
    println!(
        "wrote the {c} feature maps ({mh}x{mw}) of {target} for {} to {} ({pw}x{ph} pixels)",
        args.input.display(),
        args.output.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_spans_zero_to_one_and_handles_constants() {
        assert_eq!(normalize(&[-1.0, 0.0, 3.0]), vec![0.0, 0.25, 1.0]);
        assert_eq!(normalize(&[2.0, 2.0]), vec![0.5, 0.5]);
        assert_eq!(square_cols(6), 3);
        assert_eq!(square_cols(16), 4);
    }
}
