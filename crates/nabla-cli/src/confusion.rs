//! Confusion matrices: counting, text and PNG.

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// Counts of (true class, predicted class) pairs.
pub struct ConfusionMatrix {
    n: usize,
    counts: Vec<usize>,
}

impl ConfusionMatrix {
    /// An empty matrix for `n` classes.
    pub fn new(n: usize) -> Self {
        ConfusionMatrix {
            n,
            counts: vec![0; n * n],
        }
    }
    /// Records one prediction (ignored when out of range).
    pub fn add(&mut self, truth: usize, predicted: usize) {
        if truth < self.n && predicted < self.n {
            self.counts[truth * self.n + predicted] += 1;
        }
    }
    /// Examples of class `c`.
    pub fn row_total(&self, c: usize) -> usize {
        self.counts[c * self.n..(c + 1) * self.n].iter().sum()
    }
    /// Recall of each class, `None` for classes without examples.
    pub fn per_class_accuracy(&self) -> Vec<Option<f64>> {
        (0..self.n)
            .map(|c| {
                (self.row_total(c) > 0)
                    .then(|| self.counts[c * self.n + c] as f64 / self.row_total(c) as f64)
            })
            .collect()
    }
    /// A printable table.
    pub fn to_text(&self, names: &[String]) -> String {
        let w = self
            .counts
            .iter()
            .max()
            .map_or(1, |m| m.to_string().len())
            .max(names.iter().map(|s| s.len().min(8)).max().unwrap_or(1))
            .max(3);
        let mut s = format!("{:>w$} ", "");
        for name in names {
            s += &format!("{:>w$} ", &name[..name.len().min(8)]);
        }
        s.push('\n');
        for r in 0..self.n {
            s += &format!("{:>w$} ", &names[r][..names[r].len().min(8)]);
            for c in 0..self.n {
                s += &format!("{:>w$} ", self.counts[r * self.n + c]);
            }
            s.push('\n');
        }
        s
    }
}

/// Draws the matrix as a heat map (rows normalized to 1), with counts in the cells when there
/// are at most 20 classes.
pub fn draw_confusion(path: &Path, cm: &ConfusionMatrix, names: &[String]) -> Result<()> {
    nabla_nn::trainer::register_plot_font();
    let n = cm.n;
    let side = (60 * n).clamp(400, 1200) as u32;
    let root = BitMapBackend::new(path, (side + 80, side + 80)).into_drawing_area();
    root.fill(&WHITE)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "confusion matrix (rows: true, columns: predicted)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0..n, 0..n)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let label = |i: &usize| names.get(*i).cloned().unwrap_or_default();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(n.min(20))
        .y_labels(n.min(20))
        .x_label_formatter(&label)
        // plotters may ask for the label at n (the axis end), past the last row.
        .y_label_formatter(&|i| n.checked_sub(1 + i).map(|r| label(&r)).unwrap_or_default())
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    for r in 0..n {
        let total = cm.row_total(r).max(1) as f64;
        for c in 0..n {
            let count = cm.counts[r * n + c];
            let v = count as f64 / total;
            let shade = (255.0 * (1.0 - v)) as u8;
            let y = n - 1 - r;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(c, y), (c + 1, y + 1)],
                    RGBColor(shade, shade, 255).filled(),
                )))
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            if n <= 20 {
                let color = if v > 0.5 { WHITE } else { BLACK };
                chart
                    .draw_series(std::iter::once(Text::new(
                        count.to_string(),
                        (c, y + 1),
                        ("sans-serif", 12).into_font().color(&color),
                    )))
                    .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            }
        }
    }
    root.present()
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_counts_and_recall() {
        let mut cm = ConfusionMatrix::new(3);
        for (t, p) in [(0, 0), (0, 1), (1, 1), (2, 2), (2, 2), (2, 0)] {
            cm.add(t, p);
        }
        assert_eq!(
            cm.per_class_accuracy(),
            vec![Some(0.5), Some(1.0), Some(2.0 / 3.0)]
        );
        let text = cm.to_text(&["a".into(), "b".into(), "c".into()]);
        assert!(
            text.lines()
                .nth(3)
                .unwrap()
                .trim_start()
                .starts_with("c   1   0   2"),
            "{text}"
        );
    }
}
