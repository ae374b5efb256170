//! The `DataLoader`: shuffled, batched, augmented epochs, prefetched on a background thread.

use crate::{transforms::Transform, Dataset, Error, Result, Shard, Target};
use nabla::{Device, Rng, Tensor};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// One mini-batch.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The inputs, `[B, ...]` f32 (`[B, 1, 28, 28]` for MNIST).
    pub inputs: Tensor,
    /// The targets: `[B]` i64 class labels, `[B, len]` i64 per-position labels, or `[B, k]`
    /// f32 values, following the dataset's [`Task`](crate::Task).
    pub targets: Tensor,
    /// The dataset index of each row.
    pub indices: Vec<usize>,
}

/// Mixes seed words into one seed (splitmix64 finalizer over each word in turn), so that
/// nearby inputs (epoch 1 and 2, sample 7 and 8) give unrelated generators.
pub(crate) fn derive_seed(words: &[u64]) -> u64 {
    let mut h: u64 = 0x6A09_E667_F3BC_C908;
    for &w in words {
        h = (h ^ w).wrapping_add(0x9E37_79B9_7F4A_7C15);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
    }
    h
}

/// Streams that `derive_seed` keeps apart.
const STREAM_ORDER: u64 = 1;
const STREAM_TRANSFORM: u64 = 2;

/// Batches a [`Dataset`]: shuffles with a seed, applies per-sample transforms, stacks samples
/// into tensors, and prepares the next batch on a background thread while the current one
/// is used.
///
/// Epoch `e` visits every sample once (or all but the last partial batch with
/// [`drop_last`](DataLoader::drop_last)), in an order that depends only on `(seed, e)`:
/// resuming a run at epoch `k` sees the same batches as the uninterrupted run. Random
/// transforms draw from a generator seeded by `(seed, e, sample index)`, so augmentation is
/// reproducible too, with or without prefetch.
///
/// # Examples
/// ```
/// use nabla_data::{toy, DataLoader};
/// use std::sync::Arc;
/// let ds = Arc::new(toy::generate(toy::Toy::Xor, 10, 0.0, 1)?);
/// let loader = DataLoader::new(ds, 4)?.shuffle(true).seed(7);
/// assert_eq!(loader.len(), 3); // 4 + 4 + 2
/// for batch in loader.epoch(0) {
///     let batch = batch?;
///     assert_eq!(batch.inputs.dims()[1..], [2]);
/// }
/// # Ok::<(), nabla_data::Error>(())
/// ```
#[derive(Clone)]
pub struct DataLoader {
    dataset: Arc<dyn Dataset>,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    prefetch: usize,
    transform: Option<Arc<dyn Transform>>,
    device: Device,
    shard: Shard,
}

impl std::fmt::Debug for DataLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataLoader")
            .field("len", &self.dataset.len())
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("seed", &self.seed)
            .field("drop_last", &self.drop_last)
            .field("prefetch", &self.prefetch)
            .field("shard", &self.shard)
            .finish()
    }
}

impl DataLoader {
    /// A loader over `dataset` in batches of `batch_size`, in dataset order, keeping the last
    /// partial batch, with 2 batches prefetched.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when `batch_size` is 0.
    pub fn new(dataset: Arc<dyn Dataset>, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::out_of_range(
                "DataLoader",
                "the batch size",
                "at least 1",
                0,
            ));
        }
        Ok(DataLoader {
            dataset,
            batch_size,
            shuffle: false,
            seed: 0,
            drop_last: false,
            prefetch: 2,
            transform: None,
            // Batches are built in host memory from the readers; `.device(..)` moves them.
            device: Device::Cpu,
            shard: Shard::single(),
        })
    }

    /// Whether each epoch visits the samples in a fresh random order.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed of the shuffling order and of random transforms (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether to leave out the last batch when it is smaller than the batch size.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// How many batches the background thread may prepare ahead (0: no thread; batches are
    /// built on the caller's thread when asked for).
    pub fn prefetch(mut self, depth: usize) -> Self {
        self.prefetch = depth;
        self
    }

    /// A transform applied to each sample before batching.
    pub fn transform(mut self, transform: impl Transform + 'static) -> Self {
        self.transform = Some(Arc::new(transform));
        self
    }

    /// The device the batch tensors are created on.
    pub fn device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Makes this loader one rank's part of data-parallel training: its batches (of the batch
    /// size) are its share of global batches of `world ×` the batch size, as [`Shard`]
    /// describes; every rank must use the same dataset, seed, batch size and `drop_last`.
    pub fn shard(mut self, shard: Shard) -> Self {
        self.shard = shard;
        self
    }

    /// The number of batches in an epoch (on this rank).
    pub fn len(&self) -> usize {
        self.shard
            .num_batches(self.dataset.len(), self.batch_size, self.drop_last)
    }

    /// Whether an epoch holds no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.dataset
    }

    /// The order in which epoch `epoch` visits the dataset (the same on every rank: before
    /// sharding and dropping a partial batch).
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.shuffle {
            Rng::new(derive_seed(&[self.seed, STREAM_ORDER, epoch])).shuffle(&mut order);
        }
        order
    }

    /// The batches of epoch `epoch`, in order. With prefetch on, a background thread builds
    /// them ahead (at most the prefetch depth waiting); dropping the iterator stops it.
    /// The iterator ends after the first error it yields.
    pub fn epoch(&self, epoch: u64) -> Epoch {
        let plan = Plan {
            dataset: self.dataset.clone(),
            transform: self.transform.clone(),
            order: self
                .shard
                .indices(&self.order(epoch), self.batch_size, self.drop_last),
            batch_size: self.batch_size,
            num_batches: self.len(),
            seed: self.seed,
            epoch,
        };
        let num_batches = plan.num_batches;
        let source = if self.prefetch == 0 {
            Source::Inline(Arc::new(plan))
        } else {
            spawn_prefetch(plan, self.prefetch)
        };
        Epoch {
            source,
            next: 0,
            num_batches,
            device: self.device,
            failed: false,
        }
    }
}

