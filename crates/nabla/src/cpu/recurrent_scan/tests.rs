//! The scan's loops split over ranges of batch rows and compiled for each instruction set
//! give the results of one range on the baseline.

use super::{scan_backward, scan_forward, ScanSaved};
use crate::ops::recurrent_scan::{Dims, ScanCell};

/// Splitting the batch across threads changes nothing but the order of the weight
/// gradient's sums.
#[test]
fn the_batch_split_gives_the_unsplit_results() {
    let mut rng = crate::Rng::new(5);
    let mut r = |n: usize| -> Vec<f64> { (0..n).map(|_| rng.next_f64() - 0.5).collect() };
    let (steps, batch, hidden) = (4, 21, 3);
    let (whole, split) = ([(0, batch)], [(0, 8), (8, 13), (13, batch)]);
    let lengths: Vec<usize> = (0..batch).map(|b| 1 + b % steps).collect();
    for cell in [
        ScanCell::Lstm,
        ScanCell::Gru,
        ScanCell::Tanh,
        ScanCell::Relu,
    ] {
        let d = Dims {
            cell,
            steps,
            batch,
            hidden,
            reverse: matches!(cell, ScanCell::Gru | ScanCell::Relu),
            prec: crate::autocast::Precision::Full,
        };
        let gh = d.gates_hidden();
        let (xg, w, b, h0, c0) = (
            r(steps * batch * gh),
            r(gh * hidden),
            r(gh),
            r(batch * hidden),
            r(batch * hidden),
        );
        let b = (cell == ScanCell::Gru).then_some(&b[..]);
        let c0 = (cell == ScanCell::Lstm).then_some(&c0[..]);
        let l = Some(&lengths[..]);
        let one = scan_forward(&d, &whole, &xg, &w, b, &h0, c0, l);
        let parts = scan_forward(&d, &split, &xg, &w, b, &h0, c0, l);
        let close = |a: &[f64], b: &[f64], what: &str| {
            assert_eq!(a.len(), b.len(), "{cell:?} {what}");
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-12, "{cell:?} {what}: {x} vs {y}");
            }
        };
        close(&one.0, &parts.0, "y");
        let g = r(one.0.len());
        let saved = ScanSaved {
            w: &w,
            h0: &h0,
            c0,
            y: &one.0,
            saved: &one.1,
            g: &g,
            lengths: l,
        };
        let a = scan_backward(&d, &whole, &saved);
        let s = scan_backward(&d, &split, &saved);
        close(&a.dxg, &s.dxg, "dxg");
        close(&a.dw, &s.dw, "dw");
        close(&a.dh0, &s.dh0, "dh0");
        close(
            a.dc0.as_deref().unwrap_or(&[]),
            s.dc0.as_deref().unwrap_or(&[]),
            "dc0",
        );
        close(
            a.db.as_deref().unwrap_or(&[]),
            s.db.as_deref().unwrap_or(&[]),
            "db",
        );
    }
}

/// The gate loops give the same results compiled for every instruction set (the
/// variant a CPU runs is chosen at run time; this one may differ from CI's).
#[test]
fn every_simd_variant_gives_the_same_scan() {
    use crate::cpu::simd::{with_level, Level};
    let mut rng = crate::Rng::new(9);
    let mut r = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.next_f64() as f32 - 0.5).collect() };
    let (steps, batch, hidden) = (5, 3, 37);
    let whole = [(0, batch)];
    for cell in [
        ScanCell::Lstm,
        ScanCell::Gru,
        ScanCell::Tanh,
        ScanCell::Relu,
    ] {
        let d = Dims {
            cell,
            steps,
            batch,
            hidden,
            reverse: false,
            prec: crate::autocast::Precision::Full,
        };
        let gh = d.gates_hidden();
        let (xg, w, b, h0, c0) = (
            r(steps * batch * gh),
            r(gh * hidden),
            r(gh),
            r(batch * hidden),
            r(batch * hidden),
        );
        let g = r(steps * batch * hidden * if cell == ScanCell::Lstm { 2 } else { 1 });
        let b = (cell == ScanCell::Gru).then_some(&b[..]);
        let c0 = (cell == ScanCell::Lstm).then_some(&c0[..]);
        // One range: the loops run on this thread, where the level is forced.
        let run = |level| {
            with_level(level, || {
                let (y, saved) = scan_forward(&d, &whole, &xg, &w, b, &h0, c0, None);
                let sv = ScanSaved {
                    w: &w,
                    h0: &h0,
                    c0,
                    y: &y,
                    saved: &saved,
                    g: &g,
                    lengths: None,
                };
                let grads = scan_backward(&d, &whole, &sv);
                (y, grads.dxg, grads.dh0)
            })
        };
        let base = run(Level::Baseline);
        for level in [Level::Avx2, Level::Avx512] {
            let other = run(level);
            for (what, a, b) in [
                ("y", &base.0, &other.0),
                ("dxg", &base.1, &other.1),
                ("dh0", &base.2, &other.2),
            ] {
                for (x, y) in a.iter().zip(b.iter()) {
                    assert!(
                        (x - y).abs() < 1e-5,
                        "{cell:?} {level:?} {what}: {x} vs {y}"
                    );
                }
            }
        }
    }
}
