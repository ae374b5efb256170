//! One browser session: its configuration, points, network and optimizer, and training.

use crate::config::{Config, DataSet, Limits, OptimizerKind, Problem};
use crate::data::{self, Points, Split};
use crate::features::feature_matrix;
use crate::network::Network;
use crate::{Error, Result};
use nabla::{Device, Rng, Tensor};
use nabla_nn::optim::{Adam, Optimizer, Sgd};
use serde::Serialize;

/// Features `[n, k]` and targets `[n, 1]` of a set of points, ready for the network.
struct Tensors {
    x: Tensor,
    y: Tensor,
}

impl Tensors {
    fn new(points: &Points, cfg: &Config) -> Result<Tensors> {
        let dev = Device::Cpu;
        let n = points.len();
        let k = cfg.features.len();
        Ok(Tensors {
            x: Tensor::from_vec(feature_matrix(&points.xy, &cfg.features), &[n, k], &dev)?,
            y: Tensor::from_slice(&points.target, &[n, 1], &dev)?,
        })
    }
}

/// What the page needs besides the frames: the configuration, the points and counters.
#[derive(Serialize)]
pub struct State<'a> {
    /// The session's id.
    pub id: &'a str,
    /// The configuration in force (with a new seed after "regenerate").
    pub config: &'a Config,
    /// Training and test points.
    pub data: &'a Split,
    /// Passes over the training set so far.
    pub epoch: usize,
    /// Mean ½(output − target)² over the training points.
    pub train_loss: f32,
    /// The same over the test points.
    pub test_loss: f32,
    /// Whether the session trains on its own.
    pub playing: bool,
    /// Increases whenever the network starts again (the page clears its loss chart).
    pub network_version: u64,
}

/// A session's whole training state. Not shared: the server wraps it in a mutex.
pub struct Session {
    id: String,
    cfg: Config,
    all: Points,
    split: Split,
    train: Tensors,
    test: Tensors,
    pub(crate) net: Network,
    opt: Box<dyn Optimizer>,
    rng: Rng,
    epoch: usize,
    train_loss: f32,
    test_loss: f32,
    /// Whether the server's trainer runs epochs for it.
    pub playing: bool,
    network_version: u64,
}

/// The optimizer `cfg` asks for over the network's variables.
fn optimizer(cfg: &Config, net: &Network) -> Box<dyn Optimizer> {
    let vars = net.var_store().trainable();
    match cfg.optimizer {
        OptimizerKind::Sgd => Box::new(Sgd::new(vars, cfg.learning_rate)),
        OptimizerKind::Momentum => Box::new(Sgd::new(vars, cfg.learning_rate).momentum(0.9)),
        OptimizerKind::Adam => Box::new(Adam::new(vars, cfg.learning_rate)),
    }
}

/// Mean ½(output − target)² (the TensorFlow Playground's loss), a scalar tensor.
fn half_mse(out: &Tensor, y: &Tensor) -> Result<Tensor> {
    Ok(out.sub(y)?.sqr()?.mean_all()?.mul_scalar(0.5)?)
}

impl Session {
    /// A session with a checked `cfg`: its data generated, a fresh network, epoch 0.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `cfg` is out of `limits` or asks for custom data (upload the
    /// points after creating the session).
    pub fn new(id: String, cfg: Config, limits: &Limits) -> Result<Session> {
        cfg.validate(limits)?;
        if cfg.dataset == DataSet::Custom {
            return Err(Error::invalid(
                "dataset",
                "start from a built-in set, then upload points",
            ));
        }
        let all = data::generate(&cfg)?;
        Session::with_points(id, cfg, all)
    }

    fn with_points(id: String, cfg: Config, all: Points) -> Result<Session> {
        let split = Split::new(&all, cfg.train_ratio);
        let mut rng = Rng::new(cfg.seed);
        let net = Network::new(&cfg, &mut rng)?;
        let mut s = Session {
            id,
            train: Tensors::new(&split.train, &cfg)?,
            test: Tensors::new(&split.test, &cfg)?,
            opt: optimizer(&cfg, &net),
            net,
            cfg,
            all,
            split,
            rng,
            epoch: 0,
            train_loss: 0.0,
            test_loss: 0.0,
            playing: false,
            network_version: 0,
        };
        s.evaluate()?;
        Ok(s)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Passes over the training set so far.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Train and test loss (mean ½(output − target)²) after the last epoch.
    pub fn losses(&self) -> (f32, f32) {
        (self.train_loss, self.test_loss)
    }

    /// Increases whenever the network starts again.
    pub fn network_version(&self) -> u64 {
        self.network_version
    }

    /// The state the page shows besides the frames.
    pub fn state(&self) -> State<'_> {
        State {
            id: &self.id,
            config: &self.cfg,
            data: &self.split,
            epoch: self.epoch,
            train_loss: self.train_loss,
            test_loss: self.test_loss,
            playing: self.playing,
            network_version: self.network_version,
        }
    }

