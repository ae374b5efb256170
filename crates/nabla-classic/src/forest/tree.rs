//! One CART classification tree grown on binned features: at each node the best split of a
//! random subset of features by Gini impurity or entropy, until nodes are pure or a depth
//! or size limit is hit.

use super::bins::Binned;
use serde::{Deserialize, Serialize};

/// How a node's impurity is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Criterion {
    /// `1 - Σ p_k²`.
    Gini,
    /// `-Σ p_k log2 p_k`.
    Entropy,
}

impl Criterion {
    /// The impurity of class counts `counts` summing to `n`.
    pub fn impurity(&self, counts: &[u32], n: u32) -> f64 {
        if n == 0 {
            return 0.0;
        }
        let n = n as f64;
        match self {
            Criterion::Gini => 1.0 - counts.iter().map(|&c| (c as f64 / n).powi(2)).sum::<f64>(),
            Criterion::Entropy => -counts
                .iter()
                .filter(|&&c| c > 0)
                .map(|&c| {
                    let p = c as f64 / n;
                    p * p.log2()
                })
                .sum::<f64>(),
        }
    }
}

/// A node: a split (`x[feature] <= threshold` goes left) or a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The feature tested, or `u32::MAX` for a leaf.
    pub feature: u32,
    /// The split value.
    pub threshold: f32,
    /// Left child, or for a leaf the index of its class distribution.
    pub left: u32,
    /// Right child (unused in a leaf).
    pub right: u32,
}

/// A trained tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes; the root is `nodes[0]`.
    pub nodes: Vec<Node>,
    /// Class distributions of the leaves, `num_classes` each.
    pub leaves: Vec<f32>,
}

/// Growth limits and the split criterion.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Growth {
    pub criterion: Criterion,
    pub max_depth: usize,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    pub max_features: usize,
}

const LEAF: u32 = u32::MAX;

impl Tree {
    /// The leaf class distribution of `x` (`d` features).
    pub fn leaf(&self, x: &[f32], num_classes: usize) -> &[f32] {
        let mut k = 0;
        loop {
            let node = self.nodes[k];
            if node.feature == LEAF {
                let at = node.left as usize * num_classes;
                return &self.leaves[at..at + num_classes];
            }
            k = if x[node.feature as usize] <= node.threshold {
                node.left
            } else {
                node.right
            } as usize;
        }
    }

    /// Whether child indices, features and leaf indices are in range (for loaded models).
    pub fn is_consistent(&self, d: usize, num_classes: usize) -> bool {
        let n = self.nodes.len();
        let leaves = self.leaves.len() / num_classes.max(1);
        n > 0
            && self.nodes.iter().enumerate().all(|(k, node)| {
                if node.feature == LEAF {
                    (node.left as usize) < leaves
                } else {
                    // Children come after their parent, so traversal ends.
                    (node.feature as usize) < d
                        && node.left as usize > k
                        && node.right as usize > k
                        && (node.left as usize) < n
                        && (node.right as usize) < n
                }
            })
    }
}

/// Nodes up to this size find splits by sorting rather than by a histogram of all bins.
const SMALL_NODE: usize = 256;

/// The running class counts left and right of a candidate threshold, moving up the bins.
struct Scan<'a> {
    /// Class weights (bootstrap multiplicities) left and right.
    left: Vec<u32>,
    right: Vec<u32>,
    /// Total weight left, and of the node.
    n_left: u32,
    n: u32,
    /// Distinct examples left, and in the node (for `min_samples_leaf`).
    m_left: usize,
    m: usize,
    parent: f64,
    g: &'a Growth,
    feature: usize,
    /// `Σ_c left[c]²` and `Σ_c right[c]²`, kept up to date for the O(1) Gini gain.
    sq_left: u64,
    sq_right: u64,
}

