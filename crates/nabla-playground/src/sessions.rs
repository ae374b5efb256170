//! The sessions a server holds: creation under a cap, lookup, idle expiry, and the trainer
//! task that runs a playing session and publishes its frames.

use crate::config::{Config, Limits};
use crate::frame::render;
use crate::session::Session;
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A session with what the server keeps beside it.
pub struct Handle {
    session: Mutex<Session>,
    /// The latest frame as JSON; every event stream of the session watches it.
    frames: watch::Sender<Arc<str>>,
    last_seen: Mutex<Instant>,
    trainer_running: AtomicBool,
    closed: AtomicBool,
    budget: Mutex<Budget>,
}

/// A session's training budget for `step` requests: examples left in a bucket that refills
/// continuously at `per_minute / 60` a second, up to `per_minute`.
struct Budget {
    left: f64,
    at: Instant,
    per_minute: f64,
}

/// Locks a mutex even if a thread panicked while holding it (the data stays usable: every
/// mutation of a session either completes or returns an error before changing it).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Handle {
    fn new(session: Session, limits: &Limits) -> Result<Handle> {
        let first = frame_json(&session)?;
        let per_minute = limits.session_examples_per_minute as f64;
        Ok(Handle {
            session: Mutex::new(session),
            frames: watch::channel(first).0,
            last_seen: Mutex::new(Instant::now()),
            trainer_running: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            budget: Mutex::new(Budget {
                left: per_minute,
                at: Instant::now(),
                per_minute,
            }),
        })
    }

    /// Takes `examples` training examples from the session's budget
    /// ([`Limits::session_examples_per_minute`]).
    ///
    /// # Errors
    /// [`Error::BudgetSpent`], saying what is left and when the request would fit, when
    /// fewer than `examples` are left (nothing is taken then).
    pub fn spend(&self, examples: usize) -> Result<()> {
        let mut b = lock(&self.budget);
        let now = Instant::now();
        let rate = b.per_minute / 60.0;
        b.left = (b.left + now.duration_since(b.at).as_secs_f64() * rate).min(b.per_minute);
        b.at = now;
        let need = examples as f64;
        if need > b.left {
            return Err(Error::BudgetSpent(format!(
                "epochs: this session's training budget of {} examples per minute has {} left \
                 and the request needs {examples}; try again in {:.0} s or ask for fewer epochs",
                b.per_minute,
                b.left.floor(),
                ((need - b.left) / rate.max(f64::MIN_POSITIVE)).ceil()
            )));
        }
        b.left -= need;
        Ok(())
    }

    /// The session, locked. Hold it only for short synchronous work.
    pub fn lock(&self) -> MutexGuard<'_, Session> {
        lock(&self.session)
    }

    /// A receiver of the frames, whose first `changed()` returns the current frame.
    pub fn subscribe(&self) -> watch::Receiver<Arc<str>> {
        let mut rx = self.frames.subscribe();
        rx.mark_changed();
        rx
    }

    /// Renders the session as it is now and sends the frame to every stream.
    ///
    /// # Errors
    /// Engine errors only.
    pub fn publish(&self, session: &Session) -> Result<()> {
        self.frames.send_replace(frame_json(session)?);
        Ok(())
    }

    fn touch(&self) {
        *lock(&self.last_seen) = Instant::now();
    }

    /// Idle: no request for `idle` and no open event stream.
    fn is_idle(&self, idle: Duration) -> bool {
        self.frames.receiver_count() == 0 && lock(&self.last_seen).elapsed() >= idle
    }

    /// Whether the trainer should stop: the session was paused or removed.
    fn should_stop(&self, s: &Session) -> bool {
        !s.playing || self.closed.load(Ordering::Relaxed)
    }
}

fn frame_json(s: &Session) -> Result<Arc<str>> {
    let frame = render(s)?;
    Ok(serde_json::to_string(&frame)
        .expect("a Frame always serializes")
        .into())
}

/// Every session of a server, and its limits.
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Handle>>>,
    limits: Limits,
    counter: AtomicU64,
}

