//! Data-parallel training: every rank (process, or thread in tests) holds the whole model,
//! trains on its own shard of each batch, and averages gradients with all-reduce before the
//! optimizer step, so that N ranks with batch B step like one process with batch N·B.
//!
//! [`Communicator`] is the transport (MPI with the `mpi` feature: [`Mpi`]; threads of one
//! process: [`LocalGroup`]); [`DataParallel`] is what the [`Trainer`](crate::Trainer) does
//! with it (see [`Trainer::data_parallel`](crate::Trainer::data_parallel)).

mod buckets;
mod local;
#[cfg(feature = "mpi")]
mod mpi;

pub use buckets::buckets;
pub use local::LocalGroup;
#[cfg(feature = "mpi")]
pub use mpi::{Mpi, MpiTiming};

use crate::{Result, Var, VarKind, VarStore};
use nabla::rng::{global_rng_state, set_global_rng_state};
use nabla::{DType, Grads, Rng, Tensor};
use std::cell::{Cell, RefCell};
use std::time::Instant;

/// Collective operations among the ranks of a data-parallel job. Every rank must make the
/// same calls in the same order (as MPI requires); `what` names the call in error messages
/// ("gradients of step 38").
pub trait Communicator {
    /// This rank, `0..size()`.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// Replaces `buf` on every rank by the element-wise sum of all ranks' `buf`s (same
    /// length everywhere).
    ///
    /// # Errors
    /// [`Error::Distributed`](crate::Error::Distributed) when a peer does not take part in
    /// time or the ranks are out of step.
    fn all_reduce_sum(&self, buf: &mut [f32], what: &str) -> Result<()>;
    /// [`Communicator::all_reduce_sum`] in f64 (metrics, counts).
    ///
    /// # Errors
    /// As [`Communicator::all_reduce_sum`].
    fn all_reduce_sum_f64(&self, buf: &mut [f64], what: &str) -> Result<()>;
    /// Replaces `buf` on every rank by rank 0's `buf` (any length).
    ///
    /// # Errors
    /// As [`Communicator::all_reduce_sum`].
    fn broadcast(&self, buf: &mut Vec<u8>, what: &str) -> Result<()>;
}

/// Time and volume of gradient averaging so far, on this rank.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SyncStats {
    /// Gradient averagings (optimizer steps).
    pub steps: usize,
    /// All-reduce calls they took (buckets).
    pub calls: usize,
    /// Values reduced in total.
    pub values: usize,
    /// Wall time spent in them, seconds, waiting for slower ranks included.
    pub seconds: f64,
}

/// Bucket size of gradient all-reduce: 25 MiB (as PyTorch's DistributedDataParallel), large
/// enough that per-call latency does not matter, small enough to bound the copy buffer.
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// What a [`Trainer`](crate::Trainer) needs to train data-parallel: averaging gradients in
/// buckets, averaging BatchNorm statistics, summing metrics, sharing rank 0's state.
pub struct DataParallel<'a> {
    comm: &'a dyn Communicator,
    bucket_bytes: usize,
    stats: Cell<SyncStats>,
    /// The bucket being reduced, kept between steps (no page faults for a new one).
    flat: RefCell<Vec<f32>>,
}

impl<'a> DataParallel<'a> {
    /// Data parallelism over `comm` with [`DEFAULT_BUCKET_BYTES`] buckets.
    pub fn new(comm: &'a dyn Communicator) -> Self {
        DataParallel {
            comm,
            bucket_bytes: DEFAULT_BUCKET_BYTES,
            stats: Cell::new(SyncStats::default()),
            flat: RefCell::new(Vec::new()),
        }
    }