impl Scan<'_> {
    /// Moves `count` distinct examples of class `c` and total weight `m` to the left side.
    fn add(&mut self, c: usize, m: u32, count: usize) {
        self.m_left += count;
        let (l, r, m64) = (self.left[c] as u64, self.right[c] as u64, m as u64);
        // (l + m)² - l² = 2lm + m²; (r - m)² - r² = m² - 2rm
        self.sq_left += 2 * l * m64 + m64 * m64;
        self.sq_right = self.sq_right + m64 * m64 - 2 * r * m64;
        self.left[c] += m;
        self.right[c] -= m;
        self.n_left += m;
    }

    /// Considers the split "bin <= `bin`" with the current counts.
    fn evaluate(&self, bin: u8, best: &mut Option<Split>) {
        let n_right = self.n - self.n_left;
        let min = self.g.min_samples_leaf;
        if self.m_left < min || self.m - self.m_left < min {
            return;
        }
        let (nl, nr) = (self.n_left as f64, n_right as f64);
        let gain = match self.g.criterion {
            // n·Gini = n - Σ count² / n on each side.
            Criterion::Gini => {
                self.parent - (nl + nr) + self.sq_left as f64 / nl + self.sq_right as f64 / nr
            }
            c => {
                self.parent
                    - nl * c.impurity(&self.left, self.n_left)
                    - nr * c.impurity(&self.right, n_right)
            }
        };
        if best.as_ref().is_none_or(|s| gain > s.gain) {
            *best = Some(Split {
                feature: self.feature,
                bin,
                gain,
            });
        }
    }
}

/// The best split found at a node.
struct Split {
    feature: usize,
    bin: u8,
    /// `n·I(node) - n_L·I(L) - n_R·I(R)`, the weighted impurity decrease.
    gain: f64,
}

/// Grows a tree on the examples `samples` (distinct indices into the data, increasing), each counted
/// `weight[i]` times (its multiplicity in a bootstrap sample, as scikit-learn's sample
/// weights: a node holds each example once). Adds each split's weighted impurity decrease to
/// `importance[feature]`.
pub(crate) fn grow(
    data: &Binned,
    y: &[usize],
    weight: &[u32],
    num_classes: usize,
    mut samples: Vec<u32>,
    g: &Growth,
    rng: &mut nabla::Rng,
    importance: &mut [f64],
) -> Tree {
    let d = data.edges.len();
    let mut tree = Tree {
        nodes: vec![],
        leaves: vec![],
    };
    let mut features: Vec<usize> = Vec::with_capacity(d);
    let mut hist = vec![0u32; 256 * num_classes];
    let mut bin_count = vec![0u32; 256];
    let mut right_part = Vec::new();
    let mut pairs = Vec::new();
    // (node index, range in `samples`, depth, features known to be constant in the node: a
    // feature constant in a node is constant in its children, so they skip it, as sklearn)
    let mut stack = vec![(
        0usize,
        0usize,
        samples.len(),
        0usize,
        vec![0u64; d.div_ceil(64)],
    )];
    tree.nodes.push(Node {
        feature: LEAF,
        threshold: 0.0,
        left: 0,
        right: 0,
    });
    while let Some((k, lo, hi, depth, mut constant)) = stack.pop() {
        let node = &mut samples[lo..hi];
        let mut counts = vec![0u32; num_classes];
        for &i in node.iter() {
            counts[y[i as usize]] += weight[i as usize];
        }
        let n: u32 = counts.iter().sum();
        let pure = counts.iter().filter(|&&c| c > 0).count() <= 1;
        let split = if pure || depth >= g.max_depth || node.len() < g.min_samples_split {
            None
        } else {
            features.clear();
            features.extend((0..d).filter(|&f| constant[f / 64] >> (f % 64) & 1 == 0));
            let scratch = Scratch {
                features: &mut features,
                constant: &mut constant,
                hist: &mut hist,
                bin_count: &mut bin_count,
                pairs: &mut pairs,
            };
            best_split(data, y, weight, node, &counts, g, rng, scratch)
        };
        let Some(split) = split else {
            tree.nodes[k].left = (tree.leaves.len() / num_classes) as u32;
            tree.leaves
                .extend(counts.iter().map(|&c| c as f32 / n as f32));
            continue;
        };
        importance[split.feature] += split.gain;
        let codes = data.feature(split.feature);
        // Stable partition, left part first: every node's examples stay in increasing index
        // order, so the split search reads each feature's codes front to back (scattered
        // reads missed the cache and took 40% of the time).
        let mut mid = 0;
        right_part.clear();
        for t in 0..node.len() {
            let i = node[t];
            if codes[i as usize] <= split.bin {
                node[mid] = i;
                mid += 1;
            } else {
                right_part.push(i);
            }
        }
        node[mid..].copy_from_slice(&right_part);
        let (left, right) = (tree.nodes.len() as u32, tree.nodes.len() as u32 + 1);
        let blank = tree.nodes[k];
        tree.nodes.extend([blank, blank]);
        tree.nodes[k] = Node {
            feature: split.feature as u32,
            threshold: data.edges[split.feature][split.bin as usize],
            left,
            right,
        };
        stack.push((right as usize, lo + mid, hi, depth + 1, constant.clone()));
        stack.push((left as usize, lo, lo + mid, depth + 1, constant));
    }
    tree
}

