//! A session's configuration (what the page's controls set and the URL holds) and the
//! server's limits, with the checks that keep every request inside them.

use crate::features::Feature;
use crate::{Error, Result};
use nabla_nn::layers::Activation;
use serde::{Deserialize, Serialize};

/// Which data the network learns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataSet {
    /// Classification: a disc inside a ring.
    Circle,
    /// Classification: the four quadrants.
    Xor,
    /// Classification: two Gaussian blobs.
    Gauss,
    /// Classification: two spiral arms.
    Spiral,
    /// Regression: a plane.
    Plane,
    /// Regression: six Gaussian bumps.
    Multigauss,
    /// Points uploaded by the user (`PUT /api/sessions/{id}/data`).
    Custom,
}

impl DataSet {
    /// The generator of a built-in set; `None` for [`DataSet::Custom`].
    pub fn toy(self) -> Option<nabla_data::toy::Toy> {
        use nabla_data::toy::Toy;
        Some(match self {
            DataSet::Circle => Toy::Circle,
            DataSet::Xor => Toy::Xor,
            DataSet::Gauss => Toy::Gauss,
            DataSet::Spiral => Toy::Spiral,
            DataSet::Plane => Toy::Plane,
            DataSet::Multigauss => Toy::MultiGauss,
            DataSet::Custom => return None,
        })
    }
}

/// Classification (labels ±1, tanh output) or regression (real targets, linear output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Problem {
    /// Two classes, labelled -1 and +1 as in the TensorFlow Playground.
    Classification,
    /// One real target per point.
    Regression,
}

/// The activation of the hidden layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Act {
    /// max(0, x).
    Relu,
    /// tanh x.
    Tanh,
    /// 1 / (1 + e^-x).
    Sigmoid,
    /// The identity.
    Linear,
    /// Heaviside step (no gradient flows through it: only the layer after it learns).
    Step,
    /// exp(-x²).
    Gaussian,
}

impl Act {
    /// The nabla-nn layer computing it.
    pub fn layer(self) -> Activation {
        match self {
            Act::Relu => Activation::Relu,
            Act::Tanh => Activation::Tanh,
            Act::Sigmoid => Activation::Sigmoid,
            Act::Linear => Activation::Identity,
            Act::Step => Activation::Step,
            Act::Gaussian => Activation::Gaussian(1.0),
        }
    }
}

/// The penalty on the weights (not the biases), added to the loss with `reg_rate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Regularization {
    /// No penalty.
    None,
    /// `reg_rate * Σ|w|`.
    L1,
    /// `reg_rate * ½ Σ w²`.
    L2,
}

/// How the weights are updated from the gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Plain gradient descent `w ← w − η g` (the Playground's).
    Sgd,
    /// SGD with momentum 0.9.
    Momentum,
    /// Adam (β = 0.9, 0.999).
    Adam,
}

/// Everything that defines a session's data, network and training. Every field has a
/// default (the TensorFlow Playground's), so `{}` is a valid configuration; unknown fields
/// are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The data set.
    pub dataset: DataSet,
    /// Classification or regression; must match a built-in data set's kind.
    pub problem: Problem,
    /// Points generated for a built-in set (split into train and test).
    pub num_points: usize,
    /// Percentage of the points used for training, 10–90; the rest are the test set.
    pub train_ratio: f64,
    /// Noise level of the generated points, 0–50.
    pub noise: f64,
    /// Points per gradient step, 1–30.
    pub batch_size: usize,
    /// The input features, each at most once, at least one.
    pub features: Vec<Feature>,
    /// Neurons of each hidden layer (0–6 layers of 1–8 neurons).
    pub hidden: Vec<usize>,
    /// Dropout probability after each hidden layer (`[0, 0.9]`); missing entries are 0.
    pub dropout: Vec<f64>,
    /// Activation of the hidden layers.
    pub activation: Act,
    /// Learning rate, 0.00001–10.
    pub learning_rate: f64,
    /// Penalty on the weights.
    pub regularization: Regularization,
    /// Its rate, 0–10.
    pub reg_rate: f64,
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// Seed of the data and of the initial weights.
    pub seed: u64,
    /// Passes over the training set between two frames while playing, 1–50 (the
    /// Playground's is 1).
    pub epochs_per_frame: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dataset: DataSet::Circle,
            problem: Problem::Classification,
            num_points: 500,
            train_ratio: 50.0,
            noise: 0.0,
            batch_size: 10,
            features: vec![Feature::X1, Feature::X2],
            hidden: vec![4, 2],
            dropout: Vec::new(),
            activation: Act::Tanh,
            learning_rate: 0.03,
            regularization: Regularization::None,
            reg_rate: 0.0,
            optimizer: OptimizerKind::Sgd,
            seed: 1,
            epochs_per_frame: 1,
        }
    }
}