/// A batch as plain vectors, built off the caller's thread.
struct RawBatch {
    inputs: Vec<f32>,
    input_shape: Vec<usize>,
    targets: RawTargets,
    indices: Vec<usize>,
}

enum RawTargets {
    Classes(Vec<i64>),
    Sequences { labels: Vec<i64>, len: usize },
    Values { values: Vec<f32>, width: usize },
}

/// Everything needed to build the batches of one epoch.
struct Plan {
    dataset: Arc<dyn Dataset>,
    transform: Option<Arc<dyn Transform>>,
    order: Vec<usize>,
    batch_size: usize,
    num_batches: usize,
    seed: u64,
    epoch: u64,
}

impl Plan {
    fn batch(&self, k: usize) -> Result<RawBatch> {
        let start = k * self.batch_size;
        let end = start.saturating_add(self.batch_size).min(self.order.len());
        let indices = self.order.get(start..end).unwrap_or_default().to_vec();
        let mut inputs = Vec::new();
        let mut input_shape: Option<Vec<usize>> = None;
        let mut targets: Option<RawTargets> = None;
        for &i in &indices {
            let mut sample = self.dataset.get(i)?;
            if let Some(t) = &self.transform {
                let mut rng = Rng::new(derive_seed(&[
                    self.seed,
                    STREAM_TRANSFORM,
                    self.epoch,
                    i as u64,
                ]));
                sample = t.apply(sample, &mut rng)?;
            }
            if Some(sample.input.len())
                != sample
                    .shape
                    .iter()
                    .try_fold(1usize, |a, &d| a.checked_mul(d))
            {
                return Err(Error::SampleMismatch {
                    op: "batch",
                    msg: format!(
                        "sample {i} has {} values for shape {:?}",
                        sample.input.len(),
                        sample.shape
                    ),
                });
            }
            let shape = input_shape.get_or_insert_with(|| sample.shape.clone());
            if *shape != sample.shape {
                return Err(Error::SampleMismatch {
                    op: "batch",
                    msg: format!(
                        "sample {i} has shape {:?}, unlike the {shape:?} of sample {} earlier in the batch",
                        sample.shape, indices[0]
                    ),
                });
            }
            if inputs.is_empty() {
                inputs.reserve(indices.len() * sample.input.len());
            }
            inputs.extend_from_slice(&sample.input);
            push_target(&mut targets, sample.target, i)?;
        }
        Ok(RawBatch {
            inputs,
            input_shape: input_shape.unwrap_or_else(|| self.dataset.input_shape().to_vec()),
            targets: targets.unwrap_or(RawTargets::Classes(Vec::new())),
            indices,
        })
    }
}

/// Appends one sample's target, checking that it has the kind and width of the others.
fn push_target(acc: &mut Option<RawTargets>, target: Target, index: usize) -> Result<()> {
    let mismatch = |what: &str| Error::SampleMismatch {
        op: "batch",
        msg: format!("sample {index} has {what} unlike the earlier samples of the batch"),
    };
    match (acc.as_mut(), target) {
        (None, Target::Class(c)) => *acc = Some(RawTargets::Classes(vec![c])),
        (None, Target::Classes(v)) => {
            *acc = Some(RawTargets::Sequences {
                len: v.len(),
                labels: v,
            })
        }
        (None, Target::Values(v)) => {
            *acc = Some(RawTargets::Values {
                width: v.len(),
                values: v,
            })
        }
        (Some(RawTargets::Classes(labels)), Target::Class(c)) => labels.push(c),
        (Some(RawTargets::Sequences { labels, len }), Target::Classes(v)) if v.len() == *len => {
            labels.extend(v)
        }
        (Some(RawTargets::Values { values, width }), Target::Values(v)) if v.len() == *width => {
            values.extend(v)
        }
        (_, Target::Class(_)) => return Err(mismatch("a class target")),
        (_, Target::Classes(v)) => return Err(mismatch(&format!("{} class targets", v.len()))),
        (_, Target::Values(v)) => return Err(mismatch(&format!("{} target values", v.len()))),
    }
    Ok(())
}

