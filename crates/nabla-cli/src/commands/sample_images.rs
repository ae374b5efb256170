//! `nabla sample` for image models: a grid of new images drawn from a trained VAE's prior or
//! a GAN's generator, or by Gibbs sampling from an RBM.

use super::unsupervised::Unsupervised;
use super::viz::{save_grid, Tile};
use crate::args::SampleArgs;
use crate::run_config::RunConfig;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Parses `COLSxROWS` (each 1..=32).
pub fn parse_grid(spec: &str) -> Result<(usize, usize)> {
    let parsed = spec.split_once(['x', 'X']).and_then(|(c, r)| {
        Some((
            c.trim().parse::<usize>().ok()?,
            r.trim().parse::<usize>().ok()?,
        ))
    });
    match parsed {
        Some((c, r)) if (1..=32).contains(&c) && (1..=32).contains(&r) => Ok((c, r)),
        _ => {
            bail!("--grid must be COLUMNSxROWS with each between 1 and 32 (e.g. 8x8), got '{spec}'")
        }
    }
}

/// Draws `cols × rows` samples of the run's model into `args.out`.
pub fn run(args: &SampleArgs, cfg: &RunConfig, file: &Path) -> Result<()> {
    let (cols, rows) = parse_grid(&args.grid)?;
    let [1, h, w] = cfg.input_shape[..] else {
        bail!(
            "{} was trained on images of shape {:?}; sampling draws one-channel images",
            cfg.model,
            cfg.input_shape
        );
    };
    let (vs, model) = Unsupervised::build(cfg)?;
    vs.load(file)
        .with_context(|| format!("loading {} as {}", file.display(), cfg.model))?;
    nabla::manual_seed(args.seed);
    let (images, how) = match &model {
        Unsupervised::Vae(vae) => (vae.sample(cols * rows)?, "z ~ N(0, I)".to_string()),
        Unsupervised::ConvVae(vae) => (vae.sample(cols * rows)?, "z ~ N(0, I)".to_string()),
        Unsupervised::Dcgan(gan) => (
            gan.sample(cols * rows)?,
            "z ~ N(0, I), the generator in evaluation mode".to_string(),
        ),
        Unsupervised::Rbm(rbm) => (
            rbm.sample(cols * rows, args.gibbs_steps as usize)?,
            format!("{} Gibbs steps from random binary images", args.gibbs_steps),
        ),
        Unsupervised::Ae(_) | Unsupervised::Dae(_) => {
            bail!("an autoencoder has no prior to sample from")
        }
    };
    let values = images.to_vec::<f32>()?;
    let tiles: Vec<Tile> = values
        .chunks(h * w)
        .map(|p| Tile::intensities(p, h, w))
        .collect();
    let (pw, ph) = save_grid(&tiles, cols, 3, &args.out)?;
    println!(
        "wrote {} samples of {} ({how}, seed {}) to {} ({pw}x{ph} pixels)",
        cols * rows,
        cfg.model,
        args.seed,
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_specs_parse_and_absurd_ones_are_refused() {
        assert_eq!(parse_grid("8x8").unwrap(), (8, 8));
        assert_eq!(parse_grid("10X3").unwrap(), (10, 3));
        for bad in ["8", "0x4", "8x", "100x100", "axb"] {
            assert!(parse_grid(bad).is_err(), "{bad}");
        }
    }
}
