//! Time of one gradient all-reduce between MPI ranks, by size: nabla's `Mpi` communicator
//! (arrival check, then a polled `MPI_Iallreduce`) beside a bare blocking `MPI_Allreduce`
//! and a bare `MPI_Iallreduce` tested in a loop that yields the core between tests.
//!
//! ```sh
//! cargo build --release -p nabla-nn --features mpi --example allreduce
//! mpirun -np 2 target/release/examples/allreduce
//! ```

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use nabla_nn::distributed::{Communicator, Mpi};
use std::time::{Duration, Instant};

/// Mean seconds per call of `f` over `reps` calls, after 10 warm-up calls; every rank
/// starts timing together.
fn time(world: &SimpleCommunicator, reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..10 {
        f();
    }
    world.barrier();
    let started = Instant::now();
    for _ in 0..reps {
        f();
    }
    started.elapsed().as_secs_f64() / reps as f64
}

fn main() -> nabla_nn::Result<()> {
    let comm = Mpi::init(Duration::from_secs(60))?;
    let world = SimpleCommunicator::world();
    if comm.rank() == 0 {
        println!(
            "{} ranks; values (f32), MB, nabla Mpi µs/call, MPI_Allreduce µs/call, MPI_Iallreduce+yield µs/call",
            comm.size()
        );
    }
    // LeNet-5's 61,706 parameters, ResNet-18's 11.7 M, and a 25 MB bucket.
    for (n, reps) in [(61_706usize, 500), (11_689_512, 20), (25 << 18, 10)] {
        let mut buf = vec![1.0f32; n];
        let ours = time(&world, reps, || {
            comm.all_reduce_sum(&mut buf, "benchmark")
                .expect("all-reduce")
        });
        let send = vec![1.0f32; n];
        let plain = time(&world, reps, || {
            world.all_reduce_into(&send[..], &mut buf[..], SystemOperation::sum())
        });
        let polled = time(&world, reps, || {
            mpi::request::scope(|sc| {
                let mut req = world.immediate_all_reduce_into(
                    sc,
                    &send[..],
                    &mut buf[..],
                    SystemOperation::sum(),
                );
                loop {
                    match req.test() {
                        Ok(_) => break,
                        Err(r) => req = r,
                    }
                    std::thread::yield_now();
                }
            })
        });
        if comm.rank() == 0 {
            println!(
                "{n}, {:.1}, {:.0}, {:.0}, {:.0}",
                n as f64 * 4e-6,
                ours * 1e6,
                plain * 1e6,
                polled * 1e6
            );
        }
    }
    Ok(())
}
