//! `Shard`: one rank's part of each epoch in data-parallel training.

use crate::{Error, Result};

/// Rank `rank` of `world` ranks training data-parallel, each with batches of `B`: the epoch's
/// order (the same on every rank: it depends only on the seed and the epoch) is cut into
/// global batches of `world · B`, and rank `r` takes the `r`-th contiguous `1/world` of each.
/// The union of the ranks' k-th batches is therefore exactly the k-th batch of one process
/// with batch `world · B`, which is what makes N ranks train like one process.
///
/// The tail is handled the same way on every rank, so that all take the same number of
/// steps with batches of the same size:
/// - keeping the last partial batch, the order is first padded to a multiple of `world` by
///   repeating its first samples (at most `world − 1` of them), and the last global batch
///   is split into equal parts;
/// - with `drop_last`, the last partial global batch is left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    rank: usize,
    world: usize,
}

impl Shard {
    /// Rank `rank` of `world`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when `world` is 0 or `rank` is not below it.
    pub fn new(rank: usize, world: usize) -> Result<Self> {
        if rank >= world {
            return Err(Error::out_of_range(
                "shard",
                "the rank",
                format!("below the number of ranks, {world}"),
                rank,
            ));
        }
        Ok(Shard { rank, world })
    }

    /// The only rank of a one-process job (takes everything, as a loader without shard).
    pub fn single() -> Self {
        Shard { rank: 0, world: 1 }
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Number of ranks.
    pub fn world(&self) -> usize {
        self.world
    }

    /// Batches per epoch on each rank, for `n` samples and per-rank batches of `batch`.
    pub fn num_batches(&self, n: usize, batch: usize, drop_last: bool) -> usize {
        if drop_last {
            n / (self.world * batch)
        } else {
            n.div_ceil(self.world).div_ceil(batch)
        }
    }

    /// The indices this rank visits, in order, from the epoch's global `order` and per-rank
    /// batches of `batch`; consecutive runs of `batch` of them are its batches.
    pub fn indices(&self, order: &[usize], batch: usize, drop_last: bool) -> Vec<usize> {
        let n = order.len();
        if n == 0 {
            return Vec::new();
        }
        let global = self.world * batch;
        let len = if drop_last {
            n / global * global
        } else {
            n.div_ceil(self.world) * self.world
        };
        let mut out = Vec::with_capacity(len / self.world);
        let mut start = 0;
        while start < len {
            let part = (len - start).min(global) / self.world;
            let from = start + self.rank * part;
            out.extend((from..from + part).map(|i| order[i % n]));
            start += global;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batches(order: &[usize], batch: usize, shard: Shard, drop_last: bool) -> Vec<Vec<usize>> {
        shard
            .indices(order, batch, drop_last)
            .chunks(batch)
            .map(<[usize]>::to_vec)
            .collect()
    }

    #[test]
    fn union_of_rank_batches_is_the_single_process_batch() {
        let order: Vec<usize> = (0..24).rev().collect();
        let single = batches(&order, 8, Shard::single(), false);
        let r0 = batches(&order, 4, Shard::new(0, 2).unwrap(), false);
        let r1 = batches(&order, 4, Shard::new(1, 2).unwrap(), false);
        assert_eq!(r0.len(), single.len());
        for k in 0..single.len() {
            let mut both = r0[k].clone();
            both.extend(&r1[k]);
            assert_eq!(both, single[k], "batch {k}");
        }
    }

    #[test]
    fn padding_repeats_the_first_samples_and_splits_the_tail_evenly() {
        // 11 samples, 3 ranks, batch 2: padded to 12 (sample 0 again) = 2 global batches of 6
        let order: Vec<usize> = (0..11).collect();
        let parts: Vec<Vec<usize>> = (0..3)
            .map(|r| Shard::new(r, 3).unwrap().indices(&order, 2, false))
            .collect();
        assert_eq!(parts[0], vec![0, 1, 6, 7]);
        assert_eq!(parts[1], vec![2, 3, 8, 9]);
        assert_eq!(parts[2], vec![4, 5, 10, 0]);
        // 7 samples, 2 ranks, batch 3: padded to 8; global batches of 6 and 2 (1 each)
        let order: Vec<usize> = (0..7).collect();
        let s0 = Shard::new(0, 2).unwrap();
        let s1 = Shard::new(1, 2).unwrap();
        assert_eq!(s0.indices(&order, 3, false), vec![0, 1, 2, 6]);
        assert_eq!(s1.indices(&order, 3, false), vec![3, 4, 5, 0]);
        assert_eq!(s0.num_batches(7, 3, false), 2);
    }

    #[test]
    fn every_sample_is_seen_and_ranks_agree_on_batch_count_and_sizes() {
        for n in [1, 2, 5, 16, 17, 33] {
            for world in 1..=4 {
                for batch in 1..=5 {
                    for drop_last in [false, true] {
                        let order: Vec<usize> = (0..n).collect();
                        let mut seen = vec![0usize; n];
                        let mut sizes: Option<Vec<usize>> = None;
                        for r in 0..world {
                            let s = Shard::new(r, world).unwrap();
                            let b = batches(&order, batch, s, drop_last);
                            assert_eq!(b.len(), s.num_batches(n, batch, drop_last));
                            let these: Vec<usize> = b.iter().map(Vec::len).collect();
                            assert_eq!(*sizes.get_or_insert(these.clone()), these);
                            b.iter().flatten().for_each(|&i| seen[i] += 1);
                        }
                        let total: usize = seen.iter().sum();
                        if drop_last {
                            assert_eq!(total, n / (world * batch) * world * batch);
                            assert!(seen.iter().all(|&c| c <= 1));
                        } else {
                            assert_eq!(total, n.div_ceil(world) * world);
                            assert!(seen.iter().all(|&c| c >= 1));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bad_ranks_are_rejected() {
        assert!(Shard::new(2, 2).is_err());
        assert!(Shard::new(0, 0).is_err());
    }
}