/// The server's caps. The defaults fit 50 busy sessions on a 2-core machine.
#[derive(Clone, Debug, Serialize)]
pub struct Limits {
    /// Sessions held at once.
    pub max_sessions: usize,
    /// Hidden layers.
    pub max_layers: usize,
    /// Neurons per hidden layer.
    pub max_neurons: usize,
    /// Points in a data set (generated or uploaded).
    pub max_points: usize,
    /// Request body size in bytes.
    pub max_body_bytes: usize,
    /// Seconds after which a session with no request and no open event stream is dropped.
    pub idle_secs: u64,
    /// Seconds after which a playing session with no open event stream and no request
    /// pauses itself.
    pub unwatched_secs: u64,
    /// Epochs one `step` request may ask for.
    pub max_step_epochs: usize,
    /// Training examples (epochs × training points) one `step` request may ask for: its
    /// compute budget (about 1–4 s of one core at the default).
    pub max_step_examples: usize,
    /// Training examples a session's `step` requests may use per minute, all together;
    /// more is answered 429 until the budget refills (continuously, at this rate).
    pub session_examples_per_minute: usize,
    /// Frames per second sent while training.
    pub fps: u32,
    /// Connections open at once; the ones beyond are answered 503 and closed. Keep it
    /// under the process's file-descriptor limit (`ulimit -n`).
    pub max_connections: usize,
    /// Milliseconds a client has to send a request's headers (and an idle keep-alive
    /// connection to start its next request) before its connection is closed.
    pub header_timeout_ms: u64,
    /// Milliseconds a client has to send a request's body before it gets 408 and its
    /// connection is closed.
    pub body_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sessions: 100,
            max_layers: 6,
            max_neurons: 8,
            max_points: 2000,
            max_body_bytes: 256 * 1024,
            idle_secs: 600,
            unwatched_secs: 30,
            max_step_epochs: 1000,
            max_step_examples: 100_000,
            session_examples_per_minute: 1_000_000,
            fps: 30,
            max_connections: 200,
            header_timeout_ms: 10_000,
            body_timeout_ms: 10_000,
        }
    }
}

/// `Err(Invalid)` for `field` unless `lo <= v <= hi` (NaN fails).
fn in_range(field: &str, v: f64, lo: f64, hi: f64) -> Result<()> {
    if v >= lo && v <= hi {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("must be in [{lo}, {hi}], got {v}"),
        ))
    }
}

