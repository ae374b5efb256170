//! `curves.png`: training and validation loss and accuracy against the epoch (or any named
//! series side by side, [`write_panels`]).

use super::metrics::EpochRecord;
use crate::{Error, Result};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Makes the bundled DejaVu Sans the "sans-serif" font of plotters (idempotent); every
/// plot of nabla draws text with it, so no system font is needed.
pub fn register_font() {
    REGISTER.call_once(|| {
        // The bundled font is valid; registration can only fail on a corrupt byte array.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

type Series = (&'static str, RGBColor, Vec<(f64, f64)>);

/// A series with an owned name.
type OwnedSeries = (String, RGBColor, Vec<(f64, f64)>);

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    series: &[Series],
    epochs: f64,
) -> std::result::Result<(), String> {
    let owned: Vec<OwnedSeries> = series
        .iter()
        .map(|(name, c, pts)| (name.to_string(), *c, pts.clone()))
        .collect();
    panel_owned(area, title, &owned, epochs)
}

fn panel_owned<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    series: &[OwnedSeries],
    epochs: f64,
) -> std::result::Result<(), String> {
    let points = series.iter().flat_map(|s| s.2.iter().map(|p| p.1));
    let (lo, hi) = points.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else if lo.is_finite() {
        (lo - 0.5, lo + 0.5) // one point or a flat line
    } else {
        (0.0, 1.0) // no data
    };
    let pad = (hi - lo) * 0.05;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(1f64..epochs.max(2.0), (lo - pad)..(hi + pad))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    for (name, color, pts) in series.iter().filter(|s| !s.2.is_empty()) {
        let color = *color;
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Draws loss (left) and accuracy (right, when classifying) per epoch into a PNG.
///
/// # Errors
/// When the file cannot be written.
pub fn write_curves(path: &Path, history: &[EpochRecord]) -> Result<()> {
    register_font();
    let pick = |f: fn(&EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        history
            .iter()
            .filter_map(|r| f(r).map(|v| (r.epoch as f64, v)))
            .collect()
    };
    let loss = [
        ("train loss", BLUE, pick(|r| Some(r.train_loss))),
        ("validation loss", RED, pick(|r| r.val_loss)),
    ];
    let acc = [
        ("train accuracy", BLUE, pick(|r| r.train_acc)),
        ("validation accuracy", RED, pick(|r| r.val_acc)),
    ];
    let epochs = history.last().map_or(1.0, |r| r.epoch as f64);
    let tmp = path.with_extension("tmp.png");
    {
        let root = BitMapBackend::new(&tmp, (1200, 450)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
        let halves = root.split_evenly((1, 2));
        panel(&halves[0], "loss", &loss, epochs).map_err(|e| plot_err(path, e))?;
        if acc.iter().any(|s| !s.2.is_empty()) {
            panel(&halves[1], "accuracy", &acc, epochs).map_err(|e| plot_err(path, e))?;
        }
        root.present().map_err(|e| plot_err(path, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e,
    })
}

/// One named curve of [`write_panels`]: `(epoch, value)` points.
pub type Curve<'a> = (&'a str, Vec<(f64, f64)>);

/// Draws panels side by side, each `(title, curves)` against the epoch, into a PNG of 600 × 450
/// pixels per panel (a GAN's two losses beside its `D(x)` and `D(G(z))`, say). Curves take
/// blue, red, green, black in order.
///
/// # Errors
/// When the file cannot be written.
pub fn write_panels(path: &Path, panels: &[(&str, Vec<Curve<'_>>)]) -> Result<()> {
    register_font();
    const COLORS: [RGBColor; 4] = [BLUE, RED, GREEN, BLACK];
    let epochs = panels
        .iter()
        .flat_map(|p| p.1.iter().flat_map(|c| c.1.iter().map(|pt| pt.0)))
        .fold(1.0, f64::max);
    let tmp = path.with_extension("tmp.png");
    {
        let width = 600 * panels.len().max(1) as u32;
        let root = BitMapBackend::new(&tmp, (width, 450)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for ((title, curves), area) in panels.iter().zip(&areas) {
            let owned: Vec<OwnedSeries> = curves
                .iter()
                .zip(COLORS.iter().cycle())
                .map(|((name, pts), c)| (name.to_string(), *c, pts.clone()))
                .collect();
            panel_owned(area, title, &owned, epochs).map_err(|e| plot_err(path, e))?;
        }
        root.present().map_err(|e| plot_err(path, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e,
    })
}
