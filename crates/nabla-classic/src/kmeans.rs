//! k-means clustering (Lloyd's algorithm with k-means++ seeding), the classical baseline of
//! unsupervised learning. Distances to the centroids go through the engine's matrix product:
//! `‖x − c‖² = ‖x‖² − 2·x·c + ‖c‖²`.
//!
//! The data arrive as host slices (`Dataset` rows), so the tensors are built on
//! `Device::Cpu`: the classical methods of this crate run on the host by design.

use crate::{Error, Result};
use nabla::{Device, Rng, Tensor};

/// A fitted k-means model.
#[derive(Clone, Debug)]
pub struct KMeans {
    /// Centroids `[k, d]`, row-major.
    pub centroids: Vec<f32>,
    /// Features.
    pub d: usize,
    /// The sum of squared distances of the training rows to their centroids.
    pub inertia: f64,
    /// Lloyd iterations run.
    pub iterations: usize,
}

/// Index and squared distance of the nearest centroid of each row of `x`.
fn nearest(x: &[f32], d: usize, centroids: &[f32]) -> Result<Vec<(usize, f32)>> {
    let k = centroids.len() / d;
    let c = Tensor::from_slice(centroids, &[k, d], &Device::Cpu)?;
    let c_sq: Vec<f32> = centroids
        .chunks(d)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    let mut out = Vec::with_capacity(x.len() / d);
    for chunk in x.chunks(4096 * d) {
        let xt = Tensor::from_slice(chunk, &[chunk.len() / d, d], &Device::Cpu)?;
        let dots = xt.matmul(&c.t()?)?.to_vec::<f32>()?;
        for (row, dot) in chunk.chunks(d).zip(dots.chunks(k)) {
            let x_sq: f32 = row.iter().map(|v| v * v).sum();
            let (best, dist) = dot
                .iter()
                .zip(&c_sq)
                .map(|(p, cc)| (x_sq - 2.0 * p + cc).max(0.0))
                .enumerate()
                .fold(
                    (0, f32::INFINITY),
                    |b, (j, v)| if v < b.1 { (j, v) } else { b },
                );
            out.push((best, dist));
        }
    }
    Ok(out)
}

impl KMeans {
    /// Clusters the rows of `x` (`[n, d]`) into `k` groups: k-means++ seeding (each new seed
    /// drawn with probability proportional to its squared distance to the nearest seed so
    /// far), then Lloyd iterations until no assignment changes or `max_iter`. An emptied
    /// cluster takes the row farthest from its centroid.
    ///
    /// # Errors
    /// [`Error::Data`] when `x` is not whole rows of `d`; [`Error::InvalidArgument`] when `k`
    /// is 0 or above the number of rows.
    pub fn fit(x: &[f32], d: usize, k: usize, max_iter: usize, seed: u64) -> Result<KMeans> {
        if d == 0 || x.is_empty() || !x.len().is_multiple_of(d) {
            return Err(Error::data(
                "kmeans",
                format!("{} values are not whole rows of {d} features", x.len()),
            ));
        }
        let n = x.len() / d;
        if k == 0 || k > n {
            return Err(Error::invalid(
                "kmeans",
                format!("k must be in 1..={n} (the number of rows), got {k}"),
            ));
        }
        let mut rng = Rng::new(seed);
        let row = |i: usize| &x[i * d..(i + 1) * d];
        let mut centroids = row(rng.below(n as u64) as usize).to_vec();
        while centroids.len() < k * d {
            let dist = nearest(x, d, &centroids)?;
            let total: f64 = dist.iter().map(|p| p.1 as f64).sum();
            let mut target = rng.next_f64() * total;
            let mut pick = n - 1;
            for (i, p) in dist.iter().enumerate() {
                target -= p.1 as f64;
                if target <= 0.0 {
                    pick = i;
                    break;
                }
            }
            centroids.extend_from_slice(row(pick));
        }
        let mut assignment = vec![usize::MAX; n];
        let mut iterations = 0;
        let mut inertia;
        loop {
            let dist = nearest(x, d, &centroids)?;
            inertia = dist.iter().map(|p| p.1 as f64).sum();
            let changed = dist
                .iter()
                .zip(&assignment)
                .filter(|(p, &a)| p.0 != a)
                .count();
            assignment = dist.iter().map(|p| p.0).collect();
            if changed == 0 || iterations == max_iter {
                break;
            }
            iterations += 1;
            let mut sums = vec![0f64; k * d];
            let mut counts = vec![0usize; k];
            for (i, &a) in assignment.iter().enumerate() {
                counts[a] += 1;
                for (s, v) in sums[a * d..(a + 1) * d].iter_mut().zip(row(i)) {
                    *s += *v as f64;
                }
            }
            for j in 0..k {
                if counts[j] == 0 {
                    let far = (0..n)
                        .max_by(|&a, &b| dist[a].1.total_cmp(&dist[b].1))
                        .expect("n ≥ k ≥ 1 rows");
                    centroids[j * d..(j + 1) * d].copy_from_slice(row(far));
                    continue;
                }
                for (c, s) in centroids[j * d..(j + 1) * d]
                    .iter_mut()
                    .zip(&sums[j * d..(j + 1) * d])
                {
                    *c = (*s / counts[j] as f64) as f32;
                }
            }
        }
        Ok(KMeans {
            centroids,
            d,
            inertia,
            iterations,
        })
    }

    /// The cluster of each row of `x`.
    ///
    /// # Errors
    /// When `x` is not whole rows of `d`.
    pub fn predict(&self, x: &[f32]) -> Result<Vec<usize>> {
        if !x.len().is_multiple_of(self.d) {
            return Err(Error::data(
                "kmeans",
                format!(
                    "{} values are not whole rows of {} features",
                    x.len(),
                    self.d
                ),
            ));
        }
        Ok(nearest(x, self.d, &self.centroids)?
            .into_iter()
            .map(|p| p.0)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hungarian::clustering_accuracy;

    #[test]
    fn kmeans_recovers_three_separated_blobs() -> Result<()> {
        let mut rng = Rng::new(3);
        let centers = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        let mut x = vec![];
        let mut y = vec![];
        for i in 0..300 {
            let c = i % 3;
            x.push(centers[c][0] + rng.normal() as f32);
            x.push(centers[c][1] + rng.normal() as f32);
            y.push(c);
        }
        let km = KMeans::fit(&x, 2, 3, 100, 0)?;
        let (acc, _) = clustering_accuracy(&km.predict(&x)?, &y);
        assert_eq!(acc, 1.0);
        // Each point's squared distance to its blob's center is about 2 on average.
        assert!(km.inertia / 300.0 < 2.5, "{}", km.inertia);
        assert!(KMeans::fit(&x, 2, 0, 10, 0).is_err());
        assert!(KMeans::fit(&x[..4], 2, 3, 10, 0).is_err());
        assert!(km.predict(&x[..3]).is_err());
        Ok(())
    }
}
