//! `Mpi`: the communicator over MPI's world (Open MPI through the `mpi` crate), with a
//! timeout that ends the job naming a dead or hung rank instead of waiting forever.

use super::Communicator;
use crate::{Error, Result};
use mpi::collective::SystemOperation;
use mpi::datatype::Equivalence;
use mpi::environment::Universe;
use mpi::request::{scope, Request, Scope};
use mpi::topology::Communicator as _;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

/// Tag of the arrival messages that precede each collective call.
const ARRIVAL_TAG: i32 = 0x4E42;

/// Exit code of a job ended by the timeout or by ranks out of step.
const ABORT_CODE: i32 = 3;

/// Seconds spent in collective calls on this rank, split into waiting for the other ranks
/// to arrive (their compute is slower, or they are gone) and the transfer itself.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MpiTiming {
    /// Collective calls made.
    pub calls: u64,
    /// Waiting for every rank to reach the call.
    pub waiting_secs: f64,
    /// The reduction or broadcast once all had arrived.
    pub transfer_secs: f64,
}

/// MPI's world communicator. Create one per process with [`Mpi::init`], before any other
/// thread could call MPI; MPI is finalized when it is dropped.
///
/// Before each collective, every rank sends its call number to every other rank and waits
/// for theirs (N − 1 messages of 8 bytes per rank), testing the receives with `MPI_Test`
/// until a deadline. A rank that has not arrived within the timeout is named on stderr and
/// the whole job is ended with `MPI_Abort`, the only way out of MPI calls that cannot
/// complete. Once all have arrived, the transfer is a non-blocking `MPI_Iallreduce` or
/// `MPI_Ibcast` tested in a loop that yields the core between tests, until the same
/// deadline: measured by `examples/allreduce.rs` on this shared 2-core machine, as fast as
/// a blocking `MPI_Allreduce` for 0.25 MB and 1.2–3× faster for 26–47 MB (a blocking call
/// spins, and loses its time slice to the ranks it waits for). A rank that dies outright is
/// noticed by `mpirun` itself, which ends the job naming it.
pub struct Mpi {
    world: SimpleCommunicator,
    // Dropped after `world`: finalizes MPI.
    _universe: Universe,
    timeout: Duration,
    calls: Cell<u64>,
    timing: Cell<MpiTiming>,
    // Send buffers kept between calls: a fresh 25 MB vector each call costs page faults.
    send_f32: RefCell<Vec<f32>>,
    send_f64: RefCell<Vec<f64>>,
}

/// Element types `Mpi` reduces, each with its kept send buffer.
trait Reducible: Equivalence + Copy {
    fn send_buffer(mpi: &Mpi) -> &RefCell<Vec<Self>>;
}

impl Reducible for f32 {
    fn send_buffer(mpi: &Mpi) -> &RefCell<Vec<f32>> {
        &mpi.send_f32
    }
}

impl Reducible for f64 {
    fn send_buffer(mpi: &Mpi) -> &RefCell<Vec<f64>> {
        &mpi.send_f64
    }
}

impl Mpi {
    /// Initializes MPI (single-threaded: only the calling thread may use it). `timeout` is how
    /// long a collective waits for the other ranks before ending the job.
    ///
    /// # Errors
    /// [`Error::Distributed`] when MPI was initialized already in this process.
    pub fn init(timeout: Duration) -> Result<Mpi> {
        let universe = mpi::initialize().ok_or_else(|| Error::Distributed {
            rank: 0,
            msg: "MPI is initialized already in this process".into(),
        })?;
        Ok(Mpi {
            world: universe.world(),
            _universe: universe,
            timeout,
            calls: Cell::new(0),
            timing: Cell::new(MpiTiming::default()),
            send_f32: RefCell::new(Vec::new()),
            send_f64: RefCell::new(Vec::new()),
        })
    }

    /// Time spent in collective calls so far.
    pub fn timing(&self) -> MpiTiming {
        self.timing.get()
    }

    /// Ends every rank of the job with exit code `code` (`MPI_Abort`).
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    /// Prints `msg` naming this rank and ends the job.
    fn fail(&self, msg: &str) -> ! {
        eprintln!(
            "nabla: rank {} of {}: {msg}; ending the job",
            self.world.rank(),
            self.world.size()
        );
        self.abort(ABORT_CODE)
    }

    fn record(&self, waiting: f64, transfer: f64) {
        let mut t = self.timing.get();
        t.calls += 1;
        t.waiting_secs += waiting;
        t.transfer_secs += transfer;
        self.timing.set(t);
    }

