//! The thread pool nabla's kernels run on.

use crate::{Error, Result};

/// Sets the number of threads of the pool every kernel uses (rayon's global pool).
///
/// Call it once, before the first tensor op; later calls fail because the pool already
/// exists.
///
/// # Errors
/// [`Error::OutOfRange`] when `n` is 0; [`Error::InvalidArgument`] when the pool was
/// already started.
pub fn set_num_threads(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::out_of_range(
            "set_num_threads",
            "the thread count",
            "at least 1",
            0,
        ));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| {
            Error::invalid(
                "set_num_threads",
                format!(
                    "{e} (the pool has {} threads; set it before any tensor op)",
                    rayon::current_num_threads()
                ),
            )
        })
}

/// The number of threads kernels use.
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}

/// Runs `f` with the pool's other threads waiting for work by spinning instead of sleeping,
/// and returns its result: rayon's counterpart of OpenMP's active wait, which PyTorch's
/// threads use by default.
///
/// A rayon thread that finds no work sleeps after some 30 rounds of `yield` (tens of
/// microseconds), and the next kernel's work then waits for it to wake up, or runs on
/// fewer threads. A forward pass of one image is a chain of short kernels with serial work
/// between them (ResNet-18: about 50 parallel regions in 14 ms), so its threads fall asleep
/// between kernels. Here one task per other thread takes and runs work as soon as it is
/// queued, until `f` returns (or unwinds). With 2 threads, `nabla bench --only
/// latency_resnet18`, alternating rounds: medians 17.3 → 16.5 and 16.2 → 15.7 ms
/// on 2 cores. The spinning threads keep their cores busy meanwhile: use it for latency-
/// bound work (a serving loop), not while other work needs the cores.
pub fn keep_awake<R>(f: impl FnOnce() -> R) -> R {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    keep_awake_until(f, &stop)
}

/// [`keep_awake`] with the flag that stops the spinning tasks given (set when `f` returns
/// or unwinds); each task holds a clone of it until it stops.
fn keep_awake_until<R>(
    f: impl FnOnce() -> R,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> R {
    use std::sync::atomic::Ordering;
    /// Sets the flag when dropped: after `f`, also when it panics.
    struct Stop<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    let _stop = Stop(stop);
    let threads = rayon::current_num_threads();
    if threads < 2 {
        return f();
    }
    // From a pool thread, the others spin; from outside, all of them.
    let caller = rayon::current_thread_index();
    let tasks = if caller.is_some() {
        threads - 1
    } else {
        threads
    };
    for _ in 0..tasks {
        let stop = stop.clone();
        rayon::spawn(move || {
            // A task that the caller's own thread picks up (while `f` waits for a job
            // inside) returns at once: spinning there would never let `f` go on.
            if rayon::current_thread_index() == caller {
                return;
            }
            while !stop.load(Ordering::Acquire) {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::hint::spin_loop();
                }
            }
        });
    }
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Waits (up to 10 s) until every spinning task has dropped its clone of `stop`.
    fn assert_tasks_stop(stop: &Arc<AtomicBool>) {
        let t = Instant::now();
        while Arc::strong_count(stop) > 1 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "a task kept spinning"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(stop.load(Ordering::Acquire));
    }

    /// On pools of 1 to 3 threads, called from a pool thread and from outside: the parallel
    /// work inside runs to the right result, nested calls return, the tasks stop after `f`,
    /// also when it panics, and the pool runs work normally afterwards.
    #[test]
    fn keep_awake_runs_the_work_and_stops_its_tasks() {
        let sum = || (0..100_000u64).into_par_iter().map(|i| i % 7).sum::<u64>();
        let want: u64 = (0..100_000u64).map(|i| i % 7).sum();
        for threads in [1, 2, 3] {
            let pool = crate::testing::pool(threads);
            let stop = Arc::new(AtomicBool::new(false));
            let got =
                pool.install(|| keep_awake_until(|| (0..20).map(|_| sum()).sum::<u64>(), &stop));
            assert_eq!(got, 20 * want);
            assert_tasks_stop(&stop);
            let nested = pool.install(|| keep_awake(|| keep_awake(sum) + sum()));
            assert_eq!(nested, 2 * want);
            // From outside the pool: `spawn` and the kernels go to the global pool.
            let stop = Arc::new(AtomicBool::new(false));
            assert_eq!(keep_awake_until(sum, &stop), want);
            assert_tasks_stop(&stop);
            let stop = Arc::new(AtomicBool::new(false));
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.install(|| keep_awake_until(|| -> u64 { panic!("inside") }, &stop))
            }));
            assert!(caught.is_err());
            assert_tasks_stop(&stop);
            assert_eq!(pool.install(sum), want);
        }
    }
}
