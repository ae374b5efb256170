//! The two scores of generated images: the classifier ("Inception") score of a classifier's
//! class probabilities, and the Fréchet distance between two sets of its features seen as
//! Gaussians. Plain f64 arithmetic: the matrices are small (LeNet-5's 84 features).

/// `exp(E_x KL(p(y|x) ‖ p(y)))` of class probabilities `probs` (`n` rows of `classes`
/// values, each row summing to 1), `p(y)` being their mean over the rows (Salimans et al.
/// 2016). It lies in `[1, classes]`: 1 when every image gets the same distribution, `classes`
/// when each is classified with certainty and the classes are equally frequent.
///
/// # Panics
/// When `probs.len()` is not a multiple of `classes` (an internal invariant: the command
/// reads whole rows).
pub fn classifier_score(probs: &[f64], classes: usize) -> f64 {
    ScoreParts::of(probs, classes).score()
}

/// Why a classifier score is what it is. Its logarithm is the entropy of the classes drawn
/// less the mean entropy of each image's class distribution, `ln score = H(p(y)) −
/// E_x H(p(y|x))`: a low score comes from classes drawn unevenly (the first term below
/// `ln classes`: mode dropping) or from images the classifier cannot place (the second
/// above 0: malformed or ambiguous digits).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreParts {
    /// `p(y)`: the mean class distribution over the images (the share of each class).
    pub shares: Vec<f64>,
    /// `H(p(y))` in nats, at most `ln classes`.
    pub marginal_entropy: f64,
    /// `E_x H(p(y|x))` in nats, 0 when every image is classified with certainty.
    pub mean_entropy: f64,
    /// The mean over the images of their largest class probability.
    pub mean_top: f64,
}

/// `−Σ p ln p` in nats (`0 ln 0 = 0`).
fn entropy(p: &[f64]) -> f64 {
    -p.iter()
        .filter(|p| **p > 0.0)
        .map(|p| p * p.ln())
        .sum::<f64>()
}

impl ScoreParts {
    /// The parts of `n` rows of `classes` probabilities (see [`classifier_score`]); NaN
    /// entropies for no rows.
    ///
    /// # Panics
    /// When `probs.len()` is not a multiple of `classes`.
    pub fn of(probs: &[f64], classes: usize) -> ScoreParts {
        assert!(
            classes > 0 && probs.len().is_multiple_of(classes),
            "whole rows of probabilities"
        );
        let n = probs.len() / classes;
        if n == 0 {
            return ScoreParts {
                shares: vec![f64::NAN; classes],
                marginal_entropy: f64::NAN,
                mean_entropy: f64::NAN,
                mean_top: f64::NAN,
            };
        }
        let mut shares = vec![0.0; classes];
        let (mut entropies, mut tops) = (0.0, 0.0);
        for row in probs.chunks(classes) {
            for (m, p) in shares.iter_mut().zip(row) {
                *m += p / n as f64;
            }
            entropies += entropy(row);
            tops += row.iter().copied().fold(0.0, f64::max);
        }
        ScoreParts {
            marginal_entropy: entropy(&shares),
            shares,
            mean_entropy: entropies / n as f64,
            mean_top: tops / n as f64,
        }
    }

    /// `exp(H(p(y)) − E_x H(p(y|x)))`: the classifier score.
    pub fn score(&self) -> f64 {
        (self.marginal_entropy - self.mean_entropy).exp()
    }
}

