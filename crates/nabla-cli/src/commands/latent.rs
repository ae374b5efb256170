//! `nabla viz latent`: a VAE with a two-dimensional latent space drawn two ways: the images
//! its decoder gives over a grid of codes (the learned manifold), and where the encoder puts
//! the test images (posterior means), coloured by class.

use super::reconstructions::{load_image_run, ImageRun};
use super::unsupervised::Unsupervised;
use super::viz::{save_grid, Tile};
use crate::args::VizLatentArgs;
use anyhow::{anyhow, bail, Result};
use nabla::{Device, Tensor};
use nabla_classic::matrix::Labelled;
use plotters::prelude::*;
use std::path::Path;

/// Half the side of the square of codes the manifold covers (±2.5 standard deviations of the
/// prior).
const EXTENT: f32 = 2.5;

/// The `grid × grid` codes of the manifold, row-major, top row first (`z₂` falls down the
/// rows, as `y` falls down a plot).
fn grid_codes(grid: usize) -> Vec<f32> {
    let at = |i: usize| -EXTENT + 2.0 * EXTENT * i as f32 / (grid - 1).max(1) as f32;
    (0..grid)
        .flat_map(|r| (0..grid).flat_map(move |c| [at(c), at(grid - 1 - r)]))
        .collect()
}

/// Draws the test codes `(z₁, z₂)` with one colour per class and a legend.
fn scatter(path: &Path, codes: &[f32], labels: &[usize], names: &[String]) -> Result<()> {
    nabla_nn::trainer::register_plot_font();
    let err = |e: &dyn std::fmt::Debug| anyhow!("drawing {}: {e:?}", path.display());
    let root = BitMapBackend::new(path, (720, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let lim = codes.iter().fold(3f32, |m, v| m.max(v.abs())).min(10.0) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "test images' codes (posterior means) by class",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(-lim..lim, -lim..lim)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("z1")
        .y_desc("z2")
        .draw()
        .map_err(|e| err(&e))?;
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    for class in 0..classes {
        let color = Palette99::pick(class).to_rgba();
        let points = codes
            .chunks(2)
            .zip(labels)
            .filter(|(_, &y)| y == class)
            .map(|(z, _)| Circle::new((z[0] as f64, z[1] as f64), 2, color.filled()));
        let name = names
            .get(class)
            .cloned()
            .unwrap_or_else(|| class.to_string());
        chart
            .draw_series(points)
            .map_err(|e| err(&e))?
            .label(name)
            .legend(move |(x, y)| Circle::new((x, y), 4, color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Runs `nabla viz latent`.
pub fn run(args: &VizLatentArgs) -> Result<()> {
    let ImageRun {
        cfg,
        model,
        h,
        w,
        data,
    } = load_image_run(&args.weights)?;
    let latent = match &model {
        Unsupervised::Vae(m) => m.config.latent,
        Unsupervised::ConvVae(m) => m.config.latent,
        _ => bail!(
            "`viz latent` draws a VAE's latent space; {} is a run of '{}'",
            args.weights.display(),
            cfg.model
        ),
    };
    if latent != 2 {
        bail!(
            "{} has a {latent}-d latent space; `viz latent` draws 2-d ones (train with --model {} --latent 2)",
            args.weights.display(),
            cfg.model
        );
    }
    let grid = args.grid as usize;
    let z = Tensor::from_vec(grid_codes(grid), &[grid * grid, 2], &Device::Cpu)?;
    let images = model.decode(&z)?.to_vec::<f32>()?;
    let tiles: Vec<Tile> = images
        .chunks(h * w)
        .map(|p| Tile::intensities(p, h, w))
        .collect();
    let (pw, ph) = save_grid(&tiles, grid, 2, &args.manifold)?;
    println!(
        "wrote {} ({pw}x{ph} pixels): {grid}x{grid} images decoded from codes in [-{EXTENT}, {EXTENT}]² (z1 left to right, z2 bottom to top)",
        args.manifold.display()
    );
    let test = Labelled::from_dataset(data.test.as_ref(), args.test_size)?;
    let mut codes = Vec::with_capacity(2 * test.len());
    for chunk in test.x.chunks(1000 * h * w) {
        let x = Tensor::from_slice(chunk, &[chunk.len() / (h * w), 1, h, w], &Device::Cpu)?;
        codes.extend(model.encode(&x)?.to_vec::<f32>()?);
    }
    let names = cfg.class_names.clone().unwrap_or_default();
    scatter(&args.scatter, &codes, &test.y, &names)?;
    println!(
        "wrote {}: the codes of {} test images, coloured by class",
        args.scatter.display(),
        test.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_codes_span_the_square_with_z2_falling_down_the_rows() {
        let g = grid_codes(3);
        assert_eq!(g.len(), 18);
        assert_eq!(&g[..2], &[-EXTENT, EXTENT]); // top left
        assert_eq!(&g[16..], &[EXTENT, -EXTENT]); // bottom right
        assert_eq!(&g[8..10], &[0.0, 0.0]); // centre
    }
}
