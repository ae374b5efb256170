//! Data-parallel training with ranks as threads (`LocalGroup`), no MPI needed: N ranks with
//! batch B train like one process with batch N·B, start from rank 0's state, write only on
//! rank 0, resume exactly, and name a rank that does not take part.

use nabla::{manual_seed, Device, Tensor};
use nabla_data::{toy, DataLoader, Dataset, Shard};
use nabla_nn::distributed::{DataParallel, LocalGroup};
use nabla_nn::layers::{Activation, BatchNorm, Dropout, Linear};
use nabla_nn::optim::Sgd;
use nabla_nn::{seq, Error, Loader, Result, Sequential, Trainer, TrainerConfig, VarStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A `nabla-data` loader as the Trainer's batch source.
struct Batches(DataLoader);

impl Loader for Batches {
    fn epoch(&self, epoch: usize) -> Box<dyn Iterator<Item = Result<(Tensor, Tensor)>> + '_> {
        Box::new(self.0.epoch(epoch as u64).map(|b| {
            b.map(|b| (b.inputs, b.targets))
                .map_err(|e| Error::Data(Box::new(e)))
        }))
    }
    fn num_batches(&self) -> usize {
        self.0.len()
    }
}

fn spiral() -> Arc<dyn Dataset> {
    Arc::new(toy::generate(toy::Toy::Spiral, 72, 0.1, 5).unwrap())
}

/// Plain MLP (no dropout, no batch norm): its gradient over a batch is the mean of the
/// gradients over the halves, so one process and two ranks must agree.
fn mlp(vs: &VarStore) -> Result<Sequential> {
    let r = vs.root();
    Ok(seq()
        .add(Linear::new(&r.sub("fc1"), 2, 16, true)?)
        .add(Activation::Tanh)
        .add(Linear::new(&r.sub("fc2"), 16, 2, true)?))
}

/// With dropout and batch norm: resuming must restore each rank's generator and the buffers.
fn mlp_bn_dropout(vs: &VarStore) -> Result<Sequential> {
    let r = vs.root();
    Ok(seq()
        .add(Linear::new(&r.sub("fc1"), 2, 16, true)?)
        .add(BatchNorm::new1d(&r.sub("bn"), 16)?)
        .add(Activation::Relu)
        .add(Dropout::new(0.2)?)
        .add(Linear::new(&r.sub("fc2"), 16, 2, true)?))
}

fn values(vs: &VarStore) -> Vec<(String, Vec<f32>)> {
    vs.state_dict()
        .into_iter()
        .filter_map(|(n, t)| t.to_vec::<f32>().ok().map(|v| (n, v)))
        .collect()
}

struct Run<'a> {
    model: fn(&VarStore) -> Result<Sequential>,
    seed: u64,
    batch: usize,
    shard: Shard,
    epochs: usize,
    comm: Option<&'a LocalGroup>,
    out: Option<PathBuf>,
    resume: bool,
}

/// Trains and returns the final variables (and buffers).
fn train(run: Run) -> Result<Vec<(String, Vec<f32>)>> {
    manual_seed(run.seed);
    let vs = VarStore::new(&Device::Cpu);
    let net = (run.model)(&vs)?;
    let opt = Sgd::new(vs.trainable(), 0.1).momentum(0.9);
    let cfg = TrainerConfig {
        epochs: run.epochs,
        out_dir: run.out.clone(),
        progress: false,
        verbose: false,
        ..Default::default()
    };
    let mut trainer = Trainer::new(&net, &vs, Box::new(opt), cfg);
    if let Some(c) = run.comm {
        // Buckets of 48 values: [fc1.weight 32 + fc1.bias 16], [fc2.weight 32 + fc2.bias 2]
        // for the plain MLP, so that each step takes several all-reduce calls.
        trainer = trainer.data_parallel(DataParallel::new(c).bucket_bytes(192));
    }
    if run.resume {
        trainer.resume()?;
    }
    let loader = DataLoader::new(spiral(), run.batch)
        .map_err(|e| Error::Data(Box::new(e)))?
        .shuffle(true)
        .seed(11)
        .shard(run.shard);
    trainer.fit(&Batches(loader), None)?;
    if let Some(dp) = trainer.parallel() {
        let stats = dp.stats();
        assert!(stats.calls >= 2 * stats.steps, "{stats:?}");
    }
    Ok(values(&vs))
}