    /// Gradients are reduced in all-reduce calls of about this many bytes (f32 values); a
    /// tensor larger than that is a bucket of its own.
    pub fn bucket_bytes(mut self, bytes: usize) -> Self {
        self.bucket_bytes = bytes.max(4);
        self
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// Number of ranks.
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// Whether this is rank 0, the one that writes checkpoints, metrics and logs.
    pub fn is_root(&self) -> bool {
        self.comm.rank() == 0
    }

    /// Gradient averaging so far.
    pub fn stats(&self) -> SyncStats {
        self.stats.get()
    }

    /// Replaces the gradient of each of `vars` by its mean over the ranks. A variable with
    /// no gradient on this rank counts as a zero gradient (and gets the mean), so that every
    /// rank reduces the same values. Gradients are packed, in the order of `vars`, into
    /// buckets of about [`bucket_bytes`](DataParallel::bucket_bytes), one all-reduce each.
    ///
    /// # Errors
    /// Communication errors (see [`Communicator`]); engine errors.
    pub fn average_gradients(&self, grads: &mut Grads, vars: &[Var], step: usize) -> Result<()> {
        let started = Instant::now();
        let sizes: Vec<usize> = vars.iter().map(Var::numel).collect();
        let ranges = buckets(&sizes, self.bucket_bytes / 4);
        let scale = 1.0 / self.size() as f32;
        let mut flat = self.flat.borrow_mut();
        for (b, range) in ranges.iter().enumerate() {
            flat.clear();
            for var in &vars[range.clone()] {
                match grads.get(var.leaf()) {
                    Some(g) => flat.extend(g.to_vec::<f32>()?),
                    None => flat.extend(std::iter::repeat_n(0.0, var.numel())),
                }
            }
            let what = format!(
                "gradients of step {step} (bucket {}/{})",
                b + 1,
                ranges.len()
            );
            self.comm.all_reduce_sum(&mut flat, &what)?;
            let mut at = 0;
            for var in &vars[range.clone()] {
                let mean: Vec<f32> = flat[at..at + var.numel()]
                    .iter()
                    .map(|g| g * scale)
                    .collect();
                at += var.numel();
                let leaf = var.leaf();
                grads.insert(leaf, Tensor::from_vec(mean, leaf.dims(), &leaf.device())?);
            }
        }
        let mut s = self.stats.get();
        s.steps += 1;
        s.calls += ranges.len();
        s.values += sizes.iter().sum::<usize>();
        s.seconds += started.elapsed().as_secs_f64();
        self.stats.set(s);
        Ok(())
    }

    /// Averages the f32 buffers of `vs` (BatchNorm running mean and variance) over the ranks,
    /// in one all-reduce. The running mean so averaged equals one process's (it is linear in
    /// the batch means); the running variance is the mean of per-rank variances.
    ///
    /// # Errors
    /// Communication and engine errors.
    pub fn average_buffers(&self, vs: &VarStore) -> Result<()> {
        let buffers: Vec<Var> = vs
            .vars()
            .into_iter()
            .filter(|v| v.kind() == VarKind::Buffer && v.leaf().dtype() == DType::F32)
            .collect();
        if buffers.is_empty() {
            return Ok(());
        }
        let mut flat = Vec::new();
        for v in &buffers {
            flat.extend(v.leaf().to_vec::<f32>()?);
        }
        self.comm
            .all_reduce_sum(&mut flat, "BatchNorm statistics")?;
        let scale = 1.0 / self.size() as f32;
        let mut at = 0;
        for v in &buffers {
            let mean: Vec<f32> = flat[at..at + v.numel()].iter().map(|x| x * scale).collect();
            at += v.numel();
            v.set(&Tensor::from_vec(
                mean,
                v.leaf().dims(),
                &v.leaf().device(),
            )?)?;
        }
        Ok(())
    }

    /// Sums `values` over the ranks, in place.
    ///
    /// # Errors
    /// Communication errors.
    pub fn sum(&self, values: &mut [f64], what: &str) -> Result<()> {
        self.comm.all_reduce_sum_f64(values, what)
    }

    /// Replaces `bytes` by rank 0's.
    ///
    /// # Errors
    /// Communication errors.
    pub fn broadcast(&self, bytes: &mut Vec<u8>, what: &str) -> Result<()> {
        self.comm.broadcast(bytes, what)
    }

    /// Gives each rank its own stream of the thread's default generator (dropout masks),
    /// derived from rank 0's current state and the rank: rank 0 keeps its stream, so its
    /// checkpoint resumes the same streams on every rank.
    ///
    /// # Errors
    /// Communication errors.
    pub fn split_rng(&self, what: &str) -> Result<()> {
        let mut bytes: Vec<u8> = global_rng_state()
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        self.comm.broadcast(&mut bytes, what)?;
        if self.is_root() {
            return Ok(());
        }
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8 bytes")))
            .collect();
        let state: [u64; 5] =
            words
                .try_into()
                .map_err(|w: Vec<u64>| crate::Error::Distributed {
                    rank: self.rank(),
                    msg: format!(
                        "{what}: rank 0 sent {} random-generator words, expected 5",
                        w.len()
                    ),
                })?;
        let mut shared = Rng::from_state(state);
        let seed = shared.next_u64() ^ (self.rank() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        set_global_rng_state(Rng::new(seed).state());
        Ok(())
    }
}