    /// Applies a new configuration: new data when a data field changed, a new network when
    /// its shape or optimizer changed, otherwise the running network goes on with the new
    /// learning rate, regularization, batch size and dropout.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `next` is out of `limits`; the session is unchanged then.
    pub fn configure(&mut self, next: Config, limits: &Limits) -> Result<()> {
        next.validate(limits)?;
        if next.dataset == DataSet::Custom && self.cfg.dataset != DataSet::Custom {
            return Err(Error::invalid(
                "dataset",
                "custom data comes from an upload (PUT /api/sessions/{id}/data)",
            ));
        }
        if next.dataset == DataSet::Custom && next.problem != self.cfg.problem {
            return Err(Error::invalid(
                "problem",
                "upload the points again to change the problem type of custom data",
            ));
        }
        if self.cfg.data_differs(&next) {
            // Custom data is kept (only its split can change); built-in sets are generated.
            let all = match next.dataset {
                DataSet::Custom => self.all.clone(),
                _ => data::generate(&next)?,
            };
            return self.restart_with(next, all);
        }
        let rebuild = self.cfg.network_differs(&next);
        self.cfg = next;
        if rebuild {
            self.train = Tensors::new(&self.split.train, &self.cfg)?;
            self.test = Tensors::new(&self.split.test, &self.cfg)?;
            self.reset()?;
        } else {
            self.opt.set_lr(self.cfg.learning_rate);
            self.net.update(&self.cfg);
        }
        Ok(())
    }

    /// Replaces the points with uploaded ones `[x1, x2, target]` for `problem`; the data
    /// set becomes `custom` and the network starts again.
    ///
    /// # Errors
    /// [`Error::Invalid`] for bad rows (see [`data::upload`]).
    pub fn upload(&mut self, rows: &[[f64; 3]], problem: Problem, limits: &Limits) -> Result<()> {
        let all = data::upload(rows, problem, limits.max_points)?;
        let cfg = Config {
            dataset: DataSet::Custom,
            problem,
            num_points: all.len(),
            ..self.cfg.clone()
        };
        self.restart_with(cfg, all)
    }

    /// Starts over with `cfg` on the points `all`: a new split, network and optimizer at
    /// epoch 0; the id and the playing state stay, and the network version goes up.
    fn restart_with(&mut self, cfg: Config, all: Points) -> Result<()> {
        let fresh = Session::with_points(self.id.clone(), cfg, all)?;
        *self = Session {
            playing: self.playing,
            network_version: self.network_version + 1,
            ..fresh
        };
        Ok(())
    }

    /// New points from the next seed (built-in sets; custom data is kept), and a new network.
    ///
    /// # Errors
    /// Engine errors only.
    pub fn regenerate(&mut self, limits: &Limits) -> Result<()> {
        let next = Config {
            seed: self.cfg.seed.wrapping_add(1),
            ..self.cfg.clone()
        };
        self.configure(next, limits)
    }

    /// New random weights, epoch 0, same data.
    ///
    /// # Errors
    /// Engine errors only.
    pub fn reset(&mut self) -> Result<()> {
        self.network_version += 1;
        // Seeded by the data seed and the number of resets, so a link reproduces a run.
        let mut rng = Rng::new(self.cfg.seed ^ self.network_version.wrapping_mul(0x9E37_79B9));
        self.net = Network::new(&self.cfg, &mut rng)?;
        self.opt = optimizer(&self.cfg, &self.net);
        self.rng = rng;
        self.epoch = 0;
        self.evaluate()
    }

    /// One gradient step on `batch` points of the training set starting at `start`; returns
    /// the batch's loss including the penalty.
    fn step(&mut self, start: usize, len: usize) -> Result<f32> {
        let x = self.train.x.narrow(0, start, len)?;
        let y = self.train.y.narrow(0, start, len)?;
        let out = self.net.forward_train(&x, &mut self.rng)?;
        let mut loss = half_mse(&out, &y)?;
        if let Some(p) = self
            .net
            .penalty(self.cfg.regularization, self.cfg.reg_rate)?
        {
            loss = loss.add(&p)?;
        }
        let grads = loss.backward()?;
        self.opt.step(&grads)?;
        Ok(loss.to_scalar::<f32>()?)
    }

    /// Passes over the training set in order (the points are already shuffled) in batches
    /// of `batch_size`, `epochs` times, then evaluates both losses.
    ///
    /// # Errors
    /// Engine errors only.
    pub fn train_epochs(&mut self, epochs: usize) -> Result<()> {
        let n = self.split.train.len();
        let b = self.cfg.batch_size;
        for _ in 0..epochs {
            let mut start = 0;
            while start < n {
                let len = b.min(n - start);
                self.step(start, len)?;
                start += len;
            }
            self.epoch += 1;
        }
        self.evaluate()
    }

    /// Training points: the examples one epoch passes over.
    pub fn train_len(&self) -> usize {
        self.split.train.len()
    }

    /// Recomputes the train and test losses. A diverged network (NaN weights) reports NaN,
    /// which the page shows; reset or a smaller learning rate recovers it.
    fn evaluate(&mut self) -> Result<()> {
        let (train, test) = nabla::no_grad(|| -> Result<(f32, f32)> {
            let tr = half_mse(&self.net.forward(&self.train.x)?, &self.train.y)?;
            let te = half_mse(&self.net.forward(&self.test.x)?, &self.test.y)?;
            Ok((tr.to_scalar::<f32>()?, te.to_scalar::<f32>()?))
        })?;
        self.train_loss = train;
        self.test_loss = test;
        Ok(())
    }