impl Sessions {
    /// An empty set of sessions under `limits`.
    pub fn new(limits: Limits) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            limits,
            counter: AtomicU64::new(0),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Number of sessions held.
    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A fresh, hard-to-guess session id (16 hex digits).
    fn new_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut rng = nabla::Rng::new(nanos ^ n.wrapping_mul(0xA076_1D64_78BD_642F));
        format!("{:016x}", rng.next_u64())
    }

    /// Creates a session from `cfg` (CPU work: call it off the async threads).
    ///
    /// # Errors
    /// [`Error::TooManySessions`] at the cap (after dropping idle sessions), [`Error::Invalid`]
    /// for a bad configuration.
    pub fn create(&self, cfg: Config) -> Result<Arc<Handle>> {
        self.expire();
        if self.len() >= self.limits.max_sessions {
            return Err(Error::TooManySessions(self.limits.max_sessions));
        }
        let id = self.new_id();
        let handle = Arc::new(Handle::new(
            Session::new(id.clone(), cfg, &self.limits)?,
            &self.limits,
        )?);
        let mut map = lock(&self.map);
        // Checked again under the lock: sessions may have been created meanwhile.
        if map.len() >= self.limits.max_sessions {
            return Err(Error::TooManySessions(self.limits.max_sessions));
        }
        map.insert(id, handle.clone());
        Ok(handle)
    }

    /// The session `id`, marked as seen now.
    ///
    /// # Errors
    /// [`Error::NoSession`].
    pub fn get(&self, id: &str) -> Result<Arc<Handle>> {
        let handle = lock(&self.map)
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NoSession(id.chars().take(64).collect()))?;
        handle.touch();
        Ok(handle)
    }

    /// Removes session `id`; its trainer and event streams stop.
    ///
    /// # Errors
    /// [`Error::NoSession`].
    pub fn remove(&self, id: &str) -> Result<()> {
        let handle = lock(&self.map)
            .remove(id)
            .ok_or_else(|| Error::NoSession(id.chars().take(64).collect()))?;
        handle.closed.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Drops the sessions that have been idle for `limits.idle_secs`; returns how many.
    pub fn expire(&self) -> usize {
        let idle = Duration::from_secs(self.limits.idle_secs);
        let mut map = lock(&self.map);
        let before = map.len();
        map.retain(|_, h| {
            let keep = !h.is_idle(idle);
            if !keep {
                h.closed.store(true, Ordering::Relaxed);
            }
            keep
        });
        before - map.len()
    }

    /// Drops idle sessions every few seconds, for as long as the runtime runs.
    pub async fn expire_forever(self: Arc<Self>) {
        let period = Duration::from_secs(self.limits.idle_secs.clamp(1, 30));
        loop {
            tokio::time::sleep(period).await;
            self.expire();
        }
    }
}

/// Starts the trainer of a playing session unless one runs already. Each round trains
/// `epochs_per_frame` epochs, then renders and publishes a frame; rounds start at most
/// `limits.fps` times a second, and the trainer ends when the session is paused or removed,
/// or pauses it after `limits.unwatched_secs` without a watcher.
pub fn start_trainer(handle: Arc<Handle>, limits: &Limits) {
    if handle.trainer_running.swap(true, Ordering::AcqRel) {
        return;
    }
    let period = Duration::from_secs_f64(1.0 / f64::from(limits.fps.max(1)));
    let unwatched = Duration::from_secs(limits.unwatched_secs);
    let limits = limits.clone();
    tokio::spawn(async move {
        loop {
            let started = Instant::now();
            let h = handle.clone();
            // Training is CPU work: it runs on the blocking pool, not on the async threads.
            let go_on = tokio::task::spawn_blocking(move || {
                let mut s = h.lock();
                if h.should_stop(&s) {
                    return false;
                }
                // A page that went away without pausing: stop spending CPU on it.
                if h.is_idle(unwatched) {
                    s.playing = false;
                    return false;
                }
                let epochs = s.config().epochs_per_frame;
                if s.train_epochs(epochs).is_err() {
                    s.playing = false;
                }
                // A frame nobody watches is not drawn; the next request or stream renders anew.
                if h.frames.receiver_count() > 0 || !s.playing {
                    let _ = h.publish(&s);
                }
                s.playing
            })
            .await
            .unwrap_or(false);
            if !go_on {
                break;
            }
            tokio::time::sleep(period.saturating_sub(started.elapsed())).await;
        }
        handle.trainer_running.store(false, Ordering::Release);
        // A play that arrived while the trainer was stopping would otherwise be lost.
        let restart = {
            let s = handle.lock();
            s.playing && !handle.closed.load(Ordering::Relaxed)
        };
        if restart {
            start_trainer(handle, &limits);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(max_sessions: usize, idle_secs: u64) -> Sessions {
        Sessions::new(Limits {
            max_sessions,
            idle_secs,
            ..Limits::default()
        })
    }

    #[test]
    fn sessions_are_capped_and_removed() -> Result<()> {
        let s = small(2, 600);
        let a = s.create(Config::default())?;
        s.create(Config::default())?;
        assert!(matches!(
            s.create(Config::default()),
            Err(Error::TooManySessions(2))
        ));
        let id = a.lock().state().id.to_string();
        assert_eq!(id.len(), 16);
        s.remove(&id)?;
        assert!(matches!(s.get(&id), Err(Error::NoSession(_))));
        s.create(Config::default())?;
        assert_eq!(s.len(), 2);
        Ok(())
    }

    #[test]
    fn idle_sessions_expire_unless_a_stream_watches() -> Result<()> {
        let s = small(10, 0);
        let watched = s.create(Config::default())?;
        let _rx = watched.subscribe();
        s.create(Config::default())?;
        assert_eq!(s.expire(), 1);
        assert_eq!(s.len(), 1);
        Ok(())
    }
}
