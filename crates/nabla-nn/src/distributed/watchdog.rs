//! `Watchdog`: a thread that ends the process when a blocking call takes longer than a
//! timeout (an MPI transfer whose peer stopped can never return by itself).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

struct State {
    /// Milliseconds since `base` + 1 when the watched call began; 0 when none is running.
    since_ms: AtomicU64,
    /// What the watched call is, for the message.
    what: Mutex<String>,
    stop: AtomicBool,
    base: Instant,
}

/// Watches one call at a time: between [`Watchdog::start`] and [`Watchdog::stop`], if more
/// than the timeout passes, calls `on_expire` with the call's name (from the watchdog's
/// thread; for MPI it prints and aborts the process, which makes `mpirun` end the job).
pub struct Watchdog {
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// A watchdog with its thread; `on_expire` runs at most once.
    pub fn new(timeout: Duration, on_expire: impl FnOnce(&str) + Send + 'static) -> Self {
        let state = Arc::new(State {
            since_ms: AtomicU64::new(0),
            what: Mutex::new(String::new()),
            stop: AtomicBool::new(false),
            base: Instant::now(),
        });
        let watched = state.clone();
        let tick = (timeout / 20).clamp(Duration::from_millis(1), Duration::from_millis(200));
        let limit_ms = timeout.as_millis() as u64;
        let thread = std::thread::Builder::new()
            .name("nabla-watchdog".into())
            .spawn(move || {
                while !watched.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    let since = watched.since_ms.load(Ordering::Relaxed);
                    let now = watched.base.elapsed().as_millis() as u64 + 1;
                    if since != 0 && now.saturating_sub(since) > limit_ms {
                        let what = watched.what.lock().unwrap_or_else(|e| e.into_inner());
                        on_expire(&what);
                        return;
                    }
                }
            })
            .ok();
        Watchdog { state, thread }
    }

    /// The watched call `what` begins.
    pub fn start(&self, what: &str) {
        let mut name = self.state.what.lock().unwrap_or_else(|e| e.into_inner());
        name.clear();
        name.push_str(what);
        let now = self.state.base.elapsed().as_millis() as u64 + 1;
        self.state.since_ms.store(now, Ordering::Relaxed);
    }

    /// The watched call has returned.
    pub fn stop(&self) {
        self.state.since_ms.store(0, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_call_past_the_timeout_is_reported_once_and_quick_ones_are_not() {
        let (tx, rx) = mpsc::channel();
        let dog = Watchdog::new(Duration::from_millis(50), move |what| {
            tx.send(what.to_string()).unwrap();
        });
        dog.start("quick");
        dog.stop();
        std::thread::sleep(Duration::from_millis(120));
        assert!(rx.try_recv().is_err(), "a finished call was reported");
        dog.start("the all-reduce of step 7");
        let what = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(what, "the all-reduce of step 7");
    }
}