    /// The network's variables as a safetensors file, with the configuration (JSON) in the
    /// metadata under `nabla_playground_config`.
    ///
    /// # Errors
    /// Engine errors only.
    pub fn checkpoint(&self) -> Result<Vec<u8>> {
        let mut meta = std::collections::BTreeMap::new();
        meta.insert(
            "nabla_playground_config".to_string(),
            serde_json::to_string(&self.cfg).expect("a Config always serializes"),
        );
        meta.insert("epoch".to_string(), self.epoch.to_string());
        Ok(nabla_nn::checkpoint::to_bytes(
            &self.net.var_store().state_dict(),
            &meta,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Feature;

    fn session(cfg: Config) -> Session {
        Session::new("t".into(), cfg, &Limits::default()).unwrap()
    }

    #[test]
    fn circle_with_one_tanh_layer_learns() -> Result<()> {
        // The E2E scenario's network: x1, x2 → 4 tanh → output.
        let mut s = session(Config {
            hidden: vec![4],
            ..Config::default()
        });
        let (first, _) = s.losses();
        s.train_epochs(100)?;
        let (train, test) = s.losses();
        assert!(train < 0.05 && test < 0.05, "{first} -> {train}, {test}");
        assert_eq!(s.epoch(), 100);
        Ok(())
    }

    #[test]
    fn regression_with_adam_and_l2_learns_the_plane() -> Result<()> {
        let mut s = session(Config {
            dataset: DataSet::Plane,
            problem: Problem::Regression,
            hidden: vec![3],
            optimizer: OptimizerKind::Adam,
            regularization: crate::config::Regularization::L2,
            reg_rate: 0.0001,
            learning_rate: 0.01,
            ..Config::default()
        });
        s.train_epochs(30)?;
        assert!(s.losses().1 < 0.01, "{:?}", s.losses());
        Ok(())
    }

    #[test]
    fn live_settings_keep_the_weights_and_shape_changes_reset_them() -> Result<()> {
        let limits = Limits::default();
        let mut s = session(Config::default());
        s.train_epochs(3)?;
        let w = s.net.weights()?;
        let live = Config {
            learning_rate: 0.1,
            dropout: vec![0.2],
            ..s.config().clone()
        };
        s.configure(live, &limits)?;
        assert_eq!((s.epoch(), s.net.weights()?), (3, w));
        let shape = Config {
            features: vec![Feature::X1, Feature::X2, Feature::X1sq],
            ..s.config().clone()
        };
        s.configure(shape, &limits)?;
        assert_eq!((s.epoch(), s.network_version()), (0, 1));
        assert_eq!(s.net.weights()?[0].0.len(), 3 * 4);
        let bad = Config {
            hidden: vec![9],
            ..s.config().clone()
        };
        assert!(s.configure(bad, &limits).is_err());
        assert_eq!(s.config().hidden, vec![4, 2]);
        Ok(())
    }

    #[test]
    fn same_seed_same_run() -> Result<()> {
        let cfg = Config {
            dataset: DataSet::Xor,
            dropout: vec![0.3],
            ..Config::default()
        };
        let (mut a, mut b) = (session(cfg.clone()), session(cfg));
        a.train_epochs(2)?;
        b.train_epochs(2)?;
        assert_eq!(a.losses(), b.losses());
        Ok(())
    }

    #[test]
    fn uploads_replace_the_data_and_checkpoints_carry_the_weights() -> Result<()> {
        let limits = Limits::default();
        let mut s = session(Config::default());
        let rows: Vec<[f64; 3]> = (0..40)
            .map(|i| {
                let x = f64::from(i) / 4.0 - 5.0;
                [x, 1.0, if x > 0.0 { 1.0 } else { 0.0 }]
            })
            .collect();
        s.upload(&rows, Problem::Classification, &limits)?;
        assert_eq!(s.config().dataset, DataSet::Custom);
        assert_eq!(s.state().data.train.len() + s.state().data.test.len(), 40);
        s.train_epochs(5)?;
        let ckpt = nabla_nn::checkpoint::from_bytes(&s.checkpoint()?, "download")?;
        assert_eq!(ckpt.tensors.len(), 6);
        let (_, w0) = ckpt
            .tensors
            .iter()
            .find(|(name, _)| name == "fc.0.weight")
            .expect("fc.0.weight is saved");
        assert_eq!(w0.to_vec::<f32>()?, s.net.weights()?[0].0);
        assert!(ckpt.metadata["nabla_playground_config"].contains("\"custom\""));
        // Custom data cannot be regenerated into a toy set by accident, and keeps its points.
        s.regenerate(&limits)?;
        assert_eq!(s.config().dataset, DataSet::Custom);
        assert_eq!(s.state().data.train.len() + s.state().data.test.len(), 40);
        Ok(())
    }
}
