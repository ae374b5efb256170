//! `nabla viz interpolate`: what an unsupervised model decodes along the straight line between
//! the codes of two test images, one row per pair.

use super::reconstructions::{load_image_run, ImageRun};
use super::viz::{save_grid, Tile};
use crate::args::VizInterpolateArgs;
use anyhow::{bail, Result};
use nabla::{Device, Tensor};
use nabla_classic::matrix::Labelled;

/// `steps` points from `a` to `b` (both included), row-major `[steps, a.len()]`.
fn line(a: &[f32], b: &[f32], steps: usize) -> Vec<f32> {
    (0..steps)
        .flat_map(|i| {
            let t = i as f32 / (steps - 1).max(1) as f32;
            a.iter().zip(b).map(move |(x, y)| (1.0 - t) * x + t * y)
        })
        .collect()
}

/// Runs `nabla viz interpolate`.
pub fn run(args: &VizInterpolateArgs) -> Result<()> {
    let ImageRun {
        cfg,
        model,
        h,
        w,
        data,
    } = load_image_run(&args.weights)?;
    let (pairs, steps) = (args.pairs as usize, args.steps as usize);
    let test = Labelled::from_dataset(data.test.as_ref(), Some(2 * pairs))?;
    if test.len() < 2 * pairs {
        bail!(
            "--pairs {pairs} needs {} test images; the dataset has {}",
            2 * pairs,
            test.len()
        );
    }
    let x = Tensor::from_slice(&test.x, &[2 * pairs, 1, h, w], &Device::Cpu)?;
    let codes = model.encode(&x)?;
    let width = codes.dims()[1];
    let codes = codes.to_vec::<f32>()?;
    let mut tiles = vec![];
    for p in 0..pairs {
        let (a, b) = (2 * p * width, (2 * p + 1) * width);
        let path = line(&codes[a..a + width], &codes[b..b + width], steps);
        let images = model.decode(&Tensor::from_vec(path, &[steps, width], &Device::Cpu)?)?;
        let images = images.to_vec::<f32>()?;
        tiles.extend(images.chunks(h * w).map(|img| Tile::intensities(img, h, w)));
    }
    let (pw, ph) = save_grid(&tiles, steps, 3, &args.output)?;
    println!(
        "wrote {} ({pw}x{ph} pixels): {pairs} rows of {steps} images decoded by {} along straight lines between the {width}-d codes of test images 0 and 1, 2 and 3, ...",
        args.output.display(),
        cfg.model
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_runs_from_the_first_point_to_the_second() {
        let l = line(&[0.0, 2.0], &[1.0, 0.0], 3);
        assert_eq!(l, vec![0.0, 2.0, 0.5, 1.0, 1.0, 0.0]);
    }
}