impl RawBatch {
    fn into_batch(self, device: &Device) -> Result<Batch> {
        let b = self.indices.len();
        let mut dims = vec![b];
        dims.extend_from_slice(&self.input_shape);
        let inputs = Tensor::from_vec(self.inputs, &dims, device)?;
        let targets = match self.targets {
            RawTargets::Classes(labels) => Tensor::from_vec(labels, &[b], device)?,
            RawTargets::Sequences { labels, len } => Tensor::from_vec(labels, &[b, len], device)?,
            RawTargets::Values { values, width } => Tensor::from_vec(values, &[b, width], device)?,
        };
        Ok(Batch {
            inputs,
            targets,
            indices: self.indices,
        })
    }
}

enum Source {
    Inline(Arc<Plan>),
    Prefetch {
        rx: Option<Receiver<Result<RawBatch>>>,
        worker: Option<JoinHandle<()>>,
    },
}

fn spawn_prefetch(plan: Plan, depth: usize) -> Source {
    let (tx, rx) = mpsc::sync_channel(depth);
    let plan = Arc::new(plan);
    let worker_plan = plan.clone();
    let spawned = std::thread::Builder::new()
        .name("nabla-data-prefetch".into())
        .spawn(move || {
            for k in 0..worker_plan.num_batches {
                let batch = worker_plan.batch(k);
                let failed = batch.is_err();
                // A send fails when the consumer dropped the iterator: stop early.
                if tx.send(batch).is_err() || failed {
                    return;
                }
            }
        });
    match spawned {
        Ok(worker) => Source::Prefetch {
            rx: Some(rx),
            worker: Some(worker),
        },
        // No thread to be had: build the batches on the caller's thread instead.
        Err(_) => Source::Inline(plan),
    }
}

/// The batches of one epoch: an iterator of `Result<Batch>` from [`DataLoader::epoch`].
pub struct Epoch {
    source: Source,
    next: usize,
    num_batches: usize,
    device: Device,
    failed: bool,
}

impl Iterator for Epoch {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        if self.failed || self.next >= self.num_batches {
            return None;
        }
        let raw = match &mut self.source {
            Source::Inline(plan) => plan.batch(self.next),
            Source::Prefetch { rx, .. } => match rx.as_ref().map(|rx| rx.recv()) {
                Some(Ok(raw)) => raw,
                _ => Err(Error::Prefetch {
                    sent: self.next,
                    expected: self.num_batches,
                }),
            },
        };
        self.next += 1;
        let batch = raw.and_then(|raw| raw.into_batch(&self.device));
        self.failed = batch.is_err();
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = if self.failed {
            0
        } else {
            self.num_batches - self.next
        };
        (0, Some(left))
    }
}

impl Drop for Epoch {
    fn drop(&mut self) {
        if let Source::Prefetch { rx, worker } = &mut self.source {
            // Close the channel first so a worker blocked on a full channel wakes and stops.
            drop(rx.take());
            if let Some(worker) = worker.take() {
                let _ = worker.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ_for_neighbouring_inputs() {
        let a = derive_seed(&[0, STREAM_ORDER, 1]);
        let b = derive_seed(&[0, STREAM_ORDER, 2]);
        let c = derive_seed(&[0, STREAM_TRANSFORM, 1]);
        assert!(a != b && a != c && b != c);
        assert_eq!(a, derive_seed(&[0, STREAM_ORDER, 1]));
    }

    #[test]
    fn sharded_loaders_split_each_shuffled_batch_of_the_single_loader() -> Result<()> {
        let ds: Arc<dyn Dataset> =
            Arc::new(crate::toy::generate(crate::toy::Toy::Xor, 40, 0.0, 1)?);
        let loader = |batch, shard| {
            DataLoader::new(ds.clone(), batch).map(|l| l.shuffle(true).seed(9).shard(shard))
        };
        let single = loader(8, Shard::single())?;
        let ranks = [loader(4, Shard::new(0, 2)?)?, loader(4, Shard::new(1, 2)?)?];
        let indices = |l: &DataLoader, e| -> Result<Vec<Vec<usize>>> {
            l.epoch(e).map(|b| b.map(|b| b.indices)).collect()
        };
        for epoch in 0..2 {
            let whole = indices(&single, epoch)?;
            let (a, b) = (indices(&ranks[0], epoch)?, indices(&ranks[1], epoch)?);
            assert_eq!(whole.len(), 5);
            assert_eq!((a.len(), b.len()), (5, 5));
            for k in 0..5 {
                assert_eq!([a[k].clone(), b[k].clone()].concat(), whole[k]);
            }
        }
        // a fresh order each epoch, the same on both ranks
        assert_ne!(indices(&ranks[0], 0)?, indices(&ranks[0], 1)?);
        Ok(())
    }
}
