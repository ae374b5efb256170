//! Per-batch metrics (accuracy, top-k accuracy) and the per-epoch record.

use crate::Result;
use nabla::{DType, Tensor};

/// Counts of correct predictions in one batch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Hits {
    /// Examples in the batch.
    pub n: usize,
    /// Top-1 correct.
    pub top1: usize,
    /// Top-k correct.
    pub topk: usize,
}

/// Top-1 and top-k hits of logits `[n, C]` against integer targets `[n]` — or, for
/// sequence models, logits `[.., C]` against targets `[..]`, one prediction per position;
/// `None` when the targets are not class indices (regression).
///
/// # Errors
/// Engine errors only.
pub fn hits(logits: &Tensor, targets: &Tensor, k: usize) -> Result<Option<Hits>> {
    let rank = logits.rank();
    if targets.dtype() != DType::I64 || rank < 2 || targets.dims() != &logits.dims()[..rank - 1] {
        return Ok(None);
    }
    let c = logits.dims()[rank - 1];
    let n = targets.numel();
    let scores = logits.to_vec::<f32>()?;
    let labels = targets.to_vec::<i64>()?;
    let mut h = Hits {
        n,
        ..Hits::default()
    };
    for (row, &y) in scores.chunks(c.max(1)).zip(&labels) {
        let Some(&target) = row.get(y as usize) else {
            continue;
        };
        // Rank of the target = number of classes scoring strictly higher.
        let better = row.iter().filter(|&&s| s > target).count();
        h.top1 += (better == 0) as usize;
        h.topk += (better < k) as usize;
    }
    Ok(Some(h))
}

/// The metrics of one epoch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpochRecord {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy (classification).
    pub train_acc: Option<f64>,
    /// Mean validation loss.
    pub val_loss: Option<f64>,
    /// Validation top-1 accuracy.
    pub val_acc: Option<f64>,
    /// Validation top-k accuracy.
    pub val_topk: Option<f64>,
    /// Learning rate used in the epoch.
    pub lr: f64,
    /// Wall time of the epoch in seconds (training and validation).
    pub seconds: f64,
}

/// `metrics.csv`'s header.
pub const CSV_HEADER: &str = "epoch,train_loss,train_acc,val_loss,val_acc,val_topk,lr,seconds";

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.6}"))
}

impl EpochRecord {
    /// One CSV line (no newline).
    pub fn csv_line(&self) -> String {
        format!(
            "{},{:.6},{},{},{},{},{:.6e},{:.3}",
            self.epoch,
            self.train_loss,
            opt(self.train_acc),
            opt(self.val_loss),
            opt(self.val_acc),
            opt(self.val_topk),
            self.lr,
            self.seconds
        )
    }

    /// Parses a line written by [`EpochRecord::csv_line`].
    pub fn from_csv_line(line: &str) -> Option<EpochRecord> {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 8 {
            return None;
        }
        let o = |s: &str| {
            if s.is_empty() {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        Some(EpochRecord {
            epoch: f[0].parse().ok()?,
            train_loss: f[1].parse().ok()?,
            train_acc: o(f[2])?,
            val_loss: o(f[3])?,
            val_acc: o(f[4])?,
            val_topk: o(f[5])?,
            lr: f[6].parse().ok()?,
            seconds: f[7].parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla::Device;

    #[test]
    fn hits_count_top1_and_topk() -> Result<()> {
        let logits = Tensor::from_slice(
            &[0.1f32, 0.7, 0.2, 0.5, 0.3, 0.2, 0.1, 0.2, 0.7],
            &[3, 3],
            &Device::Cpu,
        )?;
        let y = Tensor::from_slice(&[1i64, 2, 0], &[3], &Device::Cpu)?;
        // row 0: target best; row 1: target ranks 3rd; row 2: target ranks 3rd
        assert_eq!(
            hits(&logits, &y, 2)?,
            Some(Hits {
                n: 3,
                top1: 1,
                topk: 1
            })
        );
        assert_eq!(hits(&logits, &y, 3)?.map(|h| h.topk), Some(3));
        Ok(())
    }

    #[test]
    fn csv_lines_round_trip() {
        let r = EpochRecord {
            epoch: 3,
            train_loss: 0.5,
            train_acc: Some(0.9),
            val_loss: None,
            val_acc: Some(0.8),
            val_topk: None,
            lr: 0.01,
            seconds: 1.5,
        };
        assert_eq!(EpochRecord::from_csv_line(&r.csv_line()), Some(r));
    }
}