    /// Exchanges call numbers with every other rank; ends the job when one does not arrive
    /// within the timeout or arrives at another call.
    fn arrive(&self, what: &str) {
        let call = self.calls.get() + 1;
        self.calls.set(call);
        let me = self.world.rank() as usize;
        let mine = [call];
        let mut theirs = vec![[0u64]; self.world.size() as usize];
        let deadline = Instant::now() + self.timeout;
        scope(|sc| {
            let mut sends = Vec::new();
            let mut recvs = Vec::new();
            for (peer, slot) in theirs.iter_mut().enumerate().filter(|(p, _)| *p != me) {
                let process = self.world.process_at_rank(peer as i32);
                sends.push((
                    peer,
                    process.immediate_send_with_tag(sc, &mine[..], ARRIVAL_TAG),
                ));
                recvs.push((
                    peer,
                    process.immediate_receive_into_with_tag(sc, &mut slot[..], ARRIVAL_TAG),
                ));
            }
            let missing = wait_until(recvs, deadline, Polling::Gentle);
            if !missing.is_empty() {
                let names: Vec<String> = missing.iter().map(|r| format!("rank {r}")).collect();
                self.fail(&format!(
                    "{} did not reach {what} within {} s (it died or hangs)",
                    names.join(", "),
                    self.timeout.as_secs_f64()
                ));
            }
            if !wait_until(sends, deadline, Polling::Busy).is_empty() {
                self.fail(&format!("{what}: arrival messages were not delivered"));
            }
        });
        for (peer, [their_call]) in theirs.iter().enumerate() {
            if peer != me && *their_call != call {
                self.fail(&format!(
                    "ranks out of step at {what}: this rank is at collective call {call}, rank {peer} at {their_call}"
                ));
            }
        }
    }

    /// Sum over ranks of `buf`, in place.
    fn reduce<T: Reducible>(&self, buf: &mut [T], what: &str) {
        let started = Instant::now();
        self.arrive(what);
        let arrived = Instant::now();
        let mut send = T::send_buffer(self).borrow_mut();
        send.clear();
        send.extend_from_slice(buf);
        scope(|sc| {
            let req =
                self.world
                    .immediate_all_reduce_into(sc, &send[..], buf, SystemOperation::sum());
            self.finish(req, &format!("the all-reduce of {what}"));
        });
        self.record(
            (arrived - started).as_secs_f64(),
            arrived.elapsed().as_secs_f64(),
        );
    }

    /// Rank 0's `buf` on every rank.
    fn bcast<T: Equivalence>(&self, buf: &mut [T], what: &str) {
        let root = self.world.process_at_rank(0);
        scope(|sc| {
            let req = root.immediate_broadcast_into(sc, buf);
            self.finish(req, &format!("the broadcast of {what}"));
        });
    }

    /// Waits for a transfer that every rank has joined; ends the job if it outlasts the
    /// timeout (a rank stopped during it).
    fn finish<'a, D: ?Sized, S: Scope<'a>>(&self, req: Request<'a, D, S>, what: &str) {
        let deadline = Instant::now() + self.timeout;
        if !wait_until(vec![(0, req)], deadline, Polling::Busy).is_empty() {
            self.fail(&format!(
                "{what} did not finish within {} s after every rank had arrived (a rank died or hangs)",
                self.timeout.as_secs_f64()
            ));
        }
    }
}

/// How to wait between tests of pending requests.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Polling {
    /// Yield the core but test again at once: a transfer progresses only inside
    /// `MPI_Test`.
    Busy,
    /// Waiting for other ranks to arrive (they compute, or write a checkpoint): spin for
    /// 2 ms, then test every 100 µs, leaving the cores to the ranks being waited for.
    Gentle,
}

/// Tests `pending` requests (each with a peer rank) until all have completed or `deadline`
/// passes; returns the peers still pending then. Those requests are leaked: the caller must
/// end the job before their scope closes.
fn wait_until<'a, D: ?Sized, S: Scope<'a>>(
    mut pending: Vec<(usize, Request<'a, D, S>)>,
    deadline: Instant,
    polling: Polling,
) -> Vec<usize> {
    let started = Instant::now();
    loop {
        pending = pending
            .into_iter()
            .filter_map(|(peer, req)| req.test().err().map(|req| (peer, req)))
            .collect();
        if pending.is_empty() {
            return Vec::new();
        }
        if Instant::now() >= deadline {
            let missing = pending.iter().map(|(peer, _)| *peer).collect();
            std::mem::forget(pending);
            return missing;
        }
        if polling == Polling::Busy || started.elapsed() < Duration::from_millis(2) {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

impl Communicator for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum(&self, buf: &mut [f32], what: &str) -> Result<()> {
        self.reduce(buf, what);
        Ok(())
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64], what: &str) -> Result<()> {
        self.reduce(buf, what);
        Ok(())
    }

    fn broadcast(&self, buf: &mut Vec<u8>, what: &str) -> Result<()> {
        let started = Instant::now();
        self.arrive(what);
        let arrived = Instant::now();
        let mut len = [buf.len() as u64];
        self.bcast(&mut len[..], what);
        buf.resize(len[0] as usize, 0);
        self.bcast(&mut buf[..], what);
        self.record(
            (arrived - started).as_secs_f64(),
            arrived.elapsed().as_secs_f64(),
        );
        Ok(())
    }
}
