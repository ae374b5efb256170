//! `nabla viz reconstructions`: test images beside an autoencoder's (or VAE's) reconstructions
//! and PCA's, with the mean squared error per image of each over the test set.

use super::unsupervised::Unsupervised;
use super::viz::{save_grid, Tile};
use crate::args::VizReconstructionsArgs;
use crate::run_config::{resolve_weights, RunConfig};
use anyhow::{bail, Context, Result};
use nabla::{Device, Tensor};
use nabla_classic::matrix::Labelled;
use nabla_classic::pca::Pca;
use nabla_data::spec::{self as data_spec, SpecOptions};

/// Mean over images of the squared error summed over each image's `d` pixels.
pub fn mse_per_image(x: &[f32], r: &[f32], d: usize) -> f64 {
    let sum: f64 = x.iter().zip(r).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
    sum / (x.len() / d).max(1) as f64
}

/// Reconstructions of the rows of `x` by the model, 1,000 images at a time.
fn model_reconstructions(model: &Unsupervised, x: &[f32], shape: &[usize]) -> Result<Vec<f32>> {
    let d: usize = shape.iter().product();
    let mut out = Vec::with_capacity(x.len());
    for chunk in x.chunks(1000 * d) {
        let mut dims = vec![chunk.len() / d];
        dims.extend_from_slice(shape);
        let batch = Tensor::from_slice(chunk, &dims, &Device::Cpu)?;
        out.extend(model.reconstruct(&batch)?.to_vec::<f32>()?);
    }
    Ok(out)
}

/// A trained unsupervised model of one-channel `h × w` images, with its run's dataset.
pub(super) struct ImageRun {
    /// The run's configuration.
    pub cfg: RunConfig,
    /// The model, its weights loaded.
    pub model: Unsupervised,
    /// Image height.
    pub h: usize,
    /// Image width.
    pub w: usize,
    /// The dataset the run was trained on.
    pub data: data_spec::DataBundle,
}

/// Loads the unsupervised run at `weights` (a run folder or its weights file).
pub(super) fn load_image_run(weights: &std::path::Path) -> Result<ImageRun> {
    let (file, dir) = resolve_weights(weights)?;
    let cfg = RunConfig::load(&dir)?;
    if !super::unsupervised::is_unsupervised(&cfg.model) {
        bail!(
            "{} holds a run of '{}'; this needs a run of --model {}",
            dir.display(),
            cfg.model,
            super::unsupervised::names(super::unsupervised::MODELS.iter().map(|m| m.0))
        );
    }
    let [1, h, w] = cfg.input_shape[..] else {
        bail!(
            "this draws one-channel images; the run's inputs are {:?}",
            cfg.input_shape
        );
    };
    let (vs, model) = Unsupervised::build(&cfg)?;
    vs.load(&file)
        .with_context(|| format!("loading {} as {}", file.display(), cfg.model))?;
    let data = data_spec::load(&cfg.data, &SpecOptions::default())
        .with_context(|| format!("loading dataset '{}'", cfg.data))?;
    Ok(ImageRun {
        cfg,
        model,
        h,
        w,
        data,
    })
}

/// Runs `nabla viz reconstructions`.
pub fn run(args: &VizReconstructionsArgs) -> Result<()> {
    let ImageRun {
        cfg,
        model,
        h,
        w,
        data,
    } = load_image_run(&args.weights)?;
    let d = h * w;
    let test = Labelled::from_dataset(data.test.as_ref(), args.test_size)?;
    if test.len() < args.count as usize {
        bail!(
            "--count {} is more than the {} test images",
            args.count,
            test.len()
        );
    }
    let recon = model_reconstructions(&model, &test.x, &cfg.input_shape)?;
    let model_mse = mse_per_image(&test.x, &recon, d);
    println!(
        "{}: mean squared reconstruction error {model_mse:.3} per image (summed over {d} pixels in [0, 1], averaged over {} test images)",
        cfg.model,
        test.len()
    );
    let mut rows: Vec<&[f32]> = vec![&test.x, &recon];
    let pca_recon;
    if args.pca > 0 {
        let train = Labelled::from_dataset(data.train.as_ref(), None)?;
        let pca = Pca::fit(&train.x, d, args.pca, 30)?;
        pca_recon = pca.reconstruct(&test.x)?;
        let pca_mse = mse_per_image(&test.x, &pca_recon, d);
        println!(
            "PCA with {} components (fitted on {} training images): {pca_mse:.3} per image; {} is {:.2}x better",
            args.pca,
            train.len(),
            cfg.model,
            pca_mse / model_mse.max(1e-12)
        );
        rows.push(&pca_recon);
    }
    let count = args.count as usize;
    let tiles: Vec<Tile> = rows
        .iter()
        .flat_map(|r| r[..count * d].chunks(d).map(|p| Tile::intensities(p, h, w)))
        .collect();
    let (pw, ph) = save_grid(&tiles, count, 3, &args.output)?;
    println!(
        "wrote {} ({pw}x{ph} pixels): originals, {}{}",
        args.output.display(),
        cfg.model,
        if args.pca > 0 { ", PCA" } else { "" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mse_per_image_sums_pixels_and_averages_images() {
        // Two images of 2 pixels: errors (1, 0) and (0.5, 0.5) → (1 + 0.5) / 2.
        let x = [1.0, 0.0, 0.5, 0.5];
        let r = [0.0, 0.0, 0.0, 1.0];
        assert!((mse_per_image(&x, &r, 2) - 0.75).abs() < 1e-12);
    }
}
