//! The seven input features the network can be given, computed from a point (x1, x2).

use serde::{Deserialize, Serialize};

/// One input feature of the Playground.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Feature {
    /// x1.
    X1,
    /// x2.
    X2,
    /// x1².
    X1sq,
    /// x2².
    X2sq,
    /// x1·x2.
    X1x2,
    /// sin x1.
    Sinx1,
    /// sin x2.
    Sinx2,
}

impl Feature {
    /// Every feature, in the order the page shows them.
    pub const ALL: [Feature; 7] = [
        Feature::X1,
        Feature::X2,
        Feature::X1sq,
        Feature::X2sq,
        Feature::X1x2,
        Feature::Sinx1,
        Feature::Sinx2,
    ];

    /// The feature's value at the point (x1, x2).
    pub fn value(self, x1: f32, x2: f32) -> f32 {
        match self {
            Feature::X1 => x1,
            Feature::X2 => x2,
            Feature::X1sq => x1 * x1,
            Feature::X2sq => x2 * x2,
            Feature::X1x2 => x1 * x2,
            Feature::Sinx1 => x1.sin(),
            Feature::Sinx2 => x2.sin(),
        }
    }
}

/// The feature matrix `[points.len(), features.len()]`, row-major: row i holds each
/// feature of point i.
pub fn feature_matrix(points: &[[f32; 2]], features: &[Feature]) -> Vec<f32> {
    points
        .iter()
        .flat_map(|&[x1, x2]| features.iter().map(move |f| f.value(x1, x2)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_follow_their_formulas() {
        let all = feature_matrix(&[[2.0, -3.0]], &Feature::ALL);
        let expected = [2.0, -3.0, 4.0, 9.0, -6.0, 2f32.sin(), (-3f32).sin()];
        assert_eq!(all, expected);
        // Rows are points, columns the chosen features in the given order.
        let two = feature_matrix(&[[1.0, 2.0], [3.0, 4.0]], &[Feature::X2, Feature::X1x2]);
        assert_eq!(two, [2.0, 2.0, 4.0, 12.0]);
    }

    #[test]
    fn names_are_lowercase_in_json() {
        assert_eq!(serde_json::to_string(&Feature::Sinx1).unwrap(), "\"sinx1\"");
        assert!(serde_json::from_str::<Feature>("\"x3\"").is_err());
    }
}
