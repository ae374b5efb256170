//! The Trainer's data-parallel side: rank 0's state shared at the start, metrics and
//! BatchNorm statistics combined over the ranks after each epoch.

use super::{Evaluation, Trainer};
use crate::checkpoint;
use crate::distributed::DataParallel;
use crate::Result;

/// One rank's sums over a training epoch.
pub(super) struct EpochSums {
    /// Σ batch loss × batch size.
    pub loss_sum: f64,
    /// Examples seen.
    pub n: usize,
    /// Top-1 hits (classification).
    pub hits: usize,
    /// Predictions the hits are out of: examples, or positions for sequence models.
    pub predictions: usize,
    /// Whether the batches were classification.
    pub classified: bool,
}

impl<'a> Trainer<'a> {
    /// Trains data-parallel: each rank gives [`fit`](Trainer::fit) its own shard of every
    /// batch, gradients are averaged over the ranks before each optimizer step (before
    /// clipping), and
    /// - at the start of `fit`, rank 0's model, optimizer state, history and learning rate
    ///   (after its [`resume`](Trainer::resume), if any) replace every other rank's;
    /// - each epoch, every rank draws dropout masks from its own stream, derived from rank 0's
    ///   generator, so a checkpoint resumes all ranks exactly;
    /// - after each epoch, BatchNorm statistics are averaged and the training metrics
    ///   combined; [`evaluate`](Trainer::evaluate) combines the ranks' results;
    /// - only rank 0 writes files or prints: on other ranks `out_dir` is cleared and the
    ///   progress bar and log lines are off.
    pub fn data_parallel(mut self, dp: DataParallel<'a>) -> Self {
        if !dp.is_root() {
            self.cfg.out_dir = None;
            self.cfg.progress = false;
            self.cfg.verbose = false;
        }
        self.parallel = Some(dp);
        self
    }

    /// The data-parallel settings, when training data-parallel.
    pub fn parallel(&self) -> Option<&DataParallel<'a>> {
        self.parallel.as_ref()
    }

    /// Replaces this rank's training state by rank 0's.
    pub(super) fn share_state(&mut self) -> Result<()> {
        let Some(dp) = &self.parallel else {
            return Ok(());
        };
        let mut bytes = if dp.is_root() {
            let state = self.training_state()?;
            checkpoint::to_bytes(&state.tensors, &state.metadata)?
        } else {
            Vec::new()
        };
        dp.broadcast(&mut bytes, "the initial training state")?;
        if dp.is_root() {
            return Ok(());
        }
        let source = "rank 0's training state";
        self.restore(checkpoint::from_bytes(&bytes, source)?, source)
    }

    /// The mean loss and accuracy of an epoch from the ranks' sums; averages BatchNorm
    /// statistics.
    pub(super) fn combine_epoch(
        &self,
        sums: EpochSums,
        epoch: usize,
    ) -> Result<(f64, Option<f64>)> {
        let mut v = [
            sums.loss_sum,
            sums.n as f64,
            sums.hits as f64,
            sums.predictions as f64,
            sums.classified as u8 as f64,
        ];
        if let Some(dp) = &self.parallel {
            dp.average_buffers(&self.vs)?;
            dp.sum(&mut v, &format!("training metrics of epoch {}", epoch + 1))?;
        }
        let [loss_sum, n, hits, predictions, classified] = v;
        Ok((
            loss_sum / n.max(1.0),
            (classified > 0.0).then(|| hits / predictions.max(1.0)),
        ))
    }

    /// An evaluation over all ranks' examples from each rank's own.
    pub(super) fn combine_evaluations(&self, local: Evaluation) -> Result<Evaluation> {
        let Some(dp) = &self.parallel else {
            return Ok(local);
        };
        let n = local.n as f64;
        let mut v = [
            local.loss * n,
            n,
            local.accuracy.map_or(0.0, |a| a * n),
            local.topk.map_or(0.0, |a| a * n),
            local.accuracy.is_some() as u8 as f64,
        ];
        dp.sum(&mut v, "evaluation results")?;
        let [loss_sum, n, top1, topk, classified] = v;
        let d = n.max(1.0);
        let classified = classified > 0.0;
        Ok(Evaluation {
            loss: loss_sum / d,
            accuracy: classified.then(|| top1 / d),
            topk: classified.then(|| topk / d),
            n: n as usize,
        })
    }
}
