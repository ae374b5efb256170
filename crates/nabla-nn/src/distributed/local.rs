//! `LocalGroup`: ranks as threads of one process, for tests of data-parallel training
//! without MPI (and as the reference of what a communicator must do).

use super::Communicator;
use crate::{Error, Result};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// One round of a collective: what each rank brought, and the result once all have.
#[derive(Default)]
struct Round {
    /// Rounds completed so far.
    generation: u64,
    /// What each rank contributed to the open round: the call's name and its values.
    slots: Vec<Option<(String, Payload)>>,
    /// The result of the last completed round.
    result: Option<Payload>,
}

#[derive(Clone)]
enum Payload {
    Sum(Vec<f64>),
    Bytes(Vec<u8>),
}

struct Shared {
    round: Mutex<Round>,
    done: Condvar,
    timeout: Duration,
}

/// A communicator among `n` threads of this process: create the group, move one member
/// into each thread. Collective calls block until every member has made the same call
/// (sums are taken in rank order, so results do not depend on thread timing), or fail
/// with [`Error::Distributed`] after the group's timeout.
///
/// # Examples
/// ```
/// use nabla_nn::distributed::{Communicator, LocalGroup};
/// let members = LocalGroup::new(2, std::time::Duration::from_secs(10));
/// let sums: Vec<Vec<f32>> = std::thread::scope(|s| {
///     let handles: Vec<_> = members
///         .iter()
///         .map(|m| s.spawn(move || {
///             let mut buf = vec![m.rank() as f32 + 1.0; 3];
///             m.all_reduce_sum(&mut buf, "example").map(|_| buf)
///         }))
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
/// });
/// assert_eq!(sums, vec![vec![3.0; 3], vec![3.0; 3]]);
/// ```
pub struct LocalGroup {
    rank: usize,
    size: usize,
    shared: Arc<Shared>,
}

impl LocalGroup {
    /// The `n` members of a new group (member `r` has rank `r`); a collective call fails
    /// when the others have not joined it within `timeout`.
    pub fn new(n: usize, timeout: Duration) -> Vec<LocalGroup> {
        let shared = Arc::new(Shared {
            round: Mutex::new(Round {
                slots: vec![None; n],
                ..Round::default()
            }),
            done: Condvar::new(),
            timeout,
        });
        (0..n)
            .map(|rank| LocalGroup {
                rank,
                size: n,
                shared: shared.clone(),
            })
            .collect()
    }

    fn error(&self, msg: String) -> Error {
        Error::Distributed {
            rank: self.rank,
            msg,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Round> {
        self.shared.round.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Joins the open round with `payload`; the last member to join combines the slots.
    fn collective(&self, what: &str, payload: Payload) -> Result<Payload> {
        let mut round = self.lock();
        let generation = round.generation;
        round.slots[self.rank] = Some((what.to_string(), payload));
        if round.slots.iter().all(Option::is_some) {
            let result = self.combine(&mut round);
            round.result = result.as_ref().ok().cloned();
            round.generation += 1;
            self.shared.done.notify_all();
            return result;
        } else {
            let (guard, waited) = self
                .shared
                .done
                .wait_timeout_while(round, self.shared.timeout, |r| r.generation == generation)
                .unwrap_or_else(|e| e.into_inner());
            round = guard;
            if waited.timed_out() {
                let missing: Vec<String> = round
                    .slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.is_none())
                    .map(|(r, _)| r.to_string())
                    .collect();
                return Err(self.error(format!(
                    "{what}: rank {} did not join within {:.1} s (dead or hung)",
                    missing.join(", rank "),
                    self.shared.timeout.as_secs_f64()
                )));
            }
        }
        round
            .result
            .clone()
            .ok_or_else(|| self.error(format!("{what}: the call failed on another rank")))
    }

    /// Combines the full slots of a round (sum in rank order, or rank 0's bytes) and empties
    /// them.
    fn combine(&self, round: &mut Round) -> Result<Payload> {
        let slots: Vec<(String, Payload)> =
            round.slots.iter_mut().filter_map(Option::take).collect();
        let (first_what, first) = &slots[0];
        for (r, (what, p)) in slots.iter().enumerate() {
            let same_kind = matches!(
                (first, p),
                (Payload::Sum(a), Payload::Sum(b)) if a.len() == b.len()
            ) || matches!((first, p), (Payload::Bytes(_), Payload::Bytes(_)));
            if what != first_what || !same_kind {
                return Err(self.error(format!(
                    "ranks out of step: rank 0 called '{first_what}', rank {r} '{what}'"
                )));
            }
        }
        Ok(match first {
            Payload::Bytes(b) => Payload::Bytes(b.clone()),
            Payload::Sum(a) => {
                let mut total = a.clone();
                for (_, p) in &slots[1..] {
                    if let Payload::Sum(v) = p {
                        total.iter_mut().zip(v).for_each(|(t, x)| *t += x);
                    }
                }
                Payload::Sum(total)
            }
        })
    }

    fn sum(&self, values: Vec<f64>, what: &str) -> Result<Vec<f64>> {
        match self.collective(what, Payload::Sum(values))? {
            Payload::Sum(v) => Ok(v),
            Payload::Bytes(_) => Err(self.error(format!("{what}: got bytes, expected a sum"))),
        }
    }
}

impl Communicator for LocalGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_reduce_sum(&self, buf: &mut [f32], what: &str) -> Result<()> {
        let total = self.sum(buf.iter().map(|&x| x as f64).collect(), what)?;
        buf.iter_mut().zip(total).for_each(|(b, t)| *b = t as f32);
        Ok(())
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64], what: &str) -> Result<()> {
        let total = self.sum(buf.to_vec(), what)?;
        buf.copy_from_slice(&total);
        Ok(())
    }

