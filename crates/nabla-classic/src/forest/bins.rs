//! Features discretized into at most 256 ordered bins, so that a split search is a pass of
//! counting instead of a sort. Exact for features with at most 256 distinct values (MNIST's
//! pixels); otherwise the edges are 255 quantiles.

/// Per-feature bin edges and the binned training data.
pub(crate) struct Binned {
    /// `codes[f * n + i]`: the bin of feature `f` of example `i`.
    pub codes: Vec<u8>,
    /// `edges[f][b]`: values `<= edges[f][b]` are in bins `0..=b`.
    pub edges: Vec<Vec<f32>>,
    pub n: usize,
}

/// The bin of `v`: the number of edges below it.
fn code(edges: &[f32], v: f32) -> u8 {
    edges.partition_point(|&e| e < v) as u8
}

/// Edges of one feature from its values.
fn edges_of(mut values: Vec<f32>) -> Vec<f32> {
    values.sort_unstable_by(f32::total_cmp);
    let mut distinct = values.clone();
    distinct.dedup();
    if distinct.len() <= 256 {
        // Midpoints between consecutive distinct values.
        return distinct
            .windows(2)
            .map(|w| w[0] + (w[1] - w[0]) / 2.0)
            .collect();
    }
    let n = values.len();
    let mut edges: Vec<f32> = (1..256).map(|k| values[k * n / 256 - 1]).collect();
    edges.dedup();
    // The largest value must not be an edge (it would leave an empty last bin).
    if edges.last() == values.last() {
        edges.pop();
    }
    edges
}

impl Binned {
    /// Bins the `n = x.len() / d` rows of `x`.
    pub fn new(x: &[f32], d: usize) -> Binned {
        let n = x.len() / d;
        let edges: Vec<Vec<f32>> = (0..d)
            .map(|f| edges_of((0..n).map(|i| x[i * d + f]).collect()))
            .collect();
        let mut codes = vec![0u8; n * d];
        for (f, e) in edges.iter().enumerate() {
            for i in 0..n {
                codes[f * n + i] = code(e, x[i * d + f]);
            }
        }
        Binned { codes, edges, n }
    }

    /// Bin codes of feature `f`, one per example.
    pub fn feature(&self, f: usize) -> &[u8] {
        &self.codes[f * self.n..(f + 1) * self.n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each_and_midpoint_edges() {
        let b = Binned::new(&[0.0, 5.0, 1.0, 0.0, 5.0], 1);
        assert_eq!(b.edges[0], vec![0.5, 3.0]);
        assert_eq!(b.feature(0), &[0, 2, 1, 0, 2]);
    }

    #[test]
    fn many_distinct_values_get_quantile_bins_that_keep_order() {
        let x: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 1000) as f32).collect();
        let b = Binned::new(&x, 1);
        assert!(b.edges[0].len() <= 255 && b.edges[0].len() > 200);
        for i in 0..1000 {
            for j in 0..1000 {
                if x[i] < x[j] {
                    assert!(b.feature(0)[i] <= b.feature(0)[j]);
                }
            }
        }
        // Every value <= an edge has a code <= that edge's bin.
        for (k, &e) in b.edges[0].iter().enumerate() {
            for i in 0..1000 {
                assert_eq!(x[i] <= e, b.feature(0)[i] as usize <= k);
            }
        }
    }
}
