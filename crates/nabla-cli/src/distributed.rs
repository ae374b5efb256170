//! `nabla train --distributed mpi`: the MPI job a training run belongs to (with the
//! `distributed` feature), and a fault injector that tests use to make a rank die or hang.

use crate::args::TrainArgs;
use anyhow::{bail, Context, Result};
#[cfg(feature = "distributed")]
use nabla_nn::distributed::Mpi;
use nabla_nn::distributed::{Communicator, DataParallel};
use std::cell::Cell;

/// Environment variable of the fault injector, for tests of failure handling:
/// `RANK:kill:N` makes rank RANK kill itself (SIGKILL) when it reaches its N-th f32
/// all-reduce (gradient buckets, then BatchNorm statistics at the end of an epoch: for a
/// model without BatchNorm and with one bucket, N is the optimizer step), `RANK:hang:N`
/// stops it (SIGSTOP) there instead.
pub const FAULT_ENV: &str = "NABLA_DIST_FAULT";

/// What the fault injector does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FaultKind {
    Kill,
    Hang,
}

/// A planned fault: `kind` on rank `rank` at its `at`-th f32 all-reduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fault {
    rank: usize,
    kind: FaultKind,
    at: usize,
}

impl Fault {
    fn parse(text: &str) -> Result<Fault> {
        let bad =
            || format!("{FAULT_ENV}='{text}': expected RANK:kill:N or RANK:hang:N, e.g. 1:hang:25");
        let parts: Vec<&str> = text.split(':').collect();
        let [rank, kind, at] = parts[..] else {
            bail!(bad());
        };
        let kind = match kind {
            "kill" => FaultKind::Kill,
            "hang" => FaultKind::Hang,
            _ => bail!(bad()),
        };
        Ok(Fault {
            rank: rank.parse().with_context(bad)?,
            kind,
            at: at.parse().with_context(bad)?,
        })
    }

    /// Sends this process the fault's signal (through the shell's `kill`, to need no libc
    /// bindings).
    fn strike(&self) {
        let signal = match self.kind {
            FaultKind::Kill => "KILL",
            FaultKind::Hang => "STOP",
        };
        eprintln!(
            "nabla: {FAULT_ENV}: rank {} sends itself SIG{signal}",
            self.rank
        );
        let _ = std::process::Command::new("sh")
            .args(["-c", "kill -s \"$0\" \"$1\""])
            .args([signal, &std::process::id().to_string()])
            .status();
        // If no signal could be sent, hang all the same.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// This process's place in a data-parallel job: the communicator, with the fault injector
/// in front of it.
pub struct Job {
    #[cfg(feature = "distributed")]
    mpi: Mpi,
    fault: Option<Fault>,
    reduces: Cell<usize>,
}

/// The job of `nabla train --distributed ...`, or `None` without the flag.
///
/// # Errors
/// When the binary was built without the `distributed` feature, the options are out of
/// range, MPI cannot start, or the fault injector's variable is malformed.
pub fn start(args: &TrainArgs) -> Result<Option<Job>> {
    if args.distributed.is_none() {
        return Ok(None);
    }
    if !(args.dist_timeout > 0.0 && args.dist_timeout.is_finite()) {
        bail!(
            "--dist-timeout must be a positive number of seconds, got {}",
            args.dist_timeout
        );
    }
    if !(args.bucket_mb > 0.0 && args.bucket_mb.is_finite()) {
        bail!(
            "--bucket-mb must be a positive number, got {}",
            args.bucket_mb
        );
    }
    let fault = match std::env::var(FAULT_ENV) {
        Ok(text) => Some(Fault::parse(&text)?),
        Err(_) => None,
    };
    connect(args, fault).map(Some)
}

#[cfg(feature = "distributed")]
fn connect(args: &TrainArgs, fault: Option<Fault>) -> Result<Job> {
    let timeout = std::time::Duration::from_secs_f64(args.dist_timeout);
    Ok(Job {
        mpi: Mpi::init(timeout)?,
        fault,
        reduces: Cell::new(0),
    })
}

#[cfg(not(feature = "distributed"))]
fn connect(_args: &TrainArgs, _fault: Option<Fault>) -> Result<Job> {
    bail!(
        "--distributed mpi needs nabla built with MPI: install Open MPI and libclang \
         (apt-get install -y libopenmpi-dev openmpi-bin libclang-dev), then \
         cargo build --release -p nabla-cli --features distributed (see docs/distributed.md)"
    )
}

impl Job {
    /// The Trainer's side of the job.
    pub fn data_parallel(&self, args: &TrainArgs) -> DataParallel<'_> {
        DataParallel::new(self).bucket_bytes((args.bucket_mb * (1 << 20) as f64) as usize)
    }

    /// Prints `err` naming this rank and ends every rank of the job (exit status non-zero),
    /// instead of leaving the others waiting in a collective call.
    pub fn fail(&self, err: anyhow::Error) -> ! {
        eprintln!("error on rank {} of {}: {err:#}", self.rank(), self.size());
        self.end(1)
    }

    #[cfg(feature = "distributed")]
    fn end(&self, code: i32) -> ! {
        self.mpi.abort(code)
    }

    #[cfg(not(feature = "distributed"))]
    fn end(&self, code: i32) -> ! {
        std::process::exit(code)
    }

    /// One line on the time spent in collective calls on this rank.
    #[cfg(feature = "distributed")]
    pub fn timing_summary(&self) -> String {
        let t = self.mpi.timing();
        let per = |s: f64| 1e3 * s / t.calls.max(1) as f64;
        format!(
            "MPI: {} collective calls on rank 0; per call {:.3} ms waiting for the other ranks, {:.3} ms transfer",
            t.calls,
            per(t.waiting_secs),
            per(t.transfer_secs)
        )
    }

    #[cfg(not(feature = "distributed"))]
    pub fn timing_summary(&self) -> String {
        String::new()
    }

    /// The communicator all calls go through.
    fn inner(&self) -> &dyn Communicator {
        #[cfg(feature = "distributed")]
        return &self.mpi;
        #[cfg(not(feature = "distributed"))]
        unreachable!("a Job exists only in builds with the distributed feature")
    }
}

impl Communicator for Job {
    fn rank(&self) -> usize {
        self.inner().rank()
    }

    fn size(&self) -> usize {
        self.inner().size()
    }

    fn all_reduce_sum(&self, buf: &mut [f32], what: &str) -> nabla_nn::Result<()> {
        let n = self.reduces.get() + 1;
        self.reduces.set(n);
        if let Some(f) = self.fault.filter(|f| f.rank == self.rank() && f.at == n) {
            f.strike();
        }
        self.inner().all_reduce_sum(buf, what)
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64], what: &str) -> nabla_nn::Result<()> {
        self.inner().all_reduce_sum_f64(buf, what)
    }

    fn broadcast(&self, buf: &mut Vec<u8>, what: &str) -> nabla_nn::Result<()> {
        self.inner().broadcast(buf, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_bad_ones_say_the_format() {
        assert_eq!(
            Fault::parse("1:hang:25").unwrap(),
            Fault {
                rank: 1,
                kind: FaultKind::Hang,
                at: 25
            }
        );
        assert_eq!(Fault::parse("0:kill:3").unwrap().kind, FaultKind::Kill);
        for bad in ["", "1:hang", "x:kill:3", "1:explode:3", "1:kill:-2"] {
            let msg = format!("{:#}", Fault::parse(bad).unwrap_err());
            assert!(msg.contains("RANK:kill:N"), "{bad}: {msg}");
        }
    }
}