    fn broadcast(&self, buf: &mut Vec<u8>, what: &str) -> Result<()> {
        match self.collective(what, Payload::Bytes(std::mem::take(buf)))? {
            Payload::Bytes(b) => {
                *buf = b;
                Ok(())
            }
            Payload::Sum(_) => Err(self.error(format!("{what}: got a sum, expected bytes"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on every member of a group of `n`, each in its own thread.
    fn on_each<T: Send>(
        n: usize,
        timeout: Duration,
        f: impl Fn(&LocalGroup) -> T + Sync,
    ) -> Vec<T> {
        let members = LocalGroup::new(n, timeout);
        std::thread::scope(|s| {
            let handles: Vec<_> = members.iter().map(|m| s.spawn(|| f(m))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn all_reduce_sums_and_broadcast_takes_rank_0s_bytes() {
        let out = on_each(3, Duration::from_secs(10), |m| {
            let mut a = vec![m.rank() as f32, 1.0];
            m.all_reduce_sum(&mut a, "a").unwrap();
            let mut b = vec![m.rank() as u8; m.rank() + 1];
            m.broadcast(&mut b, "b").unwrap();
            let mut c = [0.5f64];
            m.all_reduce_sum_f64(&mut c, "c").unwrap();
            (a, b, c[0])
        });
        for (a, b, c) in out {
            assert_eq!(a, vec![3.0, 3.0]); // 0 + 1 + 2, 1 + 1 + 1
            assert_eq!(b, vec![0u8]);
            assert_eq!(c, 1.5);
        }
    }

    #[test]
    fn a_missing_member_is_named_after_the_timeout() {
        let out = on_each(2, Duration::from_millis(200), |m| {
            if m.rank() == 1 {
                return None; // rank 1 never joins
            }
            let mut a = vec![1.0f32];
            Some(m.all_reduce_sum(&mut a, "gradients of step 3"))
        });
        let err = out[0].as_ref().unwrap().as_ref().unwrap_err().to_string();
        assert!(err.contains("rank 1 did not join"), "{err}");
        assert!(err.contains("gradients of step 3"), "{err}");
    }

    #[test]
    fn calls_out_of_step_are_an_error() {
        let out = on_each(2, Duration::from_secs(10), |m| {
            let mut a = vec![1.0f32];
            let what = if m.rank() == 0 { "step 1" } else { "step 2" };
            m.all_reduce_sum(&mut a, what)
        });
        let errs: Vec<String> = out
            .iter()
            .map(|r| r.as_ref().unwrap_err().to_string())
            .collect();
        assert!(errs.iter().any(|e| e.contains("out of step")), "{errs:?}");
    }
}