/// Runs `f(rank, member)` on each member of a new group of `n`, each on its own thread.
fn on_ranks<T: Send>(n: usize, f: impl Fn(usize, &LocalGroup) -> T + Sync) -> Vec<T> {
    let members = LocalGroup::new(n, Duration::from_secs(30));
    std::thread::scope(|s| {
        let handles: Vec<_> = members
            .iter()
            .enumerate()
            .map(|(r, m)| {
                let f = &f;
                s.spawn(move || f(r, m))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn max_difference(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|((na, va), (nb, vb))| {
            assert_eq!(na, nb);
            va.iter().zip(vb).map(|(x, y)| (x - y).abs())
        })
        .fold(0.0, f32::max)
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nabla-dp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn two_ranks_with_batch_b_match_one_process_with_batch_2b() -> Result<()> {
    let single = train(Run {
        model: mlp,
        seed: 1,
        batch: 12,
        shard: Shard::single(),
        epochs: 3,
        comm: None,
        out: None,
        resume: false,
    })?;
    let ranks = on_ranks(2, |r, m| {
        train(Run {
            model: mlp,
            // Rank 1 starts from other weights: rank 0's must replace them.
            seed: 1 + r as u64,
            batch: 6,
            shard: Shard::new(r, 2).unwrap(),
            epochs: 3,
            comm: Some(m),
            out: None,
            resume: false,
        })
        .unwrap()
    });
    assert_eq!(max_difference(&ranks[0], &ranks[1]), 0.0);
    // 18 SGD steps; the two sides differ only in float summation order.
    let diff = max_difference(&single, &ranks[0]);
    assert!(diff < 1e-5, "largest weight difference {diff}");
    Ok(())
}

#[test]
fn only_rank_0_writes_and_a_resumed_run_continues_exactly() -> Result<()> {
    let (full, part) = (dir("full"), dir("part"));
    let quiet = dir("rank1");
    let run = |r: usize, m: &LocalGroup, out: &Path, epochs, resume| {
        train(Run {
            model: mlp_bn_dropout,
            seed: 4,
            batch: 8,
            shard: Shard::new(r, 2).unwrap(),
            epochs,
            comm: Some(m),
            out: Some(if r == 0 {
                out.to_path_buf()
            } else {
                quiet.clone()
            }),
            resume,
        })
        .unwrap()
    };
    let uninterrupted = on_ranks(2, |r, m| run(r, m, &full, 3, false));
    // Same weights on both ranks, and the same BatchNorm statistics: averaged after each
    // epoch (each rank's own would differ, from different halves of the batches).
    assert_eq!(uninterrupted[0], uninterrupted[1]);
    assert!(uninterrupted[0].iter().any(|(n, _)| n == "bn.running_var"));
    on_ranks(2, |r, m| run(r, m, &part, 1, false));
    assert!(part.join("checkpoint.safetensors").exists());
    assert!(!quiet.exists(), "rank 1 wrote into its output folder");
    let resumed = on_ranks(2, |r, m| run(r, m, &part, 3, true));
    assert_eq!(uninterrupted, resumed);
    for d in [full, part] {
        let _ = std::fs::remove_dir_all(d);
    }
    Ok(())
}

#[test]
fn a_rank_that_never_arrives_is_named() {
    let members = LocalGroup::new(2, Duration::from_millis(300));
    let err = train(Run {
        model: mlp,
        seed: 1,
        batch: 6,
        shard: Shard::new(0, 2).unwrap(),
        epochs: 1,
        comm: Some(&members[0]),
        out: None,
        resume: false,
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Distributed { rank: 0, .. }), "{msg}");
    assert!(msg.contains("rank 1 did not join"), "{msg}");
}
