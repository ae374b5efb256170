//! The learning curve of a run: episode returns against environment steps, their running
//! mean, `metrics.csv` lines and `returns.png`.

use crate::{Error, Result};
use plotters::prelude::*;
use std::collections::VecDeque;
use std::path::Path;

/// Episodes seen so far: `(step at its end, return)`, and the mean of the last `window`.
#[derive(Clone, Debug)]
pub struct ReturnCurve {
    /// `(environment step at the episode's end, return)` of every episode.
    pub episodes: Vec<(usize, f64)>,
    recent: VecDeque<f64>,
    window: usize,
}

/// The header of `metrics.csv`.
pub const CSV_HEADER: &str = "episode,step,return,mean_return_100";

impl ReturnCurve {
    /// An empty curve whose running mean covers the last `window` episodes.
    pub fn new(window: usize) -> Self {
        ReturnCurve {
            episodes: Vec::new(),
            recent: VecDeque::new(),
            window: window.max(1),
        }
    }

    /// Records an episode; returns its `metrics.csv` line.
    pub fn push(&mut self, step: usize, episode_return: f64) -> String {
        self.episodes.push((step, episode_return));
        self.recent.push_back(episode_return);
        if self.recent.len() > self.window {
            self.recent.pop_front();
        }
        format!(
            "{},{step},{episode_return},{:.4}",
            self.episodes.len(),
            self.recent_mean().unwrap_or(f64::NAN)
        )
    }

    /// The mean return of the last `window` episodes (`None` before the first).
    pub fn recent_mean(&self) -> Option<f64> {
        if self.recent.is_empty() {
            None
        } else {
            Some(self.recent.iter().sum::<f64>() / self.recent.len() as f64)
        }
    }

    /// Draws the returns (dots) and their running mean (line) against the step into a PNG.
    ///
    /// # Errors
    /// [`Error::Plot`] when the file cannot be written.
    pub fn write_png(&self, path: &Path, title: &str) -> Result<()> {
        nabla_nn::trainer::register_plot_font();
        self.draw(path, title).map_err(|msg| Error::Plot {
            path: path.display().to_string(),
            msg,
        })
    }

    fn draw(&self, path: &Path, title: &str) -> std::result::Result<(), String> {
        let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let last_step = self.episodes.last().map_or(1, |e| e.0).max(1) as f64;
        let (lo, hi) = self
            .episodes
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), e| {
                (lo.min(e.1), hi.max(e.1))
            });
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo, hi)
        } else if lo.is_finite() {
            (lo - 1.0, lo + 1.0)
        } else {
            (0.0, 1.0)
        };
        let pad = (hi - lo) * 0.05;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..last_step, (lo - pad)..(hi + pad))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("environment steps")
            .y_desc("episode return")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        let dots = self
            .episodes
            .iter()
            .map(|&(s, r)| Circle::new((s as f64, r), 1, BLUE.mix(0.3).filled()));
        chart.draw_series(dots).map_err(|e| e.to_string())?;
        let mut window = VecDeque::new();
        let mean: Vec<(f64, f64)> = self
            .episodes
            .iter()
            .map(|&(s, r)| {
                window.push_back(r);
                if window.len() > self.window {
                    window.pop_front();
                }
                (s as f64, window.iter().sum::<f64>() / window.len() as f64)
            })
            .collect();
        chart
            .draw_series(LineSeries::new(mean, RED.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(format!("mean of the last {} episodes", self.window))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_curve_keeps_a_running_mean_of_its_window() {
        let mut c = ReturnCurve::new(2);
        assert_eq!(c.recent_mean(), None);
        assert_eq!(c.push(10, 1.0), "1,10,1,1.0000");
        c.push(20, 3.0);
        assert_eq!(c.push(30, 5.0), "3,30,5,4.0000");
        let dir = std::env::temp_dir().join(format!("nabla-rl-curve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("returns.png");
        c.write_png(&png, "test").unwrap();
        assert!(std::fs::metadata(&png).unwrap().len() > 1000);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
