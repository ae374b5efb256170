//! The per-epoch progress bar: epoch, running loss and accuracy, samples/s, ETA.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

/// A progress bar over one epoch's batches (drawn on stderr only when it is a terminal).
pub struct EpochProgress {
    bar: Option<ProgressBar>,
    start: Instant,
    samples: usize,
}

impl EpochProgress {
    /// Starts the bar for `epoch` of `epochs` with `batches` steps; `show = false` draws nothing.
    pub fn new(epoch: usize, epochs: usize, batches: usize, show: bool) -> Self {
        let bar = show.then(|| {
            let bar = ProgressBar::new(batches as u64);
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30.cyan/blue}] {pos}/{len} {msg} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("=> "));
            bar.set_prefix(format!("epoch {epoch}/{epochs}"));
            bar
        });
        EpochProgress {
            bar,
            start: Instant::now(),
            samples: 0,
        }
    }

    /// Advances one batch of `n` samples, showing the running loss and accuracy.
    pub fn step(&mut self, n: usize, loss: f64, acc: Option<f64>) {
        self.samples += n;
        if let Some(bar) = &self.bar {
            let rate = self.samples as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
            let acc = acc.map_or(String::new(), |a| format!(" acc {:.2}%", 100.0 * a));
            bar.set_message(format!("loss {loss:.4}{acc} {rate:.0} samples/s"));
            bar.inc(1);
        }
    }

    /// Removes the bar.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