/// The mean (`[d]`) and the unbiased covariance (`[d, d]`, row-major) of `n` rows of `d`
/// features.
pub fn mean_cov(features: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = features.len() / d.max(1);
    let mut mean = vec![0.0; d];
    for row in features.chunks(d) {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += x / n as f64;
        }
    }
    let mut cov = vec![0.0; d * d];
    let mut centred = vec![0.0; d];
    for row in features.chunks(d) {
        for ((c, x), m) in centred.iter_mut().zip(row).zip(&mean) {
            *c = x - m;
        }
        for i in 0..d {
            let ci = centred[i];
            for j in i..d {
                cov[i * d + j] += ci * centred[j];
            }
        }
    }
    let denom = (n.max(2) - 1) as f64;
    for i in 0..d {
        for j in i..d {
            let v = cov[i * d + j] / denom;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    (mean, cov)
}

/// Eigenvalues and eigenvectors (the columns of the returned row-major `[d, d]` matrix) of
/// the symmetric matrix `a` by cyclic Jacobi rotations, to f64 round-off.
fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let norm: f64 = a
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-15 * norm {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                // The rotation that zeroes a[p][q] (Golub & Van Loan, 8.5.2).
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sign / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

/// The Fréchet distance between `N(m1, c1)` and `N(m2, c2)` (`d` dimensions, covariances
/// row-major): `‖m1 − m2‖² + tr c1 + tr c2 − 2 tr (c1^½ c2 c1^½)^½` (Heusel et al. 2017's
/// FID, with `tr (c1 c2)^½` computed from the symmetric matrix `c1^½ c2 c1^½`, whose
/// eigenvalues are those of `c1 c2`).
pub fn frechet_distance(m1: &[f64], c1: &[f64], m2: &[f64], c2: &[f64], d: usize) -> f64 {
    let mean_term: f64 = m1.iter().zip(m2).map(|(a, b)| (a - b) * (a - b)).sum();
    let trace = |c: &[f64]| (0..d).map(|i| c[i * d + i]).sum::<f64>();
    let (vals, vecs) = symmetric_eigen(c1, d);
    // c1^½ = V diag(√λ) Vᵀ, with round-off negatives clamped to 0.
    let roots: Vec<f64> = vals.iter().map(|l| l.max(0.0).sqrt()).collect();
    let mut sqrt_c1 = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            sqrt_c1[i * d + j] = (0..d)
                .map(|k| vecs[i * d + k] * roots[k] * vecs[j * d + k])
                .sum();
        }
    }
    let product = |a: &[f64], b: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; d * d];
        for i in 0..d {
            for k in 0..d {
                let aik = a[i * d + k];
                for j in 0..d {
                    out[i * d + j] += aik * b[k * d + j];
                }
            }
        }
        out
    };
    let mut middle = product(&product(&sqrt_c1, c2), &sqrt_c1);
    for i in 0..d {
        for j in i + 1..d {
            let v = 0.5 * (middle[i * d + j] + middle[j * d + i]);
            middle[i * d + j] = v;
            middle[j * d + i] = v;
        }
    }
    let trace_sqrt: f64 = symmetric_eigen(&middle, d)
        .0
        .iter()
        .map(|l| l.max(0.0).sqrt())
        .sum();
    mean_term + trace(c1) + trace(c2) - 2.0 * trace_sqrt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifier_score_spans_one_to_the_class_count() {
        // Ten images, each certain of a different class: exp(ln 10) = 10.
        let mut certain = vec![0.0; 100];
        for i in 0..10 {
            certain[i * 10 + i] = 1.0;
        }
        assert!((classifier_score(&certain, 10) - 10.0).abs() < 1e-12);
        // The same distribution for every image: KL = 0, score 1.
        let same: Vec<f64> = (0..5).flat_map(|_| [0.2, 0.3, 0.5]).collect();
        assert!((classifier_score(&same, 3) - 1.0).abs() < 1e-12);
        // Two classes, two images: rows (1, 0) and (0.5, 0.5), marginal (0.75, 0.25):
        // KL1 = ln(1/0.75), KL2 = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25).
        let kl = (1.0f64 / 0.75).ln() + 0.5 * (0.5f64 / 0.75).ln() + 0.5 * 2f64.ln();
        let s = classifier_score(&[1.0, 0.0, 0.5, 0.5], 2);
        assert!((s - (kl / 2.0).exp()).abs() < 1e-12, "{s}");
    }

    #[test]
    fn score_parts_split_the_score_into_coverage_and_certainty() {
        // Two classes; rows (1, 0), (1, 0), (0.5, 0.5), (0, 1): shares (0.625, 0.375).
        let probs = [1.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.0, 1.0];
        let parts = ScoreParts::of(&probs, 2);
        assert_eq!(parts.shares, vec![0.625, 0.375]);
        let h = -(0.625f64 * 0.625f64.ln() + 0.375 * 0.375f64.ln());
        assert!((parts.marginal_entropy - h).abs() < 1e-12);
        assert!((parts.mean_entropy - 2f64.ln() / 4.0).abs() < 1e-12);
        assert!((parts.mean_top - 3.5 / 4.0).abs() < 1e-12);
        // The same number as E KL(p(y|x) ‖ p(y)), computed the other way.
        let kl: f64 = probs
            .chunks(2)
            .map(|r| {
                r.iter()
                    .zip(&parts.shares)
                    .filter(|(p, _)| **p > 0.0)
                    .map(|(p, q)| p * (p / q).ln())
                    .sum::<f64>()
            })
            .sum::<f64>()
            / 4.0;
        assert!((parts.score() - kl.exp()).abs() < 1e-12);
        assert!(ScoreParts::of(&[], 3).score().is_nan());
    }

    #[test]
    fn mean_and_covariance_of_a_small_set() {
        // Rows (1, 2), (3, 6): mean (2, 4); unbiased covariance [[2, 4], [4, 8]].
        let (m, c) = mean_cov(&[1.0, 2.0, 3.0, 6.0], 2);
        assert_eq!(m, vec![2.0, 4.0]);
        assert_eq!(c, vec![2.0, 4.0, 4.0, 8.0]);
    }

    #[test]
    fn jacobi_diagonalizes_a_symmetric_matrix() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let (mut vals, _) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        vals.sort_by(f64::total_cmp);
        assert!((vals[0] - 1.0).abs() < 1e-12 && (vals[1] - 3.0).abs() < 1e-12);
    }

    #[test]
    fn frechet_distance_matches_closed_forms() {
        let d = 3;
        let c: Vec<f64> = vec![2.0, 0.5, 0.1, 0.5, 1.0, 0.2, 0.1, 0.2, 3.0];
        let m = [0.1, -0.2, 0.3];
        assert!(frechet_distance(&m, &c, &m, &c, d).abs() < 1e-9);
        // Diagonal covariances: Σ (√a − √b)², plus the squared mean difference.
        let a = [4.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 9.0];
        let b = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 4.0];
        let f = frechet_distance(&[1.0, 0.0, 0.0], &a, &[0.0, 0.0, 2.0], &b, d);
        let want = 1.0 + 4.0 + (2.0 - 1.0f64).powi(2) + 0.0 + (3.0 - 2.0f64).powi(2);
        assert!((f - want).abs() < 1e-9, "{f} vs {want}");
        // Commuting but not diagonal: c and 4c (c^½ (4c) c^½ = 4c², root 2c): tr c + 4 tr c − 4 tr c.
        let c4: Vec<f64> = c.iter().map(|x| 4.0 * x).collect();
        let f = frechet_distance(&m, &c, &m, &c4, d);
        assert!((f - 6.0).abs() < 1e-9, "{f}");
    }
}
