//! `nabla classic kmeans`: k-means on a dataset's inputs, or on the codes of a trained
//! autoencoder, scored by clustering accuracy (the best one-to-one matching of clusters to
//! classes, by the Hungarian algorithm).

use super::{load, ClassicData};
use crate::commands::unsupervised::Unsupervised;
use crate::commands::viz::{save_grid, Tile};
use crate::run_config::{resolve_weights, RunConfig};
use anyhow::{bail, Context, Result};
use clap::Args;
use nabla::{Device, Tensor};
use nabla_classic::hungarian::clustering_accuracy;
use nabla_classic::kmeans::KMeans;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct KmeansArgs {
    #[command(flatten)]
    pub data: ClassicData,
    /// Clusters (default: the number of classes).
    #[arg(long)]
    pub k: Option<usize>,
    /// Cluster the codes of this run (`nabla train --model ae|dae|vae|conv-vae|rbm`) instead of
    /// the raw inputs.
    #[arg(long, value_name = "RUN")]
    pub codes: Option<PathBuf>,
    /// Most Lloyd iterations.
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// A PNG of the centroids (clustering pixels of one-channel images only).
    #[arg(long)]
    pub centroids_png: Option<PathBuf>,
}

/// The codes of rows `x` by the autoencoder of run `path`.
fn encode(path: &std::path::Path, x: &[f32]) -> Result<(Vec<f32>, usize)> {
    let (file, dir) = resolve_weights(path)?;
    let cfg = RunConfig::load(&dir)?;
    let (vs, model) = Unsupervised::build(&cfg)
        .with_context(|| format!("--codes {}: not an autoencoder run", path.display()))?;
    vs.load(&file)
        .with_context(|| format!("loading {}", file.display()))?;
    let d: usize = cfg.input_shape.iter().product();
    if !x.len().is_multiple_of(d) {
        bail!("the data's examples do not have the {d} values the autoencoder of --codes reads");
    }
    let mut codes = Vec::new();
    let mut width = 0;
    for chunk in x.chunks(1000 * d) {
        let t = Tensor::from_slice(chunk, &[chunk.len() / d, d], &Device::Cpu)?;
        let c = model.encode(&t)?;
        width = c.dims()[1];
        codes.extend(c.to_vec::<f32>()?);
    }
    Ok((codes, width))
}

/// Runs `nabla classic kmeans`.
pub fn run(a: &KmeansArgs) -> Result<()> {
    let split = load(&a.data)?;
    let k = a.k.unwrap_or(split.names.len());
    let (train, test, d, what) = match &a.codes {
        None => (
            split.train.x.clone(),
            split.test.x.clone(),
            split.train.d,
            "inputs".to_string(),
        ),
        Some(run) => {
            let (train, d) = encode(run, &split.train.x)?;
            let (test, _) = encode(run, &split.test.x)?;
            (train, test, d, format!("{d}-d codes of {}", run.display()))
        }
    };
    let started = Instant::now();
    let km = KMeans::fit(&train, d, k, a.max_iter, a.data.seed)?;
    let secs = started.elapsed().as_secs_f64();
    let (train_acc, matching) = clustering_accuracy(&km.predict(&train)?, &split.train.y);
    let test_clusters = km.predict(&test)?;
    let test_hits = test_clusters
        .iter()
        .zip(&split.test.y)
        .filter(|(&c, &y)| matching.get(c) == Some(&y))
        .count();
    println!(
        "k-means, k = {k}, on the {what}: {} iterations in {secs:.1} s, inertia {:.1} per example",
        km.iterations,
        km.inertia / split.train.len() as f64
    );
    println!(
        "clustering accuracy (Hungarian matching of clusters to classes): {:.2}% on {} training examples, {:.2}% on {} test examples with the same matching",
        100.0 * train_acc,
        split.train.len(),
        100.0 * test_hits as f64 / split.test.len().max(1) as f64,
        split.test.len()
    );
    if let Some(png) = &a.centroids_png {
        let side = (d as f64).sqrt() as usize;
        if a.codes.is_some() || side * side != d {
            bail!("--centroids-png draws centroids of square one-channel images ({d} values each is not one)");
        }
        let tiles: Vec<Tile> = km
            .centroids
            .chunks(d)
            .map(|c| Tile::intensities(c, side, side))
            .collect();
        save_grid(&tiles, k.min(10), 3, png)?;
        println!("wrote the {k} centroids to {}", png.display());
    }
    Ok(())
}