impl Config {
    /// Checks every field against its range and `limits`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the first field that is out of range.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        if let Some(toy) = self.dataset.toy() {
            let classification = self.problem == Problem::Classification;
            if toy.is_classification() != classification {
                return Err(Error::invalid(
                    "dataset",
                    format!(
                        "'{}' is a {} set; set problem to match",
                        toy.name(),
                        if toy.is_classification() {
                            "classification"
                        } else {
                            "regression"
                        }
                    ),
                ));
            }
        }
        if self.num_points < 2 || self.num_points > limits.max_points {
            return Err(Error::invalid(
                "num_points",
                format!(
                    "must be in [2, {}], got {}",
                    limits.max_points, self.num_points
                ),
            ));
        }
        in_range("train_ratio", self.train_ratio, 10.0, 90.0)?;
        in_range("noise", self.noise, 0.0, 50.0)?;
        in_range("batch_size", self.batch_size as f64, 1.0, 30.0)?;
        if self.features.is_empty() {
            return Err(Error::invalid("features", "choose at least one feature"));
        }
        for (i, f) in self.features.iter().enumerate() {
            if self.features[..i].contains(f) {
                return Err(Error::invalid("features", format!("{f:?} is listed twice")));
            }
        }
        if self.hidden.len() > limits.max_layers {
            return Err(Error::invalid(
                "hidden",
                format!(
                    "at most {} hidden layers, got {}",
                    limits.max_layers,
                    self.hidden.len()
                ),
            ));
        }
        if let Some((i, &n)) = self
            .hidden
            .iter()
            .enumerate()
            .find(|&(_, &n)| n == 0 || n > limits.max_neurons)
        {
            return Err(Error::invalid(
                "hidden",
                format!(
                    "layer {i} has {n} neurons; each layer has 1 to {}",
                    limits.max_neurons
                ),
            ));
        }
        if self.dropout.len() > self.hidden.len() {
            return Err(Error::invalid(
                "dropout",
                format!(
                    "{} rates for {} hidden layers",
                    self.dropout.len(),
                    self.hidden.len()
                ),
            ));
        }
        for &p in &self.dropout {
            in_range("dropout", p, 0.0, 0.9)?;
        }
        in_range("learning_rate", self.learning_rate, 0.00001, 10.0)?;
        in_range("reg_rate", self.reg_rate, 0.0, 10.0)?;
        in_range("epochs_per_frame", self.epochs_per_frame as f64, 1.0, 50.0)?;
        Ok(())
    }

    /// The dropout probability after hidden layer `i`.
    pub fn dropout_at(&self, i: usize) -> f64 {
        self.dropout.get(i).copied().unwrap_or(0.0)
    }

    /// Whether going from `self` to `next` changes the data (so it must be generated again).
    pub fn data_differs(&self, next: &Config) -> bool {
        (
            self.dataset,
            self.num_points,
            self.train_ratio,
            self.noise,
            self.seed,
        ) != (
            next.dataset,
            next.num_points,
            next.train_ratio,
            next.noise,
            next.seed,
        )
    }

    /// Whether going from `self` to `next` changes the network's shape or update rule (so
    /// the weights start again). Learning rate, regularization, batch size, dropout and
    /// speed apply to the running network.
    pub fn network_differs(&self, next: &Config) -> bool {
        (
            &self.features,
            &self.hidden,
            self.activation,
            self.problem,
            self.optimizer,
        ) != (
            &next.features,
            &next.hidden,
            next.activation,
            next.problem,
            next.optimizer,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<()> {
        let cfg: Config =
            serde_json::from_str(json).map_err(|e| Error::invalid("body", e.to_string()))?;
        cfg.validate(&Limits::default())
    }

    fn field_of(json: &str) -> String {
        match check(json).unwrap_err() {
            Error::Invalid { field, .. } => field,
            e => panic!("{e}"),
        }
    }

    #[test]
    fn the_empty_object_is_the_default_and_valid() {
        assert!(check("{}").is_ok());
        let cfg: Config = serde_json::from_str("{}").unwrap();
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn out_of_range_fields_are_named() {
        assert_eq!(field_of(r#"{"hidden": [4, 9]}"#), "hidden");
        assert_eq!(field_of(r#"{"hidden": [1,1,1,1,1,1,1]}"#), "hidden");
        assert_eq!(field_of(r#"{"hidden": [0]}"#), "hidden");
        assert_eq!(field_of(r#"{"learning_rate": 11}"#), "learning_rate");
        assert_eq!(field_of(r#"{"learning_rate": 0.000001}"#), "learning_rate");
        assert_eq!(field_of(r#"{"train_ratio": 95}"#), "train_ratio");
        assert_eq!(field_of(r#"{"noise": 51}"#), "noise");
        assert_eq!(field_of(r#"{"batch_size": 0}"#), "batch_size");
        assert_eq!(field_of(r#"{"batch_size": 31}"#), "batch_size");
        assert_eq!(field_of(r#"{"features": []}"#), "features");
        assert_eq!(field_of(r#"{"features": ["x1", "x1"]}"#), "features");
        assert_eq!(field_of(r#"{"num_points": 100000}"#), "num_points");
        assert_eq!(field_of(r#"{"dropout": [0.5, 0.5, 0.5]}"#), "dropout");
        assert_eq!(field_of(r#"{"dropout": [0.95]}"#), "dropout");
        assert_eq!(field_of(r#"{"dataset": "plane"}"#), "dataset");
        assert_eq!(field_of(r#"{"epochs_per_frame": 0}"#), "epochs_per_frame");
        assert!(check(r#"{"dataset": "plane", "problem": "regression", "hidden": []}"#).is_ok());
    }

    #[test]
    fn unknown_fields_and_names_are_rejected() {
        assert!(check(r#"{"hiden": [2]}"#).is_err());
        assert!(check(r#"{"activation": "softmax"}"#).is_err());
        assert!(check(r#"{"optimizer": "lbfgs"}"#).is_err());
    }

    #[test]
    fn live_fields_keep_the_network() {
        let a = Config::default();
        let b = Config {
            learning_rate: 0.3,
            batch_size: 3,
            regularization: Regularization::L2,
            ..a.clone()
        };
        assert!(!a.network_differs(&b) && !a.data_differs(&b));
        let c = Config {
            hidden: vec![3],
            ..a.clone()
        };
        assert!(a.network_differs(&c) && !a.data_differs(&c));
        let d = Config {
            noise: 10.0,
            ..a.clone()
        };
        assert!(d.data_differs(&a));
    }
}
