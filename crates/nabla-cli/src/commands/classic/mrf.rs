//! `nabla classic mrf`: binarized test images with a share of their pixels flipped, denoised
//! by an Ising Markov random field with iterated conditional modes and with Gibbs sampling.

use super::{load, ClassicData};
use crate::commands::viz::{save_grid, Tile};
use anyhow::{bail, Result};
use clap::Args;
use nabla::Rng;
use nabla_classic::mrf::{binarize, flip, pixel_error, Ising};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct MrfArgs {
    #[command(flatten)]
    pub data: ClassicData,
    /// Share of pixels flipped, in (0, 0.5).
    #[arg(long, default_value_t = 0.1)]
    pub flip: f64,
    /// Coupling of neighbouring pixels.
    #[arg(long, default_value_t = 0.8)]
    pub beta: f64,
    /// Gibbs sampling: sweeps discarded before averaging.
    #[arg(long, default_value_t = 10)]
    pub burn_in: usize,
    /// Gibbs sampling: sweeps averaged.
    #[arg(long, default_value_t = 40)]
    pub sweeps: usize,
    /// Images to denoise (the first N test images).
    #[arg(long, default_value_t = 500)]
    pub images: usize,
    /// A PNG: rows of clean, noisy, ICM and Gibbs images (the first 10).
    #[arg(long, default_value = "mrf.png")]
    pub png: PathBuf,
}

/// Runs `nabla classic mrf`.
pub fn run(a: &MrfArgs) -> Result<()> {
    let mut data = a.data.clone();
    data.test_size = Some(a.images.max(1));
    data.train_size = Some(1);
    let split = load(&data)?;
    let d = split.test.d;
    let side = (d as f64).sqrt() as usize;
    if side * side != d {
        bail!("the MRF denoises square one-channel images; examples have {d} values");
    }
    let field = Ising::for_flip_rate(a.beta, a.flip)?;
    let mut rng = Rng::new(a.data.seed);
    let (mut before, mut icm_err, mut gibbs_err) = (0.0, 0.0, 0.0);
    let mut rows: [Vec<Vec<i8>>; 4] = Default::default();
    let n = split.test.len();
    for i in 0..n {
        let clean = binarize(split.test.row(i), 0.5);
        let noisy = flip(&clean, a.flip, &mut rng);
        let icm = field.icm(&noisy, side, side, 50)?;
        let gibbs = field.gibbs(&noisy, side, side, a.burn_in, a.sweeps, &mut rng)?;
        before += pixel_error(&noisy, &clean);
        icm_err += pixel_error(&icm, &clean);
        gibbs_err += pixel_error(&gibbs, &clean);
        if i < 10 {
            for (row, img) in rows.iter_mut().zip([clean, noisy, icm, gibbs]) {
                row.push(img);
            }
        }
    }
    let pct = |e: f64| 100.0 * e / n as f64;
    println!(
        "{n} binarized images, {:.0}% of pixels flipped, beta {}, eta {:.3}: pixel error {:.2}% noisy, {:.2}% after ICM, {:.2}% after Gibbs sampling ({} + {} sweeps)",
        100.0 * a.flip,
        a.beta,
        field.eta,
        pct(before),
        pct(icm_err),
        pct(gibbs_err),
        a.burn_in,
        a.sweeps
    );
    let cols = rows[0].len();
    let tiles: Vec<Tile> = rows
        .iter()
        .flatten()
        .map(|img| {
            let plane: Vec<f32> = img.iter().map(|&v| (v > 0) as u8 as f32).collect();
            Tile::intensities(&plane, side, side)
        })
        .collect();
    save_grid(&tiles, cols, 3, &a.png)?;
    println!(
        "wrote {}: rows of clean, noisy, ICM, Gibbs",
        a.png.display()
    );
    Ok(())
}