/// Buffers reused across nodes, and the node's candidate features.
struct Scratch<'a> {
    /// Features not known to be constant in the node.
    features: &'a mut Vec<usize>,
    /// Bitset of features constant in the node, extended as more are found.
    constant: &'a mut Vec<u64>,
    hist: &'a mut Vec<u32>,
    /// Distinct examples per bin.
    bin_count: &'a mut Vec<u32>,
    /// (bin, class, weight) of the node's examples.
    pairs: &'a mut Vec<(u8, u32, u32)>,
}

/// The best split over up to `max_features` randomly drawn features that are not constant
/// in the node (more are drawn while those seen are constant, as scikit-learn does). A split
/// without gain is still taken, as scikit-learn does: XOR-like patterns need one.
#[allow(clippy::too_many_arguments)]
fn best_split(
    data: &Binned,
    y: &[usize],
    weight: &[u32],
    node: &[u32],
    counts: &[u32],
    g: &Growth,
    rng: &mut nabla::Rng,
    scratch: Scratch,
) -> Option<Split> {
    let Scratch {
        features,
        constant,
        hist,
        bin_count,
        pairs,
    } = scratch;
    let k = counts.len();
    let n: u32 = counts.iter().sum();
    let parent = n as f64 * g.criterion.impurity(counts, n);
    let mut best: Option<Split> = None;
    let mut tried = 0;
    for t in 0..features.len() {
        if tried >= g.max_features {
            break;
        }
        // Partial Fisher-Yates: features[..=t] is a random draw without replacement.
        let r = t + rng.below((features.len() - t) as u64) as usize;
        features.swap(t, r);
        let f = features[t];
        let codes = data.feature(f);
        let mut scan = Scan {
            left: vec![0; k],
            right: counts.to_vec(),
            n_left: 0,
            n,
            m_left: 0,
            m: node.len(),
            parent,
            g,
            feature: f,
            sq_left: 0,
            sq_right: counts.iter().map(|&c| c as u64 * c as u64).sum(),
        };
        if node.len() <= SMALL_NODE {
            // Few examples: sort (bin, class) pairs instead of clearing a 256-bin histogram.
            pairs.clear();
            pairs.extend(node.iter().map(|&i| {
                let i = i as usize;
                (codes[i], y[i] as u32, weight[i])
            }));
            pairs.sort_unstable_by_key(|p| p.0);
            if pairs[0].0 == pairs[pairs.len() - 1].0 {
                constant[f / 64] |= 1 << (f % 64);
                continue;
            }
            tried += 1;
            for w in 0..pairs.len() - 1 {
                scan.add(pairs[w].1 as usize, pairs[w].2, 1);
                if pairs[w].0 != pairs[w + 1].0 {
                    scan.evaluate(pairs[w].0, &mut best);
                }
            }
            continue;
        }
        hist.fill(0);
        bin_count.fill(0);
        let (mut lo_bin, mut hi_bin) = (255u8, 0u8);
        for &i in node {
            let b = codes[i as usize];
            hist[b as usize * k + y[i as usize]] += weight[i as usize];
            bin_count[b as usize] += 1;
            lo_bin = lo_bin.min(b);
            hi_bin = hi_bin.max(b);
        }
        if lo_bin == hi_bin {
            constant[f / 64] |= 1 << (f % 64);
            continue;
        }
        tried += 1;
        for b in lo_bin..hi_bin {
            if bin_count[b as usize] == 0 {
                continue;
            }
            let row = &hist[b as usize * k..(b as usize + 1) * k];
            for (c, &m) in row.iter().enumerate() {
                scan.add(c, m, 0);
            }
            scan.m_left += bin_count[b as usize] as usize;
            scan.evaluate(b, &mut best);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impurities_match_their_formulas() {
        // counts (2, 2): Gini 1 - 0.25 - 0.25 = 0.5, entropy 1 bit.
        assert!((Criterion::Gini.impurity(&[2, 2], 4) - 0.5).abs() < 1e-12);
        assert!((Criterion::Entropy.impurity(&[2, 2], 4) - 1.0).abs() < 1e-12);
        assert_eq!(Criterion::Gini.impurity(&[3, 0], 3), 0.0);
        assert_eq!(Criterion::Entropy.impurity(&[0, 0], 0), 0.0);
    }

    fn growth(max_depth: usize) -> Growth {
        Growth {
            criterion: Criterion::Gini,
            max_depth,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: 2,
        }
    }

    #[test]
    fn a_tree_fits_an_axis_aligned_pattern_exactly() {
        // class = (x0 > 0.5) xor (x1 > 0.5) on a 4×4 grid: needs depth 2.
        let (mut x, mut y) = (vec![], vec![]);
        for a in 0..4 {
            for b in 0..4 {
                x.extend([a as f32 / 3.0, b as f32 / 3.0]);
                y.push(usize::from((a >= 2) != (b >= 2)));
            }
        }
        let data = Binned::new(&x, 2);
        let mut imp = vec![0.0; 2];
        let samples = (0..16).collect();
        let t = grow(
            &data,
            &y,
            &[1; 16],
            2,
            samples,
            &growth(10),
            &mut nabla::Rng::new(0),
            &mut imp,
        );
        assert!(t.is_consistent(2, 2));
        for i in 0..16 {
            assert_eq!(t.leaf(&x[i * 2..i * 2 + 2], 2)[y[i]], 1.0, "example {i}");
        }
        assert!(imp[0] > 0.0 && imp[1] > 0.0);
        // Depth 0 is one leaf with the class shares.
        let stump = grow(
            &data,
            &y,
            &[1; 16],
            2,
            (0..16).collect(),
            &growth(0),
            &mut nabla::Rng::new(0),
            &mut imp,
        );
        assert_eq!(stump.nodes.len(), 1);
        assert_eq!(stump.leaf(&x[..2], 2), &[0.5, 0.5]);
    }

    #[test]
    fn weights_count_like_repeated_examples() {
        // x = 0, 1, 2 with classes 0, 1, 1 and weights 3, 1, 1.
        let data = Binned::new(&[0.0, 1.0, 2.0], 1);
        let weighted = |max_depth: usize, imp: &mut [f64]| {
            let g = Growth {
                max_features: 1,
                ..growth(max_depth)
            };
            let (y, w) = ([0, 1, 1], [3, 1, 1]);
            grow(
                &data,
                &y,
                &w,
                2,
                vec![0, 1, 2],
                &g,
                &mut nabla::Rng::new(0),
                imp,
            )
        };
        // A depth-0 tree is one leaf with the weighted distribution (3/5, 2/5).
        assert_eq!(weighted(0, &mut [0.0]).leaf(&[0.0], 2), &[0.6, 0.4]);
        // Grown fully, the split at 0.5 separates the classes; its gain is the weighted
        // Gini decrease 5·(1 - 0.36 - 0.16) = 2.4.
        let mut imp = [0.0];
        let t = weighted(5, &mut imp);
        assert_eq!(t.nodes[0].threshold, 0.5);
        assert!((imp[0] - 2.4).abs() < 1e-9, "{imp:?}");
    }

    #[test]
    fn min_samples_leaf_is_respected() {
        let x: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let y = vec![0, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        let data = Binned::new(&x, 1);
        let g = Growth {
            min_samples_leaf: 3,
            max_features: 1,
            ..growth(10)
        };
        let t = grow(
            &data,
            &y,
            &[1; 10],
            2,
            (0..10).collect(),
            &g,
            &mut nabla::Rng::new(0),
            &mut [0.0],
        );
        // The pure split x <= 0.5 would leave one example on the left; the best allowed one
        // is x <= 2.5 (left: classes 0, 1, 1), and that left part cannot split again.
        assert_eq!(t.nodes[0].threshold, 2.5);
        assert_eq!(t.leaf(&[0.0], 2), &[1.0 / 3.0, 2.0 / 3.0]);
        assert_eq!(t.leaf(&[9.0], 2), &[0.0, 1.0]);
    }
}
