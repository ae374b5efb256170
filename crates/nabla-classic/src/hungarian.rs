//! The Hungarian algorithm (Kuhn 1955, Munkres 1957) for the assignment problem, and the
//! clustering accuracy it gives: clusters matched one-to-one to classes so that the most
//! examples agree.

use crate::{Error, Result};

/// The assignment of rows to columns of a square `n × n` cost matrix (row-major) with the
/// least total cost: `result[row] = column`.
///
/// Shortest augmenting paths with row and column potentials, `O(n³)`: each row is added in
/// turn, and the potentials keep every reduced cost non-negative so that a Dijkstra-like scan
/// finds the cheapest way to fit it in.
///
/// # Errors
/// [`Error::InvalidArgument`] when `cost` does not hold `n × n` values or one is not finite.
pub fn assign(cost: &[f64], n: usize) -> Result<Vec<usize>> {
    if cost.len() != n * n || cost.iter().any(|c| !c.is_finite()) {
        return Err(Error::invalid(
            "assign",
            format!("needs {n} × {n} finite costs, got {} values", cost.len()),
        ));
    }
    // 1-based arrays with a virtual column 0 that holds the row being inserted.
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let mut row_of = vec![0usize; n + 1]; // row_of[col]: the row assigned to col (0: none)
    let mut way = vec![0usize; n + 1];
    for row in 1..=n {
        row_of[0] = row;
        let mut col0 = 0;
        let mut min_to = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[col0] = true;
            let r = row_of[col0];
            let (mut delta, mut next) = (f64::INFINITY, 0);
            for col in 1..=n {
                if used[col] {
                    continue;
                }
                let reduced = cost[(r - 1) * n + col - 1] - u[r] - v[col];
                if reduced < min_to[col] {
                    min_to[col] = reduced;
                    way[col] = col0;
                }
                if min_to[col] < delta {
                    delta = min_to[col];
                    next = col;
                }
            }
            for col in 0..=n {
                if used[col] {
                    u[row_of[col]] += delta;
                    v[col] -= delta;
                } else {
                    min_to[col] -= delta;
                }
            }
            col0 = next;
            if row_of[col0] == 0 {
                break;
            }
        }
        // Flip the augmenting path back to the virtual column.
        loop {
            let prev = way[col0];
            row_of[col0] = row_of[prev];
            col0 = prev;
            if col0 == 0 {
                break;
            }
        }
    }
    let mut result = vec![0; n];
    for col in 1..=n {
        if row_of[col] > 0 {
            result[row_of[col] - 1] = col - 1;
        }
    }
    Ok(result)
}

/// Clustering accuracy: the share of examples whose class is the one their cluster is matched
/// to, under the one-to-one matching of clusters to classes that maximizes it (found by
/// [`assign`] on the negated contingency table). Returns the accuracy and the class of each
/// cluster.
pub fn clustering_accuracy(clusters: &[usize], classes: &[usize]) -> (f64, Vec<usize>) {
    let n = clusters.iter().chain(classes).max().map_or(0, |m| m + 1);
    let mut counts = vec![0f64; n * n];
    for (&c, &y) in clusters.iter().zip(classes) {
        counts[c * n + y] += 1.0;
    }
    let cost: Vec<f64> = counts.iter().map(|c| -c).collect();
    let matching = assign(&cost, n).expect("the contingency table is n × n and finite");
    let agree: f64 = (0..n).map(|c| counts[c * n + matching[c]]).sum();
    (agree / clusters.len().max(1) as f64, matching)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The least total cost over every permutation, by brute force.
    fn brute(cost: &[f64], n: usize) -> f64 {
        fn go(cost: &[f64], n: usize, row: usize, used: &mut Vec<bool>) -> f64 {
            if row == n {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for c in 0..n {
                if !used[c] {
                    used[c] = true;
                    best = best.min(cost[row * n + c] + go(cost, n, row + 1, used));
                    used[c] = false;
                }
            }
            best
        }
        go(cost, n, 0, &mut vec![false; n])
    }

    #[test]
    fn assignment_is_optimal_on_random_matrices() {
        let mut rng = nabla::Rng::new(5);
        for n in 1..=7 {
            for _ in 0..20 {
                let cost: Vec<f64> = (0..n * n).map(|_| (rng.below(20) as f64) - 5.0).collect();
                let a = assign(&cost, n).unwrap();
                let mut seen = a.clone();
                seen.sort();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "a permutation");
                let total: f64 = a.iter().enumerate().map(|(r, &c)| cost[r * n + c]).sum();
                assert_eq!(total, brute(&cost, n), "n = {n}: {cost:?}");
            }
        }
        assert!(assign(&[1.0; 5], 2).is_err());
        assert!(assign(&[f64::NAN; 4], 2).is_err());
    }

    #[test]
    fn clustering_accuracy_matches_clusters_to_classes() {
        // Clusters 0, 1, 2 are mostly classes 2, 0, 1; greedy by cluster would also work
        // here, the totals are checked: 7 of 9 agree.
        let clusters = [0, 0, 0, 1, 1, 1, 2, 2, 2];
        let classes = [2, 2, 1, 0, 0, 0, 1, 1, 2];
        let (acc, m) = clustering_accuracy(&clusters, &classes);
        assert_eq!(m, vec![2, 0, 1]);
        assert!((acc - 7.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn hungarian_beats_greedy_where_greedy_is_wrong() {
        // Greedy takes cluster 0 → class 0 (count 5) and leaves cluster 1 → class 1 (0):
        // total 5. The best matching is 0 → 1, 1 → 0: 4 + 4 = 8.
        let mut clusters = vec![];
        let mut classes = vec![];
        for (c, y, k) in [(0, 0, 5), (0, 1, 4), (1, 0, 4)] {
            clusters.extend(std::iter::repeat_n(c, k));
            classes.extend(std::iter::repeat_n(y, k));
        }
        let (acc, m) = clustering_accuracy(&clusters, &classes);
        assert_eq!(m, vec![1, 0]);
        assert!((acc - 8.0 / 13.0).abs() < 1e-12);
    }
}
